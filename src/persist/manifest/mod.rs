//! Manifests: small text files naming the per-shard files of one snapshot or
//! of the append-only file, so a set of files is switched atomically by
//! renaming one manifest over the old one.
//!
//! Snapshot manifest (`<dbfilename>.manifest`):
//!
//! ```text
//! ringkv-snapshot 1
//! gen <u64>
//! shards <n>
//! file <name> shard <i>          one line per shard, every i in 0..n exactly once
//! ```
//!
//! AOF manifest (`<appendfilename>.manifest`, after Redis 7's multi-part AOF):
//!
//! ```text
//! shards <n>
//! file <name> seq <u64> type <b|i> shard <s>    in replay order
//! ```
//!
//! `b` is a base file (an RDB snapshot, at most one per shard), `i` an
//! incremental AOF; a shard's incrementals have distinct sequence numbers.
//!
//! Invariants checked by both parsers: `n` is 1..=16384 (the slot count);
//! names are plain file names (non-empty, not `.` or `..`, no `/`, `\`,
//! control characters or surrounding spaces; inner spaces are allowed, as the
//! keywords after a name are read from the end of the line); no name appears
//! twice. Blank lines are ignored, `\r\n` line ends are accepted. Errors are
//! `String`s naming the 1-based line number; parsing never panics.

use crate::slot::SLOTS;
use std::collections::HashSet;
use std::fmt::Write as _;

/// First line of a snapshot manifest.
pub const SNAPSHOT_MAGIC: &str = "ringkv-snapshot 1";

/// Name of shard `shard`'s RDB file in snapshot generation `gen`.
pub fn snapshot_file_name(dbfilename: &str, gen: u64, shard: usize) -> String {
    format!("{dbfilename}.{gen}.s{shard}.rdb")
}

/// Name of the snapshot manifest.
pub fn snapshot_manifest_name(dbfilename: &str) -> String {
    format!("{dbfilename}.manifest")
}

/// Name of shard `shard`'s AOF base file (an RDB) with sequence number `seq`.
pub fn aof_base_name(appendfilename: &str, seq: u64, shard: usize) -> String {
    format!("{appendfilename}.{seq}.s{shard}.base.rdb")
}

/// Name of shard `shard`'s incremental AOF file with sequence number `seq`.
pub fn aof_incr_name(appendfilename: &str, seq: u64, shard: usize) -> String {
    format!("{appendfilename}.{seq}.s{shard}.incr.aof")
}

/// Name of the AOF manifest.
pub fn aof_manifest_name(appendfilename: &str) -> String {
    format!("{appendfilename}.manifest")
}

pub use crate::config::check_file_name;

// ---------------------------------------------------------------- line reading

/// The non-blank lines of a manifest with their 1-based numbers.
struct Lines<'a> {
    inner: std::iter::Enumerate<std::str::Lines<'a>>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines {
            inner: text.lines().enumerate(),
        }
    }

    /// The next non-blank line, or an error saying `what` was expected.
    fn expect(&mut self, what: &str) -> Result<(usize, &'a str), String> {
        self.next()
            .ok_or_else(|| format!("unexpected end of manifest, expected {what}"))
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        self.inner
            .by_ref()
            .find(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| (i + 1, line))
    }
}

fn line_err(line: usize, msg: impl std::fmt::Display) -> String {
    format!("manifest line {line}: {msg}")
}

/// Parses `<keyword> <number>`.
fn keyword_number(line: usize, text: &str, keyword: &str) -> Result<u64, String> {
    let mut words = text.split_ascii_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some(k), Some(n), None) if k == keyword => parse_num(line, n, keyword),
        _ => Err(line_err(line, format!("expected `{keyword} <number>`"))),
    }
}

fn parse_num(line: usize, text: &str, what: &str) -> Result<u64, String> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    digits
        .then(|| text.parse::<u64>().ok())
        .flatten()
        .ok_or_else(|| line_err(line, format!("invalid {what} {text:?}")))
}

