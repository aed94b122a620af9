//! Background transfers: `s3os_transfer` handles, which run on the library's threads while
//! the caller goes on, and are polled, waited for, cancelled and freed from any thread.

use std::ffi::{c_char, c_void};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::{s3os_status, s3os_store};
use crate::error::{Error, ErrorKind, Result};
use crate::ffi::RawBuffer;
use crate::ffi::{self, arg_out, arg_ref, arg_str, call_status, call_void};
use crate::transfer::{ItemStatuses, MemorySink, Progress, Transfer};

/// A transfer running in the background, started by one of the `s3os_..._start` functions.
///
/// Thread safety: `s3os_transfer_progress`, `s3os_transfer_wait`, `s3os_transfer_cancel` and
/// `s3os_transfer_item_statuses` may be called from any thread, and from several at once
/// (two threads may wait for the same transfer). `s3os_transfer_free` must be the last call on
/// the handle: no other call on it may be running or follow.
///
/// Ownership: the caller owns the handle and frees it with `s3os_transfer_free`, which cancels
/// the transfer if it still runs and waits for its cleanup. Freeing the handle is the only way
/// to release it; a finished transfer holds its outcome until then.
///
/// Callbacks: none. A background transfer never calls back into the program; its progress is
/// read with `s3os_transfer_progress`.
///
/// Store: the transfer keeps what it needs of its store, but `s3os_store_free` cancels every
/// transfer of that store still running and waits for each to clean up before it returns.
///
/// fork(): a transfer does not continue in a child process (threads do not survive `fork()`);
/// in the child every call on a handle inherited from the parent returns
/// `S3OS_INVALID_ARGUMENT`, except `s3os_transfer_free`, which releases nothing there (the
/// handle belongs to the parent's threads).
pub struct s3os_transfer {
    transfer: Transfer,
    /// The outcome of each object of a batch started with a list of objects.
    items: Option<Arc<ItemStatuses>>,
    /// The caller's buffer of a download started with `s3os_download_buffer_start`, which
    /// knows the object's size once the first answer has arrived.
    memory: Option<Arc<MemorySink>>,
    pid: u32,
}

/// What a handle keeps besides the transfer, and what the transfer gives back when it ends.
#[derive(Default)]
struct Extras {
    items: Option<Arc<ItemStatuses>>,
    memory: Option<Arc<MemorySink>>,
    /// The caller's memory an upload reads from, returned before the transfer is reported
    /// finished (see `ffi::Loan`).
    loan: Option<ffi::Loan>,
}

/// The transfers of one store, so that freeing the store can stop them.
#[derive(Default)]
pub(crate) struct Registry {
    running: Mutex<Vec<Weak<Progress>>>,
    /// The process whose threads run them.
    pid: std::sync::OnceLock<u32>,
}

impl Registry {
    fn add(&self, progress: &Arc<Progress>) {
        self.pid.get_or_init(std::process::id);
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        running.retain(|p| p.upgrade().is_some_and(|p| p.outcome().is_none()));
        running.push(Arc::downgrade(progress));
    }

    /// Cancels every transfer still running and waits until each has cleaned up. In a forked
    /// child there is nothing to wait for: the transfers' threads stayed in the parent.
    pub(crate) fn cancel_all_and_wait(&self) {
        if self.pid.get().is_some_and(|pid| *pid != std::process::id()) {
            return;
        }
        let running = std::mem::take(&mut *self.running.lock().unwrap_or_else(|p| p.into_inner()));
        let running: Vec<Arc<Progress>> = running.iter().filter_map(Weak::upgrade).collect();
        for progress in &running {
            progress.cancel();
        }
        for progress in &running {
            progress.wait_outcome(None);
        }
    }
}

/// Starts `work` in the background on `store` and hands the new transfer to `*out_transfer`.
fn start<W, F>(
    store: &s3os_store,
    items: Option<Arc<ItemStatuses>>,
    out_transfer: &mut *mut s3os_transfer,
    work: W,
) -> Result<()>
where
    W: FnOnce(Arc<Progress>) -> F,
    F: std::future::Future<Output = Result<()>> + Send + 'static,
{
    let extras = Extras {
        items,
        ..Extras::default()
    };
    start_with(store, extras, out_transfer, work)
}

