//! The library's log: `S3OS_LOG` and `S3OS_LOG_FILE` read by child processes (the C example),
//! `s3os_set_log_callback` by a C program (tests/c/log_callback.c, also under valgrind), and
//! the promise that no line carries a secret, a signature, a session token or a proxy
//! password, checked on trace-level output of runs that use all of them.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::child::{args, Environment};
use support::credentials::KeyRing;
use support::forward_proxy::ForwardProxy;
use support::native::{build, library_dir, run_program, runtime_library_dir, settings_args};
use support::proxy::{Fault, Proxy};
use support::server::ServerOptions;
use support::tls::{Front, TestCa};
use support::*;

const PROXY_USER: &str = "log-proxy-user";
const PROXY_PASSWORD: &str = "l0g-pr0xy-p@ssword";
const PROXY_PASSWORD_ENCODED: &str = "l0g-pr0xy-p%40ssword";

/// The log lines among a child's stderr (the example also draws its progress there).
fn log_lines(stderr: &str) -> Vec<&str> {
    stderr
        .split(['\n', '\r'])
        .filter(|line| line.contains(" s3os["))
        .collect()
}

/// Fails if any line shows one of `secrets` or anything that only a signature, a session
/// token or credentials would put there.
fn assert_no_secret(lines: &[&str], secrets: &[&str]) {
    let giveaways = [
        "Signature=",
        "X-Amz-Signature",
        "x-amz-security-token",
        "Authorization",
        "authorization:",
        "AWS4-HMAC-SHA256",
    ];
    for line in lines {
        for secret in secrets.iter().chain(giveaways.iter()) {
            assert!(!line.contains(secret), "{secret:?} shows in: {line}");
        }
    }
}

fn has(lines: &[&str], what: &[&str]) -> bool {
    lines
        .iter()
        .any(|line| what.iter().all(|w| line.contains(w)))
}

/// Two runs at trace level, with temporary credentials and a proxy that wants credentials:
/// over HTTPS through a tunnel, and over plain HTTP through a server that fails some requests
/// (retries). The lines cover requests, retries and their causes, connections, part plans and
/// timings, and none shows a secret.
#[test]
fn trace_lines_tell_everything_but_secrets() {
    let keys = KeyRing::new();
    let server = LocalS3::start_with(
        &scratch("log-server"),
        0,
        ServerOptions {
            auth: Some(keys.clone()),
            ..ServerOptions::default()
        },
    );
    let minted = keys.mint(Duration::from_secs(3600));
    let ca = TestCa::new();
    let front = Front::tls(server.addr, ca.issue(&["localhost"], false));
    let proxy = ForwardProxy::with_credentials(PROXY_USER, PROXY_PASSWORD);
    let failing = Proxy::start(server.addr);
    failing.inject(
        |r| r.operation() == "UploadPart",
        Fault::Respond {
            status: 503,
            code: "SlowDown",
        },
        1,
        1,
    );
    failing.inject(
        |r| r.operation() == "GetObject" && r.range().is_some(),
        Fault::ResetResponse { after: Some(1000) },
        0,
        1,
    );
    let dir = scratch("log-trace");
    let bundle = ca.write_bundle(&dir.join("ca.pem"));
    let file = write_file(&dir, "data.bin", &pattern(12 * MIB + 1, 9));
    let mut env = Environment::new();
    env.set("AWS_ACCESS_KEY_ID", &minted.access_key_id)
        .set("AWS_SECRET_ACCESS_KEY", &minted.secret_access_key)
        .set("AWS_SESSION_TOKEN", &minted.session_token)
        .set("S3OS_LOG", "trace")
        .unset("S3OS_LOG_FILE");
    let proxy_url = proxy.url(Some((PROXY_USER, PROXY_PASSWORD_ENCODED)));
    let common = [
        ("region_name", "us-east-1"),
        ("multipart_threshold", "5MiB"),
        ("multipart_chunksize", "5MiB"),
        ("proxy_url", proxy_url.as_str()),
        ("ca_bundle", bundle.to_str().unwrap()),
    ];
    let mut https = args(&common);
    https.push(format!("endpoint_url={}", front.endpoint("localhost")));
    let mut plain = args(&common);
    plain.push(format!("endpoint_url={}", failing.endpoint()));
    // Adaptive retries would wait out the throttling for many seconds.
    plain.push("retry_mode=standard".into());

    let secure_run = env.roundtrip(&file, "log/https.bin", &https);
    secure_run.expect_verified();
    let plain_run = env.roundtrip(&file, "log/plain.bin", &plain);
    plain_run.expect_verified();
    let stderr = format!("{}\n{}", secure_run.stderr, plain_run.stderr);
    let lines = log_lines(&stderr);
    println!("{} lines:", lines.len());
    for line in &lines {
        println!("{line}");
    }

    let levels = ["ERROR", "WARN ", "INFO ", "DEBUG", "TRACE"];
    assert!(lines.iter().all(|line| levels
        .iter()
        .any(|level| line.contains(&format!("] {level} ")))));
    assert!(has(
        &lines,
        &[
            "INFO ",
            "store s3://test-bucket/",
            "endpoint https://localhost"
        ]
    ));
    assert!(has(
        &lines,
        &["INFO ", "trusting only the certificates of", "(ca_bundle)"]
    ));
    assert!(has(
        &lines,
        &[
            "INFO ",
            "through http://127.0.0.1",
            "(with credentials)",
            "(proxy_url)"
        ]
    ));
    assert!(has(
        &lines,
        &[
            "INFO ",
            "credentials from environment variables",
            "without expiry"
        ]
    ));
    assert!(has(
        &lines,
        &[
            "DEBUG",
            "connected to localhost:",
            "through a tunnel of the proxy",
            "TLSv1_3"
        ]
    ));
    assert!(has(&lines, &["TRACE", "answered CONNECT", "200"]));
    assert!(has(
        &lines,
        &["DEBUG", "in 3 parts of 5242880 bytes", "multipart upload"]
    ));
    assert!(has(
        &lines,
        &["DEBUG", "UploadPart PUT", "attempt 1: HTTP 200 in"]
    ));
    assert!(has(
        &lines,
        &[
            "WARN ",
            "retrying UploadPart PUT",
            "(attempt 2 of 3) after HTTP 503 SlowDown"
        ]
    ));
    assert!(has(
        &lines,
        &["WARN ", "fetching the range again (attempt 2 of 3)"]
    ));
    assert!(has(
        &lines,
        &["TRACE", "part 2 of 3 (5242880 bytes) stored in"]
    ));
    assert!(has(
        &lines,
        &[
            "INFO ",
            "upload to s3://test-bucket/log/plain.bin: 12582913 bytes in",
            "MiB/s"
        ]
    ));
    assert!(has(
        &lines,
        &[
            "INFO ",
            "download of s3://test-bucket/log/https.bin: 12582913 bytes in"
        ]
    ));
    assert_no_secret(
        &lines,
        &[
            &minted.secret_access_key,
            &minted.session_token,
            PROXY_PASSWORD,
            PROXY_PASSWORD_ENCODED,
            &aws_smithy_types::base64::encode(format!("{PROXY_USER}:{PROXY_PASSWORD}")),
        ],
    );
}

