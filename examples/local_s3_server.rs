//! A local S3-compatible server for the demo and for trying s3os without an AWS account.
//!
//! Usage: `cargo run --release --example local_s3_server -- <data-dir> [port]`
//! Prints `endpoint=http://127.0.0.1:<port>` once it accepts connections, then serves until
//! its standard input closes or it is killed. Credentials and bucket are fixed (see below).

#[path = "../tests/support/server.rs"]
mod server;

use std::io::{BufRead, Write};

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
    // Serve until the parent closes our stdin (or kills us).
    for line in std::io::stdin().lock().lines() {
        if line.is_err() {
            break;
        }
    }
    drop(server);
}
