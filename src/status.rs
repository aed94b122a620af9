//! The status codes of the C API, beside the error kinds they report. Values are part of the
//! ABI: new ones are appended, existing ones never change.
#![allow(non_camel_case_types)]

use std::ffi::CStr;

use crate::error::ErrorKind;

/// The outcome of every fallible s3os call. On anything but `S3OS_OK`,
/// `s3os_last_error()` describes what failed and why.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum s3os_status {
    /// Success.
    S3OS_OK = 0,
    /// A NULL pointer, non-UTF-8 string, unknown key, unparsable value or a name S3 cannot hold;
    /// or a request the server refuses for what it asks rather than for who asks: a feature it
    /// does not implement (HTTP 501), an archived object that must be restored first
    /// (InvalidObjectState). Retrying the same call does not help.
    S3OS_INVALID_ARGUMENT = 1,
    /// The object or bucket does not exist (HTTP 404, NoSuchKey, NoSuchBucket).
    S3OS_NOT_FOUND = 2,
    /// The download destination exists and `overwrite` was false. Nothing was transferred.
    S3OS_ALREADY_EXISTS = 3,
    /// The credentials were rejected or lack permission (HTTP 403, bad signature, unknown key).
    S3OS_PERMISSION_DENIED = 4,
    /// Throttling, 5xx, timeouts or connection failures that outlasted the retries: retry later.
    S3OS_TRANSIENT = 5,
    /// A progress callback returned nonzero. Partial work was cleaned up.
    S3OS_CANCELLED = 6,
    /// A local file could not be read, created or written.
    S3OS_IO = 7,
    /// Received bytes did not match their checksum or announced length.
    S3OS_INTEGRITY = 8,
    /// A bug in s3os, or an answer it could not interpret.
    S3OS_INTERNAL = 9,
    /// No secure connection could be made: the server's certificate did not verify (unknown
    /// issuer, wrong host name, expired) or the endpoint does not speak TLS. Not retried, since
    /// retrying cannot help; the message names the problem. Fix the endpoint or the trust
    /// configuration.
    S3OS_TLS = 10,
    /// The caller's buffer cannot hold the object (`s3os_download_buffer`); nothing was
    /// written into it, and the object's size was reported so that a large enough buffer can
    /// be supplied.
    S3OS_BUFFER_TOO_SMALL = 11,
    /// A background transfer is still running: `s3os_transfer_wait` timed out before it
    /// finished. Not a failure; wait again, poll its progress, or cancel it.
    S3OS_IN_PROGRESS = 12,
}

impl s3os_status {
    /// The status that reports an error of `kind`.
    pub fn of(kind: ErrorKind) -> s3os_status {
        match kind {
            ErrorKind::InvalidArgument => s3os_status::S3OS_INVALID_ARGUMENT,
            ErrorKind::NotFound => s3os_status::S3OS_NOT_FOUND,
            ErrorKind::AlreadyExists => s3os_status::S3OS_ALREADY_EXISTS,
            ErrorKind::PermissionDenied => s3os_status::S3OS_PERMISSION_DENIED,
            ErrorKind::Transient => s3os_status::S3OS_TRANSIENT,
            ErrorKind::Cancelled => s3os_status::S3OS_CANCELLED,
            ErrorKind::Io => s3os_status::S3OS_IO,
            ErrorKind::Integrity => s3os_status::S3OS_INTEGRITY,
            ErrorKind::Internal => s3os_status::S3OS_INTERNAL,
            ErrorKind::Tls => s3os_status::S3OS_TLS,
            ErrorKind::BufferTooSmall => s3os_status::S3OS_BUFFER_TOO_SMALL,
            ErrorKind::InProgress => s3os_status::S3OS_IN_PROGRESS,
        }
    }

    /// The name of the status with value `value`, for any value.
    pub fn name_of(value: i32) -> &'static CStr {
        match value {
            0 => c"S3OS_OK",
            1 => c"S3OS_INVALID_ARGUMENT",
            2 => c"S3OS_NOT_FOUND",
            3 => c"S3OS_ALREADY_EXISTS",
            4 => c"S3OS_PERMISSION_DENIED",
            5 => c"S3OS_TRANSIENT",
            6 => c"S3OS_CANCELLED",
            7 => c"S3OS_IO",
            8 => c"S3OS_INTEGRITY",
            9 => c"S3OS_INTERNAL",
            10 => c"S3OS_TLS",
            11 => c"S3OS_BUFFER_TOO_SMALL",
            12 => c"S3OS_IN_PROGRESS",
            _ => c"S3OS_UNKNOWN_STATUS",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_is_named_after_itself() {
        for value in 0..=12 {
            let name = s3os_status::name_of(value).to_str().unwrap();
            assert!(name.starts_with("S3OS_") && name != "S3OS_UNKNOWN_STATUS");
        }
        let kinds = [
            ErrorKind::InvalidArgument,
            ErrorKind::NotFound,
            ErrorKind::AlreadyExists,
            ErrorKind::PermissionDenied,
            ErrorKind::Transient,
            ErrorKind::Cancelled,
            ErrorKind::Io,
            ErrorKind::Integrity,
            ErrorKind::Internal,
            ErrorKind::Tls,
            ErrorKind::BufferTooSmall,
            ErrorKind::InProgress,
        ];
        for kind in kinds {
            let status = s3os_status::of(kind);
            assert_eq!(
                s3os_status::name_of(status as i32).to_str().unwrap(),
                format!("{status:?}")
            );
        }
        assert_eq!(
            s3os_status::name_of(13).to_str().unwrap(),
            "S3OS_UNKNOWN_STATUS"
        );
    }
}
