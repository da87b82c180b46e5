//! The PostgreSQL backend: several localplane replicas share one database.
//!
//! Every write transaction begins with one transaction-scoped advisory lock
//! (`pg_advisory_xact_lock`), so writes are serialized across all replicas exactly as SQLite's single
//! writer serializes them in one process. A transaction body is an `FnOnce` that cannot be re-run, so
//! nothing here ever retries a body: instead no two write bodies ever overlap, and a body that reads
//! a key sees every write acknowledged before it (READ COMMITTED takes a fresh snapshot per
//! statement, and every statement runs after the lock is granted). That is what keeps optimistic
//! concurrency, idempotency tokens, name uniqueness and the scheduler's exactly-once steps true
//! across replicas. Reads take no lock and run concurrently in REPEATABLE READ snapshots.
//!
//! The "lease" on work in flight is the write transaction itself: a replica killed mid-step loses
//! its connection, PostgreSQL rolls its transaction back and releases the lock at once, and the step
//! is still scheduled for whichever replica comes next. A replica that hangs with its connection
//! open is cut off after [`IDLE_IN_TRANSACTION_TIMEOUT`].
//!
//! Keys are stored as `BYTEA` so that they order bytewise like SQLite's `TEXT` keys (and so that a
//! key may hold any character, NUL included, which PostgreSQL `TEXT` refuses). When the database
//! goes away, calls fail with [`StoreError::Unavailable`] (a 503 for clients) and the next call
//! reconnects.

use super::{Backend, BoxFuture, StoreError, Tx, TxBody};
use postgres::{Client, NoTls, Statement};
use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Schema migrations, applied in order; the table `localplane_schema` records which ran.
const MIGRATIONS: &[&str] = &["CREATE TABLE IF NOT EXISTS kv (k BYTEA PRIMARY KEY, v BYTEA NOT NULL)"];

/// The advisory lock every write transaction holds: "lpwrite" in ASCII.
const WRITE_LOCK: i64 = 0x006c_7077_7269_7465;

/// The advisory lock that serializes migrations of replicas starting together: "lpmigra" in ASCII.
const MIGRATION_LOCK: i64 = 0x006c_706d_6967_7261;

/// The most connections one replica opens (each running transaction holds one).
const MAX_CONNECTIONS: usize = 16;

/// How long opening a connection may take before the request fails as unavailable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A replica that stops talking in the middle of a transaction (frozen, partitioned) loses its
/// session after this long, which also frees the write lock for the others.
pub const IDLE_IN_TRANSACTION_TIMEOUT: &str = "15s";

/// How long a write waits for the write lock before it fails as unavailable.
const LOCK_TIMEOUT: &str = "30s";

/// How often the size of the key space is measured for metrics.
const SIZE_REFRESH: Duration = Duration::from_secs(10);

const READ_BEGIN: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";

/// PostgreSQL storage shared by replicas.
pub struct Postgres {
    shared: Arc<Shared>,
}

struct Shared {
    config: postgres::Config,
    /// The database as logs and errors name it (no password).
    name: String,
    idle: Mutex<Vec<Conn>>,
    slots: Arc<tokio::sync::Semaphore>,
    size: AtomicU64,
    measured: Mutex<Option<Instant>>,
}

impl Drop for Shared {
    /// The sync client blocks when it closes, which must not happen on an async worker (the last
    /// handle of the store may go away there): the idle connections close on a thread of their own.
    fn drop(&mut self) {
        let idle = self.idle.get_mut().map(std::mem::take).unwrap_or_default();
        if !idle.is_empty() {
            let _ = std::thread::Builder::new().name("localplane-postgres-close".into()).spawn(move || drop(idle));
        }
    }
}

/// One open connection with its prepared statements.
struct Conn {
    client: Client,
    st: Statements,
}

struct Statements {
    get: Statement,
    put: Statement,
    delete: Statement,
    scan: Statement,
    delete_prefix: Statement,
    size: Statement,
}

