//! Reading a GEORADIUS / GEORADIUSBYMEMBER / GEOSEARCH / GEOSEARCHSTORE
//! request (and the `_RO` forms) exactly as Redis 7.0's `georadiusGeneric`
//! does: the same checks in the same order, so every invalid request gets
//! Redis's error. That order depends on the source key: the caller has
//! already answered `WRONGTYPE`, and a missing key skips every check that
//! needs a member's position (FROMMEMBER, GEORADIUSBYMEMBER's member and
//! even its radius and unit).
//!
//! Pure: the request is a list of words (the command name first) and the
//! source sorted set, if any.

use super::add::position;
use super::distance::parse_unit;
use super::hash;
use super::search::{Extent, Shape};
use crate::cmd::eq_ic;
use crate::cmd::error::CmdError;
use crate::cmd::zset::score::parse_score;
use crate::protocol::parser::parse_i64;
use crate::shard::value::zset::ZSet;

/// Which command reads the request.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Variant {
    /// GEORADIUS key lon lat radius unit …
    Radius { store: bool },
    /// GEORADIUSBYMEMBER key member radius unit …
    ByMember { store: bool },
    /// GEOSEARCH key …
    Search,
    /// GEOSEARCHSTORE dst key …
    SearchStore,
}

impl Variant {
    /// The variant a command name stands for.
    pub fn of(name: &[u8]) -> Option<Variant> {
        Some(match () {
            _ if eq_ic(name, "georadius") => Variant::Radius { store: true },
            _ if eq_ic(name, "georadius_ro") => Variant::Radius { store: false },
            _ if eq_ic(name, "georadiusbymember") => Variant::ByMember { store: true },
            _ if eq_ic(name, "georadiusbymember_ro") => Variant::ByMember { store: false },
            _ if eq_ic(name, "geosearch") => Variant::Search,
            _ if eq_ic(name, "geosearchstore") => Variant::SearchStore,
            _ => return None,
        })
    }

    /// The source key's argument index.
    pub fn source(self) -> usize {
        if self == Variant::SearchStore {
            2
        } else {
            1
        }
    }

    /// Where the options start.
    fn base(self) -> usize {
        match self {
            Variant::Radius { .. } => 6,
            Variant::ByMember { .. } => 5,
            Variant::Search => 2,
            Variant::SearchStore => 3,
        }
    }

    fn is_search(self) -> bool {
        matches!(self, Variant::Search | Variant::SearchStore)
    }

    fn takes_store_key(self) -> bool {
        matches!(
            self,
            Variant::Radius { store: true } | Variant::ByMember { store: true }
        )
    }
}

/// The order asked for (COUNT without ANY implies ascending).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Sort {
    None,
    Asc,
    Desc,
}

/// Where a STORE form writes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Store {
    /// The destination's argument index.
    pub key: usize,
    /// STOREDIST: scores are distances in the unit, not geohashes.
    pub dist: bool,
}

/// A request read in full.
#[derive(Clone, Copy, Debug)]
pub struct Query {
    /// The area; None only when the source key is missing (nothing is
    /// searched then).
    pub shape: Option<Shape>,
    pub sort: Sort,
    /// COUNT (0: none).
    pub count: u64,
    pub any: bool,
    pub withdist: bool,
    pub withhash: bool,
    pub withcoord: bool,
    pub store: Option<Store>,
}

impl Query {
    /// The results answered or stored of `found` matches.
    pub fn returned(&self, found: usize) -> usize {
        if self.count == 0 {
            found
        } else {
            (self.count.min(found as u64)) as usize
        }
    }
}

fn float(w: &[u8], err: &'static str) -> Result<f64, CmdError> {
    parse_score(w).ok_or(CmdError::Static(err))
}

/// `extractDistanceOrReply`: a radius and its unit.
fn radius(words: &[&[u8]]) -> Result<(Extent, f64), CmdError> {
    let r = float(words[0], "ERR need numeric radius")?;
    if r < 0.0 {
        return Err(CmdError::Static("ERR radius cannot be negative"));
    }
    Ok((Extent::Radius(r), parse_unit(words[1])?.to_meters()))
}

/// `extractBoxOrReply`: width, height and unit.
fn bybox(words: &[&[u8]]) -> Result<(Extent, f64), CmdError> {
    let width = float(words[0], "ERR need numeric width")?;
    let height = float(words[1], "ERR need numeric height")?;
    if height < 0.0 || width < 0.0 {
        return Err(CmdError::Static("ERR height or width cannot be negative"));
    }
    let unit = parse_unit(words[2])?.to_meters();
    Ok((Extent::Box { width, height }, unit))
}

/// A member's position (`longLatFromMember`).
fn member_position(z: &ZSet, m: &[u8]) -> Result<(f64, f64), CmdError> {
    match z.score(m) {
        Some(s) => Ok(hash::decode_score(s)),
        None => Err(CmdError::Static(
            "ERR could not decode requested zset member",
        )),
    }
}