fn start_with<W, F>(
    store: &s3os_store,
    extras: Extras,
    out_transfer: &mut *mut s3os_transfer,
    work: W,
) -> Result<()>
where
    W: FnOnce(Arc<Progress>) -> F,
    F: std::future::Future<Output = Result<()>> + Send + 'static,
{
    let Extras {
        items,
        memory,
        loan,
    } = extras;
    let transfer = match loan {
        Some(loan) => Transfer::start_then(work, move || drop(loan))?,
        None => Transfer::start(work)?,
    };
    store.transfers.add(transfer.progress());
    *out_transfer = ffi::into_raw(s3os_transfer {
        transfer,
        items,
        memory,
        pid: std::process::id(),
    });
    Ok(())
}

/// The store of a `..._start` call and the slot for its handle, which holds NULL until a
/// transfer has started.
unsafe fn start_args<'a>(
    store: *mut s3os_store,
    out_transfer: *mut *mut s3os_transfer,
) -> Result<(&'a s3os_store, &'a mut *mut s3os_transfer)> {
    // SAFETY: forwarded contract: each NULL or valid.
    let out_transfer = unsafe { arg_out(out_transfer, "out_transfer") }?;
    *out_transfer = std::ptr::null_mut();
    let store = unsafe { arg_ref(store, "store") }?;
    Ok((store, out_transfer))
}

/// The transfer behind a handle, refused in a process other than the one that started it.
unsafe fn live<'a>(transfer: *mut s3os_transfer) -> Result<&'a s3os_transfer> {
    // SAFETY: forwarded contract: NULL or a live handle.
    let transfer = unsafe { arg_ref(transfer, "transfer") }?;
    if transfer.pid != std::process::id() {
        return Err(Error::invalid(format!(
            "this transfer was started in process {} and does not run after fork()",
            transfer.pid
        )));
    }
    Ok(transfer)
}

/// Starts uploading the file at `path` as `object_name` and returns at once; the upload goes
/// on in the background (see `s3os_transfer`). On success `*out_transfer` receives the handle;
/// on failure it is set to NULL and nothing was started. Arguments are checked as for
/// `s3os_upload_file`; failures of the transfer itself (a missing file, the server's answers)
/// are reported by `s3os_transfer_wait`.
#[no_mangle]
pub unsafe extern "C" fn s3os_upload_file_start(
    store: *mut s3os_store,
    object_name: *const c_char,
    path: *const c_char,
    out_transfer: *mut *mut s3os_transfer,
) -> s3os_status {
    call_status(|| {
        let (c_store, out_transfer) = unsafe { start_args(store, out_transfer) }?;
        let store = c_store.store.clone();
        let name = unsafe { arg_str(object_name, "object_name") }?.to_string();
        let path = PathBuf::from(unsafe { arg_str(path, "path") }?);
        start(c_store, None, out_transfer, move |p| async move {
            store.upload_file(&name, &path, p).await
        })
    })
}

/// Starts downloading `object_name` to the file at `path` and returns at once (see
/// `s3os_download_file` for what a download does, and `s3os_upload_file_start` for the
/// handle). With `overwrite` false an existing `path` is reported by `s3os_transfer_wait` as
/// `S3OS_ALREADY_EXISTS`, before any request.
#[no_mangle]
pub unsafe extern "C" fn s3os_download_file_start(
    store: *mut s3os_store,
    object_name: *const c_char,
    path: *const c_char,
    overwrite: bool,
    out_transfer: *mut *mut s3os_transfer,
) -> s3os_status {
    call_status(|| {
        let (c_store, out_transfer) = unsafe { start_args(store, out_transfer) }?;
        let store = c_store.store.clone();
        let name = unsafe { arg_str(object_name, "object_name") }?.to_string();
        let path = PathBuf::from(unsafe { arg_str(path, "path") }?);
        start(c_store, None, out_transfer, move |p| async move {
            store.download_file(&name, &path, overwrite, p).await
        })
    })
}

