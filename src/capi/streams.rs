//! Stream writers and readers: an object written or read in pieces, through an opaque handle.

use std::ffi::{c_char, c_void};
use std::sync::{Mutex, MutexGuard, TryLockError};

use super::{s3os_status, s3os_store};
use crate::error::{Error, Result};
use crate::ffi::{self, arg_bytes, arg_out, arg_ref, arg_str, call_status, RawBuffer};
use crate::runtime;
use crate::store::Store;
use crate::transfer::{ObjectReader, ObjectWriter};

/// An object being written in pieces: open with `s3os_writer_open`, add bytes with
/// `s3os_writer_write`, finish with `s3os_writer_close` (or give up with `s3os_writer_abort`);
/// either of those frees it. Use it from one thread at a time: a write that overlaps another
/// call on the same writer is refused with `S3OS_INVALID_ARGUMENT`, but closing or aborting it
/// while another thread uses it is undefined behaviour, as for any freed handle. It holds its
/// own reference to the store's client: the store may be freed before it. In a process forked
/// from the one that opened it, every call on it returns `S3OS_INVALID_ARGUMENT` at once (its
/// parts belong to the parent's threads) and close and abort leave it unfreed.
pub struct s3os_writer {
    writer: Mutex<ObjectWriter>,
    store: Store,
}

/// An object being read in pieces: open with `s3os_reader_open`, release with
/// `s3os_reader_free`. Use it from one thread at a time: a read, seek or size that overlaps
/// another call on the same reader is refused with `S3OS_INVALID_ARGUMENT`, but freeing it
/// while another thread uses it is undefined behaviour. It holds its own reference to the
/// store's client: the store may be freed before it. In a process forked from the one that
/// opened it, every call on it returns `S3OS_INVALID_ARGUMENT` at once and `s3os_reader_free`
/// leaves it unfreed.
pub struct s3os_reader {
    reader: Mutex<ObjectReader>,
    store: Store,
}

/// The handle's state, unless another thread is using it.
fn exclusive<'a, T>(state: &'a Mutex<T>, what: &str) -> Result<MutexGuard<'a, T>> {
    match state.try_lock() {
        Ok(guard) => Ok(guard),
        Err(TryLockError::Poisoned(poisoned)) => Ok(poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => Err(Error::invalid(format!(
            "{what}: in use by another thread (a handle is for one thread at a time)"
        ))),
    }
}

/// Starts writing object `object_name` (relative to the store's prefix). Nothing is sent until
/// the first part (`multipart_chunksize` bytes) is full, and the object appears only when
/// `s3os_writer_close` completes it. On success `*out_writer` receives the writer; on failure
/// it is set to NULL.
#[no_mangle]
pub unsafe extern "C" fn s3os_writer_open(
    store: *mut s3os_store,
    object_name: *const c_char,
    out_writer: *mut *mut s3os_writer,
) -> s3os_status {
    call_status(|| {
        let out_writer = unsafe { arg_out(out_writer, "out_writer") }?;
        *out_writer = std::ptr::null_mut();
        let store = unsafe { arg_ref(store, "store") }?.store.clone();
        let name = unsafe { arg_str(object_name, "object_name") }?;
        let writer = store.open_writer(name)?;
        *out_writer = ffi::into_raw(s3os_writer {
            writer: Mutex::new(writer),
            store,
        });
        Ok(())
    })
}

/// Appends the `len` bytes at `data` (copied before the call returns; NULL only when `len` is
/// 0). Each full part goes up in the background, concurrently with later writes; while
/// `max_concurrency` parts are on their way, the call waits for one of them, so memory stays
/// within `max_concurrency` x `multipart_chunksize` plus the part being filled. A part that
/// failed is reported here (or by the close): the upload is then aborted, nothing remains on
/// the server, and every later write or close returns the same error. After an error, free
/// the writer with `s3os_writer_close` or `s3os_writer_abort`.
#[no_mangle]
pub unsafe extern "C" fn s3os_writer_write(
    writer: *mut s3os_writer,
    data: *const c_void,
    len: usize,
) -> s3os_status {
    call_status(|| {
        let handle = unsafe { arg_ref(writer, "writer") }?;
        handle.store.check_process()?;
        let data = unsafe { arg_bytes(data, len, "data") }?;
        let mut writer = exclusive(&handle.writer, "writer")?;
        handle.store.scrub(writer.write(data))
    })
}

/// Finishes the object and frees the writer (also when it fails). An object below
/// `multipart_threshold` is sent now as one PUT; otherwise the last part is sent, all parts
/// are awaited and the multipart upload is completed with the CRC32C of the whole object. The
/// object appears only now, atomically. On failure the upload is aborted and nothing remains
/// on the server. NULL returns `S3OS_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn s3os_writer_close(writer: *mut s3os_writer) -> s3os_status {
    call_status(|| {
        unsafe { arg_ref(writer, "writer") }?
            .store
            .check_process()?;
        // SAFETY: a live writer from s3os_writer_open (checked non-NULL above), freed once.
        let handle = unsafe { Box::from_raw(writer) };
        let mut state = handle.writer.lock().unwrap_or_else(|p| p.into_inner());
        handle.store.scrub(state.close())
    })
}

