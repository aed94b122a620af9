//! The same transfers against moto's S3 server, an implementation independent of s3s-fs that
//! keeps the checksums of objects uploaded in parts the way S3 does. That is what makes a
//! ranged download of such an object verifiable, so corruption is injected here too.

mod support;

use aws_sdk_s3::types::ChecksumAlgorithm;
use s3os::capi::s3os_status::{S3OS_INTEGRITY, S3OS_NOT_FOUND};
use support::moto::Moto;
use support::proxy::{crc32c_keeping_change, Fault, Proxy};
use support::*;

/// Three parts of 5 MiB (the last one 2 MiB + 3 bytes): ranged both ways.
const LARGE: usize = 12 * MIB + 3;

fn store_at(endpoint: &str, extra: &[(&str, &str)]) -> CStore {
    let mut settings = settings_for(endpoint);
    settings.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    store_with(BUCKET, &settings).expect("creating a store")
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn crc32c_base64(data: &[u8]) -> String {
    aws_smithy_types::base64::encode(crc32c::crc32c(data).to_be_bytes())
}

#[test]
fn round_trips_in_both_checksum_modes() {
    let moto = Moto::start();
    let dir = scratch("moto-roundtrip");
    for checksums in ["when_supported", "when_required"] {
        let store = store_at(
            &moto.endpoint(),
            &[
                ("request_checksum_calculation", checksums),
                ("response_checksum_validation", checksums),
            ],
        );
        for (i, len) in [0, 1, MIB + 17, LARGE].into_iter().enumerate() {
            let name = format!("{checksums}/object-{i}");
            let data = pattern(len, i as u64);
            let source = write_file(&dir, &format!("{checksums}-{i}"), &data);
            store.upload(&name, &source).unwrap();
            assert_eq!(store.size(&name).unwrap(), len as u64, "{name}");
            let target = dir.join(format!("{checksums}-{i}.back"));
            store.download(&name, &target, false).unwrap();
            assert!(
                std::fs::read(&target).unwrap() == data,
                "{name}: bytes differ"
            );
        }
        let listed = store.list(Some(&format!("{checksums}/"))).unwrap();
        assert_eq!(listed.len(), 4, "{listed:?}");
        store.delete(&format!("{checksums}/object-0")).unwrap();
        assert_eq!(store.list(Some(&format!("{checksums}/"))).unwrap().len(), 3);
    }
}

#[test]
fn objects_uploaded_in_parts_carry_a_crc32c_of_all_their_bytes() {
    let moto = Moto::start();
    let dir = scratch("moto-checksum-type");
    let data = pattern(LARGE, 7);
    let source = write_file(&dir, "source", &data);

    store_at(&moto.endpoint(), &[])
        .upload("full", &source)
        .unwrap();
    let head = moto.head_with_checksums("full");
    assert_eq!(
        header(&head, "x-amz-checksum-type"),
        Some("FULL_OBJECT"),
        "{head:?}"
    );
    assert_eq!(
        header(&head, "x-amz-checksum-crc32c"),
        Some(crc32c_base64(&data).as_str()),
        "{head:?}"
    );

    // The older form, for stores that reject the checksum type: a checksum of part checksums,
    // which moto sends without S3's "-3" suffix and without a type. It must not be taken for
    // the CRC32C of the bytes, or the download would fail.
    let store = store_at(
        &moto.endpoint(),
        &[("multipart_checksum_type", "composite")],
    );
    store.upload("composite", &source).unwrap();
    let head = moto.head_with_checksums("composite");
    assert_ne!(
        header(&head, "x-amz-checksum-type"),
        Some("FULL_OBJECT"),
        "{head:?}"
    );
    let composite = header(&head, "x-amz-checksum-crc32c").expect("a composite checksum");
    assert_ne!(composite, crc32c_base64(&data), "{head:?}");
    let target = dir.join("composite.back");
    store.download("composite", &target, false).unwrap();
    assert!(std::fs::read(&target).unwrap() == data);
}

#[test]
fn corrupted_ranges_of_an_object_uploaded_in_parts_never_reach_the_target() {
    let moto = Moto::start();
    let dir = scratch("moto-corrupt");
    let data = pattern(LARGE, 11);
    let source = write_file(&dir, "source", &data);
    store_at(&moto.endpoint(), &[])
        .upload("object", &source)
        .unwrap();

    let proxy = Proxy::start(moto.addr);
    let store = store_at(&proxy.endpoint(), &[]);
    let clean = dir.join("clean");
    store.download("object", &clean, false).unwrap();
    assert!(
        std::fs::read(&clean).unwrap() == data,
        "fault-free download differs"
    );

    let range = format!("GetObject bytes={}-{}", 5 * MIB, 10 * MIB - 1);
    let hit = range.clone();
    let fault = proxy.inject(
        move |r| r.label() == hit,
        Fault::CorruptResponse { at: 1000 },
        0,
        1,
    );
    let out = dir.join("out");
    let target = out.join("target");
    let result = store.download("object", &target, false);
    assert_eq!(
        proxy.fired(fault),
        1,
        "the fault never fired: {:?}",
        proxy.log()
    );
    let (status, message) = result.expect_err("a corrupted range went unnoticed");
    assert_eq!(status, S3OS_INTEGRITY, "{message}");
    assert!(message.contains("CRC32C"), "{message}");
    assert!(
        !target.exists(),
        "the corrupted download reached the target"
    );
    assert!(temporaries(&out).is_empty(), "{:?}", temporaries(&out));
}

#[test]
fn a_lost_answer_to_the_completion_still_reports_success() {
    // moto, like S3, answers a repeated completion with NoSuchUpload; the object under the key
    // is made of the uploaded parts, so the upload worked and must say so.
    let moto = Moto::start();
    let dir = scratch("moto-complete");
    let data = pattern(LARGE, 13);
    let source = write_file(&dir, "source", &data);
    let proxy = Proxy::start(moto.addr);
    let lost = proxy.inject(
        |r| r.operation() == "CompleteMultipartUpload",
        Fault::ResetResponse { after: None },
        0,
        1,
    );
    let store = store_at(&proxy.endpoint(), &[]);
    let result = store.upload("object", &source);
    assert_eq!(proxy.fired(lost), 1);
    assert_eq!(result, Ok(()), "{:?}", proxy.log());
    assert_eq!(
        proxy.count("CompleteMultipartUpload"),
        2,
        "{:?}",
        proxy.log()
    );
    let target = dir.join("back");
    store_at(&moto.endpoint(), &[])
        .download("object", &target, false)
        .unwrap();
    assert!(std::fs::read(&target).unwrap() == data);
}

/// Stores `data` under `key` in one PUT from the AWS SDK itself, with the whole-object
/// checksum of `algorithm` (as boto3 and other SDKs upload: CRC32 is boto3's default), and
/// checks that the server keeps that checksum.
fn put_with_checksum(moto: &Moto, key: &str, data: Vec<u8>, algorithm: ChecksumAlgorithm) {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .endpoint_url(moto.endpoint())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "test",
        ))
        .force_path_style(true)
        .build();
    let client = aws_sdk_s3::Client::from_conf(config);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(
            client
                .put_object()
                .bucket(BUCKET)
                .key(key)
                .checksum_algorithm(algorithm.clone())
                .body(data.into())
                .send(),
        )
        .expect("a PUT with a checksum");
    let head = runtime
        .block_on(
            client
                .head_object()
                .bucket(BUCKET)
                .key(key)
                .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
                .send(),
        )
        .expect("a HEAD with checksums");
    let kept = match algorithm {
        ChecksumAlgorithm::Crc32 => head.checksum_crc32(),
        ChecksumAlgorithm::Crc32C => head.checksum_crc32_c(),
        ChecksumAlgorithm::Crc64Nvme => head.checksum_crc64_nvme(),
        ChecksumAlgorithm::Sha1 => head.checksum_sha1(),
        ChecksumAlgorithm::Sha256 => head.checksum_sha256(),
        _ => None,
    };
    assert!(
        kept.is_some(),
        "{key}: no {algorithm} checksum kept: {head:?}"
    );
}

