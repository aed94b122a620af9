//! The memory and stream calls of the C ABI, wrapped for the tests.

use std::ffi::c_void;

use s3os::capi::*;

use super::{c, last_error, outcome, CStore, ProgressLog};

/// A failed call: its status, message and, for `s3os_download_buffer`, the reported size.
pub type Failure = (s3os_status, String);

impl CStore {
    pub fn upload_buffer(&self, name: &str, data: &[u8]) -> Result<(), Failure> {
        let status = unsafe {
            s3os_upload_buffer(
                self.0,
                c(name).as_ptr(),
                data.as_ptr().cast(),
                data.len(),
                None,
                std::ptr::null_mut(),
            )
        };
        outcome(status)
    }

    pub fn upload_buffer_logged(
        &self,
        name: &str,
        data: &[u8],
        log: &mut ProgressLog,
    ) -> Result<(), Failure> {
        let status = unsafe {
            s3os_upload_buffer(
                self.0,
                c(name).as_ptr(),
                data.as_ptr().cast(),
                data.len(),
                Some(super::record_progress),
                log as *mut ProgressLog as *mut c_void,
            )
        };
        outcome(status)
    }

    /// Downloads into a buffer of `capacity` bytes filled with 0xA5 first; returns the bytes
    /// and the whole buffer, or the failure with `*out_len` and the whole buffer.
    pub fn download_buffer(
        &self,
        name: &str,
        capacity: usize,
    ) -> (Result<Vec<u8>, Failure>, usize, Vec<u8>) {
        let mut buffer = vec![0xA5u8; capacity];
        let mut len = usize::MAX;
        let status = unsafe {
            s3os_download_buffer(
                self.0,
                c(name).as_ptr(),
                buffer.as_mut_ptr().cast(),
                capacity,
                &mut len,
                None,
                std::ptr::null_mut(),
            )
        };
        let result = outcome(status).map(|()| buffer[..len].to_vec());
        (result, len, buffer)
    }

    pub fn download_buffer_logged(
        &self,
        name: &str,
        capacity: usize,
        log: &mut ProgressLog,
    ) -> Result<Vec<u8>, Failure> {
        let mut buffer = vec![0u8; capacity];
        let mut len = usize::MAX;
        let status = unsafe {
            s3os_download_buffer(
                self.0,
                c(name).as_ptr(),
                buffer.as_mut_ptr().cast(),
                capacity,
                &mut len,
                Some(super::record_progress),
                log as *mut ProgressLog as *mut c_void,
            )
        };
        outcome(status).map(|()| buffer[..len].to_vec())
    }

    pub fn download_alloc(&self, name: &str) -> Result<Vec<u8>, Failure> {
        let mut data: *mut u8 = std::ptr::dangling_mut::<u8>();
        let mut len = usize::MAX;
        let status = unsafe {
            s3os_download_alloc(
                self.0,
                c(name).as_ptr(),
                &mut data,
                &mut len,
                None,
                std::ptr::null_mut(),
            )
        };
        if status != s3os_status::S3OS_OK {
            assert!(data.is_null() && len == 0, "outputs not reset on failure");
            return outcome(status).map(|()| Vec::new());
        }
        outcome(status)?;
        let bytes = if data.is_null() {
            assert_eq!(len, 0, "NULL data with a length");
            Vec::new()
        } else {
            unsafe { std::slice::from_raw_parts(data, len) }.to_vec()
        };
        unsafe { s3os_buffer_free(data, len) };
        Ok(bytes)
    }

    pub fn read_range(&self, name: &str, offset: u64, len: usize) -> Result<Vec<u8>, Failure> {
        let mut buffer = vec![0u8; len];
        let mut read = usize::MAX;
        let status = unsafe {
            s3os_read_range(
                self.0,
                c(name).as_ptr(),
                offset,
                buffer.as_mut_ptr().cast(),
                len,
                &mut read,
            )
        };
        outcome(status)?;
        buffer.truncate(read);
        Ok(buffer)
    }

    pub fn open_writer(&self, name: &str) -> Result<Writer, Failure> {
        let mut writer = std::ptr::null_mut();
        outcome(unsafe { s3os_writer_open(self.0, c(name).as_ptr(), &mut writer) })?;
        Ok(Writer(writer))
    }

    pub fn open_reader(&self, name: &str) -> Result<Reader, Failure> {
        let mut reader = std::ptr::null_mut();
        let status = unsafe { s3os_reader_open(self.0, c(name).as_ptr(), &mut reader) };
        if status != s3os_status::S3OS_OK {
            assert!(reader.is_null(), "out_reader not reset on failure");
        }
        outcome(status)?;
        Ok(Reader(reader))
    }

    /// Writes `data` through a stream writer in pieces of `piece` bytes and closes it.
    pub fn write_stream(&self, name: &str, data: &[u8], piece: usize) -> Result<(), Failure> {
        let writer = self.open_writer(name)?;
        for chunk in data.chunks(piece.max(1)) {
            if let Err(failure) = writer.write(chunk) {
                writer.abort().ok();
                return Err(failure);
            }
        }
        writer.close()
    }

    /// Reads the whole object through a stream reader in pieces of `piece` bytes.
    pub fn read_stream(&self, name: &str, piece: usize) -> Result<Vec<u8>, Failure> {
        let reader = self.open_reader(name)?;
        let mut out = Vec::new();
        loop {
            let chunk = reader.read(piece)?;
            if chunk.is_empty() {
                return Ok(out);
            }
            out.extend_from_slice(&chunk);
        }
    }
}

/// A stream writer; `close` or `abort` frees it (dropping it unclosed aborts).
pub struct Writer(pub *mut s3os_writer);

// The C contract: one thread at a time, any thread.
unsafe impl Send for Writer {}

impl Writer {
    pub fn write(&self, data: &[u8]) -> Result<(), Failure> {
        outcome(unsafe { s3os_writer_write(self.0, data.as_ptr().cast(), data.len()) })
    }

    pub fn close(mut self) -> Result<(), Failure> {
        let writer = std::mem::replace(&mut self.0, std::ptr::null_mut());
        outcome(unsafe { s3os_writer_close(writer) })
    }

    pub fn abort(mut self) -> Result<(), Failure> {
        let writer = std::mem::replace(&mut self.0, std::ptr::null_mut());
        outcome(unsafe { s3os_writer_abort(writer) })
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if !self.0.is_null() {
            unsafe { s3os_writer_abort(self.0) };
        }
    }
}

/// A stream reader; freed on drop.
pub struct Reader(pub *mut s3os_reader);

unsafe impl Send for Reader {}

impl Reader {
    pub fn size(&self) -> u64 {
        let mut size = u64::MAX;
        outcome(unsafe { s3os_reader_size(self.0, &mut size) }).unwrap();
        size
    }

    /// One read of up to `len` bytes.
    pub fn read(&self, len: usize) -> Result<Vec<u8>, Failure> {
        let mut buffer = vec![0u8; len];
        let mut read = usize::MAX;
        let status =
            unsafe { s3os_reader_read(self.0, buffer.as_mut_ptr().cast(), len, &mut read) };
        if status != s3os_status::S3OS_OK {
            assert_eq!(read, 0, "out_read not reset on failure: {}", last_error());
        }
        outcome(status)?;
        buffer.truncate(read);
        Ok(buffer)
    }

    pub fn seek(&self, offset: u64) -> Result<(), Failure> {
        outcome(unsafe { s3os_reader_seek(self.0, offset) })
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        unsafe { s3os_reader_free(self.0) }
    }
}
