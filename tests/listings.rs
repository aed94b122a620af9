//! Listings and deletions against servers that misbehave: slow listings that must still stop
//! at a cancellation, continuation tokens that would go round for ever, DeleteObjects answers
//! that do not account for every name, and keys that read differently encoded and raw. The
//! servers are s3s-fs and moto; the misbehaviour is the fault proxy's, on real answers.

mod support;

use std::ffi::{c_int, c_void};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use s3os::capi::s3os_status::{self, *};
use s3os::capi::*;
use support::moto::Moto;
use support::proxy::{Fault, Proxy, Request, Rewrite};
use support::*;

/// How long a stalled listing answer is held back: far longer than any cancellation may take.
const STALL: Duration = Duration::from_secs(30);

/// Well under [`STALL`]: the most a cancellation during a listing may take.
const PROMPTLY: Duration = Duration::from_secs(3);

fn is_listing(request: &Request) -> bool {
    request.operation() == "ListObjectsV2"
}

fn is_delete_objects(request: &Request) -> bool {
    request.method == "POST" && request.query("delete").is_some()
}

/// A store that reaches `server` through `proxy`, with timeouts longer than [`STALL`] so that
/// only a cancellation can end a stalled request early.
fn through(server: &LocalS3, proxy: &Proxy) -> CStore {
    let mut settings = base_settings(server);
    for (key, value) in [
        ("endpoint_url", proxy.endpoint()),
        ("read_timeout", "120".to_string()),
        ("max_attempts", "1".to_string()),
    ] {
        settings.push((key.to_string(), value));
    }
    store_with(BUCKET, &settings).expect("creating a store")
}

/// Objects `<folder>/<i>` of a few bytes each, uploaded by `store`.
fn upload_objects(store: &CStore, folder: &str, count: usize) -> Vec<String> {
    let dir = scratch("listing-objects");
    let source = write_file(&dir, "source", b"bytes");
    let names: Vec<String> = (0..count).map(|i| format!("{folder}/{i}")).collect();
    for name in &names {
        store.upload(name, &source).unwrap();
    }
    names
}