/// `s3os_upload_files` in the background: starts uploading `count` files and returns at once.
/// The arrays are copied before this returns. `s3os_transfer_item_statuses` gives each
/// file's outcome; `s3os_transfer_wait` the batch's.
#[no_mangle]
pub unsafe extern "C" fn s3os_upload_files_start(
    store: *mut s3os_store,
    object_names: *const *const c_char,
    paths: *const *const c_char,
    count: usize,
    out_transfer: *mut *mut s3os_transfer,
) -> s3os_status {
    call_status(|| {
        let (c_store, out_transfer) = unsafe { start_args(store, out_transfer) }?;
        let files = unsafe { super::batch::pairs(object_names, paths, count) }?;
        let store = c_store.store.clone();
        let statuses = ItemStatuses::new(count);
        let items = statuses.clone();
        start(c_store, Some(items), out_transfer, move |p| async move {
            store.upload_files(files, p, statuses).await
        })
    })
}

/// `s3os_download_files` in the background: starts downloading `count` objects and returns at
/// once. The arrays are copied before this returns. `s3os_transfer_item_statuses` gives each
/// object's outcome; `s3os_transfer_wait` the batch's.
#[no_mangle]
pub unsafe extern "C" fn s3os_download_files_start(
    store: *mut s3os_store,
    object_names: *const *const c_char,
    paths: *const *const c_char,
    count: usize,
    overwrite: bool,
    out_transfer: *mut *mut s3os_transfer,
) -> s3os_status {
    call_status(|| {
        let (c_store, out_transfer) = unsafe { start_args(store, out_transfer) }?;
        let files = unsafe { super::batch::pairs(object_names, paths, count) }?;
        let store = c_store.store.clone();
        let statuses = ItemStatuses::new(count);
        let items = statuses.clone();
        start(c_store, Some(items), out_transfer, move |p| async move {
            store.download_files(files, overwrite, p, statuses).await
        })
    })
}

/// `s3os_upload_dir` in the background: returns at once; the folder is read and uploaded on
/// the library's threads.
#[no_mangle]
pub unsafe extern "C" fn s3os_upload_dir_start(
    store: *mut s3os_store,
    local_dir: *const c_char,
    object_prefix: *const c_char,
    out_transfer: *mut *mut s3os_transfer,
) -> s3os_status {
    call_status(|| {
        let (c_store, out_transfer) = unsafe { start_args(store, out_transfer) }?;
        let dir = PathBuf::from(unsafe { arg_str(local_dir, "local_dir") }?);
        let prefix = unsafe { arg_str(object_prefix, "object_prefix") }?.to_string();
        let store = c_store.store.clone();
        start(c_store, None, out_transfer, move |p| async move {
            store
                .upload_dir(&dir, &prefix, p, ItemStatuses::new(0))
                .await
        })
    })
}

/// `s3os_download_prefix` in the background: returns at once; the prefix is listed and its
/// objects downloaded on the library's threads. Cancelling (or freeing the handle or the
/// store) during the listing stops it at once.
#[no_mangle]
pub unsafe extern "C" fn s3os_download_prefix_start(
    store: *mut s3os_store,
    object_prefix: *const c_char,
    local_dir: *const c_char,
    overwrite: bool,
    out_transfer: *mut *mut s3os_transfer,
) -> s3os_status {
    call_status(|| {
        let (c_store, out_transfer) = unsafe { start_args(store, out_transfer) }?;
        let prefix = unsafe { arg_str(object_prefix, "object_prefix") }?.to_string();
        let dir = PathBuf::from(unsafe { arg_str(local_dir, "local_dir") }?);
        let store = c_store.store.clone();
        start(c_store, None, out_transfer, move |p| async move {
            store
                .download_prefix(&prefix, &dir, overwrite, p, ItemStatuses::new(0))
                .await
        })
    })
}