impl Statements {
    fn prepare(client: &mut Client) -> Result<Self, postgres::Error> {
        Ok(Statements {
            get: client.prepare("SELECT v FROM kv WHERE k = $1")?,
            put: client
                .prepare("INSERT INTO kv (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v")?,
            delete: client.prepare("DELETE FROM kv WHERE k = $1")?,
            scan: client.prepare("SELECT k, v FROM kv WHERE k >= $1 AND k > $2 AND k < $3 ORDER BY k LIMIT $4")?,
            delete_prefix: client.prepare("DELETE FROM kv WHERE k >= $1 AND k < $2")?,
            size: client.prepare("SELECT pg_total_relation_size('kv')")?,
        })
    }
}

/// Whether `e` means the connection (or the server behind it) is gone, rather than a statement
/// being wrong: no server error at all (I/O, closed), a connection exception (class 08) or a server
/// shutting down (57P).
fn connection_lost(e: &postgres::Error) -> bool {
    e.code().is_none_or(|c| c.code().starts_with("08") || c.code().starts_with("57P"))
}

/// What went wrong, in words: the server's message, or the client's error with its cause (the
/// client's own `Display` leaves the cause out).
fn explain(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} {}: {}", db.severity(), db.code().code(), db.message());
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// Maps a PostgreSQL failure of `what` to a store error: transient ones (connection, shutdown,
/// too many connections, lock timeout) are `Unavailable`, so clients get a retryable 503.
fn classify(e: &postgres::Error, what: &str) -> StoreError {
    let transient = connection_lost(e)
        || e.code().is_some_and(|c| matches!(c.code(), "53300" | "55P03" | "40001" | "40P01" | "25P03"));
    if transient {
        StoreError::Unavailable(format!("PostgreSQL {what} failed: {}", explain(e)))
    } else {
        StoreError::Backend(format!("PostgreSQL {what} failed: {}", explain(e)))
    }
}

fn copy_err(e: &StoreError) -> StoreError {
    match e {
        StoreError::Backend(m) => StoreError::Backend(m.clone()),
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        StoreError::Corrupt { key, detail } => StoreError::Corrupt { key: key.clone(), detail: detail.clone() },
    }
}

/// `postgres://USER@HOST:PORT/DB` for logs and messages: what the URL says, minus any password.
fn describe(config: &postgres::Config) -> String {
    let user = config.get_user().unwrap_or("");
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let port = config.get_ports().first().map(|p| format!(":{p}")).unwrap_or_default();
    let db = config.get_dbname().unwrap_or(user);
    format!("postgres://{user}@{}{port}/{db}", hosts.join(","))
}

/// Runs the migrations not yet applied, under an advisory lock so that replicas starting together
/// take turns (the second finds the work done).
fn migrate(client: &mut Client, name: &str) -> Result<(), StoreError> {
    let fail = |e: postgres::Error| classify(&e, &format!("migrating the schema of {name}"));
    let mut tx = client.transaction().map_err(fail)?;
    tx.batch_execute(&format!(
        "SELECT pg_advisory_xact_lock({MIGRATION_LOCK});
         CREATE TABLE IF NOT EXISTS localplane_schema (
             version INTEGER PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    ))
    .map_err(fail)?;
    let row = tx.query_one("SELECT COALESCE(MAX(version), 0) FROM localplane_schema", &[]).map_err(fail)?;
    let done: i32 = row.try_get(0).map_err(fail)?;
    let done = usize::try_from(done).unwrap_or(0);
    if done > MIGRATIONS.len() {
        return Err(StoreError::Backend(format!(
            "the database {name} has schema version {done}, newer than this localplane knows ({}); upgrade localplane",
            MIGRATIONS.len()
        )));
    }
    for (i, m) in MIGRATIONS.iter().enumerate().skip(done) {
        let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
        tx.batch_execute(m).map_err(fail)?;
        tx.execute("INSERT INTO localplane_schema (version) VALUES ($1)", &[&version]).map_err(fail)?;
    }
    tx.commit().map_err(fail)
}

impl Postgres {
    /// Connects to the database at `url` (`postgres://USER@HOST:PORT/DB`) and brings its schema up
    /// to date. Blocking: call it from a blocking context.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let mut config: postgres::Config = url.parse().map_err(|e| {
            StoreError::Backend(format!(
                "the store URL is not a PostgreSQL URL (postgres://USER@HOST:PORT/DB): {}",
                explain(&e)
            ))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("localplane");
        }
        config.keepalives_idle(Duration::from_secs(30));
        let name = describe(&config);
        let shared = Shared {
            config,
            name,
            idle: Mutex::new(Vec::new()),
            slots: Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS)),
            size: AtomicU64::new(0),
            measured: Mutex::new(None),
        };
        let mut client = shared.connect_client()?;
        migrate(&mut client, &shared.name)?;
        let mut conn = shared.ready(client)?;
        shared.measure(&mut conn);
        shared.give_back(conn);
        Ok(Postgres { shared: Arc::new(shared) })
    }

    /// The database as logs name it (no password).
    pub fn name(&self) -> &str {
        &self.shared.name
    }
}

