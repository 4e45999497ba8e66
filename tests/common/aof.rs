//! Helpers shared by the AOF tests (`tests/aof.rs`, `tests/aof_crash.rs`):
//! starting and stopping a server with `appendonly yes`, and reading and
//! checking the AOF manifest and the files it names.

use super::persist::{aof_ringkv, file_names, TempDir};
use super::TestServer;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// ringkv with `appendfsync always`.
pub fn start_always(dir: &Path, threads: usize) -> TestServer {
    aof_ringkv(dir, threads, &["--appendfsync", "always"]).start()
}

/// SIGTERM and a clean exit (the AOF is flushed; no snapshot: `--save ""`).
pub fn stop_cleanly(server: &mut TestServer) {
    server.signal(libc::SIGTERM);
    let status = server
        .wait_exit(Duration::from_secs(60))
        .unwrap_or_else(|| panic!("still running 60 s after SIGTERM\n{}", server.log()));
    assert!(status.success(), "exit {status}\n{}", server.log());
}

/// One `file` line of the AOF manifest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AofFile {
    pub name: String,
    pub seq: u64,
    /// 'b' (base, RDB) or 'i' (incremental, RESP).
    pub kind: char,
    pub shard: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AofManifest {
    pub shards: usize,
    pub files: Vec<AofFile>,
}

impl AofManifest {
    pub fn names(&self) -> BTreeSet<String> {
        self.files.iter().map(|f| f.name.clone()).collect()
    }

    pub fn of_kind(&self, kind: char) -> impl Iterator<Item = &AofFile> {
        self.files.iter().filter(move |f| f.kind == kind)
    }
}

/// Reads and checks `<aof_dir>/<appendfilename>.manifest`.
pub fn read_aof_manifest(aof_dir: &Path, appendfilename: &str) -> AofManifest {
    let path = aof_dir.join(format!("{appendfilename}.manifest"));
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let bad = |why: &str| -> ! { panic!("AOF manifest: {why}:\n{text}") };
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let shards = match lines
        .next()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
    {
        Some(v) if v.len() == 2 && v[0] == "shards" => {
            v[1].parse().unwrap_or_else(|_| bad("shards"))
        }
        _ => bad("first line is not `shards <n>`"),
    };
    let mut files = Vec::new();
    for l in lines {
        let f = match l.split_whitespace().collect::<Vec<_>>()[..] {
            ["file", name, "seq", seq, "type", kind, "shard", shard]
                if kind == "b" || kind == "i" =>
            {
                AofFile {
                    name: name.to_string(),
                    seq: seq.parse().unwrap_or_else(|_| bad("seq")),
                    kind: kind.chars().next().unwrap(),
                    shard: shard.parse().unwrap_or_else(|_| bad("shard")),
                }
            }
            _ => bad("malformed file line"),
        };
        let want_name = match f.kind {
            'b' => format!("{appendfilename}.{}.s{}.base.rdb", f.seq, f.shard),
            _ => format!("{appendfilename}.{}.s{}.incr.aof", f.seq, f.shard),
        };
        assert_eq!(f.name, want_name, "file name in the AOF manifest:\n{text}");
        assert!(f.shard < shards, "shard out of range:\n{text}");
        files.push(f);
    }
    for s in 0..shards {
        let bases = files
            .iter()
            .filter(|f| f.shard == s && f.kind == 'b')
            .count();
        assert!(bases <= 1, "shard {s} has {bases} base files:\n{text}");
    }
    AofManifest { shards, files }
}

pub fn aof_manifest(dir: &TempDir) -> AofManifest {
    read_aof_manifest(&dir.aof_dir(), "appendonly.aof")
}

/// Asserts that the AOF dir holds exactly the manifest and the files it names,
/// waiting up to 5 s (files replaced by a rewrite may be removed in the background).
pub fn assert_only_manifest_files(aof_dir: &Path, appendfilename: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut want = read_aof_manifest(aof_dir, appendfilename).names();
        want.insert(format!("{appendfilename}.manifest"));
        let got = file_names(aof_dir);
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: files the manifest does not name: {:?}; named but missing: {:?}",
            aof_dir.display(),
            got.difference(&want).collect::<Vec<_>>(),
            want.difference(&got).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .len()
}

/// Total size of the incr files the manifest names.
pub fn incr_bytes(dir: &TempDir, m: &AofManifest) -> u64 {
    m.of_kind('i')
        .map(|f| file_size(&dir.aof_dir().join(&f.name)))
        .sum()
}

/// The incr file holding the most bytes.
pub fn largest_incr(dir: &TempDir) -> (String, PathBuf) {
    let m = aof_manifest(dir);
    let f = m
        .of_kind('i')
        .max_by_key(|f| file_size(&dir.aof_dir().join(&f.name)))
        .expect("an incr file");
    (f.name.clone(), dir.aof_dir().join(&f.name))
}
