//! A local S3-compatible server for the demo and for trying s3os without an AWS account.
//!
//! Usage: `cargo run --release --example local_s3_server -- <data-dir> [port] [--tls <dir>]`
//! Prints `endpoint=...`, `bucket=...` and the credentials as `key=value` lines once it accepts
//! connections on 127.0.0.1, then serves until it is killed. With `--tls <dir>` it also serves
//! HTTPS, with a certificate for localhost from a certificate authority made at start, whose
//! certificate it writes to `<dir>/ca.pem`; it then first prints `https_endpoint=...` and
//! `ca_bundle=...` (what a client must trust).

#[path = "../tests/support/server.rs"]
mod server;
#[allow(dead_code)] // the server uses the TLS front only
#[path = "../tests/support/tls.rs"]
mod tls;

use std::io::Write;
use std::path::PathBuf;

fn usage() -> ! {
    eprintln!("usage: local_s3_server <data-dir> [port] [--tls <dir>]");
    std::process::exit(2);
}

fn main() {
    let mut positional = Vec::new();
    let mut tls_dir: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--tls" {
            tls_dir = Some(args.next().unwrap_or_else(|| usage()).into());
        } else {
            positional.push(arg);
        }
    }
    let Some(root) = positional.first() else {
        usage()
    };
    let port = positional
        .get(1)
        .map_or(0, |p| p.parse().expect("port must be a number"));
    let server = server::LocalS3::start(std::path::Path::new(root), port);
    let https = tls_dir.map(|dir| {
        std::fs::create_dir_all(&dir).expect("creating the TLS directory");
        let ca = tls::TestCa::new();
        let bundle = ca.write_bundle(&dir.join("ca.pem"));
        let front = tls::Front::tls(server.addr, ca.issue(&["localhost", "127.0.0.1"], false));
        println!("https_endpoint={}", front.endpoint("localhost"));
        println!("ca_bundle={}", bundle.display());
        front
    });
    println!("endpoint={}", server.endpoint());
    println!("bucket={}", server::BUCKET);
    println!("aws_access_key_id={}", server::ACCESS_KEY);
    println!("aws_secret_access_key={}", server::SECRET_KEY);
    std::io::stdout().flush().expect("stdout");
    let _serving = (server, https);
    loop {
        std::thread::park();
    }
}
