//! Keeps libs3os.so's exports to the `s3os_` C API. rustc exports every `#[no_mangle]`
//! function of every crate linked into a cdylib, and a dependency of the AWS SDK (crc-fast)
//! carries a C interface of its own; `--exclude-libs ALL` makes the linker keep the symbols of
//! the static archives (all dependencies) local, while s3os's own objects keep theirs.

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,--exclude-libs,ALL");
    }
}
