//! The store: one ordered key-value space with serializable transactions, behind a trait so that
//! SQLite (embedded default) and PostgreSQL (shared by replicas) can both serve it. Everything above
//! speaks keys and JSON documents; secondary indexes are more keys written in the same transaction.

pub mod journal;
pub mod memory;
pub mod mirror;
pub mod postgres;
pub mod sqlite;

use crate::wire::shape::ApiError;
use std::any::Any;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

/// Where the state lives: `--store`, `--data-dir` and `--ephemeral` all name one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// In memory, gone with the process (`--ephemeral`).
    Memory,
    /// SQLite in this data directory (`sqlite://PATH` or `--data-dir PATH`).
    Sqlite(PathBuf),
    /// A PostgreSQL database that several replicas may share (`postgres://USER@HOST:PORT/DB`).
    Postgres(String),
}

impl std::str::FromStr for Location {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(Location::Postgres(s.to_string()));
        }
        match s.strip_prefix("sqlite://") {
            Some("") => Err("sqlite:// needs a data directory: sqlite://PATH".into()),
            Some(path) => Ok(Location::Sqlite(PathBuf::from(path))),
            None => {
                // Whatever stands before an @ may be a password: leave it out.
                let shown = match (s.split_once("://"), s.rsplit_once('@')) {
                    (Some((scheme, _)), Some((_, host))) => format!("{scheme}://…@{host}"),
                    _ => s.to_string(),
                };
                Err(format!("the store must be postgres://USER@HOST:PORT/DB or sqlite://PATH, not '{shown}'"))
            }
        }
    }
}

impl std::fmt::Display for Location {
    /// The location for logs: a PostgreSQL URL loses its password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Memory => f.write_str("memory"),
            Location::Sqlite(dir) => write!(f, "sqlite://{}", dir.display()),
            Location::Postgres(url) => match url.split_once("://").and_then(|(_, rest)| rest.split_once('@')) {
                Some((user, host)) => {
                    let host = host.split('?').next().unwrap_or(host);
                    write!(f, "postgres://{}@{host}", user.split_once(':').map_or(user, |(name, _)| name))
                }
                None => f.write_str(url.split('?').next().unwrap_or(url)),
            },
        }
    }
}

impl Location {
    /// Opens (creating or migrating if needed) the store here.
    pub async fn open(&self) -> Result<Store, StoreError> {
        let backend: Arc<dyn Backend> = match self {
            Location::Memory => Arc::new(memory::Memory::new()),
            Location::Sqlite(dir) => Arc::new(mirror::Mirror::open(dir)?),
            Location::Postgres(url) => {
                let url = url.clone();
                Arc::new(
                    tokio::task::spawn_blocking(move || self::postgres::Postgres::open(&url))
                        .await
                        .map_err(|e| StoreError::Backend(format!("connecting to PostgreSQL failed: {e}")))??,
                )
            }
        };
        Ok(Store::new(backend))
    }
}

/// A failure of the storage backend itself (not of the request).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend could not run the statement.
    #[error("store backend error: {0}")]
    Backend(String),
    /// A stored document could not be decoded (data written by an incompatible version?).
    #[error("stored document {key} is unreadable: {detail}")]
    Corrupt {
        /// The key of the unreadable document.
        key: String,
        /// What the decoder said.
        detail: String,
    },
    /// The backend is temporarily unreachable; the request can be retried.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// One transaction's view of the key space.
pub trait Tx {
    /// The value at `key`.
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Calls `f` with the value at `key`, borrowed where the backend can lend it (no copy).
    fn get_with(&mut self, key: &str, f: &mut dyn FnMut(Option<&[u8]>)) -> Result<(), StoreError> {
        let v = self.get(key)?;
        f(v.as_deref());
        Ok(())
    }
    /// Writes `value` at `key`.
    fn put(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError>;
    /// Writes `value` at `key`, handing the buffer over (a backend that keeps values in memory
    /// stores it without a copy).
    fn put_owned(&mut self, key: &str, value: Vec<u8>) -> Result<(), StoreError> {
        self.put(key, &value)
    }
    /// Removes `key`; true when it existed.
    fn delete(&mut self, key: &str) -> Result<bool, StoreError>;
    /// Up to `limit` entries whose key starts with `prefix`, in key order, starting strictly after
    /// `after` when given.
    fn scan(&mut self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<(String, Vec<u8>)>, StoreError>;
    /// Removes every key that starts with `prefix`; returns how many.
    fn delete_prefix(&mut self, prefix: &str) -> Result<usize, StoreError>;
    /// Runs `f` once this transaction has committed, and never when it is rolled back (or its body
    /// runs again). The transactions of [`Store::write`] hold it until then; any other runs it now.
    fn after_commit(&mut self, f: AfterCommit) {
        f()
    }
}

/// What runs after a transaction has committed (see [`Tx::after_commit`]).
pub type AfterCommit = Box<dyn FnOnce() + Send>;

/// The transaction a [`Store::write`] body sees: the backend's, holding what is to run after the
/// commit.
struct Hooked<'a> {
    tx: &'a mut dyn Tx,
    after: Vec<AfterCommit>,
}

impl Tx for Hooked<'_> {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.tx.get(key)
    }
    fn get_with(&mut self, key: &str, f: &mut dyn FnMut(Option<&[u8]>)) -> Result<(), StoreError> {
        self.tx.get_with(key, f)
    }
    fn put(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.tx.put(key, value)
    }
    fn put_owned(&mut self, key: &str, value: Vec<u8>) -> Result<(), StoreError> {
        self.tx.put_owned(key, value)
    }
    fn delete(&mut self, key: &str) -> Result<bool, StoreError> {
        self.tx.delete(key)
    }
    fn scan(&mut self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.tx.scan(prefix, after, limit)
    }
    fn delete_prefix(&mut self, prefix: &str) -> Result<usize, StoreError> {
        self.tx.delete_prefix(prefix)
    }
    fn after_commit(&mut self, f: AfterCommit) {
        self.after.push(f);
    }
}

