//! Every source of the AWS credential chain, each in its own test, on loopback. The chain is
//! read from the environment, so each case runs the C example in a child process with an
//! environment of its own (nothing of the test's, HOME empty, instance metadata off unless
//! the case is about it).
//!
//! The S3 server authenticates against a key ring: fixed keys, and keys minted for a few
//! seconds that stop working when they expire, as AWS rotates temporary credentials.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::child::{args, Environment};
use support::credentials::{CredentialServer, KeyRing};
use support::forward_proxy::ForwardProxy;
use support::moto::Moto;
use support::proxy::{Fault, Proxy};
use support::server::ServerOptions;
use support::tls::{Front, TestCa};
use support::*;

/// A server that knows the keys of `keys`.
fn server_with(keys: &Arc<KeyRing>) -> LocalS3 {
    LocalS3::start_with(
        &scratch("credentials-server"),
        0,
        ServerOptions {
            auth: Some(keys.clone()),
            ..ServerOptions::default()
        },
    )
}

/// The example's settings for `endpoint` without any credentials: those come from the chain.
fn settings(endpoint: &str, extra: &[(&str, &str)]) -> Vec<String> {
    let mut settings = args(&[
        ("endpoint_url", endpoint),
        ("region_name", "us-east-1"),
        ("multipart_threshold", "5MiB"),
        ("multipart_chunksize", "5MiB"),
    ]);
    settings.extend(args(extra));
    settings
}

fn data_file(name: &str, size: usize) -> PathBuf {
    write_file(&scratch(name), "data.bin", &pattern(size, size as u64))
}

/// Asserts that a refusal names `source` and shows none of `secrets`.
fn assert_refusal(error: &str, source: &str, secrets: &[&str]) {
    assert!(error.contains("S3OS_PERMISSION_DENIED"), "{error}");
    assert!(error.contains(source), "the source is not named: {error}");
    for secret in secrets {
        assert!(!error.contains(secret), "a secret shows: {error}");
    }
}

#[test]
fn environment_keys_with_a_session_token() {
    let keys = KeyRing::new();
    let server = server_with(&keys);
    let minted = keys.mint(Duration::from_secs(3600));
    let proxy = ForwardProxy::open();
    let file = data_file("env-keys", 6 * MIB + 5);
    let settings = settings(&server.endpoint(), &[("proxy_url", &proxy.url(None))]);
    let mut env = Environment::new();
    env.set("AWS_ACCESS_KEY_ID", &minted.access_key_id)
        .set("AWS_SECRET_ACCESS_KEY", &minted.secret_access_key)
        .set("AWS_SESSION_TOKEN", &minted.session_token);
    env.roundtrip(&file, "env/data.bin", &settings)
        .expect_verified();
    // Every request was signed with the key and carried its session token.
    let forwarded = proxy.forwarded();
    assert!(!forwarded.is_empty());
    for request in &forwarded {
        let authorization = request.header("authorization").unwrap_or_default();
        assert!(
            authorization.contains(&format!("Credential={}/", minted.access_key_id)),
            "{authorization}"
        );
        assert_eq!(
            request.header("x-amz-security-token"),
            Some(minted.session_token.as_str())
        );
    }

    env.set("AWS_SECRET_ACCESS_KEY", "not-the-right-secret-key");
    let error = env
        .roundtrip(&file, "env/data.bin", &settings)
        .expect_failure();
    assert_refusal(
        &error,
        "credentials from environment variables",
        &["not-the-right-secret-key", &minted.session_token],
    );
}

/// Writes shared `config` and `credentials` files: the profile `dev` has the server's key,
/// the default profile a key the server does not know.
fn shared_files(dir: &Path) -> (PathBuf, PathBuf) {
    let config = write_file(
        dir,
        "config",
        b"[default]\nregion = us-east-1\n\n[profile dev]\nregion = us-east-1\n",
    );
    let credentials = write_file(
        dir,
        "credentials",
        format!(
            "[default]\naws_access_key_id = AKIAUNKNOWNDEFAULT\naws_secret_access_key = default-profile-secret\n\n\
             [dev]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
        )
        .as_bytes(),
    );
    (config, credentials)
}

