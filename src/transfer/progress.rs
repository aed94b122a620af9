//! Progress and cancellation shared between a running transfer and whoever waits on it.
//!
//! The engine only counts bytes and checks for cancellation; it never calls user code. The
//! waiting thread (the caller of a blocking C function, later a poller) reads the counters and
//! runs callbacks itself, so callbacks run on the caller's thread and never after it returns.

use std::future::Future;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::runtime;

#[derive(Debug, Default)]
struct State {
    done: u64,
    total: Option<u64>,
    outcome: Option<Result<()>>,
}

/// Counters, outcome and cancellation flag of one transfer.
#[derive(Debug)]
pub struct Progress {
    state: Mutex<State>,
    changed: Condvar,
    cancel: watch::Sender<bool>,
}

impl Progress {
    pub fn new() -> Arc<Progress> {
        Arc::new(Progress {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            cancel: watch::Sender::new(false),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Announces the number of bytes this transfer will move.
    pub fn set_total(&self, total: u64) {
        self.lock().total = Some(total);
        self.changed.notify_all();
    }

    /// Counts `bytes` more as moved.
    pub fn add(&self, bytes: u64) {
        if bytes > 0 {
            self.lock().done += bytes;
            self.changed.notify_all();
        }
    }

    /// `(bytes_done, bytes_total)` once the total is known.
    pub fn snapshot(&self) -> Option<(u64, u64)> {
        let state = self.lock();
        state.total.map(|total| (state.done.min(total), total))
    }

    /// Asks the transfer to stop; it cleans up and finishes with [`ErrorKind::Cancelled`].
    pub fn cancel(&self) {
        self.cancel.send_replace(true);
    }

    pub fn is_cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    /// Resolves once [`Progress::cancel`] has been called.
    pub async fn cancelled(&self) {
        let mut rx = self.cancel.subscribe();
        let _ = rx.wait_for(|cancelled| *cancelled).await;
    }

    /// Fails with [`ErrorKind::Cancelled`] if cancellation was requested.
    pub fn check(&self, what: &str) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::cancelled(what))
        } else {
            Ok(())
        }
    }

    fn finish(&self, outcome: Result<()>) {
        self.lock().outcome = Some(outcome);
        self.changed.notify_all();
    }

    /// Whether the transfer has finished, and how.
    pub fn outcome(&self) -> Option<Result<()>> {
        self.lock().outcome.clone()
    }
}

/// A transfer running on the shared runtime.
pub struct Transfer {
    progress: Arc<Progress>,
}

impl Transfer {
    /// Starts `work` (given the transfer's [`Progress`]) on the shared runtime.
    pub fn start<W, F>(work: W) -> Result<Transfer>
    where
        W: FnOnce(Arc<Progress>) -> F,
        F: Future<Output = Result<()>> + Send + 'static,
    {
        let runtime = runtime::runtime()?;
        let progress = Progress::new();
        let task = runtime.spawn(work(progress.clone()));
        let reporter = progress.clone();
        // A second task observes the first, so that even a panic inside the work is reported.
        runtime.spawn(async move {
            let outcome = task.await.unwrap_or_else(|_| Err(runtime::task_died()));
            reporter.finish(outcome);
        });
        Ok(Transfer { progress })
    }

    pub fn progress(&self) -> &Arc<Progress> {
        &self.progress
    }

    /// Blocks until the transfer finishes, calling `on_progress(done, total)` on this thread
    /// whenever the counters change. `on_progress` returning `false` cancels the transfer.
    /// On success the last call reports `done == total`.
    pub fn wait(self, mut on_progress: impl FnMut(u64, u64) -> bool) -> Result<()> {
        let progress = &self.progress;
        let mut reported: Option<(u64, u64)> = None;
        let mut cancelled = false;
        loop {
            let (snapshot, outcome) = {
                let mut state = progress.lock();
                loop {
                    let snapshot = state.total.map(|t| (state.done.min(t), t));
                    if state.outcome.is_some() || (!cancelled && snapshot != reported) {
                        break (snapshot, state.outcome.clone());
                    }
                    state = progress
                        .changed
                        .wait(state)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
            };
            match outcome {
                Some(Ok(())) => {
                    let total = snapshot.map_or(0, |(_, total)| total);
                    if !cancelled && reported != Some((total, total)) {
                        on_progress(total, total);
                    }
                    return Ok(());
                }
                Some(Err(err)) => return Err(err),
                None => {
                    if let Some((done, total)) = snapshot {
                        reported = snapshot;
                        if !on_progress(done, total) {
                            cancelled = true;
                            progress.cancel();
                        }
                    }
                }
            }
        }
    }
}
