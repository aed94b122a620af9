//! Programs built by the system's compilers against the library of this build: where that
//! library is, and running such programs against a test server.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::{base_settings, scratch, LocalS3};

/// The directory holding the test executables, where cargo also puts libs3os.so.
pub fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().to_path_buf();
    assert!(
        dir.join("libs3os.so").exists(),
        "libs3os.so not found in {}",
        dir.display()
    );
    dir
}

/// The soname recorded in the shared library at `library` (`readelf -d`).
pub fn soname(library: &Path) -> String {
    let output = Command::new("readelf")
        .arg("-d")
        .arg(library)
        .output()
        .expect("running readelf (binutils)");
    assert!(
        output.status.success(),
        "readelf -d {} failed",
        library.display()
    );
    let dynamic = String::from_utf8_lossy(&output.stdout);
    dynamic
        .lines()
        .find(|line| line.contains("(SONAME)"))
        .and_then(|line| Some(line.split_once('[')?.1.split_once(']')?.0.to_string()))
        .unwrap_or_else(|| panic!("no soname in {}:\n{dynamic}", library.display()))
}

/// The rpath for programs linked with `-L library_dir() -ls3os`: such a program asks for the
/// library by its soname, and cargo leaves it only under its plain name, so this directory
/// holds a link of that name to it.
pub fn runtime_library_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let library = library_dir().join("libs3os.so");
        let dir = scratch("runtime-library");
        std::os::unix::fs::symlink(&library, dir.join(soname(&library)))
            .expect("linking the library under its soname");
        dir
    })
}

/// The server's settings as the programs take them: `key=value` arguments.
pub fn settings_args(server: &LocalS3) -> Vec<String> {
    base_settings(server)
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

/// An address where nothing listens.
pub fn dead_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    format!("http://127.0.0.1:{port}")
}

/// Runs `command` (which runs `program`), requires it to succeed and returns its stdout.
pub fn run_program(command: &mut Command, program: &Path) -> String {
    // cargo points LD_LIBRARY_PATH at target/release too, where an older libs3os.so built for
    // another target may sit; the programs must load the library they were linked for.
    let output = command
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", program.display()));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{} failed ({}):\nstdout: {stdout}\nstderr: {}",
        program.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Builds `source` with `compiler` into scratch directory `name`; `args` (options and
/// libraries) follow the source. Returns the program.
pub fn build(compiler: &str, source: &Path, args: &[String], name: &str) -> PathBuf {
    let out = scratch(name).join(source.file_stem().unwrap());
    let started = std::time::Instant::now();
    let status = Command::new(compiler)
        .arg(source)
        .arg("-o")
        .arg(&out)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("running {compiler}: {e}"));
    assert!(
        status.success(),
        "{compiler} failed on {}",
        source.display()
    );
    println!(
        "{compiler}: built {} in {:.1} s",
        source.display(),
        started.elapsed().as_secs_f64()
    );
    out
}

/// Whether `program` can be run (a compiler that is installed).
pub fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}
