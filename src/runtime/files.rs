//! Small file operations on glommio's io_uring I/O, for use inside executors:
//! writing a whole buffer, and replacing a file atomically (write a temporary
//! file, fdatasync it, rename it over the target, fsync the directory).

use glommio::io::{BufferedFile, Directory, OpenOptions};
use std::path::{Path, PathBuf};

pub type IoResult<T> = Result<T, String>;

fn err(what: &str, path: &Path, e: impl std::fmt::Display) -> String {
    format!("{what} {}: {e}", path.display())
}

/// The OS error inside a glommio error, errno kept (glommio's own conversion
/// keeps only the kind and the text).
pub fn io_error<T>(e: glommio::GlommioError<T>) -> std::io::Error {
    match e {
        glommio::GlommioError::EnhancedIoError { source, .. } => source,
        other => std::io::Error::from(other),
    }
}

/// Writes all of `buf` at `*pos` (retrying short writes) and advances `*pos`.
pub async fn write_all(file: &BufferedFile, buf: &[u8], pos: &mut u64) -> IoResult<()> {
    write_all_io(file, buf, pos)
        .await
        .map_err(|e| format!("write: {e}"))
}

/// [`write_all`] keeping the OS error (its errno). On an error `*pos` has
/// advanced past what a short write did store: the caller decides whether
/// to cut the file back (the AOF writer does).
pub async fn write_all_io(file: &BufferedFile, buf: &[u8], pos: &mut u64) -> std::io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        let n = file
            .write_at(buf[done..].to_vec(), *pos)
            .await
            .map_err(io_error)?;
        if n == 0 {
            return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
        }
        *pos += n as u64;
        done += n;
    }
    Ok(())
}

/// Opens `path` for appending (creating it); returns the file and its size.
pub async fn open_append(path: &Path) -> std::io::Result<(BufferedFile, u64)> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .buffered_open(path)
        .await
        .map_err(io_error)?;
    let size = file.file_size().await.map_err(io_error)?;
    Ok((file, size))
}

/// Creates (truncating) `path` for writing.
pub async fn create(path: &Path) -> IoResult<BufferedFile> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .buffered_open(path)
        .await
        .map_err(|e| err("cannot create", path, e))
}

/// fdatasyncs and closes `file`, renames `tmp` to `target` and fsyncs the
/// directory, so after a crash either the old or the new file is in place.
pub async fn commit(file: BufferedFile, tmp: &Path, target: &Path) -> IoResult<()> {
    file.fdatasync()
        .await
        .map_err(|e| err("cannot fdatasync", tmp, e))?;
    file.close()
        .await
        .map_err(|e| err("cannot close", tmp, e))?;
    glommio::io::rename(tmp, target)
        .await
        .map_err(|e| err("cannot rename", tmp, e))?;
    sync_dir(target).await
}

/// fsyncs the directory holding `path` (makes renames and creations durable).
pub async fn sync_dir(path: &Path) -> IoResult<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let d = Directory::open(dir)
        .await
        .map_err(|e| err("cannot open directory", dir, e))?;
    d.sync().await.map_err(|e| err("cannot fsync", dir, e))?;
    let _ = d.close().await;
    Ok(())
}

/// Replaces `target` with `contents` atomically.
pub async fn replace(target: &Path, contents: &[u8]) -> IoResult<()> {
    let tmp = temp_name(target);
    let file = create(&tmp).await?;
    let mut pos = 0;
    write_all(&file, contents, &mut pos).await?;
    commit(file, &tmp, target).await
}

/// The temporary name a file is written under before its rename.
pub fn temp_name(target: &Path) -> PathBuf {
    let mut name = target.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// Removes `path`, ignoring a file that is already gone.
pub async fn remove_quietly(path: &Path) {
    if let Err(e) = glommio::io::remove(path).await {
        log::debug!("cannot remove {}: {e}", path.display());
    }
}