/// Waits until the proxy has seen `count` listing requests.
fn wait_for_listings(proxy: &Proxy, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while proxy.count("ListObjectsV2") < count {
        assert!(Instant::now() < deadline, "no listing: {:?}", proxy.log());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn start_download_prefix(store: *mut s3os_store, prefix: &str, dir: &Path) -> *mut s3os_transfer {
    let mut transfer = std::ptr::null_mut();
    let dir = c(dir.to_str().unwrap());
    let status = unsafe {
        s3os_download_prefix_start(
            store,
            c(prefix).as_ptr(),
            dir.as_ptr(),
            false,
            &mut transfer,
        )
    };
    outcome(status).unwrap();
    transfer
}

fn nothing_in(dir: &Path) -> bool {
    std::fs::read_dir(dir).map_or(true, |mut entries| entries.next().is_none())
}

#[test]
fn cancelling_download_prefix_while_it_lists_stops_at_once() {
    let server = server();
    upload_objects(&store(&server, &[]), "slow", 3);
    let proxy = Proxy::start(server.addr);
    let stalled = proxy.inject(
        is_listing,
        Fault::StallResponse {
            after: None,
            stall: STALL,
        },
        0,
        usize::MAX,
    );
    let root = scratch("listing-cancel");
    let store = through(&server, &proxy);

    // s3os_transfer_cancel.
    let out = root.join("cancelled");
    let transfer = start_download_prefix(store.0, "slow", &out);
    wait_for_listings(&proxy, 1);
    let started = Instant::now();
    outcome(unsafe { s3os_transfer_cancel(transfer) }).unwrap();
    let status = unsafe { s3os_transfer_wait(transfer, 10_000) };
    let waited = started.elapsed();
    assert_eq!(status, S3OS_CANCELLED, "{}", last_error());
    assert!(waited < PROMPTLY, "cancelled after {waited:?}");
    unsafe { s3os_transfer_free(transfer) };
    assert!(nothing_in(&out), "{} was written to", out.display());

    // s3os_transfer_free of a transfer still listing.
    let out = root.join("freed");
    let transfer = start_download_prefix(store.0, "slow", &out);
    wait_for_listings(&proxy, 2);
    let started = Instant::now();
    unsafe { s3os_transfer_free(transfer) };
    assert!(
        started.elapsed() < PROMPTLY,
        "freed after {:?}",
        started.elapsed()
    );
    assert!(nothing_in(&out));

    // s3os_store_free with a transfer still listing: the handle reports the cancellation.
    let doomed = through(&server, &proxy);
    let out = root.join("store-freed");
    let transfer = start_download_prefix(doomed.0, "slow", &out);
    wait_for_listings(&proxy, 3);
    let started = Instant::now();
    let raw = doomed.0;
    std::mem::forget(doomed);
    unsafe { s3os_store_free(raw) };
    assert!(
        started.elapsed() < PROMPTLY,
        "store freed after {:?}",
        started.elapsed()
    );
    assert_eq!(unsafe { s3os_transfer_wait(transfer, 0) }, S3OS_CANCELLED);
    unsafe { s3os_transfer_free(transfer) };
    assert!(nothing_in(&out));
    // One listing request each, none answered: the stall held every one back.
    assert_eq!(proxy.count("ListObjectsV2"), 3, "{:?}", proxy.log());
    assert!(proxy.fired(stalled) >= 2, "{:?}", proxy.log());
}

/// A callback that lets the listing run for a while, then cancels: it can do so only if it is
/// called while no page has come.
struct LateCanceller {
    started: Instant,
    calls: Vec<(u64, u64)>,
}

unsafe extern "C" fn cancel_after_half_a_second(
    done: u64,
    total: u64,
    user_data: *mut c_void,
) -> c_int {
    let canceller = unsafe { &mut *(user_data as *mut LateCanceller) };
    canceller.calls.push((done, total));
    c_int::from(canceller.started.elapsed() > Duration::from_millis(500))
}

#[test]
fn a_progress_callback_cancels_download_prefix_while_it_lists() {
    let server = server();
    upload_objects(&store(&server, &[]), "slow", 3);
    let proxy = Proxy::start(server.addr);
    proxy.inject(
        is_listing,
        Fault::StallResponse {
            after: None,
            stall: STALL,
        },
        0,
        usize::MAX,
    );
    let store = through(&server, &proxy);
    let out = scratch("listing-callback").join("out");
    let mut canceller = LateCanceller {
        started: Instant::now(),
        calls: Vec::new(),
    };
    let dir = c(out.to_str().unwrap());
    let status = unsafe {
        s3os_download_prefix(
            store.0,
            c("slow").as_ptr(),
            dir.as_ptr(),
            false,
            Some(cancel_after_half_a_second),
            &mut canceller as *mut LateCanceller as *mut c_void,
        )
    };
    let took = canceller.started.elapsed();
    assert_eq!(status, S3OS_CANCELLED, "{}", last_error());
    assert!(took < PROMPTLY, "returned after {took:?}");
    // Called with nothing listed yet, again and again while the page did not come.
    assert!(canceller.calls.len() >= 2, "{:?}", canceller.calls);
    assert!(
        canceller.calls.iter().all(|&call| call == (0, 0)),
        "{:?}",
        canceller.calls
    );
    assert!(nothing_in(&out));
    assert!(
        !out.exists(),
        "the folder was created before anything was listed"
    );
}

/// Rewrites listing answers to say they are truncated, with the token `token(n)` for the
/// `n`th answer (from 0), or with none.
fn truncated_with(token: impl Fn(usize) -> Option<String> + Send + Sync + 'static) -> Fault {
    let answers = AtomicUsize::new(0);
    Fault::RewriteResponse(Rewrite::new(move |body| {
        let n = answers.fetch_add(1, Ordering::SeqCst);
        let token = token(n).map_or(String::new(), |token| {
            format!("<NextContinuationToken>{token}</NextContinuationToken>")
        });
        body.replace(
            "<IsTruncated>false</IsTruncated>",
            &format!("<IsTruncated>true</IsTruncated>{token}"),
        )
    }))
}

/// Runs `call` on its own thread: its outcome, or `None` if it has not returned in 20 s (a
/// listing going round for ever, which the proxy's end stops later).
fn within_20_s<T: Send + 'static>(call: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(call());
    });
    rx.recv_timeout(Duration::from_secs(20)).ok()
}

