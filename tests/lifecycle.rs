//! What a store holds is released when it is freed, and nothing it prints shows credentials.

mod support;

use std::time::{Duration, Instant};

use support::*;

/// Established client-side TCP connections (any process in this network namespace) to `port`.
fn connections_to(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap()
        + &std::fs::read_to_string("/proc/net/tcp6").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let remote_port = fields
                .get(2)
                .and_then(|r| r.rsplit(':').next())
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            remote_port == Some(port) && fields.get(3) == Some(&"01")
        })
        .count()
}

#[test]
fn freeing_a_store_closes_its_connections() {
    let server = server();
    let port = server.addr.port();
    let dir = scratch("free");
    let store = store(&server, &[]);
    let file = write_file(&dir, "f", &pattern(20 * MIB, 9));
    store.upload("a", &file).unwrap();
    store.download("a", &dir.join("a.down"), false).unwrap();
    assert!(
        connections_to(port) > 0,
        "the store should keep connections alive for reuse"
    );
    drop(store); // s3os_store_free
    let deadline = Instant::now() + Duration::from_secs(10);
    while connections_to(port) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        connections_to(port),
        0,
        "connections must close once the store is freed"
    );
}

#[test]
fn debug_output_and_errors_never_show_credentials() {
    let server = server();
    let secret = "very-secret-value-0987654321";
    let token = "session-token-value-123123";
    let mut config = s3os::Config::new(BUCKET).unwrap();
    for (key, value) in [
        ("endpoint_url", server.endpoint().as_str()),
        ("region_name", "us-east-1"),
        ("aws_access_key_id", ACCESS_KEY),
        ("aws_secret_access_key", secret),
        ("aws_session_token", token),
        ("max_attempts", "1"),
    ] {
        config.set(key, value).unwrap();
    }
    let store = s3os::runtime::block_on(s3os::Store::connect(config.clone())).unwrap();
    let shown = format!("{config:?} {store:?} {:#?}", store);
    assert!(!shown.contains(secret) && !shown.contains(token), "{shown}");
    let failure = s3os::runtime::block_on({
        let store = store.clone();
        async move { store.object_size("missing").await }
    })
    .unwrap_err();
    let text = format!("{failure} {failure:?}");
    assert!(!text.contains(secret) && !text.contains(token), "{text}");
    assert_eq!(failure.kind(), s3os::ErrorKind::PermissionDenied, "{text}");
}

/// Threads of this process that belong to the s3os runtime (workers and blocking pool).
fn s3os_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim() == "s3os-worker")
        .count()
}

#[test]
fn many_stores_come_and_go_without_piling_up_threads() {
    let server = server();
    let dir = scratch("churn");
    let file = write_file(&dir, "f", &pattern(12 * MIB, 2));
    for i in 0..20 {
        let store = store(&server, &[]);
        store.upload(&format!("o{i}"), &file).unwrap();
        store
            .download(&format!("o{i}"), &dir.join(format!("o{i}")), false)
            .unwrap();
    }
    // The shared runtime's threads are reused: at most 8 workers and 16 blocking threads.
    let threads = s3os_threads();
    assert!((1..=8 + 16).contains(&threads), "{threads} s3os threads");
}