/// A type-erased transaction body (what crosses the trait boundary).
pub type TxBody = Box<dyn FnOnce(&mut dyn Tx) -> Box<dyn Any + Send> + Send>;

/// A boxed future returned by the object-safe store methods.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A storage backend.
pub trait Backend: Send + Sync + 'static {
    /// Runs `body` in a read-only snapshot.
    fn read_boxed(&self, body: TxBody) -> BoxFuture<Result<Box<dyn Any + Send>, StoreError>>;
    /// Runs `body` in a serializable read-write transaction that commits durably, unless the body's
    /// result is an error (see [`Store::write`]), in which case nothing it wrote is kept.
    fn write_boxed(
        &self,
        body: TxBody,
        keep: fn(&(dyn Any + Send)) -> bool,
    ) -> BoxFuture<Result<Box<dyn Any + Send>, StoreError>>;
    /// Size of the stored data in bytes, for metrics.
    fn size_bytes(&self) -> u64;
}

/// The store handle the rest of localplane uses.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    /// The change feed: counts the transactions this replica committed (see [`Store::changes`]).
    changes: Arc<tokio::sync::watch::Sender<u64>>,
}

impl Store {
    /// Wraps a backend.
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        Store { backend, changes: Arc::new(tokio::sync::watch::channel(0).0) }
    }

    /// The change feed: a counter that moves after every read-write transaction this replica
    /// commits (resources, operations and their steps, fault rules, the timing, resets and imports
    /// alike), so that a watcher (the web console) re-reads only when something may have changed.
    /// It sees this replica's own writes at once; writes of other replicas sharing a PostgreSQL
    /// store do not move it, and a watcher that shows them re-reads on a timer of its own.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Runs `f` in a read-only snapshot.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut dyn Tx) -> Result<T, E> + Send + 'static,
    {
        let body: TxBody = Box::new(move |tx| Box::new(f(tx)));
        let out = self.backend.read_boxed(body).await?;
        unbox::<Result<T, E>>(out).unwrap_or_else(|e| Err(E::from(e)))
    }

    /// Runs `f` in a read-write transaction: committed durably when `f` returns `Ok`, rolled back
    /// when it returns `Err`.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut dyn Tx) -> Result<T, E> + Send + 'static,
    {
        let body: TxBody = Box::new(move |tx| {
            let mut hooked = Hooked { tx, after: Vec::new() };
            let out = f(&mut hooked);
            Box::new((out, hooked.after))
        });
        let out = self.backend.write_boxed(body, keep_hooked::<T, E>).await?;
        let (out, after) = unbox::<(Result<T, E>, Vec<AfterCommit>)>(out)?;
        if out.is_ok() {
            // One watch send per committed transaction: nothing more on the write path.
            self.changes.send_modify(|n| *n = n.wrapping_add(1));
            for f in after {
                f();
            }
        }
        out
    }

    /// Size of the stored data in bytes.
    pub fn size_bytes(&self) -> u64 {
        self.backend.size_bytes()
    }
}

fn keep_hooked<T: 'static, E: 'static>(out: &(dyn Any + Send)) -> bool {
    matches!(out.downcast_ref::<(Result<T, E>, Vec<AfterCommit>)>(), Some((Ok(_), _)))
}

/// The result a body returned, as its type.
fn unbox<R: 'static>(out: Box<dyn Any + Send>) -> Result<R, StoreError> {
    match out.downcast::<R>() {
        Ok(r) => Ok(*r),
        Err(_) => Err(StoreError::Backend("transaction result has an unexpected type".into())),
    }
}

/// The smallest string greater than every key that starts with `prefix`.
pub fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

/// Reads and decodes the JSON document at `key`.
pub fn get_json<T: serde::de::DeserializeOwned>(tx: &mut dyn Tx, key: &str) -> Result<Option<T>, StoreError> {
    // Decoded where the backend lends the bytes (no copy of the document).
    let mut out = Ok(None);
    tx.get_with(key, &mut |v| {
        if let Some(bytes) = v {
            out = decode_one(key, bytes).map(Some);
        }
    })?;
    out
}

