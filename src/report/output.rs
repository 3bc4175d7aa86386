//! Atomic output folders: everything is written into a hidden temporary folder beside the
//! target and renamed into place only when complete, so a failed or killed run never leaves
//! a half-written result nor damages the previous one.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// A hidden temporary folder that is renamed onto its target only when committed.
pub struct StagedDir {
    tmp: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl StagedDir {
    /// Creates `<parent>/.<name>.tmp-<pid>` for a result that will become `target`.
    pub fn new(target: &Path) -> io::Result<StagedDir> {
        if target.exists() && !target.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "it exists and is not a folder (refusing to replace a file)",
            ));
        }
        let parent = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(parent)?;
        let name = target
            .file_name()
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "output path has no folder name",
                )
            })?
            .to_string_lossy()
            .into_owned();
        let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        if tmp.exists() {
            fs::remove_dir_all(&tmp)?;
        }
        fs::create_dir_all(&tmp)?;
        Ok(StagedDir {
            tmp,
            target: target.to_path_buf(),
            committed: false,
        })
    }

    /// Folder to write into.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Moves the finished folder into place, replacing any earlier result.
    pub fn commit(mut self) -> io::Result<PathBuf> {
        let dir = replace_dir(&self.tmp, &self.target)?;
        self.committed = true;
        Ok(dir)
    }
}

/// Renames the finished folder `from` to `target`, replacing an earlier `target` only once
/// the new one is in place (the old one is set aside, then deleted; put back on failure).
pub fn replace_dir(from: &Path, target: &Path) -> io::Result<PathBuf> {
    let parent = from.parent().unwrap_or(Path::new(".")).to_path_buf();
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let old = parent.join(format!(".{name}.old-{}", std::process::id()));
    let had_old = target.exists();
    if had_old {
        if old.exists() {
            fs::remove_dir_all(&old)?;
        }
        fs::rename(target, &old)?;
    }
    if let Err(e) = fs::rename(from, target) {
        if had_old {
            let _ = fs::rename(&old, target); // put the earlier result back
        }
        return Err(e);
    }
    if had_old {
        fs::remove_dir_all(&old)?;
    }
    Ok(target.to_path_buf())
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}