#[test]
fn ranged_downloads_are_checked_against_every_whole_object_checksum() {
    // CRC32, CRC32C and CRC64NVME combine across ranges; a SHA does not, so an object with
    // only a SHA comes in one stream the SDK checks (and a corrupted stream is fetched again).
    let moto = Moto::start();
    let dir = scratch("moto-algorithms");
    let len = 3 * 5 * MIB + 7;
    let algorithms = [
        (ChecksumAlgorithm::Crc32, "CRC32"),
        (ChecksumAlgorithm::Crc32C, "CRC32C"),
        (ChecksumAlgorithm::Crc64Nvme, "CRC64NVME"),
        (ChecksumAlgorithm::Sha256, "SHA256"),
        (ChecksumAlgorithm::Sha1, "SHA1"),
    ];
    for (i, (algorithm, name)) in algorithms.into_iter().enumerate() {
        let data = pattern(len, 40 + i as u64);
        put_with_checksum(&moto, name, data.clone(), algorithm);
        let sha = name.starts_with("SHA");

        let proxy = Proxy::start(moto.addr);
        let store = store_at(&proxy.endpoint(), &[]);
        let clean = dir.join(format!("{name}.clean"));
        store.download(name, &clean, false).unwrap();
        assert!(
            std::fs::read(&clean).unwrap() == data,
            "{name}: bytes differ"
        );
        let ranged = proxy
            .counts()
            .keys()
            .filter(|label| label.starts_with("GetObject bytes="))
            .count();
        assert_eq!(ranged, if sha { 0 } else { 3 }, "{name}: {:?}", proxy.log());

        // One flipped byte in the second part's bytes: a CRC catches it when the ranges are
        // combined; the SDK catches it in the one stream of a SHA object, which is then
        // fetched once more.
        let second_range = format!("GetObject bytes={}-{}", 5 * MIB, 10 * MIB - 1);
        let hit = if sha {
            "GetObject".to_string()
        } else {
            second_range
        };
        let at = if sha { 6 * MIB as u64 } else { 1000 };
        let fault = proxy.inject(
            move |r| r.label() == hit,
            Fault::CorruptResponse { at },
            0,
            1,
        );
        let out = dir.join(format!("{name}.out"));
        let target = out.join("target");
        let result = store.download(name, &target, false);
        assert_eq!(proxy.fired(fault), 1, "{name}: {:?}", proxy.log());
        if sha {
            assert_eq!(result, Ok(()), "{name}");
            assert!(
                std::fs::read(&target).unwrap() == data,
                "{name}: bytes differ"
            );
        } else {
            let (status, message) = result.expect_err("a corrupted range went unnoticed");
            assert_eq!(status, S3OS_INTEGRITY, "{name}: {message}");
            assert!(message.contains(name), "{name}: {message}");
            assert!(
                !target.exists(),
                "{name}: the corrupted download reached the target"
            );
        }
        assert!(
            temporaries(&out).is_empty(),
            "{name}: {:?}",
            temporaries(&out)
        );
    }
}

