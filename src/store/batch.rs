//! The many-object operations of a store: files and folders moved as batches (see
//! `transfer::batch`), and deletions of many objects at once.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use super::folders::{self, LocalFile, RemoteObject};
use super::{Listing, Store};
use crate::error::{Error, ErrorKind, Result};
use crate::transfer::{
    self, run_batch, Batch, BatchItem, BufferPool, ByteBudget, FileSink, FileSource, ItemStatuses,
    Progress, Source,
};

/// S3 deletes at most this many keys per DeleteObjects request.
const DELETE_BATCH: usize = 1000;

/// How often a transfer that is listing wakes the thread that waits for it with a callback,
/// which can cancel only when it is called: a listing page can take minutes to come.
const LISTING_PULSE: Duration = Duration::from_millis(250);

/// A folder name as a prefix of object names: empty, or ending in exactly the `/` it had or
/// was given.
pub fn folder_prefix(prefix: &str) -> String {
    if prefix.is_empty() || prefix.ends_with('/') {
        prefix.to_string()
    } else {
        format!("{prefix}/")
    }
}

impl Store {
    /// Uploads `path` as `name` within a batch's budget; a file moved in parts reads them
    /// into the batch's buffers for parts.
    async fn upload_in_batch(
        &self,
        name: &str,
        path: &Path,
        progress: Arc<Progress>,
        budget: Arc<ByteBudget>,
        part_buffers: Arc<BufferPool>,
    ) -> Result<()> {
        let result = async {
            let mut job = self.job(name)?;
            job.budget = Some(budget);
            let source = FileSource::open(path)?;
            let source = if source.len() >= job.settings.multipart_threshold {
                source.with_buffers(part_buffers)
            } else {
                source
            };
            transfer::upload(job, source, progress).await
        };
        self.clean(result.await)
    }

    /// Downloads `name` to `path` within a batch's budget; `listed_len` is its size in a
    /// listing, if it came from one.
    async fn download_in_batch(
        &self,
        name: &str,
        path: &Path,
        overwrite: bool,
        listed_len: Option<u64>,
        progress: Arc<Progress>,
        budget: Arc<ByteBudget>,
    ) -> Result<()> {
        let result = async {
            let mut job = self.job(name)?;
            job.budget = Some(budget);
            job.listed_len = listed_len;
            let sink = FileSink::new(path, overwrite, self.inner.config.fsync_downloads)?;
            transfer::download(job, sink, progress).await
        };
        self.clean(result.await)
    }