type Answer = Result<(), (s3os_status, String)>;

/// Lists, deletes and downloads the folder `folder` through `store`, each on its own.
fn list_delete_download(store: Arc<CStore>, folder: &str) -> Vec<(&'static str, Option<Answer>)> {
    let out = scratch("listing-download").join("out");
    let folder = folder.to_string();
    let (listing, deleting, downloading) = (store.clone(), store.clone(), store);
    let (f1, f2, f3) = (folder.clone(), folder.clone(), folder);
    vec![
        (
            "s3os_list_objects",
            within_20_s(move || listing.list(Some(&format!("{f1}/"))).map(|_| ())),
        ),
        (
            "s3os_delete_prefix",
            within_20_s(move || {
                let mut deleted = 0;
                outcome(unsafe { s3os_delete_prefix(deleting.0, c(&f2).as_ptr(), &mut deleted) })
            }),
        ),
        (
            "s3os_download_prefix",
            within_20_s(move || {
                let dir = c(out.to_str().unwrap());
                outcome(unsafe {
                    s3os_download_prefix(
                        downloading.0,
                        c(&f3).as_ptr(),
                        dir.as_ptr(),
                        false,
                        None,
                        std::ptr::null_mut(),
                    )
                })
            }),
        ),
    ]
}

#[test]
fn a_continuation_token_seen_before_fails_the_listing() {
    let server = server();
    let direct = store(&server, &[]);
    for (scenario, fault) in [
        (
            "the same token again",
            truncated_with(|_| Some("again".into())),
        ),
        (
            "a token of two pages before",
            truncated_with(|n| Some(format!("token-{}", n % 2))),
        ),
    ] {
        upload_objects(&direct, "loop", 3);
        let proxy = Proxy::start(server.addr);
        proxy.inject(is_listing, fault, 0, usize::MAX);
        let store = Arc::new(through(&server, &proxy));
        for (call, answer) in list_delete_download(store, "loop") {
            let answer =
                answer.unwrap_or_else(|| panic!("{scenario}: {call} still lists after 20 s"));
            let (status, message) = answer.unwrap_err();
            assert_eq!(status, S3OS_INTERNAL, "{scenario}: {call}: {message}");
            assert!(
                message.contains("a second time"),
                "{scenario}: {call}: {message}"
            );
        }
    }
}

#[test]
fn a_truncated_page_without_a_token_fails_the_listing() {
    let server = server();
    let direct = store(&server, &[]);
    upload_objects(&direct, "cut", 3);
    let proxy = Proxy::start(server.addr);
    let cut = proxy.inject(is_listing, truncated_with(|_| None), 0, usize::MAX);
    let store = Arc::new(through(&server, &proxy));
    for (call, answer) in list_delete_download(store, "cut") {
        let (status, message) = answer.expect("returned").unwrap_err();
        assert_eq!(status, S3OS_INTERNAL, "{call}: {message}");
        assert!(
            message.contains("no continuation token"),
            "{call}: {message}"
        );
    }
    assert!(proxy.fired(cut) >= 3);
    // Nothing was deleted on the word of a listing that could not be finished.
    assert_eq!(direct.list(Some("cut/")).unwrap().len(), 3);
}

