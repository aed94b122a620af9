//! Downloads: one GET of the whole object, which is all a small object needs; for a larger one
//! that GET's body serves the first part and ranged GETs, pinned with If-Match to its ETag,
//! fetch the others in parallel, each written at its offset into the sink.
//!
//! Lengths are checked against two sources: every ranged answer's Content-Range must name
//! exactly the range asked for and the size the first answer announced. An object fetched in
//! one GET whose bytes no checksum covers has only that answer's Content-Length, which a
//! listing's size confirms when the object was listed (a batch of a prefix), and a HEAD when
//! `confirm_size_with_head` asks for one. When the server
//! keeps a CRC of the whole object (CRC32, CRC32C or CRC64NVME), the CRCs of the ranges are
//! combined and compared with it before commit; an object with only a SHA comes in one stream
//! the SDK checks (see `checksum`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ChecksumMode;

use super::checksum::{whole_object_checksum, Crc, WholeChecksum};
use super::parts::{run_all, InFlight, PartPlan};
use super::progress::Progress;
use super::receive::{receive, Reading, WRITE_CHUNK};
use super::sink::Sink;
use super::ObjectJob;
use crate::error::{Error, ErrorKind, Result};

/// Downloads the job's object into `sink` and commits it.
pub async fn download<K: Sink>(job: ObjectJob, sink: K, progress: Arc<Progress>) -> Result<()> {
    let what = format!("download of {}", job.uri());
    let mut get = job.client.get_object().bucket(&job.bucket).key(&job.key);
    if job.verify_checksums {
        get = get.checksum_mode(ChecksumMode::Enabled);
    }
    let reserved = job.reserve(WRITE_CHUNK as u64, &progress, &what).await?;
    let first = tokio::select! {
        biased;
        () = progress.cancelled() => return Err(Error::cancelled(&what)),
        first = get.send() => first.map_err(|e| Error::from_sdk(&what, e))?,
    };
    drop(reserved);
    let len = first
        .content_length()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Internal,
                format!("{what}: the server sent no object size"),
            )
        })?;
    let checksum = if job.verify_checksums {
        whole_object_checksum(&first)
    } else {
        WholeChecksum::Nothing
    };
    let expected_crc = match checksum {
        WholeChecksum::Crc { crc, value } => Some((crc, value)),
        _ => None,
    };
    let etag = first.e_tag().map(str::to_string);
    let one_stream =
        len < job.settings.multipart_threshold.max(1) || checksum == WholeChecksum::Sha;
    let plan = if one_stream {
        PartPlan::new(len, len.max(1))
    } else {
        PartPlan::new(len, job.settings.part_size)
    };
    let whole = plan.count <= 1;
    if whole && !(job.verify_checksums && carries_checksum(&first)) {
        // No checksum covers these bytes, so only their length can be checked, and the GET's
        // own Content-Length cannot vouch for itself: a second word on the size is needed.
        match job.listed_len {
            // The listing agrees: the body is what the object holds.
            Some(listed) if listed == len => {}
            // Changed since it was listed, or a wrong length: a HEAD decides.
            Some(_) => confirm_size(&job, len, &what).await?,
            None if job.confirm_size_with_head => confirm_size(&job, len, &what).await?,
            None => {}
        }
    }
    if whole {
        log_debug!("{what}: {len} bytes in one stream");
    } else {
        log_debug!(
            "{what}: {len} bytes in {} ranges of {} bytes, {} at a time",
            plan.count,
            plan.part_size,
            job.settings.max_concurrency.min(plan.count as usize)
        );
    }
    progress.set_total(len);
    sink.prepare(len).await?;
    let sink = Arc::new(sink);
    let first_body = Arc::new(Mutex::new(Some(first.body)));

    let range_crcs = Arc::new(Mutex::new(vec![(0u64, 0u64); plan.count as usize]));
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
                let (offset, part_len) = plan.part(index);
                let range = Range {
                    offset,
                    len: part_len,
                    object_len: len,
                    whole,
                };
                let opened = if index == 0 {
                    first_body.lock().unwrap_or_else(|p| p.into_inner()).take()
                } else {
                    None
                };
                let reserving = job.clone();
                let (reserve_progress, reserve_what) = (progress.clone(), what.clone());
                let fetched = fetch_range(
                    job.clone(),
                    sink.clone(),
                    progress.clone(),
                    etag.clone(),
                    range,
                    opened,
                    expected_crc.map(|(crc, _)| crc),
                    what.clone(),
                );
                let crcs = crcs.clone();
                async move {
                    let _reserved = reserving
                        .reserve(
                            part_len.min(WRITE_CHUNK as u64),
                            &reserve_progress,
                            &reserve_what,
                        )
                        .await?;
                    let crc = fetched.await?;
                    crcs.lock().unwrap_or_else(|p| p.into_inner())[index as usize] = crc;
                    Ok(())
                }
            },
        )
        .await?;
    }
    progress.check(&what)?;
    if let Some((crc, expected)) = expected_crc {
        let actual = crc.of_ranges(&range_crcs.lock().unwrap_or_else(|p| p.into_inner()));
        if actual != expected {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!(
                    "{what}: the {} of the received bytes is {actual:x}, the object's is {expected:x}",
                    crc.name()
                ),
            ));
        }
    }
    sink.commit().await
}

