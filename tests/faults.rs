//! Reliability under network faults. Transfers go through a proxy (tests/support/proxy.rs)
//! that resets connections, stalls, throttles, truncates, lies about lengths, corrupts bytes or
//! answers with S3 errors in the server's place. Every case must end either with exactly the
//! right bytes on the other side, having retried only what the fault hit, or with
//! S3OS_TRANSIENT (S3OS_INTEGRITY for bad bytes) within the configured timeouts and nothing
//! left behind: no destination or temporary file, no unfinished multipart upload, no object.

mod support;

use std::collections::BTreeMap;
use std::ffi::{c_int, c_void};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use s3os::capi::s3os_status::{self, *};
use s3os::capi::s3os_upload_file;
use support::proxy::{Fault, Proxy};
use support::*;

/// One request: below the multipart threshold.
const SMALL: usize = MIB + 4321;
/// Four parts of 5 MiB (the last one 2 MiB), both ways.
const LARGE: usize = 17 * MIB;
const PART: usize = 5 * MIB;
/// Where body faults strike: well inside every body (and clipped to its middle).
const MID: u64 = 256 * 1024 + 3;
/// Longer than any case may take: only the client's own timeouts can end it in time.
const STALL: Duration = Duration::from_secs(120);
/// The timeouts of the store under test, in seconds.
const READ_TIMEOUT: u64 = 2;
const CONNECT_TIMEOUT: u64 = 1;
/// Upper bound on every case: giving up takes two attempts, each within the connect and read
/// timeouts (3s), and a backoff of at most 1s between them; recovering takes one such failed
/// attempt, a backoff and a transfer. With room for a busy machine.
const WITHIN: Duration = Duration::from_secs(12);
/// Adaptive retries also wait for the client's own rate limiter once throttled.
const ADAPTIVE_WITHIN: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dir {
    Up,
    Down,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Size {
    Small,
    Multipart,
}

impl Size {
    fn len(self) -> usize {
        match self {
            Size::Small => SMALL,
            Size::Multipart => LARGE,
        }
    }
}

/// A fault on one request, with `max_attempts` 3, or on every matching request, with 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Once,
    Always,
}

impl Mode {
    fn max_attempts(self) -> usize {
        match self {
            Mode::Once => 3,
            Mode::Always => 2,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Succeeds, the victim having been sent this many more times than without the fault.
    Retried(usize),
    /// Fails with this status.
    Fails(s3os_status),
}

/// The request a fault hits: the one PUT or GET, or everything about the second part.
fn victim(dir: Dir, size: Size) -> String {
    match (dir, size) {
        (Dir::Up, Size::Small) => "PutObject".into(),
        (Dir::Up, Size::Multipart) => "UploadPart 2".into(),
        (Dir::Down, Size::Small) => "GetObject".into(),
        (Dir::Down, Size::Multipart) => range_label(1),
    }
}

fn range_label(index: usize) -> String {
    let start = index * PART;
    let end = ((index + 1) * PART).min(LARGE) - 1;
    format!("GetObject bytes={start}-{end}")
}

/// The requests of a fault-free transfer, by kind.
fn baseline(dir: Dir, size: Size) -> BTreeMap<String, usize> {
    let labels: Vec<String> = match (dir, size) {
        (Dir::Up, Size::Small) => vec!["PutObject".into()],
        (Dir::Up, Size::Multipart) => ["CreateMultipartUpload", "CompleteMultipartUpload"]
            .into_iter()
            .map(String::from)
            .chain((1..=4).map(|n| format!("UploadPart {n}")))
            .collect(),
        // One GET of the whole object: a small object comes whole with its checksum; a large
        // one's first part is read from it, the others are ranged GETs.
        (Dir::Down, Size::Small) => vec!["GetObject".into()],
        (Dir::Down, Size::Multipart) => std::iter::once("GetObject".to_string())
            .chain((1..4).map(range_label))
            .collect(),
    };
    labels.into_iter().map(|l| (l, 1)).collect()
}

struct Case {
    fault: Fault,
    dir: Dir,
    size: Size,
    mode: Mode,
    expect: Expect,
    /// Give the downloaded object a whole-object CRC32C by uploading it in one PUT.
    single_put: bool,
    /// The kind of request to hit, if not the usual [`victim`].
    victim: Option<&'static str>,
    /// s3s-fs stores a PUT before it checks the PUT's checksum, so an object it rejected as
    /// BadDigest is there all the same (S3 stores nothing); skip looking for it.
    rejected_put_lands: bool,
    /// Requests the recovery adds beyond retrying the victim.
    also_sent: &'static [&'static str],
    /// Settings of the store under test beyond the usual ones.
    settings: &'static [(&'static str, &'static str)],
}

impl Case {
    fn new(fault: Fault, dir: Dir, size: Size, mode: Mode, expect: Expect) -> Case {
        Case {
            fault,
            dir,
            size,
            mode,
            expect,
            single_put: false,
            victim: None,
            rejected_put_lands: false,
            also_sent: &[],
            settings: &[],
        }
    }
}

/// The usual expectations: one fault is retried away, a persistent one is TRANSIENT.
fn matrix(up: Option<Fault>, down: Option<Fault>) -> Vec<Case> {
    let mut cases = Vec::new();
    for (dir, fault) in [(Dir::Up, up), (Dir::Down, down)] {
        let Some(fault) = fault else { continue };
        for size in [Size::Small, Size::Multipart] {
            for (mode, expect) in [
                (Mode::Once, Expect::Retried(1)),
                (Mode::Always, Expect::Fails(S3OS_TRANSIENT)),
            ] {
                cases.push(Case::new(fault.clone(), dir, size, mode, expect));
            }
        }
    }
    cases
}

/// Runs every case against one server and fails with all the cases that went wrong.
fn run(title: &str, cases: Vec<Case>) {
    run_in(title, "standard", WITHIN, cases)
}

/// [`run`] with the SDK's `retry_mode` (`standard` spaces retries by at most 1s and 2s here),
/// allowing each case `within`.
fn run_in(title: &str, retry_mode: &str, within: Duration, cases: Vec<Case>) {
    let server = server();
    let mut report = String::new();
    let mut failures = Vec::new();
    for case in cases {
        match check(&server, &case, retry_mode, within) {
            Ok(line) => writeln!(report, "{title}: {line}").unwrap(),
            Err(message) => failures.push(format!("{title}: {message}")),
        }
    }
    eprint!("{report}");
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

fn through(server: &LocalS3, proxy: &Proxy, max_attempts: usize, retry_mode: &str) -> CStore {
    through_with(
        server,
        proxy,
        &[
            ("max_attempts", max_attempts.to_string()),
            ("retry_mode", retry_mode.to_string()),
        ],
    )
}

/// A store through `proxy` with the suite's timeouts and `extra` settings.
fn through_with(server: &LocalS3, proxy: &Proxy, extra: &[(&str, String)]) -> CStore {
    let mut settings = base_settings(server);
    for (key, value) in [
        ("endpoint_url", proxy.endpoint()),
        ("read_timeout", READ_TIMEOUT.to_string()),
        ("connect_timeout", CONNECT_TIMEOUT.to_string()),
    ] {
        settings.push((key.into(), value));
    }
    settings.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    store_with(BUCKET, &settings).expect("a store through the proxy")
}

macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err(format!($($arg)+));
        }
    };
}

