#![allow(dead_code)] // each test binary uses part of the support code.
//! The C example (examples/c/roundtrip.c) run as a child process with an environment of the
//! test's making: the way to test what s3os reads from the environment (proxy variables,
//! `AWS_CA_BUNDLE`, the AWS credential chain, `S3OS_LOG`) without touching the environment
//! of the test binary, whose other tests run at the same time.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use super::native::{build, library_dir, runtime_library_dir};
use super::scratch;

/// The C example, built once per test binary.
pub fn roundtrip_program() -> &'static Path {
    static PROGRAM: OnceLock<PathBuf> = OnceLock::new();
    PROGRAM.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        build(
            &std::env::var("CC").unwrap_or_else(|_| "cc".into()),
            &root.join("examples/c/roundtrip.c"),
            &[
                "-std=c11".into(),
                "-D_POSIX_C_SOURCE=200809L".into(),
                "-Wall".into(),
                "-Werror".into(),
                format!("-I{}", root.join("include").display()),
                format!("-L{}", library_dir().display()),
                format!("-Wl,-rpath,{}", runtime_library_dir().display()),
                "-ls3os".into(),
            ],
            "roundtrip",
        )
    })
}

/// What a run of the example printed and how it ended.
pub struct Run {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Fails the test unless the example verified its round trip.
    pub fn expect_verified(&self) -> &Run {
        assert!(
            self.success && self.stdout.contains("verified "),
            "the example failed:\nstdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Fails the test unless the example failed; returns its error line.
    pub fn expect_failure(&self) -> String {
        assert!(
            !self.success,
            "the example succeeded:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self.stderr
            .lines()
            .find(|line| line.contains(" failed: S3OS_"))
            .unwrap_or_else(|| panic!("no error line in:\n{}", self.stderr))
            .to_string()
    }
}

/// A child's environment: nothing of the test's own except PATH, and `S3OS_LOG` with
/// `S3OS_LOG_FILE` (so that the log of a test run covers its children too); HOME is an empty
/// scratch directory (no ~/.aws), instance metadata is off and nothing goes through a proxy
/// unless a test says otherwise.
pub struct Environment {
    vars: Vec<(String, String)>,
    pub home: PathBuf,
}

impl Environment {
    pub fn new() -> Environment {
        let home = scratch("child-home");
        let mut environment = Environment {
            vars: Vec::new(),
            home: home.clone(),
        };
        environment
            .set("PATH", &std::env::var("PATH").unwrap_or_default())
            .set("HOME", home.to_str().unwrap())
            .set("AWS_EC2_METADATA_DISABLED", "true");
        for inherited in ["S3OS_PYTHON", "S3OS_LOG", "S3OS_LOG_FILE"] {
            if let Ok(value) = std::env::var(inherited) {
                environment.set(inherited, &value);
            }
        }
        environment
    }

    /// Sets (or replaces) `name`.
    pub fn set(&mut self, name: &str, value: &str) -> &mut Environment {
        self.vars.retain(|(n, _)| n != name);
        self.vars.push((name.to_string(), value.to_string()));
        self
    }

    /// Removes `name`.
    pub fn unset(&mut self, name: &str) -> &mut Environment {
        self.vars.retain(|(n, _)| n != name);
        self
    }

    /// Runs the example: uploads `file` as `object`, downloads and compares it, with the
    /// `key=value` `settings`.
    pub fn roundtrip(&self, file: &Path, object: &str, settings: &[String]) -> Run {
        let mut command = Command::new(roundtrip_program());
        command
            .arg(super::BUCKET)
            .arg(file)
            .arg(object)
            .args(settings)
            .env_clear()
            .envs(self.vars.iter().map(|(k, v)| (k, v)));
        let Output {
            status,
            stdout,
            stderr,
        } = command.output().expect("running the C example");
        Run {
            success: status.success(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }
}

/// `key=value` arguments for the example.
pub fn args(settings: &[(&str, &str)]) -> Vec<String> {
    settings.iter().map(|(k, v)| format!("{k}={v}")).collect()
}
