//! Splitting an object into parts and running a bounded number of them at once.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use super::progress::Progress;
use crate::config::MAX_PARTS;
use crate::error::{Error, Result};
use crate::runtime;

/// How an object of `len` bytes is cut: `count` parts of `part_size` bytes, the last one shorter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartPlan {
    pub len: u64,
    pub part_size: u64,
    pub count: u64,
}

impl PartPlan {
    /// Uses `part_size` unless that would need more than S3's 10,000 parts.
    pub fn new(len: u64, part_size: u64) -> PartPlan {
        let part_size = part_size.max(len.div_ceil(MAX_PARTS)).max(1);
        PartPlan {
            len,
            part_size,
            count: len.div_ceil(part_size),
        }
    }

    /// Offset and length of part `index` (0-based).
    pub fn part(&self, index: u64) -> (u64, u64) {
        let offset = index * self.part_size;
        (offset, self.part_size.min(self.len - offset))
    }
}

/// What becomes of the parts in flight when another one fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InFlight {
    /// Dropped at once: nothing they started outlives them (ranged GETs).
    Drop,
    /// Allowed to finish; once the transfer is cancelled, for at most [`CANCEL_GRACE`]. A
    /// request that was dropped may still be carried out by the server afterwards: an
    /// UploadPart stored after the multipart upload was aborted would stay on the server.
    Finish,
}

/// How long parts already on their way may still take after a cancellation: long enough for a
/// part whose bytes were all sent to be answered, short enough for cancelling to stay prompt.
pub const CANCEL_GRACE: Duration = Duration::from_secs(2);

/// Runs `work(index)` for every index below `count`, at most `concurrency` at a time. Stops at
/// the first error (starting no more parts; those in flight as `in_flight` says) or at
/// cancellation; returns only once no part is running any more.
pub async fn run_all<W, F>(
    count: u64,
    concurrency: usize,
    progress: &Progress,
    what: &str,
    in_flight: InFlight,
    work: W,
) -> Result<()>
where
    W: Fn(u64) -> F + Send + Sync + 'static,
    F: Future<Output = Result<()>> + Send + 'static,
{
    if count == 1 && in_flight == InFlight::Drop {
        // One part (a small object): run here, without a task of its own, which would cost
        // more than the part for small objects. Cancelling drops it, as it would a task.
        return tokio::select! {
            biased;
            () = progress.cancelled() => Err(Error::cancelled(what)),
            done = work(0) => done,
        };
    }
    let work = Arc::new(work);
    let next = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = JoinSet::new();
    for _ in 0..(concurrency as u64).min(count) {
        let work = work.clone();
        let next = next.clone();
        let stop = stop.clone();
        workers.spawn(async move {
            loop {
                if stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= count {
                    return Ok(());
                }
                // Boxed: a part's future is large, and the worker's would carry it inline.
                Box::pin(work(index)).await?;
            }
        });
    }
    let outcome = loop {
        tokio::select! {
            biased;
            () = progress.cancelled() => break Err(Error::cancelled(what)),
            joined = workers.join_next() => match joined {
                None => break Ok(()),
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(err))) => break Err(err),
                Some(Err(_)) => break Err(runtime::task_died()),
            },
        }
    };
    stop.store(true, Ordering::Relaxed);
    if outcome.is_err() && in_flight == InFlight::Finish {
        let finished = async { while workers.join_next().await.is_some() {} };
        tokio::pin!(finished);
        tokio::select! {
            () = &mut finished => {}
            () = progress.cancelled() => {
                let _ = tokio::time::timeout(CANCEL_GRACE, finished).await;
            }
        }
    }
    // Dropping in-flight requests closes their connections; waiting makes sure none is left
    // running before the caller cleans up (aborting an upload, removing a temporary file).
    workers.abort_all();
    while workers.join_next().await.is_some() {}
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_cover_the_object_exactly() {
        let plan = PartPlan::new(12 * 1024 * 1024 + 1, 5 * 1024 * 1024);
        assert_eq!(plan.count, 3);
        assert_eq!(plan.part(2), (10 * 1024 * 1024, 2 * 1024 * 1024 + 1));
        assert_eq!(PartPlan::new(0, 8).count, 0);
        let huge = PartPlan::new(100 * 1024 * 1024 * 1024, 8 * 1024 * 1024);
        assert!(huge.count <= MAX_PARTS);
        let (offset, len) = huge.part(huge.count - 1);
        assert_eq!(offset + len, huge.len);
    }
}