/// One transfer through a faulty proxy; a line for the report, or what went wrong.
fn check(
    server: &LocalS3,
    case: &Case,
    retry_mode: &str,
    within: Duration,
) -> Result<String, String> {
    static OBJECTS: AtomicU64 = AtomicU64::new(0);
    let n = OBJECTS.fetch_add(1, Ordering::Relaxed);
    let key = format!("object-{n}");
    let len = case.size.len();
    let data = pattern(len, 1000 + n);
    let dir = scratch("fault");
    let source = write_file(&dir, "source", &data);
    let target = dir.join("out").join("target");
    let direct = if case.single_put {
        store(server, &[("multipart_threshold", "64MiB")])
    } else {
        store(server, &[])
    };
    if case.dir == Dir::Down {
        direct.upload(&key, &source).expect("the fault-free upload");
    }

    let proxy = Proxy::start(server.addr);
    let label = case
        .victim
        .map_or_else(|| victim(case.dir, case.size), String::from);
    let hit = label.clone();
    let times = match case.mode {
        Mode::Once => 1,
        Mode::Always => usize::MAX,
    };
    let fault = proxy.inject(move |r| r.label() == hit, case.fault.clone(), 0, times);
    let mut store_settings = vec![
        ("max_attempts", case.mode.max_attempts().to_string()),
        ("retry_mode", retry_mode.to_string()),
    ];
    store_settings.extend(case.settings.iter().map(|(k, v)| (*k, v.to_string())));
    let store = through_with(server, &proxy, &store_settings);

    let started = Instant::now();
    let result = match case.dir {
        Dir::Up => store.upload(&key, &source),
        Dir::Down => store.download(&key, &target, false),
    };
    let elapsed = started.elapsed();
    drop(store);
    let fired = proxy.fired(fault);
    let counts = proxy.counts();
    let what = format!(
        "{:?} {:?} {:?} {:?} ({} bytes)",
        case.fault, case.dir, case.size, case.mode, len
    );
    let context = format!(
        "{what}\n  result {result:?} after {elapsed:.2?}, fault fired {fired} times\n  requests {:?}",
        proxy.log()
    );

    ensure!(fired >= 1, "the fault never fired: {context}");
    if case.mode == Mode::Once {
        ensure!(fired == 1, "the fault fired more than once: {context}");
    }
    let outcome = match (&result, case.expect) {
        (Ok(()), Expect::Retried(extra)) => {
            ensure!(elapsed < within, "recovered too slowly: {context}");
            let received = match case.dir {
                Dir::Down => std::fs::read(&target).map_err(|e| format!("{e}: {context}"))?,
                Dir::Up => {
                    let check = dir.join("check");
                    direct
                        .download(&key, &check, false)
                        .map_err(|e| format!("reading back: {e:?}: {context}"))?;
                    std::fs::read(&check).unwrap()
                }
            };
            ensure!(received == data, "the bytes differ: {context}");
            let mut expected = baseline(case.dir, case.size);
            *expected.get_mut(&label).unwrap() += extra;
            for also in case.also_sent {
                *expected.entry(also.to_string()).or_default() += 1;
            }
            ensure!(
                counts == expected,
                "expected requests {expected:?}, got {counts:?}: {context}"
            );
            format!("succeeded after {extra} retries in {elapsed:.1?}")
        }
        (Err((status, message)), Expect::Fails(want)) => {
            ensure!(*status == want, "expected {want:?}: {context}");
            ensure!(elapsed < within, "gave up too slowly: {context}");
            ensure!(
                message.contains(&key),
                "the message names no object: {context}"
            );
            let attempts = counts.get(&label).copied().unwrap_or(0);
            match case.mode {
                Mode::Always => ensure!(
                    attempts == case.mode.max_attempts() && fired == attempts,
                    "expected {} attempts at {label}, each hit: {context}",
                    case.mode.max_attempts()
                ),
                Mode::Once => ensure!(attempts == 1, "expected no retry: {context}"),
            }
            match case.dir {
                Dir::Down => {
                    ensure!(!target.exists(), "the target exists: {context}");
                    let left = temporaries(&dir.join("out"));
                    ensure!(left.is_empty(), "temporaries {left:?}: {context}");
                }
                Dir::Up => {
                    let stored = direct.size(&key);
                    // Only a PUT whose request reached the server whole may have landed, and
                    // then intact; a multipart upload is aborted.
                    let reached = case.size == Size::Small && !request_fault(&case.fault);
                    if case.rejected_put_lands {
                        // See the field's note: the server's doing, not the client's.
                    } else if reached && stored.is_ok() {
                        let check = dir.join("check");
                        direct.download(&key, &check, false).unwrap();
                        ensure!(
                            std::fs::read(&check).unwrap() == data,
                            "a different object landed: {context}"
                        );
                    } else {
                        ensure!(
                            stored.as_ref().map_err(|e| e.0) == Err(S3OS_NOT_FOUND),
                            "an object landed ({stored:?}): {context}"
                        );
                    }
                    if case.size == Size::Multipart {
                        ensure!(
                            counts.get("CreateMultipartUpload") == Some(&1)
                                && counts.get("AbortMultipartUpload") == Some(&1)
                                && !counts.contains_key("CompleteMultipartUpload"),
                            "expected one create, one abort, no complete: {context}"
                        );
                    }
                }
            }
            format!("{status:?} after {elapsed:.1?}, cleanup verified")
        }
        _ => return Err(format!("expected {:?}: {context}", case.expect)),
    };
    let left = server.unfinished_uploads();
    ensure!(left.is_empty(), "unfinished uploads {left:?}: {context}");
    Ok(format!(
        "{:?} {:?} {:?} ({retry_mode}): fired {fired}x, {outcome}",
        case.dir, case.size, case.mode
    ))
}