/// Rewrites DeleteObjects answers with `change`, given each `<Deleted>` entry's key; it
/// returns the entry to send in its place ("" drops it).
fn rewrite_deleted(change: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Fault {
    Fault::RewriteResponse(Rewrite::new(move |body| {
        let mut out = String::new();
        let mut rest = body;
        while let Some(start) = rest.find("<Deleted>") {
            let end = start + rest[start..].find("</Deleted>").expect("a closed entry") + 10;
            let entry = &rest[start..end];
            let key = entry
                .split_once("<Key>")
                .and_then(|(_, after)| after.split_once("</Key>"))
                .map_or("", |(key, _)| key);
            out.push_str(&rest[..start]);
            out.push_str(&change(key).unwrap_or_else(|| entry.to_string()));
            rest = &rest[end..];
        }
        out.push_str(rest);
        out
    }))
}

fn delete_objects(store: &CStore, names: &[String]) -> (Answer, Vec<s3os_status>) {
    let owned: Vec<_> = names.iter().map(|n| c(n)).collect();
    let pointers: Vec<_> = owned.iter().map(|n| n.as_ptr()).collect();
    let mut statuses = vec![S3OS_IN_PROGRESS; names.len()];
    let status = unsafe {
        s3os_delete_objects(
            store.0,
            pointers.as_ptr(),
            names.len(),
            statuses.as_mut_ptr(),
        )
    };
    (outcome(status), statuses)
}

#[test]
fn names_a_delete_objects_answer_leaves_out_are_not_deleted() {
    let server = server();
    let direct = store(&server, &[]);
    let proxy = Proxy::start(server.addr);
    let store = through(&server, &proxy);

    // An answer that lacks two of the six names.
    let names = upload_objects(&direct, "short", 6);
    let dropped = proxy.inject(
        is_delete_objects,
        rewrite_deleted(|key| ["short/1", "short/3"].contains(&key).then(String::new)),
        0,
        1,
    );
    let (answer, statuses) = delete_objects(&store, &names);
    let (status, message) = answer.unwrap_err();
    assert_eq!(status, S3OS_INTERNAL, "{message}");
    assert!(message.contains("2 of 6"), "{message}");
    assert_eq!(
        statuses,
        [
            S3OS_OK,
            S3OS_INTERNAL,
            S3OS_OK,
            S3OS_INTERNAL,
            S3OS_OK,
            S3OS_OK
        ]
    );
    assert_eq!(proxy.fired(dropped), 1);

    // An error that names no key: the name it leaves out fails with that error's status.
    let names = upload_objects(&direct, "unnamed", 4);
    let unnamed = proxy.inject(
        is_delete_objects,
        rewrite_deleted(|key| {
            (key == "unnamed/2").then(|| {
                "<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>".to_string()
            })
        }),
        0,
        1,
    );
    let (answer, statuses) = delete_objects(&store, &names);
    let (status, message) = answer.unwrap_err();
    assert_eq!(status, S3OS_TRANSIENT, "{message}");
    assert!(message.contains("names no key"), "{message}");
    assert_eq!(statuses, [S3OS_OK, S3OS_OK, S3OS_TRANSIENT, S3OS_OK]);
    assert_eq!(proxy.fired(unnamed), 1);

    // delete_prefix: the name left out is not counted, and fails the call.
    upload_objects(&direct, "folder", 5);
    let dropped = proxy.inject(
        is_delete_objects,
        rewrite_deleted(|key| (key == "folder/4").then(String::new)),
        0,
        1,
    );
    let mut deleted = u64::MAX;
    let status = unsafe { s3os_delete_prefix(store.0, c("folder").as_ptr(), &mut deleted) };
    let (status, message) = outcome(status).unwrap_err();
    assert_eq!(status, S3OS_INTERNAL, "{message}");
    assert!(message.contains("folder/4"), "{message}");
    assert_eq!(deleted, 4);
    assert_eq!(proxy.fired(dropped), 1);
}

/// Keys that read differently URL-decoded: alone in a folder, nothing on their page shows
/// whether the server encoded them.
const AMBIGUOUS: [&str; 2] = ["a+b", "c%41d"];
/// Keys that give a server that does not encode away.
const TELLING: [&str; 2] = ["sp ace", "\u{fc}"];

/// Lists, downloads and deletes folders of keys that change under URL-decoding through a
/// fresh store at `endpoint`; `direct` is a second store, which sees what is left.
fn keys_that_change_when_decoded(endpoint: &str, server: &str) {
    let direct = store_with(BUCKET, &settings_for(endpoint)).unwrap();
    let store = store_with(BUCKET, &settings_for(endpoint)).unwrap();
    let root = scratch("listing-keys");
    let mixed: Vec<&str> = AMBIGUOUS.iter().chain(&TELLING).copied().collect();
    for (folder, keys) in [("ambiguous", AMBIGUOUS.to_vec()), ("mixed", mixed)] {
        let mut names = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let name = format!("{folder}/{key}");
            let source = write_file(&root, &format!("{folder}-{i}"), name.as_bytes());
            direct.upload(&name, &source).unwrap();
            names.push(name);
        }
        let mut listed: Vec<String> = store
            .list(Some(&format!("{folder}/")))
            .unwrap()
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        listed.sort();
        let mut expected = names.clone();
        expected.sort();
        assert_eq!(listed, expected, "{server}: listing of {folder}/");

        let out = root.join(format!("{folder}-out"));
        let dir = c(out.to_str().unwrap());
        let status = unsafe {
            s3os_download_prefix(
                store.0,
                c(folder).as_ptr(),
                dir.as_ptr(),
                false,
                None,
                std::ptr::null_mut(),
            )
        };
        outcome(status).unwrap_or_else(|e| panic!("{server}: download_prefix of {folder}: {e:?}"));
        for (key, name) in keys.iter().zip(&names) {
            assert_eq!(
                std::fs::read(out.join(key)).unwrap(),
                name.as_bytes(),
                "{server}: {name}"
            );
        }

        let mut deleted = u64::MAX;
        let status = unsafe { s3os_delete_prefix(store.0, c(folder).as_ptr(), &mut deleted) };
        outcome(status).unwrap_or_else(|e| panic!("{server}: delete_prefix of {folder}: {e:?}"));
        assert_eq!(deleted, keys.len() as u64, "{server}: {folder}");
        for name in &names {
            assert_eq!(
                direct.size(name).map_err(|e| e.0),
                Err(S3OS_NOT_FOUND),
                "{server}: {name} is still there"
            );
        }
    }
}

