//! HTTPS endpoints on loopback: a TLS front with a certificate from a private CA, in front of
//! the real test server. With the CA trusted (`ca_bundle`, `AWS_CA_BUNDLE`) or with
//! verification off (`verify_tls=false`) objects of every size go up and come back; a
//! connection that cannot be secured is reported as S3OS_TLS, with the problem named, at
//! once: no retry can change a certificate.

mod support;

use std::time::{Duration, Instant};

use s3os::capi::s3os_status::{S3OS_INVALID_ARGUMENT, S3OS_TLS};
use support::child::{args, Environment};
use support::tls::{Front, TestCa};
use support::*;

/// Three attempts are allowed, and each would take well under a second on loopback: a
/// failure reported after one connection within this time was not retried.
const AT_ONCE: Duration = Duration::from_secs(5);

fn store_at(
    endpoint: &str,
    extra: &[(&str, &str)],
) -> Result<CStore, (s3os::capi::s3os_status, String)> {
    let mut settings = settings_for(endpoint);
    settings.push(("max_attempts".into(), "3".into()));
    settings.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    store_with(BUCKET, &settings)
}

/// Uploads and downloads one object below the multipart threshold and one above it (three
/// parts), and checks every byte.
fn round_trip_both_sizes(store: &CStore, dir: &std::path::Path) {
    for (name, size) in [
        ("single.bin", 300 * 1024 + 7),
        ("multipart.bin", 13 * MIB + 5),
    ] {
        let data = pattern(size, size as u64);
        let source = write_file(dir, name, &data);
        store.upload(name, &source).expect("upload over HTTPS");
        let target = dir.join(format!("{name}.back"));
        store
            .download(name, &target, false)
            .expect("download over HTTPS");
        assert!(
            std::fs::read(&target).unwrap() == data,
            "{name} came back different"
        );
        assert_eq!(store.size(name).unwrap(), size as u64);
    }
}

#[test]
fn objects_of_every_size_round_trip_with_the_private_ca_as_ca_bundle() {
    let server = server();
    let ca = TestCa::new();
    let front = Front::tls(server.addr, ca.issue(&["localhost"], false));
    let dir = scratch("tls-bundle");
    let bundle = ca.write_bundle(&dir.join("company-ca.pem"));
    let store = store_at(
        &front.endpoint("localhost"),
        &[("ca_bundle", bundle.to_str().unwrap())],
    )
    .expect("creating a store that trusts the CA");
    round_trip_both_sizes(&store, &dir);
    // One HTTP client per store: connections are kept and reused, at most one per part in
    // flight (max_concurrency=4), for a dozen requests.
    assert!(
        (1..=4).contains(&front.connections()),
        "{} connections",
        front.connections()
    );
}

#[test]
fn verify_tls_false_accepts_any_certificate() {
    let server = server();
    // A certificate from an authority nobody trusts, for another name, expired.
    let front = Front::tls(
        server.addr,
        TestCa::new().issue(&["somewhere.else.example"], true),
    );
    let dir = scratch("tls-unverified");
    let store = store_at(&front.endpoint("localhost"), &[("verify_tls", "false")])
        .expect("creating a store");
    round_trip_both_sizes(&store, &dir);
}

/// The refusal matrix with the CA trusted, so that each failure is the one named.
#[test]
fn certificates_for_another_name_or_expired_are_refused_and_named() {
    let server = server();
    let ca = TestCa::new();
    let dir = scratch("tls-refusals");
    let bundle = ca.write_bundle(&dir.join("ca.pem"));
    let source = write_file(&dir, "source", b"bytes");
    for (certificate, named) in [
        (ca.issue(&["other.example"], false), "another host name"),
        (ca.issue(&["localhost"], true), "has expired"),
    ] {
        let front = Front::tls(server.addr, certificate);
        let store = store_at(
            &front.endpoint("localhost"),
            &[("ca_bundle", bundle.to_str().unwrap())],
        )
        .unwrap();
        let started = Instant::now();
        let (status, message) = store
            .upload("object", &source)
            .expect_err("a certificate that should not verify was accepted");
        assert_eq!(status, S3OS_TLS, "{message}");
        assert!(message.contains(named), "{message}");
        assert!(started.elapsed() < AT_ONCE, "{:?}", started.elapsed());
        assert_eq!(front.connections(), 1, "the handshake was retried");
    }
}

