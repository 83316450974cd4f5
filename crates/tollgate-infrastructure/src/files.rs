//! Files that hold secrets (the SQLite database, private keys): refused at start-up when group
//! or others can read or write them, with one line naming the file and the `chmod` that fixes it.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use crate::InfraError;

/// Permission bits that let group or others read or write a file.
const GROUP_OR_OTHERS: u32 = 0o066;

/// Suffix of the private half of a signing key pair in the key directory.
const PRIVATE_KEY_SUFFIX: &str = ".key.pem";

/// Refuses an existing file that group or others can read or write; a missing one is fine
/// (whoever creates it later creates it private).
///
/// # Errors
/// [`InfraError::InsecureFile`] naming the file and `chmod 600 <file>`; [`InfraError::Io`] when
/// the file's metadata cannot be read.
pub fn ensure_private(path: &Path) -> Result<(), InfraError> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(InfraError::Io {
                path: path.display().to_string(),
                source,
            })
        }
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & GROUP_OR_OTHERS != 0 {
        return Err(InfraError::InsecureFile(format!(
            "{path} is readable or writable by group or others (mode {mode:03o}); \
             fix it with `chmod 600 {path}`",
            path = path.display()
        )));
    }
    Ok(())
}

/// Applies [`ensure_private`] to every private key (`*.key.pem`) in a key directory; a missing
/// directory is fine (it is created, private, with the first key).
///
/// # Errors
/// As [`ensure_private`], for the first key found exposed.
pub fn ensure_private_keys(dir: &Path) -> Result<(), InfraError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(InfraError::Io {
                path: dir.display().to_string(),
                source,
            })
        }
    };
    let mut keys: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(PRIVATE_KEY_SUFFIX))
        })
        .collect();
    // Sorted, so the same file is named at every attempt.
    keys.sort();
    keys.iter().try_for_each(|k| ensure_private(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_mode(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn only_files_others_can_read_or_write_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("secret");
        assert!(ensure_private(&file).is_ok(), "a missing file is fine");
        fs::write(&file, b"x").unwrap();
        for ok in [0o600, 0o400, 0o700] {
            set_mode(&file, ok);
            assert!(ensure_private(&file).is_ok(), "{ok:o}");
        }
        for bad in [0o644, 0o640, 0o604, 0o620, 0o602] {
            set_mode(&file, bad);
            let message = ensure_private(&file).unwrap_err().to_string();
            assert!(
                message.contains(&format!("`chmod 600 {}`", file.display())),
                "{message}"
            );
            assert!(!message.contains('\n'));
        }
    }

    #[test]
    fn private_keys_in_a_directory_are_checked_and_certificates_are_not() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(ensure_private_keys(&tmp.path().join("missing")).is_ok());
        let cert = tmp.path().join("a.crt.pem");
        let key = tmp.path().join("a.key.pem");
        fs::write(&cert, b"c").unwrap();
        fs::write(&key, b"k").unwrap();
        set_mode(&cert, 0o644);
        set_mode(&key, 0o600);
        assert!(ensure_private_keys(tmp.path()).is_ok());
        set_mode(&key, 0o640);
        let message = ensure_private_keys(tmp.path()).unwrap_err().to_string();
        assert!(message.contains("a.key.pem"), "{message}");
    }
}
