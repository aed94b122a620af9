//! The error type of the engine: a kind a caller can act on plus a message a person understands.

use std::fmt;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use crate::net::ProxyRefused;

/// What went wrong, in terms of what the caller should do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The caller passed something unusable; retrying will not help.
    InvalidArgument,
    /// The object (or bucket) does not exist.
    NotFound,
    /// The destination exists and overwriting was not allowed.
    AlreadyExists,
    /// The credentials were rejected or lack permission.
    PermissionDenied,
    /// Throttling, server errors, timeouts or network failures that outlasted the retries.
    Transient,
    /// The caller asked to stop.
    Cancelled,
    /// A local file could not be read or written.
    Io,
    /// Bytes did not match their checksum or expected length.
    Integrity,
    /// A bug in s3os or an answer it cannot interpret.
    Internal,
    /// No secure connection: the certificate did not verify, or the endpoint does not speak TLS.
    Tls,
    /// The caller's buffer is smaller than the object.
    BufferTooSmall,
    /// A background transfer had not finished when the wait for it ended.
    InProgress,
}

/// An engine error: its kind and a complete, human-readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

/// Engine result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    pub fn cancelled(what: &str) -> Self {
        Self::new(
            ErrorKind::Cancelled,
            format!("{what}: cancelled by the caller"),
        )
    }

    pub fn io(what: &str, err: &std::io::Error) -> Self {
        Self::new(ErrorKind::Io, format!("{what}: {err}"))
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether trying the same request again may succeed.
    pub fn is_transient(&self) -> bool {
        self.kind == ErrorKind::Transient
    }

    /// Replaces every occurrence of each secret with `***`, so that credentials never reach a log.
    pub fn redact(mut self, secrets: &[&str]) -> Self {
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            if self.message.contains(secret) {
                self.message = self.message.replace(secret, "***");
            }
        }
        self
    }

    /// Replaces every secret the library has seen (keys and tokens of credential sources,
    /// proxy passwords) with `***`.
    pub fn redact_known(mut self) -> Self {
        self.message = crate::log::scrub(std::mem::take(&mut self.message));
        self
    }

    /// Builds an error from an SDK failure of operation `what` (which names the bucket and key).
    pub fn from_sdk<E>(what: &str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let kind = classify_sdk(&err);
        let cause = match &err {
            SdkError::ServiceError(service) if service.raw().status().as_u16() == 407 => {
                "HTTP 407 Proxy Authentication Required: the proxy wants credentials \
                 (give them as http://user:password@host:port in proxy_url or HTTP_PROXY)"
                    .to_string()
            }
            SdkError::ServiceError(service) => {
                let status = service.raw().status().as_u16();
                let code = service.err().code().unwrap_or("no error code");
                let text = service.err().message().unwrap_or("");
                format!("HTTP {status} {code} {text}")
                    .trim_end()
                    .to_string()
            }
            other => match (tls_problem(other), find_cause::<ProxyRefused>(other)) {
                (Some(problem), _) => problem,
                (None, Some(refusal)) => refusal.to_string(),
                (None, None) => error_chain(other),
            },
        };
        Self::new(kind, format!("{what}: {}: {cause}", describe(kind)))
    }
}

/// "outer: inner: innermost", without the Debug dump that `DisplayErrorContext` appends.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn describe(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidArgument => "rejected as invalid",
        ErrorKind::NotFound => "not found",
        ErrorKind::AlreadyExists => "already exists",
        ErrorKind::PermissionDenied => "permission denied",
        ErrorKind::Transient => "temporary failure, retry later",
        ErrorKind::Cancelled => "cancelled",
        ErrorKind::Io => "local I/O error",
        ErrorKind::Integrity => "integrity check failed",
        ErrorKind::Internal => "unexpected failure",
        ErrorKind::Tls => "no secure connection",
        ErrorKind::BufferTooSmall => "buffer too small",
        ErrorKind::InProgress => "still running",
    }
}

fn classify_sdk<E>(err: &SdkError<E, HttpResponse>) -> ErrorKind
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ServiceError(service) => {
            classify_service(service.raw().status().as_u16(), service.err().code())
        }
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => ErrorKind::Transient,
        SdkError::DispatchFailure(_) if tls_problem(err).is_some() => ErrorKind::Tls,
        SdkError::DispatchFailure(_) if find_cause::<ProxyRefused>(err).is_some() => {
            match find_cause::<ProxyRefused>(err).and_then(ProxyRefused::status) {
                Some(407 | 401 | 403) => ErrorKind::PermissionDenied,
                Some(500..=599) => ErrorKind::Transient,
                _ => ErrorKind::InvalidArgument,
            }
        }
        SdkError::DispatchFailure(failure) => {
            if failure.is_user() {
                ErrorKind::InvalidArgument
            } else if failure.is_other() && is_credentials_problem(err) {
                ErrorKind::PermissionDenied
            } else {
                ErrorKind::Transient
            }
        }
        SdkError::ConstructionFailure(_) => {
            if is_credentials_problem(err) {
                ErrorKind::PermissionDenied
            } else {
                ErrorKind::InvalidArgument
            }
        }
        _ => ErrorKind::Internal,
    }
}

