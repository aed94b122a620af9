//! Downloads: the object's size, ETag and checksum from a HEAD, then one GET (small objects) or
//! ranged GETs in parallel, each pinned to that ETag and written at its offset into the sink.
//! Every range is checked against its announced length, and when the server keeps a
//! whole-object CRC32C the CRCs of the ranges are combined and compared with it before commit.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumMode, ChecksumType};
use aws_smithy_types::base64;
use bytes::Bytes;

use super::parts::{run_all, InFlight, PartPlan};
use super::progress::Progress;
use super::sink::Sink;
use super::ObjectJob;
use crate::error::{Error, ErrorKind, Result};

/// Bytes gathered from the network (as the chunks they arrived in) before one positioned write.
const WRITE_CHUNK: usize = 1024 * 1024;

/// Downloads the job's object into `sink` and commits it.
pub async fn download<K: Sink>(job: ObjectJob, sink: K, progress: Arc<Progress>) -> Result<()> {
    let what = format!("download of {}", job.uri());
    let mut head = job.client.head_object().bucket(&job.bucket).key(&job.key);
    if job.verify_checksums {
        head = head.checksum_mode(ChecksumMode::Enabled);
    }
    let head = tokio::select! {
        biased;
        () = progress.cancelled() => return Err(Error::cancelled(&what)),
        head = head.send() => head.map_err(|e| Error::from_sdk(&what, e))?,
    };
    let len = head
        .content_length()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Internal,
                format!("{what}: the server sent no object size"),
            )
        })?;
    let expected_crc = if job.verify_checksums {
        whole_object_crc32c(&head)
    } else {
        None
    };
    let etag = head.e_tag().map(str::to_string);
    progress.set_total(len);
    sink.prepare(len).await?;
    let sink = Arc::new(sink);

    let plan = if len < job.settings.multipart_threshold.max(1) {
        PartPlan::new(len, len.max(1))
    } else {
        PartPlan::new(len, job.settings.part_size)
    };
    let whole = plan.count <= 1;
    let range_crcs = Arc::new(Mutex::new(vec![0u32; plan.count as usize]));
    {
        let (job, sink, progress, what, crcs) = (
            job.clone(),
            sink.clone(),
            progress.clone(),
            what.clone(),
            range_crcs.clone(),
        );
        run_all(
            plan.count,
            job.settings.max_concurrency,
            &progress.clone(),
            &what.clone(),
            InFlight::Drop,
            move |index| {
                let (offset, len) = plan.part(index);
                let range = Range { offset, len, whole };
                let fetched = fetch_range(
                    job.clone(),
                    sink.clone(),
                    progress.clone(),
                    etag.clone(),
                    range,
                    what.clone(),
                );
                let crcs = crcs.clone();
                async move {
                    let crc = fetched.await?;
                    crcs.lock().unwrap_or_else(|p| p.into_inner())[index as usize] = crc;
                    Ok(())
                }
            },
        )
        .await?;
    }
    progress.check(&what)?;
    if let Some(expected) = expected_crc {
        let crcs = range_crcs.lock().unwrap_or_else(|p| p.into_inner());
        let actual = (0..plan.count).fold(0u32, |crc, index| {
            crc32c::crc32c_combine(crc, crcs[index as usize], plan.part(index).1 as usize)
        });
        if actual != expected {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!("{what}: CRC32C of the received bytes is {actual:08x}, the object's is {expected:08x}"),
            ));
        }
    }
    sink.commit().await
}

/// The object's CRC32C over all its bytes, when the server keeps one. A multipart object's
/// composite checksum (a checksum of part checksums, "...-N" on S3) cannot be checked this
/// way; some stores send it without the suffix and without a type, so an object uploaded in
/// parts (ETag "...-N") counts as full-object only when the server says so.
fn whole_object_crc32c(head: &HeadObjectOutput) -> Option<u32> {
    let uploaded_in_parts = head
        .e_tag()
        .is_some_and(|etag| etag.trim_matches('"').contains('-'));
    match head.checksum_type() {
        Some(ChecksumType::FullObject) => {}
        None if !uploaded_in_parts => {}
        _ => return None,
    }
    let encoded = head.checksum_crc32_c().filter(|c| !c.contains('-'))?;
    let bytes: [u8; 4] = base64::decode(encoded).ok()?.try_into().ok()?;
    Some(u32::from_be_bytes(bytes))
}

#[derive(Debug, Clone, Copy)]
struct Range {
    offset: u64,
    len: u64,
    /// The range is the whole object: fetch it without a Range header, so the server sends
    /// (and the SDK verifies) the object's checksum.
    whole: bool,
}