impl Shared {
    fn connect_client(&self) -> Result<Client, StoreError> {
        self.config.connect(NoTls).map_err(|e| {
            let message = format!(
                "cannot reach PostgreSQL at {}: {} — is it running, and does the database exist?",
                self.name,
                explain(&e)
            );
            match e.code() {
                // Wrong database, user or password: retrying will not help.
                Some(c) if c.code() == "3D000" || c.code().starts_with("28") => StoreError::Backend(message),
                _ => StoreError::Unavailable(message),
            }
        })
    }

    fn ready(&self, mut client: Client) -> Result<Conn, StoreError> {
        client
            .batch_execute(&format!(
                "SET idle_in_transaction_session_timeout = '{IDLE_IN_TRANSACTION_TIMEOUT}'; SET lock_timeout = '{LOCK_TIMEOUT}'"
            ))
            .map_err(|e| classify(&e, &format!("setting up a session on {}", self.name)))?;
        let st = Statements::prepare(&mut client)
            .map_err(|e| classify(&e, &format!("preparing statements on {}", self.name)))?;
        Ok(Conn { client, st })
    }

    fn open_conn(&self) -> Result<Conn, StoreError> {
        let client = self.connect_client()?;
        self.ready(client)
    }

    /// An idle connection (`true`: reused, it may have died since), or a new one.
    fn take(&self) -> Result<(Conn, bool), StoreError> {
        while let Some(conn) = self.idle.lock().ok().and_then(|mut idle| idle.pop()) {
            if !conn.client.is_closed() {
                return Ok((conn, true));
            }
        }
        Ok((self.open_conn()?, false))
    }

    fn give_back(&self, conn: Conn) {
        if conn.client.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
    }

    /// The server went away: the other idle connections date from before, so drop them too.
    fn forget_idle(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }

    /// A connection inside a transaction begun with `begin`. A reused connection that turns out to
    /// be dead (the server restarted since) is replaced once: no body has run yet, so that is safe.
    fn begin(&self, begin: &str) -> Result<Conn, StoreError> {
        let (mut conn, reused) = self.take()?;
        match conn.client.batch_execute(begin) {
            Ok(()) => Ok(conn),
            Err(e) if reused && connection_lost(&e) => {
                self.forget_idle();
                let mut conn = self.open_conn()?;
                conn.client.batch_execute(begin).map_err(|e| classify(&e, "starting a transaction"))?;
                Ok(conn)
            }
            Err(e) => {
                // A lock timeout leaves a good connection in an aborted transaction: keep it.
                if !connection_lost(&e) {
                    let _ = self.end(conn, "ROLLBACK");
                }
                Err(classify(&e, "starting a transaction"))
            }
        }
    }

    /// Ends a transaction on `conn` with `end` (COMMIT or ROLLBACK) and keeps the connection when
    /// it is still good.
    fn end(&self, mut conn: Conn, end: &str) -> Result<(), postgres::Error> {
        match conn.client.batch_execute(end) {
            Ok(()) => {
                self.measure(&mut conn);
                self.give_back(conn);
                Ok(())
            }
            Err(e) => {
                if connection_lost(&e) {
                    self.forget_idle();
                }
                Err(e)
            }
        }
    }

