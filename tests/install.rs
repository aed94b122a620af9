//! scripts/install.sh: installs this build into a temporary prefix, then builds programs
//! against the installation as users do (the C example with pkg-config, shared and static;
//! the C++ example with CMake's find_package) and runs them against a real server.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use support::native::*;
use support::*;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Runs scripts/install.sh on the library this test was built with (no cargo build: cargo is
/// running the tests).
fn install(prefix: &Path) {
    let output = Command::new("bash")
        .arg(Path::new(ROOT).join("scripts/install.sh"))
        .arg("--from")
        .arg(library_dir())
        .arg(prefix)
        .output()
        .expect("running scripts/install.sh");
    assert!(
        output.status.success(),
        "install.sh failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// One installation shared by the tests that only read it.
fn installed_prefix() -> &'static Path {
    static PREFIX: OnceLock<PathBuf> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let prefix = scratch("prefix");
        install(&prefix);
        prefix
    })
}

/// The soname the README promises: libs3os.so.MAJOR, or libs3os.so.0.MINOR while the major
/// version is 0.
fn expected_soname() -> String {
    match env!("CARGO_PKG_VERSION_MAJOR") {
        "0" => format!("libs3os.so.0.{}", env!("CARGO_PKG_VERSION_MINOR")),
        major => format!("libs3os.so.{major}"),
    }
}

/// The shared libraries `program` needs (`readelf -d`).
fn needed(program: &Path) -> Vec<String> {
    let output = Command::new("readelf")
        .arg("-d")
        .arg(program)
        .output()
        .expect("running readelf");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.contains("(NEEDED)"))
        .filter_map(|line| Some(line.split_once('[')?.1.split_once(']')?.0.to_string()))
        .collect()
}

