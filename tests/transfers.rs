//! Uploads, downloads and object operations through the C ABI against a real S3 server.

mod support;

use s3os::capi::s3os_status::*;
use support::*;

#[test]
fn small_and_empty_objects_round_trip() {
    let server = server();
    let store = store(&server, &[]);
    let dir = scratch("small");
    for (name, len) in [
        ("empty", 0usize),
        ("one-byte", 1),
        ("small", 100_000),
        ("just-below-threshold", 8 * MIB - 1),
    ] {
        let data = pattern(len, len as u64);
        let source = write_file(&dir, name, &data);
        let mut up = ProgressLog::default();
        store.upload_logged(name, &source, &mut up).unwrap();
        up.assert_complete(len as u64);
        assert_eq!(store.size(name).unwrap(), len as u64);
        let target = dir.join(format!("{name}.down"));
        let mut down = ProgressLog::default();
        store
            .download_logged(name, &target, false, &mut down)
            .unwrap();
        down.assert_complete(len as u64);
        assert!(
            std::fs::read(&target).unwrap() == data,
            "{name}: downloaded bytes differ"
        );
    }
    assert!(temporaries(&dir).is_empty());
}

#[test]
fn multipart_with_parts_that_do_not_divide_the_file() {
    let server = server();
    let store = store(&server, &[]);
    let dir = scratch("multipart");
    for len in [8 * MIB, 17 * MIB + 3] {
        let data = pattern(len, 7 + len as u64);
        let source = write_file(&dir, "big", &data);
        let mut up = ProgressLog::default();
        store.upload_logged("big", &source, &mut up).unwrap();
        up.assert_complete(len as u64);
        assert!(
            up.calls.len() > 2,
            "multipart progress should come in steps: {:?}",
            up.calls
        );
        assert_eq!(store.size("big").unwrap(), len as u64);
        let target = dir.join("big.down");
        let mut down = ProgressLog::default();
        store
            .download_logged("big", &target, true, &mut down)
            .unwrap();
        down.assert_complete(len as u64);
        assert!(
            std::fs::read(&target).unwrap() == data,
            "{len}: downloaded bytes differ"
        );
    }
    assert!(server.unfinished_uploads().is_empty());
}

#[test]
fn both_checksum_modes_work() {
    let server = server();
    let dir = scratch("checksums");
    for mode in ["when_supported", "when_required"] {
        let store = store(
            &server,
            &[
                ("request_checksum_calculation", mode),
                ("response_checksum_validation", mode),
            ],
        );
        for len in [3 * MIB, 11 * MIB] {
            let data = pattern(len, len as u64);
            let name = format!("{mode}-{len}");
            store
                .upload(&name, &write_file(&dir, &name, &data))
                .unwrap();
            let target = dir.join(format!("{name}.down"));
            store.download(&name, &target, false).unwrap();
            assert!(
                std::fs::read(&target).unwrap() == data,
                "{name}: downloaded bytes differ"
            );
        }
    }
}

#[test]
fn prefix_applies_to_every_operation_like_composer() {
    let server = server();
    let store = store(&server, &[("prefix", "/runs/exp1/")]);
    let other = support::store(&server, &[("prefix", "runs/exp2")]);
    let dir = scratch("prefix");
    let source = write_file(&dir, "ckpt", b"weights");
    store.upload("ckpt/ep1.pt", &source).unwrap();
    store.upload("ckpt/ep2.pt", &source).unwrap();
    store.upload("log.txt", &source).unwrap();
    other.upload("ckpt/ep1.pt", &source).unwrap();

    assert_eq!(
        store.uri("ckpt/ep1.pt"),
        format!("s3://{BUCKET}/runs/exp1/ckpt/ep1.pt")
    );
    assert!(server
        .root
        .join(BUCKET)
        .join("runs/exp1/ckpt/ep1.pt")
        .is_file());
    let listed = store.list(Some("ckpt/")).unwrap();
    assert_eq!(
        listed,
        vec![
            ("ckpt/ep1.pt".to_string(), 7),
            ("ckpt/ep2.pt".to_string(), 7)
        ]
    );
    assert_eq!(store.list(None).unwrap().len(), 3);
    assert_eq!(store.list(Some("nothing-here")).unwrap(), vec![]);

    store.delete("ckpt/ep1.pt").unwrap();
    assert_eq!(store.size("ckpt/ep1.pt").unwrap_err().0, S3OS_NOT_FOUND);
    assert_eq!(
        other.size("ckpt/ep1.pt").unwrap(),
        7,
        "another prefix is untouched"
    );
    store
        .delete("ckpt/ep1.pt")
        .expect("deleting a missing object succeeds, as in S3");
}

