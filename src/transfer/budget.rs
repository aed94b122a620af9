//! One bound on the bytes that the requests of many transfers hold in memory at once.
//!
//! A batch moves many objects at a time, each in parts, and every request in flight holds
//! bytes: an upload its body, a download the chunks it gathers before writing them. Each
//! request takes its bytes from the batch's budget before it starts and gives them back when
//! it ends, so the batch's memory stays within the budget however many objects are in flight.
//!
//! Waiting is not first-come first-served: a request takes its bytes as soon as they are free,
//! so a small object's request goes ahead of a large part that waits for more room. A batch is
//! finite, so the large part gets its turn once the small objects are done.

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::progress::Progress;
use crate::error::{Error, Result};

#[derive(Debug)]
pub struct ByteBudget {
    total: u64,
    free: Mutex<u64>,
    freed: Notify,
}

/// Bytes taken from a [`ByteBudget`]; given back when dropped.
#[derive(Debug)]
pub struct Reserved {
    budget: Arc<ByteBudget>,
    bytes: u64,
}

impl ByteBudget {
    pub fn new(total: u64) -> Arc<ByteBudget> {
        let total = total.max(1);
        Arc::new(ByteBudget {
            total,
            free: Mutex::new(total),
            freed: Notify::new(),
        })
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// Waits until `bytes` are free and takes them. A request larger than the whole budget
    /// takes all of it (it runs alone). Fails if `progress` is cancelled meanwhile.
    pub async fn reserve(
        self: &Arc<Self>,
        bytes: u64,
        progress: &Progress,
        what: &str,
    ) -> Result<Reserved> {
        let bytes = bytes.clamp(1, self.total);
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            // Registered before looking, so a release between the look and the wait wakes it.
            freed.as_mut().enable();
            {
                let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
                if *free >= bytes {
                    *free -= bytes;
                    return Ok(Reserved {
                        budget: self.clone(),
                        bytes,
                    });
                }
            }
            tokio::select! {
                biased;
                () = progress.cancelled() => return Err(Error::cancelled(what)),
                () = &mut freed => {}
            }
        }
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        *self.budget.free.lock().unwrap_or_else(|p| p.into_inner()) += self.bytes;
        self.budget.freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_requests_pass_a_large_one_that_waits() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let budget = ByteBudget::new(100);
            let progress = Progress::new();
            let first = budget.reserve(60, &progress, "t").await.unwrap();
            // 50 do not fit beside 60: the large request waits...
            let large = {
                let (budget, progress) = (budget.clone(), progress.clone());
                tokio::spawn(async move { budget.reserve(50, &progress, "t").await.map(drop) })
            };
            tokio::task::yield_now().await;
            // ...while a small one that fits goes ahead of it.
            let small = tokio::time::timeout(
                std::time::Duration::from_secs(1),
                budget.reserve(30, &progress, "t"),
            )
            .await
            .expect("a small request waited behind a large one")
            .unwrap();
            drop(small);
            drop(first);
            large.await.unwrap().unwrap();
            // More than the whole budget runs alone instead of waiting forever.
            let all = budget.reserve(1_000, &progress, "t").await.unwrap();
            assert_eq!(all.bytes, 100);
            drop(all);
            assert_eq!(*budget.free.lock().unwrap(), 100);
            let held = budget.reserve(100, &progress, "t").await.unwrap();
            progress.cancel();
            let cancelled = budget.reserve(1, &progress, "t").await;
            assert_eq!(
                cancelled.unwrap_err().kind(),
                crate::error::ErrorKind::Cancelled
            );
            drop(held);
        });
    }
}
