//! Store configuration: Composer's constructor knobs, parsed from string key/value pairs.

use std::fmt;
use std::time::Duration;

use crate::error::{Error, Result};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// S3 rejects multipart parts smaller than this (except the last one).
pub(crate) const MIN_PART_SIZE: u64 = 5 * MIB;
/// S3 rejects parts and single PUTs larger than this.
pub(crate) const MAX_PART_SIZE: u64 = 5 * GIB;
/// S3 allows at most this many parts in one multipart upload.
pub(crate) const MAX_PARTS: u64 = 10_000;

/// S3's limit on the length of an object key, in bytes.
pub(crate) const MAX_KEY_LEN: usize = 1024;

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
pub(crate) const DEFAULT_OBJECTS_IN_FLIGHT: usize = 64;

/// Everything needed to create a store. Built with [`Config::new`] and [`Config::set`].
#[derive(Clone, PartialEq)]
pub struct Config {
    pub bucket: String,
    pub prefix: String,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    /// Where `endpoint_url` came from: the key itself or an environment variable.
    pub endpoint_origin: &'static str,
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
    /// A PEM file whose certificates are the only trusted roots (`ca_bundle`, or
    /// `AWS_CA_BUNDLE` through [`Config::with_environment`]); the system's roots otherwise.
    pub ca_bundle: Option<CaBundle>,
    /// Whether server certificates are verified at all (`verify_tls`; insecure when false).
    pub verify_tls: bool,
    /// Which proxy requests go through (`proxy_url`).
    pub proxy: ProxySetting,
    /// Hosts reached directly whatever the proxy (`no_proxy`, overriding `NO_PROXY`).
    pub no_proxy: Option<String>,
}

/// Where trusted certificates come from, and which setting named them (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaBundle {
    pub path: String,
    /// `"ca_bundle"` or `"AWS_CA_BUNDLE"`.
    pub origin: &'static str,
}

/// The proxy a store's requests go through.
#[derive(Clone, PartialEq, Eq)]
pub enum ProxySetting {
    /// As the environment says (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY` and
    /// their lowercase forms), as curl and boto3 read it. The default.
    FromEnvironment,
    /// Never through a proxy (`proxy_url=none`).
    Disabled,
    /// Every request through this proxy (`proxy_url`), whatever the environment says.
    Url(ProxyUrl),
}

/// A proxy's address as `proxy_url` gives it, with its credentials kept apart so that the
/// address can be shown anywhere.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    /// `http://host:port` or `https://host:port`, without credentials.
    pub address: String,
    /// The user name and password of `user:password@`, percent-decoded.
    pub credentials: Option<(String, String)>,
    /// The `user:password` part exactly as written, for scrubbing it out of messages.
    written_credentials: Option<String>,
}