#[test]
fn download_refuses_to_overwrite_before_any_request() {
    let server = server();
    let store = store(&server, &[]);
    let dir = scratch("overwrite");
    store
        .upload("obj", &write_file(&dir, "src", b"new contents"))
        .unwrap();
    let target = write_file(&dir, "existing", b"precious");

    let err = store.download("obj", &target, false).unwrap_err();
    assert_eq!(err.0, S3OS_ALREADY_EXISTS, "{}", err.1);
    assert_eq!(std::fs::read(&target).unwrap(), b"precious");

    // Against a port where nothing listens, only a check made before any request can answer.
    let dead = store_with(
        BUCKET,
        &[
            ("endpoint_url".into(), "http://127.0.0.1:9".into()),
            ("region_name".into(), "us-east-1".into()),
            ("aws_access_key_id".into(), "x".into()),
            ("aws_secret_access_key".into(), "y".into()),
        ],
    )
    .unwrap();
    assert_eq!(
        dead.download("obj", &target, false).unwrap_err().0,
        S3OS_ALREADY_EXISTS
    );

    store.download("obj", &target, true).unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"new contents");
    assert!(temporaries(&dir).is_empty());
}

#[test]
fn download_creates_parents_and_leaves_nothing_on_failure() {
    let server = server();
    let store = store(&server, &[]);
    let dir = scratch("parents");
    store
        .upload("obj", &write_file(&dir, "src", b"abc"))
        .unwrap();
    let nested = dir.join("a/b/c/obj.bin");
    store.download("obj", &nested, false).unwrap();
    assert_eq!(std::fs::read(&nested).unwrap(), b"abc");

    let missing = dir.join("out/missing.bin");
    let err = store
        .download("no-such-object", &missing, false)
        .unwrap_err();
    assert_eq!(err.0, S3OS_NOT_FOUND, "{}", err.1);
    assert!(
        err.1.contains("no-such-object") && err.1.contains(BUCKET),
        "message names the object: {}",
        err.1
    );
    assert!(!missing.exists());
    assert!(temporaries(&dir.join("out")).is_empty());
    assert!(temporaries(&dir.join("a/b/c")).is_empty());
}

#[test]
fn targets_with_names_up_to_the_file_system_limit_download() {
    // The temporary's name adds 26 bytes to the target's; it is shortened to fit 255.
    let server = server();
    let store = store(&server, &[]);
    let dir = scratch("long-names");
    store
        .upload("obj", &write_file(&dir, "src", b"abc"))
        .unwrap();
    let out = dir.join("out");
    let names = [
        "a".repeat(230),
        "b".repeat(255),
        // 127 two-byte characters and one byte: a cut must not split a character.
        format!("{}x", "\u{e9}".repeat(127)),
    ];
    for name in names {
        assert!(name.len() >= 230 && name.len() <= 255, "{}", name.len());
        let target = out.join(&name);
        store.download("obj", &target, false).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"abc");
        store.download("obj", &target, true).unwrap();
    }
    assert!(temporaries(&out).is_empty(), "{:?}", temporaries(&out));
}