fn request_fault(fault: &Fault) -> bool {
    matches!(
        fault,
        Fault::ResetRequest { .. }
            | Fault::StallRequest { .. }
            | Fault::ThrottleRequest { .. }
            | Fault::CorruptRequest { .. }
            | Fault::ForgeRequestTail
            | Fault::LateRequestEnd { .. }
            | Fault::Respond { .. }
    )
}

#[test]
fn connection_reset_while_sending_the_request() {
    // An upload is cut off in the middle of its body; a GET has none, so it is cut off right
    // after its head, before the server answers.
    run(
        "reset in request",
        matrix(
            Some(Fault::ResetRequest { after: MID }),
            Some(Fault::ResetRequest { after: 0 }),
        ),
    );
}

#[test]
fn connection_reset_in_the_response() {
    // A download's body breaks off; an upload's answer (which has no body) is lost entirely,
    // after the server has stored the bytes.
    run(
        "reset in response",
        matrix(
            Some(Fault::ResetResponse { after: None }),
            Some(Fault::ResetResponse { after: Some(MID) }),
        ),
    );
}

#[test]
fn stall_in_the_middle_of_a_body() {
    run(
        "stall mid-body",
        matrix(
            Some(Fault::StallRequest {
                after: MID,
                stall: STALL,
            }),
            Some(Fault::StallResponse {
                after: Some(MID),
                stall: STALL,
            }),
        ),
    );
}