/// Fetches one range, retrying it alone if its body breaks off or arrives corrupted, and
/// returns the CRC32C of its bytes.
async fn fetch_range<K: Sink>(
    job: ObjectJob,
    sink: Arc<K>,
    progress: Arc<Progress>,
    etag: Option<String>,
    range: Range,
    what: String,
) -> Result<u32> {
    let mut reported = 0u64;
    let mut attempt = 1;
    loop {
        // The SDK already retried failed requests; this loop retries bodies that broke off.
        match fetch_once(
            &job,
            sink.as_ref(),
            &progress,
            etag.as_deref(),
            range,
            &what,
            &mut reported,
        )
        .await?
        {
            Err(err) if retryable(&err) && attempt < job.max_attempts => attempt += 1,
            outcome => return outcome,
        }
    }
}

/// One GET of `range`. The outer error ends the download; the inner one may be retried.
async fn fetch_once<K: Sink>(
    job: &ObjectJob,
    sink: &K,
    progress: &Progress,
    etag: Option<&str>,
    range: Range,
    what: &str,
    reported: &mut u64,
) -> Result<Result<u32>> {
    if range.len == 0 {
        return Ok(Ok(0));
    }
    let end = range.offset + range.len - 1;
    let mut request = job
        .client
        .get_object()
        .bucket(&job.bucket)
        .key(&job.key)
        .set_if_match(etag.map(str::to_string));
    if range.whole {
        if job.verify_checksums {
            request = request.checksum_mode(ChecksumMode::Enabled);
        }
    } else {
        request = request.range(format!("bytes={}-{end}", range.offset));
    }
    let part_what = format!("{what} (bytes {}-{end})", range.offset);
    let response = request
        .send()
        .await
        .map_err(|e| Error::from_sdk(&part_what, e))?;
    let sent_len = response
        .content_length()
        .and_then(|n| u64::try_from(n).ok());
    if sent_len != Some(range.len) {
        return Ok(Err(Error::new(
            ErrorKind::Integrity,
            format!(
                "{part_what}: the server announced {sent_len:?} bytes, expected {}",
                range.len
            ),
        )));
    }
    // The SDK's read timeout ends with the response head; it bounds each wait for body bytes here.
    let read_timeout = job
        .client
        .config()
        .timeout_config()
        .and_then(|t| t.read_timeout());
    Ok(receive(
        response.body,
        sink,
        progress,
        range,
        &part_what,
        reported,
        read_timeout,
    )
    .await)
}

/// Streams one response body into the sink at the range's offset; returns its CRC32C. Waiting
/// longer than `read_timeout` for the next bytes fails it as transient, like a stalled socket.
async fn receive<K: Sink>(
    mut body: ByteStream,
    sink: &K,
    progress: &Progress,
    range: Range,
    part_what: &str,
    reported: &mut u64,
    read_timeout: Option<Duration>,
) -> Result<u32> {
    let mut gathered: Vec<Bytes> = Vec::new();
    let mut gathered_len = 0usize;
    let mut written = 0u64;
    let mut crc = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi);
    loop {
        let next = body.try_next();
        let chunk = match read_timeout {
            Some(limit) => tokio::time::timeout(limit, next).await.map_err(|_| {
                Error::new(
                    ErrorKind::Transient,
                    format!(
                        "{part_what}: no bytes of the response body arrived for {:.1}s (read_timeout)",
                        limit.as_secs_f64()
                    ),
                )
            })?,
            None => next.await,
        }
        .map_err(|e| body_error(part_what, &e))?;
        let done = chunk.is_none();
        if let Some(chunk) = chunk {
            if written + (gathered_len + chunk.len()) as u64 > range.len {
                return Err(Error::new(
                    ErrorKind::Integrity,
                    format!("{part_what}: the server sent more bytes than announced"),
                ));
            }
            crc.update(&chunk);
            gathered_len += chunk.len();
            gathered.push(chunk);
        }
        if gathered_len >= WRITE_CHUNK || (done && gathered_len > 0) {
            let len = std::mem::take(&mut gathered_len) as u64;
            sink.write_at(range.offset + written, std::mem::take(&mut gathered))
                .await?;
            written += len;
            if written > *reported {
                progress.add(written - *reported);
                *reported = written;
            }
        }
        if done {
            break;
        }
    }
    if written != range.len {
        return Err(Error::new(
            ErrorKind::Transient,
            format!(
                "{part_what}: the body ended after {written} of {} bytes",
                range.len
            ),
        ));
    }
    Ok(crc.finalize() as u32)
}

fn body_error(what: &str, err: &aws_sdk_s3::primitives::ByteStreamError) -> Error {
    let text = crate::error::error_chain(err);
    let kind = if text.to_ascii_lowercase().contains("checksum mismatch") {
        ErrorKind::Integrity
    } else {
        ErrorKind::Transient
    };
    Error::new(
        kind,
        format!("{what}: reading the response body failed: {text}"),
    )
}

/// Broken and corrupted bodies are worth another try of the same range: both usually come
/// from the network, and a retried range overwrites exactly the bytes it wrote before.
fn retryable(err: &Error) -> bool {
    matches!(err.kind(), ErrorKind::Transient | ErrorKind::Integrity)
}
