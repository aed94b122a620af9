//! The memory and stream paths under network faults (a proxy that resets connections,
//! truncates or corrupts bodies, tests/support/proxy.rs) and against moto's server, which
//! keeps the checksums of objects uploaded in parts and honours If-Match. A fault that
//! happens once is retried away with exactly the right bytes; one that persists fails with
//! its status and leaves nothing behind: no object, no unfinished multipart upload.

mod support;

use std::fmt::Write as _;

use s3os::capi::s3os_status::{self, *};
use support::moto::Moto;
use support::proxy::{Fault, Proxy};
use support::*;

/// Four parts of 5 MiB (the last one 2 MiB) both ways.
const LARGE: usize = 17 * MIB;
const PART: usize = 5 * MIB;
/// Where body faults strike: well inside every body.
const MID: u64 = 256 * 1024 + 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    /// `s3os_upload_buffer`
    UploadBuffer,
    /// `s3os_writer_*`, 1 MiB + 3 bytes per write
    Writer,
    /// `s3os_download_buffer`
    DownloadBuffer,
    /// `s3os_reader_*`, sequential reads of 1 MiB
    Reader,
    /// `s3os_read_range` of the whole object, in parts
    ReadRange,
}

impl Path {
    fn uploads(self) -> bool {
        matches!(self, Path::UploadBuffer | Path::Writer)
    }

    /// The request the fault hits: the second part either way.
    fn victim(self) -> String {
        if self.uploads() {
            "UploadPart 2".into()
        } else {
            format!("GetObject bytes={PART}-{}", 2 * PART - 1)
        }
    }
}

/// What a case must end with.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// The right bytes, the victim having been sent once more.
    Retried,
    Fails(s3os_status),
}

/// `(path, fault, fault on every attempt, expectation)`.
type Case = (Path, Fault, bool, Expect);

fn run(
    path: Path,
    data: &[u8],
    store: &CStore,
    key: &str,
) -> Result<Vec<u8>, (s3os_status, String)> {
    match path {
        Path::UploadBuffer => store.upload_buffer(key, data).map(|()| Vec::new()),
        Path::Writer => store.write_stream(key, data, MIB + 3).map(|()| Vec::new()),
        Path::DownloadBuffer => store.download_buffer(key, LARGE).0,
        Path::Reader => store.read_stream(key, MIB),
        Path::ReadRange => store.read_range(key, 0, LARGE),
    }
}

