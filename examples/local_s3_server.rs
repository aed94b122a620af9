//! A local S3-compatible server for the demo and for trying s3os without an AWS account.
//!
//! Usage: `cargo run --release --example local_s3_server -- <data-dir> [port]`
//! Prints `endpoint=...`, `bucket=...` and the credentials as `key=value` lines once it accepts
//! connections on 127.0.0.1, then serves until it is killed.

#[path = "../tests/support/server.rs"]
mod server;

use std::io::Write;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(root) = args.next() else {
        eprintln!("usage: local_s3_server <data-dir> [port]");
        std::process::exit(2);
    };
    let port = args
        .next()
        .map_or(0, |p| p.parse().expect("port must be a number"));
    let server = server::LocalS3::start(std::path::Path::new(&root), port);
    println!("endpoint={}", server.endpoint());
    println!("bucket={}", server::BUCKET);
    println!("aws_access_key_id={}", server::ACCESS_KEY);
    println!("aws_secret_access_key={}", server::SECRET_KEY);
    std::io::stdout().flush().expect("stdout");
    let _serving = server;
    loop {
        std::thread::park();
    }
}
