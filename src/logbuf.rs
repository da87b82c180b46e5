//! Log lines to stderr in batches. A request's log line is appended to a shared buffer (a lock and a
//! copy: no system call and no thread wake-up on the request's path); a background thread writes
//! the buffer out every few milliseconds. Nothing is dropped: a writer that finds the buffer over
//! its bound writes it out itself, and the guard writes out what is left when the server stops.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How often the background thread writes the buffer out.
const FLUSH_EVERY: Duration = Duration::from_millis(20);

/// Past this many buffered bytes, the logging thread writes them out itself.
const MAX_BUFFERED: usize = 1 << 20;

#[derive(Default)]
struct Shared {
    buf: Mutex<(Vec<u8>, bool)>,
    stop: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, (Vec<u8>, bool)> {
        self.buf.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn drain(&self) {
        let out = std::mem::take(&mut self.lock().0);
        if !out.is_empty() {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(&out);
            let _ = err.flush();
        }
    }
}

/// The `MakeWriter` handed to `tracing_subscriber`.
#[derive(Clone)]
pub struct BatchedStderr {
    shared: Arc<Shared>,
}

/// Stops the background thread and writes out what is buffered when dropped.
pub struct Guard {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A batched stderr writer and the guard that keeps it running.
pub fn stderr() -> (BatchedStderr, Guard) {
    let shared = Arc::new(Shared::default());
    let bg = shared.clone();
    let thread = std::thread::Builder::new()
        .name("localplane-log".into())
        .spawn(move || loop {
            let stopping = {
                let held = bg.lock();
                let (held, _) = bg.stop.wait_timeout(held, FLUSH_EVERY).unwrap_or_else(|p| p.into_inner());
                held.1
            };
            bg.drain();
            if stopping {
                break;
            }
        })
        .ok();
    (BatchedStderr { shared: shared.clone() }, Guard { shared, thread })
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.shared.lock().1 = true;
        self.shared.stop.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.shared.drain();
    }
}

impl Write for BatchedStderr {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let full = {
            let mut held = self.shared.lock();
            held.0.extend_from_slice(bytes);
            held.0.len() > MAX_BUFFERED
        };
        if full {
            self.shared.drain();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BatchedStderr {
    type Writer = BatchedStderr;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_reach_the_buffer_and_the_guard_drains_it() {
        let (mut w, guard) = stderr();
        w.write_all(b"localplane logbuf test line\n").unwrap();
        assert!(!guard.shared.lock().0.is_empty() || guard.thread.is_some());
        let shared = guard.shared.clone();
        drop(guard);
        assert!(shared.lock().0.is_empty(), "the guard wrote out what was buffered");
    }
}
