//! C programs compiled with the system compiler against include/s3os.h, linked to the built
//! shared library, and run against a real server.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::native::*;
use support::*;

/// Compiles `source` into an executable and returns its path.
pub fn compile(source: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = library_dir();
    let name = Path::new(source).file_stem().unwrap().to_str().unwrap();
    let out = scratch("cc").join(name);
    let status = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args([
            "-std=c11",
            "-D_POSIX_C_SOURCE=200809L",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-O1",
            "-g",
        ])
        .arg("-I")
        .arg(root.join("include"))
        .arg(root.join(source))
        .arg("-o")
        .arg(&out)
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", runtime_library_dir().display()))
        .args(["-ls3os", "-lpthread", "-ldl"])
        .status()
        .expect("running the C compiler");
    assert!(status.success(), "compiling {source} failed");
    out
}

fn run(program: &Path, args: &[String]) -> String {
    run_program(Command::new(program).args(args), program)
}

/// Runs `program` under valgrind's memcheck: any memory error, and with `leaks` any definite
/// leak, fails it. The shared runtime's threads live until exit, so "still reachable" memory
/// is expected.
fn run_valgrind(program: &Path, args: &[String], leaks: bool) -> String {
    let mut command = Command::new("valgrind");
    command
        .args([
            "--error-exitcode=99",
            "--errors-for-leak-kinds=definite",
            "--show-leak-kinds=definite",
        ])
        .arg(if leaks {
            "--leak-check=full"
        } else {
            "--leak-check=no"
        })
        .arg("--quiet")
        .arg(program)
        .args(args);
    run_program(&mut command, program)
}

#[test]
fn the_roundtrip_example_uploads_downloads_and_verifies() {
    let server = server();
    let program = compile("examples/c/roundtrip.c");
    let dir = scratch("example");
    let file = write_file(&dir, "data.bin", &pattern(13 * MIB + 5, 11));
    let mut args = vec![
        BUCKET.to_string(),
        file.to_str().unwrap().to_string(),
        "ckpt/data.bin".to_string(),
    ];
    args.extend(settings_args(&server));
    args.push("prefix=examples".into());
    let out = run(&program, &args);
    assert!(out.contains("verified 13.0 MiB"), "{out}");
    assert!(
        out.contains(&format!("s3://{BUCKET}/examples/ckpt/data.bin")),
        "{out}"
    );
    assert!(server
        .root
        .join(BUCKET)
        .join("examples/ckpt/data.bin")
        .is_file());
}

