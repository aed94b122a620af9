//! The safety boundary every exported function goes through: panics are caught, pointers are
//! checked for NULL, strings for UTF-8, and errors become a status plus a thread-local message.
//! The argument for soundness is made here once; `capi` only converts and delegates.

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use bytes::Bytes;

use crate::error::{Error, ErrorKind, Result};
use crate::status::s3os_status;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// What `s3os_last_error()` gives when this thread's slot is gone: a pthread key destructor
/// calling s3os runs after the thread's Rust thread-locals were destroyed.
const NO_SLOT: &CStr = c"s3os: no error message is available while this thread is exiting";

/// Records `message` as this thread's last error. Never panics: without a slot (thread exit)
/// the message is dropped.
fn set_last_error(message: &str) {
    let message = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = message;
        }
    });
}

/// This thread's last error message; valid until the next s3os call on this thread.
pub fn last_error() -> *const c_char {
    LAST_ERROR
        .try_with(|slot| slot.try_borrow().map(|message| message.as_ptr()).ok())
        .ok()
        .flatten()
        .unwrap_or(NO_SLOT.as_ptr())
}

fn panic_error(payload: &(dyn std::any::Any + Send)) -> Error {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    Error::new(
        ErrorKind::Internal,
        format!("internal error in s3os (please report): {detail}"),
    )
}

/// Runs the body of a status-returning function. The last error is cleared first, and again
/// on success: a failing call made from a callback during the body must not leave its message
/// behind an `S3OS_OK`.
pub fn call_status(body: impl FnOnce() -> Result<()>) -> s3os_status {
    match run(body) {
        Ok(()) => s3os_status::S3OS_OK,
        Err(kind) => s3os_status::of(kind),
    }
}

/// Runs the body of a pointer-returning function: NULL (and a last error) on failure.
pub fn call_pointer<T>(body: impl FnOnce() -> Result<*mut T>) -> *mut T {
    run(body).unwrap_or(std::ptr::null_mut())
}

/// Runs `body` with panics caught and leaves its outcome in this thread's last error.
fn run<T>(body: impl FnOnce() -> Result<T>) -> Result<T, ErrorKind> {
    set_last_error("");
    let outcome = catch_unwind(AssertUnwindSafe(body))
        .unwrap_or_else(|payload| Err(panic_error(payload.as_ref())));
    match outcome {
        Ok(value) => {
            set_last_error("");
            Ok(value)
        }
        Err(error) => {
            set_last_error(error.message());
            Err(error.kind())
        }
    }
}

/// Runs the body of a function that cannot report failure (the `_free` functions).
pub fn call_void(body: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(body)) {
        set_last_error(panic_error(payload.as_ref()).message());
    }
}

fn null(name: &str) -> Error {
    Error::invalid(format!("{name}: must not be NULL"))
}

/// Borrows a NUL-terminated UTF-8 string.
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string that outlives the returned borrow.
pub unsafe fn arg_str<'a>(ptr: *const c_char, name: &str) -> Result<&'a str> {
    if ptr.is_null() {
        return Err(null(name));
    }
    // SAFETY: non-NULL and, by the caller's contract, NUL-terminated and alive.
    let bytes = unsafe { CStr::from_ptr(ptr) };
    bytes.to_str().map_err(|e| {
        Error::invalid(format!(
            "{name}: not valid UTF-8 (bad byte at offset {})",
            e.valid_up_to()
        ))
    })
}

/// Like [`arg_str`], but NULL means "not given".
///
/// # Safety
/// As for [`arg_str`].
pub unsafe fn arg_opt_str<'a>(ptr: *const c_char, name: &str) -> Result<Option<&'a str>> {
    if ptr.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded contract.
        unsafe { arg_str(ptr, name) }.map(Some)
    }
}

/// Borrows an object the library handed out.
///
/// # Safety
/// `ptr` must be NULL or a live pointer obtained from this library for type `T`.
pub unsafe fn arg_ref<'a, T>(ptr: *const T, name: &str) -> Result<&'a T> {
    // SAFETY: by the caller's contract a non-NULL pointer is live and of type T.
    unsafe { ptr.as_ref() }.ok_or_else(|| null(name))
}