#[test]
fn a_certificate_from_an_unknown_authority_is_refused_and_named() {
    let server = server();
    let ca = TestCa::new();
    let front = Front::tls(server.addr, ca.issue(&["localhost", "127.0.0.1"], false));
    let dir = scratch("tls-unknown");
    // Neither the system's authorities nor a bundle of another CA know this one.
    let other = TestCa::new().write_bundle(&dir.join("other-ca.pem"));
    for extra in [vec![], vec![("ca_bundle", other.to_str().unwrap())]] {
        let store = store_at(&front.endpoint("localhost"), &extra).unwrap();
        let before = front.connections();
        let started = Instant::now();
        let (status, message) = store
            .upload("object", &write_file(&dir, "source", b"bytes"))
            .expect_err("an untrusted certificate was accepted");
        assert_eq!(status, S3OS_TLS, "{message}");
        assert!(message.contains("unknown issuer"), "{message}");
        assert!(message.contains("s3://test-bucket/object"), "{message}");
        assert!(started.elapsed() < AT_ONCE, "{:?}", started.elapsed());
        assert_eq!(front.connections() - before, 1, "the handshake was retried");
        let (status, message) = store.size("object").expect_err("a HEAD got through");
        assert_eq!(status, S3OS_TLS, "{message}");
    }
}

#[test]
fn a_ca_bundle_that_cannot_be_used_fails_the_store_naming_it() {
    let dir = scratch("tls-bad-bundle");
    let missing = dir.join("missing.pem");
    let not_pem = write_file(&dir, "not.pem", b"just some text\n");
    for (path, problem) in [
        (&missing, "cannot be read"),
        (&not_pem, "holds no certificate"),
    ] {
        let (status, message) = store_at(
            "https://localhost:1",
            &[("ca_bundle", path.to_str().unwrap())],
        )
        .err()
        .expect("a store was made with an unusable CA bundle");
        assert_eq!(status, S3OS_INVALID_ARGUMENT, "{message}");
        assert!(message.contains(path.to_str().unwrap()), "{message}");
        assert!(message.contains(problem), "{message}");
    }
}

#[test]
fn https_to_a_plain_http_port_is_refused_and_named() {
    // The front only relays and counts the connections.
    let server = server();
    let front = Front::plain(server.addr);
    let store = store_at(&front.endpoint("127.0.0.1"), &[]).unwrap();
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

/// The C example over HTTPS, trusting the CA through `AWS_CA_BUNDLE` as boto3 users do; the
/// `ca_bundle` key wins over the variable.
#[test]
fn the_c_example_round_trips_over_https_with_aws_ca_bundle() {
    let server = server();
    let ca = TestCa::new();
    let front = Front::tls(server.addr, ca.issue(&["localhost"], false));
    let dir = scratch("tls-env");
    let bundle = ca.write_bundle(&dir.join("ca.pem"));
    let wrong = TestCa::new().write_bundle(&dir.join("wrong-ca.pem"));
    let file = write_file(&dir, "data.bin", &pattern(11 * MIB + 3, 8));
    let mut settings = args(&[
        ("endpoint_url", &front.endpoint("localhost")),
        ("region_name", "us-east-1"),
        ("aws_access_key_id", ACCESS_KEY),
        ("aws_secret_access_key", SECRET_KEY),
        ("multipart_chunksize", "5MiB"),
        ("multipart_threshold", "5MiB"),
    ]);
    let mut env = Environment::new();
    env.set("AWS_CA_BUNDLE", bundle.to_str().unwrap());
    let run = env.roundtrip(&file, "env/data.bin", &settings);
    run.expect_verified();
    println!("{}", run.stdout);

    env.set("AWS_CA_BUNDLE", wrong.to_str().unwrap());
    let error = env
        .roundtrip(&file, "env/data.bin", &settings)
        .expect_failure();
    assert!(
        error.contains("S3OS_TLS") && error.contains("unknown issuer"),
        "{error}"
    );

    settings.push(format!("ca_bundle={}", bundle.display()));
    env.roundtrip(&file, "env/data.bin", &settings)
        .expect_verified();
    assert_eq!(
        std::fs::read(server.root.join(BUCKET).join("env/data.bin")).unwrap(),
        std::fs::read(&file).unwrap()
    );
}
