//! The on-disk form of a data directory, the durable half of the in-memory mirror
//! (`super::mirror`): each group of kept writes is appended as one row of the `journal` table (one
//! insert and one fsync for many writes, not one B-tree update per changed key; a group of more than
//! 8 MiB, such as a snapshot import, as several rows of one transaction), and a snapshot of
//! the whole key space, written in parts between groups while the server runs, lets the journal
//! rows it covers be dropped. Opening reads the last complete snapshot and replays the journal
//! after it.
//!
//! A snapshot pass reads its parts at different moments, each under the shared lock of the map,
//! so a part may show writes made after the pass began. Replaying the journal from where the pass
//! began puts every such key back to its latest value (each journal change is a whole value or a
//! delete), so the result is the state of the last journal row. A part goes to disk in the same
//! transaction as the journal row of every write it can show, so it never holds a write that was
//! refused. Data directories of earlier versions keep their `kv` table as the first snapshot
//! until the first pass replaces it.

use super::sqlite::{after_commit, backend_err, open_file, run_cached, Wal};
use super::StoreError;
use rusqlite::{params, Connection};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A snapshot pass starts when the journal after the last snapshot holds more bytes than this and
/// than the key space itself.
const MIN_JOURNAL_BYTES: u64 = 64 << 20;

/// How many bytes of the key space one snapshot part holds (at least one key).
const PART_BYTES: usize = 256 << 10;

/// For each journal byte written during a pass, this many snapshot bytes may follow it, so that a
/// pass ends before the journal it drops has doubled, even under a steady stream of writes.
const PART_CREDIT: usize = 2;

/// A group's changes go into journal rows of about this many bytes (a snapshot import or a reset is
/// one group: its rows stay well under SQLite's 1 GB limit on a value).
const ROW_BYTES: usize = 8 << 20;

/// How long no pass starts after a failed write.
const PASS_PAUSE: Duration = Duration::from_secs(10);

/// A kept change: a key and its value afterwards (`None`: deleted).
pub type Change = (String, Option<Vec<u8>>);

/// The data directory's database.
pub struct Log {
    conn: Connection,
    wal: Wal,
    path: PathBuf,
    /// The number of the next journal row.
    next_seq: i64,
    /// The last complete snapshot (0: the `kv` table) and the last journal row it covers.
    gen: i64,
    after: i64,
    /// The bytes of the journal rows after `after`.
    journal_bytes: u64,
    /// A snapshot being written.
    pass: Option<Pass>,
    /// No pass starts before this (after a failed write).
    no_pass_before: Option<Instant>,
    /// A pass starts when the journal holds more bytes than this and than the key space.
    pass_threshold: u64,
}

/// A snapshot pass under way.
struct Pass {
    gen: i64,
    /// The last journal row written before its first part was read.
    after: i64,
    /// The number of its next part.
    part: i64,
    /// The last key its parts hold.
    last_key: Option<String>,
    /// Journal bytes written since it began (they stay after it ends).
    journal_bytes: u64,
    /// Snapshot bytes it may write before the next group of writes.
    credit: usize,
}

/// One part of a snapshot, read from the map by [`Log::read_part`].
pub struct Part {
    data: Vec<u8>,
    last_key: Option<String>,
    done: bool,
}

