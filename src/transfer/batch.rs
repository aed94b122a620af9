//! Many objects in one call: up to `max_objects_in_flight` objects at a time, each moved by the
//! single-object engine with its own parts, all within one [`ByteBudget`].
//!
//! Objects wait in two lanes. A large object (moved in parts) holds, besides its object slot,
//! room for the parts it can have in flight, out of `max_concurrency` shared by all large
//! objects: large objects then never hold more slots than their parts can use, and the slots
//! left serve small objects, which do not queue behind them. Objects of unknown size (downloads
//! named by the caller) wait in the small lane.
//!
//! One object failing does not stop the others; each object's outcome is kept apart. Cancelling
//! the batch cancels every object in flight (each cleans up as on its own) and starts no more.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use super::budget::ByteBudget;
use super::progress::Progress;
use crate::config::TransferSettings;
use crate::error::{Error, ErrorKind, Result};
use crate::runtime;

/// Which lane an object waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// One request, or a size not known before it starts.
    Small,
    /// Moved in this many parts.
    Large { parts: u64 },
}

/// One object of a batch.
#[derive(Debug, Clone)]
pub struct BatchItem {
    /// The object's name, for messages.
    pub name: String,
    /// Its size where known beforehand (0 otherwise), counted in the batch's total at the start.
    pub expected_len: u64,
    pub lane: Lane,
}

impl BatchItem {
    /// An object of `len` bytes (if known), in the lane its size puts it in.
    pub fn new(name: String, len: Option<u64>, settings: &TransferSettings) -> BatchItem {
        let lane = match len {
            Some(len) if len >= settings.multipart_threshold.max(1) => Lane::Large {
                parts: super::PartPlan::new(len, settings.part_size).count,
            },
            _ => Lane::Small,
        };
        BatchItem {
            name,
            expected_len: len.unwrap_or(0),
            lane,
        }
    }
}

/// The outcome of each object of a batch, as it becomes known; readable while it runs.
#[derive(Debug, Default)]
pub struct ItemStatuses {
    outcomes: Mutex<Vec<Option<Result<()>>>>,
}

impl ItemStatuses {
    pub fn new(count: usize) -> Arc<ItemStatuses> {
        Arc::new(ItemStatuses {
            outcomes: Mutex::new(vec![None; count]),
        })
    }

