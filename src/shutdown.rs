//! Cooperative shutdown: `serve` holds a [`Stop`], every background task (the scheduler, the health
//! prober) holds a [`Shutdown`] it checks between passes, and `serve` waits for them to return.

use tokio::sync::watch;

/// The sending side: tells every [`Shutdown`] made from it that the server is stopping.
pub struct Stop {
    tx: watch::Sender<bool>,
}

/// The receiving side a background task holds.
#[derive(Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

impl Stop {
    /// A new, not yet stopped signal.
    pub fn new() -> Stop {
        Stop { tx: watch::channel(false).0 }
    }

    /// A receiver for one more task.
    pub fn subscribe(&self) -> Shutdown {
        Shutdown { rx: self.tx.subscribe() }
    }

    /// Tells every task to stop.
    pub fn stop(&self) {
        self.tx.send_replace(true);
    }
}

impl Default for Stop {
    fn default() -> Self {
        Stop::new()
    }
}

impl Shutdown {
    /// A receiver that never fires (tasks run for as long as the process, as in tests).
    pub fn never() -> Shutdown {
        let (tx, rx) = watch::channel(false);
        // The sender is kept alive for the process so `recv` waits forever instead of returning.
        std::mem::forget(tx);
        Shutdown { rx }
    }

    /// Whether the stop has been signalled.
    pub fn is_stopped(&self) -> bool {
        *self.rx.borrow()
    }

    /// Waits until the stop is signalled (or its sender is gone).
    pub async fn recv(&mut self) {
        let _ = self.rx.wait_for(|stopped| *stopped).await;
    }
}
