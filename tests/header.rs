//! The checked-in C header must be exactly what cbindgen generates from the current source.

use std::path::Path;

#[test]
fn checked_in_header_is_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("reading cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(root)
        .with_config(config)
        .generate()
        .expect("cbindgen failed to generate the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).expect("header is UTF-8");
    let path = root.join("include/s3os.h");
    if std::env::var_os("S3OS_BLESS_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("writing include/s3os.h");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "include/s3os.h is stale; regenerate it with: S3OS_BLESS_HEADER=1 cargo test --release --test header"
    );
}
