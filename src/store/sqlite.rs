//! The embedded SQLite database: opening a data directory's file (WAL, checkpoints, migrations),
//! which `super::journal` writes for `--data-dir`. [`Sqlite`] is the backend that runs transactions in SQLite
//! itself (the data directory's backend before the mirror; now what tests compare PostgreSQL
//! with): one writer thread owns the write connection and commits several
//! queued transactions together (group commit: one fsync for many acknowledged writes). Each job's
//! changes wait in memory until its body says to keep them, so that one failing body cannot touch
//! another (a job that needs to read its own range scans or delete a prefix uses a savepoint
//! instead); reads run on a small pool of WAL readers. `in_memory` (tests) keeps the database in
//! memory and serves reads from the writer thread too.

use super::{Backend, BoxFuture, StoreError, Tx, TxBody};
use rusqlite::{params, Connection, OptionalExtension};
use std::any::Any;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
/// The second is the journal and snapshots of a data directory (`super::journal`).
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY NOT NULL, v BLOB NOT NULL) WITHOUT ROWID;",
    "CREATE TABLE IF NOT EXISTS journal (seq INTEGER PRIMARY KEY, changes BLOB NOT NULL);
     CREATE TABLE IF NOT EXISTS snapshot (gen INTEGER NOT NULL, part INTEGER NOT NULL, data BLOB NOT NULL,
         PRIMARY KEY (gen, part));
     CREATE TABLE IF NOT EXISTS snapshot_state (one INTEGER PRIMARY KEY CHECK (one = 1), gen INTEGER NOT NULL,
         after INTEGER NOT NULL);
     INSERT OR IGNORE INTO snapshot_state VALUES (1, 0, 0);",
];

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

/// A full disk and a database busy beyond the busy timeout pass (a retryable 503 for clients);
/// anything else is a backend failure.
pub(super) fn backend_err(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => {
            StoreError::Unavailable(format!("the disk of the SQLite database is full ({e}); free space and retry"))
        }
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(format!("the SQLite database is busy ({e})"))
        }
        _ => StoreError::Backend(e.to_string()),
    }
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

/// The database file in a data directory.
pub const DB_FILE: &str = "localplane.db";

/// Checks an existing database of `dir` before the server starts on it: a 0-byte file (its data is
/// gone, it is no new store) and pages `PRAGMA quick_check` finds damaged are refused with the
/// reason and what to do. A directory without a database passes (a new store).
pub fn check_integrity(dir: &Path) -> Result<(), StoreError> {
    let path = dir.join(DB_FILE);
    let Ok(meta) = std::fs::metadata(&path) else { return Ok(()) };
    let what_to_do = "Restore it: move the data directory away, start on a fresh one and `localplane snapshot import` \
                      your last snapshot; or start with --skip-integrity-check to run on the file as it is";
    if meta.len() == 0 {
        return Err(StoreError::Backend(format!(
            "the database {} is empty (0 bytes): its data is gone, this is no new store. {what_to_do} (it then starts empty)",
            path.display()
        )));
    }
    let damaged =
        |why: String| StoreError::Backend(format!("the database {} is damaged ({why}). {what_to_do}", path.display()));
    let conn = Connection::open(&path).map_err(|e| damaged(e.to_string()))?;
    let findings: Vec<String> = conn
        .prepare("PRAGMA quick_check")
        .and_then(|mut q| q.query_map([], |r| r.get::<_, String>(0))?.collect())
        .map_err(|e| damaged(format!("quick_check failed: {e}")))?;
    if findings.len() == 1 && findings[0] == "ok" {
        return Ok(());
    }
    let shown: Vec<&str> = findings.iter().take(5).map(String::as_str).collect();
    Err(damaged(format!("quick_check: {}", shown.join("; "))))
}

/// Opens the write connection of the database in `dir` (WAL, full fsync, migrated) and starts its
/// checkpoint thread.
pub(super) fn open_file(dir: &Path) -> Result<(Connection, Wal, PathBuf), StoreError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| StoreError::Backend(format!("cannot create data directory {}: {e}", dir.display())))?;
    let path = dir.join(DB_FILE);
    let writer = Connection::open(&path).map_err(backend_err)?;
    writer
        .execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000; PRAGMA journal_size_limit=67108864;")
        .map_err(backend_err)?;
    migrate(&writer)?;
    // Checkpoints run on their own thread and connection, not inline in the writer's commits.
    writer.execute_batch("PRAGMA wal_autocheckpoint=0;").map_err(backend_err)?;
    let checkpointer = Connection::open(&path).map_err(backend_err)?;
    checkpointer.execute_batch("PRAGMA busy_timeout=5000;").map_err(backend_err)?;
    let (committed, commits) = mpsc::sync_channel::<()>(1);
    let wal_frames = Arc::new(AtomicI64::new(0));
    let seen = wal_frames.clone();
    std::thread::Builder::new()
        .name("localplane-sqlite-checkpoint".into())
        .spawn(move || checkpoint_loop(checkpointer, commits, seen))
        .map_err(|e| StoreError::Backend(format!("cannot start the checkpoint thread: {e}")))?;
    Ok((writer, Wal { committed, frames: wal_frames }, path))
}

