//! The same transfers against moto's S3 server, an implementation independent of s3s-fs that
//! keeps the checksums of objects uploaded in parts the way S3 does. That is what makes a
//! ranged download of such an object verifiable, so corruption is injected here too.

mod support;

use s3os::capi::s3os_status::S3OS_INTEGRITY;
use support::moto::Moto;
use support::proxy::{Fault, Proxy};
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
