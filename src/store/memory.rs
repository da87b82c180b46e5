//! The in-memory backend of `--ephemeral`: one ordered map behind a reader-writer lock. Reads run
//! where they are asked for (no hop to a store thread) under the shared lock, which makes them a
//! consistent snapshot; writes hold the exclusive lock for the length of their body, which makes
//! them serializable, and keep an undo log so that a body that fails (or panics) leaves nothing
//! behind. Gone with the process, like the SQLite database in memory it replaces.

use super::{Backend, BoxFuture, StoreError, Tx, TxBody};
use std::any::Any;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The map and the byte count of its keys and values (for metrics).
#[derive(Default)]
pub struct Memory {
    map: RwLock<BTreeMap<String, Vec<u8>>>,
    bytes: AtomicU64,
}

impl Memory {
    /// An empty store.
    pub fn new() -> Self {
        Memory::default()
    }

    fn read_lock(&self) -> RwLockReadGuard<'_, BTreeMap<String, Vec<u8>>> {
        // A panicking writer rolled its changes back before the lock was poisoned (see `WriteTx`).
        self.map.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_lock(&self) -> RwLockWriteGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.map.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn range<'m>(
    map: &'m BTreeMap<String, Vec<u8>>,
    prefix: &'m str,
    after: Option<&str>,
) -> impl Iterator<Item = (&'m String, &'m Vec<u8>)> + 'm {
    let start = match after {
        Some(a) if a >= prefix => Bound::Excluded(a.to_string()),
        _ => Bound::Included(prefix.to_string()),
    };
    map.range::<String, _>((start, Bound::Unbounded)).take_while(move |(k, _)| k.starts_with(prefix))
}

fn scan_map(
    map: &BTreeMap<String, Vec<u8>>,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> Vec<(String, Vec<u8>)> {
    range(map, prefix, after).take(limit).map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn read_only() -> StoreError {
    StoreError::Backend("a write was attempted in a read-only transaction".into())
}

struct ReadTx<'m> {
    map: &'m BTreeMap<String, Vec<u8>>,
}

impl Tx for ReadTx<'_> {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.map.get(key).cloned())
    }
    fn get_with(&mut self, key: &str, f: &mut dyn FnMut(Option<&[u8]>)) -> Result<(), StoreError> {
        f(self.map.get(key).map(Vec::as_slice));
        Ok(())
    }
    fn put(&mut self, _key: &str, _value: &[u8]) -> Result<(), StoreError> {
        Err(read_only())
    }
    fn delete(&mut self, _key: &str) -> Result<bool, StoreError> {
        Err(read_only())
    }
    fn scan(&mut self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        Ok(scan_map(self.map, prefix, after, limit))
    }
    fn delete_prefix(&mut self, _prefix: &str) -> Result<usize, StoreError> {
        Err(read_only())
    }
}

/// A write transaction: changes go straight into the map, with what they replaced kept in `undo`
/// until the body's result says to keep them, and (for a mirrored store) each change in `redo`.
struct WriteTx<'a, 'm> {
    map: &'a mut BTreeMap<String, Vec<u8>>,
    bytes: &'m AtomicU64,
    undo: Vec<(String, Option<Vec<u8>>)>,
    redo: Option<WriteSet>,
    committed: bool,
}

impl WriteTx<'_, '_> {
    fn replaced(&mut self, key: &str, old: Option<Vec<u8>>, new_len: Option<usize>) {
        let old_len = old.as_ref().map(|v| key.len() + v.len());
        if let Some(n) = old_len {
            self.bytes.fetch_sub(n as u64, Ordering::Relaxed);
        }
        if let Some(n) = new_len {
            self.bytes.fetch_add((key.len() + n) as u64, Ordering::Relaxed);
        }
        self.undo.push((key.to_string(), old));
    }

    fn rollback(&mut self) {
        while let Some((key, old)) = self.undo.pop() {
            let now = match old {
                Some(v) => {
                    self.bytes.fetch_add((key.len() + v.len()) as u64, Ordering::Relaxed);
                    self.map.insert(key.clone(), v)
                }
                None => self.map.remove(&key),
            };
            if let Some(v) = now {
                self.bytes.fetch_sub((key.len() + v.len()) as u64, Ordering::Relaxed);
            }
        }
    }
}

impl Drop for WriteTx<'_, '_> {
    /// A body that panicked never said to keep its changes: they go.
    fn drop(&mut self) {
        if !self.committed {
            self.rollback();
        }
    }
}

