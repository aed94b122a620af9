//! Transfers between objects and memory: uploads from the caller's buffer without a copy,
//! downloads into the caller's buffer or one s3os allocates, and ranged reads.

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use super::{progress_reporter, s3os_progress_fn, s3os_status, s3os_store};
use crate::error::ErrorKind;
use crate::ffi::{self, arg_out, arg_ref, arg_str, call_status, call_void, RawBuffer};
use crate::runtime;
use crate::transfer::{MemorySink, Transfer};

/// Uploads the `len` bytes at `data` as object `object_name`, straight from that memory: an
/// object at or above `multipart_threshold` goes up in parts sent concurrently, each a view of
/// the caller's bytes, never a copy. Checked as an upload from a file is: a CRC32C per
/// request, the CRC32C of the whole object on a multipart completion, and an abort on the
/// server if anything fails or is cancelled. `data` may be NULL only when `len` is 0; the
/// memory must stay valid and unchanged until the call returns, and is not used afterwards
/// (the call returns only once no request holds any of it). `progress` may be NULL.
#[no_mangle]
pub unsafe extern "C" fn s3os_upload_buffer(
    store: *mut s3os_store,
    object_name: *const c_char,
    data: *const c_void,
    len: usize,
    progress: s3os_progress_fn,
    user_data: *mut c_void,
) -> s3os_status {
    call_status(|| {
        let store = unsafe { arg_ref(store, "store") }?.store.clone();
        let name = unsafe { arg_str(object_name, "object_name") }?.to_string();
        // Dropped last (after the transfer has ended), on every way out: see `ffi::Loan`.
        let (bytes, _loan) = unsafe { ffi::lend(data, len, "data") }?;
        let transfer =
            Transfer::start(move |p| async move { store.upload_bytes(&name, bytes, p).await })?;
        transfer.wait(progress_reporter(progress, user_data))
    })
}

/// Downloads object `object_name` into the caller's buffer `buf` of `capacity` bytes (for
/// example pinned memory), in concurrent ranged parts for a large object. On success
/// `*out_len` is the object's size. If the object is larger than `capacity`, returns
/// `S3OS_BUFFER_TOO_SMALL` with `*out_len` set to its size, having written nothing into `buf`
/// (the size comes from the first answer's headers, before any byte of the body is read). On
/// any other failure `*out_len` is 0 and the contents of `buf` are unspecified. Verified as a
/// download to a file is: the whole object against its CRC32, CRC32C or CRC64NVME (the ranges'
/// CRCs combined) or, with only a SHA, in one stream the SDK checks; lengths and Content-Ranges
/// always. `buf` may be NULL only when `capacity` is 0 and is not used after the call
/// returns. `progress` may be NULL.
#[no_mangle]
pub unsafe extern "C" fn s3os_download_buffer(
    store: *mut s3os_store,
    object_name: *const c_char,
    buf: *mut c_void,
    capacity: usize,
    out_len: *mut usize,
    progress: s3os_progress_fn,
    user_data: *mut c_void,
) -> s3os_status {
    call_status(|| {
        let out_len = unsafe { arg_out(out_len, "out_len") }?;
        *out_len = 0;
        let store = unsafe { arg_ref(store, "store") }?.store.clone();
        let name = unsafe { arg_str(object_name, "object_name") }?.to_string();
        let buffer = unsafe { RawBuffer::new(buf, capacity, "buf") }?;
        let sink = Arc::new(MemorySink::lent(buffer, 0));
        let target = sink.clone();
        let transfer =
            Transfer::start(
                move |p| async move { store.download_to_memory(&name, target, p).await },
            )?;
        let outcome = transfer.wait(progress_reporter(progress, user_data));
        match &outcome {
            Ok(()) => *out_len = sink.announced_size().unwrap_or(0) as usize,
            Err(err) if err.kind() == ErrorKind::BufferTooSmall => {
                *out_len = sink.announced_size().map_or(usize::MAX, |size| {
                    usize::try_from(size).unwrap_or(usize::MAX)
                })
            }
            Err(_) => {}
        }
        outcome
    })
}

