//! Store configuration: Composer's constructor knobs, parsed from string key/value pairs.

use std::fmt;
use std::time::Duration;

use crate::error::{Error, Result};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// S3 rejects multipart parts smaller than this (except the last one).
pub const MIN_PART_SIZE: u64 = 5 * MIB;
/// S3 rejects parts and single PUTs larger than this.
pub const MAX_PART_SIZE: u64 = 5 * GIB;
/// S3 allows at most this many parts in one multipart upload.
pub const MAX_PARTS: u64 = 10_000;

/// S3's limit on the length of an object key, in bytes.
pub const MAX_KEY_LEN: usize = 1024;

/// Which CRC32C an object uploaded in parts carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultipartChecksum {
    /// The CRC32C of all the object's bytes, as for a single PUT: every later download,
    /// ranged or not, can be checked against it, and S3 checks it against the parts on
    /// completion. The default.
    FullObject,
    /// A CRC32C of the parts' CRC32Cs ("...-N"), S3's older form, for stores that reject
    /// `x-amz-checksum-type`. Ranged downloads of such objects are checked by length only.
    Composite,
}

/// How bucket names are put into request URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    /// Path style when `endpoint_url` is set (what S3-compatible stores accept), virtual-hosted otherwise.
    Auto,
    Path,
    Virtual,
}

/// How the SDK spaces out retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryMode {
    Standard,
    Adaptive,
}

/// When checksums are sent with uploads or verified on downloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumWhen {
    /// Always, with CRC32C: the default, and what AWS itself does.
    WhenSupported,
    /// Only where the API requires one: for servers that reject the newer checksum headers.
    WhenRequired,
}

/// Whether upload bodies are covered by the request signature (SigV4 payload signing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadSigning {
    /// Sign over `http://`, where nothing else protects the body from being changed on the way
    /// (a CRC32C can be kept while changing bytes); skip it over `https://`, where TLS does, as
    /// the AWS SDKs do. The default.
    Auto,
    /// Always sign (SHA-256 of every byte uploaded).
    Always,
    /// Never sign: the body is covered by its CRC32C only, which detects accidents but not a
    /// party on the path that changes bytes on purpose. Saves the SHA-256 over plain HTTP.
    Never,
}

/// How transfers are split and parallelised (boto3's `TransferConfig` knobs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferSettings {
    /// Objects of at least this size move in parts.
    pub multipart_threshold: u64,
    /// Size of each part (adjusted up to stay within S3's limits).
    pub part_size: u64,
    /// Parts in flight at once for one transfer.
    pub max_concurrency: usize,
    /// Objects in flight at once in a call that moves many.
    pub max_objects_in_flight: usize,
}

impl TransferSettings {
    /// The bytes that the requests of a many-object call may hold in memory at once: what one
    /// transfer's parts in flight may hold.
    pub fn batch_budget(&self) -> u64 {
        self.part_size.saturating_mul(self.max_concurrency as u64)
    }
}

/// boto3's threshold and part size; more parts in flight than its 10, because one S3
/// connection carries far less than a host can: on a link shaped like S3's (20 ms to the first
/// byte, 80 MiB/s per connection) 16 parts of 8 MiB moved 1 GiB 1.4-1.7x faster than 10 and at
/// half the memory of 16 MiB parts (README, "How the defaults were chosen").
impl Default for TransferSettings {
    fn default() -> Self {
        TransferSettings {
            multipart_threshold: 8 * MIB,
            part_size: 8 * MIB,
            max_concurrency: 16,
            max_objects_in_flight: DEFAULT_OBJECTS_IN_FLIGHT,
        }
    }
}

/// Objects in flight in a many-object call (README, "How the defaults were chosen").
pub const DEFAULT_OBJECTS_IN_FLIGHT: usize = 64;

