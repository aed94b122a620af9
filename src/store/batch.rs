//! The many-object operations of a store: files and folders moved as batches (see
//! `transfer::batch`), and deletions of many objects at once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use super::folders::{self, LocalFile, RemoteObject};
use super::Store;
use crate::error::{Error, ErrorKind, Result};
use crate::transfer::{
    self, run_batch, Batch, BatchItem, BufferPool, ByteBudget, FileSink, FileSource, ItemStatuses,
    Progress, Source,
};

/// S3 deletes at most this many keys per DeleteObjects request.
const DELETE_BATCH: usize = 1000;

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
        let listed = self.list_all(&prefix).await?;
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

    /// Every object whose name starts with `prefix`, over as many pages as the listing takes.
    async fn list_all(&self, prefix: &str) -> Result<Vec<(String, u64)>> {
        let mut objects = Vec::new();
        let mut continuation = None;
        loop {
            let page = self.list_page(prefix, continuation).await?;
            objects.extend(page.objects);
            match page.next {
                Some(token) => continuation = Some(token),
                None => return Ok(objects),
            }
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
    /// failure also how many were deleted before it.
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
        let mut deleted = 0u64;
        let mut continuation = None;
        loop {
            let page = match self.list_page(&prefix, continuation).await {
                Ok(page) => page,
                Err(error) => return (deleted, Err(error)),
            };
            let keys: Vec<String> = page
                .objects
                .iter()
                .map(|(name, _)| format!("{}{name}", self.inner.config.prefix))
                .collect();
            let outcomes = self.delete_keys(keys.iter().map(String::as_str)).await;
            let mut first_failure = None;
            for (key, outcome) in keys.iter().zip(outcomes) {
                match outcome {
                    Ok(()) => deleted += 1,
                    Err(error) if first_failure.is_none() => first_failure = Some((key, error)),
                    Err(_) => {}
                }
            }
            if let Some((key, error)) = first_failure {
                let message = format!(
                    "delete_prefix of {}: deleting {key} failed after {deleted} objects were deleted: {}",
                    self.uri(&prefix),
                    error.message()
                );
                return (deleted, self.clean(Err(Error::new(error.kind(), message))));
            }
            match page.next {
                Some(token) => continuation = Some(token),
                None => return (deleted, Ok(())),
            }
        }
    }

    /// One DeleteObjects request for at most 1,000 keys; each key's outcome, in order.
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
                .quiet(true)
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
        // Quiet mode: only the keys that could not be deleted are named.
        let mut failed: HashMap<&str, Error> = HashMap::new();
        for refused in answer.errors() {
            let Some(key) = refused.key() else { continue };
            let code = refused.code().unwrap_or("no error code");
            if code == "NoSuchKey" {
                continue;
            }
            let kind = match code {
                "AccessDenied" | "AllAccessDisabled" | "InvalidAccessKeyId" => {
                    ErrorKind::PermissionDenied
                }
                "NoSuchBucket" => ErrorKind::NotFound,
                "InternalError" | "ServiceUnavailable" | "SlowDown" => ErrorKind::Transient,
                _ => ErrorKind::Internal,
            };
            let message = format!(
                "delete of s3://{}/{key}: {code} {}",
                config.bucket,
                refused.message().unwrap_or("")
            );
            failed.insert(key, Error::new(kind, message.trim_end()));
        }
        keys.iter()
            .map(|key| match failed.get(key) {
                Some(error) => Err(error.clone()),
                None => Ok(()),
            })
            .collect()
    }
}