/// Borrows an out-parameter.
///
/// # Safety
/// `ptr` must be NULL or valid for writes of a `T`.
pub unsafe fn arg_out<'a, T>(ptr: *mut T, name: &str) -> Result<&'a mut T> {
    // SAFETY: by the caller's contract a non-NULL pointer is valid for writes.
    unsafe { ptr.as_mut() }.ok_or_else(|| null(name))
}

/// Hands ownership of `value` to C.
pub fn into_raw<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Takes back ownership of what [`into_raw`] handed out and drops it; NULL is ignored.
///
/// # Safety
/// `ptr` must be NULL or come from [`into_raw`] and not have been freed.
pub unsafe fn free_raw<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: by the caller's contract it came from Box::into_raw and is freed only once.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// A C string the caller frees with `s3os_string_free`.
pub fn into_c_string(value: String) -> Result<*mut c_char> {
    CString::new(value)
        .map(CString::into_raw)
        .map_err(|_| Error::invalid("the result contains a NUL byte and cannot be a C string"))
}

/// Frees a string from [`into_c_string`]; NULL is ignored.
///
/// # Safety
/// `ptr` must be NULL or come from [`into_c_string`] and not have been freed.
pub unsafe fn free_c_string(ptr: *mut c_char) {
    if !ptr.is_null() {
        // SAFETY: by the caller's contract it came from CString::into_raw and is freed only once.
        drop(unsafe { CString::from_raw(ptr) });
    }
}

/// Memory a C caller lends for the duration of one call (or of one background transfer),
/// seen by the engine as [`Bytes`] without a copy.
///
/// The `Bytes` handed out (and every clone and slice of it, which requests keep while they
/// send) point into the caller's memory. That is sound only while the memory is alive, which
/// the C contract promises until the call returns (a background transfer: until it is
/// reported finished). So neither may end while any of those `Bytes` exists: dropping the
/// `Loan` blocks until the last of them is dropped. The engine drops them when the transfer
/// ends (requests that are abandoned are dropped with their connections), so the wait is
/// short; it is what makes an early end impossible, not a timing assumption.
pub struct Loan {
    returned: std::sync::mpsc::Receiver<()>,
}

/// The owner inside the lent `Bytes`: it tells the [`Loan`] when the last reference is gone.
struct Lent {
    ptr: *const u8,
    len: usize,
    _returned: std::sync::mpsc::SyncSender<()>,
}

// SAFETY: the memory is only read, and the caller keeps it alive and unchanged for the call or
// the background transfer (the header says so), during which every reader of it runs; see
// `Loan`.
unsafe impl Send for Lent {}
unsafe impl Sync for Lent {}

impl AsRef<[u8]> for Lent {
    fn as_ref(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: non-NULL (checked in `lend`), valid for `len` bytes for the call, and no
        // `Lent` outlives the call (see `Loan`).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// Lends `len` bytes at `ptr` to the engine; `ptr` may be NULL only when `len` is 0.
///
/// # Safety
/// `ptr` must be valid for reads of `len` bytes, unchanged, until the [`Loan`] is dropped.
pub unsafe fn lend(ptr: *const std::ffi::c_void, len: usize, name: &str) -> Result<(Bytes, Loan)> {
    if ptr.is_null() && len > 0 {
        return Err(Error::invalid(format!(
            "{name}: must not be NULL when the length ({len}) is not 0"
        )));
    }
    let (sender, returned) = std::sync::mpsc::sync_channel(0);
    let lent = Lent {
        ptr: ptr.cast(),
        len,
        _returned: sender,
    };
    Ok((Bytes::from_owner(lent), Loan { returned }))
}

impl Drop for Loan {
    /// Blocks until no `Bytes` of the loan is left (dropping the last one drops the sender,
    /// which ends the receiver's wait). Keeping a `Loan` alive to the end of the call makes
    /// every way out of it wait, a panic's unwinding included.
    fn drop(&mut self) {
        while self.returned.recv().is_ok() {}
    }
}

/// Borrows `len` bytes at `ptr` for the call; `ptr` may be NULL only when `len` is 0.
///
/// # Safety
/// `ptr` must be valid for reads of `len` bytes for the duration of the borrow.
pub unsafe fn arg_bytes<'a>(
    ptr: *const std::ffi::c_void,
    len: usize,
    name: &str,
) -> Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Error::invalid(format!(
            "{name}: must not be NULL when the length ({len}) is not 0"
        )));
    }
    // SAFETY: non-NULL and, by the caller's contract, valid for `len` bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr.cast(), len) })
}

