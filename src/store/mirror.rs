//! The `--data-dir` backend: the whole key space in memory (the `--ephemeral` map of
//! [`super::memory`]) with the SQLite database as its durable log. Transactions run against the
//! map where they are asked for (reads under the shared lock, writes serialized under the exclusive
//! one); a kept write's changes are handed, in commit order, to one log thread that appends the
//! waiting groups to the database's journal, one row and one fsync for many writes
//! (`super::journal`). No answer leaves
//! before what it saw is on disk: a write waits for its own group, and a read or a refused write
//! for the group of the last write it could see — so a 2xx still means durable, and nothing a
//! client was shown is lost in a crash. A group that cannot be written (a full disk) fails every
//! write still waiting with a 503 and the map is reloaded from the database.

use super::journal::Log;
use super::memory::{Memory, WriteSet};
use super::{Backend, BoxFuture, StoreError, TxBody};
use std::any::Any;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

/// How many kept writes one log transaction may carry.
const MAX_GROUP: usize = 512;

/// A kept write on its way to the log.
struct Entry {
    seq: u64,
    changes: WriteSet,
}

/// What the request side and the log thread share.
struct Shared {
    /// The in-memory state.
    mem: Memory,
    /// The last kept write's number (moved under the map's exclusive lock).
    applied: AtomicU64,
    /// Every write up to this number is on disk (or was lost, see `lost`).
    durable: AtomicU64,
    /// Moves when the map is reloaded after a failed group.
    epoch: AtomicU64,
    /// The numbers of the writes lost to failed groups (first, last), and why.
    lost: Mutex<Vec<(u64, u64, String)>>,
    /// Set when even the reload failed: the map no longer matches the disk.
    broken: Mutex<Option<String>>,
    /// Woken after each group.
    written: tokio::sync::Notify,
}

/// The mirrored store of a data directory.
pub struct Mirror {
    shared: Arc<Shared>,
    log: mpsc::Sender<Entry>,
    path: std::path::PathBuf,
}

impl Mirror {
    /// Opens the database of `dir` and loads it into memory.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let (log, contents) = Log::open(dir)?;
        Self::start(log, contents)
    }

    fn start(log: Log, contents: std::collections::BTreeMap<String, Vec<u8>>) -> Result<Self, StoreError> {
        let path = log.path().to_path_buf();
        let shared = Arc::new(Shared {
            mem: Memory::with_contents(contents),
            applied: AtomicU64::new(0),
            durable: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            lost: Mutex::new(Vec::new()),
            broken: Mutex::new(None),
            written: tokio::sync::Notify::new(),
        });
        let (tx, rx) = mpsc::channel::<Entry>();
        let s = shared.clone();
        std::thread::Builder::new()
            .name("localplane-sqlite-writer".into())
            .spawn(move || log_loop(log, rx, s))
            .map_err(|e| StoreError::Backend(format!("cannot start the SQLite writer thread: {e}")))?;
        Ok(Mirror { shared, log: tx, path })
    }

    fn check_broken(&self) -> Result<(), StoreError> {
        match self.shared.broken.lock().ok().and_then(|b| b.clone()) {
            Some(why) => Err(StoreError::Unavailable(format!(
                "the database {} could not be read back after a failed write ({why}); restart localplane",
                self.path.display()
            ))),
            None => Ok(()),
        }
    }
}

/// Waits until write `seq` (seen in `epoch`) is on disk; an error when it was lost.
async fn durable(shared: Arc<Shared>, seq: u64, epoch: u64) -> Result<(), StoreError> {
    loop {
        let notified = shared.written.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if shared.epoch.load(Ordering::Acquire) != epoch {
            // A group failed since: every write numbered before the reload is on disk or lost.
            let lost = shared.lost.lock().map_err(|_| StoreError::Backend("the log state is poisoned".into()))?;
            return match lost.iter().find(|(first, last, _)| (*first..=*last).contains(&seq)) {
                Some((_, _, why)) => Err(StoreError::Unavailable(format!(
                    "the write could not be made durable ({why}); nothing of it was kept, retry"
                ))),
                None => Ok(()),
            };
        }
        if shared.durable.load(Ordering::Acquire) >= seq {
            return Ok(());
        }
        notified.await;
    }
}