/// The first error of type `T` in the chain of `err`.
pub fn find_cause<'a, T: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    // An io::Error's source() skips the error it carries, and TLS libraries wrap their errors
    // in io::Errors (sometimes twice): step into what each io::Error carries instead.
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = next {
        if let Some(found) = current.downcast_ref::<T>() {
            return Some(found);
        }
        next = match current.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => current.source(),
        };
    }
    None
}

/// What went wrong setting up TLS, if that is why `err` happened: the certificate did not
/// verify, or the other side does not speak TLS (an `https://` endpoint on a plain-HTTP port).
pub fn tls_problem(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    find_cause::<rustls::Error>(err).map(describe_tls)
}

fn describe_tls(err: &rustls::Error) -> String {
    use rustls::{CertificateError, Error as Tls};
    let problem = match err {
        Tls::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "the server's certificate was issued by an authority this client does not trust (unknown issuer)"
        }
        Tls::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => "the server's certificate is for another host name",
        Tls::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => "the server's certificate has expired",
        Tls::InvalidCertificate(
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
        ) => "the server's certificate is not valid yet (is the clock right?)",
        Tls::InvalidCertificate(CertificateError::BadSignature) => {
            "the server's certificate is not signed by the trusted authority of its issuer's name"
        }
        Tls::InvalidCertificate(_) => "the server's certificate was rejected",
        Tls::InvalidMessage(_) | Tls::InappropriateMessage { .. } => {
            "the endpoint does not speak TLS (is it a plain http:// endpoint?)"
        }
        _ => "the TLS handshake failed",
    };
    format!("{problem} ({err})")
}

fn is_credentials_problem<E>(err: &SdkError<E, HttpResponse>) -> bool
where
    E: std::error::Error + 'static,
{
    let text = error_chain(err).to_ascii_lowercase();
    text.contains("credential") || text.contains("identity")
}

/// Maps an S3 answer to a kind. Codes take precedence because some servers use odd statuses.
pub fn classify_service(status: u16, code: Option<&str>) -> ErrorKind {
    match code.unwrap_or("") {
        // Retrying cannot help: the server does not implement what was asked, or the object
        // must first be restored from an archive storage class.
        "NotImplemented" | "InvalidObjectState" => return ErrorKind::InvalidArgument,
        "NoSuchKey" | "NoSuchBucket" | "NotFound" | "NoSuchUpload" => return ErrorKind::NotFound,
        "AccessDenied"
        | "SignatureDoesNotMatch"
        | "InvalidAccessKeyId"
        | "ExpiredToken"
        | "InvalidToken"
        | "TokenRefreshRequired"
        | "AllAccessDisabled"
        | "AccountProblem" => return ErrorKind::PermissionDenied,
        "SlowDown"
        | "Throttling"
        | "ThrottlingException"
        | "RequestTimeout"
        | "RequestTimeTooSkewed"
        | "InternalError"
        | "ServiceUnavailable"
        | "OperationAborted"
        | "PreconditionFailed" => return ErrorKind::Transient,
        "BadDigest"
        | "InvalidDigest"
        | "XAmzContentChecksumMismatch"
        | "XAmzContentSHA256Mismatch" => return ErrorKind::Integrity,
        _ => {}
    }
    match status {
        404 => ErrorKind::NotFound,
        // 407: a proxy on the way wants credentials.
        401 | 403 | 407 => ErrorKind::PermissionDenied,
        408 | 409 | 412 | 429 => ErrorKind::Transient,
        501 => ErrorKind::InvalidArgument,
        500..=599 => ErrorKind::Transient,
        400..=499 => ErrorKind::InvalidArgument,
        _ => ErrorKind::Internal,
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_win_over_statuses() {
        assert_eq!(
            classify_service(400, Some("NoSuchKey")),
            ErrorKind::NotFound
        );
        assert_eq!(
            classify_service(503, Some("SlowDown")),
            ErrorKind::Transient
        );
        assert_eq!(classify_service(403, None), ErrorKind::PermissionDenied);
        assert_eq!(classify_service(404, None), ErrorKind::NotFound);
        assert_eq!(
            classify_service(400, Some("KeyTooLongError")),
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            classify_service(400, Some("BadDigest")),
            ErrorKind::Integrity
        );
        assert_eq!(
            classify_service(400, Some("XAmzContentSHA256Mismatch")),
            ErrorKind::Integrity
        );
        assert_eq!(classify_service(501, None), ErrorKind::InvalidArgument);
        assert_eq!(
            classify_service(501, Some("NotImplemented")),
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            classify_service(403, Some("InvalidObjectState")),
            ErrorKind::InvalidArgument
        );
        assert_eq!(classify_service(502, None), ErrorKind::Transient);
    }

    #[test]
    fn redact_hides_every_secret() {
        let err = Error::invalid("key AKIDSECRET and SECRET").redact(&["AKIDSECRET", "", "SECRET"]);
        assert_eq!(err.message(), "key *** and ***");
    }
}
