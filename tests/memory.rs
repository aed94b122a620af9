//! Transfers between objects and memory through the C ABI against a real S3 server: uploads
//! from a buffer, downloads into the caller's buffer and into one s3os allocates, ranged
//! reads, and stream writers and readers. Every case compares bytes with what was sent.

mod support;

use s3os::capi::s3os_status::*;
use support::proxy::Proxy;
use support::*;

/// The stores below: parts of 5 MiB from 8 MiB on, 4 in flight.
const THRESHOLD: usize = 8 * MIB;
const PART: usize = 5 * MIB;
/// Three parts of 5 MiB and a remainder.
const SEVERAL: usize = 3 * PART + 12_345;

/// The sizes every path is tried with.
const SIZES: [(&str, usize); 6] = [
    ("empty", 0),
    ("one-byte", 1),
    ("below-threshold", THRESHOLD - 1),
    ("threshold", THRESHOLD),
    ("above-threshold", THRESHOLD + 1),
    ("several-parts", SEVERAL),
];

#[test]
fn buffers_round_trip_at_every_size() {
    let server = server();
    let store = store(&server, &[]);
    let dir = scratch("buffers");
    for (name, len) in SIZES {
        let data = pattern(len, len as u64 + 1);
        let mut up = ProgressLog::default();
        store.upload_buffer_logged(name, &data, &mut up).unwrap();
        up.assert_complete(len as u64);
        assert_eq!(store.size(name).unwrap(), len as u64, "{name}");

        // The file path reads what the buffer path wrote, and the memory paths read it back.
        let file = dir.join(name);
        store.download(name, &file, false).unwrap();
        assert!(
            std::fs::read(&file).unwrap() == data,
            "{name}: file differs"
        );
        let mut down = ProgressLog::default();
        let exact = store.download_buffer_logged(name, len, &mut down).unwrap();
        down.assert_complete(len as u64);
        assert!(exact == data, "{name}: buffer of the exact size differs");
        let (roomy, reported, _) = store.download_buffer(name, len + 4096);
        assert!(roomy.unwrap() == data, "{name}: larger buffer differs");
        assert_eq!(reported, len, "{name}: out_len");
        assert!(
            store.download_alloc(name).unwrap() == data,
            "{name}: allocated buffer differs"
        );

        if len > 0 {
            // Too small: the size is reported, and not one byte of the buffer is touched.
            let (result, reported, buffer) = store.download_buffer(name, len - 1);
            let (status, message) = result.unwrap_err();
            assert_eq!(status, S3OS_BUFFER_TOO_SMALL, "{name}: {message}");
            assert_eq!(reported, len, "{name}: out_len names the size");
            assert!(message.contains(&len.to_string()), "{message}");
            assert!(
                buffer.iter().all(|&b| b == 0xA5),
                "{name}: a too-small buffer was written into"
            );
        }
    }
    assert!(server.unfinished_uploads().is_empty());
}

#[test]
fn missing_objects_and_bad_arguments() {
    let server = server();
    let store = store(&server, &[]);
    let (result, reported, _) = store.download_buffer("missing", 10);
    assert_eq!(result.unwrap_err().0, S3OS_NOT_FOUND);
    assert_eq!(reported, 0);
    assert_eq!(
        store.download_alloc("missing").unwrap_err().0,
        S3OS_NOT_FOUND
    );
    assert_eq!(
        store.read_range("missing", 0, 10).unwrap_err().0,
        S3OS_NOT_FOUND
    );
    assert_eq!(
        store.open_reader("missing").err().unwrap().0,
        S3OS_NOT_FOUND
    );
    unsafe {
        use s3os::capi::*;
        let name = c("x");
        let mut len = 0usize;
        let null = std::ptr::null_mut();
        let cases = [
            (
                "upload_buffer NULL data",
                s3os_upload_buffer(store.0, name.as_ptr(), std::ptr::null(), 1, None, null),
            ),
            (
                "download_buffer NULL buf",
                s3os_download_buffer(store.0, name.as_ptr(), null, 5, &mut len, None, null),
            ),
            (
                "read_range NULL buf",
                s3os_read_range(store.0, name.as_ptr(), 0, null, 5, &mut len),
            ),
            (
                "writer_write NULL writer",
                s3os_writer_write(std::ptr::null_mut(), b"x".as_ptr().cast(), 1),
            ),
            ("writer_close NULL", s3os_writer_close(std::ptr::null_mut())),
            (
                "reader_seek NULL",
                s3os_reader_seek(std::ptr::null_mut(), 0),
            ),
        ];
        for (what, status) in cases {
            assert_eq!(status, S3OS_INVALID_ARGUMENT, "{what}: {}", last_error());
        }
        // Empty buffers may be NULL.
        outcome(s3os_upload_buffer(
            store.0,
            name.as_ptr(),
            std::ptr::null(),
            0,
            None,
            null,
        ))
        .unwrap();
        outcome(s3os_download_buffer(
            store.0,
            name.as_ptr(),
            null,
            0,
            &mut len,
            None,
            null,
        ))
        .unwrap();
        assert_eq!(len, 0);
    }
}