/// Whether the answer carries a whole-object checksum the SDK verifies the body against (it
/// leaves composite "...-N" checksums alone).
fn carries_checksum(answer: &GetObjectOutput) -> bool {
    [
        answer.checksum_crc32(),
        answer.checksum_crc32_c(),
        answer.checksum_crc64_nvme(),
        answer.checksum_sha1(),
        answer.checksum_sha256(),
    ]
    .into_iter()
    .flatten()
    .any(|checksum| !checksum.contains('-'))
}

/// A HEAD's word on the size of an object whose one GET nothing else checks: a body that
/// matches a wrong Content-Length would otherwise be taken whole.
async fn confirm_size(job: &ObjectJob, len: u64, what: &str) -> Result<()> {
    let size = job.head_size(what).await?;
    if size == Some(len) {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::Integrity,
        format!("{what}: the GET announced {len} bytes, a HEAD {size:?}"),
    ))
}

#[derive(Debug, Clone, Copy)]
pub struct Range {
    pub offset: u64,
    pub len: u64,
    /// The size of the whole object, which a ranged answer's Content-Range must name.
    object_len: u64,
    /// The range is the whole object: fetch it without a Range header, so the server sends
    /// (and the SDK verifies) the object's checksum.
    whole: bool,
}

impl Range {
    /// `len` bytes from `offset` of an object of `object_len` bytes, fetched with a Range
    /// header whose answer must name exactly this range and size.
    pub fn ranged(offset: u64, len: u64, object_len: u64) -> Range {
        Range {
            offset,
            len,
            object_len,
            whole: false,
        }
    }
}

/// Fetches one range, retrying it alone if its body breaks off or arrives corrupted, and
/// returns the `crc` of its bytes (0 without one) and their number. `opened` is the body of a
/// GET of the whole object, whose first `range.len` bytes are this range: the first attempt
/// reads them from it.
#[allow(clippy::too_many_arguments)]
pub(super) async fn fetch_range<K: Sink>(
    job: ObjectJob,
    sink: Arc<K>,
    progress: Arc<Progress>,
    etag: Option<String>,
    mut range: Range,
    mut opened: Option<ByteStream>,
    crc: Option<Crc>,
    what: String,
) -> Result<(u64, u64)> {
    let mut reported = 0u64;
    let mut attempt = 1;
    let started = std::time::Instant::now();
    loop {
        // The SDK already retried failed requests; this loop retries bodies that broke off.
        let part_what = format!(
            "{what} (bytes {}-{})",
            range.offset,
            (range.offset + range.len).saturating_sub(1)
        );
        let outcome = match opened.take() {
            Some(body) => {
                receive(
                    body,
                    sink.as_ref(),
                    &progress,
                    range,
                    &part_what,
                    &mut reported,
                    Reading {
                        read_timeout: read_timeout(&job),
                        body_goes_on: !range.whole,
                        crc,
                    },
                )
                .await
            }
            None => {
                fetch_once(
                    &job,
                    sink.as_ref(),
                    &progress,
                    etag.as_deref(),
                    &mut range,
                    crc,
                    &part_what,
                    &mut reported,
                )
                .await?
            }
        };
        match outcome {
            Err(err) if retryable(&err) && attempt < job.max_attempts => {
                log_warn!(
                    "{part_what}: fetching the range again (attempt {} of {}) after: {}",
                    attempt + 1,
                    job.max_attempts,
                    err.message()
                );
                attempt += 1
            }
            outcome => {
                if outcome.is_ok() {
                    log_trace!(
                        "{part_what}: received in {:.1} ms",
                        started.elapsed().as_secs_f64() * 1e3
                    );
                }
                return outcome.map(|crc| (crc, range.len));
            }
        }
    }
}