/// Size of the database file `p` and its WAL in bytes.
pub fn file_bytes(p: &Path) -> u64 {
    let wal = p.with_extension("db-wal");
    [p, wal.as_path()].iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum()
}

/// After a commit: tells the checkpointer, and restarts a WAL grown past [`WAL_RESTART_FRAMES`].
pub(super) fn after_commit(conn: &Connection, wal: &Wal) {
    // Full means a checkpoint is already due.
    let _ = wal.committed.try_send(());
    if wal.frames.load(Ordering::Relaxed) > WAL_RESTART_FRAMES {
        // Most frames are copied already; this copies the rest and makes the next commit start the
        // WAL over (waiting for readers of older snapshots).
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "restarting the SQLite WAL failed; trying again later");
        }
        wal.frames.store(0, Ordering::Relaxed);
    }
}

impl Sqlite {
    /// Opens (creating if needed) the database [`DB_FILE`] in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let (writer, wal, path) = open_file(dir)?;
        let readers = (0..READERS).map(|_| open_reader(&path)).collect::<Result<Vec<_>, _>>()?;
        Ok(Self::start(writer, Some(wal), Some(Arc::new(Mutex::new(readers))), Some(path)))
    }

    /// A database that lives in memory and is gone when the process exits.
    pub fn in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(backend_err)?;
        migrate(&conn)?;
        Ok(Self::start(conn, None, None, None))
    }

    fn start(
        conn: Connection,
        wal: Option<Wal>,
        readers: Option<Arc<Mutex<Vec<Connection>>>>,
        path: Option<PathBuf>,
    ) -> Self {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("localplane-sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx, wal))
            .ok();
        Sqlite { jobs: Mutex::new(tx), readers, path }
    }

    fn send(&self, job: Job) {
        if let Ok(jobs) = self.jobs.lock() {
            // The writer thread lives as long as the process; a send can only fail at shutdown.
            let _ = jobs.send(job);
        }
    }
}

/// How long the checkpointer lets commits gather before copying them into the database file.
const CHECKPOINT_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

/// WAL frames (4 KiB pages) past which the writer restarts the WAL itself: under a steady stream
/// of commits the background checkpoint never finds the WAL idle, and the WAL would only grow. It is
/// kept short because every checkpoint sorts all the frames of the WAL, not only the new ones: at
/// 16,384 frames the checkpointer cost ~11k instructions per RegisterInstance, at 1,024 ~2.7k.
const WAL_RESTART_FRAMES: i64 = 1_024;

/// What the writer and the checkpoint thread share about the WAL of a file database.
pub(super) struct Wal {
    /// Told after each commit.
    committed: mpsc::SyncSender<()>,
    /// The WAL's length in frames at the last checkpoint.
    frames: Arc<AtomicI64>,
}

/// Copies committed WAL frames into the database file (a PASSIVE checkpoint, which never blocks
/// the writer or the readers) a moment after commits happened. When the writer is idle the WAL
/// then starts over and is cut back to `journal_size_limit`.
fn checkpoint_loop(conn: Connection, commits: mpsc::Receiver<()>, frames: Arc<AtomicI64>) {
    // A failing checkpoint (a full disk) is logged when it starts failing, then once per
    // interval with a count, and once when it succeeds again.
    const LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(10);
    let mut failing: Option<(std::time::Instant, u64)> = None;
    while commits.recv().is_ok() {
        std::thread::sleep(CHECKPOINT_PAUSE);
        while commits.try_recv().is_ok() {}
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1)) {
            Ok(n) => {
                frames.store(n, Ordering::Relaxed);
                if let Some((_, failed)) = failing.take() {
                    tracing::info!(failed, "SQLite checkpoints succeed again");
                }
            }
            Err(e) => match &mut failing {
                None => {
                    tracing::warn!(error = %e, "SQLite checkpoint failed; the WAL grows until one succeeds");
                    failing = Some((std::time::Instant::now(), 0));
                }
                Some((logged, failed)) => {
                    *failed += 1;
                    if logged.elapsed() >= LOG_EVERY {
                        tracing::warn!(error = %e, failed = *failed, "SQLite checkpoints keep failing");
                        *logged = std::time::Instant::now();
                    }
                }
            },
        }
    }
}