#[test]
fn ranges_read_what_exists() {
    let server = server();
    let store = store(&server, &[]);
    let data = pattern(SEVERAL, 3);
    store.upload_buffer("object", &data).unwrap();
    let size = SEVERAL as u64;
    // (offset, length): what comes back is data[offset..min(offset + length, size)].
    let cases: [(u64, usize); 10] = [
        (0, 0),
        (0, 1),
        (5, 100),
        (size - 1, 10),
        (size, 10),
        (size, 0),
        (0, SEVERAL),
        (3, 9 * MIB),                     // in parts, the first one not aligned
        (MIB as u64, SEVERAL),            // in parts, past the end
        (PART as u64 - 7, THRESHOLD - 1), // one request across a part boundary
    ];
    for (offset, len) in cases {
        let got = store.read_range("object", offset, len).unwrap();
        let start = offset as usize;
        let end = (start + len).min(SEVERAL);
        assert!(got == data[start..end], "range {offset}+{len} differs");
    }
    for offset in [size + 1, size + 1000] {
        for len in [0, 1, 100] {
            let (status, message) = store.read_range("object", offset, len).unwrap_err();
            assert_eq!(status, S3OS_INVALID_ARGUMENT, "{offset}+{len}: {message}");
            assert!(message.contains(&size.to_string()), "{message}");
        }
    }

    store.upload_buffer("empty", b"").unwrap();
    assert!(store.read_range("empty", 0, 10).unwrap().is_empty());
    assert_eq!(
        store.read_range("empty", 1, 1).unwrap_err().0,
        S3OS_INVALID_ARGUMENT
    );
}

#[test]
fn a_large_range_is_fetched_in_concurrent_parts() {
    let server = server();
    let data = pattern(SEVERAL, 4);
    support::store(&server, &[])
        .upload_buffer("object", &data)
        .unwrap();
    let proxy = Proxy::start(server.addr);
    let store = through_proxy(&server, &proxy);
    let got = store.read_range("object", 100, SEVERAL).unwrap();
    assert!(got == data[100..]);
    // The first range pins the object; the other three follow it.
    let ranges: Vec<String> = proxy
        .counts()
        .into_keys()
        .filter(|label| label.starts_with("GetObject bytes="))
        .collect();
    assert_eq!(ranges.len(), 4, "{:?}", proxy.log());
    assert!(ranges.contains(&format!("GetObject bytes=100-{}", 100 + PART - 1)));
}

fn through_proxy(server: &LocalS3, proxy: &Proxy) -> CStore {
    let mut settings = base_settings(server);
    settings.push(("endpoint_url".into(), proxy.endpoint()));
    store_with(BUCKET, &settings).unwrap()
}

#[test]
fn writers_make_the_object_from_any_pieces() {
    let server = server();
    let store = store(&server, &[]);
    // (name, total, bytes per write)
    let cases: [(&str, usize, usize); 9] = [
        ("nothing", 0, 1),
        ("one-byte", 1, 1),
        ("bytes", 6 * MIB + 5, 1),
        ("pages", SEVERAL, 4096),
        ("odd-mebibytes", SEVERAL, MIB + 3),
        ("one-huge-write", SEVERAL, SEVERAL),
        ("below-threshold", THRESHOLD - 1, 64 * 1024),
        ("threshold", THRESHOLD, MIB),
        ("two-full-parts", 2 * PART, PART),
    ];
    for (name, total, piece) in cases {
        let data = pattern(total, total as u64 + 9);
        store.write_stream(name, &data, piece).unwrap();
        assert!(
            store.download_alloc(name).unwrap() == data,
            "{name}: stored bytes differ"
        );
    }
    assert!(server.unfinished_uploads().is_empty());
}