#[test]
fn the_level_chooses_the_lines_and_s3os_log_file_their_file() {
    let server = server();
    let dir = scratch("log-levels");
    let file = write_file(&dir, "data.bin", &pattern(100 * 1024, 1));
    let settings: Vec<String> = settings_args(&server);
    let mut env = Environment::new();
    env.unset("S3OS_LOG").unset("S3OS_LOG_FILE");

    let quiet = env.roundtrip(&file, "levels/a", &settings);
    quiet.expect_verified();
    assert!(log_lines(&quiet.stderr).is_empty(), "{}", quiet.stderr);

    env.set("S3OS_LOG", "info");
    let info = env.roundtrip(&file, "levels/b", &settings);
    let lines = log_lines(&info.stderr);
    assert!(
        has(&lines, &["INFO ", "upload to s3://"]),
        "{}",
        info.stderr
    );
    assert!(
        lines.iter().all(|l| l.contains("] INFO ")),
        "{}",
        info.stderr
    );

    let log_file = dir.join("s3os.log");
    env.set("S3OS_LOG", "DEBUG")
        .set("S3OS_LOG_FILE", log_file.to_str().unwrap());
    let to_file = env.roundtrip(&file, "levels/c", &settings);
    to_file.expect_verified();
    assert!(log_lines(&to_file.stderr).is_empty(), "{}", to_file.stderr);
    let written = std::fs::read_to_string(&log_file).unwrap();
    let lines: Vec<&str> = written.lines().collect();
    assert!(has(&lines, &["DEBUG", "attempt 1: HTTP 200"]), "{written}");
    assert!(lines.iter().all(|l| !l.contains(" TRACE ")), "{written}");

    env.unset("S3OS_LOG_FILE").set("S3OS_LOG", "loud");
    let unknown = env.roundtrip(&file, "levels/d", &settings);
    unknown.expect_verified();
    assert!(
        unknown.stderr.contains("S3OS_LOG=\"loud\" is not a level"),
        "{}",
        unknown.stderr
    );
}