#[test]
fn cancelling_a_multipart_upload_aborts_it_on_the_server() {
    let server = server();
    let store = store(&server, &[("max_concurrency", "2")]);
    let dir = scratch("cancel-up");
    let source = write_file(&dir, "big", &pattern(40 * MIB, 3));
    let mut log = ProgressLog {
        cancel_after: Some(1),
        ..Default::default()
    };
    let err = store.upload_logged("big", &source, &mut log).unwrap_err();
    assert_eq!(err.0, S3OS_CANCELLED, "{}", err.1);
    let calls_at_return = log.calls.len();
    assert!(calls_at_return >= 1);
    assert_eq!(
        store.size("big").unwrap_err().0,
        S3OS_NOT_FOUND,
        "no object may appear"
    );
    assert_eq!(
        server.unfinished_uploads(),
        Vec::<String>::new(),
        "the multipart upload must be aborted"
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(log.calls.len(), calls_at_return, "no callback after return");
}

#[test]
fn cancelling_a_download_leaves_no_file() {
    let server = server();
    let store = store(&server, &[("max_concurrency", "2")]);
    let dir = scratch("cancel-down");
    store
        .upload("big", &write_file(&dir, "big", &pattern(30 * MIB, 4)))
        .unwrap();
    let target = dir.join("out/big.down");
    let mut log = ProgressLog {
        cancel_after: Some(1),
        ..Default::default()
    };
    let err = store
        .download_logged("big", &target, false, &mut log)
        .unwrap_err();
    assert_eq!(err.0, S3OS_CANCELLED, "{}", err.1);
    assert!(!target.exists());
    assert!(temporaries(&dir.join("out")).is_empty());
}

#[test]
fn wrong_credentials_are_permission_denied_without_leaking_them() {
    let server = server();
    let mut settings = base_settings(&server);
    settings.push((
        "aws_secret_access_key".into(),
        "definitely-wrong-secret-4242".into(),
    ));
    settings.push((
        "aws_session_token".into(),
        "session-token-secret-4343".into(),
    ));
    let store = store_with(BUCKET, &settings).unwrap();
    let dir = scratch("creds");
    let source = write_file(&dir, "f", b"x");
    for err in [
        store.upload("obj", &source).unwrap_err(),
        store.size("obj").unwrap_err(),
        store.download("obj", &dir.join("out"), false).unwrap_err(),
        store.list(None).unwrap_err(),
    ] {
        assert_eq!(err.0, S3OS_PERMISSION_DENIED, "{}", err.1);
        assert!(!err.1.contains("definitely-wrong-secret-4242"), "{}", err.1);
        assert!(!err.1.contains("session-token-secret-4343"), "{}", err.1);
    }
}

#[test]
fn nothing_listening_is_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let settings: Vec<(String, String)> = [
        ("endpoint_url", format!("http://127.0.0.1:{port}")),
        ("region_name", "us-east-1".into()),
        ("aws_access_key_id", "a".into()),
        ("aws_secret_access_key", "b".into()),
        ("max_attempts", "2".into()),
        ("retry_mode", "standard".into()),
        ("connect_timeout", "1".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let store = store_with(BUCKET, &settings).unwrap();
    let dir = scratch("dead");
    let started = std::time::Instant::now();
    let err = store
        .upload("obj", &write_file(&dir, "f", b"x"))
        .unwrap_err();
    assert_eq!(err.0, S3OS_TRANSIENT, "{}", err.1);
    assert_eq!(store.size("obj").unwrap_err().0, S3OS_TRANSIENT);
    let err = store.download("obj", &dir.join("out"), false).unwrap_err();
    assert_eq!(err.0, S3OS_TRANSIENT);
    assert!(
        started.elapsed().as_secs() < 30,
        "gave up too slowly: {:?}",
        started.elapsed()
    );
    assert!(!dir.join("out").exists());
}

#[test]
fn endpoint_and_acl_come_from_the_environment_when_unset() {
    let server = server();
    let mut settings = base_settings(&server);
    settings.retain(|(k, _)| k != "endpoint_url");
    // This test binary's other tests never read S3_ENDPOINT_URL, so setting it is contained.
    unsafe { std::env::set_var("S3_ENDPOINT_URL", server.endpoint()) };
    let store = store_with(BUCKET, &settings);
    unsafe { std::env::remove_var("S3_ENDPOINT_URL") };
    let store = store.unwrap();
    let dir = scratch("env");
    store
        .upload("via-env", &write_file(&dir, "f", b"hello"))
        .unwrap();
    assert_eq!(store.size("via-env").unwrap(), 5);
}

#[test]
fn uploading_a_directory_or_missing_file_is_io() {
    let server = server();
    let store = store(&server, &[]);
    let dir = scratch("io");
    assert_eq!(store.upload("obj", &dir).unwrap_err().0, S3OS_IO);
    assert_eq!(
        store.upload("obj", &dir.join("missing")).unwrap_err().0,
        S3OS_IO
    );
    assert_eq!(store.size("obj").unwrap_err().0, S3OS_NOT_FOUND);
}

#[test]
fn keys_longer_than_s3_allows_are_rejected_before_sending() {
    let server = server();
    let store = store(&server, &[("prefix", "p")]);
    let dir = scratch("long");
    let long = "k".repeat(1023);
    let err = store
        .upload(&long, &write_file(&dir, "f", b"x"))
        .unwrap_err();
    assert_eq!(err.0, S3OS_INVALID_ARGUMENT, "{}", err.1);
    assert!(err.1.contains("1024"), "{}", err.1);
    assert_eq!(store.size(&long).unwrap_err().0, S3OS_INVALID_ARGUMENT);
}

#[test]
fn ranged_downloads_are_checked_against_the_whole_object_crc() {
    let server = server();
    let uploader = store(&server, &[("multipart_threshold", "64MiB")]);
    let downloader = store(&server, &[]);
    let dir = scratch("crc");
    let data = pattern(12 * MIB + 11, 21);
    uploader
        .upload("single-put", &write_file(&dir, "src", &data))
        .unwrap();
    let target = dir.join("ok.down");
    downloader.download("single-put", &target, false).unwrap();
    assert!(std::fs::read(&target).unwrap() == data);

    // Flip one stored byte behind the server's back: same size, same stored checksum.
    let stored = server.root.join(BUCKET).join("single-put");
    let mut bytes = std::fs::read(&stored).unwrap();
    bytes[7 * MIB + 3] ^= 0x40;
    std::fs::write(&stored, &bytes).unwrap();

    for (who, store) in [("ranged", &downloader), ("whole", &uploader)] {
        let target = dir.join(format!("{who}.down"));
        let err = store.download("single-put", &target, false).unwrap_err();
        assert_eq!(err.0, S3OS_INTEGRITY, "{who}: {}", err.1);
        assert!(
            !target.exists(),
            "{who}: corrupted bytes must not reach the target"
        );
    }
    assert!(temporaries(&dir).is_empty());

    // Without validation the bytes are delivered as stored.
    let trusting = store(
        &server,
        &[("response_checksum_validation", "when_required")],
    );
    trusting
        .download("single-put", &dir.join("trusting.down"), false)
        .unwrap();
}