impl Log {
    /// Opens (creating or migrating) the database in `dir`; returns it with everything it holds.
    pub fn open(dir: &Path) -> Result<(Log, BTreeMap<String, Vec<u8>>), StoreError> {
        let (conn, wal, path) = open_file(dir)?;
        let (gen, after): (i64, i64) = conn
            .query_row("SELECT gen, after FROM snapshot_state WHERE one = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(backend_err)?;
        let (last, bytes): (Option<i64>, Option<i64>) = conn
            .query_row("SELECT MAX(seq), SUM(LENGTH(changes)) FROM journal WHERE seq > ?1", [after], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(backend_err)?;
        let log = Log {
            conn,
            wal,
            path,
            next_seq: last.unwrap_or(0).max(after) + 1,
            gen,
            after,
            journal_bytes: bytes.unwrap_or(0) as u64,
            pass: None,
            no_pass_before: None,
            pass_threshold: MIN_JOURNAL_BYTES,
        };
        let all = log.load()?;
        Ok((log, all))
    }

    /// Everything the database holds: the last complete snapshot with the journal after it.
    pub fn load(&self) -> Result<BTreeMap<String, Vec<u8>>, StoreError> {
        let mut map = BTreeMap::new();
        if self.gen == 0 {
            let mut st = self.conn.prepare_cached("SELECT k, v FROM kv").map_err(backend_err)?;
            let rows =
                st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))).map_err(backend_err)?;
            for row in rows {
                let (k, v) = row.map_err(backend_err)?;
                map.insert(k, v);
            }
        } else {
            let what = |part| format!("snapshot {} part {part}", self.gen);
            self.apply_rows(&mut map, "SELECT part, data FROM snapshot WHERE gen = ?1 ORDER BY part", self.gen, what)?;
        }
        let what = |seq| format!("journal row {seq}");
        self.apply_rows(&mut map, "SELECT seq, changes FROM journal WHERE seq > ?1 ORDER BY seq", self.after, what)?;
        Ok(map)
    }

    /// Applies to `map`, in order, the encoded changes of the rows `sql` selects with `param` as
    /// (number, changes); a damaged row is an error naming `what(number)`.
    fn apply_rows(
        &self,
        map: &mut BTreeMap<String, Vec<u8>>,
        sql: &str,
        param: i64,
        what: impl Fn(i64) -> String,
    ) -> Result<(), StoreError> {
        let mut st = self.conn.prepare_cached(sql).map_err(backend_err)?;
        let mut rows = st.query([param]).map_err(backend_err)?;
        while let Some(row) = rows.next().map_err(backend_err)? {
            let n: i64 = row.get(0).map_err(backend_err)?;
            let data = row.get_ref(1).map_err(backend_err)?.as_blob().map_err(|e| backend_err(e.into()))?;
            apply(map, data).map_err(|why| self.damaged(&what(n), why))?;
        }
        Ok(())
    }

    fn damaged(&self, what: &str, why: &str) -> StoreError {
        StoreError::Backend(format!(
            "the {what} of the database {} is damaged ({why}); move the data directory away and \
             `localplane snapshot import` your last snapshot",
            self.path.display()
        ))
    }

    /// How many bytes of the key space the next part may hold, if a snapshot part is due now:
    /// `idle` when no write is waiting, `live` the size of the key space. Starts a pass when the
    /// journal has outgrown the last snapshot.
    pub fn part_due(&mut self, idle: bool, live: u64) -> Option<usize> {
        let paused = self.no_pass_before.is_some_and(|t| Instant::now() < t);
        if self.pass.is_none() && !paused && self.journal_bytes > self.pass_threshold.max(live) {
            self.pass = Some(Pass {
                gen: self.gen + 1,
                after: self.next_seq - 1,
                part: 0,
                last_key: None,
                journal_bytes: 0,
                credit: 0,
            });
        }
        let pass = self.pass.as_ref()?;
        (idle || pass.credit >= PART_BYTES).then_some(PART_BYTES)
    }

    /// Gives up the pass under way and starts none for a while (a write failed: the disk may be
    /// full, and an idle thread would try again at once).
    pub fn pause_passes(&mut self) {
        self.pass = None;
        self.no_pass_before = Some(Instant::now() + PASS_PAUSE);
    }

    /// Whether a snapshot pass is under way (the log thread then writes parts while it is idle).
    pub fn in_pass(&self) -> bool {
        self.pass.is_some()
    }

    /// The next part of the pass under way from `map`: keys after the last part's, up to
    /// `budget` bytes.
    pub fn read_part(&self, map: &BTreeMap<String, Vec<u8>>, budget: usize) -> Part {
        let start = match self.pass.as_ref().and_then(|p| p.last_key.as_deref()) {
            Some(k) => Bound::Excluded(k),
            None => Bound::Unbounded,
        };
        let mut data = Vec::new();
        let mut last_key = None;
        let mut keys = map.range::<str, _>((start, Bound::Unbounded));
        let mut done = true;
        for (k, v) in keys.by_ref() {
            encode(&mut data, k, Some(v));
            last_key = Some(k.as_str());
            if data.len() >= budget {
                done = false;
                break;
            }
        }
        // The last key of the space ends the pass with this part.
        if !done && keys.next().is_none() {
            done = true;
        }
        Part { data, last_key: last_key.map(str::to_string), done }
    }

    /// Writes `changes` (journal rows of about [`ROW_BYTES`], if there are any) and `part` of the
    /// pass under way in one durable transaction. The part must have been read after every write it can show was
    /// handed to the log; those writes are in this call or an earlier one.
    pub fn commit<'a>(
        &mut self,
        changes: impl Iterator<Item = &'a Change>,
        part: Option<Part>,
    ) -> Result<(), StoreError> {
        run_cached(&self.conn, "BEGIN IMMEDIATE")?;
        let written = self.write(changes, part.as_ref());
        let written = written.and_then(|rows| run_cached(&self.conn, "COMMIT").map(|()| rows));
        let (rows, bytes) = match written {
            Ok(rows) => rows,
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                return Err(e);
            }
        };
        after_commit(&self.conn, &self.wal);
        // What the transaction wrote is on disk: move on.
        self.next_seq += rows;
        self.journal_bytes += bytes as u64;
        if let Some(pass) = &mut self.pass {
            pass.journal_bytes += bytes as u64;
            pass.credit = pass.credit.saturating_add(bytes * PART_CREDIT);
            if let Some(part) = part {
                pass.part += 1;
                pass.credit = pass.credit.saturating_sub(part.data.len());
                if part.last_key.is_some() {
                    pass.last_key = part.last_key;
                }
                if part.done {
                    self.gen = pass.gen;
                    self.after = pass.after;
                    self.journal_bytes = pass.journal_bytes;
                    self.pass = None;
                }
            }
        }
        Ok(())
    }

    /// Writes `changes` as journal rows of about [`ROW_BYTES`] each and `part`; how many rows and
    /// bytes.
    fn write<'a>(
        &self,
        changes: impl Iterator<Item = &'a Change>,
        part: Option<&Part>,
    ) -> Result<(i64, usize), StoreError> {
        let c = &self.conn;
        let (mut rows, mut bytes, mut row) = (0, 0, Vec::new());
        let mut changes = changes.peekable();
        while let Some((k, v)) = changes.next() {
            encode(&mut row, k, v.as_deref());
            if row.len() >= ROW_BYTES || changes.peek().is_none() {
                let mut st =
                    c.prepare_cached("INSERT INTO journal (seq, changes) VALUES (?1, ?2)").map_err(backend_err)?;
                st.execute(params![self.next_seq + rows, row]).map_err(backend_err)?;
                rows += 1;
                bytes += row.len();
                row.clear();
            }
        }
        let (Some(part), Some(pass)) = (part, &self.pass) else { return Ok((rows, bytes)) };
        if pass.part == 0 {
            // Parts left by a pass that a restart or a failed write interrupted.
            c.execute("DELETE FROM snapshot WHERE gen = ?1", [pass.gen]).map_err(backend_err)?;
        }
        let mut st =
            c.prepare_cached("INSERT INTO snapshot (gen, part, data) VALUES (?1, ?2, ?3)").map_err(backend_err)?;
        st.execute(params![pass.gen, pass.part, part.data]).map_err(backend_err)?;
        if part.done {
            c.execute("UPDATE snapshot_state SET gen = ?1, after = ?2 WHERE one = 1", [pass.gen, pass.after])
                .map_err(backend_err)?;
            c.execute("DELETE FROM snapshot WHERE gen <> ?1", [pass.gen]).map_err(backend_err)?;
            c.execute("DELETE FROM journal WHERE seq <= ?1", [pass.after]).map_err(backend_err)?;
            if self.gen == 0 {
                c.execute("DELETE FROM kv", []).map_err(backend_err)?;
            }
        }
        Ok((rows, bytes))
    }

    /// Where the database is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts passes when the journal outgrows `bytes` (tests: many passes over little data).
    #[cfg(test)]
    pub fn set_pass_threshold(&mut self, bytes: u64) {
        self.pass_threshold = bytes;
    }

    /// The last complete snapshot's number (0: the `kv` table of earlier versions).
    #[cfg(test)]
    pub fn snapshot_gen(&self) -> i64 {
        self.gen
    }

    /// The number of journal rows in the database.
    #[cfg(test)]
    fn journal_rows(&self) -> i64 {
        self.conn.query_row("SELECT COUNT(*) FROM journal", [], |r| r.get(0)).unwrap_or(-1)
    }
}