#[test]
fn a_writer_sends_one_put_below_the_threshold_and_parts_above() {
    let server = server();
    let proxy = Proxy::start(server.addr);
    let store = through_proxy(&server, &proxy);
    store
        .write_stream("small", &pattern(THRESHOLD - 1, 1), 1000)
        .unwrap();
    assert_eq!(proxy.counts(), [("PutObject".to_string(), 1)].into());
    let proxy = Proxy::start(server.addr);
    let store = through_proxy(&server, &proxy);
    store
        .write_stream("large", &pattern(SEVERAL, 2), 777_777)
        .unwrap();
    let counts = proxy.counts();
    assert_eq!(counts.get("CreateMultipartUpload"), Some(&1), "{counts:?}");
    assert_eq!(
        counts.get("CompleteMultipartUpload"),
        Some(&1),
        "{counts:?}"
    );
    for part in 1..=4 {
        assert_eq!(
            counts.get(&format!("UploadPart {part}")),
            Some(&1),
            "{counts:?}"
        );
    }
    assert!(!counts.contains_key("PutObject"), "{counts:?}");
}

#[test]
fn an_aborted_writer_leaves_nothing() {
    let server = server();
    let store = store(&server, &[]);
    for (name, written) in [("before-any-part", PART - 1), ("parts-sent", 3 * PART + 1)] {
        let writer = store.open_writer(name).unwrap();
        writer.write(&pattern(written, 5)).unwrap();
        writer.abort().unwrap();
        assert_eq!(store.size(name).unwrap_err().0, S3OS_NOT_FOUND, "{name}");
    }
    // A writer dropped without close or abort aborts too.
    let writer = store.open_writer("dropped").unwrap();
    writer.write(&pattern(2 * PART, 6)).unwrap();
    drop(writer);
    assert_eq!(store.size("dropped").unwrap_err().0, S3OS_NOT_FOUND);
    assert!(server.unfinished_uploads().is_empty());
}

#[test]
fn readers_read_sequentially_and_anywhere() {
    let server = server();
    let store = store(&server, &[]);
    let data = pattern(SEVERAL, 8);
    store.upload_buffer("object", &data).unwrap();
    for piece in [1024 * 1024 + 7, 4096, PART, SEVERAL + 10] {
        assert!(
            store.read_stream("object", piece).unwrap() == data,
            "sequential reads of {piece} differ"
        );
    }
    let reader = store.open_reader("object").unwrap();
    assert_eq!(reader.size(), SEVERAL as u64);
    // (seek to, read length): random access, sequential runs, the end.
    let steps: [(u64, usize); 9] = [
        (SEVERAL as u64 - 10, 100),
        (7, 3),
        (10, 200_000),
        (200_010, 6 * MIB),
        (2 * PART as u64 + 3, 9 * MIB),
        (0, 0),
        (12_345, 1),
        (SEVERAL as u64, 10),
        (SEVERAL as u64 - 1, 1),
    ];
    for (at, len) in steps {
        reader.seek(at).unwrap();
        let got = reader.read(len).unwrap();
        let end = (at as usize + len).min(SEVERAL);
        assert!(
            got == data[at as usize..end],
            "read of {len} at {at} differs"
        );
    }
    assert!(reader.read(10).unwrap().is_empty(), "no bytes past the end");
    let (status, message) = reader.seek(SEVERAL as u64 + 1).unwrap_err();
    assert_eq!(status, S3OS_INVALID_ARGUMENT);
    assert!(message.contains(&SEVERAL.to_string()), "{message}");
    // The position did not move: the read continues at the end.
    assert!(reader.read(10).unwrap().is_empty());

    store.upload_buffer("empty", b"").unwrap();
    let empty = store.open_reader("empty").unwrap();
    assert_eq!(empty.size(), 0);
    assert!(empty.read(10).unwrap().is_empty());
}

