//! Proxies on loopback: HTTPS through a CONNECT tunnel and plain HTTP forwarded by the proxy,
//! chosen by `proxy_url` or by the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY` and
//! their lowercase forms, in child processes); proxies that want credentials, with and
//! without the right ones; a dead proxy; and virtual-hosted addressing end to end, the proxy
//! resolving `<bucket>.s3.test` to the server.

mod support;

use std::path::Path;

use s3os::capi::s3os_status::{S3OS_PERMISSION_DENIED, S3OS_TRANSIENT};
use support::child::{args, Environment};
use support::forward_proxy::ForwardProxy;
use support::native::dead_endpoint;
use support::server::ServerOptions;
use support::tls::{Front, TestCa};
use support::*;

/// A password with characters that must be percent-encoded in a URL.
const PROXY_USER: &str = "proxy-user";
const PROXY_PASSWORD: &str = "pr0xy/p@ss:w0rd";
const PROXY_PASSWORD_ENCODED: &str = "pr0xy%2Fp%40ss%3Aw0rd";

fn open(
    endpoint: &str,
    extra: &[(&str, &str)],
) -> Result<CStore, (s3os::capi::s3os_status, String)> {
    let mut settings = settings_for(endpoint);
    settings.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    store_with(BUCKET, &settings)
}

/// One object below the multipart threshold and one above it, up and back, every byte checked.
fn round_trip(store: &CStore, dir: &Path) {
    for (name, size) in [("small.bin", 64 * 1024 + 1), ("parts.bin", 11 * MIB + 9)] {
        let data = pattern(size, size as u64);
        store
            .upload(name, &write_file(dir, name, &data))
            .expect("upload through the proxy");
        let back = dir.join(format!("{name}.back"));
        store
            .download(name, &back, true)
            .expect("download through the proxy");
        assert!(
            std::fs::read(&back).unwrap() == data,
            "{name} came back different"
        );
    }
    let listed = store.list(None).expect("listing through the proxy");
    assert!(
        listed.iter().any(|(name, _)| name == "parts.bin"),
        "{listed:?}"
    );
}

#[test]
fn https_goes_through_a_connect_tunnel_of_proxy_url() {
    let server = server();
    let ca = TestCa::new();
    let front = Front::tls(server.addr, ca.issue(&["localhost"], false));
    let proxy = ForwardProxy::open();
    let dir = scratch("proxy-connect");
    let bundle = ca.write_bundle(&dir.join("ca.pem"));
    let store = open(
        &front.endpoint("localhost"),
        &[
            ("ca_bundle", bundle.to_str().unwrap()),
            ("proxy_url", &proxy.url(None)),
        ],
    )
    .unwrap();
    round_trip(&store, &dir);
    let destination = format!("localhost:{}", front.addr.port());
    assert!(
        proxy.tunnels_to(&destination) >= 1,
        "no tunnel to {destination}"
    );
    assert_eq!(
        proxy.tunnels(),
        front.connections(),
        "a connection bypassed the proxy"
    );
    assert!(proxy.forwarded().is_empty());
}

#[test]
fn plain_http_requests_are_forwarded_by_proxy_url() {
    let server = server();
    let proxy = ForwardProxy::open();
    let dir = scratch("proxy-forward");
    let store = open(&server.endpoint(), &[("proxy_url", &proxy.url(None))]).unwrap();
    round_trip(&store, &dir);
    let forwarded = proxy.forwarded();
    let origin = format!("{}/{BUCKET}/", server.endpoint());
    assert!(
        forwarded.len() >= 8,
        "{} requests forwarded",
        forwarded.len()
    );
    assert!(
        forwarded.iter().all(|r| r.uri.starts_with(&origin)),
        "{forwarded:#?}"
    );
    // Signed as usual: the proxy passes requests on unchanged but for their target's form.
    assert!(forwarded.iter().all(|r| r
        .header("authorization")
        .is_some_and(|a| a.starts_with("AWS4-HMAC-SHA256"))));
    assert_eq!(proxy.tunnels(), 0);
}