#[test]
fn stall_before_the_response() {
    let stall = Fault::StallResponse {
        after: None,
        stall: STALL,
    };
    run(
        "stall before response",
        matrix(Some(stall.clone()), Some(stall)),
    );
}

#[test]
fn internal_error_500() {
    let fault = Fault::Respond {
        status: 500,
        code: "InternalError",
    };
    run(
        "500 InternalError",
        matrix(Some(fault.clone()), Some(fault)),
    );
}

#[test]
fn slow_down_503() {
    let fault = Fault::Respond {
        status: 503,
        code: "SlowDown",
    };
    run("503 SlowDown", matrix(Some(fault.clone()), Some(fault)));
}

#[test]
fn slow_down_503_with_adaptive_retries() {
    // The default retry mode: after throttling the SDK also slows its own request rate down,
    // which takes longer but must end the same way.
    let fault = Fault::Respond {
        status: 503,
        code: "SlowDown",
    };
    let cases = matrix(Some(fault.clone()), Some(fault));
    run_in("503 SlowDown", "adaptive", ADAPTIVE_WITHIN, cases);
}

#[test]
fn throttled_429() {
    // Not S3's way to throttle (that is 503 SlowDown), but some compatible stores answer 429
    // with an S3 throttling code, and gateways in front of them with codes the SDK does not
    // know as throttling.
    for code in ["SlowDown", "TooManyRequests"] {
        let fault = Fault::Respond { status: 429, code };
        run(
            &format!("429 {code}"),
            matrix(Some(fault.clone()), Some(fault)),
        );
    }
}

#[test]
fn truncated_response() {
    let fault = Fault::Truncate { keep: MID };
    run("truncated", matrix(Some(fault.clone()), Some(fault)));
}

#[test]
fn wrong_content_length() {
    // A body longer or shorter than announced: an upload's answer (which has no body) is
    // retried like a truncated one; a download refuses a length other than the range's, which
    // S3OS_INTEGRITY reports if it persists. The one GET of a small object sets the size
    // itself: when its retry announces another, a HEAD decides, and a body that keeps ending
    // before its announced length is a truncated one.
    for (delta, up) in [(100, true), (-100, false)] {
        let fault = Fault::WrongLength { delta };
        let mut cases = matrix(up.then(|| fault.clone()), Some(fault));
        for case in &mut cases {
            match (case.dir, case.size, case.mode) {
                (Dir::Down, Size::Small, Mode::Once) => case.also_sent = &["HeadObject"],
                (Dir::Down, Size::Small, Mode::Always) if delta > 0 => {}
                (Dir::Down, _, Mode::Always) => case.expect = Expect::Fails(S3OS_INTEGRITY),
                _ => {}
            }
        }
        run(&format!("content-length {delta:+}"), cases);
    }
}

#[test]
fn corrupted_bytes() {
    use Dir::*;
    use Mode::*;
    use Size::*;
    let up = Fault::CorruptRequest { at: MID };
    let down = Fault::CorruptResponse { at: MID };
    let integrity = Expect::Fails(S3OS_INTEGRITY);
    // Unsigned, an upload's body is covered by its CRC32C alone, which the server checks.
    let crc_only: &[(&str, &str)] = &[("payload_signing", "never")];
    let mut bad_crc_once = Case::new(up.clone(), Up, Small, Once, Expect::Retried(1));
    bad_crc_once.settings = crc_only;
    let mut bad_crc_always = Case::new(up.clone(), Up, Small, Always, integrity);
    bad_crc_always.settings = crc_only;
    bad_crc_always.rejected_put_lands = true;
    let mut cases = vec![
        // The server checks the PUT's CRC32C and answers BadDigest; the PUT is sent again.
        bad_crc_once,
        bad_crc_always,
        // Signed (the default over plain HTTP), the body's SHA-256 is checked first: S3 answers
        // XAmzContentSHA256Mismatch (S3OS_INTEGRITY), s3s-fs a 500, retried as transient.
        Case::new(up.clone(), Up, Small, Once, Expect::Retried(1)),
        Case::new(up, Up, Small, Always, Expect::Fails(S3OS_TRANSIENT)),
        // The SDK checks the whole-object GET against its CRC32C; the GET is sent again.
        Case::new(down.clone(), Down, Small, Once, Expect::Retried(1)),
        Case::new(down.clone(), Down, Small, Always, integrity),
    ];
    // Ranges carry no checksum of their own: the CRC32C of all of them, combined, is compared
    // with the object's, which cannot tell which range was hit, so even one flip fails it.
    // Not covered here: a corrupted UploadPart, which s3s-fs stores without checking its
    // checksum (`corruption_reported_by_the_server` plays S3's BadDigest answer instead), and
    // ranges of an object uploaded in parts, for which s3s-fs keeps no CRC32C at all (see
    // tests/second_server.rs, where moto keeps it as S3 does).
    let mut case = Case::new(down, Down, Multipart, Once, integrity);
    case.single_put = true;
    cases.push(case);
    run("corrupted", cases);
}