/// `s3os_upload_buffer` in the background: starts uploading the `len` bytes at `data` as
/// `object_name`, straight from that memory, and returns at once (see `s3os_transfer`).
///
/// Lifetime: the memory is lent to the transfer. It must stay valid and unchanged until the
/// transfer has finished, that is until `s3os_transfer_wait` has returned a status other
/// than `S3OS_IN_PROGRESS` or `s3os_transfer_free` has returned (freeing a running transfer
/// cancels it and returns once no request holds any of the memory); it is not used after
/// that. `data` may be NULL only when `len` is 0. On failure to start, `*out_transfer` is NULL
/// and the memory was not used.
#[no_mangle]
pub unsafe extern "C" fn s3os_upload_buffer_start(
    store: *mut s3os_store,
    object_name: *const c_char,
    data: *const c_void,
    len: usize,
    out_transfer: *mut *mut s3os_transfer,
) -> s3os_status {
    call_status(|| {
        let (c_store, out_transfer) = unsafe { start_args(store, out_transfer) }?;
        let store = c_store.store.clone();
        let name = unsafe { arg_str(object_name, "object_name") }?.to_string();
        let (bytes, loan) = unsafe { ffi::lend(data, len, "data") }?;
        let extras = Extras {
            loan: Some(loan),
            ..Extras::default()
        };
        start_with(c_store, extras, out_transfer, move |p| async move {
            store.upload_bytes(&name, bytes, p).await
        })
    })
}

/// `s3os_download_buffer` in the background: starts downloading `object_name` into the
/// caller's buffer `buf` of `capacity` bytes and returns at once (see `s3os_transfer`).
/// `s3os_transfer_object_size` gives the object's size; an object larger than `capacity`
/// finishes with `S3OS_BUFFER_TOO_SMALL` having written nothing into `buf`. Verified as
/// `s3os_download_buffer` is.
///
/// Lifetime: `buf` is lent to the transfer. It must stay valid, and nothing else may read or
/// write it, until the transfer has finished (`s3os_transfer_wait` returned a status other
/// than `S3OS_IN_PROGRESS`) or `s3os_transfer_free` has returned; only then are its contents
/// the object's (on success) or unspecified (on failure). `buf` may be NULL only when
/// `capacity` is 0.
#[no_mangle]
pub unsafe extern "C" fn s3os_download_buffer_start(
    store: *mut s3os_store,
    object_name: *const c_char,
    buf: *mut c_void,
    capacity: usize,
    out_transfer: *mut *mut s3os_transfer,
) -> s3os_status {
    call_status(|| {
        let (c_store, out_transfer) = unsafe { start_args(store, out_transfer) }?;
        let store = c_store.store.clone();
        let name = unsafe { arg_str(object_name, "object_name") }?.to_string();
        let buffer = unsafe { RawBuffer::new(buf, capacity, "buf") }?;
        let sink = Arc::new(MemorySink::lent(buffer, 0));
        let target = sink.clone();
        let extras = Extras {
            memory: Some(sink),
            ..Extras::default()
        };
        start_with(c_store, extras, out_transfer, move |p| async move {
            store.download_to_memory(&name, target, p).await
        })
    })
}

/// Stores in `*out_size` the size of the object a transfer started with
/// `s3os_download_buffer_start` downloads, as its first answer announced it: after a success
/// the number of bytes written into the buffer, after `S3OS_BUFFER_TOO_SMALL` the capacity
/// needed. Returns `S3OS_IN_PROGRESS` (and 0) while no answer has arrived yet, and
/// `S3OS_INVALID_ARGUMENT` when the transfer ended before one did (a missing object) or is of
/// another kind.
#[no_mangle]
pub unsafe extern "C" fn s3os_transfer_object_size(
    transfer: *mut s3os_transfer,
    out_size: *mut u64,
) -> s3os_status {
    call_status(|| {
        let out_size = unsafe { arg_out(out_size, "out_size") }?;
        *out_size = 0;
        let transfer = unsafe { live(transfer) }?;
        let memory = transfer.memory.as_ref().ok_or_else(|| {
            Error::invalid("transfer: not a download started with s3os_download_buffer_start")
        })?;
        match memory.announced_size() {
            Some(size) => {
                *out_size = size;
                Ok(())
            }
            None if transfer.transfer.progress().outcome().is_none() => Err(Error::new(
                ErrorKind::InProgress,
                "no answer has announced the object's size yet",
            )),
            None => Err(Error::invalid(
                "the download ended before an answer announced the object's size",
            )),
        }
    })
}