#[test]
fn a_proxy_that_wants_credentials_gets_them_and_no_message_shows_them() {
    let server = server();
    let ca = TestCa::new();
    let front = Front::tls(server.addr, ca.issue(&["localhost"], false));
    let proxy = ForwardProxy::with_credentials(PROXY_USER, PROXY_PASSWORD);
    let dir = scratch("proxy-auth");
    let bundle = ca.write_bundle(&dir.join("ca.pem"));
    let bundle = bundle.to_str().unwrap();
    let right = proxy.url(Some((PROXY_USER, PROXY_PASSWORD_ENCODED)));
    let wrong = proxy.url(Some((PROXY_USER, "wr0ng-pr0xy-secret")));
    let source = write_file(&dir, "source", &pattern(1000, 1));

    for endpoint in [front.endpoint("localhost"), server.endpoint()] {
        let https = endpoint.starts_with("https");
        let store = open(&endpoint, &[("ca_bundle", bundle), ("proxy_url", &right)]).unwrap();
        round_trip(&store, &dir);
        if !https {
            let forwarded = proxy.forwarded();
            assert!(forwarded
                .iter()
                .all(|r| r.header("proxy-authorization").is_some()));
        }

        for (url, secret) in [(&wrong, "wr0ng-pr0xy-secret"), (&proxy.url(None), "")] {
            let refused_before = proxy.refused();
            let store = open(
                &endpoint,
                &[
                    ("ca_bundle", bundle),
                    ("proxy_url", url),
                    ("max_attempts", "3"),
                ],
            )
            .unwrap();
            let (status, message) = store
                .upload("refused", &source)
                .expect_err("the proxy let a request through without its credentials");
            println!("{message}");
            assert_eq!(status, S3OS_PERMISSION_DENIED, "{message}");
            assert!(message.contains("407"), "{message}");
            assert!(message.contains("proxy"), "{message}");
            assert!(!message.contains("credentials from"), "{message}");
            if !secret.is_empty() {
                assert!(!message.contains(secret), "{message}");
            }
            assert!(!message.contains(PROXY_PASSWORD_ENCODED), "{message}");
            assert_eq!(
                proxy.refused() - refused_before,
                1,
                "a refusal was retried: {message}"
            );
        }
    }
}

#[test]
fn a_dead_proxy_is_transient_and_named_without_its_password() {
    let server = server();
    let dead = dead_endpoint();
    let dead_with_password = dead.replace("http://", "http://someone:dead-pr0xy-secret@");
    let store = open(
        &server.endpoint(),
        &[("proxy_url", &dead_with_password), ("max_attempts", "2")],
    )
    .unwrap();
    let dir = scratch("proxy-dead");
    let (status, message) = store
        .upload("object", &write_file(&dir, "source", b"bytes"))
        .expect_err("a dead proxy carried a request");
    println!("{message}");
    assert_eq!(status, S3OS_TRANSIENT, "{message}");
    assert!(
        message.contains(&format!("proxy {}", dead.trim_start_matches("http://"))),
        "{message}"
    );
    assert!(!message.contains("dead-pr0xy-secret"), "{message}");
}

