//! `GET /_localplane/events`: server-sent events. On connecting, and then whenever the store's
//! change feed moves (debounced), the stream re-reads and sends each part that changed:
//! `operations`, `resources`, `settings` (each `data:` one JSON document). Writes of other replicas
//! sharing the store do not move this replica's feed: a re-read every [`RESCAN`] shows them. A
//! comment line keeps idle connections open through proxies; the stream ends when the server stops.

use super::{operations, resource_tree, settings};
use crate::app::App;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Response};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{sleep, Instant};

/// How long after a change the stream re-reads (a burst of writes is one re-read).
const DEBOUNCE: Duration = Duration::from_millis(100);

/// How often the stream re-reads without a change of its own replica (other replicas' writes).
const RESCAN: Duration = Duration::from_secs(5);

/// How long the stream stays silent before it sends a keep-alive comment.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

struct Stream {
    app: Arc<App>,
    changes: tokio::sync::watch::Receiver<u64>,
    closing: tokio::sync::watch::Receiver<bool>,
    /// The last document sent of each part (`operations`, `resources`, `settings`).
    sent: [Option<String>; 3],
    last_sent: Instant,
    first: bool,
}

impl Stream {
    /// The events of the parts that changed since they were last sent (empty when none did).
    async fn changed_parts(&mut self) -> String {
        let app = self.app.as_ref();
        let parts: [(&str, Result<Value, crate::store::StoreError>); 3] = [
            ("operations", operations(app).await),
            ("resources", resource_tree(app).await),
            ("settings", settings(app).await),
        ];
        let mut out = String::new();
        for (i, (name, doc)) in parts.into_iter().enumerate() {
            match doc {
                Ok(doc) => {
                    let text = doc.to_string();
                    if self.sent[i].as_deref() != Some(text.as_str()) {
                        out.push_str(&format!("event: {name}\ndata: {text}\n\n"));
                        self.sent[i] = Some(text);
                    }
                }
                Err(e) => {
                    let message = format!("reading the {name} failed: {e}; the console retries on the next change");
                    out.push_str(&format!("event: problem\ndata: {}\n\n", json!({ "message": message })));
                }
            }
        }
        out
    }

    /// The next chunk of the stream, or None once the server stops or the feed is gone.
    async fn next(&mut self) -> Option<String> {
        if self.first {
            self.first = false;
            self.changes.borrow_and_update();
            let parts = self.changed_parts().await;
            self.last_sent = Instant::now();
            return Some(format!("retry: 2000\n\n{parts}"));
        }
        loop {
            if *self.closing.borrow() {
                return None;
            }
            let rescan_at = Instant::now() + RESCAN;
            tokio::select! {
                moved = self.changes.changed() => {
                    moved.ok()?;
                    sleep(DEBOUNCE).await;
                    self.changes.borrow_and_update();
                }
                _ = tokio::time::sleep_until(rescan_at) => {}
                _ = self.closing.changed() => return None,
            }
            let parts = self.changed_parts().await;
            if !parts.is_empty() {
                self.last_sent = Instant::now();
                return Some(parts);
            }
            if self.last_sent.elapsed() >= KEEP_ALIVE {
                self.last_sent = Instant::now();
                return Some(": keep-alive\n\n".to_string());
            }
        }
    }
}

/// `GET /_localplane/events`.
pub async fn events(app: &Arc<App>) -> Response<Body> {
    let stream = Stream {
        changes: app.engine.store().changes(),
        closing: app.console.closing(),
        app: app.clone(),
        sent: [None, None, None],
        last_sent: Instant::now(),
        first: true,
    };
    let body = futures_util::stream::unfold(stream, |mut s| async move {
        let chunk = s.next().await?;
        Some((Ok::<Bytes, Infallible>(Bytes::from(chunk)), s))
    });
    let mut resp = Response::new(Body::from_stream(body));
    let headers = resp.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("text/event-stream"));
    headers.insert("cache-control", HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn next_chunk(body: &mut Body) -> Option<String> {
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame()).await.expect("the stream answers")?;
        Some(String::from_utf8(frame.ok()?.into_data().ok()?.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn the_stream_sends_what_changed_when_the_feed_moves_and_ends_when_the_server_stops() {
        let app = App::in_memory(crate::engine::Timing::default()).unwrap();
        let mut body = events(&app).await.into_body();
        let first = next_chunk(&mut body).await.unwrap();
        assert!(first.starts_with("retry: 2000\n\n"), "{first}");
        for part in ["operations", "resources", "settings"] {
            assert!(first.contains(&format!("event: {part}\ndata: {{")), "{part} in {first}");
        }
        let rule = serde_json::from_value(json!({"service": "servicediscovery", "operationType": "CREATE_NAMESPACE",
            "errorCode": "CANNOT_CREATE_HOSTED_ZONE"}))
        .unwrap();
        app.engine.add_fault(rule).await.unwrap();
        let next = next_chunk(&mut body).await.unwrap();
        assert!(next.starts_with("event: settings\n") && next.contains("CANNOT_CREATE_HOSTED_ZONE"), "{next}");
        assert!(!next.contains("event: operations"), "an unchanged part is not sent again: {next}");
        app.console.close();
        assert_eq!(next_chunk(&mut body).await, None, "the stream ends when the server stops");
    }
}
