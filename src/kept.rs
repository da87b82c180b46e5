//! Values derived from stored records (decoded records, encoded answers), kept in memory while the
//! record is byte for byte the one they were derived from. The record is still read on every call,
//! in the caller's transaction, so what is answered is always what is stored; only the decode and
//! the encode are saved.

use crate::store::{StoreError, Tx};
use crate::wire::shape::Protocol;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// Derived values of recently read records, by store key.
pub struct Kept<T> {
    held: Mutex<HashMap<String, Arc<Entry<T>>>>,
    max: usize,
}

/// One record's bytes and what was derived from them.
pub struct Entry<T> {
    raw: Vec<u8>,
    /// What was derived from the bytes.
    pub value: T,
}

impl<T> Kept<T> {
    /// A cache holding at most `max` records; past it, it starts over.
    pub fn new(max: usize) -> Self {
        Kept { held: Mutex::new(HashMap::new()), max: max.max(1) }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<Entry<T>>>> {
        self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn insert(&self, map: &mut HashMap<String, Arc<Entry<T>>>, key: &str, entry: Arc<Entry<T>>) {
        if map.len() >= self.max && !map.contains_key(key) {
            map.clear();
        }
        map.insert(key.to_string(), entry);
    }

    /// What was derived from the record `raw` read at `key`, derived now if nothing is kept for
    /// these exact bytes.
    pub fn get<E>(
        &self,
        key: &str,
        raw: Vec<u8>,
        derive: impl FnOnce(&[u8]) -> Result<T, E>,
    ) -> Result<Arc<Entry<T>>, E> {
        if let Some(e) = self.lock().get(key).filter(|e| e.raw == raw) {
            return Ok(e.clone());
        }
        let value = derive(&raw)?;
        let entry = Arc::new(Entry { raw, value });
        self.insert(&mut self.lock(), key, entry.clone());
        Ok(entry)
    }

    /// What was derived from the record at `key` as `tx` sees it (None when there is none),
    /// derived now if nothing is kept for its exact bytes. The record is compared where it lies,
    /// without a copy, when the store can lend it.
    pub fn read<E: From<StoreError>>(
        &self,
        tx: &mut dyn Tx,
        key: &str,
        derive: impl FnOnce(&[u8]) -> Result<T, E>,
    ) -> Result<Option<Arc<Entry<T>>>, E> {
        let held = self.lock().get(key).cloned();
        let mut found = None;
        tx.get_with(key, &mut |v| {
            found = v.map(|bytes| match &held {
                Some(e) if e.raw == bytes => Ok(e.clone()),
                _ => Err(bytes.to_vec()),
            })
        })?;
        match found {
            None => Ok(None),
            Some(Ok(e)) => Ok(Some(e)),
            Some(Err(raw)) => {
                let value = derive(&raw)?;
                let entry = Arc::new(Entry { raw, value });
                self.insert(&mut self.lock(), key, entry.clone());
                Ok(Some(entry))
            }
        }
    }

    /// Writes the record `raw` at `key` and keeps `value`, what it encodes, for the next read.
    /// Safe whatever becomes of the write: an entry is used only for these exact bytes.
    pub fn write(&self, tx: &mut dyn Tx, key: &str, raw: Vec<u8>, value: T) -> Result<(), StoreError> {
        tx.put(key, &raw)?;
        self.insert(&mut self.lock(), key, Arc::new(Entry { raw, value }));
        Ok(())
    }

    /// Forgets everything (after a reset or a snapshot import replaced what the store holds).
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// How many records are kept.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One answer's bytes per protocol, encoded at first use.
#[derive(Default)]
pub struct Encodings {
    json: OnceLock<Vec<u8>>,
    cbor: OnceLock<Vec<u8>>,
    rest: OnceLock<Vec<u8>>,
    query: OnceLock<Vec<u8>>,
}

impl Encodings {
    /// The bytes for `protocol`, encoded by `encode` the first time they are asked for.
    pub fn get(&self, protocol: Protocol, encode: impl FnOnce() -> Vec<u8>) -> &[u8] {
        let cell = match protocol {
            Protocol::AwsJson11 => &self.json,
            Protocol::RpcV2Cbor => &self.cbor,
            Protocol::RestJson1 => &self.rest,
            Protocol::AwsQuery => &self.query,
        };
        cell.get_or_init(encode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_follow_the_stored_bytes() {
        let kept: Kept<String> = Kept::new(10);
        let derive = |raw: &[u8]| -> Result<String, ()> { Ok(String::from_utf8_lossy(raw).to_uppercase()) };
        assert_eq!(kept.get("k", b"one".to_vec(), derive).unwrap().value, "ONE");
        let again = kept.get("k", b"one".to_vec(), |_| -> Result<String, ()> { panic!("kept value") }).unwrap();
        assert_eq!(again.value, "ONE");
        assert_eq!(kept.get("k", b"two".to_vec(), derive).unwrap().value, "TWO", "new bytes, new value");
        let mut tx = MapTx(HashMap::from([("k".to_string(), b"two".to_vec()), ("j".to_string(), b"three".to_vec())]));
        let two = kept.read(&mut tx, "k", |_| -> Result<String, StoreError> { panic!("kept value") }).unwrap();
        assert_eq!(two.unwrap().value, "TWO");
        let three = kept.read(&mut tx, "j", |r| Ok::<_, StoreError>(String::from_utf8_lossy(r).to_uppercase()));
        assert_eq!(three.unwrap().unwrap().value, "THREE");
        assert!(kept.read(&mut tx, "none", |_| Ok::<String, StoreError>(String::new())).unwrap().is_none());
        assert!(kept.get("x", b"bad".to_vec(), |_| Err::<String, _>("undecodable")).is_err());
        assert_eq!(kept.len(), 2, "a failed derive keeps nothing");
    }

    /// A read-only map as a transaction.
    struct MapTx(HashMap<String, Vec<u8>>);

    impl Tx for MapTx {
        fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
            Ok(self.0.get(key).cloned())
        }
        fn put(&mut self, _: &str, _: &[u8]) -> Result<(), StoreError> {
            unreachable!("read only")
        }
        fn delete(&mut self, _: &str) -> Result<bool, StoreError> {
            unreachable!("read only")
        }
        fn scan(&mut self, _: &str, _: Option<&str>, _: usize) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
            unreachable!("read only")
        }
        fn delete_prefix(&mut self, _: &str) -> Result<usize, StoreError> {
            unreachable!("read only")
        }
    }

    #[test]
    fn a_full_cache_starts_over() {
        let kept: Kept<usize> = Kept::new(3);
        for i in 0..3 {
            kept.get(&format!("k{i}"), vec![i as u8], |r| Ok::<_, ()>(r[0] as usize)).unwrap();
        }
        assert_eq!(kept.len(), 3);
        kept.get("k1", vec![9], |r| Ok::<_, ()>(r[0] as usize)).unwrap();
        assert_eq!(kept.len(), 3, "replacing a kept key does not start over");
        kept.get("k9", vec![9], |r| Ok::<_, ()>(r[0] as usize)).unwrap();
        assert_eq!(kept.len(), 1);
        kept.clear();
        assert!(kept.is_empty());
    }

    #[test]
    fn encodings_are_per_protocol() {
        let e = Encodings::default();
        assert_eq!(e.get(Protocol::AwsJson11, || b"j".to_vec()), b"j");
        assert_eq!(e.get(Protocol::AwsJson11, || panic!("kept")), b"j");
        assert_eq!(e.get(Protocol::RpcV2Cbor, || b"c".to_vec()), b"c");
    }
}