/// `pkg-config <args> s3os` against the installation, split into arguments.
fn pkg_config(prefix: &Path, args: &[&str]) -> Vec<String> {
    assert!(installed("pkg-config"), "pkg-config is required");
    let output = Command::new("pkg-config")
        .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
        .args(args)
        .arg("s3os")
        .output()
        .expect("running pkg-config");
    assert!(
        output.status.success(),
        "pkg-config {args:?} s3os: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// Builds a C program from the repository with the C compiler and `link` flags.
fn build_c(source: &str, link: Vec<String>, name: &str) -> PathBuf {
    let mut args: Vec<String> = ["-std=c11", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra"]
        .into_iter()
        .chain(["-Werror", "-O1"])
        .map(String::from)
        .collect();
    args.extend(link);
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    build(&compiler, &Path::new(ROOT).join(source), &args, name)
}

/// Runs a round-trip example (C or C++: the same arguments) against `server` and checks that
/// it verified the bytes it moved.
fn round_trip(program: &Path, server: &LocalS3, object: &str) {
    let dir = scratch("install-roundtrip");
    let file = write_file(&dir, "data.bin", &pattern(6 * MIB + 1, 23));
    let mut args = vec![
        BUCKET.to_string(),
        file.to_str().unwrap().to_string(),
        object.to_string(),
    ];
    args.extend(settings_args(server));
    let out = run_program(Command::new(program).args(&args), program);
    println!("{}:\n{out}", program.display());
    assert!(out.contains("verified 6.0 MiB"), "{out}");
    assert_eq!(
        std::fs::read(server.root.join(BUCKET).join(object)).unwrap(),
        std::fs::read(&file).unwrap()
    );
}

#[test]
fn installs_the_library_under_its_abi_version_with_headers_and_package_files() {
    let prefix = scratch("prefix-layout");
    install(&prefix);
    install(&prefix); // again over the first: links and files are replaced
    let lib = prefix.join("lib");
    let version = env!("CARGO_PKG_VERSION");
    let real = format!("libs3os.so.{version}");
    let abi_name = expected_soname();

    assert!(lib.join(&real).symlink_metadata().unwrap().is_file());
    assert_eq!(soname(&lib.join(&real)), abi_name);
    assert_eq!(
        std::fs::read_link(lib.join(&abi_name)).unwrap(),
        Path::new(&real)
    );
    assert_eq!(
        std::fs::read_link(lib.join("libs3os.so")).unwrap(),
        Path::new(&abi_name)
    );
    assert_eq!(
        std::fs::read(lib.join(&real)).unwrap(),
        std::fs::read(library_dir().join("libs3os.so")).unwrap()
    );
    assert!(lib.join("libs3os.a").is_file());
    for header in ["s3os.h", "s3os.hpp"] {
        assert_eq!(
            std::fs::read(prefix.join("include").join(header)).unwrap(),
            std::fs::read(Path::new(ROOT).join("include").join(header)).unwrap()
        );
    }
    for package in ["s3osConfig.cmake", "s3osConfigVersion.cmake"] {
        assert!(lib.join("cmake/s3os").join(package).is_file());
    }
    assert_eq!(pkg_config(&prefix, &["--modversion"]), [version]);
}

#[test]
fn the_c_example_builds_with_pkg_config_and_its_header_matches_the_library() {
    let prefix = installed_prefix();
    let server = server();
    let libdir = pkg_config(prefix, &["--variable=libdir"]).join("");
    let mut link = pkg_config(prefix, &["--cflags", "--libs"]);
    assert!(link.contains(&"-ls3os".to_string()), "{link:?}");
    link.push(format!("-Wl,-rpath,{libdir}"));

    let program = build_c("examples/c/roundtrip.c", link.clone(), "pkg-config-shared");
    assert!(needed(&program).contains(&expected_soname()));
    round_trip(&program, &server, "installed/c-shared.bin");

    let version = build_c("tests/c/version.c", link, "pkg-config-version");
    let out = run_program(&mut Command::new(&version), &version);
    let v = env!("CARGO_PKG_VERSION");
    assert_eq!(out.trim(), format!("header {v} ({v}), library {v}"));
}

#[test]
fn the_static_library_links_a_program_that_needs_no_libs3os() {
    let prefix = installed_prefix();
    let server = server();
    let flags = pkg_config(prefix, &["--static", "--cflags", "--libs"]);
    for system_library in ["-lpthread", "-ldl", "-lm"] {
        assert!(flags.contains(&system_library.to_string()), "{flags:?}");
    }
    // The linker prefers libs3os.so where both are installed; name the archive instead.
    let link: Vec<String> = flags
        .into_iter()
        .map(|flag| match flag.as_str() {
            "-ls3os" => "-l:libs3os.a".to_string(),
            _ => flag,
        })
        .collect();
    let program = build_c("examples/c/roundtrip.c", link, "pkg-config-static");
    let libraries = needed(&program);
    assert!(
        !libraries
            .iter()
            .any(|library| library.starts_with("libs3os")),
        "{libraries:?}"
    );
    round_trip(&program, &server, "installed/c-static.bin");
}

#[test]
fn the_cpp_example_builds_with_cmake_find_package_shared_and_static() {
    assert!(
        installed("cmake"),
        "cmake is required (scripts/install-deps.sh installs it)"
    );
    let prefix = installed_prefix();
    let server = server();
    let build_dir = scratch("cmake-build");
    let started = std::time::Instant::now();
    let cmake = |args: &[&str]| {
        let output = Command::new("cmake")
            .args(args)
            .output()
            .expect("running cmake");
        assert!(
            output.status.success(),
            "cmake {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    };
    cmake(&[
        "-S",
        &format!("{ROOT}/examples/cpp"),
        "-B",
        build_dir.to_str().unwrap(),
        &format!("-DCMAKE_PREFIX_PATH={}", prefix.display()),
        "-DCMAKE_BUILD_TYPE=Release",
        "-DCMAKE_CXX_FLAGS=-Wall -Wextra -Werror -pedantic",
    ]);
    cmake(&["--build", build_dir.to_str().unwrap(), "--parallel", "2"]);
    println!(
        "cmake: configured and built in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let shared = build_dir.join("roundtrip");
    assert!(needed(&shared).contains(&expected_soname()));
    round_trip(&shared, &server, "installed/cpp-shared.bin");
    let static_program = build_dir.join("roundtrip_static");
    assert!(!needed(&static_program)
        .iter()
        .any(|library| library.starts_with("libs3os")));
    round_trip(&static_program, &server, "installed/cpp-static.bin");
}

#[test]
fn the_cmake_package_accepts_versions_of_the_same_abi_only() {
    let prefix = installed_prefix();
    let (major, minor, patch): (u32, u32, u32) = (
        env!("CARGO_PKG_VERSION_MAJOR").parse().unwrap(),
        env!("CARGO_PKG_VERSION_MINOR").parse().unwrap(),
        env!("CARGO_PKG_VERSION_PATCH").parse().unwrap(),
    );
    let mut cases = vec![
        (String::new(), true),
        (format!("{major}.{minor}"), true),
        (format!("{major}.{minor}.{patch}"), true),
        (format!("{major}.{minor}.{}", patch + 1), false),
        (format!("{major}.{}", minor + 1), false),
        (format!("{}.0", major + 1), false),
    ];
    if major == 0 && minor > 0 {
        cases.push((format!("0.{}", minor - 1), false));
    }
    // find_package's side of the protocol: the requested version in PACKAGE_FIND_VERSION*.
    let script = scratch("cmake-version").join("check.cmake");
    let mut text = String::new();
    for (request, _) in &cases {
        let parts: Vec<&str> = request.split('.').filter(|p| !p.is_empty()).collect();
        text += &format!(
            "set(PACKAGE_FIND_VERSION \"{request}\")\nset(PACKAGE_FIND_VERSION_COUNT {})\n",
            parts.len()
        );
        for (name, part) in ["MAJOR", "MINOR", "PATCH"]
            .iter()
            .zip(parts.iter().chain([&"0"; 3]))
        {
            text += &format!("set(PACKAGE_FIND_VERSION_{name} {part})\n");
        }
        text += &format!(
            "unset(PACKAGE_VERSION_COMPATIBLE)\ninclude(\"{}\")\n\
             message(\"[{request}] ${{PACKAGE_VERSION}} ${{PACKAGE_VERSION_COMPATIBLE}}\")\n",
            prefix
                .join("lib/cmake/s3os/s3osConfigVersion.cmake")
                .display()
        );
    }
    std::fs::write(&script, text).unwrap();
    let output = Command::new("cmake")
        .arg("-P")
        .arg(&script)
        .output()
        .expect("running cmake -P");
    assert!(output.status.success());
    let answers = String::from_utf8_lossy(&output.stderr).into_owned();
    let version = env!("CARGO_PKG_VERSION");
    for (request, compatible) in &cases {
        let expected = format!(
            "[{request}] {version} {}",
            if *compatible { "TRUE" } else { "FALSE" }
        );
        assert!(
            answers.lines().any(|line| line == expected),
            "expected {expected:?} in:\n{answers}"
        );
    }
}
