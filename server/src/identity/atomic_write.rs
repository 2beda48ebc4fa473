//! Replacing a file so that readers see either the old or the new contents, never a mix.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rand::RngCore;

/// Replaces the file at `path` with `contents` atomically.
///
/// The contents go to a new temporary file in the same directory, which is flushed to disk and
/// then renamed over `path`. On Unix the directory is flushed too, so the rename survives a
/// crash. The new file keeps the permissions of the file it replaces, or gets mode 0600 when
/// there was none, because a users file contains password hashes. The owner is not copied.
/// This does blocking I/O, so async callers run it with `spawn_blocking`.
pub fn write_file_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let file_name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} has no file name", path.display()),
        )
    })?;

    let temporary_path = directory.join(format!(
        ".{}.tmp-{}-{:016x}",
        file_name.to_string_lossy(),
        std::process::id(),
        rand::rngs::OsRng.next_u64()
    ));

    let result = write_and_rename(path, &temporary_path, contents);
    if result.is_err() {
        // The temporary file may not exist, depending on where the write failed.
        let _ = fs::remove_file(&temporary_path);
    }
    result?;

    sync_directory(directory)
}

fn write_and_rename(path: &Path, temporary_path: &PathBuf, contents: &[u8]) -> io::Result<()> {
    let mut file = create_new_private(temporary_path)?;
    if let Ok(existing) = fs::metadata(path) {
        file.set_permissions(existing.permissions())?;
    }
    file.write_all(contents)?;
    file.sync_all()?;
    drop(file);

    fs::rename(temporary_path, path)
}

#[cfg(unix)]
fn create_new_private(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;

    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_new_private(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

#[cfg(unix)]
fn sync_directory(directory: &Path) -> io::Result<()> {
    File::open(directory)?.sync_all()
}

#[cfg(not(unix))]
fn sync_directory(_directory: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directory_entries(directory: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(directory)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn write_creates_file() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("users.yml");

        write_file_atomically(&path, b"users: {}\n").unwrap();

        assert_eq!(fs::read_to_string(&path).unwrap(), "users: {}\n");
        assert_eq!(directory_entries(directory.path()), ["users.yml"]);
    }

    #[test]
    fn write_replaces_file() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("users.yml");
        fs::write(&path, "old contents that are longer than the new ones\n").unwrap();

        write_file_atomically(&path, b"new\n").unwrap();

        assert_eq!(fs::read_to_string(&path).unwrap(), "new\n");
        assert_eq!(directory_entries(directory.path()), ["users.yml"]);
    }

    #[cfg(unix)]
    #[test]
    fn write_keeps_permissions() {
        use std::os::unix::fs::PermissionsExt;

        let directory = tempfile::tempdir().unwrap();
        let existing = directory.path().join("existing.yml");
        let fresh = directory.path().join("fresh.yml");
        fs::write(&existing, "old\n").unwrap();
        fs::set_permissions(&existing, fs::Permissions::from_mode(0o640)).unwrap();

        write_file_atomically(&existing, b"new\n").unwrap();
        write_file_atomically(&fresh, b"new\n").unwrap();

        let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&existing), 0o640);
        assert_eq!(mode(&fresh), 0o600);
    }

    #[test]
    fn write_into_missing_directory_fails_cleanly() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("missing").join("users.yml");

        let result = write_file_atomically(&path, b"x");

        assert!(result.is_err());
        assert_eq!(directory_entries(directory.path()), Vec::<String>::new());
    }
}