    /// Refreshes the size of the key space, at most every [`SIZE_REFRESH`].
    fn measure(&self, conn: &mut Conn) {
        let due = match self.measured.lock() {
            Ok(mut last) if last.is_none_or(|t| t.elapsed() >= SIZE_REFRESH) => {
                *last = Some(Instant::now());
                true
            }
            _ => false,
        };
        if due {
            if let Ok(row) = conn.client.query_one(&conn.st.size, &[]) {
                if let Ok(bytes) = row.try_get::<_, i64>(0) {
                    self.size.store(u64::try_from(bytes).unwrap_or(0), Ordering::Relaxed);
                }
            }
        }
    }

    fn run_read(&self, body: TxBody) -> Result<Box<dyn Any + Send>, StoreError> {
        let mut conn = self.begin(READ_BEGIN)?;
        let (out, failed) = {
            let mut tx = PgTx { conn: &mut conn, failed: None };
            let out = body(&mut tx);
            (out, tx.failed)
        };
        match failed {
            Some(e) => {
                if matches!(e, StoreError::Unavailable(_)) {
                    self.forget_idle();
                } else {
                    let _ = self.end(conn, "ROLLBACK");
                }
                Err(e)
            }
            // The snapshot was read in full; a failure to close it does not make it wrong.
            None => {
                let _ = self.end(conn, "COMMIT");
                Ok(out)
            }
        }
    }

    fn run_write(&self, body: TxBody, keep: fn(&(dyn Any + Send)) -> bool) -> Result<Box<dyn Any + Send>, StoreError> {
        let mut conn = self.begin(&format!("BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})"))?;
        let (out, failed) = {
            let mut tx = PgTx { conn: &mut conn, failed: None };
            let out = body(&mut tx);
            (out, tx.failed)
        };
        // A statement that failed aborted the whole transaction, whatever the body made of it.
        if let Some(e) = failed {
            if matches!(e, StoreError::Unavailable(_)) {
                self.forget_idle();
            } else {
                let _ = self.end(conn, "ROLLBACK");
            }
            return Err(e);
        }
        if !keep(out.as_ref()) {
            let _ = self.end(conn, "ROLLBACK");
            return Ok(out);
        }
        match self.end(conn, "COMMIT") {
            Ok(()) => Ok(out),
            Err(e) if connection_lost(&e) => Err(StoreError::Unavailable(format!(
                "the connection to PostgreSQL at {} broke during COMMIT ({}); the change may or may not have been applied, read it back before retrying",
                self.name,
                explain(&e)
            ))),
            Err(e) => Err(classify(&e, "committing")),
        }
    }
}

/// A transaction on one connection. The first failing statement is remembered: PostgreSQL has
/// aborted the transaction by then, so every later call fails the same way and nothing commits.
struct PgTx<'c> {
    conn: &'c mut Conn,
    failed: Option<StoreError>,
}

impl PgTx<'_> {
    fn check<T>(
        &mut self,
        what: &str,
        r: impl FnOnce(&mut Conn) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        if let Some(e) = &self.failed {
            return Err(copy_err(e));
        }
        r(self.conn).map_err(|e| {
            let err = classify(&e, what);
            self.failed = Some(copy_err(&err));
            err
        })
    }
}