/// Appends `n` as 16 lowercase hex digits: the fixed-width numbers keys sort by (`format!` with
/// padding showed in profiles of the write path).
fn push_hex16(out: &mut String, n: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for shift in (0..16).rev() {
        out.push(DIGITS[((n >> (shift * 4)) & 0xf) as usize] as char);
    }
}

/// `head`, then `n` as 16 hex digits, then the `tail` pieces.
pub fn key_with_hex16(head: &str, n: u64, tail: &[&str]) -> String {
    let mut k = String::with_capacity(head.len() + 16 + tail.iter().map(|t| t.len()).sum::<usize>());
    k.push_str(head);
    push_hex16(&mut k, n);
    for t in tail {
        k.push_str(t);
    }
    k
}

/// Encodes `value` as JSON and writes it at `key`.
pub fn put_json<T: serde::Serialize>(tx: &mut dyn Tx, key: &str, value: &T) -> Result<(), StoreError> {
    tx.put_owned(key, encode_json(key, value)?)
}

/// Encodes `value`, to be written at `key`, as JSON.
pub fn encode_json<T: serde::Serialize>(key: &str, value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Backend(format!("encoding {key}: {e}")))
}

/// Decodes the JSON documents of a scan.
/// Decodes one stored value.
pub fn decode_one<T: serde::de::DeserializeOwned>(key: &str, value: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(value).map_err(|e| StoreError::Corrupt { key: key.to_string(), detail: e.to_string() })
}

/// Decodes every row's document; the first bad one is a `Corrupt` error naming its key.
pub fn decode_all<T: serde::de::DeserializeOwned>(
    rows: Vec<(String, Vec<u8>)>,
) -> Result<Vec<(String, T)>, StoreError> {
    rows.into_iter()
        .map(|(k, v)| match serde_json::from_slice(&v) {
            Ok(t) => Ok((k, t)),
            Err(e) => Err(StoreError::Corrupt { key: k, detail: e.to_string() }),
        })
        .collect()
}

/// A store failure as the API answers it: 503 (retry) while the store is unreachable, else 500.
impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(msg) => ApiError::new(
                &crate::wire::shape::SERVICE_UNAVAILABLE,
                format!("The localplane store is unavailable ({msg}); retry the request"),
            ),
            other => ApiError::internal(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_change_feed_moves_once_per_committed_write() {
        let store = Store::new(Arc::new(memory::Memory::new()));
        let mut feed = store.changes();
        store.write(|tx| -> Result<(), StoreError> { tx.put("a", b"1") }).await.unwrap();
        assert!(feed.has_changed().unwrap());
        assert_eq!(*feed.borrow_and_update(), 1);
        let refused: Result<(), StoreError> = store
            .write(|tx| {
                tx.put("b", b"2")?;
                Err(StoreError::Backend("refused".into()))
            })
            .await;
        assert!(refused.is_err());
        store.read(|tx| -> Result<_, StoreError> { tx.get("a") }).await.unwrap();
        assert!(!feed.has_changed().unwrap(), "a rolled-back write or a read does not move the feed");
        store.write(|tx| -> Result<bool, StoreError> { tx.delete("a") }).await.unwrap();
        assert_eq!(*feed.borrow_and_update(), 2);
    }

    /// What a write body leaves to run after its commit runs once it committed (on every backend
    /// the server uses), and never for a body whose result refused its changes.
    #[tokio::test]
    async fn after_commit_runs_for_committed_writes_only() {
        let dir = std::env::temp_dir().join(format!("lp-after-{}-{}", std::process::id(), uuid::Uuid::new_v4()));
        let backends: Vec<Arc<dyn Backend>> =
            vec![Arc::new(memory::Memory::new()), Arc::new(mirror::Mirror::open(&dir).unwrap())];
        for backend in backends {
            let store = Store::new(backend);
            let ran = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let count = |ran: &Arc<std::sync::atomic::AtomicUsize>| -> AfterCommit {
                let ran = ran.clone();
                Box::new(move || {
                    ran.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                })
            };
            let hook = count(&ran);
            store
                .write(move |tx| -> Result<(), StoreError> {
                    tx.put("a", b"1")?;
                    tx.after_commit(hook);
                    Ok(())
                })
                .await
                .unwrap();
            assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 1);
            let hook = count(&ran);
            let refused: Result<(), StoreError> = store
                .write(move |tx| {
                    tx.after_commit(hook);
                    Err(StoreError::Backend("refused".into()))
                })
                .await;
            assert!(refused.is_err());
            assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 1, "a refused write runs nothing");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn keys_with_hex16_match_the_padded_format() {
        for n in [0u64, 1, 0xabc, u64::MAX, i64::MAX as u64 - 1_700_000_000_000] {
            assert_eq!(super::key_with_hex16("a/", n, &["/b", "/c"]), format!("a/{n:016x}/b/c"));
        }
    }
}