impl Backend for Mirror {
    fn read_boxed(&self, body: TxBody) -> BoxFuture<Result<Box<dyn Any + Send>, StoreError>> {
        if let Err(e) = self.check_broken() {
            return Box::pin(std::future::ready(Err(e)));
        }
        let shared = self.shared.clone();
        let (out, (seq, epoch)) = shared
            .mem
            .read_then(body, || (shared.applied.load(Ordering::Acquire), shared.epoch.load(Ordering::Acquire)));
        if shared.durable.load(Ordering::Acquire) >= seq {
            return Box::pin(std::future::ready(Ok(out)));
        }
        Box::pin(async move {
            durable(shared, seq, epoch).await?;
            Ok(out)
        })
    }

    fn write_boxed(
        &self,
        body: TxBody,
        keep: fn(&(dyn Any + Send)) -> bool,
    ) -> BoxFuture<Result<Box<dyn Any + Send>, StoreError>> {
        if let Err(e) = self.check_broken() {
            return Box::pin(std::future::ready(Err(e)));
        }
        let shared = self.shared.clone();
        let (out, (seq, epoch)) = shared.mem.write_then(body, keep, |set| {
            let epoch = shared.epoch.load(Ordering::Acquire);
            match set {
                Some(changes) if !changes.is_empty() => {
                    let seq = shared.applied.load(Ordering::Relaxed) + 1;
                    shared.applied.store(seq, Ordering::Release);
                    // Sent under the exclusive lock: the log receives the writes in commit order.
                    // The thread lives as long as the process.
                    let _ = self.log.send(Entry { seq, changes });
                    (seq, epoch)
                }
                _ => (shared.applied.load(Ordering::Acquire), epoch),
            }
        });
        if shared.durable.load(Ordering::Acquire) >= seq {
            return Box::pin(std::future::ready(Ok(out)));
        }
        Box::pin(async move {
            durable(shared, seq, epoch).await?;
            Ok(out)
        })
    }

    /// The database file and its WAL, as for the SQLite backend.
    fn size_bytes(&self) -> u64 {
        super::sqlite::file_bytes(&self.path)
    }
}

