//! The exported C API. Every function converts its arguments through `ffi` and calls the
//! engine; nothing here decides behaviour.
#![allow(non_camel_case_types, clippy::missing_safety_doc)]

use std::ffi::{c_char, c_int, c_void, CString};
use std::path::PathBuf;

use crate::config::Config;
use crate::error::Error;
use crate::ffi::{
    self, arg_opt_str, arg_out, arg_ref, arg_str, call_pointer, call_status, call_void,
};
use crate::runtime;
pub use crate::status::s3os_status;
use crate::store::{Listing, Store};
use crate::transfer::Transfer;

mod memory;
mod streams;
pub use memory::*;
pub use streams::*;

mod batch;
mod transfer;
pub use batch::*;
pub use transfer::*;
mod logging;
pub use logging::*;

/// The major version of the library this header describes. With the minor and patch numbers
/// and `S3OS_VERSION_STRING` it lets a program compare, at compile time, the header it was
/// built with against what `s3os_version()` reports at run time.
pub const S3OS_VERSION_MAJOR: u32 = 0;
/// The minor version of the library this header describes.
pub const S3OS_VERSION_MINOR: u32 = 1;
/// The patch version of the library this header describes.
pub const S3OS_VERSION_PATCH: u32 = 0;

// cbindgen copies the constants above as written, so they are literals; this stops the build
// when Cargo.toml's version moves without them. The header spells S3OS_VERSION_STRING from
// the three numbers (cbindgen.toml), which leaves no room for a pre-release suffix.
const _: () = {
    assert!(S3OS_VERSION_MAJOR == parse_version_number(env!("CARGO_PKG_VERSION_MAJOR")));
    assert!(S3OS_VERSION_MINOR == parse_version_number(env!("CARGO_PKG_VERSION_MINOR")));
    assert!(S3OS_VERSION_PATCH == parse_version_number(env!("CARGO_PKG_VERSION_PATCH")));
    assert!(
        env!("CARGO_PKG_VERSION_PRE").is_empty(),
        "S3OS_VERSION_STRING cannot carry a pre-release suffix"
    );
};

const fn parse_version_number(digits: &str) -> u32 {
    let digits = digits.as_bytes();
    assert!(!digits.is_empty());
    let mut value = 0;
    let mut at = 0;
    while at < digits.len() {
        assert!(digits[at].is_ascii_digit());
        value = value * 10 + (digits[at] - b'0') as u32;
        at += 1;
    }
    value
}

/// A store configuration being built: create with `s3os_config_new`, adjust with
/// `s3os_config_set`, release with `s3os_config_free`.
pub struct s3os_config {
    config: Config,
}

/// A connected store; safe to use from many threads at once. Release with `s3os_store_free`
/// once no call on it is running (background transfers may still be: it cancels them).
pub struct s3os_store {
    store: Store,
    /// The background transfers started on this store, cancelled by `s3os_store_free`.
    transfers: transfer::Registry,
}

/// Progress of a transfer: called on the calling thread with the bytes moved so far (never
/// decreasing) and the object's total; the last call on success has `bytes_done == bytes_total`.
/// Return 0 to continue, nonzero to cancel (the call then returns `S3OS_CANCELLED`).
pub type s3os_progress_fn = Option<
    unsafe extern "C" fn(bytes_done: u64, bytes_total: u64, user_data: *mut c_void) -> c_int,
>;

/// One listed object: its name relative to the store's prefix (valid only during the call)
/// and its size. Return 0 to continue, nonzero to stop the listing early.
pub type s3os_list_fn = Option<
    unsafe extern "C" fn(object_name: *const c_char, size: u64, user_data: *mut c_void) -> c_int,
>;

/// Creates a configuration for `bucket` (leading and trailing `/` are removed) with
/// Composer's defaults. Returns NULL if `bucket` is NULL, not UTF-8 or not a valid name;
/// `s3os_last_error()` says which.
#[no_mangle]
pub unsafe extern "C" fn s3os_config_new(bucket: *const c_char) -> *mut s3os_config {
    call_pointer(|| {
        let bucket = unsafe { arg_str(bucket, "bucket") }?;
        Ok(ffi::into_raw(s3os_config {
            config: Config::new(bucket)?,
        }))
    })
}