/// Everything needed to create a store. Built with [`Config::new`] and [`Config::set`].
#[derive(Clone, PartialEq)]
pub struct Config {
    pub bucket: String,
    pub prefix: String,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub profile_name: Option<String>,
    pub addressing: Addressing,
    pub max_attempts: u32,
    pub retry_mode: RetryMode,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub transfer: TransferSettings,
    pub request_checksums: ChecksumWhen,
    pub response_checksums: ChecksumWhen,
    pub multipart_checksum: MultipartChecksum,
    pub canned_acl: Option<String>,
    pub payload_signing: PayloadSigning,
    /// Flush downloaded files (and their directory after the rename) to stable storage.
    pub fsync_downloads: bool,
    /// Confirm with a HEAD the size of a download that comes in one GET without a checksum.
    pub confirm_size_with_head: bool,
}

/// The canned ACLs S3 defines.
pub const CANNED_ACLS: &[&str] = &[
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
    "log-delivery-write",
];

/// Every key [`Config::set`] accepts, for messages and documentation.
pub const KEYS: &[&str] = &[
    "prefix",
    "region_name",
    "endpoint_url",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "profile_name",
    "addressing_style",
    "max_attempts",
    "retry_mode",
    "connect_timeout",
    "read_timeout",
    "multipart_threshold",
    "multipart_chunksize",
    "max_concurrency",
    "request_checksum_calculation",
    "response_checksum_validation",
    "multipart_checksum_type",
    "canned_acl",
    "payload_signing",
    "fsync_downloads",
    "max_objects_in_flight",
    "confirm_size_with_head",
];