    /// Uploads each `(name, path)` pair; see [`run_batch`] for how they share the work.
    pub async fn upload_files(
        &self,
        files: Vec<(String, PathBuf)>,
        progress: Arc<Progress>,
        statuses: Arc<ItemStatuses>,
    ) -> Result<()> {
        self.check_process()?;
        let settings = self.inner.config.transfer;
        let files = tokio::task::spawn_blocking(move || {
            files
                .into_iter()
                .map(|(name, path)| {
                    // The size counts in the total and picks the lane; a file that cannot be
                    // read fails on its own when its upload opens it.
                    let len = std::fs::metadata(&path)
                        .ok()
                        .filter(|m| m.is_file())
                        .map(|m| m.len());
                    (name, path, len)
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|_| crate::runtime::task_died())?;
        let items = files
            .iter()
            .map(|(name, _, len)| BatchItem::new(name.clone(), *len, &settings))
            .collect();
        let batch = Batch {
            what: "upload_files".into(),
            items,
            settings,
            statuses,
        };
        let (store, files, buffers) = (self.clone(), Arc::new(files), BufferPool::new());
        run_batch(batch, progress, move |index, progress, budget| {
            let (store, files, buffers) = (store.clone(), files.clone(), buffers.clone());
            async move {
                let (name, path, _) = &files[index];
                store
                    .upload_in_batch(name, path, progress, budget, buffers)
                    .await
            }
        })
        .await
    }

    /// Downloads each `(name, path)` pair. Sizes are unknown until each object's first answer,
    /// so the batch's total grows as they arrive.
    pub async fn download_files(
        &self,
        files: Vec<(String, PathBuf)>,
        overwrite: bool,
        progress: Arc<Progress>,
        statuses: Arc<ItemStatuses>,
    ) -> Result<()> {
        self.check_process()?;
        let settings = self.inner.config.transfer;
        let items = files
            .iter()
            .map(|(name, _)| BatchItem::new(name.clone(), None, &settings))
            .collect();
        let batch = Batch {
            what: "download_files".into(),
            items,
            settings,
            statuses,
        };
        let (store, files) = (self.clone(), Arc::new(files));
        run_batch(batch, progress, move |index, progress, budget| {
            let (store, files) = (store.clone(), files.clone());
            async move {
                let (name, path) = &files[index];
                store
                    .download_in_batch(name, path, overwrite, None, progress, budget)
                    .await
            }
        })
        .await
    }

    /// Uploads every regular file under `local_dir` as `<object_prefix>/<relative path>`.
    pub async fn upload_dir(
        &self,
        local_dir: &Path,
        object_prefix: &str,
        progress: Arc<Progress>,
        statuses: Arc<ItemStatuses>,
    ) -> Result<()> {
        self.check_process()?;
        let settings = self.inner.config.transfer;
        let prefix = folder_prefix(object_prefix);
        let dir = local_dir.to_path_buf();
        let files: Vec<LocalFile> =
            tokio::task::spawn_blocking(move || folders::regular_files(&dir))
                .await
                .map_err(|_| crate::runtime::task_died())??;
        let items = files
            .iter()
            .map(|file| {
                let name = match &file.relative {
                    Ok(relative) => format!("{prefix}{relative}"),
                    Err(_) => file.path.display().to_string(),
                };
                BatchItem::new(name, Some(file.len), &settings)
            })
            .collect();
        let batch = Batch {
            what: format!("upload_dir of {}", local_dir.display()),
            items,
            settings,
            statuses,
        };
        let (store, files, buffers) = (self.clone(), Arc::new(files), BufferPool::new());
        run_batch(batch, progress, move |index, progress, budget| {
            let (store, files, prefix, buffers) = (
                store.clone(),
                files.clone(),
                prefix.clone(),
                buffers.clone(),
            );
            async move {
                let file = &files[index];
                let relative = file.relative.clone()?;
                let name = format!("{prefix}{relative}");
                store
                    .upload_in_batch(&name, &file.path, progress, budget, buffers)
                    .await
            }
        })
        .await
    }

    /// Downloads every object under the folder `object_prefix` into the same relative paths
    /// under `local_dir`. Names that would land outside `local_dir` are refused one by one.
    pub async fn download_prefix(
        &self,
        object_prefix: &str,
        local_dir: &Path,
        overwrite: bool,
        progress: Arc<Progress>,
        statuses: Arc<ItemStatuses>,
    ) -> Result<()> {
        self.check_process()?;
        if local_dir.as_os_str().is_empty() {
            return Err(Error::invalid("download_prefix: local_dir is empty"));
        }
        let settings = self.inner.config.transfer;
        let prefix = folder_prefix(object_prefix);
        let listed = self.list_for_transfer(&prefix, &progress).await?;
        let objects: Vec<RemoteObject> = folders::remote_objects(&prefix, listed);
        let items = objects
            .iter()
            .map(|object| BatchItem::new(object.name.clone(), Some(object.len), &settings))
            .collect();
        let batch = Batch {
            what: format!("download_prefix of {}", self.uri(&prefix)),
            items,
            settings,
            statuses,
        };
        let what = format!("creating {}", local_dir.display());
        std::fs::create_dir_all(local_dir).map_err(|e| Error::io(&what, &e))?;
        let (store, objects, dir) = (self.clone(), Arc::new(objects), local_dir.to_path_buf());
        run_batch(batch, progress, move |index, progress, budget| {
            let (store, objects, dir) = (store.clone(), objects.clone(), dir.clone());
            async move {
                let object = &objects[index];
                let relative = object.relative.clone()?;
                let target = {
                    let dir = dir.clone();
                    tokio::task::spawn_blocking(move || folders::prepare_target(&dir, &relative))
                        .await
                        .map_err(|_| crate::runtime::task_died())??
                };
                store
                    .download_in_batch(
                        &object.name,
                        &target,
                        overwrite,
                        Some(object.len),
                        progress,
                        budget,
                    )
                    .await
            }
        })
        .await
    }

    /// Every object whose name starts with `prefix`, over as many pages as the listing takes,
    /// for a transfer: cancelling it stops the listing at once, the total grows by each page's
    /// bytes from 0, and a callback is called at least every [`LISTING_PULSE`] meanwhile.
    async fn list_for_transfer(
        &self,
        prefix: &str,
        progress: &Progress,
    ) -> Result<Vec<(String, u64)>> {
        progress.set_total(0);
        let mut listing = Listing::new(prefix);
        let mut objects = Vec::new();
        let mut pulse = tokio::time::interval(LISTING_PULSE);
        pulse.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let page = listing.next_page(self);
            tokio::pin!(page);
            let page = loop {
                tokio::select! {
                    biased;
                    () = progress.cancelled() => {
                        return Err(Error::cancelled(&format!("listing of {}", self.uri(prefix))));
                    }
                    page = &mut page => break page?,
                    _ = pulse.tick() => progress.pulse(),
                }
            };
            let Some(page) = page else {
                return Ok(objects);
            };
            progress.add_total(page.iter().map(|(_, len)| len).sum());
            objects.extend(page);
        }
    }

    /// Deletes the objects `names` with DeleteObjects, 1,000 per request; each name's outcome
    /// goes to `statuses`. As with one deletion, a missing object counts as deleted.
    pub async fn delete_objects(&self, names: &[String], statuses: &ItemStatuses) -> Result<()> {
        self.check_process()?;
        statuses.reset(names.len());
        let mut keys = Vec::with_capacity(names.len());
        for (index, name) in names.iter().enumerate() {
            match self.key(name) {
                Ok(key) => keys.push((index, key)),
                Err(error) => statuses.set(index, Err(error)),
            }
        }
        for chunk in keys.chunks(DELETE_BATCH) {
            let outcomes = self
                .delete_keys(chunk.iter().map(|(_, key)| key.as_str()))
                .await;
            for ((index, _), outcome) in chunk.iter().zip(outcomes) {
                statuses.set(*index, outcome);
            }
        }
        let items: Vec<BatchItem> = names
            .iter()
            .map(|name| BatchItem {
                name: name.clone(),
                expected_len: 0,
                lane: transfer::Lane::Small,
            })
            .collect();
        self.clean(transfer::summarize("delete_objects", &items, statuses))
    }

    /// Deletes every object under the folder `object_prefix`; the number deleted, and on
    /// failure also how many were deleted before it. The server's word is checked by listing
    /// the folder again: an object it still lists is not counted, and fails the call.
    pub async fn delete_prefix(&self, object_prefix: &str) -> (u64, Result<()>) {
        if object_prefix.is_empty() {
            return (
                0,
                Err(Error::invalid(
                    "delete_prefix: object_prefix is empty; name the folder to delete",
                )),
            );
        }
        let prefix = folder_prefix(object_prefix);
        let mut deleted = HashSet::new();
        let outcome = self.delete_listed(&prefix, &mut deleted).await;
        let mut listing = Listing::new(&prefix);
        let mut survivors = Vec::new();
        loop {
            match listing.next_page(self).await {
                Ok(Some(page)) => survivors.extend(
                    page.into_iter()
                        .filter_map(|(name, _)| deleted.remove(&name).then_some(name)),
                ),
                Ok(None) => break,
                Err(error) => return (deleted.len() as u64, outcome.and(Err(error))),
            }
        }
        let count = deleted.len() as u64;
        if let (Some(first), Ok(())) = (survivors.first(), &outcome) {
            let message = format!(
                "delete_prefix of {}: the server answered that {} objects were deleted that it still lists, {first} the first; {count} objects were deleted",
                self.uri(&prefix),
                survivors.len(),
            );
            log_info!("{message}");
            return (
                count,
                self.clean(Err(Error::new(ErrorKind::Internal, message))),
            );
        }
        (count, outcome)
    }

    /// Deletes the objects of a listing of `prefix` page by page, putting the name of each one
    /// the server answers deleted into `deleted`, until the listing ends or a deletion fails.
    async fn delete_listed(&self, prefix: &str, deleted: &mut HashSet<String>) -> Result<()> {
        let mut listing = Listing::new(prefix);
        while let Some(page) = listing.next_page(self).await? {
            let keys: Vec<String> = page
                .iter()
                .map(|(name, _)| format!("{}{name}", self.inner.config.prefix))
                .collect();
            let outcomes = self.delete_keys(keys.iter().map(String::as_str)).await;
            let mut first_failure = None;
            for ((name, _), (key, outcome)) in page.into_iter().zip(keys.iter().zip(outcomes)) {
                match outcome {
                    Ok(()) => {
                        deleted.insert(name);
                    }
                    Err(error) if first_failure.is_none() => first_failure = Some((key, error)),
                    Err(_) => {}
                }
            }
            if let Some((key, error)) = first_failure {
                let message = format!(
                    "delete_prefix of {}: deleting {key} failed after {} objects were deleted: {}",
                    self.uri(prefix),
                    deleted.len(),
                    error.message()
                );
                return self.clean(Err(Error::new(error.kind(), message)));
            }
        }
        Ok(())
    }

    /// One DeleteObjects request for at most 1,000 keys; each key's outcome, in order. The
    /// answer must name every key, as deleted or as refused: a key it leaves out (an answer cut
    /// short, an error that names no key, a name the server changed) is not known to be deleted
    /// and fails.
    async fn delete_keys<'a>(&self, keys: impl Iterator<Item = &'a str>) -> Vec<Result<()>> {
        let keys: Vec<&str> = keys.collect();
        if keys.is_empty() {
            return Vec::new();
        }
        let config = &self.inner.config;
        let what = format!(
            "delete of {} objects in s3://{}/ (from {})",
            keys.len(),
            config.bucket,
            keys[0]
        );
        let objects: Result<Vec<ObjectIdentifier>> = keys
            .iter()
            .map(|key| {
                ObjectIdentifier::builder()
                    .key(*key)
                    .build()
                    .map_err(|e| Error::invalid(format!("{what}: {e}")))
            })
            .collect();
        let request = objects.and_then(|objects| {
            Delete::builder()
                .set_objects(Some(objects))
                // Not quiet: an answer that names only the failures cannot be told from one
                // cut short.
                .quiet(false)
                .build()
                .map_err(|e| Error::invalid(format!("{what}: {e}")))
        });
        let answer = match request {
            Ok(delete) => self
                .inner
                .client
                .delete_objects()
                .bucket(&config.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| Error::from_sdk(&what, e)),
            Err(error) => Err(error),
        };
        let answer = match answer {
            Ok(answer) => answer,
            Err(error) => return keys.iter().map(|_| Err(error.clone())).collect(),
        };
        let mut outcomes: HashMap<&str, Result<()>> = HashMap::new();
        for gone in answer.deleted() {
            if let Some(key) = gone.key() {
                outcomes.insert(key, Ok(()));
            }
        }
        let mut unnamed = None;
        for refused in answer.errors() {
            let code = refused.code().unwrap_or("no error code");
            let kind = match code {
                "AccessDenied" | "AllAccessDisabled" | "InvalidAccessKeyId" => {
                    ErrorKind::PermissionDenied
                }
                "NoSuchBucket" => ErrorKind::NotFound,
                "InternalError" | "ServiceUnavailable" | "SlowDown" => ErrorKind::Transient,
                _ => ErrorKind::Internal,
            };
            let detail = format!("{code} {}", refused.message().unwrap_or(""));
            let detail = detail.trim_end();
            match refused.key() {
                // As with one deletion, a missing object counts as deleted.
                Some(key) if code == "NoSuchKey" => {
                    outcomes.entry(key).or_insert(Ok(()));
                }
                Some(key) => {
                    let message = format!("delete of s3://{}/{key}: {detail}", config.bucket);
                    outcomes.insert(key, Err(Error::new(kind, message)));
                }
                None => {
                    unnamed.get_or_insert((kind, detail.to_string()));
                }
            }
        }
        keys.iter()
            .map(|key| match outcomes.get(key) {
                Some(outcome) => outcome.clone(),
                None => {
                    let (kind, why) = match &unnamed {
                        Some((kind, detail)) => (
                            *kind,
                            format!("its answer has an error that names no key: {detail}"),
                        ),
                        None => (
                            ErrorKind::Internal,
                            "its answer names it neither as deleted nor as refused".to_string(),
                        ),
                    };
                    Err(Error::new(
                        kind,
                        format!(
                            "delete of s3://{}/{key}: not known to be deleted: the server was asked to, but {why}",
                            config.bucket
                        ),
                    ))
                }
            })
            .collect()
    }
}