/// Abandons the object and frees the writer: parts on their way get a moment (2 s at most)
/// to be answered, then the multipart upload, if one was started, is aborted, so nothing
/// remains on the server and no object appears. Returns an error only if the abort itself
/// failed (the message then says parts may remain). NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn s3os_writer_abort(writer: *mut s3os_writer) -> s3os_status {
    call_status(|| {
        let Some(live) = (unsafe { writer.as_ref() }) else {
            return Ok(());
        };
        live.store.check_process()?;
        // SAFETY: a live writer from s3os_writer_open, freed once.
        let handle = unsafe { Box::from_raw(writer) };
        let mut state = handle.writer.lock().unwrap_or_else(|p| p.into_inner());
        handle.store.scrub(state.abort())
    })
}

/// Opens object `object_name` for reading with one HEAD, which gives its size, its version
/// (ETag) and its checksum. Every later request is pinned to that version with `If-Match`: if
/// the object is overwritten while it is being read, reads fail (`S3OS_TRANSIENT`, HTTP 412)
/// rather than mix two versions. On success `*out_reader` receives the reader; on failure it is
/// set to NULL (a missing object is `S3OS_NOT_FOUND`).
#[no_mangle]
pub unsafe extern "C" fn s3os_reader_open(
    store: *mut s3os_store,
    object_name: *const c_char,
    out_reader: *mut *mut s3os_reader,
) -> s3os_status {
    call_status(|| {
        let out_reader = unsafe { arg_out(out_reader, "out_reader") }?;
        *out_reader = std::ptr::null_mut();
        let store = unsafe { arg_ref(store, "store") }?.store.clone();
        let name = unsafe { arg_str(object_name, "object_name") }?.to_string();
        let opening = store.clone();
        let reader = runtime::block_on(async move { opening.open_reader(&name).await })?;
        *out_reader = ffi::into_raw(s3os_reader {
            reader: Mutex::new(reader),
            store,
        });
        Ok(())
    })
}

/// Stores the object's size (as the reader opened it) in `*out_size`.
#[no_mangle]
pub unsafe extern "C" fn s3os_reader_size(
    reader: *mut s3os_reader,
    out_size: *mut u64,
) -> s3os_status {
    call_status(|| {
        let out_size = unsafe { arg_out(out_size, "out_size") }?;
        let handle = unsafe { arg_ref(reader, "reader") }?;
        handle.store.check_process()?;
        *out_size = exclusive(&handle.reader, "reader")?.size();
        Ok(())
    })
}

/// Reads up to `len` bytes from the current position into `buf` and advances; `*out_read` is
/// how many (0 at the end of the object; fewer than `len` only at the end). A read that starts
/// where the previous one ended is sequential: it is served from chunks of
/// `multipart_chunksize` fetched ahead in the background (up to `max_concurrency` of them, a
/// number that starts at one and doubles as reading goes on). Any other read fetches exactly
/// the bytes asked for, straight into `buf` (in concurrent parts when at least
/// `multipart_threshold`). Verified: Content-Range and length of every answer; and when the
/// object has a CRC32, CRC32C or CRC64NVME of all its bytes, the bytes handed out in order from
/// the start are checked against it: the read that reaches the end fails with
/// `S3OS_INTEGRITY` if they do not match, and so does every later read (bytes read out of
/// order are not covered). `buf` may be NULL only when `len` is 0. On failure `*out_read` is 0,
/// the position is unchanged and the contents of `buf` are unspecified.
#[no_mangle]
pub unsafe extern "C" fn s3os_reader_read(
    reader: *mut s3os_reader,
    buf: *mut c_void,
    len: usize,
    out_read: *mut usize,
) -> s3os_status {
    call_status(|| {
        let out_read = unsafe { arg_out(out_read, "out_read") }?;
        *out_read = 0;
        let handle = unsafe { arg_ref(reader, "reader") }?;
        handle.store.check_process()?;
        let buffer = unsafe { RawBuffer::new(buf, len, "buf") }?;
        let mut reader = exclusive(&handle.reader, "reader")?;
        *out_read = handle.store.scrub(reader.read(buffer))?;
        Ok(())
    })
}

/// Moves the position to `offset`; the object's size is the largest valid offset (a read there
/// gives 0 bytes). A larger one returns `S3OS_INVALID_ARGUMENT` naming the size and leaves the
/// position unchanged. Makes no request.
#[no_mangle]
pub unsafe extern "C" fn s3os_reader_seek(reader: *mut s3os_reader, offset: u64) -> s3os_status {
    call_status(|| {
        let handle = unsafe { arg_ref(reader, "reader") }?;
        handle.store.check_process()?;
        let mut reader = exclusive(&handle.reader, "reader")?;
        handle.store.scrub(reader.seek(offset))
    })
}

/// Releases a reader and stops its requests. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn s3os_reader_free(reader: *mut s3os_reader) {
    crate::ffi::call_void(|| {
        // SAFETY: by the contract above, NULL or a live reader no other call is using.
        let Some(live) = (unsafe { reader.as_ref() }) else {
            return;
        };
        if live.store.check_process().is_err() {
            // Its fetches belong to the parent's threads: the child can neither stop nor
            // drop them, so the handle is left as it is.
            return;
        }
        unsafe { ffi::free_raw(reader) }
    })
}