/// The SDK's read timeout ends with the response head; it bounds each wait for body bytes here.
fn read_timeout(job: &ObjectJob) -> Option<Duration> {
    job.client
        .config()
        .timeout_config()
        .and_then(|t| t.read_timeout())
}

/// One GET of `range`. The outer error ends the download; the inner one may be retried.
#[allow(clippy::too_many_arguments)]
async fn fetch_once<K: Sink>(
    job: &ObjectJob,
    sink: &K,
    progress: &Progress,
    etag: Option<&str>,
    range: &mut Range,
    crc: Option<Crc>,
    part_what: &str,
    reported: &mut u64,
) -> Result<Result<u64>> {
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
    let response = request
        .send()
        .await
        .map_err(|e| Error::from_sdk(part_what, e))?;
    let sent_len = response
        .content_length()
        .and_then(|n| u64::try_from(n).ok());
    if let (true, Some(len)) = (range.whole, sent_len) {
        if len != range.len {
            // The answer that set the size and this one disagree: a HEAD decides, and if it
            // sides with this one the first answer was wrong; the sink takes the new size and
            // this answer's body is received whole.
            if let Err(err) = confirm_size(job, len, part_what).await {
                return Ok(Err(err));
            }
            sink.prepare(len).await?;
            progress.set_total(len);
            *range = Range {
                len,
                object_len: len,
                ..*range
            };
        }
    }
    if sent_len != Some(range.len) {
        return Ok(Err(Error::new(
            ErrorKind::Integrity,
            format!(
                "{part_what}: the server announced {sent_len:?} bytes, expected {}",
                range.len
            ),
        )));
    }
    if !range.whole {
        let wanted = (range.offset, range.offset + range.len - 1, range.object_len);
        let answered = response.content_range().and_then(parse_content_range);
        if answered != Some(wanted) {
            return Ok(Err(Error::new(
                ErrorKind::Integrity,
                format!(
                    "{part_what}: the server answered for {:?}, expected bytes {}-{}/{}",
                    response.content_range().unwrap_or("no Content-Range"),
                    wanted.0,
                    wanted.1,
                    wanted.2
                ),
            )));
        }
    }
    Ok(receive(
        response.body,
        sink,
        progress,
        *range,
        part_what,
        reported,
        Reading {
            read_timeout: read_timeout(job),
            body_goes_on: false,
            crc,
        },
    )
    .await)
}

/// The first byte, last byte and object size of a Content-Range header, `bytes 0-99/1234`.
pub(super) fn parse_content_range(header: &str) -> Option<(u64, u64, u64)> {
    let (range, total) = header.trim().strip_prefix("bytes ")?.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    Some((
        first.trim().parse().ok()?,
        last.trim().parse().ok()?,
        total.trim().parse().ok()?,
    ))
}

/// Broken and corrupted bodies are worth another try of the same range: both usually come
/// from the network, and a retried range overwrites exactly the bytes it wrote before.
fn retryable(err: &Error) -> bool {
    matches!(err.kind(), ErrorKind::Transient | ErrorKind::Integrity)
}

#[cfg(test)]
mod tests {
    use super::parse_content_range;

    #[test]
    fn content_range_gives_the_range_and_the_object_size() {
        assert_eq!(parse_content_range("bytes 0-99/1234"), Some((0, 99, 1234)));
        assert_eq!(
            parse_content_range("bytes 8388608-16777215/4299161617"),
            Some((8_388_608, 16_777_215, 4_299_161_617))
        );
        assert_eq!(parse_content_range("bytes 0-99/*"), None);
        assert_eq!(parse_content_range("bytes */1234"), None);
        assert_eq!(parse_content_range("garbage"), None);
    }
}
