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
///
/// The temporary is named `<target>.<16 hex digits>.s3os.tmp` (the target's name shortened
/// when the whole would exceed 255 bytes). A process killed mid-download leaves it behind;
/// the `.s3os.tmp` suffix marks it for cleanup.
pub struct FileSink {
    target: PathBuf,
    overwrite: bool,
    /// Flush the bytes to stable storage before the rename and the directory after it, so a
    /// power loss cannot leave an empty or zero-filled file where the previous one was.
    durable: bool,
    temp: Mutex<Option<(PathBuf, Arc<File>)>>,
}

/// Writes up to this size are made on the calling runtime thread.
const INLINE_WRITE: usize = 256 * 1024;

/// The longest file name (one path component) Linux file systems accept, in bytes.
const NAME_MAX: usize = 255;
/// What a temporary file's name adds to the target's: `.<16 hex digits>.s3os.tmp`.
const TEMP_SUFFIX_LEN: usize = 1 + 16 + ".s3os.tmp".len();

impl FileSink {
    /// Checks the target before anything is transferred: with `overwrite == false` an existing
    /// target is an error, and nothing is created.
    pub fn new(target: &Path, overwrite: bool, durable: bool) -> Result<FileSink> {
        if target.as_os_str().is_empty() {
            return Err(Error::invalid("download destination: the path is empty"));
        }
        if !overwrite && target.symlink_metadata().is_ok() {
            return Err(already_exists(target));
        }
        Ok(FileSink {
            target: target.to_path_buf(),
            overwrite,
            durable,
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
        let temp = temp_path(&self.target);
        let create = || OpenOptions::new().write(true).create_new(true).open(&temp);
        // The directory usually exists: it is made only when the file cannot be created.
        let file = match create() {
            Err(e) if e.kind() == IoKind::NotFound => {
                if let Some(parent) = self.target.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|e| Error::io(&what, &e))?;
                }
                create()
            }
            created => created,
        }
        .map_err(|e| Error::io(&what, &e))?;
        if let Err(e) = file.set_len(len) {
            let _ = std::fs::remove_file(&temp);
            return Err(Error::io(&what, &e));
        }
        Ok((temp, file))
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
            let len: usize = chunks.iter().map(Bytes::len).sum();
            // A small write into the page cache takes less than handing it to another thread
            // and back, which small objects would otherwise pay for each.
            let written = if len <= INLINE_WRITE {
                write_all_at(&file, &chunks, offset)
            } else {
                tokio::task::spawn_blocking(move || write_all_at(&file, &chunks, offset))
                    .await
                    .map_err(|_| crate::runtime::task_died())?
            };
            written.map_err(|e| {
                Error::io(&format!("writing the download of {}", target.display()), &e)
            })
        }
    }

    fn commit(&self) -> impl Future<Output = Result<()>> + Send {
        // From here on the temporary is the commit's to move into place or remove.
        let prepared = self.temp.lock().unwrap_or_else(|p| p.into_inner()).take();
        let (target, overwrite, durable) = (self.target.clone(), self.overwrite, self.durable);
        async move {
            let Some((temp, file)) = prepared else {
                return Err(Error::new(
                    ErrorKind::Internal,
                    "download sink committed before prepare",
                ));
            };
            // Flushing a large file can take seconds: not on a runtime worker.
            tokio::task::spawn_blocking(move || {
                let committed = move_into_place(&temp, &file, &target, overwrite, durable);
                if committed.is_err() {
                    let _ = std::fs::remove_file(&temp);
                }
                committed
            })
            .await
            .map_err(|_| crate::runtime::task_died())?
        }
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

/// Makes the complete temporary file `temp` the `target`: renamed over it with `overwrite`,
/// otherwise linked (or renamed) only if no file appeared there meanwhile.
fn move_into_place(
    temp: &Path,
    file: &File,
    target: &Path,
    overwrite: bool,
    durable: bool,
) -> Result<()> {
    let what = format!("moving the download into place at {}", target.display());
    if durable {
        file.sync_data().map_err(|e| Error::io(&what, &e))?;
    }
    if overwrite {
        std::fs::rename(temp, target).map_err(|e| Error::io(&what, &e))?;
    } else {
        // A hard link fails if the target appeared meanwhile, where a rename would replace it.
        match std::fs::hard_link(temp, target) {
            Ok(()) => {
                let _ = std::fs::remove_file(temp);
            }
            Err(e) if e.kind() == IoKind::AlreadyExists => return Err(already_exists(target)),
            // Some file systems have no hard links; a rename that refuses to replace does the
            // same there.
            Err(_) => match rename_no_replace(temp, target) {
                Ok(()) => {}
                Err(e) if e.kind() == IoKind::AlreadyExists => return Err(already_exists(target)),
                Err(e) => return Err(Error::io(&what, &e)),
            },
        }
    }
    if durable {
        sync_parent(target).map_err(|e| Error::io(&what, &e))?;
    }
    Ok(())
}

/// `<target>.<random>.s3os.tmp` beside the target, with the target's name cut short (at a
/// character boundary where it is UTF-8) so that the temporary's name fits in [`NAME_MAX`].
fn temp_path(target: &Path) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let name = target.file_name().map_or(&[][..], |n| n.as_bytes());
    let mut keep = name.len().min(NAME_MAX - TEMP_SUFFIX_LEN);
    if let Ok(text) = std::str::from_utf8(name) {
        while !text.is_char_boundary(keep) {
            keep -= 1;
        }
    }
    let mut temp = std::ffi::OsStr::from_bytes(&name[..keep]).to_os_string();
    temp.push(format!(".{:016x}.s3os.tmp", random_u64()));
    target.with_file_name(temp)
}

/// Renames `from` to `to` unless `to` exists (`AlreadyExists` then), atomically.
fn rename_no_replace(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = |path: &Path| {
        std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::new(IoKind::InvalidInput, "path contains a NUL byte"))
    };
    let (from, to) = (c_path(from)?, c_path(to)?);
    // SAFETY: both are NUL-terminated paths that live across the call.
    let renamed = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if renamed == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Flushes the directory holding `path`, which makes a rename into it survive a power loss.
fn sync_parent(path: &Path) -> std::io::Result<()> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(parent)?.sync_all()
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