fn log_callback_program() -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    build(
        &std::env::var("CC").unwrap_or_else(|_| "cc".into()),
        &root.join("tests/c/log_callback.c"),
        &[
            "-std=c11".into(),
            "-Wall".into(),
            "-Wextra".into(),
            "-Werror".into(),
            "-g".into(),
            format!("-I{}", root.join("include").display()),
            format!("-L{}", library_dir().display()),
            format!("-Wl,-rpath,{}", runtime_library_dir().display()),
            "-ls3os".into(),
            "-lpthread".into(),
        ],
        "log-callback",
    )
}

/// The callback's contract (tests/c/log_callback.c), with `S3OS_LOG=trace` set: while the
/// callback is set, nothing goes to stderr.
#[test]
fn the_callback_gets_the_lines_on_the_log_thread_and_stderr_stays_quiet() {
    let server = server();
    let program = log_callback_program();
    let dir = scratch("log-callback");
    let file = write_file(&dir, "data.bin", &pattern(11 * MIB, 3));
    let mut command = Command::new(&program);
    command
        .arg(&file)
        .args(settings_args(&server))
        .env("S3OS_LOG", "trace")
        .env_remove("S3OS_LOG_FILE");
    let output = command.env_remove("LD_LIBRARY_PATH").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("log_callback: all checks passed"),
        "{stdout}"
    );
    let (before, rest) = stderr
        .split_once("== callback set")
        .expect("the set marker");
    let (during, after) = rest
        .split_once("== callback unset")
        .expect("the unset marker");
    assert!(
        log_lines(during).is_empty(),
        "stderr while the callback was set:\n{during}"
    );
    // Before it and after it, S3OS_LOG's lines go to stderr.
    assert!(before.is_empty() || log_lines(before).iter().all(|l| l.contains("s3os[")));
    assert!(
        !log_lines(after).is_empty(),
        "no lines after the callback was unset"
    );
}

#[test]
fn the_callback_program_is_clean_under_valgrind() {
    let server = server();
    let program = log_callback_program();
    let dir = scratch("log-valgrind");
    let file = write_file(&dir, "data.bin", &pattern(6 * MIB, 5));
    let mut command = Command::new("valgrind");
    command
        .args([
            "--error-exitcode=99",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
            "--show-leak-kinds=definite",
            "--quiet",
        ])
        .arg(&program)
        .arg(&file)
        .args(settings_args(&server));
    let out = run_program(&mut command, &program);
    assert!(out.contains("all checks passed"), "{out}");
}

#[test]
fn an_endpoint_from_the_aws_variables_is_used_addressed_and_logged_as_such() {
    let server = server();
    let dir = scratch("log-endpoint");
    let file = write_file(&dir, "data.bin", &pattern(100 * 1024, 2));
    let settings: Vec<String> = settings_args(&server)
        .into_iter()
        .filter(|setting| !setting.starts_with("endpoint_url="))
        .collect();
    // A host name rather than an address: virtual-hosted requests would go to
    // test-bucket.localhost, which the local server does not serve.
    let endpoint = server.endpoint().replace("127.0.0.1", "localhost");
    let mut env = Environment::new();
    env.unset("S3OS_LOG_FILE").set("S3OS_LOG", "info");
    for (variables, origin) in [
        (
            vec![("AWS_ENDPOINT_URL", endpoint.as_str())],
            "AWS_ENDPOINT_URL",
        ),
        (
            // The S3-specific variable wins over the global one, as in the AWS SDKs.
            vec![
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
                ("AWS_ENDPOINT_URL_S3", endpoint.as_str()),
            ],
            "AWS_ENDPOINT_URL_S3",
        ),
    ] {
        let mut env = Environment::new();
        env.unset("S3OS_LOG_FILE").set("S3OS_LOG", "info");
        for (name, value) in &variables {
            env.set(name, value);
        }
        let run = env.roundtrip(&file, &format!("endpoint/{origin}"), &settings);
        run.expect_verified();
        let lines = log_lines(&run.stderr);
        assert!(
            has(
                &lines,
                &[
                    &format!("endpoint {endpoint} ({origin})"),
                    "path-style addressing"
                ]
            ),
            "{}",
            run.stderr
        );
    }
    // Told to ignore configured endpoints, the store goes to AWS S3 (the example is not run
    // against it: the store's description is enough).
    env.set("AWS_ENDPOINT_URL", &endpoint)
        .set("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
        .set("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .set("AWS_SECRET_ACCESS_KEY", "example-secret")
        .set("AWS_MAX_ATTEMPTS", "1");
    let run = env.roundtrip(
        &file,
        "endpoint/ignored",
        &[
            "connect_timeout=1".into(),
            "read_timeout=1".into(),
            "max_attempts=1".into(),
            "proxy_url=http://127.0.0.1:9".into(),
        ],
    );
    assert!(
        has(
            &log_lines(&run.stderr),
            &["endpoint AWS S3", "virtual-hosted addressing"]
        ),
        "{}",
        run.stderr
    );
}
