//! Downloads: the object's size and ETag from a HEAD, then one GET (small objects) or ranged
//! GETs in parallel, each pinned to that ETag and written at its offset into the sink.

use std::sync::Arc;

use aws_sdk_s3::types::ChecksumMode;
use bytes::{Bytes, BytesMut};

use super::parts::{run_all, PartPlan};
use super::progress::Progress;
use super::sink::Sink;
use super::ObjectJob;
use crate::error::{Error, ErrorKind, Result};

/// Bytes gathered from the network before one positioned write.
const WRITE_CHUNK: usize = 1024 * 1024;

/// Downloads the job's object into `sink` and commits it.
pub async fn download<K: Sink>(job: ObjectJob, sink: K, progress: Arc<Progress>) -> Result<()> {
    let what = format!("download of {}", job.uri());
    let head = tokio::select! {
        biased;
        () = progress.cancelled() => return Err(Error::cancelled(&what)),
        head = job.client.head_object().bucket(&job.bucket).key(&job.key).send() => {
            head.map_err(|e| Error::from_sdk(&what, e))?
        }
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
    {
        let (job, sink, progress, what) =
            (job.clone(), sink.clone(), progress.clone(), what.clone());
        run_all(
            plan.count,
            job.settings.max_concurrency,
            &progress.clone(),
            &what.clone(),
            move |index| {
                let range = Range {
                    offset: plan.part(index).0,
                    len: plan.part(index).1,
                    whole,
                };
                fetch_range(
                    job.clone(),
                    sink.clone(),
                    progress.clone(),
                    etag.clone(),
                    range,
                    what.clone(),
                )
            },
        )
        .await?;
    }
    progress.check(&what)?;
    sink.commit().await
}

#[derive(Debug, Clone, Copy)]
struct Range {
    offset: u64,
    len: u64,
    /// The range is the whole object: fetch it without a Range header, so the server sends
    /// (and the SDK verifies) the object's checksum.
    whole: bool,
}

/// Fetches one range, retrying it alone if its body breaks off mid-stream.
async fn fetch_range<K: Sink>(
    job: ObjectJob,
    sink: Arc<K>,
    progress: Arc<Progress>,
    etag: Option<String>,
    range: Range,
    what: String,
) -> Result<()> {
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

async fn fetch_once<K: Sink>(
    job: &ObjectJob,
    sink: &K,
    progress: &Progress,
    etag: Option<&str>,
    range: Range,
    what: &str,
    reported: &mut u64,
) -> Result<Result<()>> {
    if range.len == 0 {
        return Ok(Ok(()));
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
    Ok(receive(response.body, sink, progress, range, &part_what, reported).await)
}

/// Streams one response body into the sink at the range's offset.
async fn receive<K: Sink>(
    mut body: aws_sdk_s3::primitives::ByteStream,
    sink: &K,
    progress: &Progress,
    range: Range,
    part_what: &str,
    reported: &mut u64,
) -> Result<()> {
    let mut buffer = BytesMut::with_capacity(WRITE_CHUNK.min(range.len as usize));
    let mut written = 0u64;
    loop {
        let chunk = body
            .try_next()
            .await
            .map_err(|e| body_error(part_what, &e))?;
        let done = chunk.is_none();
        if let Some(chunk) = chunk {
            if written + (buffer.len() + chunk.len()) as u64 > range.len {
                return Err(Error::new(
                    ErrorKind::Integrity,
                    format!("{part_what}: the server sent more bytes than announced"),
                ));
            }
            buffer.extend_from_slice(&chunk);
        }
        if buffer.len() >= WRITE_CHUNK || (done && !buffer.is_empty()) {
            let data: Bytes = buffer.split().freeze();
            let len = data.len() as u64;
            sink.write_at(range.offset + written, data).await?;
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
    Ok(())
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
