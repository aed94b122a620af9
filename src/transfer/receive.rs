//! Reading one response body of a download into the sink: positioned writes of the chunks as
//! they arrive, a CRC of every byte when the object has one to compare with, and a bound on
//! each wait for more bytes.

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

use super::checksum::Crc;
use super::download::Range;
use super::progress::Progress;
use super::sink::Sink;
use crate::error::{Error, ErrorKind, Result};

/// Bytes gathered from the network (as the chunks they arrived in) before one positioned write.
pub(crate) const WRITE_CHUNK: usize = 1024 * 1024;

/// How to read a body.
pub struct Reading {
    pub read_timeout: Option<Duration>,
    /// The body is a longer one's start (a whole-object GET serving the first range): stop at
    /// the range's end instead of taking more bytes for an error.
    pub body_goes_on: bool,
    /// The CRC to compute over the body, if any.
    pub crc: Option<Crc>,
}

/// Streams one response body into the sink at the range's offset; returns its CRC (0 without
/// one). Waiting
/// longer than `read_timeout` for the next bytes fails it as transient, like a stalled socket.
pub async fn receive<K: Sink>(
    mut body: ByteStream,
    sink: &K,
    progress: &Progress,
    range: Range,
    part_what: &str,
    reported: &mut u64,
    reading: Reading,
) -> Result<u64> {
    let Reading {
        read_timeout,
        body_goes_on,
        crc,
    } = reading;
    let mut gathered: Vec<Bytes> = Vec::new();
    let mut gathered_len = 0usize;
    let mut written = 0u64;
    let mut digest = crc.map(Crc::digest);
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
        let mut done = chunk.is_none();
        if let Some(mut chunk) = chunk {
            let wanted = range.len - written - gathered_len as u64;
            if body_goes_on && chunk.len() as u64 >= wanted {
                // The rest belongs to other ranges; dropping the body closes its connection.
                chunk.truncate(wanted as usize);
                done = true;
            }
            if chunk.len() as u64 > wanted {
                return Err(Error::new(
                    ErrorKind::Integrity,
                    format!("{part_what}: the server sent more bytes than announced"),
                ));
            }
            if let Some(digest) = digest.as_mut() {
                digest.update(&chunk);
            }
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
    Ok(digest.map_or(0, |digest| digest.finalize()))
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