    /// Starts over with `count` objects (a batch whose objects are found when it starts).
    pub fn reset(&self, count: usize) {
        *self.lock() = vec![None; count];
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Option<Result<()>>>> {
        self.outcomes.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set(&self, index: usize, outcome: Result<()>) {
        if let Some(slot) = self.lock().get_mut(index) {
            *slot = Some(outcome);
        }
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each object's outcome: `None` while it has not finished.
    pub fn kinds(&self) -> Vec<Option<std::result::Result<(), ErrorKind>>> {
        self.lock()
            .iter()
            .map(|o| {
                o.as_ref()
                    .map(|r| r.as_ref().map(|_| ()).map_err(Error::kind))
            })
            .collect()
    }
}

/// A batch about to run.
pub struct Batch {
    /// What the batch is, for messages ("upload_files").
    pub what: String,
    pub items: Vec<BatchItem>,
    pub settings: TransferSettings,
    pub statuses: Arc<ItemStatuses>,
}

/// Runs `work(index, progress, budget)` for every object of the batch, as the module explains,
/// and returns once every object has finished (or, cancelled, cleaned up). The batch succeeds
/// if every object did; otherwise it fails with the kind of the first object (in the batch's
/// order) that failed, and a message that counts the failures and gives that object's.
pub async fn run_batch<W, F>(batch: Batch, progress: Arc<Progress>, work: W) -> Result<()>
where
    W: Fn(usize, Arc<Progress>, Arc<ByteBudget>) -> F + Send + Sync + 'static,
    F: Future<Output = Result<()>> + Send + 'static,
{
    let Batch {
        what,
        items,
        settings,
        statuses,
    } = batch;
    statuses.reset(items.len());
    progress.set_total(items.iter().map(|item| item.expected_len).sum());
    let items = Arc::new(items);
    let shared = Arc::new(Shared {
        work,
        budget: ByteBudget::new(settings.batch_budget()),
        slots: Arc::new(Semaphore::new(settings.max_objects_in_flight.max(1))),
        parts: Arc::new(Semaphore::new(settings.max_concurrency.max(1))),
        parts_cap: settings.max_concurrency.max(1) as u64,
        statuses: statuses.clone(),
        progress: progress.clone(),
        items: items.clone(),
        what: what.clone(),
    });
    let (small, large): (Vec<usize>, Vec<usize>) =
        (0..items.len()).partition(|&i| items[i].lane == Lane::Small);
    let (mut small_tasks, mut large_tasks) = (Tasks::default(), Tasks::default());
    tokio::join!(
        dispatch(&shared, small, &mut small_tasks),
        dispatch(&shared, large, &mut large_tasks),
    );
    for tasks in [small_tasks, large_tasks] {
        tasks.join(&statuses).await;
    }
    summarize(&what, &items, &statuses)
}

struct Shared<W> {
    work: W,
    budget: Arc<ByteBudget>,
    /// Objects in flight.
    slots: Arc<Semaphore>,
    /// Parts in flight that large objects may have, shared by them.
    parts: Arc<Semaphore>,
    /// The permits `parts` was made with.
    parts_cap: u64,
    statuses: Arc<ItemStatuses>,
    progress: Arc<Progress>,
    items: Arc<Vec<BatchItem>>,
    what: String,
}

/// The objects' tasks, by the index of their object.
#[derive(Default)]
struct Tasks {
    set: JoinSet<()>,
    index_of: HashMap<tokio::task::Id, usize>,
}

impl Tasks {
    /// Waits for every task. One that ended without recording its object's outcome panicked:
    /// its object fails as such, and the others keep theirs.
    async fn join(mut self, statuses: &ItemStatuses) {
        while let Some(joined) = self.set.join_next_with_id().await {
            if let Err(error) = joined {
                if let Some(&index) = self.index_of.get(&error.id()) {
                    statuses.set(index, Err(runtime::task_died()));
                }
            }
        }
    }
}

/// Starts the objects of one lane in order, each once it has its room.
async fn dispatch<W, F>(shared: &Arc<Shared<W>>, lane: Vec<usize>, tasks: &mut Tasks)
where
    W: Fn(usize, Arc<Progress>, Arc<ByteBudget>) -> F + Send + Sync + 'static,
    F: Future<Output = Result<()>> + Send + 'static,
{
    for (position, &index) in lane.iter().enumerate() {
        let item = &shared.items[index];
        let room = async {
            let parts = match item.lane {
                Lane::Large { parts } => {
                    // More than the semaphore was made with would wait forever.
                    let wanted = parts.clamp(1, shared.parts_cap) as u32;
                    Some(shared.parts.clone().acquire_many_owned(wanted).await)
                }
                Lane::Small => None,
            };
            let slot = shared.slots.clone().acquire_owned().await;
            (slot, parts)
        };
        let room = tokio::select! {
            biased;
            () = shared.progress.cancelled() => None,
            room = room => Some(room),
        };
        let Some((Ok(slot), parts)) = room else {
            // Cancelled: the objects not started yet are cancelled without a request.
            for &later in &lane[position..] {
                let name = &shared.items[later].name;
                let error = Error::cancelled(&format!("{} of {name}", shared.what));
                shared.statuses.set(later, Err(error));
            }
            return;
        };
        let parts: Option<OwnedSemaphorePermit> = parts.and_then(|p| p.ok());
        let item = &shared.items[index];
        let child = Progress::child(&shared.progress, item.expected_len);
        // Boxed: the engine's futures are large, and a task moves its future at least once.
        let work = Box::pin((shared.work)(index, child, shared.budget.clone()));
        let statuses = shared.statuses.clone();
        let task = tasks.set.spawn(async move {
            let outcome = work.await;
            statuses.set(index, outcome);
            drop((slot, parts));
        });
        tasks.index_of.insert(task.id(), index);
    }
}

/// The batch's outcome from its objects'.
pub fn summarize(what: &str, items: &[BatchItem], statuses: &ItemStatuses) -> Result<()> {
    let outcomes = statuses.lock();
    let failed = outcomes
        .iter()
        .filter(|o| !matches!(o, Some(Ok(()))))
        .count();
    let Some((index, first)) = outcomes
        .iter()
        .enumerate()
        .find(|(_, o)| !matches!(o, Some(Ok(()))))
    else {
        return Ok(());
    };
    let first = match first {
        Some(Err(error)) => error.clone(),
        _ => runtime::task_died(),
    };
    Err(Error::new(
        first.kind(),
        format!(
            "{what}: {failed} of {} objects failed; the first, #{index} ({}): {}",
            items.len(),
            items[index].name,
            first.message()
        ),
    ))
}
