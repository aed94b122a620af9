//! Many objects per call: lists of files, folders, and deletions, each item with its own
//! outcome.

use std::ffi::{c_char, c_void};
use std::path::PathBuf;

use super::{s3os_progress_fn, s3os_status, s3os_store, wait_reporting};
use crate::error::{ErrorKind, Result};
use crate::ffi::{self, arg_ref, arg_str, arg_str_array, call_status};
use crate::runtime;
use crate::transfer::{ItemStatuses, Transfer};

/// The `(name, path)` pairs of two parallel arrays of `count` strings, copied.
///
/// # Safety
/// As for [`arg_str_array`], for both arrays.
pub(crate) unsafe fn pairs(
    object_names: *const *const c_char,
    paths: *const *const c_char,
    count: usize,
) -> Result<Vec<(String, PathBuf)>> {
    let names = unsafe { arg_str_array(object_names, count, "object_names") }?;
    let paths = unsafe { arg_str_array(paths, count, "paths") }?;
    Ok(names
        .into_iter()
        .zip(paths)
        .map(|(name, path)| (name.to_string(), PathBuf::from(path)))
        .collect())
}

/// The status of one item: its outcome, or `S3OS_IN_PROGRESS` while it has none.
pub(crate) fn status_of(outcome: Option<std::result::Result<(), ErrorKind>>) -> s3os_status {
    match outcome {
        None => s3os_status::S3OS_IN_PROGRESS,
        Some(Ok(())) => s3os_status::S3OS_OK,
        Some(Err(kind)) => s3os_status::of(kind),
    }
}

/// Runs a batch call whose items report to `items`, then fills `out_statuses` (if given): each
/// item its own status, or, where the call failed before the item could run (bad arguments),
/// the call's.
fn batch_call(
    out_statuses: Option<&mut [s3os_status]>,
    items: &ItemStatuses,
    body: impl FnOnce() -> Result<()>,
) -> s3os_status {
    let status = call_status(body);
    if let Some(out) = out_statuses {
        let kinds = items.kinds();
        for (index, slot) in out.iter_mut().enumerate() {
            *slot = match kinds.get(index).copied().flatten() {
                Some(kind) => status_of(Some(kind)),
                None if status != s3os_status::S3OS_OK => status,
                None => s3os_status::S3OS_INTERNAL,
            };
        }
    }
    status
}

/// Uploads `count` files: `paths[i]` as object `object_names[i]` (relative to the store's
/// prefix), with up to `max_objects_in_flight` objects in flight, each in parts as
/// `s3os_upload_file` would send it, all within one bound on the bytes in memory
/// (`max_concurrency` × `multipart_chunksize`). The arrays are read during the call only.
///
/// `out_statuses` (NULL if not wanted) receives each file's status, in order. The call returns
/// `S3OS_OK` only if every file was uploaded; otherwise the status of the first file (in the
/// arrays' order) that failed, and `s3os_last_error()` says how many failed and why that one
/// did. One file failing does not stop the others. `progress` (may be NULL) reports the bytes
/// of all files together against their total; a nonzero return cancels every upload still
/// running (each is aborted on the server) and starts no more, and the call returns
/// `S3OS_CANCELLED` once all have cleaned up. A NULL or non-UTF-8 string in either array fails
/// the whole call with `S3OS_INVALID_ARGUMENT` before anything is sent.
#[no_mangle]
pub unsafe extern "C" fn s3os_upload_files(
    store: *mut s3os_store,
    object_names: *const *const c_char,
    paths: *const *const c_char,
    count: usize,
    out_statuses: *mut s3os_status,
    progress: s3os_progress_fn,
    user_data: *mut c_void,
) -> s3os_status {
    let out = unsafe { ffi::arg_opt_out_array(out_statuses, count) };
    let items = ItemStatuses::new(count);
    let statuses = items.clone();
    batch_call(out, &items, || {
        let store = unsafe { arg_ref(store, "store") }?.store.clone();
        let files = unsafe { pairs(object_names, paths, count) }?;
        let transfer =
            Transfer::start(move |p| async move { store.upload_files(files, p, statuses).await })?;
        wait_reporting(transfer, progress, user_data)
    })
}

/// Downloads `count` objects: `object_names[i]` to the file `paths[i]`, each as
/// `s3os_download_file` does (a temporary file renamed into place once verified; nothing left
/// on failure; `overwrite` as there), with up to `max_objects_in_flight` objects in flight
/// within one bound on the bytes in memory. Statuses, the returned status and `progress` work
/// as for `s3os_upload_files`, except that the total grows as each object's size becomes
/// known (from its first answer). Cancelling removes every partial file.
#[no_mangle]
pub unsafe extern "C" fn s3os_download_files(
    store: *mut s3os_store,
    object_names: *const *const c_char,
    paths: *const *const c_char,
    count: usize,
    overwrite: bool,
    out_statuses: *mut s3os_status,
    progress: s3os_progress_fn,
    user_data: *mut c_void,
) -> s3os_status {
    let out = unsafe { ffi::arg_opt_out_array(out_statuses, count) };
    let items = ItemStatuses::new(count);
    let statuses = items.clone();
    batch_call(out, &items, || {
        let store = unsafe { arg_ref(store, "store") }?.store.clone();
        let files = unsafe { pairs(object_names, paths, count) }?;
        let transfer = Transfer::start(move |p| async move {
            store.download_files(files, overwrite, p, statuses).await
        })?;
        wait_reporting(transfer, progress, user_data)
    })
}