/// Parses the shard count `n` of a `shards <n>` line.
fn parse_shards(line: usize, text: &str) -> Result<usize, String> {
    let n = keyword_number(line, text, "shards")?;
    match usize::try_from(n) {
        Ok(n) if (1..=SLOTS).contains(&n) => Ok(n),
        _ => Err(line_err(
            line,
            format!("shard count {n} not in 1..={SLOTS}"),
        )),
    }
}

/// Parses a shard index that must be below `shards`.
fn parse_shard(line: usize, text: &str, shards: usize) -> Result<usize, String> {
    let i = parse_num(line, text, "shard")?;
    match usize::try_from(i) {
        Ok(i) if i < shards => Ok(i),
        _ => Err(line_err(
            line,
            format!("shard {i} out of range 0..{shards}"),
        )),
    }
}

/// Splits `file <name> <k1> <v1> ... <kn> <vn>` into the name and the values,
/// checking the keywords (read from the end, so names may hold spaces).
fn split_file_line<'a, const N: usize>(
    line: usize,
    text: &'a str,
    keywords: [&str; N],
) -> Result<(&'a str, [&'a str; N]), String> {
    let shape = || {
        let mut want = String::from("expected `file <name>");
        for k in keywords {
            let _ = write!(want, " {k} <{k}>");
        }
        line_err(line, want + "`")
    };
    let mut rest = text.strip_prefix("file ").ok_or_else(shape)?;
    let mut values = [""; N];
    for i in (0..N).rev() {
        let (head, value) = rest.rsplit_once(' ').ok_or_else(shape)?;
        let (head, keyword) = head.rsplit_once(' ').ok_or_else(shape)?;
        if keyword != keywords[i] {
            return Err(shape());
        }
        values[i] = value;
        rest = head;
    }
    check_file_name(rest).map_err(|e| line_err(line, e))?;
    Ok((rest, values))
}

/// Records `name` as seen, failing on a duplicate.
fn note_name(seen: &mut HashSet<String>, line: usize, name: &str) -> Result<(), String> {
    if seen.insert(name.to_owned()) {
        Ok(())
    } else {
        Err(line_err(line, format!("file {name:?} listed twice")))
    }
}

// ---------------------------------------------------------------- snapshot

/// The files of one snapshot generation, one RDB per shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotManifest {
    /// The generation number (grows with every save).
    pub gen: u64,
    /// File names; index = shard.
    pub files: Vec<String>,
}

impl SnapshotManifest {
    /// The manifest's text.
    pub fn render(&self) -> String {
        let mut out = format!(
            "{SNAPSHOT_MAGIC}\ngen {}\nshards {}\n",
            self.gen,
            self.files.len()
        );
        for (shard, name) in self.files.iter().enumerate() {
            let _ = writeln!(out, "file {name} shard {shard}");
        }
        out
    }

    /// Parses and checks a manifest's text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut lines = Lines::new(text);
        let (n, magic) = lines.expect(SNAPSHOT_MAGIC)?;
        if magic.trim_end() != SNAPSHOT_MAGIC {
            return Err(line_err(n, format!("expected `{SNAPSHOT_MAGIC}`")));
        }
        let (n, gen) = lines.expect("`gen <number>`")?;
        let gen = keyword_number(n, gen, "gen")?;
        let (n, shards) = lines.expect("`shards <n>`")?;
        let shards = parse_shards(n, shards)?;
        let mut files: Vec<Option<String>> = vec![None; shards];
        let mut seen = HashSet::new();
        for (n, text) in lines {
            let (name, [shard]) = split_file_line(n, text, ["shard"])?;
            let shard = parse_shard(n, shard, shards)?;
            note_name(&mut seen, n, name)?;
            match files.get_mut(shard) {
                Some(slot @ None) => *slot = Some(name.to_owned()),
                _ => return Err(line_err(n, format!("shard {shard} listed twice"))),
            }
        }
        let files: Option<Vec<String>> = files.into_iter().collect();
        let files = files.ok_or_else(|| missing_shard_error(text, shards))?;
        Ok(SnapshotManifest { gen, files })
    }
}

