//! Uploads: one PUT below the multipart threshold, otherwise a multipart upload whose parts
//! go up concurrently and which is aborted on the server if anything fails or is cancelled.

use std::future::Future;
use std::sync::{Arc, Mutex};

use aws_sdk_s3::operation::upload_part::UploadPartOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumType, CompletedPart};
use bytes::Bytes;

use super::finish::{abort, complete, Expected};
use super::parts::{run_all, InFlight, PartPlan, CANCEL_GRACE};
use super::progress::Progress;
use super::source::Source;
use super::{crc32c_base64, ObjectJob};
use crate::config::MAX_PART_SIZE;
use crate::error::{Error, ErrorKind, Result};

/// Uploads all of `source` to the job's object.
pub async fn upload<S: Source>(job: ObjectJob, source: S, progress: Arc<Progress>) -> Result<()> {
    let len = source.len();
    progress.set_total(len);
    let what = format!("upload to {}", job.uri());
    progress.check(&what)?;
    if len < job.settings.multipart_threshold.max(1) && len <= MAX_PART_SIZE {
        tokio::select! {
            biased;
            () = progress.cancelled() => Err(Error::cancelled(&what)),
            result = put_whole(&job, &source, &progress, &what) => {
                result?;
                progress.add(len);
                Ok(())
            }
        }
    } else {
        upload_multipart(job, Arc::new(source), progress, &what).await
    }
}

/// Sends a request again when the server found its body corrupted (BadDigest and the like):
/// the body and its checksum come from the same bytes in memory, so the damage happened on
/// the way and another try may get through. The SDK retries transient failures, not these.
pub(super) async fn resend_if_corrupted<T, F, Fut>(job: &ObjectJob, mut send: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut attempt = 1;
    loop {
        match send().await {
            Err(err) if err.kind() == ErrorKind::Integrity && attempt < job.max_attempts => {
                attempt += 1;
                log_warn!(
                    "sending again (attempt {attempt} of {}) after: {}",
                    job.max_attempts,
                    err.message()
                );
            }
            outcome => return outcome,
        }
    }
}

async fn put_whole<S: Source>(
    job: &ObjectJob,
    source: &S,
    progress: &Progress,
    what: &str,
) -> Result<()> {
    let _reserved = job.reserve(source.len(), progress, what).await?;
    let body: Bytes = source.read_at(0, to_usize(source.len())?).await?;
    resend_if_corrupted(job, || put_once(job, body.clone(), what)).await
}

pub(super) async fn put_once(job: &ObjectJob, body: Bytes, what: &str) -> Result<()> {
    let mut request = job
        .client
        .put_object()
        .bucket(&job.bucket)
        .key(&job.key)
        .content_length(body.len() as i64)
        .set_acl(job.canned_acl.clone());
    if job.send_checksums {
        request = request
            .checksum_algorithm(ChecksumAlgorithm::Crc32C)
            .checksum_crc32_c(crc32c_base64(crc_fast::crc32_iscsi(&body)));
    }
    let request = request.body(ByteStream::from(body));
    let sent = if job.sign_payloads {
        request.send().await
    } else {
        request.customize().disable_payload_signing().send().await
    };
    sent.map_err(|e| Error::from_sdk(what, e))?;
    Ok(())
}

async fn upload_multipart<S: Source>(
    job: ObjectJob,
    source: Arc<S>,
    progress: Arc<Progress>,
    what: &str,
) -> Result<()> {
    let plan = PartPlan::new(source.len(), job.settings.part_size);
    let create = create_request(&job);
    let full_object = job.send_checksums && job.full_object_checksum;
    progress.check(what)?;
    let mut sending = std::pin::pin!(create.send());
    let created = tokio::select! {
        biased;
        () = progress.cancelled() => {
            // The server may have created the upload already: its answer gets the time parts
            // in flight get, and the upload it names is aborted.
            if let Ok(Ok(created)) = tokio::time::timeout(CANCEL_GRACE, &mut sending).await {
                if let Some(upload_id) = created.upload_id() {
                    return Err(abort(&job, upload_id, Error::cancelled(what)).await);
                }
            }
            return Err(Error::cancelled(what));
        }
        created = &mut sending => created.map_err(|e| Error::from_sdk(what, e))?,
    };
    let upload_id = created
        .upload_id()
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Internal,
                format!("{what}: the server returned no upload id"),
            )
        })?
        .to_string();
    log_debug!(
        "{what}: {} bytes in {} parts of {} bytes, {} at a time (multipart upload {upload_id})",
        plan.len,
        plan.count,
        plan.part_size,
        job.settings.max_concurrency.min(plan.count.max(1) as usize)
    );

    let completed = Arc::new(Mutex::new(vec![None; to_usize(plan.count)?]));
    let sent = {
        let (job, upload_id, completed, progress) = (
            job.clone(),
            upload_id.clone(),
            completed.clone(),
            progress.clone(),
        );
        let what = what.to_string();
        run_all(
            plan.count,
            job.settings.max_concurrency,
            &progress.clone(),
            &what.clone(),
            // The abort that follows a failure must come after the server is done with every
            // part sent, or a part stored late would stay on the server.
            InFlight::Finish,
            move |index| {
                let (job, upload_id, completed, progress, source, what) = (
                    job.clone(),
                    upload_id.clone(),
                    completed.clone(),
                    progress.clone(),
                    source.clone(),
                    what.clone(),
                );
                async move {
                    let part = upload_part(
                        &job,
                        &upload_id,
                        source.as_ref(),
                        plan,
                        index,
                        &progress,
                        &what,
                    )
                    .await?;
                    completed.lock().unwrap_or_else(|p| p.into_inner())[index as usize] =
                        Some(part);
                    progress.add(plan.part(index).1);
                    Ok(())
                }
            },
        )
        .await
    };

    let finished = match sent {
        Ok(()) => {
            let sent: Vec<SentPart> =
                std::mem::take(&mut *completed.lock().unwrap_or_else(|p| p.into_inner()))
                    .into_iter()
                    .flatten()
                    .collect();
            // The CRC32C of the whole object, from those of its parts: S3 checks it against
            // the parts it stored, and later downloads are checked against it.
            let object_crc = full_object.then(|| object_crc(&sent));
            let expected = Expected {
                len: sent.iter().map(|part| part.len as u64).sum(),
                parts: sent.into_iter().map(|part| part.completed).collect(),
                object_crc,
            };
            complete(&job, &upload_id, expected, &progress, what).await
        }
        Err(err) => Err(err),
    };
    match finished {
        Ok(()) => Ok(()),
        Err(err) => Err(abort(&job, &upload_id, err).await),
    }
}