/// Appends one change: a tag byte (1 put, 0 delete), the key's length (u32 LE) and bytes, and for
/// a put the value's length and bytes.
fn encode(out: &mut Vec<u8>, key: &str, value: Option<&[u8]>) {
    out.push(u8::from(value.is_some()));
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(key.as_bytes());
    if let Some(v) = value {
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        out.extend_from_slice(v);
    }
}

/// Applies the changes encoded in `data` to `map`, in order.
fn apply(map: &mut BTreeMap<String, Vec<u8>>, mut data: &[u8]) -> Result<(), &'static str> {
    fn take<'a>(data: &mut &'a [u8], n: usize) -> Result<&'a [u8], &'static str> {
        if data.len() < n {
            return Err("a change runs past the end of its row");
        }
        let (head, rest) = data.split_at(n);
        *data = rest;
        Ok(head)
    }
    fn len(data: &mut &[u8]) -> Result<usize, &'static str> {
        let b = take(data, 4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }
    while !data.is_empty() {
        let tag = take(&mut data, 1)?[0];
        let n = len(&mut data)?;
        let key = std::str::from_utf8(take(&mut data, n)?).map_err(|_| "a key is not UTF-8")?.to_string();
        match tag {
            1 => {
                let n = len(&mut data)?;
                map.insert(key, take(&mut data, n)?.to_vec());
            }
            0 => {
                map.remove(&key);
            }
            _ => return Err("a change has an unknown kind"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("lp-journal-{name}-{}-{}", std::process::id(), uuid::Uuid::new_v4()))
    }

    fn put(k: &str, v: &str) -> Change {
        (k.to_string(), Some(v.as_bytes().to_vec()))
    }

    #[test]
    fn changes_decode_to_what_was_encoded_and_damage_is_an_error() {
        let mut data = Vec::new();
        encode(&mut data, "a", Some(b"1"));
        encode(&mut data, "b", Some(b""));
        encode(&mut data, "a", None);
        let mut map = BTreeMap::new();
        map.insert("c".to_string(), b"3".to_vec());
        apply(&mut map, &data).unwrap();
        assert_eq!(map.into_iter().collect::<Vec<_>>(), vec![("b".into(), vec![]), ("c".into(), b"3".to_vec())]);
        // Cut anywhere but between two changes, the row is refused.
        let between = [11, 21];
        for cut in (1..data.len()).filter(|c| !between.contains(c)) {
            assert!(apply(&mut BTreeMap::new(), &data[..cut]).is_err(), "cut at {cut}");
        }
        assert!(apply(&mut BTreeMap::new(), &[7, 0, 0, 0, 0]).is_err());
    }

    /// A pass whose parts are read between writes (some of them changing keys the pass has already
    /// written, some deleting keys it has not reached yet) reopens to the state of the last write,
    /// and drops the journal rows from before it began.
    #[test]
    fn a_snapshot_taken_between_writes_reopens_to_the_last_write() {
        let d = dir("pass");
        let (mut log, _) = Log::open(&d).unwrap();
        let mut mem = BTreeMap::new();
        let write = |log: &mut Log, mem: &mut BTreeMap<String, Vec<u8>>, changes: Vec<Change>, part: bool| {
            for (k, v) in &changes {
                match v {
                    Some(v) => mem.insert(k.clone(), v.clone()),
                    None => mem.remove(k),
                };
            }
            let part = part.then(|| log.read_part(mem, 40));
            log.commit(changes.iter(), part).unwrap();
        };
        for i in 0..20 {
            write(&mut log, &mut mem, vec![put(&format!("k{i:02}"), &format!("v{i}"))], false);
        }
        log.journal_bytes = MIN_JOURNAL_BYTES + 1; // as if the journal had grown that far
        assert_eq!(log.part_due(true, 0), Some(PART_BYTES));
        let mut step = 0;
        while log.in_pass() {
            let changes = match step {
                1 => vec![put("k00", "changed after its part")],
                2 => vec![(String::from("k19"), None), put("k05", "x")],
                3 => vec![put("k99", "new, past every part")],
                _ => vec![],
            };
            step += 1;
            write(&mut log, &mut mem, changes, true);
        }
        assert_eq!(log.snapshot_gen(), 1);
        assert!(step > 3, "the pass took several parts ({step})");
        assert!(log.journal_rows() < 20, "the rows before the pass are gone ({})", log.journal_rows());
        write(&mut log, &mut mem, vec![put("k01", "after the pass")], false);
        drop(log);
        let (_, reopened) = Log::open(&d).unwrap();
        assert_eq!(reopened, mem);
        let _ = std::fs::remove_dir_all(&d);
    }

    /// A group larger than a row is split over several rows of one transaction, in order.
    #[test]
    fn a_large_group_is_written_as_several_rows() {
        let d = dir("large");
        let (mut log, _) = Log::open(&d).unwrap();
        let big = "x".repeat(5 << 20);
        let changes = [put("a", &big), put("b", &big), ("a".to_string(), None), put("c", "small")];
        log.commit(changes.iter(), None).unwrap();
        assert_eq!(log.journal_rows(), 2);
        drop(log);
        let (_, reopened) = Log::open(&d).unwrap();
        assert_eq!(reopened.keys().collect::<Vec<_>>(), ["b", "c"]);
        assert_eq!(reopened["b"].len(), 5 << 20);
        let _ = std::fs::remove_dir_all(&d);
    }

    /// A pass cut short (the process killed after some of its parts) leaves the last complete
    /// snapshot in force; the next pass clears the parts it left.
    #[test]
    fn a_pass_cut_short_changes_nothing_and_the_next_one_clears_its_parts() {
        let d = dir("cut");
        let (mut log, _) = Log::open(&d).unwrap();
        let mut mem = BTreeMap::new();
        for i in 0..10 {
            let c = put(&format!("k{i}"), "v");
            mem.insert(c.0.clone(), c.1.clone().unwrap());
            log.commit([c].iter(), None).unwrap();
        }
        log.journal_bytes = MIN_JOURNAL_BYTES + 1;
        let budget = log.part_due(true, 0).unwrap().min(30);
        let part = log.read_part(&mem, budget);
        assert!(!part.done);
        log.commit(std::iter::empty(), Some(part)).unwrap();
        drop(log); // killed mid-pass
        let (mut log, reopened) = Log::open(&d).unwrap();
        assert_eq!(reopened, mem);
        assert_eq!(log.snapshot_gen(), 0);
        log.journal_bytes = MIN_JOURNAL_BYTES + 1;
        while log.part_due(true, 0).is_some() {
            let part = log.read_part(&mem, 30);
            log.commit(std::iter::empty(), Some(part)).unwrap();
        }
        let parts: i64 = log.conn.query_row("SELECT COUNT(*) FROM snapshot WHERE gen = 1", [], |r| r.get(0)).unwrap();
        // Ten keys of 12 encoded bytes, three to a part of 30: only the new pass's four are left.
        assert_eq!(parts, 4);
        drop(log);
        assert_eq!(Log::open(&d).unwrap().1, mem);
        let _ = std::fs::remove_dir_all(&d);
    }

    /// A database of an earlier version (its rows in `kv`) opens with them, and the first pass
    /// moves them into a snapshot.
    #[test]
    fn an_earlier_kv_database_opens_and_its_first_pass_replaces_the_table() {
        let d = dir("kv");
        std::fs::create_dir_all(&d).unwrap();
        {
            let c = Connection::open(d.join(super::super::sqlite::DB_FILE)).unwrap();
            c.execute_batch(
                "CREATE TABLE kv (k TEXT PRIMARY KEY NOT NULL, v BLOB NOT NULL) WITHOUT ROWID;
                 INSERT INTO kv VALUES ('old/1', x'01'), ('old/2', x'02'); PRAGMA user_version = 1;",
            )
            .unwrap();
        }
        let (mut log, map) = Log::open(&d).unwrap();
        assert_eq!(map.len(), 2);
        let mut mem = map;
        mem.remove("old/1");
        log.commit([("old/1".to_string(), None)].iter(), None).unwrap();
        log.journal_bytes = MIN_JOURNAL_BYTES + 1;
        while log.part_due(true, 0).is_some() {
            let part = log.read_part(&mem, PART_BYTES);
            log.commit(std::iter::empty(), Some(part)).unwrap();
        }
        let kv: i64 = log.conn.query_row("SELECT COUNT(*) FROM kv", [], |r| r.get(0)).unwrap();
        assert_eq!(kv, 0, "the pass emptied kv");
        drop(log);
        let (_, reopened) = Log::open(&d).unwrap();
        assert_eq!(reopened.into_iter().collect::<Vec<_>>(), vec![("old/2".to_string(), vec![2])]);
        let _ = std::fs::remove_dir_all(&d);
    }
}
