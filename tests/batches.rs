//! Many objects per call through the C ABI: lists of files, folders, deletions. Every item keeps
//! the single-object guarantees (verified bytes, atomic downloads, aborted multipart uploads,
//! nothing left behind on failure or cancellation), one item failing does not stop the others,
//! and names that would leave the download folder are refused.

mod support;

use std::ffi::{c_char, c_void, CString};
use std::path::{Path, PathBuf};

use s3os::capi::s3os_status::{self, *};
use s3os::capi::*;
use support::proxy::{Fault, Proxy};
use support::*;

/// C views of Rust strings for one call: the strings and the pointer arrays to them.
struct CStrings {
    _owned: Vec<CString>,
    pointers: Vec<*const c_char>,
}

impl CStrings {
    fn new<S: AsRef<str>>(items: &[S]) -> CStrings {
        let owned: Vec<CString> = items.iter().map(|s| c(s.as_ref())).collect();
        let pointers = owned.iter().map(|s| s.as_ptr()).collect();
        CStrings {
            _owned: owned,
            pointers,
        }
    }

    fn as_ptr(&self) -> *const *const c_char {
        self.pointers.as_ptr()
    }
}

fn path_strings(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|p| p.to_str().unwrap().to_string())
        .collect()
}

/// A batch's outcome: the call's status and message, and each item's status.
type BatchOutcome = (Result<(), (s3os_status, String)>, Vec<s3os_status>);

fn progress_args(log: Option<&mut ProgressLog>) -> (s3os_progress_fn, *mut c_void) {
    match log {
        Some(log) => (Some(record_progress), log as *mut _ as *mut c_void),
        None => (None, std::ptr::null_mut()),
    }
}

fn upload_files(
    store: &CStore,
    names: &[String],
    paths: &[PathBuf],
    log: Option<&mut ProgressLog>,
) -> BatchOutcome {
    let (names_c, paths_c) = (CStrings::new(names), CStrings::new(&path_strings(paths)));
    let mut statuses = vec![S3OS_INTERNAL; names.len()];
    let (callback, user_data) = progress_args(log);
    let status = unsafe {
        s3os_upload_files(
            store.0,
            names_c.as_ptr(),
            paths_c.as_ptr(),
            names.len(),
            statuses.as_mut_ptr(),
            callback,
            user_data,
        )
    };
    (outcome(status), statuses)
}

fn download_files(
    store: &CStore,
    names: &[String],
    paths: &[PathBuf],
    overwrite: bool,
    log: Option<&mut ProgressLog>,
) -> BatchOutcome {
    let (names_c, paths_c) = (CStrings::new(names), CStrings::new(&path_strings(paths)));
    let mut statuses = vec![S3OS_INTERNAL; names.len()];
    let (callback, user_data) = progress_args(log);
    let status = unsafe {
        s3os_download_files(
            store.0,
            names_c.as_ptr(),
            paths_c.as_ptr(),
            names.len(),
            overwrite,
            statuses.as_mut_ptr(),
            callback,
            user_data,
        )
    };
    (outcome(status), statuses)
}

fn upload_dir(
    store: &CStore,
    dir: &Path,
    prefix: &str,
    log: Option<&mut ProgressLog>,
) -> Result<(), (s3os_status, String)> {
    let (callback, user_data) = progress_args(log);
    let dir = c(dir.to_str().unwrap());
    outcome(unsafe {
        s3os_upload_dir(
            store.0,
            dir.as_ptr(),
            c(prefix).as_ptr(),
            callback,
            user_data,
        )
    })
}

fn download_prefix(
    store: &CStore,
    prefix: &str,
    dir: &Path,
    overwrite: bool,
    log: Option<&mut ProgressLog>,
) -> Result<(), (s3os_status, String)> {
    let (callback, user_data) = progress_args(log);
    let dir = c(dir.to_str().unwrap());
    outcome(unsafe {
        s3os_download_prefix(
            store.0,
            c(prefix).as_ptr(),
            dir.as_ptr(),
            overwrite,
            callback,
            user_data,
        )
    })
}

/// Files of the given sizes in `dir`, named `file-<i>`, with distinct contents.
fn make_files(dir: &Path, sizes: &[usize], seed: u64) -> (Vec<PathBuf>, Vec<Vec<u8>>) {
    std::fs::create_dir_all(dir).unwrap();
    sizes
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            let data = pattern(len, seed + i as u64);
            (write_file(dir, &format!("file-{i}"), &data), data)
        })
        .unzip()
}

