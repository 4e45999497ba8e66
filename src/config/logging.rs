//! Logging: `log` + `env_logger`, one line per event:
//! `2025-01-02T03:04:05.678Z INFO  [shard 3] message`. The bracket names the
//! thread, so every line an executor writes carries its shard id.
//!
//! The level comes from `loglevel` (Redis's names: debug, verbose, notice,
//! warning; Rust's too) and changes at run time through
//! `log::set_max_level` (CONFIG SET, SIGHUP). `RUST_LOG`, when set, wins and
//! is never overridden. `logfile` sends the lines to a file that
//! [`RotatingFile`] rotates by size, keeping `logfile-keep` old files
//! (`ringkv.log.1` newest).

use super::Config;
use log::LevelFilter;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The `log` filter for a `loglevel` name (lower case), if it is one.
pub fn level_filter(name: &str) -> Option<LevelFilter> {
    Some(match name {
        "trace" => LevelFilter::Trace,
        "debug" | "verbose" => LevelFilter::Debug,
        "info" | "notice" => LevelFilter::Info,
        "warn" | "warning" => LevelFilter::Warn,
        "error" => LevelFilter::Error,
        "nothing" | "off" => LevelFilter::Off,
        _ => return None,
    })
}

fn rust_log_set() -> bool {
    std::env::var_os("RUST_LOG").is_some_and(|v| !v.is_empty())
}

/// Applies `loglevel` to the running process (unless `RUST_LOG` rules).
pub fn apply_level(loglevel: &str) {
    if rust_log_set() {
        return;
    }
    if let Some(f) = level_filter(loglevel) {
        log::set_max_level(f);
    }
}

/// Installs the logger. Fails only when the log file cannot be opened.
pub fn init(cfg: &Config) -> Result<(), String> {
    let mut b = env_logger::Builder::new();
    match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.is_empty() => {
            b.parse_filters(&spec);
        }
        _ => {
            b.filter_level(LevelFilter::Trace);
        }
    }
    b.format(|buf, record| {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("?");
        // glommio names executor threads `<our name>-<executor id>`.
        let who = match name.strip_prefix("ringkv-shard-") {
            Some(rest) => format!("shard {}", rest.split('-').next().unwrap_or(rest)),
            None => name.to_string(),
        };
        writeln!(
            buf,
            "{} {:<5} [{who}] {}",
            buf.timestamp_millis(),
            record.level(),
            record.args()
        )
    });
    if !cfg.logfile.is_empty() {
        let file = RotatingFile::open(
            Path::new(&cfg.logfile),
            cfg.logfile_max_size,
            cfg.logfile_keep,
        )
        .map_err(|e| format!("Can't open the log file {}: {e}", cfg.logfile))?;
        b.target(env_logger::Target::Pipe(Box::new(file)));
    }
    b.try_init().map_err(|e| e.to_string())?;
    apply_level(&cfg.loglevel);
    Ok(())
}

/// An append-only log file rotated by size: when a write would take it past
/// `max_size` bytes, `f.(keep-1)` → `f.keep`, ..., `f` → `f.1`, and a fresh
/// `f` is opened. `max_size` 0 never rotates. Writes are whole log lines
/// (env_logger writes each record at once), so no line is split.
pub struct RotatingFile {
    path: PathBuf,
    max_size: u64,
    keep: usize,
    file: File,
    size: u64,
}

impl RotatingFile {
    pub fn open(path: &Path, max_size: u64, keep: usize) -> io::Result<RotatingFile> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            path: path.to_path_buf(),
            max_size,
            keep: keep.max(1),
            file,
            size,
        })
    }

    fn numbered(&self, n: usize) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(format!(".{n}"));
        PathBuf::from(p)
    }

    fn rotate(&mut self) -> io::Result<()> {
        for n in (1..self.keep).rev() {
            match std::fs::rename(self.numbered(n), self.numbered(n + 1)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        std::fs::rename(&self.path, self.numbered(1))?;
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.max_size > 0 && self.size > 0 && self.size + buf.len() as u64 > self.max_size {
            // A failed rotation must not lose the line: keep writing where we are.
            if let Err(e) = self.rotate() {
                let _ = writeln!(
                    io::stderr(),
                    "ringkv: cannot rotate {}: {e}",
                    self.path.display()
                );
                self.size = 0;
            }
        }
        let n = self.file.write(buf)?;
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        assert_eq!(level_filter("notice"), Some(LevelFilter::Info));
        assert_eq!(level_filter("verbose"), Some(LevelFilter::Debug));
        assert_eq!(level_filter("warning"), Some(LevelFilter::Warn));
        assert_eq!(level_filter("loud"), None);
    }

    #[test]
    fn rotates_by_size_keeping_n_files() {
        let dir = std::env::temp_dir().join(format!("ringkv-rot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.log");
        let mut f = RotatingFile::open(&path, 20, 2).unwrap();
        for i in 0..10 {
            f.write_all(format!("line {i:02} ......\n").as_bytes())
                .unwrap(); // 16 bytes
        }
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap();
        assert_eq!(read(path.clone()), "line 09 ......\n");
        assert_eq!(read(dir.join("r.log.1")), "line 08 ......\n");
        assert_eq!(read(dir.join("r.log.2")), "line 07 ......\n");
        assert!(!dir.join("r.log.3").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