fn writer_loop(mut conn: Connection, rx: mpsc::Receiver<Job>, wal: Option<Wal>) {
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
            if let Some(wal) = &wal {
                after_commit(&conn, wal);
            }
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
    // Set when a kept job's changes could not be written: the whole group is then rolled back.
    let mut broken: Option<String> = None;
    for (body, keep, reply) in writes {
        if broken.is_some() {
            results.push((Err(StoreError::Backend("an earlier write of the same commit failed".into())), reply));
            continue;
        }
        let mut tx = JobTx { conn, overlay: BTreeMap::new(), direct: false };
        // A body that panics is a bug; it must not take the writer thread (and every later write)
        // with it: its changes are dropped and its caller gets an error.
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&mut tx)));
        let kept = out.as_ref().is_ok_and(|out| keep(out.as_ref()));
        let JobTx { overlay, direct, .. } = tx;
        let out =
            out.map_err(|_| StoreError::Backend("a write transaction panicked; nothing it wrote was kept".into()));
        let finished = match (kept, direct) {
            (true, false) => apply(conn, overlay),
            (true, true) => run_cached(conn, "RELEASE job"),
            (false, false) => Ok(()),
            (false, true) => run_cached(conn, "ROLLBACK TO job").and_then(|()| run_cached(conn, "RELEASE job")),
        };
        match finished {
            Ok(()) => results.push((out, reply)),
            Err(e) => {
                broken = Some(e.to_string());
                results.push((Err(e), reply));
            }
        }
    }
    if let Some(why) = broken {
        let _ = conn.execute_batch("ROLLBACK");
        for (_, reply) in results {
            let _ = reply.send(Err(StoreError::Backend(format!("commit failed: {why}"))));
        }
        return;
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

/// Writes a kept job's buffered changes.
fn apply(conn: &Connection, overlay: BTreeMap<String, Option<Vec<u8>>>) -> Result<(), StoreError> {
    for (k, v) in overlay {
        match v {
            Some(v) => raw_put(conn, &k, &v)?,
            None => {
                raw_delete(conn, &k)?;
            }
        }
    }
    Ok(())
}

/// One write job's view: its changes wait in `overlay` (so that a job that fails costs nothing to
/// undo, and a key written twice is written once) until the job is kept. A job that scans keys it
/// has changed, or deletes a whole prefix, switches to writing in place inside a savepoint.
struct JobTx<'c> {
    conn: &'c Connection,
    overlay: BTreeMap<String, Option<Vec<u8>>>,
    direct: bool,
}

impl JobTx<'_> {
    fn go_direct(&mut self) -> Result<(), StoreError> {
        if self.direct {
            return Ok(());
        }
        run_cached(self.conn, "SAVEPOINT job")?;
        self.direct = true;
        apply(self.conn, std::mem::take(&mut self.overlay))
    }
}

impl Tx for JobTx<'_> {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.overlay.get(key) {
            Some(v) => Ok(v.clone()),
            None => raw_get(self.conn, key),
        }
    }

    fn put(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        if self.direct {
            return raw_put(self.conn, key, value);
        }
        self.overlay.insert(key.to_string(), Some(value.to_vec()));
        Ok(())
    }

    fn delete(&mut self, key: &str) -> Result<bool, StoreError> {
        if self.direct {
            return raw_delete(self.conn, key);
        }
        let existed = self.get(key)?.is_some();
        self.overlay.insert(key.to_string(), None);
        Ok(existed)
    }

    fn scan(&mut self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let touched =
            self.overlay.range::<str, _>((std::ops::Bound::Included(prefix), std::ops::Bound::Unbounded)).next();
        if touched.is_some_and(|(k, _)| k.starts_with(prefix)) {
            self.go_direct()?;
        }
        raw_scan(self.conn, prefix, after, limit)
    }

    fn delete_prefix(&mut self, prefix: &str) -> Result<usize, StoreError> {
        self.go_direct()?;
        raw_delete_prefix(self.conn, prefix)
    }
}

/// Runs a parameterless statement through the statement cache (the per-transaction savepoints are
/// on the write path of every request; parsing them each time showed in profiles).
pub(super) fn run_cached(conn: &Connection, sql: &str) -> Result<(), StoreError> {
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
        raw_get(self.conn, key)
    }
    fn put(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        raw_put(self.conn, key, value)
    }
    fn delete(&mut self, key: &str) -> Result<bool, StoreError> {
        raw_delete(self.conn, key)
    }
    fn scan(&mut self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        raw_scan(self.conn, prefix, after, limit)
    }
    fn delete_prefix(&mut self, prefix: &str) -> Result<usize, StoreError> {
        raw_delete_prefix(self.conn, prefix)
    }
}

