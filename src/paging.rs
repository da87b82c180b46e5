//! Pagination over an ordered store prefix, as every list operation pages: the next token is the
//! last key returned (base64url), a page reads one row past its end to know whether more follow,
//! and rows past the page are never decoded.

use crate::store::{StoreError, Tx};
use base64::Engine as _;

/// How many rows a page reads at most in one scan while it filters.
const SCAN_BATCH: usize = 256;

/// A next token that is not one this server issued for the list being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadToken {
    /// Not a token at all.
    Unreadable,
    /// A token of another list (its key lies outside the list's prefix).
    OtherList,
}

/// The token that continues after `key`.
pub fn token_after(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key)
}

/// The key a token continues after; it must lie under `prefix`.
pub fn key_of(token: &str, prefix: &str) -> Result<String, BadToken> {
    let key = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(BadToken::Unreadable)?;
    if !key.starts_with(prefix) {
        return Err(BadToken::OtherList);
    }
    Ok(key)
}

/// The page size a request asks for: `max` at least 1 (and at most `limit`), `default` when absent.
pub fn page_size(max: Option<i32>, default: usize, limit: usize) -> usize {
    max.map_or(default, |m| (m.max(1) as usize).min(limit))
}

/// One page of the rows under `prefix` that follow the key `after`: `keep` turns a row (key,
/// value) into an item or skips it (`None`: filtered out or gone); at most `max` items. The next
/// token comes back only when another kept row would follow.
pub fn page<T, E: From<StoreError>>(
    tx: &mut dyn Tx,
    prefix: &str,
    after: Option<String>,
    max: usize,
    mut keep: impl FnMut(&mut dyn Tx, &str, &[u8]) -> Result<Option<T>, E>,
) -> Result<(Vec<T>, Option<String>), E> {
    let mut after = after;
    let mut out = Vec::new();
    // One row past a full page is enough to know there is a next page when nothing is filtered out.
    let batch = (max + 1).min(SCAN_BATCH);
    loop {
        let rows = tx.scan(prefix, after.as_deref(), batch)?;
        let exhausted = rows.len() < batch;
        for (k, v) in rows {
            if let Some(item) = keep(tx, &k, &v)? {
                if out.len() == max {
                    return Ok((out, after.map(|a| token_after(&a))));
                }
                out.push(item);
            }
            after = Some(k);
        }
        if exhausted {
            return Ok((out, None));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{memory::Memory, Store};
    use std::sync::Arc;

    #[tokio::test]
    async fn pages_follow_each_other_and_skip_what_is_filtered() {
        let store = Store::new(Arc::new(Memory::new()));
        store
            .write(|tx| -> Result<(), StoreError> {
                for i in 0..10 {
                    tx.put(&format!("p/{i:02}"), i.to_string().as_bytes())?;
                }
                tx.put("q/00", b"other")
            })
            .await
            .unwrap();
        let (first, next, second) = store
            .read(|tx| -> Result<_, StoreError> {
                let even = |_: &mut dyn Tx, _: &str, v: &[u8]| -> Result<Option<u8>, StoreError> {
                    let n: u8 = String::from_utf8_lossy(v).parse().unwrap();
                    Ok(n.is_multiple_of(2).then_some(n))
                };
                let (first, next) = page(tx, "p/", None, 3, even)?;
                let after = key_of(next.as_deref().unwrap(), "p/").unwrap();
                let (second, last) = page(tx, "p/", Some(after), 3, even)?;
                assert_eq!(last, None);
                Ok((first, next, second))
            })
            .await
            .unwrap();
        assert_eq!(first, [0, 2, 4]);
        assert!(next.is_some());
        assert_eq!(second, [6, 8]);
        assert_eq!(key_of(&token_after("q/00"), "p/"), Err(BadToken::OtherList));
        assert_eq!(key_of("%%", "p/"), Err(BadToken::Unreadable));
        assert_eq!(page_size(Some(0), 100, 100), 1);
        assert_eq!(page_size(None, 20, 100), 20);
        assert_eq!(page_size(Some(500), 100, 100), 100);
    }
}
