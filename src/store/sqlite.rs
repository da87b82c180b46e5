//! The embedded SQLite backend. One writer thread owns the write connection and commits several
//! queued transactions together (group commit: one fsync for many acknowledged writes, each in its
//! own savepoint so that one failing body cannot touch another); reads run on a small pool of WAL
//! readers. `--ephemeral` keeps the database in memory and serves reads from the writer thread too.

use super::{Backend, BoxFuture, StoreError, Tx, TxBody};
use rusqlite::{params, Connection, OptionalExtension};
use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] =
    &["CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY NOT NULL, v BLOB NOT NULL) WITHOUT ROWID;"];

/// How many queued write transactions one commit may carry.
const MAX_GROUP: usize = 256;

/// Read connections for a file database.
const READERS: usize = 4;

enum Job {
    Write {
        body: TxBody,
        keep: fn(&(dyn Any + Send)) -> bool,
        reply: tokio::sync::oneshot::Sender<Result<Box<dyn Any + Send>, StoreError>>,
    },
    Read {
        body: TxBody,
        reply: tokio::sync::oneshot::Sender<Result<Box<dyn Any + Send>, StoreError>>,
    },
}

/// SQLite storage.
pub struct Sqlite {
    jobs: Mutex<mpsc::Sender<Job>>,
    readers: Option<Arc<Mutex<Vec<Connection>>>>,
    path: Option<PathBuf>,
}

fn backend_err(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let r = Connection::open(path).map_err(backend_err)?;
    r.execute_batch("PRAGMA busy_timeout=5000; PRAGMA query_only=1;").map_err(backend_err)?;
    Ok(r)
}

fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let done: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(backend_err)?;
    for (i, m) in MIGRATIONS.iter().enumerate().skip(done.max(0) as usize) {
        conn.execute_batch(&format!("BEGIN; {m} PRAGMA user_version = {}; COMMIT;", i + 1)).map_err(backend_err)?;
    }
    Ok(())
}

impl Sqlite {
    /// Opens (creating if needed) the database `localplane.db` in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Backend(format!("cannot create data directory {}: {e}", dir.display())))?;
        let path = dir.join("localplane.db");
        let writer = Connection::open(&path).map_err(backend_err)?;
        writer
            .execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000; PRAGMA journal_size_limit=67108864;")
            .map_err(backend_err)?;
        migrate(&writer)?;
        let readers = (0..READERS).map(|_| open_reader(&path)).collect::<Result<Vec<_>, _>>()?;
        Ok(Self::start(writer, Some(Arc::new(Mutex::new(readers))), Some(path)))
    }

    /// A database that lives in memory and is gone when the process exits.
    pub fn in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(backend_err)?;
        migrate(&conn)?;
        Ok(Self::start(conn, None, None))
    }

    fn start(conn: Connection, readers: Option<Arc<Mutex<Vec<Connection>>>>, path: Option<PathBuf>) -> Self {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new().name("localplane-sqlite-writer".into()).spawn(move || writer_loop(conn, rx)).ok();
        Sqlite { jobs: Mutex::new(tx), readers, path }
    }

    fn send(&self, job: Job) {
        if let Ok(jobs) = self.jobs.lock() {
            // The writer thread lives as long as the process; a send can only fail at shutdown.
            let _ = jobs.send(job);
        }
    }
}

fn writer_loop(mut conn: Connection, rx: mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let mut writes = Vec::new();
        for job in batch {
            match job {
                Job::Read { body, reply } => {
                    let _ = reply.send(run_read(&mut conn, body));
                }
                Job::Write { body, keep, reply } => writes.push((body, keep, reply)),
            }
        }
        if !writes.is_empty() {
            commit_group(&mut conn, writes);
        }
    }
}

type WriteJob =
    (TxBody, fn(&(dyn Any + Send)) -> bool, tokio::sync::oneshot::Sender<Result<Box<dyn Any + Send>, StoreError>>);

fn commit_group(conn: &mut Connection, writes: Vec<WriteJob>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        for (_, _, reply) in writes {
            let _ = reply.send(Err(backend_err(clone_err(&e))));
        }
        return;
    }
    let mut results = Vec::with_capacity(writes.len());
    for (body, keep, reply) in writes {
        let outcome = (|| -> Result<Box<dyn Any + Send>, StoreError> {
            run_cached(conn, "SAVEPOINT job")?;
            let out = {
                let mut tx = SqliteTx { conn };
                body(&mut tx)
            };
            if keep(out.as_ref()) {
                run_cached(conn, "RELEASE job")?;
            } else {
                run_cached(conn, "ROLLBACK TO job")?;
                run_cached(conn, "RELEASE job")?;
            }
            Ok(out)
        })();
        results.push((outcome, reply));
    }
    match conn.execute_batch("COMMIT") {
        Ok(()) => {
            for (outcome, reply) in results {
                let _ = reply.send(outcome);
            }
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            for (_, reply) in results {
                let _ = reply.send(Err(StoreError::Backend(format!("commit failed: {e}"))));
            }
        }
    }
}