impl Config {
    /// A configuration for `bucket` with Composer's defaults. The bucket is trimmed of `/`.
    pub fn new(bucket: &str) -> Result<Config> {
        let bucket = bucket.trim_matches('/');
        if bucket.is_empty() || bucket.len() > 255 {
            return Err(Error::invalid(
                "bucket: must be 1 to 255 bytes long after trimming '/'",
            ));
        }
        if bucket.contains('/') || bucket.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::invalid(format!(
                "bucket {bucket:?}: must not contain '/', spaces or control characters"
            )));
        }
        Ok(Config {
            bucket: bucket.to_string(),
            prefix: String::new(),
            region: None,
            endpoint_url: None,
            access_key_id: None,
            secret_access_key: None,
            session_token: None,
            profile_name: None,
            addressing: Addressing::Auto,
            // Composer's default: botocore's adaptive mode with its 3 attempts.
            max_attempts: 3,
            retry_mode: RetryMode::Adaptive,
            connect_timeout: Duration::from_secs(60),
            read_timeout: Duration::from_secs(60),
            transfer: TransferSettings::default(),
            request_checksums: ChecksumWhen::WhenSupported,
            response_checksums: ChecksumWhen::WhenSupported,
            multipart_checksum: MultipartChecksum::FullObject,
            canned_acl: None,
            payload_signing: PayloadSigning::Auto,
            fsync_downloads: true,
            confirm_size_with_head: false,
        })
    }

    /// Sets one knob from its string form. Unknown keys and unparsable values are rejected
    /// with a message naming the key and what it accepts; the configuration is then unchanged.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        match key {
            "prefix" => self.prefix = normalize_prefix(value),
            "region_name" => self.region = Some(non_empty(key, value)?),
            "endpoint_url" => self.endpoint_url = Some(parse_endpoint(value)?),
            "aws_access_key_id" => self.access_key_id = Some(non_empty(key, value)?),
            "aws_secret_access_key" => self.secret_access_key = Some(non_empty(key, value)?),
            "aws_session_token" => self.session_token = Some(non_empty(key, value)?),
            "profile_name" => self.profile_name = Some(non_empty(key, value)?),
            "addressing_style" => {
                self.addressing = match value {
                    "auto" => Addressing::Auto,
                    "path" => Addressing::Path,
                    "virtual" => Addressing::Virtual,
                    _ => return Err(bad_value(key, "auto, path or virtual")),
                }
            }
            "max_attempts" => {
                self.max_attempts = value
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or_else(|| bad_value(key, "a whole number from 1 to 100"))?
            }
            "retry_mode" => {
                self.retry_mode = match value {
                    "standard" | "legacy" => RetryMode::Standard,
                    "adaptive" => RetryMode::Adaptive,
                    _ => return Err(bad_value(key, "standard or adaptive")),
                }
            }
            "connect_timeout" => self.connect_timeout = parse_seconds(key, value)?,
            "read_timeout" => self.read_timeout = parse_seconds(key, value)?,
            "multipart_threshold" => {
                self.transfer.multipart_threshold = parse_size(value)
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| bad_value(key, SIZE_FORMS))?
            }
            "multipart_chunksize" => {
                self.transfer.part_size = parse_size(value)
                    .filter(|n| (MIN_PART_SIZE..=MAX_PART_SIZE).contains(n))
                    .ok_or_else(|| bad_value(key, "a size from 5MiB to 5GiB (S3's part limits)"))?
            }
            "max_concurrency" => {
                self.transfer.max_concurrency = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=256).contains(n))
                    .ok_or_else(|| bad_value(key, "a whole number from 1 to 256"))?
            }
            "request_checksum_calculation" => self.request_checksums = parse_checksum(key, value)?,
            "response_checksum_validation" => self.response_checksums = parse_checksum(key, value)?,
            "multipart_checksum_type" => {
                self.multipart_checksum = match value {
                    "full_object" | "FULL_OBJECT" => MultipartChecksum::FullObject,
                    "composite" | "COMPOSITE" => MultipartChecksum::Composite,
                    _ => return Err(bad_value(key, "full_object or composite")),
                }
            }
            "canned_acl" => self.canned_acl = Some(parse_acl(value)?),
            "payload_signing" => {
                self.payload_signing = match value {
                    "auto" => PayloadSigning::Auto,
                    "always" => PayloadSigning::Always,
                    "never" => PayloadSigning::Never,
                    _ => return Err(bad_value(key, "auto, always or never")),
                }
            }
            "fsync_downloads" => self.fsync_downloads = parse_bool(key, value)?,
            "max_objects_in_flight" => {
                self.transfer.max_objects_in_flight = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=1024).contains(n))
                    .ok_or_else(|| bad_value(key, "a whole number from 1 to 1024"))?
            }
            "confirm_size_with_head" => self.confirm_size_with_head = parse_bool(key, value)?,
            _ => {
                return Err(Error::invalid(format!(
                    "unknown configuration key {key:?}; known keys: {}",
                    KEYS.join(", ")
                )))
            }
        }
        Ok(())
    }

    /// The secrets this configuration holds, for scrubbing them out of messages.
    pub fn secrets(&self) -> Vec<String> {
        [
            &self.secret_access_key,
            &self.session_token,
            &self.access_key_id,
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect()
    }

    /// Applies Composer's environment fallbacks (`S3_ENDPOINT_URL`, `S3_CANNED_ACL`) to unset knobs.
    pub fn with_environment(mut self) -> Result<Config> {
        if self.endpoint_url.is_none() {
            if let Some(url) = std::env::var("S3_ENDPOINT_URL")
                .ok()
                .filter(|s| !s.is_empty())
            {
                self.endpoint_url = Some(
                    parse_endpoint(&url)
                        .map_err(|e| Error::invalid(format!("S3_ENDPOINT_URL: {e}")))?,
                );
            }
        }
        if self.canned_acl.is_none() {
            if let Some(acl) = std::env::var("S3_CANNED_ACL")
                .ok()
                .filter(|s| !s.is_empty())
            {
                self.canned_acl = Some(
                    parse_acl(&acl).map_err(|e| Error::invalid(format!("S3_CANNED_ACL: {e}")))?,
                );
            }
        }
        Ok(self)
    }

    /// `s3://bucket/<prefix><name>`, exactly as Composer forms it.
    pub fn uri_for(&self, name: &str) -> String {
        format!("s3://{}/{}{name}", self.bucket, self.prefix)
    }

    /// The full key for object `name`, checked against S3's limits.
    pub fn key_for(&self, name: &str) -> Result<String> {
        let key = format!("{}{name}", self.prefix);
        if key.is_empty() {
            return Err(Error::invalid(
                "object name: empty (and the store has no prefix)",
            ));
        }
        if key.len() > MAX_KEY_LEN {
            return Err(Error::invalid(format!(
                "object key is {} bytes long; S3 allows at most {MAX_KEY_LEN}",
                key.len()
            )));
        }
        Ok(key)
    }

    /// Whether upload bodies are signed: `payload_signing`, with `auto` deciding by the scheme
    /// of the endpoint (AWS itself is reached over HTTPS).
    pub fn signs_payloads(&self) -> bool {
        match self.payload_signing {
            PayloadSigning::Always => true,
            PayloadSigning::Never => false,
            PayloadSigning::Auto => self
                .endpoint_url
                .as_deref()
                .is_some_and(|url| url.starts_with("http://")),
        }
    }

    /// Whether requests name the bucket in the path rather than the host name.
    pub fn path_style(&self) -> bool {
        match self.addressing {
            Addressing::Auto => self.endpoint_url.is_some(),
            Addressing::Path => true,
            Addressing::Virtual => false,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "***");
        f.debug_struct("Config")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .field("access_key_id", &hidden(&self.access_key_id))
            .field("secret_access_key", &hidden(&self.secret_access_key))
            .field("session_token", &hidden(&self.session_token))
            .field("profile_name", &self.profile_name)
            .field("addressing", &self.addressing)
            .field("max_attempts", &self.max_attempts)
            .field("retry_mode", &self.retry_mode)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("transfer", &self.transfer)
            .field("request_checksums", &self.request_checksums)
            .field("response_checksums", &self.response_checksums)
            .field("multipart_checksum", &self.multipart_checksum)
            .field("canned_acl", &self.canned_acl)
            .field("payload_signing", &self.payload_signing)
            .field("fsync_downloads", &self.fsync_downloads)
            .field("confirm_size_with_head", &self.confirm_size_with_head)
            .finish()
    }
}