/// Uploads every regular file under `local_dir`, recursively, as
/// `<object_prefix>/<path relative to local_dir>` (`/` between components; an empty
/// `object_prefix` puts them at the top of the store's prefix, and one ending in `/` gets no
/// second one). Symbolic links are not followed (neither to files nor to directories) and
/// special files are left out. A directory that cannot be read fails the call before anything
/// is sent. The files move as with `s3os_upload_files`, and the call returns as it does; a
/// file name that is not UTF-8 fails that file with `S3OS_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn s3os_upload_dir(
    store: *mut s3os_store,
    local_dir: *const c_char,
    object_prefix: *const c_char,
    progress: s3os_progress_fn,
    user_data: *mut c_void,
) -> s3os_status {
    call_status(|| {
        let store = unsafe { arg_ref(store, "store") }?.store.clone();
        let dir = PathBuf::from(unsafe { arg_str(local_dir, "local_dir") }?);
        let prefix = unsafe { arg_str(object_prefix, "object_prefix") }?.to_string();
        let transfer = Transfer::start(move |p| async move {
            store
                .upload_dir(&dir, &prefix, p, ItemStatuses::new(0))
                .await
        })?;
        wait_reporting(transfer, progress, user_data)
    })
}

/// Downloads every object under the folder `object_prefix` (relative to the store's prefix; a
/// `/` is added when missing; empty: everything in the store's prefix) into the same relative
/// paths under `local_dir`, created if missing. Each object is downloaded as by
/// `s3os_download_file` (with `overwrite` as there), and its size in the listing confirms the
/// length of one that no checksum covers, at no extra request. Empty objects whose names end
/// in `/` (folder markers) are skipped. An object whose name would put it outside
/// `local_dir` — an absolute name, an empty, `.` or `..` component, or a path through a
/// symbolic link in `local_dir` — fails with `S3OS_INVALID_ARGUMENT` and nothing is written
/// for it; the others go on. Returns as `s3os_upload_files` does. The listing comes first and
/// fails the call as `s3os_list_objects` would (then nothing is downloaded); while it runs,
/// `progress` is called at least every 250 ms, with a total that starts at 0 and grows by
/// each page's bytes, so that it can cancel at once (`S3OS_CANCELLED`, `local_dir` not even
/// created). Then it reports against the listed total.
#[no_mangle]
pub unsafe extern "C" fn s3os_download_prefix(
    store: *mut s3os_store,
    object_prefix: *const c_char,
    local_dir: *const c_char,
    overwrite: bool,
    progress: s3os_progress_fn,
    user_data: *mut c_void,
) -> s3os_status {
    call_status(|| {
        let store = unsafe { arg_ref(store, "store") }?.store.clone();
        let prefix = unsafe { arg_str(object_prefix, "object_prefix") }?.to_string();
        let dir = PathBuf::from(unsafe { arg_str(local_dir, "local_dir") }?);
        let transfer = Transfer::start(move |p| async move {
            store
                .download_prefix(&prefix, &dir, overwrite, p, ItemStatuses::new(0))
                .await
        })?;
        wait_reporting(transfer, progress, user_data)
    })
}

/// Deletes `count` objects with S3's DeleteObjects (1,000 names per request). As with
/// `s3os_delete_object`, a missing object counts as deleted. A name counts as deleted only if
/// the server's answer names it so: one the answer leaves out (an answer cut short, an error
/// that names no key) fails, with the status of that error or `S3OS_INTERNAL`.
/// `out_statuses` (NULL if not wanted) receives each name's status; the call returns
/// `S3OS_OK` only if every object was deleted, otherwise the status of the first name that
/// failed, with `s3os_last_error()` saying how many failed and why that one did.
#[no_mangle]
pub unsafe extern "C" fn s3os_delete_objects(
    store: *mut s3os_store,
    object_names: *const *const c_char,
    count: usize,
    out_statuses: *mut s3os_status,
) -> s3os_status {
    let out = unsafe { ffi::arg_opt_out_array(out_statuses, count) };
    let items = ItemStatuses::new(count);
    let statuses = items.clone();
    batch_call(out, &items, || {
        let store = unsafe { arg_ref(store, "store") }?.store.clone();
        let names: Vec<String> = unsafe { arg_str_array(object_names, count, "object_names") }?
            .into_iter()
            .map(str::to_string)
            .collect();
        runtime::block_on(async move { store.delete_objects(&names, &statuses).await })
    })
}

/// Deletes every object under the folder `object_prefix` (relative to the store's prefix; a
/// `/` is added when missing). An empty `object_prefix` is refused with
/// `S3OS_INVALID_ARGUMENT` rather than taken to mean everything. `*out_deleted` (may be NULL)
/// receives the number of objects deleted, also when the call fails part-way. Deletions are
/// accounted for as by `s3os_delete_objects`, and the folder is listed again at the end: an
/// object the server answered deleted but still lists is not counted and fails the call with
/// `S3OS_INTERNAL`. The listings fail as `s3os_list_objects` does.
#[no_mangle]
pub unsafe extern "C" fn s3os_delete_prefix(
    store: *mut s3os_store,
    object_prefix: *const c_char,
    out_deleted: *mut u64,
) -> s3os_status {
    // SAFETY: NULL or, by the caller's contract, valid for a write.
    let mut out_deleted = unsafe { out_deleted.as_mut() };
    if let Some(out) = out_deleted.as_deref_mut() {
        *out = 0;
    }
    call_status(|| {
        let store = unsafe { arg_ref(store, "store") }?.store.clone();
        let prefix = unsafe { arg_str(object_prefix, "object_prefix") }?.to_string();
        let (deleted, outcome) =
            runtime::block_on(async move { Ok(store.delete_prefix(&prefix).await) })?;
        if let Some(out) = out_deleted {
            *out = deleted;
        }
        outcome
    })
}
