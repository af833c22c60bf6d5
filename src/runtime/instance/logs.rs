//! An instance's `stdout.log` and `stderr.log`: opened for appending at each start, rotated
//! once when large, and read back from the end as boot diagnostics.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// A log larger than this at start is moved to `<name>.1` (replacing an older one).
pub const ROTATE_AT: u64 = 8 * 1024 * 1024;

pub fn stdout_path(dir: &Path) -> PathBuf {
    dir.join("stdout.log")
}

pub fn stderr_path(dir: &Path) -> PathBuf {
    dir.join("stderr.log")
}

/// Opens `path` for appending, after rotating it if it has grown past [`ROTATE_AT`].
pub fn open_append(path: &Path) -> io::Result<File> {
    if std::fs::metadata(path).is_ok_and(|m| m.len() > ROTATE_AT) {
        let mut rotated = path.as_os_str().to_owned();
        rotated.push(".1");
        std::fs::rename(path, rotated)?;
    }
    OpenOptions::new().create(true).append(true).open(path)
}

/// The last `max_bytes` of a file as text (lossy UTF-8); empty if it does not exist.
pub fn tail(path: &Path, max_bytes: u64) -> io::Result<String> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(String::new()),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let start = len.saturating_sub(max_bytes);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::with_capacity((len - start) as usize);
    file.take(max_bytes).read_to_end(&mut bytes)?;
    if start > 0 {
        // Do not begin in the middle of a line (or of a UTF-8 sequence).
        if let Some(nl) = bytes.iter().position(|b| *b == b'\n') {
            bytes.drain(..=nl);
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The end of an instance's output: what Azure shows as boot diagnostics.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BootDiagnostics {
    pub stdout: String,
    pub stderr: String,
}

/// Reads the last `max_kib` KiB of both logs of the instance in `dir`.
pub fn boot_diagnostics(dir: &Path, max_kib: u64) -> io::Result<BootDiagnostics> {
    Ok(BootDiagnostics {
        stdout: tail(&stdout_path(dir), max_kib * 1024)?,
        stderr: tail(&stderr_path(dir), max_kib * 1024)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn tail_reads_whole_lines_from_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stdout.log");
        assert_eq!(tail(&path, 10).unwrap(), "");
        let mut f = open_append(&path).unwrap();
        f.write_all(b"first line\nsecond\nthird\n").unwrap();
        assert_eq!(tail(&path, 1000).unwrap(), "first line\nsecond\nthird\n");
        assert_eq!(tail(&path, 10).unwrap(), "third\n");
        let mut again = open_append(&path).unwrap();
        again.write_all(b"fourth\n").unwrap();
        assert!(tail(&path, 1000).unwrap().ends_with("third\nfourth\n"));
    }

    #[test]
    fn large_logs_rotate_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stderr.log");
        std::fs::write(&path, vec![b'x'; ROTATE_AT as usize + 1]).unwrap();
        open_append(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
        assert!(dir.path().join("stderr.log.1").exists());
    }
}
