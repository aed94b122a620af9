//! An object over 4 GiB, so no size or offset anywhere is truncated to 32 bits.

mod support;

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::Path;

use support::*;

const LEN: u64 = 4 * 1024 * 1024 * 1024 + 3 * 1024 * 1024 + 17;
const BLOCK: usize = 8 * MIB;

/// Writes LEN bytes in which every 8-byte word encodes its own offset, so a range written at the
/// wrong place cannot go unnoticed.
fn write_numbered(path: &Path) {
    let mut file = std::io::BufWriter::new(File::create(path).unwrap());
    let mut block = vec![0u8; BLOCK];
    let mut offset = 0u64;
    while offset < LEN {
        let n = BLOCK.min((LEN - offset) as usize);
        for (i, word) in block[..n].chunks_mut(8).enumerate() {
            let value = (offset + 8 * i as u64).to_le_bytes();
            word.copy_from_slice(&value[..word.len()]);
        }
        file.write_all(&block[..n]).unwrap();
        offset += n as u64;
    }
    file.flush().unwrap();
}

fn same_contents(a: &Path, b: &Path) -> bool {
    let (mut a, mut b) = (
        BufReader::new(File::open(a).unwrap()),
        BufReader::new(File::open(b).unwrap()),
    );
    let (mut x, mut y) = (vec![0u8; BLOCK], vec![0u8; BLOCK]);
    loop {
        let n = a.read(&mut x).unwrap();
        if n == 0 {
            return b.read(&mut y).unwrap() == 0;
        }
        if b.read_exact(&mut y[..n]).is_err() || x[..n] != y[..n] {
            return false;
        }
    }
}

#[test]
fn objects_over_4_gib_round_trip() {
    let server = server();
    // The test server rereads and hashes all 4 GiB before it answers the completion, which on
    // a busy 2-core machine can outlast the suite's usual 20 s read timeout (boto3's is 60 s).
    let store = store(
        &server,
        &[
            ("multipart_chunksize", "64MiB"),
            ("max_concurrency", "4"),
            ("read_timeout", "180"),
        ],
    );
    let dir = scratch("large");
    let source = dir.join("big.bin");
    write_numbered(&source);
    let mut up = ProgressLog::default();
    store.upload_logged("big.bin", &source, &mut up).unwrap();
    up.assert_complete(LEN);
    assert_eq!(store.size("big.bin").unwrap(), LEN);
    store.delete("unrelated").unwrap();
    let target = dir.join("big.down");
    let mut down = ProgressLog::default();
    store
        .download_logged("big.bin", &target, false, &mut down)
        .unwrap();
    down.assert_complete(LEN);
    assert_eq!(std::fs::metadata(&target).unwrap().len(), LEN);
    assert!(same_contents(&source, &target), "downloaded bytes differ");
    let server_data = server.root.clone();
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(server_data);
}