/// Sets configuration `key` to `value`. Keys: prefix, region_name, endpoint_url,
/// aws_access_key_id, aws_secret_access_key, aws_session_token, profile_name,
/// addressing_style (auto|path|virtual), max_attempts, retry_mode (standard|adaptive),
/// connect_timeout and read_timeout (seconds), multipart_threshold and multipart_chunksize
/// (bytes, or with KiB/MiB/GiB), max_concurrency, request_checksum_calculation and
/// response_checksum_validation (when_supported|when_required), multipart_checksum_type
/// (full_object|composite), canned_acl, payload_signing (auto|always|never: whether upload
/// bodies are covered by the signature; auto signs over http://, and over https:// when
/// certificates are not verified), fsync_downloads (true|false: flush downloaded files to
/// stable storage before and after the rename), max_objects_in_flight (objects moved at once
/// by the many-object calls, 1-1024), confirm_size_with_head (true|false: a HEAD confirms the
/// size of a download that comes in one GET without a checksum), ca_bundle (path of a PEM file
/// whose certificates are then the only trusted roots; default: the `AWS_CA_BUNDLE`
/// environment variable, else the system's authorities), verify_tls (true|false; false accepts
/// any certificate for any host name: INSECURE, for development stores only), proxy_url
/// (http://[user:password@]host:port for every request, overriding `HTTPS_PROXY`,
/// `HTTP_PROXY` and `ALL_PROXY`; `none` disables proxies; default: those variables, as curl
/// reads them), no_proxy (comma-separated hosts, domains and networks reached directly,
/// overriding `NO_PROXY`).
/// An unknown key or bad value returns `S3OS_INVALID_ARGUMENT` and leaves `cfg` unchanged.
#[no_mangle]
pub unsafe extern "C" fn s3os_config_set(
    cfg: *mut s3os_config,
    key: *const c_char,
    value: *const c_char,
) -> s3os_status {
    call_status(|| {
        let cfg = unsafe { arg_out(cfg, "cfg") }?;
        let key = unsafe { arg_str(key, "key") }?;
        let value = unsafe { arg_str(value, "value") }?;
        cfg.config.set(key, value)
    })
}

/// Releases a configuration. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn s3os_config_free(cfg: *mut s3os_config) {
    call_void(|| unsafe { ffi::free_raw(cfg) })
}

/// Creates a store from `cfg` (which stays owned by the caller and may be freed right after).
/// Credentials and region not set in `cfg` come from the standard AWS chain: environment
/// variables (skipped when `profile_name` is set, as in boto3), the profile of the shared
/// config and credentials files (static keys, credential_process, SSO, roles), a web identity
/// token, the ECS container endpoint, EC2 instance metadata; credentials that expire are
/// fetched again before they do. A CA bundle that cannot be read returns
/// `S3OS_INVALID_ARGUMENT`. On success `*out_store` receives the store; on failure it is set
/// to NULL.
#[no_mangle]
pub unsafe extern "C" fn s3os_store_new(
    cfg: *const s3os_config,
    out_store: *mut *mut s3os_store,
) -> s3os_status {
    call_status(|| {
        let out_store = unsafe { arg_out(out_store, "out_store") }?;
        *out_store = std::ptr::null_mut();
        let config = unsafe { arg_ref(cfg, "cfg") }?.config.clone();
        let store = runtime::block_on(Store::connect(config))?;
        *out_store = ffi::into_raw(s3os_store {
            store,
            transfers: transfer::Registry::default(),
        });
        Ok(())
    })
}