#[test]
fn corruption_reported_by_the_server() {
    // What S3 answers when an upload's bytes do not match their checksum (which s3s-fs checks
    // for a PUT only) or, with a signed payload, their SHA-256 (which it does not check): the
    // request is sent again, alone, and a persistent mismatch is S3OS_INTEGRITY.
    for code in ["BadDigest", "XAmzContentSHA256Mismatch"] {
        let mut cases = matrix(Some(Fault::Respond { status: 400, code }), None);
        for case in &mut cases {
            if case.mode == Mode::Always {
                case.expect = Expect::Fails(S3OS_INTEGRITY);
            }
        }
        run(&format!("400 {code}"), cases);
    }
}

#[test]
fn bodies_changed_on_the_way_with_their_crc32c_kept() {
    // Over plain HTTP the body is covered by the signature (SHA-256), which the server checks:
    // a body changed on the way, even with its CRC32C kept, is refused and sent again, and a
    // persistent tamperer makes the upload fail. Nothing forged is ever reported stored. S3
    // refuses such a body as XAmzContentSHA256Mismatch (S3OS_INTEGRITY, see
    // `corruption_reported_by_the_server`); s3s-fs answers 500, which is retried as transient.
    use Dir::*;
    use Mode::*;
    use Size::*;
    let forge = Fault::ForgeRequestTail;
    let refused = Expect::Fails(S3OS_TRANSIENT);
    run(
        "forged body",
        vec![
            Case::new(forge.clone(), Up, Small, Once, Expect::Retried(1)),
            Case::new(forge.clone(), Up, Small, Always, refused),
            Case::new(forge.clone(), Up, Multipart, Once, Expect::Retried(1)),
            Case::new(forge, Up, Multipart, Always, refused),
        ],
    );
}

#[test]
fn without_payload_signing_a_kept_crc32c_lets_a_forged_body_through() {
    // What `payload_signing=never` gives up over plain HTTP, shown so that the test above is
    // known to test the signature: the forged body keeps its CRC32C, and the server stores it.
    let server = server();
    let dir = scratch("forged");
    let data = pattern(SMALL, 404);
    let source = write_file(&dir, "source", &data);
    let proxy = Proxy::start(server.addr);
    let forged = proxy.inject(
        |r| r.operation() == "PutObject",
        Fault::ForgeRequestTail,
        0,
        1,
    );
    let mut settings = base_settings(&server);
    settings.push(("endpoint_url".into(), proxy.endpoint()));
    settings.push(("payload_signing".into(), "never".into()));
    let store = store_with(BUCKET, &settings).unwrap();
    store.upload("forged", &source).unwrap();
    assert_eq!(proxy.fired(forged), 1);
    let check = dir.join("check");
    support::store(&server, &[])
        .download("forged", &check, false)
        .unwrap();
    let stored = std::fs::read(&check).unwrap();
    assert_ne!(stored, data, "the body was not changed on the way");
    assert_eq!(stored.len(), data.len());
    assert_eq!(crc32c::crc32c(&stored), crc32c::crc32c(&data));
}

#[test]
fn answers_that_retrying_cannot_change_are_reported_at_once() {
    // A feature the server does not implement, and an archived object, are not transient:
    // one request, and a status that says the call itself must change.
    let server = server();
    let dir = scratch("final");
    let source = write_file(&dir, "source", &pattern(SMALL, 3));
    support::store(&server, &[])
        .upload("archived", &source)
        .unwrap();
    let cases: [(&str, u16, &str, s3os_status); 3] = [
        ("PutObject", 501, "NotImplemented", S3OS_INVALID_ARGUMENT),
        ("PutObject", 501, "", S3OS_INVALID_ARGUMENT),
        (
            "GetObject",
            403,
            "InvalidObjectState",
            S3OS_INVALID_ARGUMENT,
        ),
    ];
    for (operation, status, code, expected) in cases {
        let proxy = Proxy::start(server.addr);
        let fault = proxy.inject(
            move |r| r.operation() == operation,
            Fault::Respond { status, code },
            0,
            usize::MAX,
        );
        let store = through(&server, &proxy, 3, "standard");
        let result = match operation {
            "PutObject" => store.upload("new", &source),
            _ => store.download("archived", &dir.join("out"), true),
        };
        let (got, message) = result.expect_err("the call succeeded");
        assert_eq!(got, expected, "{status} {code}: {message}");
        assert!(message.contains(&status.to_string()), "{message}");
        assert_eq!(proxy.fired(fault), 1, "{status} {code}: {:?}", proxy.log());
    }
}

