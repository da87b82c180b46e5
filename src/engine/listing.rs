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

    /// Finds the (service, operation reference) of the operation clients know as `public_id`:
    /// among the unfinished ones first (what an advance is for), then through the operation index
    /// a page at a time (a finished one: its view is shown as it is).
    pub async fn find_operation(&self, public_id: &str) -> Result<Option<(String, String)>, StoreError> {
        let engine = self.clone();
        let public_id = public_id.to_string();
        self.inner
            .store
            .read(move |tx| -> Result<Option<(String, String)>, StoreError> {
                let now = engine.now_ms();
                // The last segment of a reference is the last segment of the id (an ARN's too).
                let tail = public_id.rsplit('/').next().unwrap_or_default();
                let is_it = |tx: &mut dyn Tx, service: &str, op: &str| -> Result<bool, StoreError> {
                    if op.rsplit('/').next() != Some(tail) {
                        return Ok(false);
                    }
                    let Some(driver) = engine.driver(service) else { return Ok(false) };
                    Ok(driver.describe(tx, op, now)?.is_some_and(|v| v.id == public_id))
                };
                for prefix in [SCHED_OF, OPS] {
                    let mut after: Option<String> = None;
                    loop {
                        let page = tx.scan(prefix, after.as_deref(), FIND_PAGE)?;
                        for (key, _) in &page {
                            let found = if prefix == SCHED_OF {
                                key.strip_prefix(SCHED_OF).and_then(|r| r.split_once('/'))
                            } else {
                                parse_ops_key(key)
                            };
                            let Some((service, op)) = found else { continue };
                            if is_it(tx, service, op)? {
                                return Ok(Some((service.to_string(), op.to_string())));
                            }
                        }
                        if page.len() < FIND_PAGE {
                            break;
                        }
                        after = page.last().map(|(k, _)| k.clone());
                    }
                }
                Ok(None)
            })
            .await
    }
}

/// How many index keys the lookup by id holds at a time.
const FIND_PAGE: usize = 4_096;

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

    /// A driver whose operations all exist, each with its reference's last segment as its id.
    struct Named;

    impl super::super::OperationDriver for Named {
        fn advance(
            &self,
            _: &mut dyn Tx,
            _: &str,
            _: i64,
            _: &super::super::Timing,
        ) -> Result<super::super::StepOutcome, StoreError> {
            Ok(super::super::StepOutcome::Done)
        }
        fn describe(&self, _: &mut dyn Tx, op: &str, now: i64) -> Result<Option<OperationView>, StoreError> {
            Ok(Some(OperationView {
                service: "servicediscovery".into(),
                id: op.rsplit('/').next().unwrap_or_default().to_string(),
                operation_type: "REGISTER_INSTANCE".into(),
                account: None,
                acting_account: None,
                resource: String::new(),
                state: "SUCCESS".into(),
                terminal: true,
                steps: Vec::new(),
                created_ms: now,
                ended_ms: None,
                error_code: None,
                stuck: None,
            }))
        }
    }

    /// An unfinished operation is found in the in-flight set, a finished one past the first page
    /// of the index, and an unknown id is not found.
    #[tokio::test]
    async fn operations_are_found_by_id_among_the_unfinished_then_page_by_page() {
        let store = Store::new(Arc::new(crate::store::memory::Memory::new()));
        let clock = Arc::new(super::super::StoppedClock::at(1_000_000));
        let engine = Engine::new(store.clone(), clock, super::super::Timing::default());
        engine.register(crate::model::Service::ServiceDiscovery, Arc::new(Named));
        store
            .write(|tx| -> Result<(), StoreError> {
                for t in 0..(FIND_PAGE as i64 * 2 + 10) {
                    tx.put(&format!("ops/servicediscovery/{t:016x}/a/r/op-{t}"), b"")?;
                }
                tx.put("schedof/servicediscovery/a/r/op-running", b"")
            })
            .await
            .unwrap();
        let last = format!("op-{}", FIND_PAGE * 2 + 9);
        for (id, found) in [("op-running", true), ("op-3", true), (last.as_str(), true), ("op-none", false)] {
            let got = engine.find_operation(id).await.unwrap();
            assert_eq!(got, found.then(|| ("servicediscovery".to_string(), format!("a/r/{id}"))), "{id}");
        }
    }
}
