//! Writing output files so that nothing good is lost: every file a
//! command writes is staged first, each into a new temporary file beside
//! its destination, and only when all of them are written are they renamed
//! into place. A command that fails on any of its outputs replaces none.
//!
//! Temporary files are created with `create_new` under a name no user
//! file has (`.NAME.faultline-PID-N.tmp`, a new N until one is free), so
//! they never clobber a file that is already there.

use super::{Failure, error};
use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Files to write together, all or none.
#[derive(Default)]
pub struct Outputs {
    files: Vec<(PathBuf, Vec<u8>)>,
}

impl Outputs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file to write (a later `add` of the same path replaces it).
    pub fn add(&mut self, path: &Path, bytes: impl Into<Vec<u8>>) {
        self.files.retain(|(p, _)| p != path);
        self.files.push((path.to_path_buf(), bytes.into()));
    }

    /// Writes every file, or none: each to its temporary file first; only
    /// when all are written are they renamed over their destinations.
    pub fn commit(self) -> Result<(), Failure> {
        let mut staged: Vec<(PathBuf, &Path)> = Vec::new();
        for (path, bytes) in &self.files {
            match stage(path, bytes) {
                Ok(tmp) => staged.push((tmp, path)),
                Err(e) => {
                    for (tmp, _) in &staged {
                        let _ = std::fs::remove_file(tmp);
                    }
                    return Err(error(format!(
                        "cannot write `{}`: {e}{}",
                        path.display(),
                        if self.files.len() > 1 {
                            "; no file was written"
                        } else {
                            ""
                        }
                    )));
                }
            }
        }
        let mut result = Ok(());
        for (tmp, path) in &staged {
            if result.is_err() {
                let _ = std::fs::remove_file(tmp);
                continue;
            }
            if let Err(e) = std::fs::rename(tmp, path) {
                let _ = std::fs::remove_file(tmp);
                result = Err(error(format!("cannot write `{}`: {e}", path.display())));
            }
        }
        result
    }
}

/// Writes `bytes` to a new temporary file beside `path` and returns it.
fn stage(path: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    let pid = std::process::id();
    for n in 0u32.. {
        let tmp = dir.join(format!(".{name}.faultline-{pid}-{n}.tmp"));
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(mut file) => {
                let written = file.write_all(bytes).and_then(|()| file.sync_all());
                return match written {
                    Ok(()) => Ok(tmp),
                    Err(e) => {
                        let _ = std::fs::remove_file(&tmp);
                        Err(e)
                    }
                };
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    unreachable!("some temporary name is free")
}

/// Writes one file atomically (through a temporary file and a rename).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let mut out = Outputs::new();
    out.add(path, bytes);
    out.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("faultline-out-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_failed_output_replaces_no_file() {
        let dir = scratch("all-or-none");
        let good = dir.join("good.json");
        std::fs::write(&good, "the good one").unwrap();
        let mut out = Outputs::new();
        out.add(&good, "new");
        out.add(&dir.join("missing/p.svg"), "<svg/>");
        assert!(out.commit().is_err());
        assert_eq!(std::fs::read_to_string(&good).unwrap(), "the good one");
        // No temporary file is left behind.
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(left.len(), 1, "{left:?}");
    }

    #[test]
    fn temporary_files_never_clobber_a_users_file() {
        let dir = scratch("no-clobber");
        let mine = dir.join("result.faultline-tmp");
        std::fs::write(&mine, "mine").unwrap();
        let taken = dir.join(format!(
            ".result.csv.faultline-{}-0.tmp",
            std::process::id()
        ));
        std::fs::write(&taken, "also mine").unwrap();
        write_atomically(&dir.join("result.csv"), b"a,b\n").unwrap_or_else(|e| panic!("{}", e.1));
        assert_eq!(std::fs::read_to_string(&mine).unwrap(), "mine");
        assert_eq!(std::fs::read_to_string(&taken).unwrap(), "also mine");
        assert_eq!(
            std::fs::read_to_string(dir.join("result.csv")).unwrap(),
            "a,b\n"
        );
    }
}
