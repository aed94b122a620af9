//! Progress and cancellation shared between a running transfer and whoever waits on it.
//!
//! The engine only counts bytes and checks for cancellation; it never calls user code. The
//! waiting thread (the caller of a blocking C function, or a poller of a background transfer)
//! reads the counters and runs callbacks itself, so callbacks run on the caller's thread and
//! never after it returns.
//!
//! A batch of objects has one [`Progress`] for the whole batch and a child per object: the
//! engine moves each object with its child, whose bytes and total add up into the batch's, and
//! whose cancellation is the batch's.

use std::future::Future;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::runtime;

#[derive(Debug, Default)]
struct State {
    done: u64,
    total: Option<u64>,
    outcome: Option<Result<()>>,
    /// Threads waiting to report counter changes. Without any, a change wakes nobody: a
    /// thread waiting only for the end must not be woken for every chunk of every object.
    reporters: usize,
    /// Counts [`Progress::pulse`]s: each has the reporters report again, changes or not.
    pulses: u64,
}

/// Counters, outcome and cancellation flag of one transfer.
#[derive(Debug)]
pub struct Progress {
    state: Mutex<State>,
    changed: Condvar,
    cancel: Arc<watch::Sender<bool>>,
    /// The batch this object belongs to: its counters take this one's bytes and total.
    parent: Option<Arc<Progress>>,
}

impl Progress {
    pub fn new() -> Arc<Progress> {
        Arc::new(Progress {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            cancel: Arc::new(watch::Sender::new(false)),
            parent: None,
        })
    }

    /// The progress of one object of the batch `parent`, whose total already counts
    /// `expected` bytes for it (0 when its size is not known yet). The child's bytes count
    /// towards the batch; a total it announces replaces `expected` in the batch's total;
    /// cancelling the batch cancels it.
    pub fn child(parent: &Arc<Progress>, expected: u64) -> Arc<Progress> {
        Arc::new(Progress {
            state: Mutex::new(State {
                total: Some(expected),
                ..State::default()
            }),
            changed: Condvar::new(),
            cancel: parent.cancel.clone(),
            parent: Some(parent.clone()),
        })
    }

    /// Adds `bytes` to the total (a batch whose objects' sizes become known one by one).
    pub fn add_total(&self, bytes: u64) {
        if bytes > 0 {
            let mut state = self.lock();
            state.total = Some(state.total.unwrap_or(0) + bytes);
            self.changed_counters(state);
        }
    }

    /// Wakes the threads that report counter changes, if any.
    fn changed_counters(&self, state: MutexGuard<'_, State>) {
        let reporters = state.reporters;
        drop(state);
        if reporters > 0 {
            self.changed.notify_all();
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Announces the number of bytes this transfer will move.
    pub fn set_total(&self, total: u64) {
        let mut state = self.lock();
        let before = state.total.replace(total).unwrap_or(0);
        self.changed_counters(state);
        if let Some(parent) = &self.parent {
            if total != before {
                let mut state = parent.lock();
                let batch = state.total.unwrap_or(0);
                state.total = Some((batch + total).saturating_sub(before));
                parent.changed_counters(state);
            }
        }
    }

    /// Counts `bytes` more as moved.
    pub fn add(&self, bytes: u64) {
        if bytes > 0 {
            let mut state = self.lock();
            state.done += bytes;
            self.changed_counters(state);
            if let Some(parent) = &self.parent {
                parent.add(bytes);
            }
        }
    }

    /// Has the threads that report progress report it again, although nothing moved: a
    /// callback can cancel only when it is called, and a transfer that waits for a slow
    /// answer (a listing) calls this to give it the chance.
    pub fn pulse(&self) {
        let mut state = self.lock();
        state.pulses += 1;
        self.changed_counters(state);
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

    /// Waits until the transfer has finished, at most `timeout` (`None`: for as long as it
    /// takes); its outcome, or `None` if it is still running.
    pub fn wait_outcome(&self, timeout: Option<Duration>) -> Option<Result<()>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut state = self.lock();
        loop {
            if let Some(outcome) = &state.outcome {
                return Some(outcome.clone());
            }
            state = match deadline {
                None => self
                    .changed
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
                Some(deadline) => {
                    let left = deadline.checked_duration_since(Instant::now())?;
                    self.changed
                        .wait_timeout(state, left)
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .0
                }
            };
        }
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
        Transfer::spawn(work, None::<fn()>)
    }

    /// Starts `work` as [`Transfer::start`] does, and runs `release` (off the runtime's
    /// workers, so it may block) once the work has ended, however it ended, before the
    /// outcome is reported: a background transfer from borrowed memory gives the memory back
    /// there, so that no waiter sees the end while anything still holds it.
    pub fn start_then<W, F, R>(work: W, release: R) -> Result<Transfer>
    where
        W: FnOnce(Arc<Progress>) -> F,
        F: Future<Output = Result<()>> + Send + 'static,
        R: FnOnce() + Send + 'static,
    {
        Transfer::spawn(work, Some(release))
    }

    fn spawn<W, F, R>(work: W, release: Option<R>) -> Result<Transfer>
    where
        W: FnOnce(Arc<Progress>) -> F,
        F: Future<Output = Result<()>> + Send + 'static,
        R: FnOnce() + Send + 'static,
    {
        let runtime = runtime::runtime()?;
        let progress = Progress::new();
        // Boxed: the engine's futures are large, and spawning moves them.
        let task = runtime.spawn(Box::pin(work(progress.clone())));
        let reporter = progress.clone();
        // A second task observes the first, so that even a panic inside the work is reported.
        runtime.spawn(async move {
            let outcome = task.await.unwrap_or_else(|_| Err(runtime::task_died()));
            if let Some(release) = release {
                // An Err means `release` panicked, after which what it held is dropped anyway.
                let _released = tokio::task::spawn_blocking(release).await;
            }
            reporter.finish(outcome);
        });
        Ok(Transfer { progress })
    }

    pub fn progress(&self) -> &Arc<Progress> {
        &self.progress
    }

    /// Blocks until the transfer finishes, reporting nothing: without a callback to run, the
    /// waiting thread sleeps until the end instead of waking for every counter change.
    pub fn wait_quietly(self) -> Result<()> {
        self.progress
            .wait_outcome(None)
            .unwrap_or_else(|| Err(runtime::task_died()))
    }

    /// Blocks until the transfer finishes, calling `on_progress(done, total)` on this thread
    /// whenever the counters change or the transfer pulses. `on_progress` returning `false`
    /// cancels the transfer. On success the last call reports `done == total`.
    pub fn wait(self, mut on_progress: impl FnMut(u64, u64) -> bool) -> Result<()> {
        let progress = &self.progress;
        let mut reported: Option<(u64, u64)> = None;
        let mut pulses = 0;
        let mut cancelled = false;
        loop {
            let (snapshot, outcome) = {
                let mut state = progress.lock();
                state.reporters += 1;
                let seen = loop {
                    let snapshot = state.total.map(|t| (state.done.min(t), t));
                    let news = snapshot != reported || state.pulses != pulses;
                    if state.outcome.is_some() || (!cancelled && news) {
                        pulses = state.pulses;
                        break (snapshot, state.outcome.clone());
                    }
                    state = progress
                        .changed
                        .wait(state)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                };
                // Not counted while the callback runs: changes meanwhile are seen on return.
                state.reporters -= 1;
                seen
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