/// Every file below `dir` whose name marks it as an s3os temporary.
fn temporaries_below(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                pending.push(path);
            } else if path.to_string_lossy().ends_with(".s3os.tmp") {
                found.push(path);
            }
        }
    }
    found
}

/// Small objects, an empty one, and two in parts (5 MiB parts, 8 MiB threshold): both lanes.
const MIXED: &[usize] = &[
    0,
    1,
    300 * 1024,
    17,
    12 * MIB + 5,
    64 * 1024,
    9 * MIB,
    4096,
    100_000,
    3,
    256 * 1024,
    77,
];

#[test]
fn many_files_up_and_down_with_each_status_and_one_progress() {
    let server = server();
    // Fewer objects in flight than objects, so that both lanes wait for room.
    for objects_in_flight in ["1", "3", "64"] {
        let store = store(&server, &[("max_objects_in_flight", objects_in_flight)]);
        let dir = scratch("batch-files");
        let (paths, contents) = make_files(&dir.join("src"), MIXED, 7);
        let names: Vec<String> = (0..MIXED.len())
            .map(|i| format!("files-{objects_in_flight}/object-{i}"))
            .collect();
        let total: u64 = MIXED.iter().map(|&n| n as u64).sum();

        let mut log = ProgressLog::default();
        let (result, statuses) = upload_files(&store, &names, &paths, Some(&mut log));
        result.unwrap();
        assert_eq!(statuses, vec![S3OS_OK; names.len()]);
        log.assert_complete(total);
        assert!(server.unfinished_uploads().is_empty());

        let targets: Vec<PathBuf> = (0..names.len())
            .map(|i| dir.join("out").join(format!("deeper/copy-{i}")))
            .collect();
        let mut log = ProgressLog::default();
        let (result, statuses) = download_files(&store, &names, &targets, false, Some(&mut log));
        result.unwrap();
        assert_eq!(statuses, vec![S3OS_OK; names.len()]);
        // Sizes become known one by one: the total grows, the bytes never go back, and the end
        // is the sum of all.
        assert!(log
            .calls
            .windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
        assert_eq!(log.calls.last().copied(), Some((total, total)));
        for (target, data) in targets.iter().zip(&contents) {
            assert!(
                std::fs::read(target).unwrap() == *data,
                "{}",
                target.display()
            );
        }
        assert!(temporaries_below(&dir).is_empty());

        // Again without overwrite: every target exists, every item says so, nothing is sent.
        let (result, statuses) = download_files(&store, &names, &targets, false, None);
        assert_eq!(result.unwrap_err().0, S3OS_ALREADY_EXISTS);
        assert_eq!(statuses, vec![S3OS_ALREADY_EXISTS; names.len()]);
        let (result, _) = download_files(&store, &names, &targets, true, None);
        result.unwrap();
    }
}

#[test]
fn one_failing_item_does_not_stop_the_others() {
    let server = server();
    let store = store(&server, &[("max_objects_in_flight", "2")]);
    let dir = scratch("batch-failures");
    let (mut paths, _) = make_files(&dir, &[1000, 2000, 3000, 4000, 5000], 40);
    paths[1] = dir.join("missing-file");
    paths[3] = dir.clone(); // a directory: not a regular file
    let names: Vec<String> = (0..5).map(|i| format!("partial/{i}")).collect();
    let (result, statuses) = upload_files(&store, &names, &paths, None);
    let (status, message) = result.unwrap_err();
    assert_eq!(status, S3OS_IO);
    assert_eq!(
        statuses,
        [S3OS_OK, S3OS_IO, S3OS_OK, S3OS_IO, S3OS_OK],
        "{message}"
    );
    assert!(message.contains("2 of 5"), "{message}");
    assert!(message.contains("missing-file"), "{message}");
    let stored: Vec<String> = store
        .list(Some("partial/"))
        .unwrap()
        .into_iter()
        .map(|o| o.0)
        .collect();
    assert_eq!(stored, ["partial/0", "partial/2", "partial/4"]);

    // Downloads: a missing object and a bad name fail on their own; the rest arrive.
    let mut names = names;
    names[3] = String::new(); // no object can be named "" without a prefix
    let targets: Vec<PathBuf> = (0..5).map(|i| dir.join(format!("down/{i}"))).collect();
    let (result, statuses) = download_files(&store, &names, &targets, false, None);
    let (status, message) = result.unwrap_err();
    assert_eq!(status, S3OS_NOT_FOUND, "{message}");
    assert_eq!(
        statuses,
        [
            S3OS_OK,
            S3OS_NOT_FOUND,
            S3OS_OK,
            S3OS_INVALID_ARGUMENT,
            S3OS_OK
        ]
    );
    assert!(!targets[1].exists() && !targets[3].exists());
    assert!(temporaries_below(&dir).is_empty());

    // A NULL in an array fails the whole call before anything moves, and each item says so.
    let names_c = CStrings::new(&["a", "b"]);
    let mut paths_c = CStrings::new(&["/tmp/x", "/tmp/y"]);
    paths_c.pointers[1] = std::ptr::null();
    let mut statuses = [S3OS_OK; 2];
    let status = unsafe {
        s3os_upload_files(
            store.0,
            names_c.as_ptr(),
            paths_c.as_ptr(),
            2,
            statuses.as_mut_ptr(),
            None,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(status, S3OS_INVALID_ARGUMENT);
    assert!(last_error().contains("paths[1]"), "{}", last_error());
    assert_eq!(statuses, [S3OS_INVALID_ARGUMENT; 2]);
    // An empty batch succeeds; NULL arrays are fine for it.
    let status = unsafe {
        s3os_download_files(
            store.0,
            std::ptr::null(),
            std::ptr::null(),
            0,
            false,
            std::ptr::null_mut(),
            None,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(status, S3OS_OK);
}

#[test]
fn cancelling_a_batch_cleans_up_every_item() {
    let server = server();
    let store = store(&server, &[("max_objects_in_flight", "4")]);
    let dir = scratch("batch-cancel");
    // Objects in parts, and small ones, so that some are in flight at the cancellation.
    let sizes = [11 * MIB, 256 * 1024, 13 * MIB, 9 * MIB, 10_000, 12 * MIB];
    let (paths, _) = make_files(&dir, &sizes, 90);
    let names: Vec<String> = (0..sizes.len()).map(|i| format!("cancel/{i}")).collect();
    let mut log = ProgressLog {
        cancel_after: Some(6 * MIB as u64),
        ..ProgressLog::default()
    };
    let (result, statuses) = upload_files(&store, &names, &paths, Some(&mut log));
    let (status, message) = result.unwrap_err();
    assert_eq!(status, S3OS_CANCELLED, "{message}");
    assert!(
        statuses
            .iter()
            .all(|s| matches!(s, S3OS_OK | S3OS_CANCELLED)),
        "{statuses:?}"
    );
    assert!(statuses.contains(&S3OS_CANCELLED));
    assert!(
        server.unfinished_uploads().is_empty(),
        "{:?}",
        server.unfinished_uploads()
    );
    for (name, status) in names.iter().zip(&statuses) {
        let stored = store.size(name).map_err(|e| e.0);
        match status {
            S3OS_OK => assert!(stored.is_ok(), "{name}"),
            _ => assert_eq!(stored, Err(S3OS_NOT_FOUND), "{name} landed"),
        }
    }

    // Downloads of everything uploaded whole, cancelled: no target, no temporary.
    let (result, _) = upload_files(&store, &names, &paths, None);
    result.unwrap();
    let targets: Vec<PathBuf> = (0..names.len())
        .map(|i| dir.join(format!("down/{i}")))
        .collect();
    let mut log = ProgressLog {
        cancel_after: Some(4 * MIB as u64),
        ..ProgressLog::default()
    };
    let (result, statuses) = download_files(&store, &names, &targets, false, Some(&mut log));
    assert_eq!(result.unwrap_err().0, S3OS_CANCELLED);
    for (target, status) in targets.iter().zip(&statuses) {
        assert_eq!(
            target.exists(),
            *status == S3OS_OK,
            "{} {status:?}",
            target.display()
        );
    }
    assert!(temporaries_below(&dir).is_empty());
}

#[test]
fn folders_up_and_down() {
    let server = server();
    let store = store(&server, &[("prefix", "runs/exp")]);
    let root = scratch("batch-folders");
    let src = root.join("checkpoint");
    let files = [
        ("rank-0/model.pt", 300_000),
        ("rank-0/optim.pt", 9 * MIB + 1),
        ("rank-1/model.pt", 0),
        ("rank-1/sub/deep/x.bin", 4321),
        ("meta.json", 57),
        ("ünïcode name.txt", 5),
    ];
    for (i, (name, len)) in files.iter().enumerate() {
        let path = src.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, pattern(*len, 500 + i as u64)).unwrap();
    }
    // Symbolic links are not followed, and the files under them not uploaded.
    std::os::unix::fs::symlink(src.join("meta.json"), src.join("link.json")).unwrap();
    std::os::unix::fs::symlink(&root, src.join("rank-0/loop")).unwrap();
    let total: u64 = files.iter().map(|(_, n)| *n as u64).sum();

    let mut log = ProgressLog::default();
    upload_dir(&store, &src, "ckpt/step-1", Some(&mut log)).unwrap();
    log.assert_complete(total);
    let mut listed: Vec<String> = store
        .list(Some("ckpt/"))
        .unwrap()
        .into_iter()
        .map(|o| o.0)
        .collect();
    listed.sort();
    let mut expected: Vec<String> = files
        .iter()
        .map(|(n, _)| format!("ckpt/step-1/{n}"))
        .collect();
    expected.sort();
    assert_eq!(listed, expected);

    // The prefix is a folder: "ckpt/step" does not take "ckpt/step-1/...".
    let out = root.join("restore");
    download_prefix(&store, "ckpt/step", &out, false, None).unwrap();
    assert!(!out.join("-1").exists() && std::fs::read_dir(&out).unwrap().next().is_none());
    let mut log = ProgressLog::default();
    download_prefix(&store, "ckpt/step-1/", &out, false, Some(&mut log)).unwrap();
    // While the folder is listed, the total grows from 0 by each page; then it is the listed
    // total, and the bytes count up to it.
    let listing = log
        .calls
        .iter()
        .take_while(|&&(done, so_far)| done == 0 && so_far < total)
        .count();
    assert!(log.calls[..listing].windows(2).all(|w| w[0].1 <= w[1].1));
    let after_listing = ProgressLog {
        calls: log.calls[listing..].to_vec(),
        ..ProgressLog::default()
    };
    after_listing.assert_complete(total);
    for (name, _) in files {
        assert!(
            std::fs::read(out.join(name)).unwrap() == std::fs::read(src.join(name)).unwrap(),
            "{name}"
        );
    }
    assert!(!out.join("link.json").exists());
    // Existing files are kept without overwrite, each item saying so.
    let (status, message) = download_prefix(&store, "ckpt/step-1", &out, false, None).unwrap_err();
    assert_eq!(status, S3OS_ALREADY_EXISTS);
    assert!(
        message.contains(&format!("{} of {}", files.len(), files.len())),
        "{message}"
    );
    download_prefix(&store, "ckpt/step-1", &out, true, None).unwrap();
    // A missing folder: an error before anything is read; an empty prefix: nothing to do.
    let (status, _) = upload_dir(&store, &root.join("nowhere"), "x", None).unwrap_err();
    assert_eq!(status, S3OS_IO);
    let empty = root.join("empty");
    std::fs::create_dir(&empty).unwrap();
    upload_dir(&store, &empty, "nothing", None).unwrap();
    download_prefix(&store, "nothing", &root.join("none"), false, None).unwrap();
}

#[test]
fn names_that_would_leave_the_folder_are_refused() {
    // s3s-fs keeps objects as files and cannot hold such names; moto keeps any key.
    let moto = support::moto::Moto::start();
    let store = store_with(BUCKET, &settings_for(&moto.endpoint())).unwrap();
    let root = scratch("batch-escape");
    let source = write_file(&root, "source", b"payload");
    let outside = root.join("outside");
    std::fs::create_dir(&outside).unwrap();
    let out = root.join("out");
    std::fs::create_dir(&out).unwrap();
    // A symbolic link inside the download folder that points out of it.
    std::os::unix::fs::symlink(&outside, out.join("escape")).unwrap();
    let refused = [
        "in/../../outside/dotdot",
        "in//double",
        "in/./dot",
        "in/escape/through-link",
    ];
    // Downloaded from the folder "in" into "out", where "escape" is the link.
    let names: Vec<String> = refused
        .iter()
        .map(|s| s.to_string())
        .chain(["in/fine".to_string(), "in/sub/fine".to_string()])
        .collect();
    for name in &names {
        store.upload(name, &source).unwrap();
    }
    let (status, message) = download_prefix(&store, "in", &out, false, None).unwrap_err();
    assert_eq!(status, S3OS_INVALID_ARGUMENT, "{message}");
    assert!(message.contains("4 of 6"), "{message}");
    assert_eq!(std::fs::read(out.join("fine")).unwrap(), b"payload");
    assert_eq!(std::fs::read(out.join("sub/fine")).unwrap(), b"payload");
    let escaped: Vec<_> = std::fs::read_dir(&outside).unwrap().collect();
    assert!(escaped.is_empty(), "written outside: {escaped:?}");
    assert!(!root.join("outside/dotdot").exists());
    assert!(!out.join("double").exists() && !out.join("dot").exists());
    assert!(temporaries_below(&root).is_empty());

    // A path through the link alone: refused as such, and nothing lands outside.
    store.upload("linked/escape/x", &source).unwrap();
    let (status, message) = download_prefix(&store, "linked", &out, false, None).unwrap_err();
    assert_eq!(status, S3OS_INVALID_ARGUMENT, "{message}");
    assert!(message.contains("symbolic link"), "{message}");
    assert!(std::fs::read_dir(&outside).unwrap().next().is_none());
}

#[test]
fn deleting_many_objects_and_folders() {
    let server = server();
    let store = store(&server, &[]);
    let dir = scratch("batch-delete");
    let source = write_file(&dir, "source", b"x");
    let names: Vec<String> = (0..25).map(|i| format!("del/{i:02}")).collect();
    for name in &names {
        store.upload(name, &source).unwrap();
    }
    store.upload("del-other/keep", &source).unwrap();
    let mut chosen: Vec<String> = names[..10].to_vec();
    chosen.push("del/never-existed".into());
    let names_c = CStrings::new(&chosen);
    let mut statuses = vec![S3OS_INTERNAL; chosen.len()];
    let status = unsafe {
        s3os_delete_objects(
            store.0,
            names_c.as_ptr(),
            chosen.len(),
            statuses.as_mut_ptr(),
        )
    };
    outcome(status).unwrap();
    assert_eq!(statuses, vec![S3OS_OK; chosen.len()]);
    assert_eq!(store.list(Some("del/")).unwrap().len(), 15);

    let mut deleted = u64::MAX;
    outcome(unsafe { s3os_delete_prefix(store.0, c("del").as_ptr(), &mut deleted) }).unwrap();
    assert_eq!(deleted, 15);
    assert!(store.list(Some("del/")).unwrap().is_empty());
    assert_eq!(
        store.list(Some("del-other/")).unwrap().len(),
        1,
        "not in the folder"
    );
    let status = unsafe { s3os_delete_prefix(store.0, c("").as_ptr(), &mut deleted) };
    assert_eq!(status, S3OS_INVALID_ARGUMENT);
    assert_eq!(deleted, 0);
}

/// Objects without a stored checksum, as older uploaders and many stores leave them.
fn unchecksummed(server: &LocalS3) -> CStore {
    store(server, &[("request_checksum_calculation", "when_required")])
}

#[test]
fn one_request_per_small_object_and_the_listing_confirms_sizes() {
    let server = server();
    let direct = unchecksummed(&server);
    let dir = scratch("batch-one-request");
    let (paths, contents) = make_files(&dir.join("src"), &[70_000; 12], 300);
    let names: Vec<String> = (0..12).map(|i| format!("one/{i}")).collect();
    upload_files(&direct, &names, &paths, None).0.unwrap();

    let proxy = Proxy::start(server.addr);
    let mut settings = base_settings(&server);
    settings.push(("endpoint_url".into(), proxy.endpoint()));
    let through = store_with(BUCKET, &settings).unwrap();
    let targets: Vec<PathBuf> = (0..12).map(|i| dir.join(format!("a/{i}"))).collect();
    download_files(&through, &names, &targets, false, None)
        .0
        .unwrap();
    assert_eq!(proxy.count("GetObject"), 12, "{:?}", proxy.counts());
    assert_eq!(proxy.count("HeadObject"), 0, "{:?}", proxy.counts());
    for (target, data) in targets.iter().zip(&contents) {
        assert!(std::fs::read(target).unwrap() == *data);
    }

    // A body that matches a Content-Length 100 bytes short: with no checksum, the listing's
    // size (download_prefix) or a HEAD (on request) tells it from the object.
    let short = Fault::WrongLength { delta: -100 };
    let hit =
        |r: &support::proxy::Request| r.operation() == "GetObject" && r.target.contains("one/3");
    let fault = proxy.inject(hit, short.clone(), 0, usize::MAX);
    let out = dir.join("b");
    let (status, message) = download_prefix(&through, "one", &out, false, None).unwrap_err();
    assert_eq!(status, S3OS_INTEGRITY, "{message}");
    assert!(message.contains("1 of 12"), "{message}");
    assert!(proxy.fired(fault) >= 1);
    assert!(!out.join("3").exists());
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 11);
    assert!(temporaries_below(&out).is_empty());

    settings.push(("confirm_size_with_head".into(), "true".into()));
    let careful = store_with(BUCKET, &settings).unwrap();
    let (status, message) = careful
        .download(&names[3], &dir.join("c"), false)
        .unwrap_err();
    assert_eq!(status, S3OS_INTEGRITY, "{message}");
    assert!(!dir.join("c").exists());
}

#[test]
fn faults_on_batches_hit_their_item_only() {
    let server = server();
    let dir = scratch("batch-faults");
    let direct = store(&server, &[]);
    let sizes = [50_000, 6 * MIB, 120_000, 11 * MIB, 33];
    let (paths, contents) = make_files(&dir.join("src"), &sizes, 700);
    let names: Vec<String> = (0..sizes.len()).map(|i| format!("faulty/{i}")).collect();
    upload_files(&direct, &names, &paths, None).0.unwrap();

    let proxy = Proxy::start(server.addr);
    let mut settings = base_settings(&server);
    for (key, value) in [
        ("endpoint_url", proxy.endpoint()),
        ("max_attempts", "2".into()),
        ("retry_mode", "standard".into()),
        ("read_timeout", "2".into()),
    ] {
        settings.push((key.into(), value));
    }
    let through = store_with(BUCKET, &settings).unwrap();
    // Object 2's GETs always fail; object 3's second range is reset once and sent again.
    let fails = proxy.inject(
        |r| r.operation() == "GetObject" && r.target.contains("faulty/2"),
        Fault::Respond {
            status: 500,
            code: "InternalError",
        },
        0,
        usize::MAX,
    );
    let reset = proxy.inject(
        |r| {
            r.target.contains("faulty/3")
                && r.range().is_some_and(|r| r.starts_with("bytes=5242880-"))
        },
        Fault::ResetResponse { after: Some(1000) },
        0,
        1,
    );
    let targets: Vec<PathBuf> = (0..sizes.len())
        .map(|i| dir.join(format!("out/{i}")))
        .collect();
    let (result, statuses) = download_files(&through, &names, &targets, false, None);
    let (status, message) = result.unwrap_err();
    assert_eq!(status, S3OS_TRANSIENT, "{message}");
    assert_eq!(
        statuses,
        [S3OS_OK, S3OS_OK, S3OS_TRANSIENT, S3OS_OK, S3OS_OK]
    );
    assert_eq!(proxy.fired(fails), 2);
    assert_eq!(proxy.fired(reset), 1);
    for (i, (target, data)) in targets.iter().zip(&contents).enumerate() {
        if i == 2 {
            assert!(!target.exists());
        } else {
            assert!(std::fs::read(target).unwrap() == *data, "{i}");
        }
    }
    assert!(temporaries_below(&dir).is_empty());

    // Uploads: one object's parts always fail; its multipart upload is aborted, the others land.
    let fails = proxy.inject(
        |r| r.operation() == "UploadPart" && r.target.contains("again/3"),
        Fault::Respond {
            status: 503,
            code: "SlowDown",
        },
        0,
        usize::MAX,
    );
    let again: Vec<String> = (0..sizes.len()).map(|i| format!("again/{i}")).collect();
    let (result, statuses) = upload_files(&through, &again, &paths, None);
    assert_eq!(result.unwrap_err().0, S3OS_TRANSIENT);
    assert_eq!(
        statuses,
        [S3OS_OK, S3OS_OK, S3OS_OK, S3OS_TRANSIENT, S3OS_OK]
    );
    assert!(proxy.fired(fails) >= 2);
    assert!(server.unfinished_uploads().is_empty());
    assert_eq!(direct.size("again/3").map_err(|e| e.0), Err(S3OS_NOT_FOUND));
    assert_eq!(direct.size("again/1").unwrap(), sizes[1] as u64);
}
