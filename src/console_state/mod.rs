//! What the web console keeps between requests on one server: when it saw operations' steps move
//! (operation records keep a step's state, not its times) and the signal that ends its event
//! streams when the server stops. The `App` holds it; `admin`'s console endpoints use it.

pub mod step_times;

use std::sync::Mutex;
use step_times::StepTimes;

/// The console's state on one server: what it saw of the steps of operations, and the signal that
/// ends the event streams when the server stops.
pub struct Console {
    step_times: Mutex<StepTimes>,
    closing: tokio::sync::watch::Sender<bool>,
}

impl Default for Console {
    fn default() -> Self {
        Console { step_times: Mutex::default(), closing: tokio::sync::watch::channel(false).0 }
    }
}

impl Console {
    /// Ends every event stream (the server is stopping: a stream would hold its connection open).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// What ends the event streams: true once the server is stopping.
    pub fn closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// The step times seen so far (held while the console's answer is assembled).
    pub fn step_times(&self) -> std::sync::LockResult<std::sync::MutexGuard<'_, StepTimes>> {
        self.step_times.lock()
    }
}
