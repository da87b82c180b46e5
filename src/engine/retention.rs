//! Operation retention: how long finished operations are kept, and the pass that drops the
//! expired ones from the oldest index entry on, never walking the history.

use super::{parse_ops_key, Engine, OPS, SCHED_OF};
use crate::store::{StoreError, Tx};
use std::sync::atomic::Ordering;

/// How long finished operations are kept when nothing says otherwise (`--operation-retention`).
pub const DEFAULT_OPERATION_RETENTION: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Parses `--operation-retention`: a duration such as `24h` or `30m`, or `forever` (`None`).
pub fn parse_retention(text: &str) -> Result<Option<std::time::Duration>, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("forever") {
        return Ok(None);
    }
    let d = humantime::parse_duration(t)
        .map_err(|e| format!("'{text}' is not a duration such as 24h or 30m, nor forever: {e}"))?;
    if d < std::time::Duration::from_secs(1) {
        return Err(format!("'{text}' is too short; keep finished operations at least 1s"));
    }
    Ok(Some(d))
}

/// How many index entries one retention pass reads per service.
const RETENTION_BATCH: usize = 512;

impl Engine {
    /// Sets how long finished operations are kept (`None`: forever).
    pub fn set_operation_retention(&self, retention: Option<std::time::Duration>) {
        let ms = retention.map_or(i64::MAX, |d| d.as_millis().min(i64::MAX as u128) as i64);
        self.inner.retention_ms.store(ms, Ordering::Relaxed);
    }

    /// Drops the finished operations created longer ago than the retention: reads the operation
    /// index from its oldest entry and stops at the first one young enough, so a pass costs what
    /// it drops (plus the few old operations still running), never a walk over the history.
    /// Returns how many went.
    pub async fn drop_expired_operations(&self) -> Result<usize, StoreError> {
        let retention = self.inner.retention_ms.load(Ordering::Relaxed);
        if retention == i64::MAX {
            return Ok(0);
        }
        let cutoff = self.now_ms().saturating_sub(retention);
        let services: Vec<&'static str> =
            self.inner.drivers.read().map(|d| d.keys().copied().collect()).unwrap_or_default();
        let mut dropped = 0;
        for service in services {
            loop {
                let engine = self.clone();
                let (n, more) = self
                    .inner
                    .store
                    .write(move |tx| -> Result<(usize, bool), StoreError> {
                        engine.drop_expired_batch(tx, service, cutoff)
                    })
                    .await?;
                dropped += n;
                if !more {
                    break;
                }
            }
        }
        Ok(dropped)
    }

    /// One batch of [`Engine::drop_expired_operations`] for `service`: (dropped, more may be due).
    fn drop_expired_batch(&self, tx: &mut dyn Tx, service: &str, cutoff: i64) -> Result<(usize, bool), StoreError> {
        let Some(driver) = self.driver(service) else { return Ok((0, false)) };
        let prefix = format!("{OPS}{service}/");
        let end = format!("{prefix}{:016x}/", cutoff.max(0));
        let rows = tx.scan(&prefix, None, RETENTION_BATCH)?;
        let full = rows.len() == RETENTION_BATCH;
        let mut dropped = 0;
        let mut young = false;
        for (key, _) in rows {
            if key >= end {
                young = true;
                break;
            }
            let Some((_, op)) = parse_ops_key(&key) else { continue };
            if tx.get(&format!("{SCHED_OF}{service}/{op}"))?.is_some() {
                // Still running: kept (and stepped over) until it finishes.
                continue;
            }
            if driver.forget(tx, op)? {
                tx.delete(&key)?;
                dropped += 1;
            }
        }
        // Another batch only when this one dropped something and did not reach young entries.
        Ok((dropped, full && !young && dropped > 0))
    }
}