const SIZE_FORMS: &str = "a size in bytes, optionally with KiB, MiB or GiB (e.g. 8MiB)";

fn bad_value(key: &str, accepted: &str) -> Error {
    Error::invalid(format!("invalid value for {key:?}: expected {accepted}"))
}

fn non_empty(key: &str, value: &str) -> Result<String> {
    if value.is_empty() {
        return Err(bad_value(key, "a non-empty string"));
    }
    Ok(value.to_string())
}

/// Composer's rule: strip `/` from both ends, then add one trailing `/` unless empty.
pub fn normalize_prefix(prefix: &str) -> String {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("{trimmed}/")
    }
}

fn parse_endpoint(value: &str) -> Result<String> {
    let rest = value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"));
    match rest {
        Some(host)
            if !host.is_empty()
                && !host.starts_with('/')
                && !value.contains(char::is_whitespace) =>
        {
            Ok(value.trim_end_matches('/').to_string())
        }
        _ => Err(bad_value(
            "endpoint_url",
            "an http:// or https:// URL with a host, e.g. http://127.0.0.1:9000",
        )),
    }
}

fn parse_bool(key: &str, value: &str) -> Result<bool> {
    match value {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(bad_value(key, "true or false")),
    }
}

fn parse_seconds(key: &str, value: &str) -> Result<Duration> {
    value
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= 86_400.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| bad_value(key, "a number of seconds above 0 and at most 86400"))
}

fn parse_checksum(key: &str, value: &str) -> Result<ChecksumWhen> {
    match value {
        "when_supported" => Ok(ChecksumWhen::WhenSupported),
        "when_required" => Ok(ChecksumWhen::WhenRequired),
        _ => Err(bad_value(key, "when_supported or when_required")),
    }
}

fn parse_acl(value: &str) -> Result<String> {
    if CANNED_ACLS.contains(&value) {
        Ok(value.to_string())
    } else {
        Err(bad_value("canned_acl", &CANNED_ACLS.join(", ")))
    }
}