#[test]
fn an_answer_for_another_range_is_never_written_in_its_place() {
    // A proxy forwards the request for the second part as one for the first: same length, same
    // object size. Without a checksum to compare (validation off), only the Content-Range can
    // tell; the range is fetched again, and a persistent mix-up fails the download.
    let moto = Moto::start();
    let dir = scratch("moto-ranges");
    let data = pattern(LARGE, 21);
    store_at(&moto.endpoint(), &[])
        .upload("object", &write_file(&dir, "source", &data))
        .unwrap();
    let second = format!("GetObject bytes={}-{}", 5 * MIB, 10 * MIB - 1);
    for (times, attempts) in [(1, 3), (usize::MAX, 2)] {
        let proxy = Proxy::start(moto.addr);
        let hit = second.clone();
        let fault = proxy.inject(
            move |r| r.label() == hit,
            Fault::RewriteRange {
                to: format!("bytes=0-{}", 5 * MIB - 1),
            },
            0,
            times,
        );
        let store = store_at(
            &proxy.endpoint(),
            &[
                ("response_checksum_validation", "when_required"),
                ("max_attempts", &attempts.to_string()),
            ],
        );
        let out = dir.join(format!("out-{attempts}"));
        let target = out.join("target");
        let result = store.download("object", &target, false);
        assert!(proxy.fired(fault) >= 1, "{:?}", proxy.log());
        if times == 1 {
            assert_eq!(result, Ok(()), "{:?}", proxy.log());
            assert!(std::fs::read(&target).unwrap() == data, "bytes differ");
            assert_eq!(proxy.count(&second), 2, "{:?}", proxy.log());
        } else {
            let (status, message) = result.expect_err("a wrong range was accepted");
            assert_eq!(status, S3OS_INTEGRITY, "{message}");
            assert!(message.contains("bytes 0-5242879/"), "{message}");
            assert!(!target.exists());
        }
        assert!(temporaries(&out).is_empty(), "{:?}", temporaries(&out));
    }
}

