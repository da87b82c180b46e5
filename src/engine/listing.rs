//! The admin API's view of the operations: the listing (every unfinished operation and the newest
//! finished ones, found without reading the history) and the lookup by public id.

use super::{parse_ops_key, Engine, OperationView, OPS, SCHED_OF};
use crate::store::{StoreError, Tx};

impl Engine {
    /// The operations as the admin API shows them, oldest first: every unfinished one, and the
    /// newest finished ones up to `limit` in all. Reads the in-flight set and, per service, about
    /// `limit` entries of the operation index found by a search on creation time, so a call costs
    /// what it shows, not the history.
    pub async fn list_operations(&self, limit: usize) -> Result<Vec<OperationView>, StoreError> {
        let engine = self.clone();
        let services: Vec<&'static str> =
            self.inner.drivers.read().map(|d| d.keys().copied().collect()).unwrap_or_default();
        let now = self.now_ms();
        self.inner
            .store
            .read(move |tx| -> Result<Vec<OperationView>, StoreError> {
                let mut refs: std::collections::BTreeMap<(String, String), String> = Default::default();
                // limit 0: the unfinished ones only, without a look at the index.
                for service in if limit > 0 { services.as_slice() } else { &[] } {
                    let prefix = format!("{OPS}{service}/");
                    for key in newest_index_keys(tx, &prefix, limit, now)? {
                        if let Some((s, op)) = parse_ops_key(&key) {
                            refs.insert((s.to_string(), op.to_string()), key.clone());
                        }
                    }
                }
                for (key, _) in tx.scan(SCHED_OF, None, usize::MAX)? {
                    if let Some((s, op)) = key.strip_prefix(SCHED_OF).and_then(|r| r.split_once('/')) {
                        refs.entry((s.to_string(), op.to_string())).or_insert(key);
                    }
                }
                let mut out = Vec::new();
                let mut stuck = engine.stuck_operations();
                for ((service, op), key) in refs {
                    let Some(driver) = engine.driver(&service) else { continue };
                    let view = match driver.describe(tx, &op, now) {
                        Ok(view) => view,
                        // An operation whose record cannot be read is shown as such, not hidden,
                        // and does not hide the others.
                        Err(e) => Some(unreadable(&service, &op, &key, &e)),
                    };
                    if let Some(mut view) = view {
                        view.stuck = stuck.remove(&format!("{service}/{op}"));
                        out.push(view);
                    }
                }
                out.sort_by_key(|v| v.created_ms);
                // Past the limit, the oldest finished ones go; unfinished ones always show.
                let mut finished_over = out.len().saturating_sub(limit);
                out.retain(|v| {
                    if finished_over > 0 && v.terminal {
                        finished_over -= 1;
                        false
                    } else {
                        true
                    }
                });
                Ok(out)
            })
            .await
    }

    /// Finds the (service, operation reference) of the operation clients know as `public_id`.
    pub async fn find_operation(&self, public_id: &str) -> Result<Option<(String, String)>, StoreError> {
        let engine = self.clone();
        let public_id = public_id.to_string();
        self.inner
            .store
            .read(move |tx| -> Result<Option<(String, String)>, StoreError> {
                for (key, _) in tx.scan(OPS, None, usize::MAX)? {
                    let Some((service, op)) = parse_ops_key(&key) else { continue };
                    if op.rsplit('/').next() != public_id.rsplit('/').next() {
                        continue;
                    }
                    if let Some(driver) = engine.driver(service) {
                        if driver.describe(tx, op, engine.now_ms())?.is_some_and(|v| v.id == public_id) {
                            return Ok(Some((service.to_string(), op.to_string())));
                        }
                    }
                }
                Ok(None)
            })
            .await
    }
}

/// The view of an operation whose record cannot be read.
fn unreadable(service: &str, op: &str, key: &str, error: &StoreError) -> OperationView {
    let created_ms =
        key.strip_prefix(OPS).and_then(|r| r.split('/').nth(1)).and_then(|h| i64::from_str_radix(h, 16).ok());
    OperationView {
        service: service.to_string(),
        id: op.to_string(),
        operation_type: String::new(),
        account: None,
        acting_account: None,
        resource: String::new(),
        state: "UNREADABLE".to_string(),
        terminal: false,
        steps: Vec::new(),
        created_ms: created_ms.unwrap_or(0),
        ended_ms: None,
        error_code: Some(error.to_string()),
        stuck: None,
    }
}

/// The keys of about the newest `n` entries under `prefix` of the operation index (at most `n`;
/// fewer only when more than one entry shares the millisecond at the boundary), found by a binary
/// search on creation time: each probe reads at most `n + 1` keys, so a call reads O(n log T) keys
/// whatever the history holds. `now` is a first guess at the newest time.
fn newest_index_keys(tx: &mut dyn Tx, prefix: &str, n: usize, now: i64) -> Result<Vec<String>, StoreError> {
    let probe = n.saturating_add(1);
    let first = tx.scan(prefix, None, probe)?;
    if first.len() <= n {
        return Ok(first.into_iter().map(|(k, _)| k).collect());
    }
    let from = |t: i64| format!("{prefix}{:016x}", t.max(0));
    let time_of = |k: &str| k.get(prefix.len()..prefix.len() + 16).and_then(|h| i64::from_str_radix(h, 16).ok());
    // More than n entries are at or after `lo`; at most n are at or after `hi`.
    let mut lo = first.first().and_then(|(k, _)| time_of(k)).unwrap_or(0);
    let mut count_from = |t: i64| -> Result<usize, StoreError> { Ok(tx.scan(prefix, Some(&from(t)), probe)?.len()) };
    let mut hi = now.saturating_add(1).max(lo + 1);
    if count_from(hi)? > n {
        lo = hi;
        hi = i64::MAX / 2;
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if count_from(mid)? > n {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(tx.scan(prefix, Some(&from(hi)), n)?.into_iter().map(|(k, _)| k).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use std::sync::Arc;

    #[tokio::test]
    async fn the_newest_index_entries_are_found_without_reading_the_history() {
        let store = Store::new(Arc::new(crate::store::memory::Memory::new()));
        let found = store
            .write(|tx| -> Result<_, StoreError> {
                for t in 0..5_000i64 {
                    tx.put(&format!("ops/x/{t:016x}/op-{t}"), b"")?;
                }
                // Three share the newest millisecond; an entry of another service is not counted.
                tx.put(&format!("ops/x/{:016x}/op-5000b", 4_999), b"")?;
                tx.put(&format!("ops/x/{:016x}/op-5000c", 4_999), b"")?;
                tx.put(&format!("ops/y/{:016x}/other", 9_999), b"")?;
                let newest = newest_index_keys(tx, "ops/x/", 100, 5_000)?;
                let clock_behind = newest_index_keys(tx, "ops/x/", 100, 10)?;
                let small = newest_index_keys(tx, "ops/y/", 100, 0)?;
                let few = newest_index_keys(tx, "ops/x/", 2, 5_000)?;
                Ok((newest, clock_behind, small, few))
            })
            .await
            .unwrap();
        let (newest, clock_behind, small, few) = found;
        assert_eq!(newest.len(), 100);
        assert_eq!(newest.first().unwrap(), &format!("ops/x/{:016x}/op-4902", 4_902));
        assert_eq!(newest.last().unwrap(), &format!("ops/x/{:016x}/op-5000c", 4_999));
        assert_eq!(clock_behind, newest, "a clock behind the entries only costs more probes");
        assert_eq!(small, vec![format!("ops/y/{:016x}/other", 9_999)]);
        assert!(few.is_empty(), "three entries share the newest millisecond: none fits in two");
    }
}