#[test]
fn shared_files_with_profile_name_and_aws_profile() {
    let server = server();
    let dir = scratch("profiles");
    let (config, credentials) = shared_files(&dir);
    let file = data_file("profiles-data", 100 * 1024);
    let mut env = Environment::new();
    env.set("AWS_CONFIG_FILE", config.to_str().unwrap())
        .set("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap());

    env.set("AWS_PROFILE", "dev");
    env.roundtrip(&file, "profiles/a", &settings(&server.endpoint(), &[]))
        .expect_verified();
    env.unset("AWS_PROFILE");

    // As in boto3, a profile named in the configuration wins over the environment's keys.
    env.set("AWS_ACCESS_KEY_ID", "AKIAFROMTHEENVIRONMENT")
        .set("AWS_SECRET_ACCESS_KEY", "environment-secret-key");
    env.roundtrip(
        &file,
        "profiles/b",
        &settings(&server.endpoint(), &[("profile_name", "dev")]),
    )
    .expect_verified();
    env.unset("AWS_ACCESS_KEY_ID")
        .unset("AWS_SECRET_ACCESS_KEY");

    let error = env
        .roundtrip(&file, "profiles/c", &settings(&server.endpoint(), &[]))
        .expect_failure();
    assert_refusal(
        &error,
        &format!("profile \"default\" (the default) of {}", config.display()),
        &["default-profile-secret"],
    );

    let error = env
        .roundtrip(
            &file,
            "profiles/d",
            &settings(&server.endpoint(), &[("profile_name", "nowhere")]),
        )
        .expect_failure();
    assert!(error.contains("S3OS_PERMISSION_DENIED"), "{error}");
    assert!(error.contains("nowhere"), "{error}");
}

/// A slow download, through a proxy that passes every GET's body on a MiB at a time,
/// `pause` apart, ranges fetched one at a time. (The upload before it is fast: s3s-fs ties a
/// multipart upload to the key that created it, which S3 does not, so the slow transfer is
/// the download.) Returns the proxy and the settings.
fn slow_download(server: &LocalS3, pause: Duration) -> (Proxy, Vec<String>) {
    let proxy = Proxy::start(server.addr);
    proxy.inject(
        |request| request.operation() == "GetObject",
        Fault::ThrottleResponse { chunk: MIB, pause },
        0,
        usize::MAX,
    );
    let settings = settings(
        &proxy.endpoint(),
        &[("max_concurrency", "1"), ("read_timeout", "30")],
    );
    (proxy, settings)
}

/// Credentials minted for this long: the SDK asks again 5 to 10 s before they expire.
const LIFETIME: Duration = Duration::from_secs(12);

/// A 25 MiB download in five ranges at a MiB per 0.9 s: over 20 s, well past the lifetime
/// of the first credentials.
const PAUSE: Duration = Duration::from_millis(900);
const SLOW_SIZE: usize = 25 * MIB;

fn check_refreshed(keys: &KeyRing, started: Instant, asked: u64) {
    let took = started.elapsed();
    assert!(took > LIFETIME, "the transfer took only {took:?}");
    assert!(
        asked >= 2,
        "the source was asked only {asked} times in {took:?}"
    );
    let minted_used = keys
        .used()
        .iter()
        .filter(|key| key.starts_with("ASIAMINTED"))
        .count();
    assert!(
        minted_used >= 2,
        "one key served {took:?}: {:?}",
        keys.used()
    );
    assert_eq!(
        keys.expired_refusals(),
        0,
        "a request went out with an expired key"
    );
    println!(
        "{took:?}: source asked {asked} times, keys used: {:?}",
        keys.used()
    );
}

#[test]
fn credential_process_is_asked_again_before_its_credentials_expire() {
    let keys = KeyRing::new();
    let server = server_with(&keys);
    let minting = CredentialServer::start(keys.clone(), LIFETIME);
    let dir = scratch("process");
    let config = write_file(
        &dir,
        "config",
        format!(
            "[default]\ncredential_process = {}\n",
            minting.process_command()
        )
        .as_bytes(),
    );
    let file = data_file("process-data", SLOW_SIZE);
    let (_proxy, settings) = slow_download(&server, PAUSE);
    let mut env = Environment::new();
    env.set("AWS_CONFIG_FILE", config.to_str().unwrap());
    let started = Instant::now();
    let run = env.roundtrip(&file, "process/data.bin", &settings);
    run.expect_verified();
    check_refreshed(&keys, started, minting.process_credentials());

    // A process that fails is named as the source.
    let failing = write_file(&dir, "failing", b"[default]\ncredential_process = false\n");
    env.set("AWS_CONFIG_FILE", failing.to_str().unwrap());
    let error = env
        .roundtrip(&file, "process/fail", &settings)
        .expect_failure();
    assert!(error.contains("S3OS_PERMISSION_DENIED"), "{error}");
    assert!(error.contains("profile \"default\""), "{error}");
}

#[test]
fn instance_metadata_is_asked_again_before_its_credentials_expire() {
    let keys = KeyRing::new();
    let server = server_with(&keys);
    let metadata = CredentialServer::start(keys.clone(), LIFETIME);
    let file = data_file("imds-data", SLOW_SIZE);
    let (_proxy, settings) = slow_download(&server, PAUSE);
    let mut env = Environment::new();
    env.unset("AWS_EC2_METADATA_DISABLED")
        .set("AWS_EC2_METADATA_SERVICE_ENDPOINT", &metadata.endpoint());
    let started = Instant::now();
    env.roundtrip(&file, "imds/data.bin", &settings)
        .expect_verified();
    check_refreshed(&keys, started, metadata.imds_credentials());
    assert!(
        metadata.imds_tokens() >= 1,
        "IMDSv2 without a session token"
    );
    assert_eq!(metadata.imds_unauthorized(), 0);
}

/// Web identity (as on EKS): the token file is exchanged at STS for credentials. moto's STS
/// stands behind an HTTPS front with a private CA and is reached through a proxy, both as the
/// store is configured: credential sources use the store's TLS and proxy settings.
#[test]
fn web_identity_is_exchanged_at_sts_with_the_stores_tls_and_proxy() {
    let moto = Moto::start();
    let ca = TestCa::new();
    let sts = Front::tls(moto.addr, ca.issue(&["localhost"], false));
    let proxy = ForwardProxy::open();
    let dir = scratch("web-identity");
    let bundle = ca.write_bundle(&dir.join("ca.pem"));
    let token = write_file(
        &dir,
        "token",
        b"eyJ0ZXN0IjoidG9rZW4ifQ.s3os-web-identity-token",
    );
    let file = data_file("web-identity-data", 7 * MIB);
    let settings = settings(
        &moto.endpoint(),
        &[
            ("proxy_url", &proxy.url(None)),
            ("ca_bundle", bundle.to_str().unwrap()),
        ],
    );
    let mut env = Environment::new();
    env.set("AWS_WEB_IDENTITY_TOKEN_FILE", token.to_str().unwrap())
        .set("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/s3os-test")
        .set("AWS_ROLE_SESSION_NAME", "s3os-test-session")
        .set("AWS_ENDPOINT_URL_STS", &sts.endpoint("localhost"));
    env.roundtrip(&file, "web-identity/data.bin", &settings)
        .expect_verified();
    let to_sts = format!("localhost:{}", sts.addr.port());
    assert_eq!(
        proxy.tunnels_to(&to_sts),
        1,
        "STS was not reached through the proxy"
    );
    // moto signs nothing itself: the requests' signatures name the temporary key STS issued.
    let forwarded = proxy.forwarded();
    assert!(!forwarded.is_empty());
    for request in &forwarded {
        let authorization = request.header("authorization").unwrap_or_default();
        assert!(authorization.contains("Credential=ASIA"), "{authorization}");
        assert!(request.header("x-amz-security-token").is_some());
    }

    env.set(
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        dir.join("missing-token").to_str().unwrap(),
    );
    let error = env
        .roundtrip(&file, "web-identity/fail", &settings)
        .expect_failure();
    assert!(error.contains("S3OS_PERMISSION_DENIED"), "{error}");
    assert!(error.contains("web identity token"), "{error}");
}

#[test]
fn missing_credentials_list_every_source_tried() {
    let server = server();
    let file = data_file("missing", 1000);
    let env = Environment::new();
    let error = env
        .roundtrip(&file, "missing", &settings(&server.endpoint(), &[]))
        .expect_failure();
    println!("{error}");
    assert!(error.contains("S3OS_PERMISSION_DENIED"), "{error}");
    for source in [
        "no credentials found",
        "environment variables",
        "profile \"default\"",
        "web identity token",
        "ECS container",
        "EC2 instance metadata",
    ] {
        assert!(error.contains(source), "{source} is not named: {error}");
    }
}

#[test]
fn rejected_configured_keys_name_the_configuration_not_the_secret() {
    let server = server();
    let file = data_file("configured", 1000);
    let error = Environment::new()
        .roundtrip(
            &file,
            "configured",
            &settings(
                &server.endpoint(),
                &[
                    ("aws_access_key_id", ACCESS_KEY),
                    ("aws_secret_access_key", "a-wrong-configured-secret"),
                    ("aws_session_token", "a-configured-session-token"),
                ],
            ),
        )
        .expect_failure();
    assert_refusal(
        &error,
        "credentials from the configuration",
        &["a-wrong-configured-secret", "a-configured-session-token"],
    );
}
