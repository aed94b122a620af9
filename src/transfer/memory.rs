//! Sources and sinks in memory: bytes uploaded straight from a buffer (its parts are slices of
//! it, never copies), and downloads into a caller's buffer, a buffer s3os allocates, or a
//! reused buffer of the pool (a stream reader's chunks).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use bytes::Bytes;

use super::buffers::{BufferPool, PooledBuffer};
use super::sink::Sink;
use super::source::Source;
use crate::error::{Error, ErrorKind, Result};
use crate::ffi::RawBuffer;

/// Bytes in memory to upload. Every part is a slice sharing the bytes.
pub struct MemorySource {
    bytes: Bytes,
}

impl MemorySource {
    pub fn new(bytes: Bytes) -> MemorySource {
        MemorySource { bytes }
    }
}

impl Source for MemorySource {
    fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    fn read_at(&self, offset: u64, len: usize) -> impl Future<Output = Result<Bytes>> + Send {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let sliced = match start.checked_add(len) {
            Some(end) if end <= self.bytes.len() => Ok(self.bytes.slice(start..end)),
            _ => Err(Error::new(
                ErrorKind::Internal,
                format!(
                    "reading {len} bytes at {offset} of a buffer of {}",
                    self.bytes.len()
                ),
            )),
        };
        std::future::ready(sliced)
    }
}

/// Where a memory sink's bytes go.
enum Target {
    /// The caller's buffer, lent for the call.
    Lent(RawBuffer),
    /// A buffer of the object's size, allocated at `prepare`, for the caller to take.
    Allocated(Mutex<Vec<u8>>),
    /// A buffer of the pool, of the range's size, taken at creation.
    Pooled(Mutex<Option<PooledBuffer>>),
}

/// A download into memory. Bytes of the object at `base` and on land at the buffer's start,
/// so that one range of an object can be read into a buffer of the range's size. Writes go to
/// disjoint places and may come from several tasks at once.
pub struct MemorySink {
    target: Target,
    base: u64,
    /// The size the object was announced with (the last `prepare`), `u64::MAX` before.
    announced: AtomicU64,
}

impl MemorySink {
    /// Into the caller's buffer; an object larger than it fails `prepare` with
    /// `ErrorKind::BufferTooSmall` before any byte is written.
    pub fn lent(buffer: RawBuffer, base: u64) -> MemorySink {
        MemorySink::with(Target::Lent(buffer), base)
    }

    /// Into a buffer of the object's size that [`MemorySink::take_allocated`] hands over.
    pub fn allocated() -> MemorySink {
        MemorySink::with(Target::Allocated(Mutex::new(Vec::new())), 0)
    }

    /// Into a buffer of `len` bytes from `pool`, for the range starting at `base`.
    pub fn pooled(pool: &std::sync::Arc<BufferPool>, len: usize, base: u64) -> MemorySink {
        MemorySink::with(Target::Pooled(Mutex::new(Some(pool.take(len)))), base)
    }

    fn with(target: Target, base: u64) -> MemorySink {
        MemorySink {
            target,
            base,
            announced: AtomicU64::new(u64::MAX),
        }
    }

    /// The object size the server announced, once it did.
    pub fn announced_size(&self) -> Option<u64> {
        Some(self.announced.load(Ordering::Acquire)).filter(|&size| size != u64::MAX)
    }

    /// The allocated buffer, with the object's bytes.
    pub fn take_allocated(&self) -> Vec<u8> {
        match &self.target {
            Target::Allocated(data) => std::mem::take(&mut *lock(data)),
            _ => Vec::new(),
        }
    }

    /// The pooled buffer, with the range's bytes.
    pub fn take_pooled(&self) -> Option<PooledBuffer> {
        match &self.target {
            Target::Pooled(buffer) => lock(buffer).take(),
            _ => None,
        }
    }

    fn write(&self, offset: u64, chunks: &[Bytes]) -> Result<()> {
        let mut at = offset
            .checked_sub(self.base)
            .and_then(|at| usize::try_from(at).ok())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Internal,
                    format!(
                        "a write at {offset} before the buffer's start {}",
                        self.base
                    ),
                )
            })?;
        for chunk in chunks {
            match &self.target {
                Target::Lent(buffer) => buffer.write(at, chunk)?,
                Target::Allocated(data) => copy_into(&mut lock(data), at, chunk)?,
                Target::Pooled(buffer) => match lock(buffer).as_mut() {
                    Some(buffer) => copy_into(buffer.as_mut_slice(), at, chunk)?,
                    None => return Err(Error::new(ErrorKind::Internal, "a write after take")),
                },
            }
            at += chunk.len();
        }
        Ok(())
    }
}

/// `len` zero bytes, or `None` if the memory cannot be had. Unlike `vec![0; len]`, a failed
/// allocation is an error to report rather than the end of the process; and like it, the
/// zeroed pages come from the kernel as they are first written.
fn zeroed(len: usize) -> Option<Vec<u8>> {
    if len == 0 {
        return Some(Vec::new());
    }
    let layout = std::alloc::Layout::array::<u8>(len).ok()?;
    // SAFETY: the layout has a non-zero size.
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
    if ptr.is_null() {
        return None;
    }
    // SAFETY: allocated by the global allocator with the layout of `len` bytes (align 1), all
    // initialised (zeroed); the Vec takes ownership with exactly that capacity.
    Some(unsafe { Vec::from_raw_parts(ptr, len, len) })
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

fn copy_into(buffer: &mut [u8], at: usize, bytes: &[u8]) -> Result<()> {
    match buffer.get_mut(at..at + bytes.len()) {
        Some(place) => {
            place.copy_from_slice(bytes);
            Ok(())
        }
        None => Err(Error::new(
            ErrorKind::Internal,
            format!(
                "{} bytes at {at} do not fit in a buffer of {}",
                bytes.len(),
                buffer.len()
            ),
        )),
    }
}

impl Sink for MemorySink {
    fn prepare(&self, len: u64) -> impl Future<Output = Result<()>> + Send {
        self.announced.store(len, Ordering::Release);
        let prepared = match &self.target {
            Target::Lent(buffer) if len > buffer.capacity() as u64 => Err(Error::new(
                ErrorKind::BufferTooSmall,
                format!(
                    "the object is {len} bytes, the buffer holds {}",
                    buffer.capacity()
                ),
            )),
            Target::Allocated(data) => match usize::try_from(len).ok().and_then(zeroed) {
                Some(buffer) => {
                    *lock(data) = buffer;
                    Ok(())
                }
                None => Err(Error::new(
                    ErrorKind::Io,
                    format!("allocating {len} bytes for the object failed (out of memory)"),
                )),
            },
            _ => Ok(()),
        };
        std::future::ready(prepared)
    }

    fn write_at(&self, offset: u64, chunks: Vec<Bytes>) -> impl Future<Output = Result<()>> + Send {
        std::future::ready(self.write(offset, &chunks))
    }

    fn commit(&self) -> impl Future<Output = Result<()>> + Send {
        std::future::ready(Ok(()))
    }
}

/// A shared memory sink, so that the caller can still ask it for the announced size or the
/// allocated buffer once the download has taken it.
impl Sink for std::sync::Arc<MemorySink> {
    fn prepare(&self, len: u64) -> impl Future<Output = Result<()>> + Send {
        self.as_ref().prepare(len)
    }

    fn write_at(&self, offset: u64, chunks: Vec<Bytes>) -> impl Future<Output = Result<()>> + Send {
        self.as_ref().write_at(offset, chunks)
    }

    fn commit(&self) -> impl Future<Output = Result<()>> + Send {
        self.as_ref().commit()
    }
}