impl fmt::Debug for ProxySetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxySetting::FromEnvironment => f.write_str("FromEnvironment"),
            ProxySetting::Disabled => f.write_str("Disabled"),
            ProxySetting::Url(url) => write!(
                f,
                "Url({}{})",
                url.address,
                if url.credentials.is_some() {
                    " with credentials"
                } else {
                    ""
                }
            ),
        }
    }
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
    "ca_bundle",
    "verify_tls",
    "proxy_url",
    "no_proxy",
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
            endpoint_origin: "endpoint_url",
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
            ca_bundle: None,
            verify_tls: true,
            proxy: ProxySetting::FromEnvironment,
            no_proxy: None,
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
            "ca_bundle" => {
                self.ca_bundle = Some(CaBundle {
                    path: non_empty(key, value)?,
                    origin: "ca_bundle",
                })
            }
            "verify_tls" => self.verify_tls = parse_bool(key, value)?,
            "proxy_url" => {
                self.proxy = match value {
                    "none" => ProxySetting::Disabled,
                    _ => ProxySetting::Url(ProxyUrl::parse(value)?),
                }
            }
            "no_proxy" => self.no_proxy = Some(value.to_string()),
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
        let mut secrets: Vec<String> = [
            &self.secret_access_key,
            &self.session_token,
            &self.access_key_id,
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
        if let ProxySetting::Url(url) = &self.proxy {
            secrets.extend(url.secrets());
        }
        secrets
    }

    /// Applies the environment's fallbacks to unset knobs: Composer's `S3_ENDPOINT_URL` and
    /// `S3_CANNED_ACL`, the AWS SDKs' `AWS_ENDPOINT_URL_S3` and `AWS_ENDPOINT_URL`, and boto3's
    /// `AWS_CA_BUNDLE`.
    pub fn with_environment(mut self) -> Result<Config> {
        if self.ca_bundle.is_none() {
            if let Some(path) = std::env::var("AWS_CA_BUNDLE")
                .ok()
                .filter(|s| !s.is_empty())
            {
                self.ca_bundle = Some(CaBundle {
                    path,
                    origin: "AWS_CA_BUNDLE",
                });
            }
        }
        if self.endpoint_url.is_none() {
            // Composer's variable first (it passes it to boto3 explicitly), then the AWS SDKs'
            // own, which they skip when told to ignore configured endpoints.
            let ignore_aws = std::env::var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
                .is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"));
            let variables: &[&'static str] = if ignore_aws {
                &["S3_ENDPOINT_URL"]
            } else {
                &["S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
            };
            if let Some((variable, url)) = variables.iter().find_map(|variable| {
                std::env::var(variable)
                    .ok()
                    .filter(|s| !s.trim().is_empty())
                    .map(|url| (*variable, url))
            }) {
                self.endpoint_url = Some(
                    parse_endpoint(url.trim())
                        .map_err(|e| Error::invalid(format!("{variable}: {e}")))?,
                );
                self.endpoint_origin = variable;
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

    /// Whether upload bodies are signed: `payload_signing`, with `auto` deciding by what
    /// protects the body on its way: nothing over `http://`, TLS over `https://` (AWS itself is
    /// reached over HTTPS) unless certificates go unverified, when anyone on the path could
    /// stand in for the server.
    pub fn signs_payloads(&self) -> bool {
        match self.payload_signing {
            PayloadSigning::Always => true,
            PayloadSigning::Never => false,
            PayloadSigning::Auto => {
                !self.verify_tls
                    || self
                        .endpoint_url
                        .as_deref()
                        .is_some_and(|url| url.starts_with("http://"))
            }
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
            .field("endpoint_origin", &self.endpoint_origin)
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
            .field("ca_bundle", &self.ca_bundle)
            .field("verify_tls", &self.verify_tls)
            .field("proxy", &self.proxy)
            .field("no_proxy", &self.no_proxy)
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

impl ProxyUrl {
    /// Parses `http://[user:password@]host[:port][/]` (or `https://`). Nothing of the value
    /// is repeated in the error, which would show the password.
    pub fn parse(value: &str) -> Result<ProxyUrl> {
        const FORMS: &str = "none, or an http:// or https:// proxy URL such as \
            http://proxy.internal:3128 or http://user:password@proxy.internal:3128 \
            (percent-encode special characters of user and password)";
        let malformed = || bad_value("proxy_url", FORMS);
        let (scheme, rest) = value
            .split_once("://")
            .filter(|(scheme, _)| matches!(*scheme, "http" | "https"))
            .ok_or_else(malformed)?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        let (written_credentials, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => (Some(userinfo), host_port),
            None => (None, authority),
        };
        if !valid_host_port(host_port) {
            return Err(malformed());
        }
        let credentials = match written_credentials {
            Some(userinfo) => {
                let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                let decode = |text: &str| percent_decode(text).ok_or_else(malformed);
                Some((decode(user)?, decode(password)?))
            }
            None => None,
        };
        Ok(ProxyUrl {
            address: format!("{scheme}://{host_port}"),
            credentials,
            written_credentials: written_credentials.map(str::to_string),
        })
    }

    /// The URL with its credentials, as a proxy matcher takes it.
    pub fn with_credentials(&self) -> String {
        match &self.written_credentials {
            Some(userinfo) => {
                let (scheme, host_port) = self.address.split_once("://").unwrap_or_default();
                format!("{scheme}://{userinfo}@{host_port}")
            }
            None => self.address.clone(),
        }
    }

    /// The password and the credentials as written, for scrubbing.
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets = Vec::new();
        if let Some(written) = &self.written_credentials {
            secrets.push(written.clone());
        }
        if let Some((_, password)) = &self.credentials {
            secrets.push(password.clone());
        }
        secrets.retain(|s| !s.is_empty());
        secrets
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`, with a port from 1 to 65535.
fn valid_host_port(host_port: &str) -> bool {
    let (host, port) = match host_port.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((v6, rest)) => (
                v6.parse::<std::net::Ipv6Addr>().is_ok().then_some(v6),
                rest.strip_prefix(':')
                    .map(Some)
                    .unwrap_or(rest.is_empty().then_some("")),
            ),
            None => (None, None),
        },
        None => match host_port.split_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(host_port), Some("")),
        },
    };
    let host_ok = host.is_some_and(|host| {
        !host.is_empty()
            && (host.contains(':')
                || host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'))
    });
    let port_ok =
        port.is_some_and(|port| port.is_empty() || port.parse::<u16>().is_ok_and(|p| p > 0));
    host_ok && port_ok
}

/// Decodes `%XX` escapes; `None` for a malformed escape or a result that is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = text.get(at + 1..at + 3)?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            at += 3;
        } else {
            decoded.push(bytes[at]);
            at += 1;
        }
    }
    String::from_utf8(decoded).ok()
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
    fn proxy_urls_keep_their_credentials_apart() {
        let mut cfg = Config::new("b").unwrap();
        cfg.set("proxy_url", "http://us%40er:p%3Ass@proxy.internal:3128/")
            .unwrap();
        let ProxySetting::Url(url) = &cfg.proxy else {
            panic!("{:?}", cfg.proxy)
        };
        assert_eq!(url.address, "http://proxy.internal:3128");
        assert_eq!(
            url.credentials,
            Some(("us@er".to_string(), "p:ss".to_string()))
        );
        assert_eq!(
            url.with_credentials(),
            "http://us%40er:p%3Ass@proxy.internal:3128"
        );
        assert!(cfg.secrets().contains(&"p:ss".to_string()));
        assert!(!format!("{cfg:?}").contains("p%3Ass"));
        cfg.set("proxy_url", "none").unwrap();
        assert_eq!(cfg.proxy, ProxySetting::Disabled);
        cfg.set("proxy_url", "https://[::1]:8443").unwrap();
        cfg.set("proxy_url", "http://127.0.0.1").unwrap();
        for bad in [
            "socks5://proxy:1080",
            "proxy:3128",
            "http://",
            "http://user:secret@",
            "http://host:99999",
            "http://host/path",
            "http://us%zzer:secret@host",
        ] {
            let err = cfg.set("proxy_url", bad).unwrap_err();
            assert!(!err.message().contains("secret"), "{err}");
            assert!(err.message().contains("proxy_url"), "{err}");
        }
    }

    #[test]
    fn tls_keys_parse_and_unverified_tls_signs_payloads() {
        let mut cfg = Config::new("b").unwrap();
        cfg.set("endpoint_url", "https://minio.internal").unwrap();
        assert!(cfg.verify_tls && !cfg.signs_payloads());
        cfg.set("verify_tls", "false").unwrap();
        assert!(!cfg.verify_tls && cfg.signs_payloads());
        assert!(cfg.set("verify_tls", "maybe").is_err());
        assert!(cfg.set("ca_bundle", "").is_err());
        cfg.set("ca_bundle", "/etc/ssl/company.pem").unwrap();
        assert_eq!(
            cfg.ca_bundle,
            Some(CaBundle {
                path: "/etc/ssl/company.pem".into(),
                origin: "ca_bundle"
            })
        );
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
