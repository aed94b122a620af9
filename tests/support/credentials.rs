#![allow(dead_code)] // each test binary uses part of the support code.
//! Credentials that expire, as AWS hands them out: a key ring the test server authenticates
//! against, where keys minted for a few seconds stop working when they expire, and a server
//! on loopback that mints them the ways the AWS chain fetches them: EC2 instance metadata
//! (IMDSv2, with its session token) and a URL a `credential_process` program reads.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use s3s::auth::{S3Auth, SecretKey};
use s3s::{s3_error, S3Result};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;

/// One set of temporary credentials.
#[derive(Debug, Clone)]
pub struct Minted {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: SystemTime,
}

impl Minted {
    /// `2025-01-31T23:59:59Z`, as AWS writes expirations.
    pub fn expiration_text(&self) -> String {
        let seconds = self
            .expiration
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let at = time::OffsetDateTime::from_unix_timestamp(seconds as i64).unwrap();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            at.year(),
            at.month() as u8,
            at.day(),
            at.hour(),
            at.minute(),
            at.second()
        )
    }
}

/// Keys the server accepts: fixed ones, and minted ones until they expire.
#[derive(Default)]
pub struct KeyRing {
    keys: Mutex<HashMap<String, (String, Option<Instant>)>>,
    minted: AtomicU64,
    /// Requests refused because their key had expired.
    expired_refusals: AtomicU64,
    /// Keys that authenticated a request, in the order first seen.
    used: Mutex<Vec<String>>,
}

impl KeyRing {
    pub fn new() -> Arc<KeyRing> {
        Arc::new(KeyRing::default())
    }

    /// Accepts `id` with `secret` from now on.
    pub fn allow(&self, id: &str, secret: &str) {
        self.keys
            .lock()
            .unwrap()
            .insert(id.to_string(), (secret.to_string(), None));
    }

    /// New credentials, accepted for `lifetime` from now (the expiration says so too).
    pub fn mint(&self, lifetime: Duration) -> Minted {
        let n = self.minted.fetch_add(1, Ordering::Relaxed) + 1;
        let minted = Minted {
            access_key_id: format!("ASIAMINTED{n:010}"),
            secret_access_key: format!("minted-secret-{n}-{}", std::process::id()),
            session_token: format!("minted-session-token-{n}-{}", std::process::id()),
            expiration: SystemTime::now() + lifetime,
        };
        self.keys.lock().unwrap().insert(
            minted.access_key_id.clone(),
            (
                minted.secret_access_key.clone(),
                Some(Instant::now() + lifetime),
            ),
        );
        minted
    }

    /// How many credentials were minted.
    pub fn minted(&self) -> u64 {
        self.minted.load(Ordering::Relaxed)
    }

    /// How many requests came with a key that had expired.
    pub fn expired_refusals(&self) -> u64 {
        self.expired_refusals.load(Ordering::Relaxed)
    }

