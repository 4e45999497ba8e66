//! The script cache every core shares: script bodies by their SHA-1, so an
//! EVALSHA finds a script loaded or run on any core. Reads are lock-free
//! (papaya); writes happen once per new script. Each core compiles a body
//! into its own Lua state on first use (host.rs) and forgets what it
//! compiled when SCRIPT FLUSH moves the generation on.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// A script's SHA-1 in lower-case hex, as Redis names it.
pub type Sha = [u8; 40];

fn bodies() -> &'static papaya::HashMap<Sha, Arc<[u8]>> {
    static BODIES: OnceLock<papaya::HashMap<Sha, Arc<[u8]>>> = OnceLock::new();
    BODIES.get_or_init(papaya::HashMap::new)
}

static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Scripts seen touching a key of another shard than their declared keys'
/// (they run with every shard locked from then on).
fn cross() -> &'static papaya::HashSet<Sha> {
    static CROSS: OnceLock<papaya::HashSet<Sha>> = OnceLock::new();
    CROSS.get_or_init(papaya::HashSet::new)
}

pub fn mark_cross(sha: Sha) {
    cross().pin().insert(sha);
}

pub fn is_cross(sha: &Sha) -> bool {
    cross().pin().contains(sha)
}

/// Whether any script was marked (the router's fast test).
pub fn any_cross() -> bool {
    !cross().pin().is_empty()
}

/// The SHA-1 of `body`, in lower-case hex.
pub fn sha_of(body: &[u8]) -> Sha {
    let hex = sha1_smol::Sha1::from(body).digest().to_string();
    let mut sha = [0u8; 40];
    sha.copy_from_slice(hex.as_bytes());
    sha
}

/// `name` as a cache key: 40 hex digits, case-insensitive (as Redis
/// lower-cases EVALSHA's argument); None for anything else.
pub fn sha_arg(name: &[u8]) -> Option<Sha> {
    let mut sha = [0u8; 40];
    if name.len() != 40 {
        return None;
    }
    for (d, s) in sha.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    Some(sha)
}

/// Adds `body` under `sha` (no change when present).
pub fn insert(sha: Sha, body: &[u8]) {
    let map = bodies().pin();
    if map.get(&sha).is_none() {
        map.insert(sha, Arc::from(body));
    }
}

pub fn get(sha: &Sha) -> Option<Arc<[u8]>> {
    bodies().pin().get(sha).cloned()
}

pub fn contains(sha: &Sha) -> bool {
    bodies().pin().contains_key(sha)
}

/// SCRIPT FLUSH: every body goes; every core drops what it compiled.
pub fn flush() {
    bodies().pin().clear();
    GENERATION.fetch_add(1, Ordering::Release);
}

/// Moves on at every flush.
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

/// How many scripts are cached (INFO's `number_of_cached_scripts`).
pub fn count() -> usize {
    bodies().pin().len()
}

/// Bytes the bodies take (INFO's `used_memory_scripts_eval`).
pub fn body_bytes() -> usize {
    bodies().pin().values().map(|b| b.len() + 40).sum()
}
