#![allow(dead_code)] // each test binary uses part of the support code.
//! Shared by the integration tests: a real server, and thin wrappers that call the C ABI.

pub mod child;
pub mod credentials;
pub mod forward_proxy;
pub mod memory;
pub mod moto;
pub mod native;
pub mod proxy;
pub mod server;
pub mod tls;

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use s3os::capi::*;
pub use server::{LocalS3, ACCESS_KEY, BUCKET, SECRET_KEY};

pub const MIB: usize = 1024 * 1024;

/// A fresh directory under the target's temporary area.
pub fn scratch(name: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "{name}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A server on its own data directory.
pub fn server() -> LocalS3 {
    LocalS3::start(&scratch("server"), 0)
}

/// Deterministic, non-repeating bytes (so a misplaced range shows up as a mismatch).
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

pub fn write_file(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    path
}

pub fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

pub fn last_error() -> String {
    unsafe { CStr::from_ptr(s3os_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// The outcome of a C call: its status and, on failure, the thread's last error.
pub fn outcome(status: s3os_status) -> Result<(), (s3os_status, String)> {
    if status == s3os_status::S3OS_OK {
        assert_eq!(last_error(), "", "last error must be empty after S3OS_OK");
        Ok(())
    } else {
        let message = last_error();
        assert!(!message.is_empty(), "{status:?} without a message");
        Err((status, message))
    }
}

/// A store created through the C ABI; freed on drop.
pub struct CStore(pub *mut s3os_store);

// The C contract: a store may be used from many threads at once.
unsafe impl Send for CStore {}
unsafe impl Sync for CStore {}

impl Drop for CStore {
    fn drop(&mut self) {
        unsafe { s3os_store_free(self.0) }
    }
}

/// Settings that every test store shares: the server's endpoint and credentials.
pub fn base_settings(server: &LocalS3) -> Vec<(String, String)> {
    settings_for(&server.endpoint())
}

/// [`base_settings`] for the server at `endpoint`.
pub fn settings_for(endpoint: &str) -> Vec<(String, String)> {
    [
        ("endpoint_url", endpoint.to_string()),
        ("region_name", "us-east-1".to_string()),
        ("aws_access_key_id", ACCESS_KEY.to_string()),
        ("aws_secret_access_key", SECRET_KEY.to_string()),
        ("multipart_threshold", "8MiB".to_string()),
        ("multipart_chunksize", "5MiB".to_string()),
        ("max_concurrency", "4".to_string()),
        ("connect_timeout", "5".to_string()),
        ("read_timeout", "20".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Creates a store for `bucket` with `settings` (later ones win).
pub fn store_with(
    bucket: &str,
    settings: &[(String, String)],
) -> Result<CStore, (s3os_status, String)> {
    unsafe {
        let cfg = s3os_config_new(c(bucket).as_ptr());
        assert!(!cfg.is_null(), "{}", last_error());
        for (key, value) in settings {
            let status = s3os_config_set(cfg, c(key).as_ptr(), c(value).as_ptr());
            assert_eq!(
                status,
                s3os_status::S3OS_OK,
                "{key}={value}: {}",
                last_error()
            );
        }
        let mut store = std::ptr::null_mut();
        let status = s3os_store_new(cfg, &mut store);
        s3os_config_free(cfg);
        outcome(status).map(|()| CStore(store))
    }
}

pub fn store(server: &LocalS3, extra: &[(&str, &str)]) -> CStore {
    let mut settings = base_settings(server);
    settings.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    store_with(BUCKET, &settings).expect("creating a store")
}

/// Records every progress report; optionally cancels once `cancel_after` bytes were reported.
#[derive(Default)]
pub struct ProgressLog {
    pub calls: Vec<(u64, u64)>,
    pub cancel_after: Option<u64>,
}

pub unsafe extern "C" fn record_progress(done: u64, total: u64, user_data: *mut c_void) -> c_int {
    let log = unsafe { &mut *(user_data as *mut ProgressLog) };
    log.calls.push((done, total));
    c_int::from(log.cancel_after.is_some_and(|limit| done >= limit))
}

impl ProgressLog {
    /// Checks the contract: never decreasing, constant total, last report at the total.
    pub fn assert_complete(&self, total: u64) {
        assert!(!self.calls.is_empty(), "no progress reported");
        assert!(
            self.calls.windows(2).all(|w| w[0].0 <= w[1].0),
            "progress went backwards: {:?}",
            self.calls
        );
        assert!(
            self.calls.iter().all(|&(_, t)| t == total),
            "total changed: {:?}",
            self.calls
        );
        assert_eq!(self.calls.last().copied(), Some((total, total)));
    }
}

/// The callback and user data that record into `log`, or none.
fn progress_args(log: Option<&mut ProgressLog>) -> (s3os_progress_fn, *mut c_void) {
    match log {
        Some(log) => (
            Some(record_progress),
            log as *mut ProgressLog as *mut c_void,
        ),
        None => (None, std::ptr::null_mut()),
    }
}

impl CStore {
    pub fn upload(&self, name: &str, path: &Path) -> Result<(), (s3os_status, String)> {
        self.upload_with(name, path, None)
    }

    pub fn upload_logged(
        &self,
        name: &str,
        path: &Path,
        log: &mut ProgressLog,
    ) -> Result<(), (s3os_status, String)> {
        self.upload_with(name, path, Some(log))
    }

    fn upload_with(
        &self,
        name: &str,
        path: &Path,
        log: Option<&mut ProgressLog>,
    ) -> Result<(), (s3os_status, String)> {
        let (callback, user_data) = progress_args(log);
        let status = unsafe {
            s3os_upload_file(
                self.0,
                c(name).as_ptr(),
                c(path.to_str().unwrap()).as_ptr(),
                callback,
                user_data,
            )
        };
        outcome(status)
    }

    pub fn download(
        &self,
        name: &str,
        path: &Path,
        overwrite: bool,
    ) -> Result<(), (s3os_status, String)> {
        self.download_with(name, path, overwrite, None)
    }

    pub fn download_logged(
        &self,
        name: &str,
        path: &Path,
        overwrite: bool,
        log: &mut ProgressLog,
    ) -> Result<(), (s3os_status, String)> {
        self.download_with(name, path, overwrite, Some(log))
    }

    fn download_with(
        &self,
        name: &str,
        path: &Path,
        overwrite: bool,
        log: Option<&mut ProgressLog>,
    ) -> Result<(), (s3os_status, String)> {
        let (callback, user_data) = progress_args(log);
        let status = unsafe {
            s3os_download_file(
                self.0,
                c(name).as_ptr(),
                c(path.to_str().unwrap()).as_ptr(),
                overwrite,
                callback,
                user_data,
            )
        };
        outcome(status)
    }

    pub fn size(&self, name: &str) -> Result<u64, (s3os_status, String)> {
        let mut size = u64::MAX;
        let status = unsafe { s3os_object_size(self.0, c(name).as_ptr(), &mut size) };
        outcome(status).map(|()| size)
    }

    pub fn delete(&self, name: &str) -> Result<(), (s3os_status, String)> {
        outcome(unsafe { s3os_delete_object(self.0, c(name).as_ptr()) })
    }

    pub fn uri(&self, name: &str) -> String {
        let mut out: *mut c_char = std::ptr::null_mut();
        outcome(unsafe { s3os_get_uri(self.0, c(name).as_ptr(), &mut out) }).unwrap();
        let uri = unsafe { CStr::from_ptr(out) }.to_str().unwrap().to_string();
        unsafe { s3os_string_free(out) };
        uri
    }

    pub fn list(&self, prefix: Option<&str>) -> Result<Vec<(String, u64)>, (s3os_status, String)> {
        unsafe extern "C" fn collect(
            name: *const c_char,
            size: u64,
            user_data: *mut c_void,
        ) -> c_int {
            let out = unsafe { &mut *(user_data as *mut Vec<(String, u64)>) };
            out.push((
                unsafe { CStr::from_ptr(name) }
                    .to_str()
                    .unwrap()
                    .to_string(),
                size,
            ));
            0
        }
        let mut found: Vec<(String, u64)> = Vec::new();
        let prefix = prefix.map(c);
        let status = unsafe {
            s3os_list_objects(
                self.0,
                prefix.as_ref().map_or(std::ptr::null(), |p| p.as_ptr()),
                Some(collect),
                &mut found as *mut _ as *mut c_void,
            )
        };
        outcome(status).map(|()| found)
    }
}

/// Files in `dir` whose names mark them as s3os temporaries.
pub fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.ends_with(".tmp"))
                .collect()
        })
        .unwrap_or_default()
}