impl Tx for PgTx<'_> {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row = self.check("reading a key", |c| c.client.query_opt(&c.st.get, &[&key.as_bytes()]))?;
        match row {
            None => Ok(None),
            Some(row) => self.check("reading a value", |_| row.try_get::<_, Vec<u8>>(0)).map(Some),
        }
    }

    fn put(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.check("writing a key", |c| c.client.execute(&c.st.put, &[&key.as_bytes(), &value])).map(|_| ())
    }

    fn delete(&mut self, key: &str) -> Result<bool, StoreError> {
        self.check("deleting a key", |c| c.client.execute(&c.st.delete, &[&key.as_bytes()])).map(|n| n > 0)
    }

    fn scan(&mut self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let end = super::prefix_end(prefix);
        let after = after.unwrap_or("");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.check("scanning keys", |c| {
            c.client.query(&c.st.scan, &[&prefix.as_bytes(), &after.as_bytes(), &end.as_bytes(), &limit])
        })?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let (k, v) = self.check("reading a scanned row", |_| {
                Ok((row.try_get::<_, Vec<u8>>(0)?, row.try_get::<_, Vec<u8>>(1)?))
            })?;
            let k = String::from_utf8(k).map_err(|e| StoreError::Corrupt {
                key: String::from_utf8_lossy(e.as_bytes()).into_owned(),
                detail: "the key is not UTF-8 (written by something other than localplane?)".into(),
            })?;
            out.push((k, v));
        }
        Ok(out)
    }

    fn delete_prefix(&mut self, prefix: &str) -> Result<usize, StoreError> {
        let end = super::prefix_end(prefix);
        let n = self.check("deleting keys", |c| {
            c.client.execute(&c.st.delete_prefix, &[&prefix.as_bytes(), &end.as_bytes()])
        })?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
}