fn missing_shard_error(text: &str, shards: usize) -> String {
    let lines = text.lines().count();
    format!("manifest line {lines}: not every shard of 0..{shards} has a file")
}

// ---------------------------------------------------------------- AOF

/// What an AOF manifest entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AofFileKind {
    /// An RDB snapshot the shard's incrementals apply on top of (`type b`).
    Base,
    /// An incremental append-only file (`type i`).
    Incr,
}

impl AofFileKind {
    /// The manifest's letter for this kind.
    pub fn letter(self) -> &'static str {
        match self {
            AofFileKind::Base => "b",
            AofFileKind::Incr => "i",
        }
    }

    /// The kind a manifest letter names.
    pub fn from_letter(letter: &str) -> Option<Self> {
        match letter {
            "b" => Some(AofFileKind::Base),
            "i" => Some(AofFileKind::Incr),
            _ => None,
        }
    }
}

/// One file of the append-only file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AofEntry {
    /// The plain file name.
    pub name: String,
    /// Sequence number (orders a shard's incrementals).
    pub seq: u64,
    /// Base or incremental.
    pub kind: AofFileKind,
    /// The shard whose data it holds.
    pub shard: usize,
}

/// The files making up the append-only file of every shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AofManifest {
    /// Number of shards the files were written by.
    pub shards: usize,
    /// The files, in replay order.
    pub entries: Vec<AofEntry>,
}

impl AofManifest {
    /// The manifest's text.
    pub fn render(&self) -> String {
        let mut out = format!("shards {}\n", self.shards);
        for e in &self.entries {
            let _ = writeln!(
                out,
                "file {} seq {} type {} shard {}",
                e.name,
                e.seq,
                e.kind.letter(),
                e.shard
            );
        }
        out
    }

    /// Parses and checks a manifest's text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut lines = Lines::new(text);
        let (n, shards) = lines.expect("`shards <n>`")?;
        let shards = parse_shards(n, shards)?;
        let mut manifest = AofManifest {
            shards,
            entries: Vec::new(),
        };
        let mut names = HashSet::new();
        let mut seqs = HashSet::new();
        for (n, text) in lines {
            let entry = parse_aof_entry(n, text, shards)?;
            note_name(&mut names, n, &entry.name)?;
            let dup = match entry.kind {
                AofFileKind::Base => !seqs.insert((entry.shard, None)),
                AofFileKind::Incr => !seqs.insert((entry.shard, Some(entry.seq))),
            };
            if dup {
                return Err(line_err(n, duplicate_message(&entry)));
            }
            manifest.entries.push(entry);
        }
        Ok(manifest)
    }

    /// Shard `shard`'s files in replay order: its base (if any), then its
    /// incrementals by sequence number.
    pub fn files_of(&self, shard: usize) -> Vec<&AofEntry> {
        let mut files: Vec<&AofEntry> = self.entries.iter().filter(|e| e.shard == shard).collect();
        files.sort_by_key(|e| (e.kind == AofFileKind::Incr, e.seq));
        files
    }

    /// The highest sequence number of any file (0 when there is none).
    pub fn max_seq(&self) -> u64 {
        self.entries.iter().map(|e| e.seq).max().unwrap_or(0)
    }
}

fn parse_aof_entry(n: usize, text: &str, shards: usize) -> Result<AofEntry, String> {
    let (name, [seq, kind, shard]) = split_file_line(n, text, ["seq", "type", "shard"])?;
    let seq = parse_num(n, seq, "seq")?;
    let kind = AofFileKind::from_letter(kind)
        .ok_or_else(|| line_err(n, format!("invalid type {kind:?} (expected b or i)")))?;
    let shard = parse_shard(n, shard, shards)?;
    Ok(AofEntry {
        name: name.to_owned(),
        seq,
        kind,
        shard,
    })
}

fn duplicate_message(entry: &AofEntry) -> String {
    match entry.kind {
        AofFileKind::Base => format!("second base file for shard {}", entry.shard),
        AofFileKind::Incr => format!(
            "second incremental file with seq {} for shard {}",
            entry.seq, entry.shard
        ),
    }
}

#[cfg(test)]
mod tests;