/// Stores the bytes moved so far and the total in `*out_done` and `*out_total` (either may be
/// NULL). Before the total is known both are 0; a batch of downloads named one by one adds
/// each object's size to the total when its first answer arrives. Never blocks.
#[no_mangle]
pub unsafe extern "C" fn s3os_transfer_progress(
    transfer: *mut s3os_transfer,
    out_done: *mut u64,
    out_total: *mut u64,
) -> s3os_status {
    call_status(|| {
        let transfer = unsafe { live(transfer) }?;
        let (done, total) = transfer.transfer.progress().snapshot().unwrap_or((0, 0));
        // SAFETY: each is NULL or, by the caller's contract, valid for a write.
        if let Some(out) = unsafe { out_done.as_mut() } {
            *out = done;
        }
        if let Some(out) = unsafe { out_total.as_mut() } {
            *out = total;
        }
        Ok(())
    })
}

/// Waits for the transfer to finish, at most `timeout_ms` milliseconds (negative: as long as
/// it takes; 0: only looks). Returns the transfer's final status once it has finished, with
/// `s3os_last_error()` set to its message (again on every later call), or `S3OS_IN_PROGRESS`
/// if it is still running when the time is up.
#[no_mangle]
pub unsafe extern "C" fn s3os_transfer_wait(
    transfer: *mut s3os_transfer,
    timeout_ms: i64,
) -> s3os_status {
    call_status(|| {
        let transfer = unsafe { live(transfer) }?;
        let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
        match transfer.transfer.progress().wait_outcome(timeout) {
            Some(outcome) => outcome,
            None => Err(Error::new(
                ErrorKind::InProgress,
                format!("the transfer is still running after {timeout_ms} ms"),
            )),
        }
    })
}

/// Asks the transfer to stop and returns at once. It then cleans up in the background as a
/// cancelled call does (no partial file, no multipart upload left) and finishes with
/// `S3OS_CANCELLED`, unless it had already finished. Cancelling again does nothing.
#[no_mangle]
pub unsafe extern "C" fn s3os_transfer_cancel(transfer: *mut s3os_transfer) -> s3os_status {
    call_status(|| {
        unsafe { live(transfer) }?.transfer.progress().cancel();
        Ok(())
    })
}

/// Copies the status of each object of a batch started with `s3os_upload_files_start` or
/// `s3os_download_files_start` into `out_statuses`, which holds `count` entries (`count` as
/// given to the start). An object still on its way is `S3OS_IN_PROGRESS`. Any other transfer,
/// or another `count`, returns `S3OS_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn s3os_transfer_item_statuses(
    transfer: *mut s3os_transfer,
    out_statuses: *mut s3os_status,
    count: usize,
) -> s3os_status {
    call_status(|| {
        let transfer = unsafe { live(transfer) }?;
        let items = transfer.items.as_ref().ok_or_else(|| {
            Error::invalid("transfer: not a batch started with a list of objects")
        })?;
        let kinds = items.kinds();
        if kinds.len() != count {
            return Err(Error::invalid(format!(
                "count: the batch has {} objects, not {count}",
                kinds.len()
            )));
        }
        let out = unsafe { ffi::arg_opt_out_array(out_statuses, count) };
        if let Some(out) = out {
            for (slot, kind) in out.iter_mut().zip(kinds) {
                *slot = super::batch::status_of(kind);
            }
        } else if count > 0 {
            return Err(Error::invalid("out_statuses: must not be NULL"));
        }
        Ok(())
    })
}

/// Releases a transfer. One still running is cancelled first, and this returns once it has
/// cleaned up. NULL is ignored. No other call on the handle may be running or follow.
#[no_mangle]
pub unsafe extern "C" fn s3os_transfer_free(transfer: *mut s3os_transfer) {
    call_void(|| {
        // SAFETY: by the contract above, NULL or a live handle no other call is using.
        let Some(handle) = (unsafe { transfer.as_ref() }) else {
            return;
        };
        if handle.pid != std::process::id() {
            // The parent's threads own it; the child can neither stop nor drop it.
            return;
        }
        let progress = handle.transfer.progress();
        if progress.outcome().is_none() {
            progress.cancel();
            progress.wait_outcome(None);
        }
        unsafe { ffi::free_raw(transfer) }
    })
}