#[test]
fn an_abort_answered_no_such_upload_leaves_nothing_and_says_so() {
    // The abort after a failed part is answered NoSuchUpload: there is nothing left to abort,
    // and the message must not claim that parts may remain. (Here the answer is the proxy's
    // and the upload does exist: the check for parts that follows every abort finds them, and
    // they are aborted.)
    let server = server();
    let dir = scratch("abort-gone");
    let source = write_file(&dir, "source", &pattern(LARGE, 8));
    let proxy = Proxy::start(server.addr);
    proxy.inject(
        |r| r.label() == "UploadPart 2",
        Fault::Respond {
            status: 400,
            code: "InvalidRequest",
        },
        0,
        usize::MAX,
    );
    let gone = proxy.inject(
        |r| r.operation() == "AbortMultipartUpload",
        Fault::Respond {
            status: 404,
            code: "NoSuchUpload",
        },
        0,
        1,
    );
    let store = through(&server, &proxy, 2, "standard");
    let (status, message) = store.upload("object", &source).unwrap_err();
    assert_eq!(proxy.fired(gone), 1, "{:?}", proxy.log());
    assert_eq!(status, S3OS_INVALID_ARGUMENT, "{message}");
    assert!(!message.contains("may remain"), "{message}");
    assert!(message.contains("InvalidRequest"), "{message}");
    assert_eq!(server.unfinished_uploads(), Vec::<String>::new());
}

#[test]
fn throttled_link() {
    // Slow but steady: no retry. An upload's request must still be sent within the read timeout,
    // which the SDK counts from sending it to receiving the answer; a download's body may take
    // longer in all than the read timeout, as long as bytes keep coming.
    let ms = Duration::from_millis;
    let cases = [
        // 1 MiB in 0.6s and 5 MiB in 0.8s: under the read timeout.
        (
            Fault::ThrottleRequest {
                chunk: 32 * 1024,
                pause: ms(20),
            },
            Dir::Up,
            Size::Small,
        ),
        (
            Fault::ThrottleRequest {
                chunk: 64 * 1024,
                pause: ms(10),
            },
            Dir::Up,
            Size::Multipart,
        ),
        // 1 MiB and 5 MiB in 2.6s and 2.4s: over the read timeout, in gaps far below it.
        (
            Fault::ThrottleResponse {
                chunk: 16 * 1024,
                pause: ms(40),
            },
            Dir::Down,
            Size::Small,
        ),
        (
            Fault::ThrottleResponse {
                chunk: 64 * 1024,
                pause: ms(30),
            },
            Dir::Down,
            Size::Multipart,
        ),
    ]
    .into_iter()
    .map(|(fault, dir, size)| Case::new(fault, dir, size, Mode::Once, Expect::Retried(0)))
    .collect();
    run("throttled", cases);
}

#[test]
fn lost_answer_to_complete_multipart_upload() {
    // The server completes the upload, but its answer is lost; the SDK sends the completion
    // again, for an upload that no longer exists. The object under the key is the one uploaded
    // (same ETag), so the upload succeeded and must say so.
    let server = server();
    let dir = scratch("complete");
    let data = pattern(LARGE, 77);
    let source = write_file(&dir, "source", &data);
    let proxy = Proxy::start(server.addr);
    let lost = proxy.inject(
        |r| r.operation() == "CompleteMultipartUpload",
        Fault::ResetResponse { after: None },
        0,
        1,
    );
    let store = through(&server, &proxy, 3, "standard");
    let result = store.upload("completed", &source);
    assert_eq!(proxy.fired(lost), 1);
    assert_eq!(result, Ok(()), "{:?}", proxy.log());
    assert_eq!(proxy.count("CompleteMultipartUpload"), 2);
    assert_eq!(proxy.count("CreateMultipartUpload"), 1);
    assert_eq!(proxy.count("HeadObject"), 1, "{:?}", proxy.log());
    let check = dir.join("check");
    support::store(&server, &[])
        .download("completed", &check, false)
        .unwrap();
    assert!(
        std::fs::read(&check).unwrap() == data,
        "the object is not intact"
    );
    assert_eq!(server.unfinished_uploads(), Vec::<String>::new());
}

#[test]
fn upload_gone_before_completion_is_an_error() {
    // NoSuchUpload while nothing (or another object) is under the key: someone else aborted
    // the upload, and the bytes are not stored. Success would lose the checkpoint.
    let server = server();
    let dir = scratch("gone");
    let direct = support::store(&server, &[]);
    direct
        .upload("other", &write_file(&dir, "other", &pattern(LARGE, 5)))
        .unwrap();
    let source = write_file(&dir, "source", &pattern(LARGE, 78));
    let proxy = Proxy::start(server.addr);
    for name in ["missing", "other"] {
        let gone = proxy.inject(
            |r| r.operation() == "CompleteMultipartUpload",
            Fault::Respond {
                status: 404,
                code: "NoSuchUpload",
            },
            0,
            1,
        );
        let store = through(&server, &proxy, 3, "standard");
        let err = store.upload(name, &source).unwrap_err();
        assert_eq!(proxy.fired(gone), 1);
        assert_eq!(err.0, S3OS_NOT_FOUND, "{err:?}");
        assert!(err.1.contains("NoSuchUpload"), "{err:?}");
    }
    assert_eq!(direct.size("missing").unwrap_err().0, S3OS_NOT_FOUND);
    let check = dir.join("check");
    direct.download("other", &check, false).unwrap();
    assert!(std::fs::read(&check).unwrap() == pattern(LARGE, 5));
    assert_eq!(server.unfinished_uploads(), Vec::<String>::new());
}