#[test]
fn a_reader_serves_scattered_small_reads_from_chunks_and_prefetches_sequential_ones() {
    let server = server();
    let data = pattern(SEVERAL, 10);
    support::store(&server, &[])
        .upload_buffer("object", &data)
        .unwrap();
    let proxy = Proxy::start(server.addr);
    let store = through_proxy(&server, &proxy);
    let reader = store.open_reader("object").unwrap();
    let chunk = |index: usize| {
        let end = ((index + 1) * PART).min(SEVERAL) - 1;
        format!("GetObject bytes={}-{end}", index * PART)
    };
    // Small reads anywhere, as a zip reader (torch.load) makes them: each fetches the chunk
    // that holds it, and reads nearby are served from that chunk without another request.
    for (at, fetched) in [
        (SEVERAL - 1000, Some(3)),
        (5000, Some(0)),
        (3 * MIB, None),
        (32, None),
        (PART - 50, None),
    ] {
        reader.seek(at as u64).unwrap();
        assert!(
            reader.read(40).unwrap() == data[at..at + 40],
            "read at {at}"
        );
        if let Some(index) = fetched {
            assert_eq!(proxy.count(&chunk(index)), 1, "{:?}", proxy.log());
        }
    }
    assert_eq!(proxy.total(), 3, "HEAD and two chunks: {:?}", proxy.log());
    // A read across the end of the chunk held continues into the next one.
    reader.seek(PART as u64 - 10).unwrap();
    assert!(reader.read(20).unwrap() == data[PART - 10..PART + 10]);
    assert_eq!(proxy.count(&chunk(1)), 1, "{:?}", proxy.log());
    // Now sequentially on from there: whole chunks, fetched ahead (chunk 3 again: it was let go
    // when the reads moved back to the start).
    let mut got = data[..PART + 10].to_vec();
    loop {
        let piece = reader.read(MIB).unwrap();
        if piece.is_empty() {
            break;
        }
        got.extend_from_slice(&piece);
    }
    assert!(got == data);
    for (index, times) in [(0, 1), (1, 1), (2, 1), (3, 2)] {
        assert_eq!(proxy.count(&chunk(index)), times, "{:?}", proxy.log());
    }
    // A large read outside the chunks held goes straight into the caller's buffer: exactly the
    // bytes asked for.
    let before = proxy.total();
    reader.seek(1000).unwrap();
    assert!(reader.read(PART + 1).unwrap() == data[1000..1000 + PART + 1]);
    assert_eq!(
        proxy.count(&format!("GetObject bytes=1000-{}", 1000 + PART)),
        1,
        "{:?}",
        proxy.log()
    );
    assert_eq!(proxy.total(), before + 1, "{:?}", proxy.log());
}

#[test]
fn handles_outlive_their_store() {
    let server = server();
    let store = store(&server, &[]);
    let data = pattern(2 * PART + 3, 12);
    store.upload_buffer("object", &data).unwrap();
    let reader = store.open_reader("object").unwrap();
    let writer = store.open_writer("written").unwrap();
    drop(store);
    writer.write(&data).unwrap();
    writer.close().unwrap();
    let mut got = Vec::new();
    loop {
        let chunk = reader.read(MIB).unwrap();
        if chunk.is_empty() {
            break;
        }
        got.extend_from_slice(&chunk);
    }
    assert!(got == data);
    let check = support::store(&server, &[]);
    assert!(check.download_alloc("written").unwrap() == data);
}

#[test]
fn cancelled_memory_transfers_leave_nothing() {
    let server = server();
    let store = store(&server, &[]);
    let data = pattern(SEVERAL, 13);
    let mut log = ProgressLog {
        cancel_after: Some(0),
        ..ProgressLog::default()
    };
    let (status, message) = store
        .upload_buffer_logged("cancelled", &data, &mut log)
        .unwrap_err();
    assert_eq!(status, S3OS_CANCELLED, "{message}");
    assert_eq!(store.size("cancelled").unwrap_err().0, S3OS_NOT_FOUND);
    assert!(server.unfinished_uploads().is_empty());

    store.upload_buffer("object", &data).unwrap();
    let mut log = ProgressLog {
        cancel_after: Some(0),
        ..ProgressLog::default()
    };
    let (status, _) = store
        .download_buffer_logged("object", SEVERAL, &mut log)
        .unwrap_err();
    assert_eq!(status, S3OS_CANCELLED);
}