/// The CreateMultipartUpload request for the job: ACL, and the CRC32C its parts carry.
pub(super) fn create_request(
    job: &ObjectJob,
) -> aws_sdk_s3::operation::create_multipart_upload::builders::CreateMultipartUploadFluentBuilder {
    let mut create = job
        .client
        .create_multipart_upload()
        .bucket(&job.bucket)
        .key(&job.key)
        .set_acl(job.canned_acl.clone());
    if job.send_checksums {
        create = create.checksum_algorithm(ChecksumAlgorithm::Crc32C);
    }
    if job.send_checksums && job.full_object_checksum {
        create = create.checksum_type(ChecksumType::FullObject);
    }
    create
}

/// The CRC32C of a whole object from those of its parts, in order.
pub(super) fn object_crc(parts: &[SentPart]) -> u32 {
    parts.iter().fold(0u32, |crc, part| {
        crc32c::crc32c_combine(crc, part.crc, part.len)
    })
}

/// A part the server has stored.
#[derive(Clone)]
pub(super) struct SentPart {
    pub(super) completed: CompletedPart,
    pub(super) crc: u32,
    pub(super) len: usize,
}

async fn upload_part<S: Source>(
    job: &ObjectJob,
    upload_id: &str,
    source: &S,
    plan: PartPlan,
    index: u64,
    progress: &Progress,
    what: &str,
) -> Result<SentPart> {
    let (offset, len) = plan.part(index);
    let _reserved = job.reserve(len, progress, what).await?;
    let started = std::time::Instant::now();
    let body = source.read_at(offset, to_usize(len)?).await?;
    let part_number =
        i32::try_from(index + 1).map_err(|_| Error::invalid(format!("{what}: too many parts")))?;
    let sent = send_checked_part(job, upload_id, part_number, body, what).await?;
    log_trace!(
        "{what}: part {part_number} of {} ({len} bytes) stored in {:.1} ms",
        plan.count,
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(sent)
}

/// Sends `body` as part `part_number` with its CRC32C (when checksums are sent), again if the
/// server finds it corrupted.
pub(super) async fn send_checked_part(
    job: &ObjectJob,
    upload_id: &str,
    part_number: i32,
    body: Bytes,
    what: &str,
) -> Result<SentPart> {
    let crc = if job.send_checksums {
        crc_fast::crc32_iscsi(&body)
    } else {
        0
    };
    let checksum = job.send_checksums.then(|| crc32c_base64(crc));
    let uploaded = resend_if_corrupted(job, || {
        send_part(
            job,
            upload_id,
            part_number,
            body.clone(),
            checksum.clone(),
            what,
        )
    })
    .await?;
    Ok(SentPart {
        completed: CompletedPart::builder()
            .part_number(part_number)
            .set_e_tag(uploaded.e_tag().map(str::to_string))
            .set_checksum_crc32_c(checksum)
            .build(),
        crc,
        len: body.len(),
    })
}

async fn send_part(
    job: &ObjectJob,
    upload_id: &str,
    part_number: i32,
    body: Bytes,
    checksum: Option<String>,
    what: &str,
) -> Result<UploadPartOutput> {
    let mut request = job
        .client
        .upload_part()
        .bucket(&job.bucket)
        .key(&job.key)
        .upload_id(upload_id)
        .part_number(part_number)
        .content_length(body.len() as i64);
    if let Some(checksum) = &checksum {
        request = request
            .checksum_algorithm(ChecksumAlgorithm::Crc32C)
            .checksum_crc32_c(checksum);
    }
    let request = request.body(ByteStream::from(body));
    let sent = if job.sign_payloads {
        request.send().await
    } else {
        request.customize().disable_payload_signing().send().await
    };
    sent.map_err(|e| Error::from_sdk(&format!("{what} (part {part_number})"), e))
}

pub(super) fn to_usize(n: u64) -> Result<usize> {
    usize::try_from(n)
        .map_err(|_| Error::invalid(format!("{n} bytes do not fit in memory on this platform")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_crc_implementations_agree() {
        // Parts are checksummed with crc-fast and combined with crc32c: they must be one CRC.
        let data: Vec<u8> = (0..100_003u32).map(|i| (i * 7 + i / 251) as u8).collect();
        for len in [0, 1, 15, 64, 4096, 100_003] {
            assert_eq!(
                crc_fast::crc32_iscsi(&data[..len]),
                crc32c::crc32c(&data[..len])
            );
        }
        let mut digest = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi);
        digest.update(&data[..777]);
        digest.update(&data[777..]);
        assert_eq!(digest.finalize() as u32, crc32c::crc32c(&data));
    }
}