#[test]
fn the_proxy_is_transparent_and_follows_keep_alive() {
    // Without faults every kind of exchange passes through unchanged (HEAD, empty and chunked
    // bodies, error answers), and connections carry several exchanges each.
    let server = server();
    let proxy = Proxy::start(server.addr);
    let store = through(&server, &proxy, 1, "standard");
    let dir = scratch("transparent");
    for (name, len) in [("empty", 0), ("small", SMALL), ("large", LARGE)] {
        let data = pattern(len, len as u64);
        store.upload(name, &write_file(&dir, name, &data)).unwrap();
        assert_eq!(store.size(name).unwrap(), len as u64);
        let target = dir.join(format!("{name}.down"));
        store.download(name, &target, false).unwrap();
        assert!(std::fs::read(&target).unwrap() == data, "{name} differs");
    }
    assert_eq!(store.list(None).unwrap().len(), 3);
    store.delete("small").unwrap();
    assert_eq!(store.size("small").unwrap_err().0, S3OS_NOT_FOUND);
    let (connections, requests) = (proxy.connections(), proxy.total());
    assert!(
        connections < requests,
        "no connection carried two exchanges: {connections} connections for {:?}",
        proxy.counts()
    );
    assert!(
        proxy.chunked_messages() > 0,
        "no chunked message went through: {:?}",
        proxy.counts()
    );
}

#[test]
fn only_the_hit_range_or_part_is_sent_again() {
    let server = server();
    let dir = scratch("nth");
    let data = pattern(LARGE, 99);
    let source = write_file(&dir, "source", &data);
    support::store(&server, &[])
        .upload("object", &source)
        .unwrap();

    // Which range is asked for second depends on scheduling: the proxy breaks whichever it
    // is, and exactly that one is fetched again.
    let proxy = Proxy::start(server.addr);
    let second = proxy.inject(
        |r| r.operation() == "GetObject" && r.range().is_some(),
        Fault::ResetResponse { after: Some(MID) },
        1,
        1,
    );
    let target = dir.join("target");
    through(&server, &proxy, 3, "standard")
        .download("object", &target, false)
        .unwrap();
    assert!(std::fs::read(&target).unwrap() == data);
    assert_eq!(proxy.fired(second), 1);
    let counts = proxy.counts();
    let ranges: Vec<usize> = (1..4).map(|i| counts[&range_label(i)]).collect();
    assert_eq!(ranges.iter().sum::<usize>(), 4, "{counts:?}");
    assert_eq!(ranges.iter().filter(|&&n| n == 2).count(), 1, "{counts:?}");
    assert_eq!(counts["GetObject"], 1, "{counts:?}");
    assert!(!counts.contains_key("HeadObject"), "{counts:?}");

    // A part broken twice in a row gets through on its third attempt, alone.
    let proxy = Proxy::start(server.addr);
    let twice = proxy.inject(
        |r| r.label() == "UploadPart 3",
        Fault::ResetRequest { after: MID },
        0,
        2,
    );
    through(&server, &proxy, 3, "standard")
        .upload("again", &source)
        .unwrap();
    assert_eq!(proxy.fired(twice), 2);
    let mut expected = baseline(Dir::Up, Size::Multipart);
    expected.insert("UploadPart 3".into(), 3);
    assert_eq!(proxy.counts(), expected);
    let check = dir.join("check");
    support::store(&server, &[])
        .download("again", &check, false)
        .unwrap();
    assert!(std::fs::read(&check).unwrap() == data);
    assert!(server.unfinished_uploads().is_empty());
}

/// Holds back the last byte of part 3 for a second (the server gets the part late, whatever
/// the client does meanwhile).
fn part_3_arrives_late(proxy: &Proxy) -> support::proxy::FaultId {
    proxy.inject(
        |r| r.label() == "UploadPart 3",
        Fault::LateRequestEnd {
            hold: Duration::from_secs(1),
        },
        0,
        1,
    )
}