/// Reads `argv` (the whole command) for `v`, the source being `z`.
pub fn parse(argv: &[&[u8]], v: Variant, z: Option<&ZSet>) -> Result<Query, CmdError> {
    let base = v.base();
    let mut centre: Option<(f64, f64)> = None;
    let mut extent: Option<(Extent, f64)> = None;
    let mut store = None;
    match v {
        Variant::Radius { .. } => {
            centre = Some(position(argv[2], argv[3])?);
            extent = Some(radius(&argv[4..6])?);
        }
        Variant::ByMember { .. } => {
            if let Some(z) = z {
                centre = Some(member_position(z, argv[2])?);
                extent = Some(radius(&argv[3..5])?);
            }
        }
        Variant::Search => {}
        Variant::SearchStore => {
            store = Some(Store {
                key: 1,
                dist: false,
            })
        }
    }
    let mut q = Query {
        shape: None,
        sort: Sort::None,
        count: 0,
        any: false,
        withdist: false,
        withhash: false,
        withcoord: false,
        store,
    };
    let (mut frommember, mut fromloc, mut byradius, mut bybox_) = (false, false, false, false);
    let opts = &argv[base.min(argv.len())..];
    let left = |i: usize| opts.len() - i - 1;
    let mut i = 0;
    while i < opts.len() {
        let a = opts[i];
        if eq_ic(a, "withdist") {
            q.withdist = true;
        } else if eq_ic(a, "withhash") {
            q.withhash = true;
        } else if eq_ic(a, "withcoord") {
            q.withcoord = true;
        } else if eq_ic(a, "any") {
            q.any = true;
        } else if eq_ic(a, "asc") {
            q.sort = Sort::Asc;
        } else if eq_ic(a, "desc") {
            q.sort = Sort::Desc;
        } else if eq_ic(a, "count") && left(i) >= 1 {
            let n = parse_i64(opts[i + 1]).ok_or(CmdError::NotInteger)?;
            if n <= 0 {
                return Err(CmdError::Static("ERR COUNT must be > 0"));
            }
            q.count = n as u64;
            i += 1;
        } else if (eq_ic(a, "store") || eq_ic(a, "storedist"))
            && left(i) >= 1
            && v.takes_store_key()
        {
            q.store = Some(Store {
                key: base + i + 1,
                dist: eq_ic(a, "storedist"),
            });
            i += 1;
        } else if eq_ic(a, "storedist") && v == Variant::SearchStore {
            q.store = Some(Store { key: 1, dist: true });
        } else if eq_ic(a, "frommember") && left(i) >= 1 && v.is_search() && !fromloc {
            if let Some(z) = z {
                centre = Some(member_position(z, opts[i + 1])?);
            }
            frommember = true;
            i += 1;
        } else if eq_ic(a, "fromlonlat") && left(i) >= 2 && v.is_search() && !frommember {
            centre = Some(position(opts[i + 1], opts[i + 2])?);
            fromloc = true;
            i += 2;
        } else if eq_ic(a, "byradius") && left(i) >= 2 && v.is_search() && !bybox_ {
            extent = Some(radius(&opts[i + 1..i + 3])?);
            byradius = true;
            i += 2;
        } else if eq_ic(a, "bybox") && left(i) >= 3 && v.is_search() && !byradius {
            extent = Some(bybox(&opts[i + 1..i + 4])?);
            bybox_ = true;
            i += 3;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if q.store.is_some() && (q.withdist || q.withhash || q.withcoord) {
        return Err(CmdError::Static(if v == Variant::SearchStore {
            "ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        } else {
            "ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        }));
    }
    let name = || String::from_utf8_lossy(argv[0]).into_owned();
    if v.is_search() && !(frommember || fromloc) {
        return Err(CmdError::Msg(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {}",
            name()
        )));
    }
    if v.is_search() && !(byradius || bybox_) {
        return Err(CmdError::Msg(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {}",
            name()
        )));
    }
    if q.any && q.count == 0 {
        return Err(CmdError::Static(
            "ERR the ANY argument requires COUNT argument",
        ));
    }
    if q.count != 0 && q.sort == Sort::None && !q.any {
        q.sort = Sort::Asc;
    }
    if z.is_some() {
        if let (Some((lon, lat)), Some((extent, to_meters))) = (centre, extent) {
            q.shape = Some(Shape {
                lon,
                lat,
                extent,
                to_meters,
            });
        }
    }
    Ok(q)
}

/// The destination a GEORADIUS / GEORADIUSBYMEMBER request stores in, read
/// as [`parse`] reads the options (the last STORE or STOREDIST wins);
/// None when it stores nothing or is not a valid request (then its error
/// is found where the source lives).
pub fn store_key(argv: &[&[u8]], v: Variant) -> Option<usize> {
    let base = v.base();
    let opts = argv.get(base..)?;
    let mut key = None;
    let mut i = 0;
    while i < opts.len() {
        let a = opts[i];
        let more = i + 1 < opts.len();
        if eq_ic(a, "count") && more {
            i += 1;
        } else if (eq_ic(a, "store") || eq_ic(a, "storedist")) && more {
            key = Some(base + i + 1);
            i += 1;
        } else if !["withdist", "withhash", "withcoord", "any", "asc", "desc"]
            .iter()
            .any(|o| eq_ic(a, o))
        {
            return None;
        }
        i += 1;
    }
    key
}
