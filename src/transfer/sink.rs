//! Where download bytes go. Ranges arrive out of order and are written at their offsets;
//! nothing is visible at the destination until `commit` succeeds.

use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::ErrorKind as IoKind;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use crate::error::{Error, ErrorKind, Result};

/// A destination of known length that accepts writes at any offset.
pub trait Sink: Send + Sync + 'static {
    /// Called before any write with the object's length, and again should the length turn out
    /// to be different (the bytes are then all written again).
    fn prepare(&self, len: u64) -> impl Future<Output = Result<()>> + Send;

    /// Writes `chunks`, one after the other, starting at `offset`. Taking the chunks as they
    /// came off the network spares copying them into one buffer first.
    fn write_at(&self, offset: u64, chunks: Vec<Bytes>) -> impl Future<Output = Result<()>> + Send;

    /// Makes the complete bytes visible at the destination. Without it they never are.
    fn commit(&self) -> impl Future<Output = Result<()>> + Send;
}

/// A local file written through a temporary file beside it and renamed into place.
pub struct FileSink {
    target: PathBuf,
    overwrite: bool,
    temp: Mutex<Option<(PathBuf, Arc<File>)>>,
}

impl FileSink {
    /// Checks the target before anything is transferred: with `overwrite == false` an existing
    /// target is an error, and nothing is created.
    pub fn new(target: &Path, overwrite: bool) -> Result<FileSink> {
        if target.as_os_str().is_empty() {
            return Err(Error::invalid("download destination: the path is empty"));
        }
        if !overwrite && target.symlink_metadata().is_ok() {
            return Err(already_exists(target));
        }
        Ok(FileSink {
            target: target.to_path_buf(),
            overwrite,
            temp: Mutex::new(None),
        })
    }

    fn file(&self) -> Result<Arc<File>> {
        let guard = self.temp.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some((_, file)) => Ok(file.clone()),
            None => Err(Error::new(
                ErrorKind::Internal,
                "download sink used before prepare",
            )),
        }
    }

    fn create_temp(&self, len: u64) -> Result<(PathBuf, File)> {
        let what = format!("creating a temporary file beside {}", self.target.display());
        if let Some(parent) = self.target.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(&what, &e))?;
        }
        let mut name = self.target.clone().into_os_string();
        name.push(format!(".{:016x}.s3os.tmp", random_u64()));
        let temp = PathBuf::from(name);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|e| Error::io(&what, &e))?;
        if let Err(e) = file.set_len(len) {
            let _ = std::fs::remove_file(&temp);
            return Err(Error::io(&what, &e));
        }
        Ok((temp, file))
    }

    fn commit_blocking(&self) -> Result<()> {
        let mut guard = self.temp.lock().unwrap_or_else(|p| p.into_inner());
        let Some((temp, _file)) = guard.as_ref() else {
            return Err(Error::new(
                ErrorKind::Internal,
                "download sink committed before prepare",
            ));
        };
        let what = format!(
            "moving the download into place at {}",
            self.target.display()
        );
        if self.overwrite {
            std::fs::rename(temp, &self.target).map_err(|e| Error::io(&what, &e))?;
        } else {
            // A hard link fails if the target appeared meanwhile, where a rename would replace it.
            match std::fs::hard_link(temp, &self.target) {
                Ok(()) => {
                    let _ = std::fs::remove_file(temp);
                }
                Err(e) if e.kind() == IoKind::AlreadyExists => {
                    return Err(already_exists(&self.target))
                }
                Err(_) if self.target.symlink_metadata().is_ok() => {
                    return Err(already_exists(&self.target))
                }
                // Some filesystems have no hard links; there the check above is the best we can do.
                Err(_) => std::fs::rename(temp, &self.target).map_err(|e| Error::io(&what, &e))?,
            }
        }
        *guard = None;
        Ok(())
    }
}

impl Sink for FileSink {
    fn prepare(&self, len: u64) -> impl Future<Output = Result<()>> + Send {
        let mut temp = self.temp.lock().unwrap_or_else(|p| p.into_inner());
        let prepared = match temp.as_ref() {
            Some((path, file)) => file
                .set_len(len)
                .map_err(|e| Error::io(&format!("resizing {}", path.display()), &e)),
            None => self
                .create_temp(len)
                .map(|(path, file)| *temp = Some((path, Arc::new(file)))),
        };
        async move { prepared }
    }

    fn write_at(&self, offset: u64, chunks: Vec<Bytes>) -> impl Future<Output = Result<()>> + Send {
        let file = self.file();
        let target = self.target.clone();
        async move {
            let file = file?;
            let written = tokio::task::spawn_blocking(move || write_all_at(&file, &chunks, offset))
                .await
                .map_err(|_| crate::runtime::task_died())?;
            written.map_err(|e| {
                Error::io(&format!("writing the download of {}", target.display()), &e)
            })
        }
    }

    fn commit(&self) -> impl Future<Output = Result<()>> + Send {
        let committed = self.commit_blocking();
        async move { committed }
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        let guard = self.temp.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some((temp, _)) = guard.take() {
            let _ = std::fs::remove_file(temp);
        }
    }
}

/// Writes every byte of `chunks` at `offset` with as few `pwritev` calls as the kernel allows.
fn write_all_at(file: &File, chunks: &[Bytes], mut offset: u64) -> std::io::Result<()> {
    /// Below every system's IOV_MAX (1024 on Linux).
    const MAX_IOVECS: usize = 512;
    let mut chunks: Vec<&[u8]> = chunks
        .iter()
        .map(|c| &c[..])
        .filter(|c| !c.is_empty())
        .collect();
    let mut first = 0;
    while first < chunks.len() {
        let batch = &chunks[first..chunks.len().min(first + MAX_IOVECS)];
        let iovecs: Vec<libc::iovec> = batch
            .iter()
            .map(|c| libc::iovec {
                iov_base: c.as_ptr() as *mut libc::c_void,
                iov_len: c.len(),
            })
            .collect();
        let at = libc::off_t::try_from(offset)
            .map_err(|_| std::io::Error::new(IoKind::InvalidInput, "offset out of range"))?;
        // SAFETY: the iovecs point into `chunks`, which outlive the call, and their count is
        // that of the vector; pwritev only reads that memory.
        let n = unsafe {
            libc::pwritev(
                file.as_raw_fd(),
                iovecs.as_ptr(),
                iovecs.len() as libc::c_int,
                at,
            )
        };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == IoKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        if n == 0 {
            return Err(IoKind::WriteZero.into());
        }
        // Drop what was written: whole chunks, then the front of a partly written one.
        let mut left = n as usize;
        offset += left as u64;
        while left > 0 {
            let chunk = chunks[first];
            if left >= chunk.len() {
                left -= chunk.len();
                first += 1;
            } else {
                chunks[first] = &chunk[left..];
                left = 0;
            }
        }
    }
    Ok(())
}

fn already_exists(target: &Path) -> Error {
    Error::new(
        ErrorKind::AlreadyExists,
        format!(
            "download destination {} already exists (pass overwrite to replace it)",
            target.display()
        ),
    )
}

/// A random number for temporary names, from the standard library's per-process random keys.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish()
}
