//! The end of a multipart upload: completing it, or aborting it so no parts stay behind.
//!
//! A completion can fail after the server carried it out: its answer was lost, the SDK sent
//! it again, and the server, which no longer knows the upload, refused (NoSuchUpload; some
//! stores say AccessDenied). Reporting that failure would tell the caller an upload that
//! worked did not, so after any failed completion the object is looked up and accepted if it
//! is provably made of the uploaded parts: its ETag is the one S3 derives from exactly their
//! ETags. A matching length and CRC32C are not proof: another writer can store different bytes
//! with both (CRC32C collisions are easy to construct).

use aws_sdk_s3::types::{ChecksumType, CompletedMultipartUpload, CompletedPart};
use md5::{Digest, Md5};

use super::progress::Progress;
use super::{crc32c_base64, ObjectJob};
use crate::error::{Error, Result};

/// What the finished object must look like.
pub struct Expected {
    pub parts: Vec<CompletedPart>,
    pub len: u64,
    /// The CRC32C of all bytes, when it is sent as a FULL_OBJECT checksum.
    pub object_crc: Option<u32>,
}

pub async fn complete(
    job: &ObjectJob,
    upload_id: &str,
    expected: Expected,
    progress: &Progress,
    what: &str,
) -> Result<()> {
    progress.check(what)?;
    let mut request = job
        .client
        .complete_multipart_upload()
        .bucket(&job.bucket)
        .key(&job.key)
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(expected.parts.clone()))
                .build(),
        );
    if let Some(crc) = expected.object_crc {
        request = request
            .checksum_crc32_c(crc32c_base64(crc))
            .checksum_type(ChecksumType::FullObject);
    }
    let err = match request.send().await {
        Ok(_) => return Ok(()),
        Err(err) => err,
    };
    let err = Error::from_sdk(&format!("{what} (completing)"), err);
    if is_the_uploaded_object(job, &expected).await {
        // Normally the upload is gone; if the same bytes were stored earlier and this
        // completion really failed, its parts must still go.
        let _ = abort_once(job, upload_id).await;
        return Ok(());
    }
    Err(err)
}

/// Whether the object now under the key has the uploaded length and the ETag S3 derives from
/// exactly these parts. Stores whose part ETags are not MD5s give no such proof, and then the
/// completion's error stands.
async fn is_the_uploaded_object(job: &ObjectJob, expected: &Expected) -> bool {
    let Some(wanted) = multipart_etag(&expected.parts) else {
        return false;
    };
    let Ok(found) = job
        .client
        .head_object()
        .bucket(&job.bucket)
        .key(&job.key)
        .send()
        .await
    else {
        return false;
    };
    found.content_length() == i64::try_from(expected.len).ok()
        && found.e_tag().map(|etag| etag.trim_matches('"')) == Some(wanted.as_str())
}

/// The ETag S3 gives an object assembled from `parts`: the MD5 of their binary MD5s, then
/// `-` and their number. `None` when a part's ETag is not an MD5 (encrypted objects, some
/// stores), as then nothing can be derived.
fn multipart_etag(parts: &[CompletedPart]) -> Option<String> {
    let mut md5 = Md5::new();
    for part in parts {
        md5.update(hex_bytes(part.e_tag()?.trim_matches('"'))?);
    }
    let digest: String = md5.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("{digest}-{}", parts.len()))
}

fn hex_bytes(hex: &str) -> Option<[u8; 16]> {
    let mut bytes = [0u8; 16];
    if hex.len() != 32 {
        return None;
    }
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(bytes)
}

/// Aborts the upload so that no parts are left behind, and returns the error that caused it,
/// with a note if the abort itself failed. A part the server was still storing when the abort
/// came may survive it (S3 documents this), so the upload is looked up again afterwards and
/// aborted once more while it still lists parts.
pub async fn abort(job: &ObjectJob, upload_id: &str, cause: Error) -> Error {
    log_debug!(
        "aborting multipart upload {upload_id} of {} after: {}",
        job.uri(),
        cause.message()
    );
    match try_abort(job, upload_id).await {
        Ok(()) => cause,
        Err(e) => {
            log_error!(
                "aborting multipart upload {upload_id} of {} failed; its parts may remain on the server: {}",
                job.uri(),
                e.message()
            );
            Error::new(
                cause.kind(),
                format!(
                    "{cause}; aborting multipart upload {upload_id} also failed, so its parts may remain on the server: {e}"
                ),
            )
        }
    }
}

/// Aborts the upload as [`abort`] does; the error is the abort's own.
pub async fn try_abort(job: &ObjectJob, upload_id: &str) -> Result<()> {
    let mut aborted = abort_once(job, upload_id).await;
    for pause_ms in [100, 400] {
        if aborted.is_err() || !still_has_parts(job, upload_id).await {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(pause_ms)).await;
        aborted = abort_once(job, upload_id).await;
    }
    aborted
}

/// Aborts the upload once. An upload the server no longer knows (NoSuchUpload) has no parts
/// left to remove, which is what aborting is for.
async fn abort_once(job: &ObjectJob, upload_id: &str) -> Result<()> {
    let aborted = job
        .client
        .abort_multipart_upload()
        .bucket(&job.bucket)
        .key(&job.key)
        .upload_id(upload_id)
        .send()
        .await;
    match aborted {
        Ok(_) => Ok(()),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_no_such_upload()) =>
        {
            Ok(())
        }
        Err(err) => Err(Error::from_sdk("abort", err)),
    }
}

/// Whether the server still lists parts of an upload that was aborted. Any error (normally
/// NoSuchUpload) means there is nothing left to abort.
async fn still_has_parts(job: &ObjectJob, upload_id: &str) -> bool {
    job.client
        .list_parts()
        .bucket(&job.bucket)
        .key(&job.key)
        .upload_id(upload_id)
        .max_parts(1)
        .send()
        .await
        .is_ok_and(|listed| !listed.parts().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(etag: &str) -> CompletedPart {
        CompletedPart::builder().e_tag(etag).build()
    }

    #[test]
    fn multipart_etag_follows_the_s3_rule() {
        // Two parts whose MD5s are those of "a" and "b"; the value is md5(md5("a") ++ md5("b")),
        // computed independently with Python's hashlib.
        let parts = [
            part("\"0cc175b9c0f1b6a831c399e269772661\""),
            part("92eb5ffee6ae2fec3ad71c777531578f"),
        ];
        assert_eq!(
            multipart_etag(&parts).as_deref(),
            Some("96e024ba2074fe77e8e965ba43a704be-2")
        );
    }

    #[test]
    fn etags_that_are_not_md5_give_nothing() {
        assert_eq!(multipart_etag(&[part("\"abc\"")]), None);
        assert_eq!(
            multipart_etag(&[part("zz175b9c0f1b6a831c399e269772661z")]),
            None
        );
        assert_eq!(multipart_etag(&[CompletedPart::builder().build()]), None);
    }
}
