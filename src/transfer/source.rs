//! Where upload bytes come from. Parts are read independently at their offsets, so any number
//! of them can be in flight without a shared cursor.

use std::fs::File;
use std::future::Future;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use super::buffers::BufferPool;
use crate::error::{Error, ErrorKind, Result};

/// Reads up to this size are made on the calling runtime thread.
const INLINE_READ: usize = 256 * 1024;

/// A fixed-length sequence of bytes that can be read at any offset.
pub trait Source: Send + Sync + 'static {
    /// Total length in bytes.
    fn len(&self) -> u64;

    /// Whether the source holds no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads exactly `len` bytes starting at `offset`.
    fn read_at(&self, offset: u64, len: usize) -> impl Future<Output = Result<Bytes>> + Send;
}

/// A local file, read with positioned reads on the blocking pool into reused buffers.
pub struct FileSource {
    file: Arc<File>,
    len: u64,
    path: PathBuf,
    buffers: Arc<BufferPool>,
}

impl FileSource {
    /// Reads parts into buffers from `buffers`, which may serve other files too: a batch's
    /// files moved in parts share theirs, so that memory freed by one file's parts is the next
    /// file's instead of going back to the allocator.
    pub fn with_buffers(self, buffers: Arc<BufferPool>) -> FileSource {
        FileSource { buffers, ..self }
    }

    pub fn open(path: &Path) -> Result<FileSource> {
        if path.as_os_str().is_empty() {
            return Err(Error::invalid("upload source: the path is empty"));
        }
        let what = format!("opening {} for upload", path.display());
        let file = File::open(path).map_err(|e| Error::io(&what, &e))?;
        let meta = file.metadata().map_err(|e| Error::io(&what, &e))?;
        if !meta.is_file() {
            return Err(Error::new(
                ErrorKind::Io,
                format!("{what}: not a regular file"),
            ));
        }
        Ok(FileSource {
            file: Arc::new(file),
            len: meta.len(),
            path: path.to_path_buf(),
            buffers: BufferPool::new(),
        })
    }
}

impl Source for FileSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, len: usize) -> impl Future<Output = Result<Bytes>> + Send {
        let file = self.file.clone();
        let path = self.path.clone();
        let buffers = self.buffers.clone();
        async move {
            let read_part = move || {
                let mut buf = buffers.take(len);
                file.read_exact_at(buf.as_mut_slice(), offset)
                    .map(|()| buf.freeze())
            };
            // A small read from the page cache takes less than handing it to another thread
            // and back, which small objects would otherwise pay for each.
            let read = if len <= INLINE_READ {
                read_part()
            } else {
                tokio::task::spawn_blocking(read_part)
                    .await
                    .map_err(|_| crate::runtime::task_died())?
            };
            read.map_err(|e| {
                let what = format!("reading {} at offset {offset}", path.display());
                if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    Error::new(
                        ErrorKind::Io,
                        format!("{what}: the file shrank during the upload"),
                    )
                } else {
                    Error::io(&what, &e)
                }
            })
        }
    }
}
