//! Arbitrary bytes as bucket, configuration keys and values, and object names, through the C
//! ABI and the engine's name rules: every call must answer with a status (and a message when it
//! fails), a rejected value must change nothing, and nothing may crash. No network is touched.
#![no_main]

use std::ffi::{CStr, CString};

use libfuzzer_sys::fuzz_target;
use s3os::capi::*;
use s3os::config::MAX_KEY_LEN;

/// Splits the input at 0xFF bytes into NUL-free C strings (invalid UTF-8 included).
fn fields(data: &[u8]) -> Vec<CString> {
    data.split(|&b| b == 0xFF)
        .map(|part| CString::new(part.iter().map(|&b| b.max(1)).collect::<Vec<u8>>()).unwrap())
        .collect()
}

fn check_message(status: s3os_status) {
    let message = unsafe { CStr::from_ptr(s3os_last_error()) };
    assert_eq!(status == s3os_status::S3OS_OK, message.to_bytes().is_empty());
}

fuzz_target!(|data: &[u8]| {
    let fields = fields(data);
    let Some((bucket, rest)) = fields.split_first() else { return };
    unsafe {
        let cfg = s3os_config_new(bucket.as_ptr());
        if cfg.is_null() {
            assert!(!CStr::from_ptr(s3os_last_error()).to_bytes().is_empty());
        } else {
            for pair in rest.chunks(2) {
                let value = pair.get(1).map_or(std::ptr::null(), |v| v.as_ptr());
                check_message(s3os_config_set(cfg, pair[0].as_ptr(), value));
            }
            s3os_config_free(cfg);
        }
    }

    let Ok(mut config) = s3os::Config::new("bucket") else { return };
    for pair in fields.chunks(2) {
        if let (Ok(key), Some(Ok(value))) = (pair[0].to_str(), pair.get(1).map(|v| v.to_str())) {
            let before = config.clone();
            if config.set(key, value).is_err() {
                assert_eq!(config, before, "a rejected value must change nothing");
            }
        }
    }
    assert!(!config.prefix.starts_with('/') && (config.prefix.is_empty() || config.prefix.ends_with('/')));
    for name in fields.iter().filter_map(|n| n.to_str().ok()) {
        match config.key_for(name) {
            Ok(key) => {
                assert!(key.len() <= MAX_KEY_LEN && key.ends_with(name) && !key.is_empty());
                assert_eq!(config.uri_for(name), format!("s3://bucket/{key}"));
            }
            Err(err) => assert!(!err.message().is_empty()),
        }
    }
});
