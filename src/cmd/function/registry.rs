//! The function libraries every core shares (FUNCTION LOAD's libraries):
//! one immutable [`Registry`] behind an atomic pointer. Readers (FCALL,
//! FUNCTION LIST) take the current one without a lock; a change builds a
//! new registry and swaps it in. Changes are made by shard 0's core only
//! (FUNCTION's writes run there, cmd/function/mod.rs) or by start-up
//! loading before the executors run, so two changes never race.
//!
//! Each core compiles a library into its own Lua state when one of its
//! functions is first called (host.rs), and starts again from an empty state
//! when the registry's generation moves on.

use arc_swap::ArcSwap;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// A function's flags as Redis 7.0 lists them (`scripts_flags_def`), in
/// that order; bit i is flag i.
pub const FLAG_NAMES: &[&str] = &[
    "no-writes",
    "allow-oom",
    "allow-stale",
    "no-cluster",
    "allow-cross-slot-keys",
];

/// The `no-writes` bit of [`FunctionInfo::flags`].
pub const NO_WRITES: u32 = 1;

/// One registered function.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionInfo {
    pub name: String,
    pub description: Option<Vec<u8>>,
    /// Bits of [`FLAG_NAMES`].
    pub flags: u32,
}

/// One library: its name, its whole code (the `#!lua` line included, as
/// FUNCTION LIST WITHCODE and DUMP give it back) and its functions in the
/// order they were registered.
#[derive(Debug, PartialEq)]
pub struct Library {
    pub name: String,
    pub code: Arc<[u8]>,
    pub functions: Vec<FunctionInfo>,
}

/// Every library, by name, and where each function is.
#[derive(Debug, Default)]
pub struct Registry {
    pub generation: u64,
    pub libraries: BTreeMap<String, Arc<Library>>,
    /// Function name → (its library, its index in the library's functions).
    functions: hashbrown::HashMap<String, (Arc<Library>, usize)>,
}

impl Registry {
    /// The function named `name` and its library.
    pub fn function(&self, name: &[u8]) -> Option<(&Arc<Library>, &FunctionInfo)> {
        let name = std::str::from_utf8(name).ok()?;
        self.functions
            .get(name)
            .map(|(lib, i)| (lib, &lib.functions[*i]))
    }

    pub fn function_count(&self) -> usize {
        self.functions.len()
    }
}

fn current_cell() -> &'static ArcSwap<Registry> {
    static CURRENT: OnceLock<ArcSwap<Registry>> = OnceLock::new();
    CURRENT.get_or_init(|| ArcSwap::from_pointee(Registry::default()))
}

static GENERATION: AtomicU64 = AtomicU64::new(0);

/// The registry as it is now.
pub fn current() -> Arc<Registry> {
    current_cell().load_full()
}

/// The current generation (cheap: no reference count touched).
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

/// How a set of new libraries joins the registry (FUNCTION RESTORE's
/// policies; FUNCTION LOAD is `Append`, or `Replace` with REPLACE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Join {
    /// A library of the same name already there is an error.
    Append,
    /// A library of the same name is replaced.
    Replace,
    /// Every library there goes first.
    Flush,
}

/// Adds `new` libraries as `join` says, all or nothing: a library name
/// already taken (under `Append`) or a function name another library
/// holds is Redis's error text (without `ERR `), and nothing changes.
pub fn join(new: Vec<Library>, join: Join, load_error_texts: bool) -> Result<(), String> {
    let now = current();
    let mut libraries = match join {
        Join::Flush => BTreeMap::new(),
        _ => now.libraries.clone(),
    };
    for lib in &new {
        if libraries.contains_key(&lib.name) {
            if join == Join::Append {
                // FUNCTION LOAD quotes the name; RESTORE does not.
                return Err(if load_error_texts {
                    format!("Library '{}' already exists", lib.name)
                } else {
                    format!("Library {} already exists", lib.name)
                });
            }
            libraries.remove(&lib.name);
        }
    }
    let mut functions: hashbrown::HashMap<String, (Arc<Library>, usize)> = libraries
        .values()
        .flat_map(|l| {
            (0..l.functions.len()).map(move |i| (l.functions[i].name.clone(), (l.clone(), i)))
        })
        .collect();
    let new: Vec<Arc<Library>> = new.into_iter().map(Arc::new).collect();
    for lib in &new {
        for (i, f) in lib.functions.iter().enumerate() {
            if functions.contains_key(&f.name) {
                return Err(format!("Function {} already exists", f.name));
            }
            functions.insert(f.name.clone(), (lib.clone(), i));
        }
    }
    for lib in new {
        libraries.insert(lib.name.clone(), lib);
    }
    publish(libraries, functions);
    Ok(())
}

/// Removes library `name`; false when there is none.
pub fn delete(name: &[u8]) -> bool {
    let now = current();
    let Some(name) = std::str::from_utf8(name)
        .ok()
        .filter(|n| now.libraries.contains_key(*n))
    else {
        return false;
    };
    let mut libraries = now.libraries.clone();
    libraries.remove(name);
    let functions = now
        .functions
        .iter()
        .filter(|(_, (lib, _))| lib.name != name)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    publish(libraries, functions);
    true
}

/// Removes every library.
pub fn flush() {
    publish(BTreeMap::new(), hashbrown::HashMap::new());
}

fn publish(
    libraries: BTreeMap<String, Arc<Library>>,
    functions: hashbrown::HashMap<String, (Arc<Library>, usize)>,
) {
    let generation = GENERATION.load(Ordering::Acquire) + 1;
    current_cell().store(Arc::new(Registry {
        generation,
        libraries,
        functions,
    }));
    GENERATION.store(generation, Ordering::Release);
}

/// Every library's code, in name order (what a snapshot saves).
pub fn codes() -> Vec<Arc<[u8]>> {
    current()
        .libraries
        .values()
        .map(|l| l.code.clone())
        .collect()
}

/// Bytes the libraries' code takes (INFO's `used_memory_functions`-like figure).
pub fn code_bytes() -> usize {
    current().libraries.values().map(|l| l.code.len()).sum()
}
