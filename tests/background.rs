//! Background transfers through the C ABI, exercised by a C program (tests/c/background.c)
//! over a link slow enough that transfers are still running when it looks: waits with
//! timeouts and from other threads, progress polled, cancellation, freeing a running transfer
//! or its store, batches with per-item statuses, fork(). Run under valgrind where installed.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::native::*;
use support::proxy::{Fault, Proxy};
use support::*;

fn compile(source: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let args: Vec<String> = [
        "-std=c11",
        "-D_POSIX_C_SOURCE=200809L",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-O1",
        "-g",
    ]
    .into_iter()
    .map(String::from)
    .chain([
        format!("-I{}", root.join("include").display()),
        format!("-L{}", library_dir().display()),
        format!("-Wl,-rpath,{}", runtime_library_dir().display()),
        "-ls3os".into(),
        "-lpthread".into(),
    ])
    .collect();
    build("cc", &root.join(source), &args, "background-cc")
}

/// A proxy that lets bodies through at about 1.6 MB/s down and 6.4 MB/s up per connection.
fn slow_link(server: &LocalS3) -> Proxy {
    let proxy = Proxy::start(server.addr);
    let pace = (16 * 1024, Duration::from_millis(10));
    proxy.inject(
        |r| r.method == "PUT",
        // Uploads faster: a part cut off by a cancellation reaches the server in the time
        // given to parts in flight (2 s), as on a real link, instead of after the abort.
        Fault::ThrottleRequest {
            chunk: 4 * pace.0,
            pause: pace.1,
        },
        0,
        usize::MAX,
    );
    proxy.inject(
        |r| r.method == "GET" && r.operation() == "GetObject",
        Fault::ThrottleResponse {
            chunk: pace.0,
            pause: pace.1,
        },
        0,
        usize::MAX,
    );
    proxy
}

#[test]
fn background_transfers_from_c() {
    let server = server();
    let proxy = slow_link(&server);
    let dir = scratch("background");
    let program = compile("tests/c/background.c");
    let mut args = vec![dir.to_str().unwrap().to_string()];
    args.extend(settings_args(&server).into_iter().map(|setting| {
        if setting.starts_with("endpoint_url=") {
            format!("endpoint_url={}", proxy.endpoint())
        } else {
            setting
        }
    }));
    args.push("multipart_threshold=5MiB".into());
    let mut command = if installed("valgrind") {
        let mut command = Command::new("valgrind");
        command
            .args(["--error-exitcode=99", "--leak-check=no", "--quiet"])
            .arg(&program);
        command
    } else {
        Command::new(&program)
    };
    let out = run_program(command.args(&args), &program);
    assert!(out.contains("background transfers behaved"), "{out}");
    // Freed while downloading, and downloading while its store was freed: in both cases the
    // call returned after the cleanup, so nothing was left then.
    for line in out.lines() {
        if let Some(target) = line
            .strip_prefix("freed-running-download ")
            .or_else(|| line.strip_prefix("store-freed-download "))
        {
            let target = Path::new(target);
            assert!(!target.exists(), "{line}");
            assert!(temporaries(target.parent().unwrap()).is_empty(), "{line}");
        }
    }
    assert!(
        server.unfinished_uploads().is_empty(),
        "{:?}",
        server.unfinished_uploads()
    );
}

/// The share of upload time the overlap example reports hidden, in percent.
fn hidden_percent(out: &str) -> f64 {
    let line = out
        .lines()
        .find(|l| l.starts_with("upload time hidden behind compute"))
        .unwrap_or_else(|| panic!("no summary in {out}"));
    line.rsplit('(')
        .next()
        .and_then(|p| p.strip_suffix("%)"))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no percentage in {line}"))
}

#[test]
fn the_overlap_example_hides_uploads_behind_compute() {
    let server = server();
    let program = compile("examples/c/overlap.c");
    let dir = scratch("overlap");
    let mut args = vec![BUCKET.to_string(), dir.to_str().unwrap().to_string()];
    args.extend(settings_args(&server));
    let out = run_program(
        Command::new(&program)
            .args(&args)
            .env("S3OS_OVERLAP_MIB", "16")
            .env("S3OS_OVERLAP_COMPUTE_MS", "300"),
        &program,
    );
    println!("{out}");
    assert!(
        out.contains("4 checkpoints verified and deleted (4 objects)"),
        "{out}"
    );
    assert_eq!(out.matches("waited").count(), 4, "{out}");
    // Three of the four uploads run beside a step of compute several times their length; the
    // last has none after it.
    let hidden = hidden_percent(&out);
    assert!(hidden > 40.0, "{out}");
    assert!(server
        .root
        .join(BUCKET)
        .join("overlap")
        .read_dir()
        .map_or(true, |mut d| d.next().is_none()));
}
