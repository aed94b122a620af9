//! Reusable buffers for the bytes of upload parts. Each part in flight holds one; when the
//! request is done with it (the SDK keeps the body until then, for retries) it goes back for
//! the next part. Memory then stays at the number of parts in flight times the part size,
//! with no page faults or allocator churn per part.

use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;

#[derive(Default)]
pub struct BufferPool {
    idle: Mutex<Vec<Vec<u8>>>,
}

impl BufferPool {
    pub fn new() -> Arc<BufferPool> {
        Arc::new(BufferPool::default())
    }

    /// A buffer of exactly `len` bytes (of unspecified content), reused when one is idle.
    pub fn take(self: &Arc<Self>, len: usize) -> PooledBuffer {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut buf = idle.unwrap_or_default();
        if buf.len() < len {
            buf.resize(len, 0);
        }
        PooledBuffer {
            buf,
            len,
            pool: Arc::downgrade(self),
        }
    }
}

/// A buffer on loan from a [`BufferPool`]; returns to it when dropped (unless the pool is gone).
pub struct PooledBuffer {
    buf: Vec<u8>,
    len: usize,
    pool: Weak<BufferPool>,
}

impl PooledBuffer {
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.buf[..self.len]
    }

    /// Shares the bytes without copying; the buffer returns to the pool when the last
    /// reference to them is dropped.
    pub fn freeze(self) -> Bytes {
        Bytes::from_owner(self)
    }
}

impl AsRef<[u8]> for PooledBuffer {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.upgrade() {
            let buf = std::mem::take(&mut self.buf);
            pool.idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_once_their_bytes_are_dropped() {
        let pool = BufferPool::new();
        let mut first = pool.take(8);
        first.as_mut_slice().copy_from_slice(b"abcdefgh");
        let address = first.as_ref().as_ptr();
        let bytes = first.freeze();
        let clone = bytes.clone();
        drop(bytes);
        assert!(
            pool.idle.lock().unwrap().is_empty(),
            "returned while still shared"
        );
        assert_eq!(&clone[..], b"abcdefgh");
        drop(clone);
        let again = pool.take(5);
        assert_eq!(again.as_ref().len(), 5);
        assert_eq!(
            again.as_ref().as_ptr(),
            address,
            "the idle buffer was not reused"
        );
        drop(pool);
        drop(again); // the pool is gone: the buffer is simply freed
    }
}
