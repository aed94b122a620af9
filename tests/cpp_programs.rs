//! The C++ header include/s3os.hpp: a test program covering every method and exception, and
//! the C++ example, each built warning-free by every C++ compiler present (g++ always, clang++
//! where installed) against the built library and run against a real server.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::native::*;
use support::proxy::{Fault, Proxy};
use support::tls::{Front, TestCa};
use support::*;

/// C++ compilers to prove the header with; g++ is required, clang++ is used when installed
/// (scripts/install-deps.sh installs it).
fn compilers() -> Vec<&'static str> {
    assert!(installed("g++"), "g++ is required");
    let mut found = vec!["g++"];
    if installed("clang++") {
        found.push("clang++");
    } else {
        println!("clang++ is not installed: building with g++ only");
    }
    found
}

/// Builds `source` (relative to the repository) with `compiler`, every warning an error, at
/// `optimization` (some warnings need the optimizer, -O0 builds fastest).
fn compile(compiler: &str, source: &str, optimization: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut args: Vec<String> = [
        "-std=c++17",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-pedantic",
        "-Wshadow",
        "-Wconversion",
        "-Wsign-conversion",
        "-Wold-style-cast",
        "-g",
        "-pthread",
        optimization,
    ]
    .map(String::from)
    .to_vec();
    args.push(format!("-I{}", root.join("include").display()));
    args.push(format!("-L{}", library_dir().display()));
    args.push(format!("-Wl,-rpath,{}", runtime_library_dir().display()));
    args.push("-ls3os".into());
    build(compiler, &root.join(source), &args, compiler)
}

/// Runs the store test program built by `compiler`; returns its output.
fn run_store_test(server: &LocalS3, program: &Path, valgrind: bool) -> String {
    let corrupting = Proxy::start(server.addr);
    let damage = corrupting.inject(
        |request| request.operation() == "GetObject",
        Fault::CorruptResponse { at: 5 },
        0,
        usize::MAX,
    );
    let mut command = if valgrind {
        let mut command = Command::new("valgrind");
        // The program replaces operator new (to make one allocation fail); valgrind must leave
        // that replacement in place.
        command
            .args([
                "--soname-synonyms=somalloc=nouserintercepts",
                "--error-exitcode=99",
                "--leak-check=full",
                "--errors-for-leak-kinds=definite",
                "--show-leak-kinds=definite",
                "--quiet",
            ])
            .arg(program);
        command
    } else {
        Command::new(program)
    };
    // An HTTPS front with a certificate of a private CA, which the program trusts through
    // ca_bundle. It is addressed by IP: glibc keeps per-thread resolver state for a looked-up
    // name that valgrind reports as lost when the thread ends.
    let ca = TestCa::new();
    let https = Front::tls(server.addr, ca.issue(&["127.0.0.1"], false));
    let scratch_dir = scratch("cpp-store-test");
    let bundle = ca.write_bundle(&scratch_dir.join("ca.pem"));
    command
        .arg(&scratch_dir)
        .arg(dead_endpoint())
        .arg(corrupting.endpoint())
        .args(settings_args(server))
        .env("S3OS_TEST_HTTPS_ENDPOINT", https.endpoint("127.0.0.1"))
        .env("S3OS_TEST_CA_BUNDLE", &bundle);
    let out = run_program(&mut command, program);
    assert!(out.contains("store_test: all "), "{out}");
    assert!(corrupting.fired(damage) > 0, "the proxy damaged nothing");
    assert_eq!(
        server.unfinished_uploads(),
        Vec::<String>::new(),
        "cancelled uploads must be aborted"
    );
    out
}

#[test]
fn the_store_test_program_passes_with_every_compiler_and_under_valgrind() {
    let server = server();
    for (at, compiler) in compilers().into_iter().enumerate() {
        let program = compile(compiler, "tests/cpp/store_test.cpp", "-O0");
        let out = run_store_test(&server, &program, false);
        println!("{compiler}: {}", out.lines().last().unwrap_or_default());
        // One memory check suffices: the header's code is the same for every compiler.
        if at == 0 {
            run_store_test(&server, &program, true);
            println!("{compiler}: clean under valgrind");
        }
    }
}

#[test]
fn the_cpp_example_round_trips_with_every_compiler() {
    let server = server();
    let dir = scratch("cpp-example");
    let file = write_file(&dir, "data.bin", &pattern(9 * MIB + 7, 17));
    for compiler in compilers() {
        let program = compile(compiler, "examples/cpp/roundtrip.cpp", "-O2");
        let name = format!("{}/data.bin", compiler.replace('+', "x"));
        let mut args = vec![
            BUCKET.to_string(),
            file.to_str().unwrap().to_string(),
            name.clone(),
        ];
        args.extend(settings_args(&server));
        args.push("prefix=examples".into());
        let out = run_program(Command::new(&program).args(&args), &program);
        println!("{compiler}:\n{out}");
        assert!(out.contains("verified 9.0 MiB"), "{out}");
        assert!(
            out.contains("read back through an std::istream: identical"),
            "{out}"
        );
        assert!(
            out.contains(&format!("s3://{BUCKET}/examples/{name}")),
            "{out}"
        );
        assert!(
            out.contains(&format!("listed {name} ({} bytes)", 9 * MIB + 7)),
            "{out}"
        );
        assert_eq!(
            std::fs::read(server.root.join(BUCKET).join("examples").join(&name)).unwrap(),
            std::fs::read(&file).unwrap()
        );
    }
}

#[test]
fn the_batch_and_background_test_program_passes_with_every_compiler() {
    let server = server();
    // Bodies at about 1.6 MB/s down and 6.4 MB/s up, so that background transfers are still
    // running when looked at.
    let slow = Proxy::start(server.addr);
    let pace = (16 * 1024, std::time::Duration::from_millis(10));
    slow.inject(
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
    slow.inject(
        |r| r.operation() == "GetObject",
        Fault::ThrottleResponse {
            chunk: pace.0,
            pause: pace.1,
        },
        0,
        usize::MAX,
    );
    for (at, compiler) in compilers().into_iter().enumerate() {
        let program = compile(compiler, "tests/cpp/batch_test.cpp", "-O0");
        let mut command = if at == 0 && installed("valgrind") {
            let mut command = Command::new("valgrind");
            command
                .args([
                    "--error-exitcode=99",
                    "--leak-check=full",
                    "--errors-for-leak-kinds=definite",
                    "--show-leak-kinds=definite",
                    "--quiet",
                ])
                .arg(&program);
            command
        } else {
            Command::new(&program)
        };
        command
            .arg(scratch("cpp-batch-test"))
            .arg(slow.endpoint())
            .args(settings_args(&server));
        let out = run_program(&mut command, &program);
        println!("{compiler}: {}", out.lines().last().unwrap_or_default());
        assert!(out.contains("batch_test: all "), "{out}");
        let left = server.unfinished_uploads();
        let details: Vec<String> = left
            .iter()
            .map(|u| {
                format!(
                    "{u}: {:?}",
                    std::fs::read_dir(server.root.join(u))
                        .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
                )
            })
            .collect();
        assert!(left.is_empty(), "{details:?}\n{out}");
    }
}
