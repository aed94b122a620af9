//! A stream writer: bytes written in any pieces become an object. Full parts go up in the
//! background while the caller keeps writing, at most `max_concurrency` at once: a write that
//! fills a part while that many are on their way waits for one of them. Memory therefore stays
//! within `max_concurrency` parts plus the part being filled (and, when `multipart_threshold`
//! exceeds the part size, the parts held until the threshold decides). An object that ends
//! below `multipart_threshold` is sent as one PUT when the writer is closed.
//!
//! Parts carry their CRC32C and the completion the CRC32C of the whole object, as an upload
//! from a file does. A part that fails (after the SDK's retries, and the resends of a part the
//! server found corrupted) fails the next write or the close: the parts on their way are
//! answered first, then the upload is aborted, so nothing remains on the server. The object
//! appears only when the close completes it.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::buffers::{BufferPool, PooledBuffer};
use super::finish::{complete, try_abort, Expected};
use super::parts::CANCEL_GRACE;
use super::progress::Progress;
use super::upload::{
    create_request, object_crc, put_once, resend_if_corrupted, send_checked_part, to_usize,
    SentPart,
};
use super::ObjectJob;
use crate::config::MAX_PARTS;
use crate::error::{Error, ErrorKind, Result};
use crate::runtime;

/// An object being written. Not for concurrent use (the C layer serialises calls).
pub struct ObjectWriter {
    job: ObjectJob,
    what: String,
    runtime: Arc<Runtime>,
    pool: Arc<BufferPool>,
    part_size: usize,
    threshold: u64,
    /// The part being filled, and how much of it is.
    filling: Option<PooledBuffer>,
    filled: usize,
    /// Full parts kept until the object reaches the threshold (or ends below it).
    held: Vec<Bytes>,
    written: u64,
    upload: Option<Upload>,
    /// The error every later call returns, once one happened.
    failure: Option<Error>,
}