/// Releases a store and its connections. NULL is ignored. No call may be running on it; its
/// background transfers still running are cancelled, and this returns once each has cleaned
/// up (their handles stay valid: `s3os_transfer_wait` then reports `S3OS_CANCELLED`, and each
/// must still be freed with `s3os_transfer_free`).
#[no_mangle]
pub unsafe extern "C" fn s3os_store_free(store: *mut s3os_store) {
    call_void(|| {
        // SAFETY: by the contract above, NULL or a live store no other call is using.
        if let Some(store) = unsafe { store.as_ref() } {
            store.transfers.cancel_all_and_wait();
        }
        unsafe { ffi::free_raw(store) }
    })
}

pub(crate) fn progress_reporter(
    progress: s3os_progress_fn,
    user_data: *mut c_void,
) -> impl FnMut(u64, u64) -> bool {
    move |done, total| match progress {
        // SAFETY: the caller supplied this callback and its user_data for the duration of the call.
        Some(callback) => (unsafe { callback(done, total, user_data) }) == 0,
        None => true,
    }
}

/// Waits for `transfer` on this thread, running `progress` (if any) as its counters change.
pub(crate) fn wait_reporting(
    transfer: Transfer,
    progress: s3os_progress_fn,
    user_data: *mut c_void,
) -> crate::Result<()> {
    match progress {
        None => transfer.wait_quietly(),
        Some(_) => transfer.wait(progress_reporter(progress, user_data)),
    }
}

/// Uploads the file at `path` as object `object_name` (relative to the store's prefix).
/// Large files go up in concurrent parts; a failed or cancelled multipart upload is aborted
/// on the server. `progress` may be NULL.
#[no_mangle]
pub unsafe extern "C" fn s3os_upload_file(
    store: *mut s3os_store,
    object_name: *const c_char,
    path: *const c_char,
    progress: s3os_progress_fn,
    user_data: *mut c_void,
) -> s3os_status {
    call_status(|| {
        let store = unsafe { arg_ref(store, "store") }?.store.clone();
        let name = unsafe { arg_str(object_name, "object_name") }?.to_string();
        let path = PathBuf::from(unsafe { arg_str(path, "path") }?);
        let transfer =
            Transfer::start(move |p| async move { store.upload_file(&name, &path, p).await })?;
        wait_reporting(transfer, progress, user_data)
    })
}

/// Downloads object `object_name` to the file at `path`, creating missing parent directories.
/// The bytes land in a temporary file beside `path` (`<path>.<16 hex digits>.s3os.tmp`) that
/// is flushed to stable storage and renamed into place only after every byte arrived and was
/// verified; on failure neither remains (a process killed meanwhile leaves the temporary: the
/// `.s3os.tmp` suffix marks it for cleanup). If `path` exists and `overwrite` is false, returns
/// `S3OS_ALREADY_EXISTS` before any request, and also if a file appears there during the
/// download. `progress` may be NULL.
#[no_mangle]
pub unsafe extern "C" fn s3os_download_file(
    store: *mut s3os_store,
    object_name: *const c_char,
    path: *const c_char,
    overwrite: bool,
    progress: s3os_progress_fn,
    user_data: *mut c_void,
) -> s3os_status {
    call_status(|| {
        let store = unsafe { arg_ref(store, "store") }?.store.clone();
        let name = unsafe { arg_str(object_name, "object_name") }?.to_string();
        let path = PathBuf::from(unsafe { arg_str(path, "path") }?);
        let transfer = Transfer::start(move |p| async move {
            store.download_file(&name, &path, overwrite, p).await
        })?;
        wait_reporting(transfer, progress, user_data)
    })
}

/// Stores the size in bytes of object `object_name` in `*out_size`.
#[no_mangle]
pub unsafe extern "C" fn s3os_object_size(
    store: *mut s3os_store,
    object_name: *const c_char,
    out_size: *mut u64,
) -> s3os_status {
    call_status(|| {
        let out_size = unsafe { arg_out(out_size, "out_size") }?;
        let store = unsafe { arg_ref(store, "store") }?.store.clone();
        let name = unsafe { arg_str(object_name, "object_name") }?.to_string();
        *out_size = runtime::block_on(async move { store.object_size(&name).await })?;
        Ok(())
    })
}