fn raw_get(conn: &Connection, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let mut st = conn.prepare_cached("SELECT v FROM kv WHERE k = ?1").map_err(backend_err)?;
    st.query_row(params![key], |r| r.get::<_, Vec<u8>>(0)).optional().map_err(backend_err)
}

fn raw_put(conn: &Connection, key: &str, value: &[u8]) -> Result<(), StoreError> {
    let mut st = conn
        .prepare_cached("INSERT INTO kv (k, v) VALUES (?1, ?2) ON CONFLICT(k) DO UPDATE SET v = excluded.v")
        .map_err(backend_err)?;
    st.execute(params![key, value]).map_err(backend_err)?;
    Ok(())
}

fn raw_delete(conn: &Connection, key: &str) -> Result<bool, StoreError> {
    let mut st = conn.prepare_cached("DELETE FROM kv WHERE k = ?1").map_err(backend_err)?;
    Ok(st.execute(params![key]).map_err(backend_err)? > 0)
}

/// The statement and lower bound of a scan of `prefix` after `after`.
fn scan_statement<'a>(prefix: &'a str, after: Option<&'a str>) -> (&'static str, &'a str) {
    match after {
        Some(a) if a >= prefix => ("SELECT k, v FROM kv WHERE k > ?1 AND k < ?2 ORDER BY k LIMIT ?3", a),
        _ => ("SELECT k, v FROM kv WHERE k >= ?1 AND k < ?2 ORDER BY k LIMIT ?3", prefix),
    }
}

fn raw_scan(
    conn: &Connection,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    let end = super::prefix_end(prefix);
    // One lower bound, the tighter of the two: given `k >= prefix AND k > after`, SQLite seeks to
    // the first bound only and steps over every row up to the second, which made each page of a
    // list (and each step of a skip scan) cost as much as everything before it.
    let (sql, lower) = scan_statement(prefix, after);
    let mut st = conn.prepare_cached(sql).map_err(backend_err)?;
    let rows = st
        .query_map(params![lower, end, limit.min(i64::MAX as usize) as i64], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
        })
        .map_err(backend_err)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend_err)
}

fn raw_delete_prefix(conn: &Connection, prefix: &str) -> Result<usize, StoreError> {
    let end = super::prefix_end(prefix);
    let mut st = conn.prepare_cached("DELETE FROM kv WHERE k >= ?1 AND k < ?2").map_err(backend_err)?;
    st.execute(params![prefix, end]).map_err(backend_err)
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
        self.path.as_deref().map_or(0, file_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A full disk is the store being unavailable (503), not an internal failure (500).
    #[test]
    fn a_full_disk_is_unavailable() {
        let full = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL), None);
        assert!(matches!(backend_err(full), StoreError::Unavailable(_)));
        let other = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT), None);
        assert!(matches!(backend_err(other), StoreError::Backend(_)));
    }

    /// A scan that starts after a key seeks to it: its cost does not grow with the rows before it.
    #[test]
    fn scans_seek_to_where_they_start() {
        let conn = Connection::open_in_memory().unwrap();
        migrate(&conn).unwrap();
        for i in 0..20_000 {
            raw_put(&conn, &format!("p/{i:06}"), b"v").unwrap();
        }
        raw_put(&conn, "a/0", b"v").unwrap();
        raw_put(&conn, "q/0", b"v").unwrap();
        let steps = |prefix: &str, after: Option<&str>, limit: usize| {
            let rows = raw_scan(&conn, prefix, after, limit).unwrap();
            let (sql, _) = scan_statement(prefix, after);
            let st = conn.prepare_cached(sql).unwrap();
            (rows.into_iter().map(|(k, _)| k).collect::<Vec<_>>(), st.reset_status(rusqlite::StatementStatus::VmStep))
        };
        let (first, _) = steps("p/", None, 2);
        assert_eq!(first, ["p/000000", "p/000001"]);
        let (late, vm_steps) = steps("p/", Some("p/019990"), 3);
        assert_eq!(late, ["p/019991", "p/019992", "p/019993"]);
        assert!(vm_steps < 500, "a scan after row 19,990 ran {vm_steps} VM steps");
        let (end, vm_steps) = steps("p/", Some("p/019999"), 3);
        assert!(end.is_empty());
        assert!(vm_steps < 500, "{vm_steps}");
        let (before, _) = steps("p/", Some("a/9"), 1);
        assert_eq!(before, ["p/000000"], "an `after` below the prefix starts at the prefix");
    }
}