/// Runs a parameterless statement through the statement cache (the per-transaction savepoints are
/// on the write path of every request; parsing them each time showed in profiles).
fn run_cached(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql).and_then(|mut st| st.execute([])).map(|_| ()).map_err(backend_err)
}

fn clone_err(e: &rusqlite::Error) -> rusqlite::Error {
    rusqlite::Error::InvalidParameterName(e.to_string())
}

fn run_read(conn: &mut Connection, body: TxBody) -> Result<Box<dyn Any + Send>, StoreError> {
    conn.execute_batch("BEGIN").map_err(backend_err)?;
    let out = {
        let mut tx = SqliteTx { conn };
        body(&mut tx)
    };
    conn.execute_batch("COMMIT").map_err(backend_err)?;
    Ok(out)
}

struct SqliteTx<'c> {
    conn: &'c Connection,
}

impl Tx for SqliteTx<'_> {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut st = self.conn.prepare_cached("SELECT v FROM kv WHERE k = ?1").map_err(backend_err)?;
        st.query_row(params![key], |r| r.get::<_, Vec<u8>>(0)).optional().map_err(backend_err)
    }

    fn put(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        let mut st = self
            .conn
            .prepare_cached("INSERT INTO kv (k, v) VALUES (?1, ?2) ON CONFLICT(k) DO UPDATE SET v = excluded.v")
            .map_err(backend_err)?;
        st.execute(params![key, value]).map_err(backend_err)?;
        Ok(())
    }

    fn delete(&mut self, key: &str) -> Result<bool, StoreError> {
        let mut st = self.conn.prepare_cached("DELETE FROM kv WHERE k = ?1").map_err(backend_err)?;
        Ok(st.execute(params![key]).map_err(backend_err)? > 0)
    }

    fn scan(&mut self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let end = super::prefix_end(prefix);
        let mut st = self
            .conn
            .prepare_cached("SELECT k, v FROM kv WHERE k >= ?1 AND k > ?2 AND k < ?3 ORDER BY k LIMIT ?4")
            .map_err(backend_err)?;
        let rows = st
            .query_map(params![prefix, after.unwrap_or(""), end, limit.min(i64::MAX as usize) as i64], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .map_err(backend_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(backend_err)
    }

    fn delete_prefix(&mut self, prefix: &str) -> Result<usize, StoreError> {
        let end = super::prefix_end(prefix);
        let mut st = self.conn.prepare_cached("DELETE FROM kv WHERE k >= ?1 AND k < ?2").map_err(backend_err)?;
        st.execute(params![prefix, end]).map_err(backend_err)
    }
}

impl Backend for Sqlite {
    fn read_boxed(&self, body: TxBody) -> BoxFuture<Result<Box<dyn Any + Send>, StoreError>> {
        match &self.readers {
            Some(pool) => {
                let pool = pool.clone();
                let path = self.path.clone();
                Box::pin(async move {
                    tokio::task::spawn_blocking(move || {
                        let conn = pool.lock().ok().and_then(|mut p| p.pop());
                        let mut conn = match (conn, path) {
                            (Some(c), _) => c,
                            // Every reader is busy: open one more (the pool keeps it afterwards).
                            (None, Some(path)) => open_reader(&path)?,
                            (None, None) => return Err(StoreError::Unavailable("no SQLite reader".into())),
                        };
                        let out = run_read(&mut conn, body);
                        if let Ok(mut p) = pool.lock() {
                            p.push(conn);
                        }
                        out
                    })
                    .await
                    .map_err(|e| StoreError::Backend(format!("read task failed: {e}")))?
                })
            }
            None => {
                let (reply, rx) = tokio::sync::oneshot::channel();
                self.send(Job::Read { body, reply });
                Box::pin(async move { rx.await.map_err(|_| StoreError::Unavailable("store writer stopped".into()))? })
            }
        }
    }

    fn write_boxed(
        &self,
        body: TxBody,
        keep: fn(&(dyn Any + Send)) -> bool,
    ) -> BoxFuture<Result<Box<dyn Any + Send>, StoreError>> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.send(Job::Write { body, keep, reply });
        Box::pin(async move { rx.await.map_err(|_| StoreError::Unavailable("store writer stopped".into()))? })
    }

    fn size_bytes(&self) -> u64 {
        let Some(p) = &self.path else { return 0 };
        let wal = p.with_extension("db-wal");
        [p.as_path(), wal.as_path()].iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum()
    }
}