fn check_cases(cases: Vec<Case>) {
    let server = server();
    let direct = store(&server, &[("multipart_threshold", "64MiB")]);
    let mut report = String::new();
    let mut failures = Vec::new();
    for (n, (path, fault, always, expect)) in cases.into_iter().enumerate() {
        let key = format!("object-{n}");
        let data = pattern(LARGE, n as u64);
        if !path.uploads() {
            // One PUT: the object has a CRC32C of all its bytes to be checked against.
            direct.upload_buffer(&key, &data).unwrap();
        }
        let proxy = Proxy::start(server.addr);
        let victim = path.victim();
        let hit = victim.clone();
        let times = if always { usize::MAX } else { 1 };
        let id = proxy.inject(move |r| r.label() == hit, fault.clone(), 0, times);
        let mut settings = base_settings(&server);
        for (k, v) in [
            ("endpoint_url", proxy.endpoint()),
            ("read_timeout", "2".into()),
            ("connect_timeout", "1".into()),
            ("retry_mode", "standard".into()),
            ("max_attempts", if always { "2" } else { "3" }.into()),
        ] {
            settings.push((k.into(), v));
        }
        let through = store_with(BUCKET, &settings).unwrap();
        let result = run(path, &data, &through, &key);
        drop(through);
        let context = format!(
            "{path:?} {fault:?} always={always}: {:?}\n  requests {:?}",
            result.as_ref().map(Vec::len),
            proxy.log()
        );
        let fired = proxy.fired(id);
        let outcome = match (expect, &result) {
            _ if fired == 0 => Err(format!("the fault never fired: {context}")),
            (Expect::Retried, Ok(received)) => {
                let stored = if path.uploads() {
                    direct.download_alloc(&key).unwrap()
                } else {
                    received.clone()
                };
                if stored != data {
                    Err(format!("the bytes differ: {context}"))
                } else if proxy.count(&victim) != 2 {
                    Err(format!("expected the victim twice: {context}"))
                } else {
                    Ok("retried".to_string())
                }
            }
            (Expect::Fails(want), Err((status, message))) => {
                if *status != want || !message.contains(&key) {
                    Err(format!(
                        "expected {want:?} naming the object: {message}: {context}"
                    ))
                } else if path.uploads()
                    && direct.size(&key).map_err(|e| e.0) != Err(S3OS_NOT_FOUND)
                {
                    Err(format!("an object landed: {context}"))
                } else if path.uploads()
                    && (proxy.count("AbortMultipartUpload") == 0
                        || proxy.count("CompleteMultipartUpload") != 0)
                {
                    Err(format!("expected an abort and no completion: {context}"))
                } else {
                    Ok(format!("{status:?}"))
                }
            }
            _ => Err(format!("expected {expect:?}: {context}")),
        };
        let left = server.unfinished_uploads();
        match outcome {
            Ok(_) if !left.is_empty() => {
                failures.push(format!("unfinished uploads {left:?}: {context}"))
            }
            Ok(line) => writeln!(report, "{path:?} {fault:?} always={always}: {line}").unwrap(),
            Err(message) => failures.push(message),
        }
    }
    eprint!("{report}");
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[test]
fn resets_and_truncation_on_every_memory_path() {
    let mut cases = Vec::new();
    for path in [
        Path::UploadBuffer,
        Path::Writer,
        Path::DownloadBuffer,
        Path::Reader,
        Path::ReadRange,
    ] {
        let reset = if path.uploads() {
            Fault::ResetRequest { after: MID }
        } else {
            Fault::ResetResponse { after: Some(MID) }
        };
        for fault in [reset, Fault::Truncate { keep: MID }] {
            cases.push((path, fault.clone(), false, Expect::Retried));
            cases.push((path, fault, true, Expect::Fails(S3OS_TRANSIENT)));
        }
    }
    check_cases(cases);
}

#[test]
fn corrupted_bytes_on_the_buffer_and_reader_paths() {
    // The object's CRC32C covers all its bytes: the ranges' CRCs combined (buffer), the bytes
    // handed out in order (reader) and a range that is the whole object are checked against it,
    // which cannot tell which range was hit, so even one flipped bit fails the call. A signed upload whose body is changed
    // on the way is refused by the server (s3s-fs answers 500) and sent again.
    let corrupt = Fault::CorruptResponse { at: MID };
    let integrity = Expect::Fails(S3OS_INTEGRITY);
    check_cases(vec![
        (Path::DownloadBuffer, corrupt.clone(), false, integrity),
        (Path::DownloadBuffer, corrupt.clone(), true, integrity),
        (Path::Reader, corrupt.clone(), false, integrity),
        (Path::Reader, corrupt.clone(), true, integrity),
        // A range that is the whole object is checked against the object's CRC32C.
        (Path::ReadRange, corrupt, false, integrity),
        (
            Path::UploadBuffer,
            Fault::CorruptRequest { at: MID },
            false,
            Expect::Retried,
        ),
        (
            Path::Writer,
            Fault::CorruptRequest { at: MID },
            false,
            Expect::Retried,
        ),
        (
            Path::Writer,
            Fault::CorruptRequest { at: MID },
            true,
            Expect::Fails(S3OS_TRANSIENT),
        ),
    ]);
}

fn moto_store(endpoint: &str) -> CStore {
    store_with(BUCKET, &settings_for(endpoint)).unwrap()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn memory_uploads_in_parts_carry_the_crc32c_of_all_their_bytes() {
    let moto = Moto::start();
    let store = moto_store(&moto.endpoint());
    let data = pattern(LARGE + 3, 21);
    store.upload_buffer("buffer", &data).unwrap();
    store.write_stream("stream", &data, 100_000).unwrap();
    let expected = aws_smithy_types::base64::encode(crc32c::crc32c(&data).to_be_bytes());
    for key in ["buffer", "stream"] {
        let head = moto.head_with_checksums(key);
        assert_eq!(
            header(&head, "x-amz-checksum-type"),
            Some("FULL_OBJECT"),
            "{key}: {head:?}"
        );
        assert_eq!(
            header(&head, "x-amz-checksum-crc32c"),
            Some(expected.as_str()),
            "{key}"
        );
        assert!(
            store.download_buffer(key, data.len()).0.unwrap() == data,
            "{key}"
        );
        assert!(store.read_stream(key, MIB).unwrap() == data, "{key}");
    }
    assert_eq!(moto.unfinished_uploads(), 0);
}

#[test]
fn corrupted_ranges_of_an_object_uploaded_in_parts_are_caught() {
    let moto = Moto::start();
    let data = pattern(LARGE, 22);
    moto_store(&moto.endpoint())
        .upload_buffer("object", &data)
        .unwrap();
    let proxy = Proxy::start(moto.addr);
    let victim = Path::Reader.victim();
    let fault = proxy.inject(
        move |r| r.label() == victim,
        Fault::CorruptResponse { at: MID },
        0,
        usize::MAX,
    );
    let store = moto_store(&proxy.endpoint());
    let (status, message) = store.download_buffer("object", LARGE).0.unwrap_err();
    assert_eq!(status, S3OS_INTEGRITY, "{message}");
    let (status, message) = store.read_stream("object", MIB).unwrap_err();
    assert_eq!(status, S3OS_INTEGRITY, "{message}");
    assert!(message.contains("CRC32C"), "{message}");
    // Once caught, the reader keeps saying so: reading the bad bytes again is no way around it.
    let reader = store.open_reader("object").unwrap();
    let failed = loop {
        match reader.read(4 * MIB) {
            Ok(chunk) if chunk.is_empty() => panic!("the corruption went unnoticed"),
            Ok(_) => {}
            Err(failure) => break failure,
        }
    };
    assert_eq!(failed.0, S3OS_INTEGRITY, "{}", failed.1);
    reader.seek(0).unwrap();
    assert_eq!(reader.read(10).unwrap_err().0, S3OS_INTEGRITY);
    assert!(proxy.fired(fault) >= 3);
}

#[test]
fn an_object_overwritten_during_a_read_gives_an_error() {
    let moto = Moto::start();
    let store = moto_store(&moto.endpoint());
    let first = pattern(LARGE, 23);
    store.upload_buffer("object", &first).unwrap();

    // Opened (pinned to the first version), then overwritten before the first byte is read.
    let reader = store.open_reader("object").unwrap();
    store.upload_buffer("object", &pattern(LARGE, 24)).unwrap();
    let (status, message) = reader.read(MIB).unwrap_err();
    assert_eq!(status, S3OS_TRANSIENT, "{message}");
    assert!(
        message.contains("412") || message.contains("PreconditionFailed"),
        "{message}"
    );
    // Random access too.
    reader.seek(3 * MIB as u64).unwrap();
    assert_eq!(reader.read(100).unwrap_err().0, S3OS_TRANSIENT);

    // Read in part, then overwritten: the next request fails rather than mix versions.
    let second = pattern(LARGE, 25);
    let reader = store.open_reader("object").unwrap();
    reader.seek(10).unwrap();
    let head = reader.read(1000).unwrap();
    store.upload_buffer("object", &second).unwrap();
    reader.seek(2 * PART as u64).unwrap();
    assert_eq!(reader.read(1000).unwrap_err().0, S3OS_TRANSIENT);
    assert!(head == pattern(LARGE, 24)[10..1010]);
    // A fresh reader reads the new version whole.
    assert!(store.read_stream("object", 4 * MIB).unwrap() == second);
}

#[test]
fn every_whole_object_crc_is_checked_on_the_memory_paths() {
    // Objects as other SDKs store them, with a CRC32, CRC64NVME or SHA-256 of all their bytes.
    // One flipped byte in the second part: the buffer download combines the ranges' CRCs, the
    // reader and a whole-object range compute the CRC of what they hand out. A SHA-256 object
    // comes to the buffer in one stream the SDK checks (and fetches again when damaged); the
    // reader and ranges cannot check a SHA, so for it they are only shown to read it intact.
    use aws_sdk_s3::types::ChecksumAlgorithm;
    let moto = Moto::start();
    let algorithms = [
        (ChecksumAlgorithm::Crc32, "CRC32"),
        (ChecksumAlgorithm::Crc64Nvme, "CRC64NVME"),
        (ChecksumAlgorithm::Sha256, "SHA256"),
    ];
    for (i, (algorithm, name)) in algorithms.into_iter().enumerate() {
        let data = pattern(LARGE, 60 + i as u64);
        moto.put_with_checksum(name, data.clone(), algorithm);
        let sha = name.starts_with("SHA");
        let clean = moto_store(&moto.endpoint());
        assert!(
            clean.download_buffer(name, LARGE).0.unwrap() == data,
            "{name}"
        );
        assert!(clean.read_stream(name, MIB).unwrap() == data, "{name}");
        assert!(clean.read_range(name, 0, LARGE).unwrap() == data, "{name}");
        if sha {
            let proxy = Proxy::start(moto.addr);
            let fault = proxy.inject(
                |r| r.label() == "GetObject",
                Fault::CorruptResponse { at: 6 * MIB as u64 },
                0,
                1,
            );
            let store = moto_store(&proxy.endpoint());
            assert!(
                store.download_buffer(name, LARGE).0.unwrap() == data,
                "{name}"
            );
            assert_eq!(proxy.fired(fault), 1, "{name}: {:?}", proxy.log());
            continue;
        }
        for path in [Path::DownloadBuffer, Path::Reader, Path::ReadRange] {
            let proxy = Proxy::start(moto.addr);
            let victim = path.victim();
            let fault = proxy.inject(
                move |r| r.label() == victim,
                Fault::CorruptResponse { at: 1000 },
                0,
                1,
            );
            let store = moto_store(&proxy.endpoint());
            let (status, message) = run(path, &data, &store, name).unwrap_err();
            assert_eq!(status, S3OS_INTEGRITY, "{name} {path:?}: {message}");
            assert!(message.contains(name), "{name} {path:?}: {message}");
            assert_eq!(proxy.fired(fault), 1, "{name} {path:?}: {:?}", proxy.log());
        }
    }
}

#[test]
fn every_pass_of_the_reader_from_the_start_is_verified() {
    // The first pass is clean; the second, after a seek back to 0, gets a flipped bit.
    let server = server();
    let data = pattern(LARGE, 23);
    store(&server, &[("multipart_threshold", "64MiB")])
        .upload_buffer("object", &data)
        .unwrap();
    let proxy = Proxy::start(server.addr);
    let victim = Path::Reader.victim();
    let fault = proxy.inject(
        move |r| r.label() == victim,
        Fault::CorruptResponse { at: MID },
        1,
        1,
    );
    let mut settings = base_settings(&server);
    settings.push(("endpoint_url".into(), proxy.endpoint()));
    let store = store_with(BUCKET, &settings).unwrap();
    let reader = store.open_reader("object").unwrap();
    let pass = |reader: &support::memory::Reader| {
        let mut out = Vec::new();
        loop {
            match reader.read(MIB) {
                Ok(chunk) if chunk.is_empty() => return Ok(out),
                Ok(chunk) => out.extend_from_slice(&chunk),
                Err(failure) => return Err(failure),
            }
        }
    };
    assert!(pass(&reader).unwrap() == data, "the first pass");
    assert_eq!(proxy.fired(fault), 0);
    reader.seek(0).unwrap();
    let (status, message) = pass(&reader).unwrap_err();
    assert_eq!(proxy.fired(fault), 1, "{:?}", proxy.log());
    assert_eq!(status, S3OS_INTEGRITY, "{message}");
}

/// A store whose requests go through `proxy`, which stops reading every upload body: the
/// stalled connection must not keep the lent memory, so each call ends within its timeouts.
fn stalled_upload_store(server: &LocalS3, proxy: &Proxy, extra: &[(&str, &str)]) -> CStore {
    proxy.inject(
        |r| r.label() == "PutObject" || r.label().starts_with("UploadPart"),
        Fault::StallRequest {
            after: MID,
            stall: std::time::Duration::from_secs(180),
        },
        0,
        usize::MAX,
    );
    let mut settings = base_settings(server);
    for (k, v) in [
        ("endpoint_url", proxy.endpoint().as_str()),
        ("read_timeout", "2"),
        ("connect_timeout", "1"),
        ("max_attempts", "2"),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    {
        settings.push((k.into(), v.into()));
    }
    store_with(BUCKET, &settings).unwrap()
}

#[test]
fn lent_memory_is_returned_within_the_timeouts_when_the_server_stops_reading() {
    use s3os::capi::*;
    use std::time::{Duration, Instant};
    // Bodies larger than the sockets' buffers hold, so that the stalled writes stay pending.
    let data = pattern(48 * MIB, 24);
    let bound = Duration::from_secs(30);
    let server = server();
    // One PUT, then parts of 32 MiB, straight from the caller's memory.
    for threshold in ["64MiB", "32MiB"] {
        let proxy = Proxy::start(server.addr);
        let store = stalled_upload_store(
            &server,
            &proxy,
            &[
                ("multipart_threshold", threshold),
                ("multipart_chunksize", "32MiB"),
            ],
        );
        let started = Instant::now();
        let (status, message) = store.upload_buffer("stalled", &data).unwrap_err();
        assert_eq!(status, S3OS_TRANSIENT, "{threshold}: {message}");
        assert!(
            started.elapsed() < bound,
            "{threshold}: {:?}",
            started.elapsed()
        );
    }
    // In the background: cancelled, and left to fail.
    for cancel in [true, false] {
        let proxy = Proxy::start(server.addr);
        let store = stalled_upload_store(&server, &proxy, &[("multipart_threshold", "64MiB")]);
        let started = Instant::now();
        let mut transfer = std::ptr::null_mut();
        let name = c("stalled-in-background");
        let status = unsafe {
            s3os_upload_buffer_start(
                store.0,
                name.as_ptr(),
                data.as_ptr().cast(),
                data.len(),
                &mut transfer,
            )
        };
        assert_eq!(status, S3OS_OK, "{}", last_error());
        std::thread::sleep(Duration::from_millis(500));
        if cancel {
            assert_eq!(unsafe { s3os_transfer_cancel(transfer) }, S3OS_OK);
        }
        let status = unsafe { s3os_transfer_wait(transfer, bound.as_millis() as i64) };
        let expected = if cancel {
            S3OS_CANCELLED
        } else {
            S3OS_TRANSIENT
        };
        assert_eq!(status, expected, "cancel={cancel}: {}", last_error());
        unsafe { s3os_transfer_free(transfer) };
        assert!(
            started.elapsed() < bound,
            "cancel={cancel}: {:?}",
            started.elapsed()
        );
    }
    // The writer: its parts are its own copies, and its close ends within the timeouts too.
    let proxy = Proxy::start(server.addr);
    let store = stalled_upload_store(
        &server,
        &proxy,
        &[
            ("multipart_threshold", "32MiB"),
            ("multipart_chunksize", "32MiB"),
        ],
    );
    let started = Instant::now();
    let (status, message) = store
        .write_stream("stalled-writer", &data, MIB)
        .unwrap_err();
    assert_eq!(status, S3OS_TRANSIENT, "writer: {message}");
    assert!(started.elapsed() < bound, "writer: {:?}", started.elapsed());
}
