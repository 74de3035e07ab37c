//! Files written whole: a reader (or a crash) sees the old file or the new
//! one, never a part of it.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Writes `bytes` to `path`: to a temporary file beside it first, created
/// exclusively under an unpredictable name (a link planted at that name is
/// never followed) with permission bits `mode`, synced, then renamed over
/// `path`. On error nothing is left behind and `path` is as it was.
///
/// # Errors
/// `InvalidArgument` when `path` names no file (it ends in `..` or `/`) or
/// exists and is not a regular file (a folder, a device, a symbolic link);
/// `Storage` when the folder is missing or cannot be written.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    check_target(path)?;
    let io = |e: std::io::Error| Error::storage(format!("cannot write {}: {e}", path.display()));
    let (mut file, partial) = create_partial(path, mode).map_err(io)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&partial, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(io(e));
    }
    // The rename survives a crash once the folder is on disk; some file
    // systems cannot sync a folder, and the file is in place anyway.
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && let Ok(folder) = std::fs::File::open(folder)
    {
        let _ = folder.sync_all();
    }
    Ok(())
}

/// The permission bits of the database at `db` (0600 when it cannot be
/// read): what is written from its data is no more readable than it.
pub(crate) fn mode_of(db: &Path) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(db).map_or(0o600, |m| m.permissions().mode() & 0o777)
    }
    #[cfg(not(unix))]
    {
        let _ = db;
        0o600
    }
}

/// `path` must name a file, new or regular.
fn check_target(path: &Path) -> Result<()> {
    if path.file_name().is_none() {
        return Err(Error::invalid_argument(format!(
            "{}: not a file name",
            path.display()
        )));
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if !m.file_type().is_file() => Err(Error::invalid_argument(format!(
            "{}: exists and is not a regular file; choose another path",
            path.display()
        ))),
        _ => Ok(()),
    }
}

/// Creates the temporary file beside `path`: exclusively, under a name no
/// other process can guess, with permission bits `mode`.
fn create_partial(path: &Path, mode: u32) -> std::io::Result<(std::fs::File, PathBuf)> {
    use std::hash::{BuildHasher, Hasher};
    let mut attempt = 0u32;
    loop {
        // std's RandomState is seeded from the system's randomness.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(attempt);
        let mut name = path.as_os_str().to_owned();
        name.push(format!(
            ".partial-{}-{:016x}",
            std::process::id(),
            h.finish()
        ));
        let partial = PathBuf::from(name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options
                .mode(mode)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
        }
        match options.open(&partial) {
            Ok(file) => {
                // The umask may have taken bits away.
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
                }
                return Ok((file, partial));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 16 => {
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cha-files-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_file_is_replaced_whole_and_nothing_is_left_beside_it() {
        let dir = scratch("whole");
        let path = dir.join("report.html");
        write_atomically(&path, b"first", 0o600).unwrap();
        write_atomically(&path, b"second", 0o600).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_folder_a_missing_folder_and_a_link_are_refused() {
        let dir = scratch("refused");
        let e = write_atomically(&dir, b"x", 0o600).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument, "{e}");
        let e = write_atomically(&dir.join("no/such/folder.html"), b"x", 0o600).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Storage, "{e}");
        #[cfg(unix)]
        {
            let target = dir.join("target");
            std::fs::write(&target, b"keep").unwrap();
            let link = dir.join("link.html");
            std::os::unix::fs::symlink(&target, &link).unwrap();
            let e = write_atomically(&link, b"x", 0o600).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument, "{e}");
            assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        }
        assert_eq!(
            std::fs::read_dir(&dir)
                .unwrap()
                .filter(|e| e
                    .as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains(".partial-"))
                .count(),
            0
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