/// Waits until the server has answered the late part 3 (only then is the outcome on the
/// server final), then checks that neither the upload nor the object `name` remains.
fn assert_nothing_left_after_part_3(server: &LocalS3, proxy: &Proxy, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while proxy.answered("UploadPart 3") == 0 {
        assert!(
            Instant::now() < deadline,
            "part 3 never arrived: {:?}",
            proxy.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        server.unfinished_uploads(),
        Vec::<String>::new(),
        "{:?}",
        proxy.log()
    );
    assert!(
        !proxy
            .log()
            .iter()
            .any(|r| r.contains("CompleteMultipartUpload")),
        "{:?}",
        proxy.log()
    );
    assert_eq!(
        support::store(server, &[]).size(name).unwrap_err().0,
        S3OS_NOT_FOUND
    );
}

#[test]
fn no_part_lands_after_the_abort() {
    // Part 2 is refused for good, at once (BadDigest: no SDK retries, no backoff), while part
    // 3 reaches the server late. Were the upload aborted before the server answered part 3,
    // part 3 would land after the abort and stay there.
    let server = server();
    let dir = scratch("late-part");
    let source = write_file(&dir, "source", &pattern(LARGE, 5));
    let proxy = Proxy::start(server.addr);
    let refused = proxy.inject(
        |r| r.label() == "UploadPart 2",
        Fault::Respond {
            status: 400,
            code: "BadDigest",
        },
        0,
        usize::MAX,
    );
    let late = part_3_arrives_late(&proxy);
    let store = through(&server, &proxy, 2, "standard");
    let err = store.upload("late", &source).unwrap_err();
    assert_eq!(err.0, S3OS_INTEGRITY, "{}", err.1);
    assert_eq!(proxy.fired(refused), 2, "{:?}", proxy.log());
    assert_eq!(proxy.fired(late), 1, "{:?}", proxy.log());
    assert_nothing_left_after_part_3(&server, &proxy, "late");
    assert_eq!(proxy.count("AbortMultipartUpload"), 1);
}

#[test]
fn no_part_lands_after_a_cancelled_upload_is_aborted() {
    // The first progress report cancels the upload while part 3 reaches the server late. The
    // parts on their way are given a moment to be answered before the abort, so part 3
    // cannot land after it; the cancellation stays prompt.
    let server = server();
    let dir = scratch("cancel-late-part");
    let source = write_file(&dir, "source", &pattern(LARGE, 6));
    let proxy = Proxy::start(server.addr);
    let late = part_3_arrives_late(&proxy);
    let store = through(&server, &proxy, 2, "standard");
    let mut log = ProgressLog {
        cancel_after: Some(1),
        ..ProgressLog::default()
    };
    let started = Instant::now();
    let err = store
        .upload_logged("cancelled", &source, &mut log)
        .unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(err.0, S3OS_CANCELLED, "{}", err.1);
    assert_eq!(proxy.fired(late), 1, "{:?}", proxy.log());
    assert!(
        elapsed < Duration::from_secs(5),
        "cancelling took {elapsed:?}"
    );
    assert_nothing_left_after_part_3(&server, &proxy, "cancelled");
}

#[test]
fn an_upload_cancelled_while_being_created_is_aborted() {
    // The first progress report, before any byte moved, cancels the upload once the server
    // has created it but while its answer still trickles in. s3os must wait for the answer
    // and abort the upload it names, or the upload stays on the server.
    let server = server();
    let dir = scratch("cancel-create");
    let source = write_file(&dir, "source", &pattern(LARGE, 7));
    let proxy = Proxy::start(server.addr);
    let slow = proxy.inject(
        |r| r.operation() == "CreateMultipartUpload",
        Fault::ThrottleResponse {
            chunk: 8,
            pause: Duration::from_millis(20),
        },
        0,
        1,
    );
    let store = through(&server, &proxy, 2, "standard");

    /// Cancels once the server holds the upload.
    unsafe extern "C" fn cancel_once_created(_: u64, _: u64, server: *mut c_void) -> c_int {
        let server = unsafe { &*(server as *const LocalS3) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while server.unfinished_uploads().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        1
    }
    let name = c("cancelled");
    let path = c(source.to_str().unwrap());
    let started = Instant::now();
    let status = unsafe {
        s3os_upload_file(
            store.0,
            name.as_ptr(),
            path.as_ptr(),
            Some(cancel_once_created),
            &server as *const LocalS3 as *mut c_void,
        )
    };
    let elapsed = started.elapsed();
    assert_eq!(status, S3OS_CANCELLED, "{}", last_error());
    assert_eq!(
        server.unfinished_uploads(),
        Vec::<String>::new(),
        "{:?}",
        proxy.log()
    );
    assert_eq!(proxy.fired(slow), 1, "{:?}", proxy.log());
    assert_eq!(proxy.count("AbortMultipartUpload"), 1, "{:?}", proxy.log());
    assert_eq!(proxy.count("UploadPart 1"), 0, "{:?}", proxy.log());
    assert!(
        elapsed < Duration::from_secs(5),
        "cancelling took {elapsed:?}"
    );
}
