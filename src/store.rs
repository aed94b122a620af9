//! A store: one bucket and prefix, one SDK client, and the operations of Composer's
//! `S3ObjectStore`. Everything here is ordinary async Rust, usable without the C layer.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Instant;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use aws_sdk_s3::types::{EncodingType, ObjectCannedAcl};
use aws_sdk_s3::Client;

use crate::config::{ChecksumWhen, Config, MultipartChecksum, RetryMode};
use crate::credentials::Sources;
use crate::error::{Error, ErrorKind, Result};
use crate::ffi::RawBuffer;
use crate::transfer::{
    self, FileSink, FileSource, MemorySink, MemorySource, ObjectJob, ObjectReader, ObjectWriter,
    Progress, Sink, Source,
};

mod batch;
mod folders;

pub use batch::folder_prefix;

/// A connected store. Cheap to clone; clones share the client and its connections.
#[derive(Clone, Debug)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    config: Config,
    credentials: Sources,
    /// The configuration's keys and the proxies' passwords, kept out of every message.
    secrets: Vec<String>,
    /// The process that created the client: its connections belong to that process's runtime.
    pid: u32,
    /// Whether the server URL-encodes the keys of a listing asked for so, once a listing had
    /// to find out: [`KEYS_UNKNOWN`], [`KEYS_ENCODED`] or [`KEYS_RAW`].
    listed_keys: AtomicU8,
}

const KEYS_UNKNOWN: u8 = 0;
const KEYS_ENCODED: u8 = 1;
const KEYS_RAW: u8 = 2;

/// Appended to a listing's prefix to ask the server how it answers `EncodingType=url`: every
/// encoder changes the space, the `+` and the `ü`; the space is inside, where no XML reader
/// trims it.
const ENCODING_PROBE: &str = "s3os probe+\u{fc}";

impl std::fmt::Debug for Inner {
    /// Everything but the secrets, of which only the number shows.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("client", &self.client)
            .field("config", &self.config)
            .field("credentials", &self.credentials)
            .field("secrets", &format_args!("{} hidden", self.secrets.len()))
            .field("pid", &self.pid)
            .field("listed_keys", &self.listed_keys)
            .finish()
    }
}

/// One page of a listing: object names relative to the store's prefix, with their sizes.
#[derive(Debug, Default)]
pub struct ListPage {
    pub objects: Vec<(String, u64)>,
    pub next: Option<String>,
}

/// Every object under a prefix, page by page. The server leads the way with its continuation
/// tokens, so a server that hands out a token it has handed out before would have the listing
/// go round for ever: that fails the listing (`ErrorKind::Internal`), as does a page said to
/// be truncated without a token to go on from (in `Store::list_page`), which would end it early.
#[derive(Debug)]
pub struct Listing {
    prefix: String,
    continuation: Option<String>,
    tokens: HashSet<String>,
    finished: bool,
}

impl Listing {
    /// A listing of the objects whose names (relative to the store's prefix) start with `prefix`.
    pub fn new(prefix: &str) -> Listing {
        Listing {
            prefix: prefix.to_string(),
            continuation: None,
            tokens: HashSet::new(),
            finished: false,
        }
    }

    /// The next page's objects, or `None` once the listing is complete.
    pub async fn next_page(&mut self, store: &Store) -> Result<Option<Vec<(String, u64)>>> {
        if self.finished {
            return Ok(None);
        }
        let page = store
            .list_page(&self.prefix, self.continuation.take())
            .await?;
        match page.next {
            None => self.finished = true,
            Some(token) if self.tokens.contains(&token) => {
                self.finished = true;
                let error = Error::new(
                    ErrorKind::Internal,
                    format!(
                        "listing of {}: the server handed out the continuation token {token:?} a second time; following it would go round the same pages for ever",
                        store.uri(&self.prefix)
                    ),
                );
                log_info!("{}", error.message());
                return Err(error);
            }
            Some(token) => {
                self.tokens.insert(token.clone());
                self.continuation = Some(token);
            }
        }
        Ok(Some(page.objects))
    }
}