impl Tx for WriteTx<'_, '_> {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.map.get(key).cloned())
    }
    fn get_with(&mut self, key: &str, f: &mut dyn FnMut(Option<&[u8]>)) -> Result<(), StoreError> {
        f(self.map.get(key).map(Vec::as_slice));
        Ok(())
    }
    fn put(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.put_owned(key, value.to_vec())
    }
    fn put_owned(&mut self, key: &str, value: Vec<u8>) -> Result<(), StoreError> {
        let len = value.len();
        if let Some(redo) = &mut self.redo {
            redo.push((key.to_string(), Some(value.clone())));
        }
        // A key already there keeps its allocation.
        let old = match self.map.get_mut(key) {
            Some(v) => Some(std::mem::replace(v, value)),
            None => self.map.insert(key.to_string(), value),
        };
        self.replaced(key, old, Some(len));
        Ok(())
    }
    fn delete(&mut self, key: &str) -> Result<bool, StoreError> {
        match self.map.remove(key) {
            Some(old) => {
                self.replaced(key, Some(old), None);
                if let Some(redo) = &mut self.redo {
                    redo.push((key.to_string(), None));
                }
                Ok(true)
            }
            None => Ok(false),
        }
    }
    fn scan(&mut self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        Ok(scan_map(self.map, prefix, after, limit))
    }
    fn delete_prefix(&mut self, prefix: &str) -> Result<usize, StoreError> {
        let keys: Vec<String> = range(self.map, prefix, None).map(|(k, _)| k.clone()).collect();
        for k in &keys {
            if let Some(old) = self.map.remove(k) {
                self.replaced(k, Some(old), None);
                if let Some(redo) = &mut self.redo {
                    redo.push((k.clone(), None));
                }
            }
        }
        Ok(keys.len())
    }
}

/// A kept write's changes in the order they were made, each a key and its value afterwards
/// (`None`: deleted); a key changed twice is there twice, so they are applied in order.
pub type WriteSet = Vec<(String, Option<Vec<u8>>)>;

impl Memory {
    /// An in-memory store holding `map` (the contents of a database being mirrored).
    pub fn with_contents(map: BTreeMap<String, Vec<u8>>) -> Self {
        let bytes = map.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum();
        Memory { map: RwLock::new(map), bytes: AtomicU64::new(bytes) }
    }

    /// Counts the bytes again (after [`Memory::exclusive`] replaced the map).
    pub fn recount(&self) {
        let bytes = self.read_lock().iter().map(|(k, v)| (k.len() + v.len()) as u64).sum();
        self.bytes.store(bytes, Ordering::Relaxed);
    }

    /// Holds the exclusive lock (no write runs meanwhile) while `f` runs.
    pub fn exclusive<R>(&self, f: impl FnOnce(&mut BTreeMap<String, Vec<u8>>) -> R) -> R {
        f(&mut self.write_lock())
    }

    /// Holds the shared lock (no write runs meanwhile) while `f` reads the map.
    pub fn shared<R>(&self, f: impl FnOnce(&BTreeMap<String, Vec<u8>>) -> R) -> R {
        f(&self.read_lock())
    }

    /// Runs `body` in a snapshot; `then` runs while the snapshot still holds (nothing written since).
    pub fn read_then<R>(&self, body: TxBody, then: impl FnOnce() -> R) -> (Box<dyn Any + Send>, R) {
        let map = self.read_lock();
        let out = body(&mut ReadTx { map: &map });
        (out, then())
    }

    /// Runs `body` as a write; `done` runs under the same exclusive lock with the write set when
    /// the body's result says to keep its changes, with `None` otherwise.
    pub fn write_then<R>(
        &self,
        body: TxBody,
        keep: fn(&(dyn Any + Send)) -> bool,
        done: impl FnOnce(Option<WriteSet>) -> R,
    ) -> (Box<dyn Any + Send>, R) {
        let mut map = self.write_lock();
        let mut tx =
            WriteTx { map: &mut map, bytes: &self.bytes, undo: Vec::new(), redo: Some(Vec::new()), committed: false };
        let out = body(&mut tx);
        if !keep(out.as_ref()) {
            drop(tx);
            return (out, done(None));
        }
        tx.committed = true;
        let set = tx.redo.take().unwrap_or_default();
        let r = done(Some(set));
        (out, r)
    }
}

impl Backend for Memory {
    fn read_boxed(&self, body: TxBody) -> BoxFuture<Result<Box<dyn Any + Send>, StoreError>> {
        let out = {
            let map = self.read_lock();
            body(&mut ReadTx { map: &map })
        };
        Box::pin(std::future::ready(Ok(out)))
    }

    fn write_boxed(
        &self,
        body: TxBody,
        keep: fn(&(dyn Any + Send)) -> bool,
    ) -> BoxFuture<Result<Box<dyn Any + Send>, StoreError>> {
        let out = {
            let mut map = self.write_lock();
            let mut tx = WriteTx { map: &mut map, bytes: &self.bytes, undo: Vec::new(), redo: None, committed: false };
            let out = body(&mut tx);
            if keep(out.as_ref()) {
                tx.committed = true;
            }
            out
        };
        Box::pin(std::future::ready(Ok(out)))
    }

    fn size_bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}