impl Backend for Postgres {
    fn read_boxed(&self, body: TxBody) -> BoxFuture<Result<Box<dyn Any + Send>, StoreError>> {
        let shared = self.shared.clone();
        Box::pin(async move {
            let slot = shared
                .slots
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| StoreError::Unavailable("the PostgreSQL pool is closed".into()))?;
            tokio::task::spawn_blocking(move || {
                let _slot = slot;
                shared.run_read(body)
            })
            .await
            .map_err(|e| StoreError::Backend(format!("read task failed: {e}")))?
        })
    }

    fn write_boxed(
        &self,
        body: TxBody,
        keep: fn(&(dyn Any + Send)) -> bool,
    ) -> BoxFuture<Result<Box<dyn Any + Send>, StoreError>> {
        let shared = self.shared.clone();
        Box::pin(async move {
            let slot = shared
                .slots
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| StoreError::Unavailable("the PostgreSQL pool is closed".into()))?;
            tokio::task::spawn_blocking(move || {
                let _slot = slot;
                shared.run_write(body, keep)
            })
            .await
            .map_err(|e| StoreError::Backend(format!("write task failed: {e}")))?
        })
    }

    fn size_bytes(&self) -> u64 {
        self.shared.size.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    //! The same transactions on SQLite and, when `LOCALPLANE_TEST_STORE` names a PostgreSQL server,
    //! on PostgreSQL: both backends must read the same.

    use crate::store::{Location, Store, StoreError};

    /// A fresh database on the test PostgreSQL, or None.
    async fn fresh_postgres() -> Option<(String, String, String)> {
        let base = std::env::var("LOCALPLANE_TEST_STORE").ok().filter(|u| u.starts_with("postgres"))?;
        let name = format!("lp_unit_{}", uuid::Uuid::new_v4().simple());
        let (admin, sql) = (base.clone(), format!("CREATE DATABASE \"{name}\""));
        tokio::task::spawn_blocking(move || {
            let mut client = postgres::Client::connect(&admin, postgres::NoTls).expect("reach the test PostgreSQL");
            client.batch_execute(&sql).expect("create a test database");
        })
        .await
        .expect("create a test database");
        let (scheme, rest) = base.split_once("://")?;
        let authority = rest.split('/').next()?;
        Some((format!("{scheme}://{authority}/{name}"), base, name))
    }

    async fn drop_database(base: String, name: String) {
        let _ = tokio::task::spawn_blocking(move || {
            if let Ok(mut client) = postgres::Client::connect(&base, postgres::NoTls) {
                let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
            }
        })
        .await;
    }

    /// Puts, gets, scans (with `after` and `limit`), deletes and a rolled-back write; returns what was read.
    async fn transcript(store: &Store) -> Vec<String> {
        let keys = ["a/1", "a/2", "a/10", "a/\u{10FFFD}", "a/é", "a", "a\0b", "b/1", "a/\u{FFFF}z"];
        store
            .write(move |tx| -> Result<(), StoreError> {
                for (i, k) in keys.iter().enumerate() {
                    tx.put(k, format!("v{i}").as_bytes())?;
                }
                tx.put("a/1", b"again")
            })
            .await
            .expect("write");
        let failed: Result<(), StoreError> = store
            .write(|tx| {
                tx.put("c/1", b"lost")?;
                Err(StoreError::Backend("the body changes its mind".into()))
            })
            .await;
        assert!(failed.is_err());
        store
            .write(|tx| -> Result<Vec<String>, StoreError> {
                let mut out = Vec::new();
                let keys = |rows: Vec<(String, Vec<u8>)>| -> String {
                    let rows: Vec<String> =
                        rows.into_iter().map(|(k, v)| format!("{k:?}={}", String::from_utf8_lossy(&v))).collect();
                    rows.join(" ")
                };
                out.push(keys(tx.scan("a/", None, 100)?));
                out.push(keys(tx.scan("a/", Some("a/10"), 2)?));
                out.push(keys(tx.scan("", None, 3)?));
                out.push(format!("{:?}", tx.get("a\0b")?));
                out.push(format!("{:?}", tx.get("c/1")?));
                out.push(format!("{:?} {:?}", tx.delete("a/2")?, tx.delete("zz")?));
                out.push(format!("{:?}", tx.delete_prefix("a/")?));
                out.push(keys(tx.scan("", None, usize::MAX)?));
                Ok(out)
            })
            .await
            .expect("read back")
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn both_backends_read_the_same() {
        let sqlite = Store::new(std::sync::Arc::new(super::super::sqlite::Sqlite::in_memory().expect("open SQLite")));
        let expected = transcript(&sqlite).await;
        let memory = Location::Memory.open().await.expect("open the memory store");
        assert_eq!(transcript(&memory).await, expected, "the memory store reads like SQLite");
        assert_eq!(
            expected[0], r#""a/1"=again "a/10"=v2 "a/2"=v1 "a/é"=v4 "a/\u{ffff}z"=v8 "a/\u{10fffd}"=v3"#,
            "bytewise order, up to the last character"
        );
        assert_eq!(expected[6], "5", "a/ held five keys once a/2 was deleted");
        let Some((url, base, name)) = fresh_postgres().await else {
            eprintln!("note: set LOCALPLANE_TEST_STORE=postgres://… to compare with PostgreSQL");
            return;
        };
        let postgres = Location::Postgres(url).open().await.expect("open PostgreSQL");
        assert_eq!(transcript(&postgres).await, expected);
        drop(postgres);
        drop_database(base, name).await;
    }

    /// Two backends on one database are two replicas: concurrent read-modify-write transactions
    /// through both lose no update.
    #[tokio::test(flavor = "multi_thread")]
    async fn replicas_lose_no_update() {
        let Some((url, base, name)) = fresh_postgres().await else { return };
        let replicas = [
            Location::Postgres(url.clone()).open().await.expect("open replica 1"),
            Location::Postgres(url).open().await.expect("open replica 2"),
        ];
        let mut tasks = Vec::new();
        for i in 0..80 {
            let store = replicas[i % 2].clone();
            tasks.push(tokio::spawn(async move {
                store
                    .write(|tx| -> Result<(), StoreError> {
                        let n: u64 = tx
                            .get("counter")?
                            .and_then(|v| String::from_utf8(v).ok())
                            .and_then(|s| s.parse().ok())
                            .unwrap_or(0);
                        tx.put("counter", (n + 1).to_string().as_bytes())
                    })
                    .await
            }));
        }
        for t in tasks {
            t.await.expect("task").expect("increment");
        }
        let n = replicas[1].read(|tx| tx.get("counter")).await.expect("read");
        assert_eq!(n.as_deref(), Some(&b"80"[..]));
        drop(replicas);
        drop_database(base, name).await;
    }
}