/// Parses `1048576`, `512KiB`, `8MiB`, `1GiB` (also `KB`/`MB`/`GB`, `K`/`M`/`G`, all powers of 1024).
pub fn parse_size(value: &str) -> Option<u64> {
    let value = value.trim();
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (digits, unit) = value.split_at(split);
    let number: u64 = digits.parse().ok()?;
    let multiplier = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => KIB,
        "m" | "mb" | "mib" => MIB,
        "g" | "gb" | "gib" => GIB,
        _ => return None,
    };
    number.checked_mul(multiplier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_and_bucket_are_trimmed_like_composer() {
        let mut cfg = Config::new("/bucket/").unwrap();
        assert_eq!(cfg.bucket, "bucket");
        cfg.set("prefix", "//a/b//").unwrap();
        assert_eq!(cfg.prefix, "a/b/");
        cfg.set("prefix", "/").unwrap();
        assert_eq!(cfg.prefix, "");
        assert!(Config::new("//").is_err());
        assert!(Config::new("a/b").is_err());
    }

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("8MiB"), Some(8 * MIB));
        assert_eq!(parse_size("5 GiB"), Some(5 * GIB));
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size("1TiB"), None);
        assert_eq!(parse_size("-1"), None);
        assert_eq!(parse_size("99999999999999999999GiB"), None);
    }

    #[test]
    fn bad_values_name_the_key_and_leave_config_unchanged() {
        let mut cfg = Config::new("b").unwrap();
        let before = cfg.clone();
        let err = cfg.set("max_concurrency", "0").unwrap_err();
        assert!(err.message().contains("max_concurrency"), "{err}");
        let err = cfg.set("multipart_chunksize", "1MiB").unwrap_err();
        assert!(err.message().contains("5MiB"), "{err}");
        let err = cfg.set("no_such_key", "x").unwrap_err();
        assert!(err.message().contains("endpoint_url"), "{err}");
        assert!(cfg.set("endpoint_url", "ftp://x").is_err());
        assert!(cfg.set("read_timeout", "nan").is_err());
        let err = cfg.set("multipart_checksum_type", "sha256").unwrap_err();
        assert!(err.message().contains("full_object or composite"), "{err}");
        assert_eq!(cfg, before);
        cfg.set("multipart_checksum_type", "composite").unwrap();
        assert_eq!(cfg.multipart_checksum, MultipartChecksum::Composite);
    }

    #[test]
    fn payloads_are_signed_over_plain_http_only_unless_told() {
        let mut cfg = Config::new("b").unwrap();
        assert!(!cfg.signs_payloads(), "AWS is reached over HTTPS");
        cfg.set("endpoint_url", "http://127.0.0.1:9000").unwrap();
        assert!(cfg.signs_payloads());
        cfg.set("endpoint_url", "https://minio.internal").unwrap();
        assert!(!cfg.signs_payloads());
        cfg.set("payload_signing", "always").unwrap();
        assert!(cfg.signs_payloads());
        cfg.set("endpoint_url", "http://127.0.0.1:9000").unwrap();
        cfg.set("payload_signing", "never").unwrap();
        assert!(!cfg.signs_payloads());
        assert!(cfg.set("payload_signing", "sometimes").is_err());
        assert!(cfg.set("fsync_downloads", "maybe").is_err());
        cfg.set("fsync_downloads", "false").unwrap();
        assert!(!cfg.fsync_downloads);
    }

    #[test]
    fn debug_output_hides_credentials() {
        let mut cfg = Config::new("b").unwrap();
        cfg.set("aws_secret_access_key", "TOPSECRETVALUE").unwrap();
        cfg.set("aws_access_key_id", "AKIDVALUE").unwrap();
        let shown = format!("{cfg:?}");
        assert!(
            !shown.contains("TOPSECRETVALUE") && !shown.contains("AKIDVALUE"),
            "{shown}"
        );
    }
}