/// The number after `label` in the program's output.
fn reported(out: &str, label: &str) -> u64 {
    let line = out
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no {label} in {out}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn sixteen_threads_times_two_hundred_operations_on_one_store() {
    let server = server();
    let program = compile("tests/c/threads.c");
    let dir = scratch("threads");
    let mut args = vec![
        "16".to_string(),
        "40".to_string(),
        dir.to_str().unwrap().to_string(),
    ];
    args.extend(settings_args(&server));
    let out = run(&program, &args);
    assert!(
        out.contains("16 threads x 40 rounds: all operations correct"),
        "{out}"
    );
    println!("{out}");
    // 16 callers + main + runtime workers (at most 8) + blocking pool (at most 16).
    assert!(reported(&out, "Threads:") <= 1 + 16 + 8 + 16, "{out}");
    assert!(
        reported(&out, "VmHWM:") < 64 * 1024,
        "peak memory in KiB: {out}"
    );
}

#[test]
fn every_function_rejects_bad_input_cleanly() {
    let server = server();
    let program = compile("tests/c/bad_input.c");
    let dir = scratch("bad-input");
    let mut args = vec![dir.to_str().unwrap().to_string()];
    args.extend(settings_args(&server));
    let out = run(&program, &args);
    assert!(out.contains("every call answered as expected"), "{out}");
}

#[test]
fn the_memory_and_stream_calls_answer_from_c() {
    let server = server();
    let dir = scratch("memory");
    let mut args = vec![dir.to_str().unwrap().to_string()];
    args.extend(settings_args(&server));
    let out = run(&compile("tests/c/memory.c"), &args);
    assert!(
        out.contains("memory: every call answered as expected"),
        "{out}"
    );
}

#[test]
fn a_forked_child_uses_its_own_store_while_the_parent_keeps_working() {
    let server = server();
    let program = compile("tests/c/fork.c");
    let dir = scratch("fork");
    let mut args = vec![dir.to_str().unwrap().to_string()];
    args.extend(settings_args(&server));
    let out = run(&program, &args);
    assert!(out.contains("child and parent both worked"), "{out}");
}

#[test]
fn c_programs_are_clean_under_valgrind() {
    let server = server();
    let dir = scratch("valgrind");
    let settings = settings_args(&server);
    let with = |first: Vec<String>| {
        first
            .into_iter()
            .chain(settings.iter().cloned())
            .collect::<Vec<_>>()
    };

    let out = run_valgrind(
        &compile("tests/c/bad_input.c"),
        &with(vec![dir.to_str().unwrap().into()]),
        true,
    );
    assert!(out.contains("every call answered as expected"), "{out}");

    let file = write_file(&dir, "data.bin", &pattern(11 * MIB, 5));
    let out = run_valgrind(
        &compile("examples/c/roundtrip.c"),
        &with(vec![
            BUCKET.into(),
            file.to_str().unwrap().into(),
            "vg/data.bin".into(),
        ]),
        true,
    );
    assert!(out.contains("verified 11.0 MiB"), "{out}");

    let out = run_valgrind(
        &compile("tests/c/threads.c"),
        &with(vec!["4".into(), "3".into(), dir.to_str().unwrap().into()]),
        true,
    );
    assert!(out.contains("4 threads x 3 rounds"), "{out}");

    let out = run_valgrind(
        &compile("tests/c/memory.c"),
        &with(vec![dir.to_str().unwrap().into()]),
        true,
    );
    assert!(
        out.contains("memory: every call answered as expected"),
        "{out}"
    );

    // A forked child owns memory of parent threads that do not exist in it, which a leak check
    // at the child's exit reports as lost; the fork test is therefore checked for memory errors
    // only (the programs above cover leaks).
    let out = run_valgrind(
        &compile("tests/c/fork.c"),
        &with(vec![dir.to_str().unwrap().into()]),
        false,
    );
    assert!(out.contains("child and parent both worked"), "{out}");
}

#[test]
fn unloading_the_library_after_use_is_clean() {
    let server = server();
    let program = compile("tests/c/unload.c");
    let dir = scratch("unload");
    let file = write_file(&dir, "f", b"bytes");
    let mut args = vec![
        library_dir()
            .join("libs3os.so")
            .to_str()
            .unwrap()
            .to_string(),
        file.to_str().unwrap().to_string(),
    ];
    args.extend(settings_args(&server));
    let out = run(&program, &args);
    assert!(out.contains("kept running after dlclose"), "{out}");
    assert!(server.root.join(BUCKET).join("unload/obj").is_file());
}

#[test]
fn the_library_exports_exactly_the_functions_of_the_header() {
    // Dependencies may carry C interfaces of their own (crc-fast does); none may leak out.
    let header =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/s3os.h")).unwrap();
    // Every `s3os_name(` in the header: the functions it declares.
    let mut declared: Vec<String> = header
        .match_indices("s3os_")
        .filter_map(|(at, _)| {
            let rest = &header[at..];
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
            rest[end..]
                .starts_with('(')
                .then(|| rest[..end].to_string())
        })
        .collect();
    declared.sort();
    declared.dedup();
    let listed = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(library_dir().join("libs3os.so"))
        .output()
        .expect("running nm (binutils)");
    assert!(listed.status.success(), "nm failed");
    let mut exported: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().nth(2).map(String::from))
        .collect();
    exported.sort();
    assert!(
        declared.len() >= 10,
        "too few functions found in the header: {declared:?}"
    );
    assert_eq!(exported, declared);
}

/// A server that reads the start of every request and then closes the connection, as a server
/// that dies mid-upload does: first its end of the sending direction (the client keeps
/// writing into a half-closed connection), then the socket, with unread bytes, which resets it.
fn drop_every_connection_mid_request() -> std::net::SocketAddr {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                let mut received = 0;
                while received < 256 * 1024 {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => received += n,
                    }
                }
                let _ = stream.shutdown(std::net::Shutdown::Write);
                std::thread::sleep(std::time::Duration::from_millis(50));
            });
        }
    });
    addr
}

#[test]
fn a_dropped_connection_fails_the_call_without_killing_a_c_program() {
    use support::proxy::{Fault, Proxy};
    let server = server();
    let dir = scratch("sigpipe");
    let file = write_file(&dir, "data.bin", &pattern(16 * MIB, 3));
    let direct = support::store(&server, &[]);
    direct.upload("object", &file).unwrap();
    let proxy = Proxy::start(server.addr);
    proxy.inject(
        |r| r.operation() == "GetObject",
        Fault::ResetResponse {
            after: Some(256 * 1024),
        },
        0,
        usize::MAX,
    );
    let dropping = drop_every_connection_mid_request();
    let mut args = vec![
        file.to_str().unwrap().to_string(),
        format!("http://{dropping}"),
        dir.join("target").to_str().unwrap().to_string(),
        proxy.endpoint(),
    ];
    args.extend(settings_args(&server));
    // One PUT of 16 MiB, so the connection drops while the body is being written.
    args.extend(["multipart_threshold=64MiB".into(), "max_attempts=2".into()]);
    let out = run(&compile("tests/c/sigpipe.c"), &args);
    assert!(out.contains("both calls returned"), "{out}");
    assert!(!dir.join("target").exists());
}