/// Downloads object `object_name` into a buffer s3os allocates, verified as
/// `s3os_download_buffer` is. On success `*out_data` points to the object's `*out_len` bytes,
/// owned by the caller, who releases them with `s3os_buffer_free(*out_data, *out_len)`; an
/// empty object gives NULL and 0. On failure `*out_data` is NULL and `*out_len` 0; memory that
/// cannot be allocated for the object is `S3OS_IO`. `progress` may be NULL.
#[no_mangle]
pub unsafe extern "C" fn s3os_download_alloc(
    store: *mut s3os_store,
    object_name: *const c_char,
    out_data: *mut *mut u8,
    out_len: *mut usize,
    progress: s3os_progress_fn,
    user_data: *mut c_void,
) -> s3os_status {
    call_status(|| {
        let out_data = unsafe { arg_out(out_data, "out_data") }?;
        *out_data = std::ptr::null_mut();
        let out_len = unsafe { arg_out(out_len, "out_len") }?;
        *out_len = 0;
        let store = unsafe { arg_ref(store, "store") }?.store.clone();
        let name = unsafe { arg_str(object_name, "object_name") }?.to_string();
        let sink = Arc::new(MemorySink::allocated());
        let target = sink.clone();
        let transfer =
            Transfer::start(
                move |p| async move { store.download_to_memory(&name, target, p).await },
            )?;
        transfer.wait(progress_reporter(progress, user_data))?;
        let data = sink.take_allocated().into_boxed_slice();
        if !data.is_empty() {
            *out_len = data.len();
            *out_data = Box::into_raw(data).cast();
        }
        Ok(())
    })
}

/// Releases a buffer from `s3os_download_alloc`; `len` must be the length it came with.
/// NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn s3os_buffer_free(data: *mut u8, len: usize) {
    call_void(|| {
        if !data.is_null() {
            // SAFETY: by the contract above, `data` and `len` are what s3os_download_alloc
            // handed out from a boxed slice, freed only once.
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(data, len)) });
        }
    })
}

/// Reads the bytes `[offset, offset + len)` of object `object_name` into `buf`. A range that
/// runs past the end of the object reads what exists: `*out_read` says how many bytes were
/// read. An `offset` equal to the object's size reads 0 bytes; one beyond it returns
/// `S3OS_INVALID_ARGUMENT` with a message naming the size. A range of at least
/// `multipart_threshold` bytes is fetched in concurrent parts, pinned with `If-Match` to the
/// first answer's ETag (an object overwritten meanwhile fails the call rather than mix
/// versions). Verified: every answer's Content-Range must name exactly the range asked for and
/// the same object size, and every body must have its announced length. S3 keeps no checksum of
/// an arbitrary range, so a part of an object is checked by those alone; a read that turns out
/// to hold the whole object (offset 0, `len` at least its size) is also checked against the
/// object's CRC32, CRC32C or CRC64NVME, which one more request (a HEAD) asks for. `buf` may be
/// NULL only when `len` is 0; on failure `*out_read` is 0 and the contents of `buf` are
/// unspecified.
#[no_mangle]
pub unsafe extern "C" fn s3os_read_range(
    store: *mut s3os_store,
    object_name: *const c_char,
    offset: u64,
    buf: *mut c_void,
    len: usize,
    out_read: *mut usize,
) -> s3os_status {
    call_status(|| {
        let out_read = unsafe { arg_out(out_read, "out_read") }?;
        *out_read = 0;
        let store = unsafe { arg_ref(store, "store") }?.store.clone();
        let name = unsafe { arg_str(object_name, "object_name") }?.to_string();
        let buffer = unsafe { RawBuffer::new(buf, len, "buf") }?;
        let read = runtime::block_on(async move { store.read_range(&name, buffer, offset).await })?;
        *out_read = read as usize;
        Ok(())
    })
}
