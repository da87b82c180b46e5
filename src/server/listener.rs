//! The HTTP/1.1 listener: serves each connection with hyper, keeps a registry of the open ones, and
//! at the connection limit makes room by closing idle keep-alive connections (the longest idle
//! first) rather than making new clients wait; on shutdown it stops accepting and gives in-flight
//! requests a bounded time to finish.

use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Connection and request limits of the HTTP listener.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once; at the limit, idle connections are closed to make room, and
    /// only when every connection is busy do new ones wait in the accept queue.
    pub max_connections: usize,
    /// Time a client has to send its request headers.
    pub header_read_timeout: std::time::Duration,
    /// The same while three quarters of the connections are in use: slow heads do not hold slots.
    pub header_read_timeout_under_pressure: std::time::Duration,
    /// The largest request head (request line + headers) hyper reads; the front end answers heads
    /// above its own, smaller limit with an AWS-shaped 431.
    pub max_header_bytes: usize,
}

/// The connection limit when nothing else is configured.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_read_timeout: Duration::from_secs(10),
            header_read_timeout_under_pressure: Duration::from_secs(2),
            max_header_bytes: 2 * super::MAX_HEADER_BYTES,
        }
    }
}

/// How long an evicted connection that stays idle may take to close before it is dropped.
const EVICTION_GRACE: Duration = Duration::from_secs(1);

/// One open connection, as the accept loop sees it.
struct Tracked {
    /// Requests being answered on it.
    in_flight: AtomicUsize,
    /// When it last finished a request (or opened), in milliseconds since the listener started.
    idle_since_ms: AtomicU64,
    /// Asked to close to make room.
    evicted: AtomicBool,
    /// Wakes the connection's task to close it.
    evict: tokio::sync::Notify,
}

/// The open connections.
#[derive(Default)]
struct Registry {
    open: Mutex<HashMap<u64, Arc<Tracked>>>,
    /// Signalled when a connection ends.
    freed: tokio::sync::Notify,
}

impl Registry {
    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Tracked>>> {
        self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Connections not asked to close.
    fn live(&self) -> usize {
        self.open().values().filter(|t| !t.evicted.load(Ordering::Relaxed)).count()
    }

    /// Asks the longest-idle connection to close; false when every connection is busy.
    fn evict_one_idle(&self) -> bool {
        let open = self.open();
        let idle = open
            .values()
            .filter(|t| !t.evicted.load(Ordering::Relaxed) && t.in_flight.load(Ordering::Acquire) == 0)
            .min_by_key(|t| t.idle_since_ms.load(Ordering::Relaxed));
        match idle {
            Some(t) => {
                t.evicted.store(true, Ordering::Relaxed);
                t.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Marks a request in flight on its connection for as long as it lives.
struct Busy {
    tracked: Arc<Tracked>,
    started: Instant,
}

impl Busy {
    fn start(tracked: &Arc<Tracked>, started: Instant) -> Busy {
        tracked.in_flight.fetch_add(1, Ordering::AcqRel);
        Busy { tracked: tracked.clone(), started }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.tracked.idle_since_ms.store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
        self.tracked.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Serves HTTP/1.1 on `listener` until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve_http(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let max = limits.max_connections.max(1);
    let started = Instant::now();
    let registry = Arc::new(Registry::default());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let builder = |head_timeout: Duration| {
        let mut b = hyper::server::conn::http1::Builder::new();
        b.timer(TokioTimer::new())
            .header_read_timeout(head_timeout)
            .max_buf_size(limits.max_header_bytes.max(8192))
            .keep_alive(true);
        b
    };
    let relaxed = builder(limits.header_read_timeout);
    let pressed = builder(limits.header_read_timeout_under_pressure);
    let mut next_id = 0u64;
    tokio::pin!(shutdown);
    'accepting: loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Running out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // At the limit, an idle connection makes room; when all are busy, the new one waits.
        while registry.live() >= max && !registry.evict_one_idle() {
            tokio::select! {
                _ = registry.freed.notified() => {}
                _ = &mut shutdown => break 'accepting,
            }
        }
        let under_pressure = registry.live() * 4 >= max * 3;
        let _ = stream.set_nodelay(true);
        let tracked = Arc::new(Tracked {
            in_flight: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(started.elapsed().as_millis() as u64),
            evicted: AtomicBool::new(false),
            evict: tokio::sync::Notify::new(),
        });
        next_id += 1;
        let id = next_id;
        registry.open().insert(id, tracked.clone());
        let inner = hyper_util::service::TowerToHyperService::new(router.clone());
        let counted = tracked.clone();
        let service = hyper::service::service_fn(move |req| {
            let busy = Busy::start(&counted, started);
            let answer = hyper::service::Service::call(&inner, req);
            async move {
                let response = answer.await;
                drop(busy);
                response
            }
        });
        let conn = if under_pressure { &pressed } else { &relaxed }.serve_connection(TokioIo::new(stream), service);
        let registry = registry.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            tokio::pin!(conn);
            let mut closing = false;
            let mut grace: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
            loop {
                tokio::select! {
                    ended = conn.as_mut() => {
                        if let Err(e) = ended {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                        break;
                    }
                    _ = tracked.evict.notified(), if !closing => {
                        conn.as_mut().graceful_shutdown();
                        closing = true;
                        grace = Some(Box::pin(tokio::time::sleep(EVICTION_GRACE)));
                    }
                    _ = stop.changed(), if !closing => {
                        conn.as_mut().graceful_shutdown();
                        closing = true;
                    }
                    _ = async { grace.as_mut().expect("guarded by is_some").await }, if grace.is_some() => {
                        // A client dribbling its head does not get to keep the slot; a request
                        // that is being answered does.
                        if tracked.in_flight.load(Ordering::Acquire) == 0 {
                            break;
                        }
                        grace = Some(Box::pin(tokio::time::sleep(EVICTION_GRACE)));
                    }
                }
            }
            registry.open().remove(&id);
            registry.freed.notify_one();
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // In-flight requests get a bounded time to finish.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !registry.open().is_empty() {
        if Instant::now() >= deadline {
            tracing::warn!("some connections were still open 30 s after shutdown began");
            break;
        }
        let _ = tokio::time::timeout(Duration::from_millis(100), registry.freed.notified()).await;
    }
    Ok(())
}