#[test]
fn calls_from_a_thread_exit_destructor_answer() {
    let server = server();
    let out = run(&compile("tests/c/thread_exit.c"), &settings_args(&server));
    assert!(
        out.contains("every call from the key destructor answered"),
        "{out}"
    );
}

/// Builds tests/c/fs_calls.c, the file-system call logger, as a library to preload.
fn fs_calls_library() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = scratch("fs-calls").join("fs_calls.so");
    let status = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args([
            "-shared", "-fPIC", "-O1", "-Wall", "-Wextra", "-Werror", "-o",
        ])
        .arg(&out)
        .arg(root.join("tests/c/fs_calls.c"))
        .arg("-ldl")
        .status()
        .expect("running the C compiler");
    assert!(status.success(), "compiling tests/c/fs_calls.c failed");
    out
}

/// Runs tests/c/download.c with the file-system logger preloaded; returns its output and the
/// logged calls.
fn logged_download(
    server: &LocalS3,
    target: &Path,
    overwrite: bool,
    settings: &[&str],
    env: &[(&str, &str)],
) -> (String, Vec<String>) {
    let log = target.with_extension("fs-log");
    let _ = std::fs::remove_file(&log);
    let mut args = vec![
        "object".to_string(),
        target.to_str().unwrap().to_string(),
        if overwrite { "1" } else { "0" }.to_string(),
    ];
    args.extend(settings_args(server));
    args.extend(settings.iter().map(|s| s.to_string()));
    let program = compile("tests/c/download.c");
    let mut command = Command::new(&program);
    command
        .args(&args)
        .env("LD_PRELOAD", fs_calls_library())
        .env("S3OS_FS_LOG", &log)
        .envs(env.iter().copied());
    let out = run_program(&mut command, &program);
    let calls = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect();
    (out, calls)
}

#[test]
fn downloads_reach_stable_storage_before_and_after_the_rename() {
    let server = server();
    let dir = scratch("durable");
    let data = pattern(11 * MIB, 4);
    support::store(&server, &[])
        .upload("object", &write_file(&dir, "source", &data))
        .unwrap();
    let out_dir = dir.join("out");
    let target = out_dir.join("ckpt.bin");
    let (t, d) = (target.to_str().unwrap(), out_dir.to_str().unwrap());
    let is_temp = |path: &str| path.starts_with(&format!("{t}.")) && path.ends_with(".s3os.tmp");

    for (overwrite, commit) in [(false, "linkat"), (true, "rename")] {
        let (out, calls) = logged_download(&server, &target, overwrite, &[], &[]);
        assert!(out.contains("download: S3OS_OK"), "{out}");
        assert!(std::fs::read(&target).unwrap() == data);
        let shape: Vec<(&str, Vec<&str>)> = calls
            .iter()
            .map(|line| {
                let mut words = line.split(' ');
                (words.next().unwrap(), words.collect())
            })
            .collect();
        assert_eq!(shape.len(), 3, "{calls:#?}");
        assert!(
            shape[0].0 == "fdatasync" && is_temp(shape[0].1[0]),
            "{calls:#?}"
        );
        assert!(
            shape[1].0 == commit && is_temp(shape[1].1[0]) && shape[1].1[1] == t,
            "{calls:#?}"
        );
        assert!(shape[2] == ("fsync", vec![d]), "{calls:#?}");
    }

    let (out, calls) = logged_download(&server, &target, true, &["fsync_downloads=false"], &[]);
    assert!(out.contains("download: S3OS_OK"), "{out}");
    assert!(
        calls.iter().all(|c| !c.contains("sync")),
        "flushed although asked not to: {calls:#?}"
    );
}

#[test]
fn without_hard_links_a_target_that_appears_meanwhile_is_kept() {
    let server = server();
    let dir = scratch("no-links");
    let data = pattern(MIB, 6);
    support::store(&server, &[])
        .upload("object", &write_file(&dir, "source", &data))
        .unwrap();
    let target = dir.join("out").join("ckpt.bin");
    let t = target.to_str().unwrap();

    let (out, calls) = logged_download(&server, &target, false, &[], &[("S3OS_FS_NO_LINKS", "1")]);
    assert!(out.contains("download: S3OS_OK"), "{out}");
    assert!(std::fs::read(&target).unwrap() == data);
    assert!(
        calls.iter().any(|c| c.starts_with("renameat2-noreplace")),
        "{calls:#?}"
    );

    std::fs::remove_file(&target).unwrap();
    let (out, calls) = logged_download(
        &server,
        &target,
        false,
        &[],
        &[("S3OS_FS_NO_LINKS", "1"), ("S3OS_FS_RACE", t)],
    );
    assert!(calls.iter().any(|c| c.starts_with("raced")), "{calls:#?}");
    assert!(out.contains("download: S3OS_ALREADY_EXISTS"), "{out}");
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "written by another process"
    );
    assert!(temporaries(&dir.join("out")).is_empty());
}