/// The log thread: writes the waiting entries in groups, and the parts of a snapshot between
/// them (see `super::journal`), then tells the waiters.
fn log_loop(mut log: Log, rx: mpsc::Receiver<Entry>, shared: Arc<Shared>) {
    // The number of the last entry received.
    let mut received = 0;
    loop {
        let mut group = Vec::new();
        // During a snapshot pass the thread writes parts while no write waits.
        if !log.in_pass() {
            match rx.recv() {
                Ok(e) => group.push(e),
                Err(_) => return,
            }
        }
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(e) => group.push(e),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) if group.is_empty() => return,
                Err(mpsc::TryRecvError::Disconnected) => break,
            }
        }
        received = group.last().map_or(received, |e| e.seq);
        let part = match log.part_due(group.is_empty(), shared.mem.size_bytes()) {
            Some(budget) => {
                let (part, seen) =
                    shared.mem.shared(|map| (log.read_part(map, budget), shared.applied.load(Ordering::Acquire)));
                // The part goes to disk with every write it can show: each was handed over
                // (under the exclusive lock) before the map could be read.
                while received < seen {
                    match rx.recv() {
                        Ok(e) => {
                            received = e.seq;
                            group.push(e);
                        }
                        Err(_) => return,
                    }
                }
                Some(part)
            }
            None if group.is_empty() => continue,
            None => None,
        };
        match log.commit(group.iter().flat_map(|e| e.changes.iter()), part) {
            Ok(()) => {
                if !group.is_empty() {
                    shared.durable.store(received, Ordering::Release);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, database = %log.path().display(),
                    "writing to the SQLite database failed; the writes waiting for it are refused (503) and the state is read back from the database");
                log.pause_passes();
                // No write runs while the map is read back; every write kept in memory but not
                // on disk is dropped with it.
                let first = group.first().map_or(received + 1, |e| e.seq);
                // The drain and the reload under one exclusive lock.
                let reloaded = shared.mem.exclusive(|map| {
                    while let Ok(e) = rx.try_recv() {
                        received = e.seq;
                    }
                    log.load().map(|fresh| *map = fresh)
                });
                if first <= received {
                    if let Ok(mut lost) = shared.lost.lock() {
                        lost.push((first, received, e.to_string()));
                    }
                }
                match reloaded {
                    Ok(()) => shared.mem.recount(),
                    Err(re) => {
                        tracing::error!(error = %re, "reading the SQLite database back failed; every request is refused until a restart");
                        if let Ok(mut b) = shared.broken.lock() {
                            *b = Some(re.to_string());
                        }
                    }
                }
                shared.durable.store(received, Ordering::Release);
                shared.epoch.fetch_add(1, Ordering::AcqRel);
            }
        }
        shared.written.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Store, Tx};

    #[tokio::test]
    async fn kept_writes_survive_a_reopen_and_refused_ones_leave_nothing() {
        let dir = std::env::temp_dir().join(format!("lp-mirror-{}-{}", std::process::id(), uuid::Uuid::new_v4()));
        {
            let store = Store::new(Arc::new(Mirror::open(&dir).expect("open")));
            store
                .write(|tx: &mut dyn Tx| -> Result<(), StoreError> {
                    tx.put("a/1", b"one")?;
                    tx.put("a/2", b"two")?;
                    tx.put("a/1", b"uno")?;
                    tx.delete("a/2")?;
                    Ok(())
                })
                .await
                .expect("write");
            let refused = store
                .write(|tx: &mut dyn Tx| -> Result<(), StoreError> {
                    tx.put("a/3", b"three")?;
                    Err(StoreError::Backend("refused".into()))
                })
                .await;
            assert!(refused.is_err());
            let seen = store.read(|tx: &mut dyn Tx| tx.scan("a/", None, 10)).await.expect("read");
            assert_eq!(seen, vec![("a/1".to_string(), b"uno".to_vec())]);
        }
        let store = Store::new(Arc::new(Mirror::open(&dir).expect("reopen")));
        let seen = store.read(|tx: &mut dyn Tx| tx.scan("a/", None, 10)).await.expect("read");
        assert_eq!(seen, vec![("a/1".to_string(), b"uno".to_vec())], "the reopened database holds the kept write");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Writers on many tasks while the log thread writes snapshot parts between their groups (a
    /// pass starts after every 2 KB of journal): the reopened database holds every acknowledged write.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_during_snapshot_passes_are_all_there_after_a_reopen() {
        let dir = std::env::temp_dir().join(format!("lp-mirror-pass-{}-{}", std::process::id(), uuid::Uuid::new_v4()));
        let (mut log, contents) = Log::open(&dir).expect("open");
        log.set_pass_threshold(2_000);
        let store = Store::new(Arc::new(Mirror::start(log, contents).expect("start")));
        let tasks: Vec<_> = (0..8)
            .map(|t| {
                let store = store.clone();
                tokio::spawn(async move {
                    for i in 0..150u32 {
                        store
                            .write(move |tx: &mut dyn Tx| -> Result<(), StoreError> {
                                tx.put(&format!("k/{t}/{}", i % 40), format!("{t}-{i}").as_bytes())?;
                                if i % 3 == 0 {
                                    tx.delete(&format!("k/{t}/{}", (i + 7) % 40))?;
                                }
                                Ok(())
                            })
                            .await
                            .expect("write");
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("writer");
        }
        let before = store.read(|tx: &mut dyn Tx| tx.scan("k/", None, 10_000)).await.expect("read");
        assert!(before.len() > 100, "the writers left keys ({})", before.len());
        drop(store);
        // The log thread ends when the last handle to its channel is gone; the reopen waits for it.
        std::thread::sleep(std::time::Duration::from_millis(300));
        let (log, contents) = Log::open(&dir).expect("reopen");
        assert!(log.snapshot_gen() > 1, "several passes ended ({})", log.snapshot_gen());
        let after: Vec<_> = contents.into_iter().filter(|(k, _)| k.starts_with("k/")).collect();
        assert_eq!(after, before);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
