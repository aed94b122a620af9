//! Folders on both sides: the regular files under a local directory with the object names
//! they get, and the local paths that the objects under a prefix go to, refusing every name
//! that would put a file outside the directory.

use std::ffi::OsString;
use std::io::ErrorKind as IoKind;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};

/// A file to upload from a folder.
#[derive(Debug)]
pub struct LocalFile {
    pub path: PathBuf,
    /// Its path below the folder with `/` between components: the end of its object name.
    /// An error for a path that is not UTF-8, which no object name can hold.
    pub relative: Result<String>,
    pub len: u64,
}

/// Every regular file under `dir`, recursively, in name order. Symbolic links are not
/// followed (neither to files nor to directories), and other kinds of files are left out. A
/// directory that cannot be read fails the whole walk: a folder is uploaded whole or not at all.
pub fn regular_files(dir: &Path) -> Result<Vec<LocalFile>> {
    let what = format!("reading the folder {}", dir.display());
    let meta = std::fs::metadata(dir).map_err(|e| Error::io(&what, &e))?;
    if !meta.is_dir() {
        return Err(Error::new(
            ErrorKind::Io,
            format!("{what}: not a directory"),
        ));
    }
    let mut files = Vec::new();
    let mut pending: Vec<(PathBuf, Vec<OsString>)> = vec![(dir.to_path_buf(), Vec::new())];
    while let Some((current, components)) = pending.pop() {
        let what = format!("reading the folder {}", current.display());
        let entries: Vec<_> = std::fs::read_dir(&current)
            .map_err(|e| Error::io(&what, &e))?
            .collect::<std::io::Result<_>>()
            .map_err(|e| Error::io(&what, &e))?;
        for entry in entries {
            let file_type = entry.file_type().map_err(|e| Error::io(&what, &e))?;
            let mut below = components.clone();
            below.push(entry.file_name());
            if file_type.is_dir() {
                pending.push((entry.path(), below));
            } else if file_type.is_file() {
                let len = entry.metadata().map_err(|e| Error::io(&what, &e))?.len();
                let path = entry.path();
                let relative = below
                    .iter()
                    .map(|c| c.to_str())
                    .collect::<Option<Vec<&str>>>()
                    .map(|parts| parts.join("/"))
                    .ok_or_else(|| {
                        Error::invalid(format!(
                            "{}: the path is not UTF-8 and cannot become an object name",
                            path.display()
                        ))
                    });
                files.push(LocalFile {
                    path,
                    relative,
                    len,
                });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// An object of a prefix to download.
#[derive(Debug)]
pub struct RemoteObject {
    /// Its name relative to the store's prefix.
    pub name: String,
    /// Its path below the local folder, or why it has none.
    pub relative: Result<PathBuf>,
    pub len: u64,
}

/// The objects of a listing under the folder `prefix` (names relative to the store's prefix),
/// each with the relative path it is downloaded to. Empty objects whose names end in `/` are
/// folder markers that consoles create: they hold no file and are left out.
pub fn remote_objects(prefix: &str, listed: Vec<(String, u64)>) -> Vec<RemoteObject> {
    listed
        .into_iter()
        .filter(|(name, len)| !(name.ends_with('/') && *len == 0))
        .map(|(name, len)| {
            let below = name.strip_prefix(prefix).unwrap_or(&name);
            let relative = safe_relative_path(below).map_err(|why| {
                Error::invalid(format!(
                    "object {name:?} cannot be downloaded below the folder: {why}"
                ))
            });
            RemoteObject {
                name,
                relative,
                len,
            }
        })
        .collect()
}

/// `name` as a path below a folder, if it stays below it: relative, with no empty, `.` or `..`
/// component.
fn safe_relative_path(name: &str) -> std::result::Result<PathBuf, &'static str> {
    if name.is_empty() {
        return Err("the name below the prefix is empty");
    }
    if name.starts_with('/') {
        return Err("it is an absolute path");
    }
    let mut path = PathBuf::new();
    for component in name.split('/') {
        match component {
            "" => return Err("it has an empty path component ('//' or a trailing '/')"),
            "." => return Err("it has a '.' component"),
            ".." => return Err("it has a '..' component, which would leave the folder"),
            component => path.push(component),
        }
    }
    Ok(path)
}

/// The path in `dir` for `relative`, with its parent directories created. Every directory on
/// the way must be a real directory: a symbolic link there (made by anyone who can write into
/// `dir`) could point outside it, so the download is refused.
pub fn prepare_target(dir: &Path, relative: &Path) -> Result<PathBuf> {
    let mut current = dir.to_path_buf();
    let parents: Vec<_> = relative
        .parent()
        .map(|p| p.components().collect())
        .unwrap_or_default();
    for component in parents {
        current.push(component);
        let what = format!("creating the directory {}", current.display());
        let mut created = false;
        loop {
            match current.symlink_metadata() {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(Error::invalid(format!(
                        "{} would pass through the symbolic link {}, which may lead outside {}; refused",
                        relative.display(),
                        current.display(),
                        dir.display()
                    )))
                }
                Ok(meta) if meta.is_dir() => break,
                Ok(_) => {
                    return Err(Error::new(
                        ErrorKind::Io,
                        format!("{what}: a file of that name is in the way"),
                    ))
                }
                Err(e) if e.kind() == IoKind::NotFound && !created => {
                    match std::fs::create_dir(&current) {
                        // Made by another download of the batch meanwhile: looked at again.
                        Ok(()) => created = true,
                        Err(e) if e.kind() == IoKind::AlreadyExists => created = true,
                        Err(e) => return Err(Error::io(&what, &e)),
                    }
                }
                Err(e) => return Err(Error::io(&what, &e)),
            }
        }
    }
    Ok(dir.join(relative))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_leave_the_folder_are_refused() {
        for good in [
            "a",
            "a/b.pt",
            "shard-0/rank-1/x",
            "..x",
            "a/.hidden",
            "sp ace",
        ] {
            assert!(safe_relative_path(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/..",
            "..",
            ".",
            "./a",
            "a//b",
            "a/",
        ] {
            assert!(safe_relative_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn folder_markers_are_left_out_and_bad_names_kept_as_failures() {
        let listed = vec![
            ("ckpt/".to_string(), 0),
            ("ckpt/a".to_string(), 3),
            ("ckpt/../b".to_string(), 4),
            ("ckpt/full/".to_string(), 5),
        ];
        let objects = remote_objects("ckpt/", listed);
        let names: Vec<_> = objects.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["ckpt/a", "ckpt/../b", "ckpt/full/"]);
        assert_eq!(objects[0].relative.as_ref().unwrap(), Path::new("a"));
        assert!(objects[1].relative.is_err());
        assert!(objects[2].relative.is_err());
    }
}