/// Stores `s3://<bucket>/<prefix><object_name>` in `*out_uri`; free it with `s3os_string_free`.
/// `*out_uri` is set to NULL on failure.
#[no_mangle]
pub unsafe extern "C" fn s3os_get_uri(
    store: *mut s3os_store,
    object_name: *const c_char,
    out_uri: *mut *mut c_char,
) -> s3os_status {
    call_status(|| {
        let out_uri = unsafe { arg_out(out_uri, "out_uri") }?;
        *out_uri = std::ptr::null_mut();
        let store = unsafe { arg_ref(store, "store") }?;
        let name = unsafe { arg_str(object_name, "object_name") }?;
        *out_uri = ffi::into_c_string(store.store.uri(name))?;
        Ok(())
    })
}

/// Deletes object `object_name`. As in S3, deleting an object that does not exist succeeds.
#[no_mangle]
pub unsafe extern "C" fn s3os_delete_object(
    store: *mut s3os_store,
    object_name: *const c_char,
) -> s3os_status {
    call_status(|| {
        let store = unsafe { arg_ref(store, "store") }?.store.clone();
        let name = unsafe { arg_str(object_name, "object_name") }?.to_string();
        runtime::block_on(async move { store.delete_object(&name).await })
    })
}

/// Calls `callback` on this thread for every object whose name (relative to the store's
/// prefix) starts with `prefix`, in key order. A NULL `prefix` lists everything. A nonzero
/// return from `callback` stops the listing; the call still returns `S3OS_OK`. A server that
/// hands out a continuation token a second time, or says a page is truncated without giving
/// one, fails the listing with `S3OS_INTERNAL` (an answer s3os cannot go on from; retrying
/// would meet the same answers) after the objects of the pages before.
#[no_mangle]
pub unsafe extern "C" fn s3os_list_objects(
    store: *mut s3os_store,
    prefix: *const c_char,
    callback: s3os_list_fn,
    user_data: *mut c_void,
) -> s3os_status {
    call_status(|| {
        let store = unsafe { arg_ref(store, "store") }?.store.clone();
        let prefix = unsafe { arg_opt_str(prefix, "prefix") }?
            .unwrap_or("")
            .to_string();
        let callback = callback.ok_or_else(|| Error::invalid("callback: must not be NULL"))?;
        let mut listing = Listing::new(&prefix);
        loop {
            let store = store.clone();
            let (page, rest) = runtime::block_on(async move {
                let page = listing.next_page(&store).await;
                Ok((page, listing))
            })?;
            listing = rest;
            let Some(page) = page? else {
                return Ok(());
            };
            for (name, size) in page {
                let name = CString::new(name)
                    .map_err(|_| Error::invalid("listing: an object name contains a NUL byte"))?;
                // SAFETY: the caller supplied this callback and user_data for the duration of the call.
                if unsafe { callback(name.as_ptr(), size, user_data) } != 0 {
                    return Ok(());
                }
            }
        }
    })
}

/// The message of the last failed s3os call on this thread, or "" if the last call succeeded.
/// Valid until the next s3os call on this thread; never NULL; never contains credentials.
#[no_mangle]
pub extern "C" fn s3os_last_error() -> *const c_char {
    ffi::last_error()
}

/// The name of a status code ("S3OS_NOT_FOUND", ...), or "S3OS_UNKNOWN_STATUS" for a value that
/// is not one. Takes an `int` so that any value is safe to pass; never NULL.
#[no_mangle]
pub extern "C" fn s3os_status_name(status: c_int) -> *const c_char {
    s3os_status::name_of(status).as_ptr()
}

/// The library version, e.g. "0.1.0": the `S3OS_VERSION_STRING` of the header it was built
/// with. Never NULL.
#[no_mangle]
pub extern "C" fn s3os_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Frees a string returned by s3os (such as from `s3os_get_uri`). NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn s3os_string_free(s: *mut c_char) {
    call_void(|| unsafe { ffi::free_c_string(s) })
}