/// A caller's buffer the engine writes into during one call (or one background transfer),
/// from any thread.
#[derive(Clone, Copy)]
pub struct RawBuffer {
    ptr: *mut u8,
    capacity: usize,
}

// SAFETY: the caller keeps the buffer alive for the call or the background transfer, every
// write happens during it (neither ends before the transfer, and with it every task that
// writes, has ended), and concurrent writes go to disjoint ranges (the parts of an object).
unsafe impl Send for RawBuffer {}
unsafe impl Sync for RawBuffer {}

impl RawBuffer {
    /// `capacity` writable bytes at `ptr`, which may be NULL only when `capacity` is 0.
    ///
    /// # Safety
    /// `ptr` must be valid for writes of `capacity` bytes until the call that made this buffer
    /// returns (a background transfer: until it is reported finished), and nothing else may
    /// access them meanwhile.
    pub unsafe fn new(
        ptr: *mut std::ffi::c_void,
        capacity: usize,
        name: &str,
    ) -> Result<RawBuffer> {
        if ptr.is_null() && capacity > 0 {
            return Err(Error::invalid(format!(
                "{name}: must not be NULL when the capacity ({capacity}) is not 0"
            )));
        }
        Ok(RawBuffer {
            ptr: ptr.cast(),
            capacity,
        })
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Copies `bytes` to `offset`; fails (writing nothing) if they would not fit.
    pub fn write(&self, offset: usize, bytes: &[u8]) -> Result<()> {
        let end = offset.checked_add(bytes.len());
        if end.is_none_or(|end| end > self.capacity) {
            return Err(Error::new(
                ErrorKind::Internal,
                format!(
                    "{} bytes at offset {offset} do not fit in a buffer of {}",
                    bytes.len(),
                    self.capacity
                ),
            ));
        }
        if !bytes.is_empty() {
            // SAFETY: within the buffer (checked above), which is valid for writes for the
            // call (see `new`); the source is a separate allocation of the engine's.
            unsafe {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.ptr.add(offset), bytes.len())
            };
        }
        Ok(())
    }
}

impl RawBuffer {
    /// The first `len` bytes of the buffer.
    ///
    /// # Safety
    /// They must have been written, and the borrow must end before the call returns.
    pub unsafe fn filled(&self, len: usize) -> &[u8] {
        let len = len.min(self.capacity);
        if len == 0 {
            return &[];
        }
        // SAFETY: within the buffer, valid for the call (see `new`), initialised by the caller's
        // contract above.
        unsafe { std::slice::from_raw_parts(self.ptr, len) }
    }
}

/// Borrows an array of `count` NUL-terminated UTF-8 strings; NULL is accepted only for an
/// empty array. Each element is checked like an [`arg_str`] argument named `name[index]`.
///
/// # Safety
/// `ptr` must be NULL or point to `count` pointers, each NULL or a NUL-terminated string, all
/// outliving the returned borrows.
pub unsafe fn arg_str_array<'a>(
    ptr: *const *const c_char,
    count: usize,
    name: &str,
) -> Result<Vec<&'a str>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if ptr.is_null() {
        return Err(null(name));
    }
    // SAFETY: non-NULL and, by the caller's contract, valid for `count` reads.
    let pointers = unsafe { std::slice::from_raw_parts(ptr, count) };
    pointers
        .iter()
        .enumerate()
        // SAFETY: forwarded contract for each element.
        .map(|(index, &element)| unsafe { arg_str(element, &format!("{name}[{index}]")) })
        .collect()
}

/// Borrows an optional output array of `count` elements (NULL: not wanted).
///
/// # Safety
/// `ptr` must be NULL or valid for writes of `count` elements of `T`, for the borrow's life.
pub unsafe fn arg_opt_out_array<'a, T>(ptr: *mut T, count: usize) -> Option<&'a mut [T]> {
    if ptr.is_null() || count == 0 {
        None
    } else {
        // SAFETY: non-NULL and, by the caller's contract, valid for `count` writes.
        Some(unsafe { std::slice::from_raw_parts_mut(ptr, count) })
    }
}