    /// The keys that authenticated requests, each once, in the order first seen.
    pub fn used(&self) -> Vec<String> {
        self.used.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl S3Auth for KeyRing {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        let keys = self.keys.lock().unwrap();
        match keys.get(access_key) {
            Some((secret, expires)) if expires.is_none_or(|at| Instant::now() < at) => {
                let mut used = self.used.lock().unwrap();
                if !used.iter().any(|key| key == access_key) {
                    used.push(access_key.to_string());
                }
                Ok(SecretKey::from(secret.as_str()))
            }
            Some(_) => {
                self.expired_refusals.fetch_add(1, Ordering::Relaxed);
                Err(s3_error!(ExpiredToken, "the credentials have expired"))
            }
            None => Err(s3_error!(InvalidAccessKeyId)),
        }
    }
}

/// The role name the metadata server reports.
pub const ROLE: &str = "s3os-test-role";

/// Serves IMDSv2 (`/latest/...`) and `/process` (credential_process JSON), minting from a key
/// ring; stops when dropped.
pub struct CredentialServer {
    pub addr: SocketAddr,
    counts: Arc<Counts>,
    runtime: Option<Runtime>,
}

#[derive(Default)]
struct Counts {
    imds_tokens: AtomicU64,
    imds_credentials: AtomicU64,
    imds_unauthorized: AtomicU64,
    process_credentials: AtomicU64,
}

impl CredentialServer {
    /// Mints credentials valid for `lifetime` from `keys` at every request for them.
    pub fn start(keys: Arc<KeyRing>, lifetime: Duration) -> CredentialServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("credential-server")
            .enable_all()
            .build()
            .expect("credential server runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("binding the credential server");
        let addr = listener.local_addr().unwrap();
        let counts = Arc::new(Counts::default());
        let serving = counts.clone();
        runtime.spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let (keys, counts) = (keys.clone(), serving.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let (keys, counts) = (keys.clone(), counts.clone());
                        async move { Ok::<_, Infallible>(answer(&keys, &counts, lifetime, request)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(client), service)
                        .await;
                });
            }
        });
        CredentialServer {
            addr,
            counts,
            runtime: Some(runtime),
        }
    }

    /// `http://127.0.0.1:PORT`: what `AWS_EC2_METADATA_SERVICE_ENDPOINT` takes.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A `credential_process` command that prints credentials minted by this server.
    pub fn process_command(&self) -> String {
        let python = std::env::var("S3OS_PYTHON").unwrap_or_else(|_| "python3".into());
        format!(
            "{python} -c \"import sys, urllib.request; sys.stdout.write(urllib.request.urlopen('http://{}/process').read().decode())\"",
            self.addr
        )
    }

    /// Credentials handed out through instance metadata.
    pub fn imds_credentials(&self) -> u64 {
        self.counts.imds_credentials.load(Ordering::Relaxed)
    }

    /// IMDSv2 session tokens handed out.
    pub fn imds_tokens(&self) -> u64 {
        self.counts.imds_tokens.load(Ordering::Relaxed)
    }

    /// Metadata requests refused for lack of a valid session token.
    pub fn imds_unauthorized(&self) -> u64 {
        self.counts.imds_unauthorized.load(Ordering::Relaxed)
    }

    /// Credentials handed out to credential_process.
    pub fn process_credentials(&self) -> u64 {
        self.counts.process_credentials.load(Ordering::Relaxed)
    }
}

impl Drop for CredentialServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

/// The IMDSv2 session token this server issues.
const IMDS_TOKEN: &str = "imds-session-token-for-tests";

fn reply(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
}

fn answer(
    keys: &KeyRing,
    counts: &Counts,
    lifetime: Duration,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_string();
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    if path == "/process" {
        counts.process_credentials.fetch_add(1, Ordering::Relaxed);
        let minted = keys.mint(lifetime);
        return reply(
            StatusCode::OK,
            format!(
                r#"{{"Version": 1, "AccessKeyId": "{}", "SecretAccessKey": "{}", "SessionToken": "{}", "Expiration": "{}"}}"#,
                minted.access_key_id,
                minted.secret_access_key,
                minted.session_token,
                minted.expiration_text()
            ),
        );
    }
    if path == "/latest/api/token" {
        if request.method() != Method::PUT
            || header("x-aws-ec2-metadata-token-ttl-seconds").is_none()
        {
            return reply(StatusCode::BAD_REQUEST, String::new());
        }
        counts.imds_tokens.fetch_add(1, Ordering::Relaxed);
        let mut response = reply(StatusCode::OK, IMDS_TOKEN.to_string());
        response.headers_mut().insert(
            "x-aws-ec2-metadata-token-ttl-seconds",
            header("x-aws-ec2-metadata-token-ttl-seconds")
                .unwrap()
                .parse()
                .unwrap(),
        );
        return response;
    }
    if header("x-aws-ec2-metadata-token").as_deref() != Some(IMDS_TOKEN) {
        counts.imds_unauthorized.fetch_add(1, Ordering::Relaxed);
        return reply(StatusCode::UNAUTHORIZED, String::new());
    }
    match path.strip_prefix("/latest/meta-data/iam/security-credentials/") {
        Some("") => reply(StatusCode::OK, ROLE.to_string()),
        Some(role) if role == ROLE => {
            counts.imds_credentials.fetch_add(1, Ordering::Relaxed);
            let minted = keys.mint(lifetime);
            reply(
                StatusCode::OK,
                format!(
                    r#"{{"Code": "Success", "LastUpdated": "2025-01-01T00:00:00Z", "Type": "AWS-HMAC", "AccessKeyId": "{}", "SecretAccessKey": "{}", "Token": "{}", "Expiration": "{}"}}"#,
                    minted.access_key_id,
                    minted.secret_access_key,
                    minted.session_token,
                    minted.expiration_text()
                ),
            )
        }
        _ => reply(StatusCode::NOT_FOUND, String::new()),
    }
}
