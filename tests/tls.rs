//! HTTPS endpoints on loopback: a TLS front with a certificate from a private CA, in front of
//! the real test server. A connection that cannot be secured is reported as S3OS_TLS, with
//! the problem named, at once: no retry can change a certificate.

mod support;

use std::time::{Duration, Instant};

use s3os::capi::s3os_status::S3OS_TLS;
use support::tls::{Front, TestCa};
use support::*;

/// Three attempts are allowed, and each would take well under a second on loopback: a
/// failure reported after one connection within this time was not retried.
const AT_ONCE: Duration = Duration::from_secs(5);

fn store_at(endpoint: &str) -> CStore {
    let mut settings = settings_for(endpoint);
    settings.push(("max_attempts".into(), "3".into()));
    store_with(BUCKET, &settings).expect("creating a store")
}

#[test]
fn a_certificate_from_an_unknown_authority_is_refused_and_named() {
    let server = server();
    let ca = TestCa::new();
    let front = Front::tls(server.addr, ca.issue(&["localhost", "127.0.0.1"], false));
    let store = store_at(&front.endpoint("localhost"));
    let dir = scratch("tls-unknown");
    let started = Instant::now();
    let (status, message) = store
        .upload("object", &write_file(&dir, "source", b"bytes"))
        .expect_err("an untrusted certificate was accepted");
    assert_eq!(status, S3OS_TLS, "{message}");
    assert!(message.contains("unknown issuer"), "{message}");
    assert!(message.contains("s3://test-bucket/object"), "{message}");
    assert!(started.elapsed() < AT_ONCE, "{:?}", started.elapsed());
    assert_eq!(front.connections(), 1, "the handshake was retried");
    let (status, message) = store.size("object").expect_err("a HEAD got through");
    assert_eq!(status, S3OS_TLS, "{message}");
}

#[test]
fn https_to_a_plain_http_port_is_refused_and_named() {
    // The front only relays and counts the connections.
    let server = server();
    let front = Front::plain(server.addr);
    let store = store_at(&front.endpoint("127.0.0.1"));
    let dir = scratch("tls-plain");
    let started = Instant::now();
    let target = dir.join("target");
    let (status, message) = store
        .download("object", &target, false)
        .expect_err("a plain-HTTP port answered a TLS handshake");
    assert_eq!(status, S3OS_TLS, "{message}");
    assert!(message.contains("does not speak TLS"), "{message}");
    assert!(started.elapsed() < AT_ONCE, "{:?}", started.elapsed());
    assert_eq!(front.connections(), 1, "the handshake was retried");
    assert!(!target.exists());
}