/// The environment's proxy variables, read by a child process: HTTPS and plain HTTP each
/// through the proxy its variable names, NO_PROXY going around it, `proxy_url` overriding
/// the variables and `proxy_url=none` ignoring them.
#[test]
fn the_environment_names_the_proxies_as_curl_reads_it() {
    let server = server();
    let ca = TestCa::new();
    let front = Front::tls(server.addr, ca.issue(&["localhost"], false));
    let proxy = ForwardProxy::open();
    let dir = scratch("proxy-env");
    let file = write_file(&dir, "data.bin", &pattern(6 * MIB + 1, 2));
    let keys = [
        ("region_name", "us-east-1"),
        ("aws_access_key_id", ACCESS_KEY),
        ("aws_secret_access_key", SECRET_KEY),
    ];
    let https = {
        let mut settings = args(&keys);
        settings.push(format!("endpoint_url={}", front.endpoint("localhost")));
        settings
    };
    let plain = {
        let mut settings = args(&keys);
        settings.push(format!("endpoint_url={}", server.endpoint()));
        settings
    };
    let tunnel_to_front = format!("localhost:{}", front.addr.port());

    let mut env = Environment::new();
    env.set(
        "AWS_CA_BUNDLE",
        ca.write_bundle(&dir.join("ca.pem")).to_str().unwrap(),
    );
    for variable in ["HTTPS_PROXY", "https_proxy"] {
        env.set(variable, &proxy.url(None));
        let before = proxy.tunnels_to(&tunnel_to_front);
        env.roundtrip(&file, "env/https.bin", &https)
            .expect_verified();
        assert!(
            proxy.tunnels_to(&tunnel_to_front) > before,
            "{variable} was not used"
        );
        // HTTPS_PROXY is for https:// requests only.
        let before = proxy.forwarded().len();
        env.roundtrip(&file, "env/plain.bin", &plain)
            .expect_verified();
        assert_eq!(
            proxy.forwarded().len(),
            before,
            "{variable} carried http:// requests"
        );
        env.unset(variable);
    }
    for variable in ["HTTP_PROXY", "http_proxy", "ALL_PROXY"] {
        env.set(variable, &proxy.url(None));
        let before = proxy.forwarded().len();
        env.roundtrip(&file, "env/plain.bin", &plain)
            .expect_verified();
        assert!(proxy.forwarded().len() > before, "{variable} was not used");
        env.unset(variable);
    }

    env.set("HTTPS_PROXY", &proxy.url(None))
        .set("HTTP_PROXY", &proxy.url(None));
    let untouched = |proxy: &ForwardProxy| (proxy.tunnels(), proxy.forwarded().len());
    for no_proxy in [
        ("NO_PROXY", "localhost,127.0.0.1"),
        ("no_proxy", ".localhost,127.0.0.0/8"),
    ] {
        env.set(no_proxy.0, no_proxy.1);
        let before = untouched(&proxy);
        env.roundtrip(&file, "env/https.bin", &https)
            .expect_verified();
        env.roundtrip(&file, "env/plain.bin", &plain)
            .expect_verified();
        assert_eq!(
            untouched(&proxy),
            before,
            "{no_proxy:?} did not bypass the proxy"
        );
        env.unset(no_proxy.0);
    }

    let before = untouched(&proxy);
    let mut none = https.clone();
    none.push("proxy_url=none".into());
    env.roundtrip(&file, "env/https.bin", &none)
        .expect_verified();
    assert_eq!(untouched(&proxy), before, "proxy_url=none used the proxy");

    env.set("HTTPS_PROXY", &dead_endpoint())
        .set("HTTP_PROXY", &dead_endpoint());
    let mut overriding = plain.clone();
    overriding.push(format!("proxy_url={}", proxy.url(None)));
    let before = proxy.forwarded().len();
    env.roundtrip(&file, "env/plain.bin", &overriding)
        .expect_verified();
    assert!(
        proxy.forwarded().len() > before,
        "proxy_url did not override HTTP_PROXY"
    );
    let error = env
        .roundtrip(&file, "env/plain.bin", &plain)
        .expect_failure();
    assert!(
        error.contains("S3OS_TRANSIENT") && error.contains("proxy"),
        "{error}"
    );
}

/// Virtual-hosted addressing, as AWS itself defaults to: requests name the bucket in the host
/// (`test-bucket.s3.test`), which the proxy resolves to the server, over plain HTTP and over
/// HTTPS with a wildcard certificate.
#[test]
fn virtual_hosted_addressing_works_end_to_end_through_a_proxy() {
    let server = LocalS3::start_with(
        &scratch("vhost-server"),
        0,
        ServerOptions {
            virtual_host_domain: Some("s3.test".into()),
            ..ServerOptions::default()
        },
    );
    let ca = TestCa::new();
    let front = Front::tls(server.addr, ca.issue(&["s3.test", "*.s3.test"], false));
    let proxy = ForwardProxy::open();
    let dir = scratch("vhost");
    let bundle = ca.write_bundle(&dir.join("ca.pem"));

    proxy.route("s3.test", server.addr);
    let plain = open(
        &format!("http://s3.test:{}", server.addr.port()),
        &[
            ("addressing_style", "virtual"),
            ("proxy_url", &proxy.url(None)),
        ],
    )
    .unwrap();
    round_trip(&plain, &dir);
    let virtual_host = format!("http://{BUCKET}.s3.test:{}/", server.addr.port());
    let forwarded = proxy.forwarded();
    assert!(!forwarded.is_empty());
    assert!(
        forwarded.iter().all(|r| r.uri.starts_with(&virtual_host)),
        "{forwarded:#?}"
    );
    assert!(server.root.join(BUCKET).join("parts.bin").is_file());

    let proxy = ForwardProxy::open();
    proxy.route("s3.test", front.addr);
    let secure = open(
        &format!("https://s3.test:{}", front.addr.port()),
        &[
            ("addressing_style", "virtual"),
            ("proxy_url", &proxy.url(None)),
            ("ca_bundle", bundle.to_str().unwrap()),
        ],
    )
    .unwrap();
    round_trip(&secure, &dir);
    let destination = format!("{BUCKET}.s3.test:{}", front.addr.port());
    assert!(
        proxy.tunnels_to(&destination) >= 1,
        "no tunnel to {destination}"
    );
    assert_eq!(proxy.tunnels(), proxy.tunnels_to(&destination));
}
