//! The SQLite file on disk: its directory created (0700), the file created 0600 before SQLite
//! opens it, and a refusal to run on a file that group or others can read.
//!
//! SQLite creates a new database with mode `0644 & !umask`, and gives the `-wal` and `-shm`
//! files it adds later the mode of the database file. So creating the (empty, and therefore
//! valid) database file ourselves with 0600 makes all three private, whatever the umask.

use std::fs::{DirBuilder, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use crate::files::ensure_private;
use crate::InfraError;

/// Suffixes of the files SQLite keeps next to a WAL-mode database.
const COMPANIONS: [&str; 2] = ["-wal", "-shm"];

/// Prepares the file of a `sqlite://<path>[?query]` URL before SQLite opens it: creates its
/// directory (with parents, mode 0700) and the file itself (mode 0600) when missing, then
/// refuses a database, `-wal` or `-shm` file that group or others may read or write.
///
/// A read-only open (`?mode=ro`) creates nothing. Paths that SQLite would percent-decode as URI
/// filenames are taken as written; a `%` in a database path is not supported here.
///
/// # Errors
/// [`InfraError::Io`] when the directory or file cannot be created or inspected,
/// [`InfraError::InsecureFile`] for a file others can read, naming it and the `chmod` that fixes it.
pub(crate) fn prepare(url: &str) -> Result<(), InfraError> {
    let Some(path) = file_path(url) else {
        return Ok(());
    };
    let read_only = url
        .split_once('?')
        .is_some_and(|(_, query)| query.split('&').any(|p| p == "mode=ro"));
    if !read_only {
        create_private(&path)?;
    }
    ensure_private(&path)?;
    for suffix in COMPANIONS {
        let mut companion = path.clone().into_os_string();
        companion.push(suffix);
        ensure_private(Path::new(&companion))?;
    }
    Ok(())
}

/// The file path of an SQLite URL (`sqlite://` stripped, query dropped).
fn file_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://")?;
    let file = rest.split_once('?').map_or(rest, |(file, _)| file);
    (!file.is_empty()).then(|| PathBuf::from(file))
}

fn create_private(path: &Path) -> Result<(), InfraError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // `recursive` gives every directory it creates the mode, parents included; existing
        // ones are left as they are (they may be shared, like /var/lib).
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io(dir))?;
    }
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io(path)(e)),
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> InfraError + '_ {
    move |source| InfraError::Io {
        path: path.display().to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt as _;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn missing_directories_and_the_file_are_created_private() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("a/b/t.db");
        prepare(&format!("sqlite://{}?cache=private", db.display())).unwrap();
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        assert_eq!(mode(&tmp.path().join("a/b")), 0o700);
        // A second start keeps the file as it is.
        prepare(&format!("sqlite://{}", db.display())).unwrap();
    }

    #[test]
    fn a_file_others_can_read_is_refused_with_the_chmod_that_fixes_it() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("t.db");
        let url = format!("sqlite://{}", db.display());
        prepare(&url).unwrap();
        for (file, bits) in [("t.db", 0o644), ("t.db-wal", 0o640), ("t.db-shm", 0o604)] {
            let path = tmp.path().join(file);
            fs::write(&path, b"").unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(bits)).unwrap();
            let message = prepare(&url).unwrap_err().to_string();
            assert!(
                message.contains(&format!("chmod 600 {}", path.display())),
                "{message}"
            );
            assert!(!message.contains('\n'), "{message}");
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        }
        prepare(&url).unwrap();
    }

    #[test]
    fn the_database_and_its_wal_files_are_private_after_a_real_open() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("data/t.db");
        let url = format!("sqlite://{}", db.display());
        // Migrations write, so the WAL and shared-memory files exist afterwards.
        let database =
            crate::db::Database::connect(&url, &crate::db::PoolOptions::default()).unwrap();
        for file in ["t.db", "t.db-wal", "t.db-shm"] {
            assert_eq!(mode(&tmp.path().join("data").join(file)), 0o600, "{file}");
        }
        drop(database);
    }

    #[test]
    fn a_read_only_open_creates_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("x/t.db");
        prepare(&format!("sqlite://{}?mode=ro", db.display())).unwrap();
        assert!(!tmp.path().join("x").exists());
    }
}