impl Store {
    /// Builds the SDK client for `config`, resolving credentials and region through the
    /// standard AWS chain where the configuration leaves them unset. One HTTP client serves
    /// the store's requests and those of its credential sources (STS, SSO, IMDS), with the
    /// store's TLS and proxy settings.
    pub async fn connect(config: Config) -> Result<Store> {
        let mut config = config.with_environment()?;
        if config.access_key_id.is_some() != config.secret_access_key.is_some() {
            return Err(Error::invalid(
                "aws_access_key_id and aws_secret_access_key must be set together",
            ));
        }
        let network = crate::net::for_store(&config)?;
        let mut secrets = config.secrets();
        secrets.extend(network.secrets.iter().cloned());
        for secret in &secrets {
            crate::log::register_secret(secret);
        }
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(network.client.clone())
            // The store walks the chain itself (crate::credentials), with this HTTP client.
            .no_credentials();
        if let Some(profile) = &config.profile_name {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &config.region {
            loader = loader.region(Region::new(region.clone()));
        }
        let shared = loader.load().await;
        if config.endpoint_url.is_none() {
            // An `endpoint_url` of the profile in the AWS config file: the store's endpoint,
            // addressed (and logged) as one given here.
            if let Some(url) = shared.endpoint_url() {
                config.endpoint_url = Some(url.to_string());
                config.endpoint_origin = "the AWS config file";
            }
        }
        // boto3 falls back to us-east-1 for S3 too; S3-compatible stores mostly ignore it.
        let region = shared
            .region()
            .cloned()
            .unwrap_or(Region::from_static("us-east-1"));
        let credentials = Sources::new(&config, network.client.clone(), Some(region.clone()));

        let retry = match config.retry_mode {
            RetryMode::Standard => RetryConfig::standard(),
            RetryMode::Adaptive => RetryConfig::adaptive(),
        }
        .with_max_attempts(config.max_attempts);
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .build();
        let mut builder = aws_sdk_s3::config::Builder::from(&shared)
            .credentials_provider(credentials.clone())
            .region(region.clone())
            .retry_config(retry)
            .retry_classifier(crate::retry::TooManyRequests)
            .retry_classifier(crate::retry::ConnectRefusalsAreFinal)
            .interceptor(crate::attempts::LogAttempts)
            .timeout_config(timeouts)
            .force_path_style(config.path_style())
            .request_checksum_calculation(match config.request_checksums {
                ChecksumWhen::WhenSupported => RequestChecksumCalculation::WhenSupported,
                ChecksumWhen::WhenRequired => RequestChecksumCalculation::WhenRequired,
            })
            .response_checksum_validation(match config.response_checksums {
                ChecksumWhen::WhenSupported => ResponseChecksumValidation::WhenSupported,
                ChecksumWhen::WhenRequired => ResponseChecksumValidation::WhenRequired,
            });
        if let Some(endpoint) = &config.endpoint_url {
            builder = builder.endpoint_url(endpoint);
        }
        let name = config.uri_for("");
        log_info!(
            "store {name}: endpoint {}, region {region}, {} addressing; {}",
            match &config.endpoint_url {
                Some(url) => format!("{url} ({})", config.endpoint_origin),
                None => "AWS S3".into(),
            },
            if config.path_style() {
                "path-style"
            } else {
                "virtual-hosted"
            },
            network.description
        );
        log_debug!(
            "store {name}: credentials from the first of: {}",
            credentials.names().join("; ")
        );
        if !config.verify_tls {
            log_warn!(
                "store {name}: verify_tls=false: server certificates are not verified, so anyone on the path can pose as the server"
            );
        }
        Ok(Store {
            inner: Arc::new(Inner {
                client: Client::from_conf(builder.build()),
                config,
                credentials,
                secrets,
                pid: std::process::id(),
                listed_keys: AtomicU8::new(KEYS_UNKNOWN),
            }),
        })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// `s3://bucket/<prefix><name>`, exactly as Composer forms it.
    pub fn uri(&self, name: &str) -> String {
        self.inner.config.uri_for(name)
    }

    /// The full key for `name`, checked against S3's limits before any request is made.
    pub fn key(&self, name: &str) -> Result<String> {
        self.inner.config.key_for(name)
    }

    /// Refuses a store (or a handle made from it) in a process forked from the one that made
    /// it: the threads its requests run on were not copied into the child.
    pub fn check_process(&self) -> Result<()> {
        if std::process::id() != self.inner.pid {
            return Err(Error::invalid(format!(
                "this store was created in process {} and cannot be used after fork(); create a new store in this process",
                self.inner.pid
            )));
        }
        Ok(())
    }

    fn secrets(&self) -> &[String] {
        &self.inner.secrets
    }

    /// Scrubs credentials out of any error leaving the store, and says where the
    /// credentials of a refused request came from (a proxy's refusal concerns the proxy's
    /// credentials, not these).
    fn clean<T>(&self, result: Result<T>) -> Result<T> {
        result.map_err(|e| {
            let refs: Vec<&str> = self.secrets().iter().map(String::as_str).collect();
            // Also those of the credentials sources handed out (temporary keys, tokens).
            let e = e.redact(&refs).redact_known();
            match self.inner.credentials.current() {
                Some(source)
                    if e.kind() == ErrorKind::PermissionDenied
                        && !e.message().contains("proxy") =>
                {
                    Error::new(
                        e.kind(),
                        format!("{} (credentials from {source})", e.message()),
                    )
                }
                _ => e,
            }
        })
    }

    fn job(&self, name: &str) -> Result<ObjectJob> {
        self.check_process()?;
        let config = &self.inner.config;
        Ok(ObjectJob {
            client: self.inner.client.clone(),
            bucket: config.bucket.clone(),
            key: self.key(name)?,
            settings: config.transfer,
            send_checksums: config.request_checksums == ChecksumWhen::WhenSupported,
            verify_checksums: config.response_checksums == ChecksumWhen::WhenSupported,
            full_object_checksum: config.multipart_checksum == MultipartChecksum::FullObject,
            canned_acl: config.canned_acl.as_deref().map(ObjectCannedAcl::from),
            max_attempts: config.max_attempts,
            sign_payloads: config.signs_payloads(),
            confirm_size_with_head: config.confirm_size_with_head,
            listed_len: None,
            budget: None,
        })
    }

    /// Size in bytes of object `name`.
    pub async fn object_size(&self, name: &str) -> Result<u64> {
        let started = Instant::now();
        let result = async {
            let job = self.job(name)?;
            let what = format!("size of {}", job.uri());
            job.head_size(&what).await?.ok_or_else(|| {
                Error::new(
                    ErrorKind::Internal,
                    format!("{what}: the server sent no size"),
                )
            })
        };
        let result = self.clean(result.await);
        self.log_call("size of", name, started, &result);
        result
    }

    /// Deletes object `name`. Like S3 itself, deleting a missing object succeeds.
    pub async fn delete_object(&self, name: &str) -> Result<()> {
        let started = Instant::now();
        let result = async {
            let job = self.job(name)?;
            let what = format!("delete of {}", job.uri());
            job.client
                .delete_object()
                .bucket(&job.bucket)
                .key(&job.key)
                .send()
                .await
                .map_err(|e| Error::from_sdk(&what, e))?;
            Ok(())
        };
        let result = self.clean(result.await);
        self.log_call("delete of", name, started, &result);
        result
    }

    /// One page of the objects whose names start with `prefix` (relative to the store's
    /// prefix); [`Listing`] follows the pages.
    pub async fn list_page(&self, prefix: &str, continuation: Option<String>) -> Result<ListPage> {
        let started = Instant::now();
        let result = async {
            self.check_process()?;
            let config = &self.inner.config;
            let full_prefix = format!("{}{prefix}", config.prefix);
            let what = format!("listing of s3://{}/{full_prefix}", config.bucket);
            let page = self
                .inner
                .client
                .list_objects_v2()
                .bucket(&config.bucket)
                .prefix(&full_prefix)
                // Keys with characters XML cannot carry (control characters) would make the
                // whole page unreadable; URL-encoded, every key comes through.
                .encoding_type(EncodingType::Url)
                .set_continuation_token(continuation)
                .send()
                .await
                .map_err(|e| Error::from_sdk(&what, e))?;
            let encoded = self.keys_are_encoded(&page, &full_prefix, &what).await?;
            let mut objects = Vec::new();
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                let key = if encoded {
                    url_decode(key).ok_or_else(|| {
                        Error::new(
                            ErrorKind::Internal,
                            format!("{what}: the server sent a key that is not URL-encoded UTF-8: {key:?}"),
                        )
                    })?
                } else {
                    key.to_string()
                };
                if let Some(name) = key.strip_prefix(config.prefix.as_str()) {
                    objects.push((name.to_string(), object.size().unwrap_or(0).max(0) as u64));
                }
            }
            let next = match (page.is_truncated().unwrap_or(false), page.next_continuation_token()) {
                (false, _) => None,
                (true, Some(token)) if !token.is_empty() => Some(token.to_string()),
                (true, _) => {
                    return Err(Error::new(
                        ErrorKind::Internal,
                        format!("{what}: the server says the page is truncated but sent no continuation token to go on from"),
                    ))
                }
            };
            Ok(ListPage { objects, next })
        };
        let result = self.clean(result.await);
        match &result {
            Ok(page) => log_debug!(
                "listing of {}: {} objects{} in {:.1} ms",
                self.uri(prefix),
                page.objects.len(),
                if page.next.is_some() { " and more" } else { "" },
                started.elapsed().as_secs_f64() * 1e3
            ),
            Err(err) => log_info!("{}", err.message()),
        }
        result
    }

    /// Whether the keys of `page`, asked for URL-encoded, came so. Some servers answer
    /// `EncodingType=url` and send the keys as they are (s3s-fs 0.14 among them). Most pages
    /// give that away by a character no encoder leaves as it is, but a page whose keys read
    /// either way (`a+b`, `c%41d`) does not: then the server is asked once, by the echo of a
    /// prefix that an encoder must change, and its answer kept for the store's later listings.
    async fn keys_are_encoded(
        &self,
        page: &ListObjectsV2Output,
        full_prefix: &str,
        what: &str,
    ) -> Result<bool> {
        let keys = || page.contents().iter().filter_map(|object| object.key());
        if page.encoding_type() != Some(&EncodingType::Url) || !keys().all(looks_url_encoded) {
            return Ok(false);
        }
        if !keys().any(|key| key.contains(['+', '%'])) {
            // Decoding leaves every key as it is.
            return Ok(true);
        }
        match self.inner.listed_keys.load(Ordering::Relaxed) {
            KEYS_ENCODED => return Ok(true),
            KEYS_RAW => return Ok(false),
            _ => {}
        }
        let shown = match encoding_shown_by(full_prefix, page.prefix()) {
            Some(shown) => Some(shown),
            None => {
                let probe = format!("{full_prefix}{ENCODING_PROBE}");
                let answer = self
                    .inner
                    .client
                    .list_objects_v2()
                    .bucket(&self.inner.config.bucket)
                    .prefix(&probe)
                    .encoding_type(EncodingType::Url)
                    .max_keys(1)
                    .send()
                    .await
                    .map_err(|e| Error::from_sdk(what, e))?;
                encoding_shown_by(&probe, answer.prefix())
            }
        };
        let encoded = shown.unwrap_or_else(|| {
            log_debug!("{what}: the server's answers do not show whether it URL-encodes keys; taking them as encoded, as S3 sends them");
            true
        });
        log_debug!(
            "{what}: the server {} the keys of listings",
            if encoded {
                "URL-encodes"
            } else {
                "does not URL-encode"
            }
        );
        let verdict = if encoded { KEYS_ENCODED } else { KEYS_RAW };
        self.inner.listed_keys.store(verdict, Ordering::Relaxed);
        Ok(encoded)
    }

    /// Uploads `source` as object `name`.
    pub async fn upload<S: Source>(
        &self,
        name: &str,
        source: S,
        progress: Arc<Progress>,
    ) -> Result<()> {
        let started = Instant::now();
        let job = self.job(name);
        let result =
            self.clean(async { transfer::upload(job?, source, progress.clone()).await }.await);
        self.log_transfer("upload to", name, &progress, started, &result);
        result
    }

    /// Downloads object `name` into `sink`.
    pub async fn download<K: Sink>(
        &self,
        name: &str,
        sink: K,
        progress: Arc<Progress>,
    ) -> Result<()> {
        let started = Instant::now();
        let job = self.job(name);
        let result =
            self.clean(async { transfer::download(job?, sink, progress.clone()).await }.await);
        self.log_transfer("download of", name, &progress, started, &result);
        result
    }

    /// One line for a finished transfer: its size, time and rate, or why it failed.
    fn log_transfer(
        &self,
        what: &str,
        name: &str,
        progress: &Progress,
        started: Instant,
        result: &Result<()>,
    ) {
        if !crate::log::enabled(crate::log::Level::Info) {
            return;
        }
        let seconds = started.elapsed().as_secs_f64();
        match result {
            Ok(()) => {
                let bytes = progress.snapshot().map_or(0, |(done, _)| done);
                let mib = bytes as f64 / (1024.0 * 1024.0);
                log_info!(
                    "{what} {}: {bytes} bytes in {seconds:.3} s ({:.1} MiB/s)",
                    self.uri(name),
                    mib / seconds.max(1e-9)
                );
            }
            Err(err) => log_info!("failed after {seconds:.3} s: {}", err.message()),
        }
    }

    /// One line for a finished request that moves no object.
    fn log_call<T>(&self, what: &str, name: &str, started: Instant, result: &Result<T>) {
        let ms = started.elapsed().as_secs_f64() * 1e3;
        match result {
            Ok(_) => log_debug!("{what} {}: done in {ms:.1} ms", self.uri(name)),
            Err(err) => log_info!("failed after {ms:.1} ms: {}", err.message()),
        }
    }

    /// Uploads the file at `path` as object `name`.
    pub async fn upload_file(
        &self,
        name: &str,
        path: &Path,
        progress: Arc<Progress>,
    ) -> Result<()> {
        let source = self.clean(FileSource::open(path))?;
        self.upload(name, source, progress).await
    }

    /// Uploads `bytes` as object `name`; parts are slices of them, never copies.
    pub async fn upload_bytes(
        &self,
        name: &str,
        bytes: bytes::Bytes,
        progress: Arc<Progress>,
    ) -> Result<()> {
        self.upload(name, MemorySource::new(bytes), progress).await
    }

    /// Downloads object `name` into memory (the sink stays the caller's to read afterwards).
    pub async fn download_to_memory(
        &self,
        name: &str,
        sink: Arc<MemorySink>,
        progress: Arc<Progress>,
    ) -> Result<()> {
        self.download(name, sink, progress).await
    }

    /// Reads up to the buffer's capacity from `offset` of object `name` into it; returns how
    /// many bytes (fewer at the end of the object).
    pub(crate) async fn read_range(
        &self,
        name: &str,
        buffer: RawBuffer,
        offset: u64,
    ) -> Result<u64> {
        let result = async {
            let job = self.job(name)?;
            let sink = Arc::new(MemorySink::lent(buffer, offset));
            let len = buffer.capacity() as u64;
            let (read, pin) = transfer::read_range(&job, sink, offset, len, None).await?;
            if offset == 0 && read == pin.size && read > 0 && job.verify_checksums {
                // SAFETY: the read just filled these bytes of the caller's buffer, which stays
                // valid for the call this runs in.
                let bytes = unsafe { buffer.filled(read as usize) };
                transfer::verify_whole_object(&job, &pin, bytes).await?;
            }
            Ok(read)
        };
        self.clean(result.await)
    }

    /// Opens object `name` for reading as a stream.
    pub async fn open_reader(&self, name: &str) -> Result<ObjectReader> {
        let result = async { ObjectReader::open(self.job(name)?).await };
        self.clean(result.await)
    }

    /// A stream writer that makes object `name` when closed.
    pub fn open_writer(&self, name: &str) -> Result<ObjectWriter> {
        self.clean(self.job(name).and_then(ObjectWriter::new))
    }

    /// `result` with credentials scrubbed from its error, for errors of a reader or writer
    /// that reach the caller later.
    pub fn scrub<T>(&self, result: Result<T>) -> Result<T> {
        self.clean(result)
    }

    /// Downloads object `name` to `path`, atomically; an existing file is replaced only with
    /// `overwrite`, and that is checked before any request.
    pub async fn download_file(
        &self,
        name: &str,
        path: &Path,
        overwrite: bool,
        progress: Arc<Progress>,
    ) -> Result<()> {
        self.job(name)?;
        let sink = FileSink::new(path, overwrite, self.inner.config.fsync_downloads)?;
        self.download(name, sink, progress).await
    }
}

/// Whether `key` can be a URL-encoded key: some servers answer `EncodingType=url` without
/// encoding anything, and their raw keys then give themselves away by characters an encoder
/// never leaves as they are. (A raw key made only of such characters as `+` and `%41` cannot be
/// told apart; on those servers it is decoded like an encoded one.)
fn looks_url_encoded(key: &str) -> bool {
    let bytes = key.as_bytes();
    bytes.iter().enumerate().all(|(at, &byte)| match byte {
        b'%' => {
            bytes.get(at + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(at + 2).is_some_and(u8::is_ascii_hexdigit)
        }
        b'!'..=b'~' => !matches!(
            byte,
            b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}'
        ),
        _ => false,
    })
}

/// What the echo of a prefix sent with `EncodingType=url` shows of the server: `Some(true)`
/// if it came back encoded, `Some(false)` if as it was sent; `None` if the prefix has nothing
/// every encoder changes, or the server echoed nothing or something else.
fn encoding_shown_by(sent: &str, echoed: Option<&str>) -> Option<bool> {
    let echoed = echoed?;
    let telling = sent
        .bytes()
        .any(|byte| byte <= b' ' || byte >= 0x7f || byte == b'+' || byte == b'%');
    if !telling {
        None
    } else if echoed == sent {
        Some(false)
    } else {
        (url_decode(echoed).as_deref() == Some(sent)).then_some(true)
    }
}

/// Decodes a key of a listing sent with `EncodingType=url`: `%XX` escapes and, as S3 writes
/// spaces, `+`. `None` if the result is not UTF-8.
fn url_decode(key: &str) -> Option<String> {
    let bytes = key.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'%' => {
                let hex = key.get(at + 1..at + 3)?;
                decoded.push(u8::from_str_radix(hex, 16).ok()?);
                at += 3;
            }
            b'+' => {
                decoded.push(b' ');
                at += 1;
            }
            byte => {
                decoded.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8(decoded).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_keys_decode_like_s3_encodes_them() {
        assert_eq!(url_decode("ctl%01x").as_deref(), Some("ctl\u{1}x"));
        assert_eq!(url_decode("a%2Bb+c%20d").as_deref(), Some("a+b c d"));
        assert_eq!(url_decode("caf%C3%A9/x").as_deref(), Some("café/x"));
        assert_eq!(url_decode("bad%C3"), None);
        assert_eq!(url_decode("bad%2"), None);
        assert_eq!(url_decode("bad%zz"), None);
    }

    #[test]
    fn an_echoed_prefix_shows_whether_the_server_encodes() {
        let probe = format!("p/{ENCODING_PROBE}");
        assert_eq!(encoding_shown_by(&probe, Some(&probe)), Some(false));
        assert_eq!(
            encoding_shown_by(&probe, Some("p/s3os+probe%2B%C3%BC")),
            Some(true)
        );
        assert_eq!(
            encoding_shown_by(&probe, Some("p/s3os%20probe%2B%C3%BC")),
            Some(true)
        );
        assert_eq!(encoding_shown_by(&probe, None), None);
        assert_eq!(encoding_shown_by(&probe, Some("p/")), None);
        // Nothing that an encoder must change: the echo says nothing either way.
        assert_eq!(
            encoding_shown_by("ckpt/step-1/", Some("ckpt/step-1/")),
            None
        );
    }

    #[test]
    fn raw_keys_are_told_from_encoded_ones() {
        assert!(looks_url_encoded("a%2Bb+c/d~e_f.g-h"));
        assert!(!looks_url_encoded("a b"));
        assert!(!looks_url_encoded("café"));
        assert!(!looks_url_encoded("ctl\u{1}x"));
        assert!(!looks_url_encoded("100%"));
        assert!(!looks_url_encoded("a%zz"));
        assert!(!looks_url_encoded("a{b}"));
    }
}
