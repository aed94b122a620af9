//! Reading a range of an object into memory. The first ranged GET's answer fixes the object's
//! size (its Content-Range) and version (its ETag); a large range is fetched in parts, the
//! others in parallel and pinned to that version with `If-Match`, so that bytes of two versions
//! are never mixed. Every answer's Content-Range must name exactly the range asked for and the
//! size the first announced, and every body must have its announced length. S3 keeps no
//! checksum of an arbitrary range, so these are the checks a range gets; a range that turns
//! out to be the whole object can be checked against the object's CRC afterwards
//! ([`verify_whole_object`]).

use std::sync::Arc;

use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::types::ChecksumMode;

use super::checksum::{whole_object_checksum_of_head, WholeChecksum};

use super::download::{fetch_range, parse_content_range, Range};
use super::parts::{run_all, InFlight, PartPlan};
use super::progress::Progress;
use super::sink::Sink;
use super::ObjectJob;
use crate::error::{Error, ErrorKind, Result};

/// The object a series of reads is about: its size and version, as the first answer gave them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pin {
    pub size: u64,
    pub etag: Option<String>,
}

/// Reads `len` bytes from `offset` into `sink` (whose buffer starts at `offset`); a range that
/// runs past the end reads what exists. With `pin`, the object must still be that version;
/// without, the first answer pins it. Returns the bytes read and the pin. An `offset` beyond
/// the object's size is an invalid argument naming the size; one equal to it reads nothing.
pub async fn read_range<K: Sink>(
    job: &ObjectJob,
    sink: Arc<K>,
    offset: u64,
    len: u64,
    pin: Option<Pin>,
) -> Result<(u64, Pin)> {
    let what = format!("read of {len} bytes at offset {offset} of {}", job.uri());
    let progress = Progress::new();
    let large = len >= job.settings.multipart_threshold.max(1);
    let first_len = if large {
        job.settings.part_size.min(len)
    } else {
        len
    };
    let (pin, done) = match pin {
        Some(pin) => (pin, 0),
        None if len == 0 => (head_pin(job, &what).await?, 0),
        None => match open_first(job, offset, first_len, &what).await? {
            First::Beyond => (head_pin(job, &what).await?, 0),
            First::Opened { pin, body, range } => {
                let first = fetch_range(
                    job.clone(),
                    sink.clone(),
                    progress.clone(),
                    pin.etag.clone(),
                    range,
                    Some(body),
                    None,
                    what.clone(),
                );
                first.await?;
                (pin, range.len)
            }
        },
    };
    if offset > pin.size {
        return Err(Error::invalid(format!(
            "{what}: the offset is beyond the end of the object, which is {} bytes",
            pin.size
        )));
    }
    let end = offset.saturating_add(len).min(pin.size);
    let start = offset + done;
    if start < end {
        let rest = end - start;
        let plan = if large {
            PartPlan::new(rest, job.settings.part_size)
        } else {
            PartPlan::new(rest, rest)
        };
        let (job, size, etag) = (job.clone(), pin.size, pin.etag.clone());
        let part_what = what.clone();
        run_all(
            plan.count,
            job.settings.max_concurrency,
            &progress.clone(),
            &what,
            InFlight::Drop,
            move |index| {
                let (part_offset, part_len) = plan.part(index);
                let fetched = fetch_range(
                    job.clone(),
                    sink.clone(),
                    progress.clone(),
                    etag.clone(),
                    Range::ranged(start + part_offset, part_len, size),
                    None,
                    None,
                    part_what.clone(),
                );
                async move { fetched.await.map(|_| ()) }
            },
        )
        .await?;
    }
    Ok((end - offset, pin))
}

/// Checks `bytes`, all of the pinned object, against the object's CRC32, CRC32C or CRC64NVME
/// when it has one: a HEAD asks for the checksum, pinned with `If-Match` to the version the
/// bytes came from. Objects with only a SHA or a composite checksum pass unchecked.
pub async fn verify_whole_object(job: &ObjectJob, pin: &Pin, bytes: &[u8]) -> Result<()> {
    let what = format!("checking the {} bytes read of {}", bytes.len(), job.uri());
    let head = job
        .client
        .head_object()
        .bucket(&job.bucket)
        .key(&job.key)
        .set_if_match(pin.etag.clone())
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .map_err(|e| Error::from_sdk(&what, e))?;
    let WholeChecksum::Crc { crc, value } = whole_object_checksum_of_head(&head) else {
        return Ok(());
    };
    let mut digest = crc.digest();
    digest.update(bytes);
    let actual = digest.finalize();
    if actual != value {
        return Err(Error::new(
            ErrorKind::Integrity,
            format!(
                "{what}: their {} is {actual:x}, the object's is {value:x}",
                crc.name()
            ),
        ));
    }
    Ok(())
}

/// The object's size and version from a HEAD.
pub async fn head_pin(job: &ObjectJob, what: &str) -> Result<Pin> {
    let head = job
        .client
        .head_object()
        .bucket(&job.bucket)
        .key(&job.key)
        .send()
        .await
        .map_err(|e| Error::from_sdk(what, e))?;
    let size = head
        .content_length()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Internal,
                format!("{what}: the server sent no size"),
            )
        })?;
    Ok(Pin {
        size,
        etag: head.e_tag().map(str::to_string),
    })
}

enum First {
    /// The range starts at or after the end (HTTP 416): only a HEAD can tell the size.
    Beyond,
    /// The answer to the first range, its body still to be read.
    Opened {
        pin: Pin,
        body: aws_sdk_s3::primitives::ByteStream,
        range: Range,
    },
}

/// The first range's GET, which pins the object: its Content-Range gives the size.
async fn open_first(job: &ObjectJob, offset: u64, len: u64, what: &str) -> Result<First> {
    let last = offset.saturating_add(len - 1);
    let sent = job
        .client
        .get_object()
        .bucket(&job.bucket)
        .key(&job.key)
        .range(format!("bytes={offset}-{last}"))
        .send()
        .await;
    let answer: GetObjectOutput = match sent {
        Ok(answer) => answer,
        Err(SdkError::ServiceError(service)) if service.raw().status().as_u16() == 416 => {
            return Ok(First::Beyond)
        }
        Err(err) => return Err(Error::from_sdk(what, err)),
    };
    let announced = answer.content_range().and_then(parse_content_range);
    let Some((first, last_sent, size)) = announced else {
        return Err(Error::new(
            ErrorKind::Integrity,
            format!(
                "{what}: the server answered for {:?}, expected bytes {offset}-{last}",
                answer.content_range().unwrap_or("no Content-Range")
            ),
        ));
    };
    let expected_last = last.min(size.saturating_sub(1));
    let sent_len = answer.content_length().and_then(|n| u64::try_from(n).ok());
    if first != offset || last_sent != expected_last || sent_len != Some(last_sent - first + 1) {
        return Err(Error::new(
            ErrorKind::Integrity,
            format!(
                "{what}: the server answered for bytes {first}-{last_sent}/{size} with {sent_len:?} bytes, expected bytes {offset}-{expected_last}/{size}"
            ),
        ));
    }
    let pin = Pin {
        size,
        etag: answer.e_tag().map(str::to_string),
    };
    Ok(First::Opened {
        pin,
        body: answer.body,
        range: Range::ranged(offset, last_sent - first + 1, size),
    })
}
