//! Start-up loading, on the main thread before the executors start (plain
//! blocking file I/O is fine here: nothing serves yet).
//!
//! Sources, in Redis's order of preference:
//! 1. `appendonly yes`: the AOF named by `<dir>/<appenddirname>/<appendfilename>.manifest`
//!    — per saved shard a base (RDB) and incr files (RESP effects), replayed
//!    in parallel, one thread per saved shard. Cross-shard transaction groups
//!    are applied only when their `#COMMIT` is found in any file. A torn last
//!    record is trimmed (with a warning, and on disk, so appends continue
//!    from a clean end); corruption elsewhere refuses to start.
//! 2. The snapshot named by `<dir>/<dbfilename>.manifest` (one RDB per shard).
//! 3. A plain Redis `<dir>/<dbfilename>` (the migration path from Redis).
//!
//! Every key goes to the shard that owns its slot now, so the thread count may
//! differ from the run that saved; expired keys are dropped. Errors name the
//! file and the byte offset. With `appendonly yes`, the AOF is (re)written in
//! the current layout when it is missing or was saved with another thread
//! count, so every shard appends to a file of its own afterwards.

use super::replay;
use crate::config::Config;
use crate::persist::manifest::{self, AofEntry, AofFileKind, AofManifest, SnapshotManifest};
use crate::persist::{aof, rdb};
use crate::shard::value::{EncodingLimits, Value};
use crate::shard::Shard;
use crate::slot::{key_slot, SlotTable};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What start-up found: filled shards and, with AOF, each shard's incr file.
pub struct Loaded {
    pub shards: Vec<Shard>,
    pub aof_incr: Vec<Option<PathBuf>>,
}

/// One saved shard's files, parsed: its base entries and its incr files.
/// A saved shard's files: its base's entries and function libraries, and
/// its incr files.
type Parsed = (RdbContents, Vec<(PathBuf, aof::AofFile)>);

/// One RDB file's live entries and its function libraries' code.
type RdbContents = (Vec<rdb::RdbEntry<Value>>, Vec<Vec<u8>>);

fn unix_ms() -> u64 {
    crate::clock::unix_ms()
}

/// Loads the data for `threads` shards.
pub fn load(cfg: &Config, threads: usize) -> Result<Loaded, String> {
    let slots = SlotTable::contiguous(threads);
    let fresh = || -> Vec<Shard> {
        (0..threads)
            .map(|i| {
                let mut s = Shard::new(i, slots, cfg.databases);
                s.configure(cfg);
                s
            })
            .collect()
    };
    let dir = Path::new(&cfg.dir);
    if !dir.is_dir() {
        // As redis-server, which cannot chdir there.
        return Err(format!(
            "Can't chdir to '{}': No such file or directory",
            cfg.dir
        ));
    }
    if cfg.appendonly {
        let aof_dir = dir.join(&cfg.appenddirname);
        let manifest_path = aof_dir.join(manifest::aof_manifest_name(&cfg.appendfilename));
        if manifest_path.exists() {
            let text = read_text(&manifest_path)?;
            let m = AofManifest::parse(&text)
                .map_err(|e| format!("{}: {e}", manifest_path.display()))?;
            let listed: Vec<String> = m.entries.iter().map(|e| e.name.clone()).collect();
            remove_leftovers(&aof_dir, &format!("{}.", cfg.appendfilename), &listed);
            let old = replay_aof(cfg, &aof_dir, &m)?;
            if m.shards == threads {
                let aof_incr = (0..threads)
                    .map(|s| {
                        m.files_of(s)
                            .iter()
                            .rev()
                            .find(|e| e.kind == AofFileKind::Incr)
                            .map(|e| aof_dir.join(&e.name))
                    })
                    .collect::<Vec<_>>();
                if aof_incr.iter().all(Option::is_some) {
                    let mut shards = old;
                    shards.iter_mut().for_each(|s| s.settle_dirty(u64::MAX));
                    crate::persist::status::set_aof_base_size(base_bytes(&aof_dir, &m));
                    return Ok(Loaded { shards, aof_incr });
                }
            }
            let mut shards = fresh();
            redistribute(old, &mut shards);
            let aof_incr = write_initial_aof(cfg, &aof_dir, &shards, m.max_seq() + 1, Some(&m))?;
            return Ok(Loaded { shards, aof_incr });
        }
        let mut shards = fresh();
        load_snapshot_sources(cfg, dir, &mut shards)?;
        let aof_incr = write_initial_aof(cfg, &aof_dir, &shards, 1, None)?;
        return Ok(Loaded { shards, aof_incr });
    }
    let mut shards = fresh();
    load_snapshot_sources(cfg, dir, &mut shards)?;
    Ok(Loaded {
        aof_incr: vec![None; threads],
        shards,
    })
}