#[test]
fn an_object_with_the_same_crc32c_is_not_taken_for_the_uploaded_one() {
    // The completion is answered NoSuchUpload while another writer's object sits under the
    // key, with the same length and the same full-object CRC32C but other bytes (a CRC
    // collision is easy to make). Only the ETag derived from the uploaded parts proves the
    // object is ours; without it the upload failed and must say so.
    let moto = Moto::start();
    let dir = scratch("moto-collision");
    let ours = pattern(LARGE, 31);
    let mut theirs = ours.clone();
    let change = crc32c_keeping_change();
    let tail = theirs.len() - change.len();
    for (byte, mask) in theirs[tail..].iter_mut().zip(change) {
        *byte ^= mask;
    }
    assert_ne!(ours, theirs);
    assert_eq!(crc32c::crc32c(&ours), crc32c::crc32c(&theirs));
    let direct = store_at(&moto.endpoint(), &[]);
    direct
        .upload("key", &write_file(&dir, "theirs", &theirs))
        .unwrap();

    let proxy = Proxy::start(moto.addr);
    let gone = proxy.inject(
        |r| r.operation() == "CompleteMultipartUpload",
        Fault::Respond {
            status: 404,
            code: "NoSuchUpload",
        },
        0,
        1,
    );
    let store = store_at(&proxy.endpoint(), &[]);
    let (status, message) = store
        .upload("key", &write_file(&dir, "ours", &ours))
        .expect_err("another writer's object was taken for the upload");
    assert_eq!(proxy.fired(gone), 1);
    assert_eq!(status, S3OS_NOT_FOUND, "{message}");
    let check = dir.join("check");
    direct.download("key", &check, false).unwrap();
    assert!(std::fs::read(&check).unwrap() == theirs);
    assert_eq!(moto.unfinished_uploads(), 0);
}

#[test]
fn listing_returns_every_name_exactly_even_those_xml_cannot_carry() {
    let moto = Moto::start();
    let dir = scratch("moto-names");
    let store = store_at(&moto.endpoint(), &[("prefix", "names")]);
    let source = write_file(&dir, "one", b"1");
    let mut names = vec![
        "ctl\u{1}x",
        "bell\u{7}and\u{1f}unit",
        "tab\tname",
        "a+b %41 caf\u{e9}",
        "q?#%+&=;",
        "plus+only",
        "percent%41only",
        "\u{1F600}/deep/key",
    ];
    for name in &names {
        store.upload(name, &source).unwrap();
    }
    let mut listed: Vec<String> = store
        .list(None)
        .unwrap()
        .into_iter()
        .map(|(name, size)| {
            assert_eq!(size, 1, "{name:?}");
            name
        })
        .collect();
    listed.sort();
    names.sort();
    assert_eq!(listed, names);
}