#[test]
fn keys_that_change_when_decoded_on_s3s_fs() {
    let server = server();
    keys_that_change_when_decoded(&server.endpoint(), "s3s-fs");
}

#[test]
fn keys_that_change_when_decoded_on_moto() {
    let moto = Moto::start();
    keys_that_change_when_decoded(&moto.endpoint(), "moto");
}

#[test]
fn delete_prefix_counts_no_deletion_that_a_new_listing_contradicts() {
    // A server whose listings do not show whether it encodes keys (no Prefix echoed), and
    // which answers every name deleted, also one it does not hold: the names s3os reads from
    // the listing may not be the objects' names, and only a second listing tells.
    let server = server();
    let direct = store(&server, &[]);
    let root = scratch("listing-survivors");
    let source = write_file(&root, "source", b"kept");
    for key in AMBIGUOUS {
        direct.upload(&format!("kept/{key}"), &source).unwrap();
    }
    let proxy = Proxy::start(server.addr);
    let silent = proxy.inject(
        is_listing,
        Fault::RewriteResponse(Rewrite::new(|body| {
            let Some((before, rest)) = body.split_once("<Prefix>") else {
                return body.to_string();
            };
            let (_, after) = rest.split_once("</Prefix>").expect("a closed prefix");
            format!("{before}{after}")
        })),
        0,
        usize::MAX,
    );
    let store = through(&server, &proxy);
    let mut deleted = u64::MAX;
    let status = unsafe { s3os_delete_prefix(store.0, c("kept").as_ptr(), &mut deleted) };
    let (status, message) = outcome(status).unwrap_err();
    assert_eq!(status, S3OS_INTERNAL, "{message}");
    assert!(message.contains("still lists"), "{message}");
    assert_eq!(deleted, 0);
    assert!(proxy.fired(silent) >= 2);
    for key in AMBIGUOUS {
        assert_eq!(direct.size(&format!("kept/{key}")).unwrap(), 4, "{key}");
    }
}