/// The multipart upload under way, once the object reached the threshold.
struct Upload {
    id: String,
    sent: Arc<Mutex<Vec<Option<SentPart>>>>,
    in_flight: Vec<JoinHandle<()>>,
    permits: Arc<Semaphore>,
    failed: Arc<Mutex<Option<Error>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl ObjectWriter {
    /// A writer for the job's object; nothing is sent before the first part is full.
    pub fn new(job: ObjectJob) -> Result<ObjectWriter> {
        let part_size = to_usize(job.settings.part_size.max(1))?;
        Ok(ObjectWriter {
            what: format!("stream upload to {}", job.uri()),
            threshold: job.settings.multipart_threshold.max(1),
            job,
            runtime: runtime::runtime()?,
            pool: BufferPool::new(),
            part_size,
            filling: None,
            filled: 0,
            held: Vec::new(),
            written: 0,
            upload: None,
            failure: None,
        })
    }

    /// Takes `data`; full parts start on their way. Blocks while `max_concurrency` parts are.
    pub fn write(&mut self, mut data: &[u8]) -> Result<()> {
        self.check()?;
        while !data.is_empty() {
            let (pool, part_size) = (&self.pool, self.part_size);
            let part = self.filling.get_or_insert_with(|| pool.take(part_size));
            let n = (part_size - self.filled).min(data.len());
            part.as_mut_slice()[self.filled..self.filled + n].copy_from_slice(&data[..n]);
            self.filled += n;
            self.written += n as u64;
            data = &data[n..];
            if self.filled == part_size {
                let full = self.filling.take().expect("a part being filled").freeze();
                self.filled = 0;
                if let Err(err) = self.push(full) {
                    return Err(self.fail(err));
                }
            }
        }
        Ok(())
    }

    /// Sends what is left and completes the object (or sends it as one PUT). On failure the
    /// upload is aborted.
    pub fn close(&mut self) -> Result<()> {
        self.check()?;
        let tail = match self.filling.take() {
            Some(part) if self.filled > 0 => Some(part.freeze().slice(..self.filled)),
            _ => None,
        };
        self.filled = 0;
        if self.upload.is_none() && self.written < self.threshold {
            let mut pieces = std::mem::take(&mut self.held);
            pieces.extend(tail);
            let body = match pieces.len() {
                0 => Bytes::new(),
                1 => pieces.pop().expect("one piece"),
                _ => Bytes::from(pieces.concat()),
            };
            let (job, what) = (self.job.clone(), self.what.clone());
            let put = runtime::block_on(async move {
                resend_if_corrupted(&job, || put_once(&job, body.clone(), &what)).await
            });
            if let Err(err) = put {
                self.failure = Some(err.clone());
                return Err(err);
            }
            return Ok(());
        }
        if let Some(tail) = tail {
            if let Err(err) = self.push(tail) {
                return Err(self.fail(err));
            }
        } else if self.upload.is_none() {
            // Exactly a number of full parts, all held: they go up now.
            if let Err(err) = self.start_upload().and_then(|()| self.send_held()) {
                return Err(self.fail(err));
            }
        }
        self.wait_for_parts();
        self.check()?;
        let upload = self.upload.as_ref().expect("an upload under way");
        let parts: Vec<SentPart> = std::mem::take(&mut *lock(&upload.sent))
            .into_iter()
            .flatten()
            .collect();
        let expected = Expected {
            len: parts.iter().map(|part| part.len as u64).sum(),
            object_crc: (self.job.send_checksums && self.job.full_object_checksum)
                .then(|| object_crc(&parts)),
            parts: parts.into_iter().map(|part| part.completed).collect(),
        };
        let (job, id, what) = (self.job.clone(), upload.id.clone(), self.what.clone());
        let completed = runtime::block_on(async move {
            complete(&job, &id, expected, &Progress::new(), &what).await
        });
        match completed {
            Ok(()) => {
                self.upload = None;
                Ok(())
            }
            Err(err) => Err(self.fail(err)),
        }
    }

    /// Stops: parts on their way get [`CANCEL_GRACE`] to be answered, then the upload is
    /// aborted. The error is the abort's own, if it failed.
    pub fn abort(&mut self) -> Result<()> {
        self.failure
            .get_or_insert_with(|| Error::invalid("the stream upload was aborted"));
        let Some(upload) = self.upload.take() else {
            return Ok(());
        };
        let job = self.job.clone();
        runtime::block_on(async move {
            let aborts: Vec<_> = upload.in_flight.iter().map(|t| t.abort_handle()).collect();
            let answered = async {
                for task in upload.in_flight {
                    let _ = task.await;
                }
            };
            if tokio::time::timeout(CANCEL_GRACE, answered).await.is_err() {
                aborts.iter().for_each(|task| task.abort());
            }
            try_abort(&job, &upload.id).await
        })
    }

    /// The error to return if the writer failed before, or if a part failed since.
    fn check(&mut self) -> Result<()> {
        if let Some(err) = &self.failure {
            return Err(err.clone());
        }
        let failed = self.upload.as_ref().and_then(|u| lock(&u.failed).clone());
        match failed {
            Some(err) => Err(self.fail(err)),
            None => Ok(()),
        }
    }

    /// A full part: held below the threshold, sent above it.
    fn push(&mut self, part: Bytes) -> Result<()> {
        if self.upload.is_none() {
            if self.written < self.threshold {
                self.held.push(part);
                return Ok(());
            }
            self.start_upload()?;
        }
        self.send_held()?;
        self.send(part)
    }

    fn start_upload(&mut self) -> Result<()> {
        let (request, what) = (create_request(&self.job), self.what.clone());
        let created = runtime::block_on(async move {
            request.send().await.map_err(|e| Error::from_sdk(&what, e))
        })?;
        let id = created.upload_id().ok_or_else(|| {
            Error::new(
                ErrorKind::Internal,
                format!("{}: the server returned no upload id", self.what),
            )
        })?;
        self.upload = Some(Upload {
            id: id.to_string(),
            sent: Arc::new(Mutex::new(Vec::new())),
            in_flight: Vec::new(),
            permits: Arc::new(Semaphore::new(self.job.settings.max_concurrency.max(1))),
            failed: Arc::new(Mutex::new(None)),
        });
        Ok(())
    }

    fn send_held(&mut self) -> Result<()> {
        for part in std::mem::take(&mut self.held) {
            self.send(part)?;
        }
        Ok(())
    }

    /// Starts one part on its way, once fewer than `max_concurrency` are.
    fn send(&mut self, part: Bytes) -> Result<()> {
        let upload = self.upload.as_mut().expect("an upload under way");
        let index = lock(&upload.sent).len();
        if index as u64 >= MAX_PARTS {
            return Err(Error::invalid(format!(
                "{}: the object outgrew S3's {MAX_PARTS} parts of {} bytes; set a larger multipart_chunksize",
                self.what, self.part_size
            )));
        }
        let permits = upload.permits.clone();
        let permit = runtime::block_on(async move {
            permits
                .acquire_owned()
                .await
                .map_err(|_| Error::new(ErrorKind::Internal, "the part limiter closed"))
        })?;
        if let Some(err) = lock(&upload.failed).clone() {
            return Err(err);
        }
        lock(&upload.sent).push(None);
        upload.in_flight.retain(|task| !task.is_finished());
        let (job, id, what) = (self.job.clone(), upload.id.clone(), self.what.clone());
        let (sent, failed) = (upload.sent.clone(), upload.failed.clone());
        upload.in_flight.push(self.runtime.spawn(async move {
            let part_number = index as i32 + 1;
            match send_checked_part(&job, &id, part_number, part, &what).await {
                Ok(part) => lock(&sent)[index] = Some(part),
                Err(err) => {
                    lock(&failed).get_or_insert(err);
                }
            }
            drop(permit);
        }));
        Ok(())
    }

    /// Blocks until every part on its way has been answered.
    fn wait_for_parts(&mut self) {
        if let Some(upload) = self.upload.as_mut() {
            let tasks = std::mem::take(&mut upload.in_flight);
            let _ = runtime::block_on(async move {
                for task in tasks {
                    let _ = task.await;
                }
                Ok(())
            });
        }
    }

    /// Ends the upload after `err`: every part on its way is answered first (a part stored
    /// after the abort would stay on the server), then the upload is aborted. Returns the
    /// error, noting it if the abort failed too; every later call returns it.
    fn fail(&mut self, err: Error) -> Error {
        self.wait_for_parts();
        let err = match self.upload.take() {
            Some(upload) => {
                let job = self.job.clone();
                let aborted = runtime::block_on(async move {
                    try_abort(&job, &upload.id).await.map(|()| upload.id)
                });
                match aborted {
                    Ok(_) => err,
                    Err(abort) => Error::new(
                        err.kind(),
                        format!("{err}; aborting the multipart upload also failed, so its parts may remain on the server: {abort}"),
                    ),
                }
            }
            None => err,
        };
        self.filling = None;
        self.held.clear();
        self.failure = Some(err.clone());
        err
    }
}

impl Drop for ObjectWriter {
    /// A writer dropped with its upload open (neither closed nor aborted) aborts it in the
    /// background.
    fn drop(&mut self) {
        if let Some(upload) = self.upload.take() {
            let job = self.job.clone();
            self.runtime.spawn(async move {
                let _ = tokio::time::timeout(CANCEL_GRACE, async {
                    for task in upload.in_flight {
                        let _ = task.await;
                    }
                })
                .await;
                let _ = try_abort(&job, &upload.id).await;
            });
        }
    }
}
