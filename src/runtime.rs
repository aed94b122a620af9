//! The one tokio runtime every store shares, created lazily and recreated in a forked child.
//!
//! tokio is not fork-safe: after `fork()` the child has the parent's runtime structures but
//! none of its threads. The runtime is therefore tagged with the pid that built it; a different
//! pid builds a fresh runtime and leaks the inherited one (dropping it would wait for threads
//! that do not exist in the child).

use std::future::Future;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{mpsc, Arc};

use tokio::runtime::{Builder, Runtime};

use crate::error::{Error, ErrorKind, Result};

/// A runtime and the process that built it. Never freed: a child must not drop (or wait for)
/// its parent's runtime, and readers hold no lock, so a pointer once published stays valid.
struct Owned {
    pid: u32,
    runtime: Arc<Runtime>,
    /// The runtime inherited from the parent, kept reachable so that it is not a leak.
    _inherited: *mut Owned,
}

/// Lock-free on purpose: a mutex held by another thread at `fork()` would stay locked forever
/// in the child, and the child's first s3os call would hang.
static CURRENT: AtomicPtr<Owned> = AtomicPtr::new(std::ptr::null_mut());

/// Worker threads: network transfers need few; leave cores for the trainer.
fn worker_threads() -> usize {
    if let Some(n) = std::env::var("S3OS_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| (1..=64).contains(n))
    {
        return n;
    }
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8))
}

/// Blocks SIGPIPE in the calling thread (each of the runtime's threads). A write to a
/// connection the server has closed raises SIGPIPE in the thread that wrote, and with the
/// default disposition, which C programs have, that kills the whole process instead of failing
/// the write with EPIPE. A signal raised by a write is directed at that thread, so blocking it
/// in s3os's own threads leaves the host's signal handling as it was; the signal stays pending
/// in the thread, harmlessly.
fn block_sigpipe() {
    // SAFETY: a local signal set, initialised by sigemptyset before use; pthread_sigmask only
    // changes the calling thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// The runtime for this process, building it on first use (or first use after a fork).
pub fn runtime() -> Result<Arc<Runtime>> {
    let pid = std::process::id();
    loop {
        let current = CURRENT.load(Ordering::Acquire);
        // SAFETY: published pointers come from Box::into_raw below and are never freed.
        if let Some(owned) = unsafe { current.as_ref() } {
            if owned.pid == pid {
                return Ok(owned.runtime.clone());
            }
        }
        let runtime = Builder::new_multi_thread()
            .worker_threads(worker_threads())
            .thread_name("s3os-worker")
            .on_thread_start(block_sigpipe)
            // File reads and writes run here; more threads than this only add contention.
            .max_blocking_threads(16)
            .enable_all()
            .build()
            .map_err(|e| {
                Error::new(
                    ErrorKind::Internal,
                    format!("starting the s3os runtime: {e}"),
                )
            })?;
        let fresh = Box::into_raw(Box::new(Owned {
            pid,
            runtime: Arc::new(runtime),
            _inherited: current,
        }));
        if CURRENT
            .compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // Another thread published first; use theirs. Ours never ran a task, so it can go.
            // SAFETY: `fresh` was never published, so this is its only owner.
            drop(unsafe { Box::from_raw(fresh) });
        }
    }
}

/// Runs `future` on the shared runtime and blocks the calling thread until it finishes.
///
/// The caller's thread only waits on a channel, so it may itself be called from a callback
/// that s3os is running on that thread without deadlocking.
pub fn block_on<F, T>(future: F) -> Result<T>
where
    F: Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let (tx, rx) = mpsc::sync_channel(1);
    runtime()?.spawn(async move {
        let _ = tx.send(future.await);
    });
    rx.recv().unwrap_or_else(|_| Err(task_died()))
}

/// The error for a task that ended without an answer, which only a panic inside it causes.
pub fn task_died() -> Error {
    Error::new(
        ErrorKind::Internal,
        "an s3os task stopped unexpectedly (internal panic); please report this",
    )
}
