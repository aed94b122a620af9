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

/// A proxy that lets every body through at about 1.6 MB/s per connection.
fn slow_link(server: &LocalS3) -> Proxy {
    let proxy = Proxy::start(server.addr);
    let pace = (16 * 1024, Duration::from_millis(10));
    proxy.inject(
        |r| r.method == "PUT",
        Fault::ThrottleRequest {
            chunk: pace.0,
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