/// Loads `<dbfilename>.manifest`'s files, else a plain `<dbfilename>`.
fn load_snapshot_sources(cfg: &Config, dir: &Path, shards: &mut [Shard]) -> Result<(), String> {
    let manifest_path = dir.join(manifest::snapshot_manifest_name(&cfg.dbfilename));
    let files: Vec<PathBuf> = if manifest_path.exists() {
        let text = read_text(&manifest_path)?;
        let m = SnapshotManifest::parse(&text)
            .map_err(|e| format!("{}: {e}", manifest_path.display()))?;
        remove_leftovers(dir, &format!("{}.", cfg.dbfilename), &m.files);
        m.files.iter().map(|f| dir.join(f)).collect()
    } else {
        let plain = dir.join(&cfg.dbfilename);
        if !plain.exists() {
            return Ok(());
        }
        vec![plain]
    };
    let started = std::time::Instant::now();
    let now = unix_ms();
    let databases = cfg.databases;
    // Parse files in parallel; each yields its live entries.
    let limits = EncodingLimits::from_config(cfg);
    let parsed = in_parallel(files.iter(), |path| read_rdb(path, now, databases, limits));
    let mut keys = 0usize;
    for contents in parsed {
        let (entries, functions) = contents?;
        register_functions(&functions)?;
        for e in entries {
            let owner = shards[0].slots().shard_of_slot(key_slot(&e.key));
            shards[owner].set(e.db as usize, &e.key, e.value, e.expire_at_ms);
            keys += 1;
        }
    }
    shards.iter_mut().for_each(|s| s.settle_dirty(u64::MAX));
    log::info!(
        "DB loaded from disk: {keys} keys from {} file(s) in {:.3} seconds",
        files.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Makes the libraries of a file loaded the server's (a library of the
/// same name is replaced: a file is the truth about what it holds).
fn register_functions(codes: &[Vec<u8>]) -> Result<(), String> {
    use crate::cmd::function::{library, registry};
    for code in codes {
        let lib = library::load(code, false).map_err(|e| format!("Failed loading library: {e}"))?;
        registry::join(vec![lib], registry::Join::Replace, true)
            .map_err(|e| format!("Failed loading library: {e}"))?;
    }
    Ok(())
}

/// The live entries of one RDB file (expired ones and bad dbs rejected)
/// and its function libraries. `limits` are the configured encoding limits
/// loaded values convert by.
fn read_rdb(
    path: &Path,
    now: u64,
    databases: usize,
    limits: EncodingLimits,
) -> Result<RdbContents, String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut entries = Vec::new();
    let mut bad_db = None;
    let loaded = rdb::load(&data, limits, |e| {
        if e.db as usize >= databases {
            bad_db.get_or_insert(e.db);
        } else if e.expire_at_ms == 0 || e.expire_at_ms > now {
            entries.push(e);
        }
    })
    .map_err(|e| format!("{}: {e}", path.display()))?;
    if let Some(db) = bad_db {
        return Err(format!(
            "{}: holds keys of database {db} but only {databases} databases are configured",
            path.display()
        ));
    }
    Ok((entries, loaded.functions))
}

/// Removes what an interrupted save or rewrite left in `dir`: files named
/// `<prefix>…` ending in `.rdb`, `.aof` or `.tmp` (files of a generation no
/// manifest names, temporary files) that are not in `keep`.
fn remove_leftovers(dir: &Path, prefix: &str, keep: &[String]) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours =
            name.starts_with(prefix) && [".rdb", ".aof", ".tmp"].iter().any(|s| name.ends_with(s));
        if ours && !keep.contains(&name) {
            log::info!("Removing {name}, left by an interrupted save");
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Runs `work` on every item, one thread each (start-up only: a handful of
/// files or saved shards), and returns the results in item order.
fn in_parallel<T: Send, R: Send>(
    items: impl IntoIterator<Item = T>,
    work: impl Fn(T) -> Result<R, String> + Sync,
) -> Vec<Result<R, String>> {
    std::thread::scope(|scope| {
        let work = &work;
        let handles: Vec<_> = items
            .into_iter()
            .map(|item| scope.spawn(move || work(item)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("loader thread panicked".into()))
            })
            .collect()
    })
}

fn read_text(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Replays every saved shard's AOF files into shards of the saved layout.
fn replay_aof(cfg: &Config, aof_dir: &Path, m: &AofManifest) -> Result<Vec<Shard>, String> {
    let started = std::time::Instant::now();
    let now = unix_ms();
    let slots = SlotTable::contiguous(m.shards);
    // Phase 1: read and parse every file (in parallel per saved shard).
    let parsed = in_parallel(0..m.shards, |s| {
        parse_shard_files(aof_dir, &m.files_of(s), now, cfg)
    });
    let parsed: Vec<Parsed> = parsed.into_iter().collect::<Result<_, _>>()?;
    // The bases' libraries first: the incr files' FUNCTION commands follow them.
    for ((_, functions), _) in &parsed {
        register_functions(functions)?;
    }
    // A transaction is committed when all of its commit records are found
    // (each shard of it wrote one after its parts).
    let mut commits: HashMap<String, (usize, usize)> = HashMap::new();
    for (_, files) in &parsed {
        for (_, f) in files {
            for c in &f.commits {
                let (tag, parts) = crate::shard::journal::parse_commit_tag(c);
                let e = commits.entry(tag.to_string()).or_insert((0, 0));
                e.0 += 1;
                e.1 = e.1.max(parts.unwrap_or(1));
            }
        }
    }
    // Phase 2: apply, in parallel per saved shard.
    let committed = |tag: &str| commits.get(tag).is_some_and(|&(seen, need)| seen >= need);
    let results = in_parallel(parsed.into_iter().enumerate(), |(s, ((base, _), files))| {
        let mut shard = Shard::new(s, slots, cfg.databases);
        shard.configure(cfg);
        for e in base {
            shard.set(e.db as usize, &e.key, e.value, e.expire_at_ms);
        }
        for (path, file) in &files {
            replay::apply(&mut shard, file, &committed)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        // Replay expires nothing while it runs (see replay.rs): what expired
        // before start-up goes now, as a snapshot load drops it.
        shard.remove_expired(now);
        Ok(shard)
    });
    let shards: Vec<Shard> = results.into_iter().collect::<Result<_, _>>()?;
    let keys: usize = shards.iter().map(|s| s.entries().count()).sum();
    log::info!(
        "DB loaded from append only file: {keys} keys in {:.3} seconds",
        started.elapsed().as_secs_f64()
    );
    Ok(shards)
}

/// Reads one saved shard's base and incr files. A torn tail is trimmed on
/// disk (so later appends follow a complete record) with a warning.
fn parse_shard_files(
    aof_dir: &Path,
    files: &[&AofEntry],
    now: u64,
    cfg: &Config,
) -> Result<Parsed, String> {
    // Values the server accepted must load again, whatever their size.
    let max_bulk = usize::try_from(cfg.proto_max_bulk_len)
        .unwrap_or(usize::MAX)
        .max(aof::MAX_BULK_LEN);
    let mut base = (Vec::new(), Vec::new());
    let mut incrs = Vec::new();
    for entry in files {
        let path = aof_dir.join(&entry.name);
        match entry.kind {
            AofFileKind::Base => {
                base = read_rdb(&path, now, cfg.databases, EncodingLimits::from_config(cfg))?
            }
            AofFileKind::Incr => {
                // Every listed file exists (a rewrite creates its new incr
                // files before the manifest names them): a missing one is
                // lost data, never silently an empty file (as Redis).
                let data = std::fs::read(&path).map_err(|e| {
                    format!(
                        "Unable to obtain the AOF file {} length. stat: {}",
                        path.display(),
                        crate::persist::status::strerror(e.raw_os_error().unwrap_or(libc::EIO))
                    )
                })?;
                let file = aof::parse_with_limit(&data, max_bulk).map_err(|e| {
                    format!(
                        "Bad file format reading the append only file {}: {e}",
                        path.display()
                    )
                })?;
                if let Some(at) = file.torn_tail {
                    log::warn!(
                        "!!! Warning: short read while loading the AOF file {}!!! Trimming {} bytes at offset {at} (a write torn by a crash)",
                        path.display(),
                        data.len() - at
                    );
                    trim(&path, at as u64)?;
                }
                incrs.push((path, file));
            }
        }
    }
    Ok((base, incrs))
}

fn trim(path: &Path, len: u64) -> Result<(), String> {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    f.set_len(len)
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("cannot truncate {}: {e}", path.display()))
}

/// Moves every entry of `from` to the shard of `to` owning its slot.
fn redistribute(from: Vec<Shard>, to: &mut [Shard]) {
    for old in from {
        for (db, e) in old.entries() {
            let owner = to[0].slots().shard_of_slot(key_slot(e.key()));
            to[owner].set(db, e.key(), e.value.clone(), e.expire_at());
        }
    }
    to.iter_mut().for_each(|s| s.settle_dirty(u64::MAX));
}

/// Writes a fresh AOF for the current layout: per shard a base RDB holding
/// its data and an empty incr file, then the manifest (atomically), then
/// removes the files of `previous`. Returns each shard's incr file.
fn write_initial_aof(
    cfg: &Config,
    aof_dir: &Path,
    shards: &[Shard],
    seq: u64,
    previous: Option<&AofManifest>,
) -> Result<Vec<Option<PathBuf>>, String> {
    std::fs::create_dir_all(aof_dir)
        .map_err(|e| format!("cannot create {}: {e}", aof_dir.display()))?;
    let mut m = AofManifest {
        shards: shards.len(),
        entries: Vec::new(),
    };
    let mut incrs = Vec::new();
    for shard in shards {
        let base = manifest::aof_base_name(&cfg.appendfilename, seq, shard.id());
        let incr = manifest::aof_incr_name(&cfg.appendfilename, seq, shard.id());
        write_rdb(&aof_dir.join(&base), shard)?;
        write_file(&aof_dir.join(&incr), b"")?;
        m.entries.push(AofEntry {
            name: base,
            seq,
            kind: AofFileKind::Base,
            shard: shard.id(),
        });
        m.entries.push(AofEntry {
            name: incr.clone(),
            seq,
            kind: AofFileKind::Incr,
            shard: shard.id(),
        });
        incrs.push(Some(aof_dir.join(incr)));
    }
    let manifest_path = aof_dir.join(manifest::aof_manifest_name(&cfg.appendfilename));
    write_file(&manifest_path, m.render().as_bytes())?;
    crate::persist::status::set_aof_base_size(base_bytes(aof_dir, &m));
    if let Some(prev) = previous {
        for e in &prev.entries {
            let _ = std::fs::remove_file(aof_dir.join(&e.name));
        }
    }
    log::info!(
        "Created the append only file for {} shard(s) in {}",
        shards.len(),
        aof_dir.display()
    );
    Ok(incrs)
}

/// Total size of the base files `m` names: the AOF size an automatic rewrite
/// measures growth against.
fn base_bytes(aof_dir: &Path, m: &AofManifest) -> u64 {
    m.entries
        .iter()
        .filter(|e| e.kind == AofFileKind::Base)
        .filter_map(|e| std::fs::metadata(aof_dir.join(&e.name)).ok())
        .map(|md| md.len())
        .sum()
}

/// Writes `shard` as an RDB file, atomically.
fn write_rdb(path: &Path, shard: &Shard) -> Result<(), String> {
    let tmp = tmp_path(path);
    let err = |e: std::io::Error| format!("cannot write {}: {e}", tmp.display());
    let file = std::fs::File::create(&tmp).map_err(err)?;
    let mut w = rdb::RdbWriter::new(std::io::BufWriter::new(file), rdb::AuxInfo::now(0));
    if shard.id() == 0 {
        for code in crate::cmd::function::registry::codes() {
            w.function(&code);
        }
    }
    for db in 0..shard.databases() {
        let entries: Vec<_> = shard.entries().filter(|(d, _)| *d == db).collect();
        if entries.is_empty() {
            continue;
        }
        let volatile = entries.iter().filter(|(_, e)| e.expire_at() != 0).count();
        w.select_db(db as u32, entries.len() as u64, volatile as u64)
            .map_err(err)?;
        for (_, e) in entries {
            w.entry(e.key(), &e.value, e.expire_at()).map_err(err)?;
        }
    }
    let file = w.finish().map_err(err)?;
    let file = file.into_inner().map_err(|e| err(e.into_error()))?;
    file.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)?;
    sync_parent(path)
}

/// Writes `contents` to `path` atomically (temporary file, fsync, rename).
fn write_file(path: &Path, contents: &[u8]) -> Result<(), String> {
    let tmp = tmp_path(path);
    let err = |e: std::io::Error| format!("cannot write {}: {e}", tmp.display());
    std::fs::write(&tmp, contents).map_err(err)?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)?;
    sync_parent(path)
}

fn sync_parent(path: &Path) -> Result<(), String> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| format!("cannot fsync {}: {e}", dir.display()))
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}
