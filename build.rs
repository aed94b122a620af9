//! Link settings of libs3os.so.
//!
//! Exports: rustc exports every `#[no_mangle]` function of every crate linked into a cdylib,
//! and a dependency of the AWS SDK (crc-fast) carries a C interface of its own;
//! `--exclude-libs ALL` makes the linker keep the symbols of the static archives (all
//! dependencies) local, while s3os's own objects keep theirs.
//!
//! Soname: programs record it and load the library by it, so it names the ABI version. Cargo's
//! compatibility rule decides that version: `MAJOR` from 1.0 on, `0.MINOR` before (a 0.x
//! release may break its users with every minor step), giving `libs3os.so.0.1` for 0.1.z.
//! `scripts/install.sh` installs the library under that name with the usual symlinks.

fn main() {
    // Without this, cargo reruns the script, and so rebuilds the library, whenever any file of
    // the package changes (tests, examples, scripts).
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,--exclude-libs,ALL");
        println!(
            "cargo:rustc-cdylib-link-arg=-Wl,-soname,libs3os.so.{}",
            abi_version()
        );
    }
}

/// The ABI version: `MAJOR`, or `0.MINOR` while the major version is 0.
fn abi_version() -> String {
    let major = env_var("CARGO_PKG_VERSION_MAJOR");
    if major == "0" {
        format!("0.{}", env_var("CARGO_PKG_VERSION_MINOR"))
    } else {
        major
    }
}

fn env_var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("cargo sets {name} for build scripts"))
}
