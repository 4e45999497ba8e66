//! Geohash cells: Redis's interleaved encoding of a position, bit for bit.
//!
//! A position is a cell of a grid: at `step` bits per coordinate each axis
//! is cut into `2^step` equal slices, and the cell's number interleaves the
//! two slice numbers, latitude on the even bits, longitude on the odd ones.
//! GEOADD stores the cell at step 26 (52 bits) over the Web Mercator limits
//! as the member's sorted-set score; GEOPOS answers the centre of that cell.
//!
//! Every formula is evaluated as Redis evaluates it in C `double` on x86-64
//! (same operations, same order, same integer conversions), so decoded
//! coordinates are the same doubles and print the same digits. That includes
//! Redis's quirks: a coordinate on the upper limit (longitude 180, latitude
//! 85.05112878) gives slice `2^step`, one bit above the cell's width, which
//! is kept in the score; and a score that is not a 52-bit integer (a ZADD
//! into a geo key) decodes through C's `double` to `uint64_t` conversion.

use std::cmp::Ordering::Less;

/// Bits per coordinate of a stored score (Redis `GEO_STEP_MAX`): 52 in all.
pub const STEP_MAX: u8 = 26;
/// Longitude limits (Redis `GEO_LONG_MIN`/`GEO_LONG_MAX`).
pub const LON_MIN: f64 = -180.0;
pub const LON_MAX: f64 = 180.0;
/// Latitude limits of Web Mercator (EPSG:3857), Redis `GEO_LAT_MIN`/`GEO_LAT_MAX`:
/// the poles cannot be indexed.
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;

/// An interval of one coordinate, in degrees.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Span {
    pub min: f64,
    pub max: f64,
}

impl Span {
    /// Redis's `RANGEISZERO`: both ends zero means "no range".
    fn is_zero(self) -> bool {
        self.min == 0.0 && self.max == 0.0
    }
}

/// The longitude span every encoding uses.
pub const LON_SPAN: Span = Span {
    min: LON_MIN,
    max: LON_MAX,
};
/// The latitude span of stored scores (Mercator limits).
pub const LAT_SPAN: Span = Span {
    min: LAT_MIN,
    max: LAT_MAX,
};
/// The latitude span of standard geohash strings (GEOHASH re-encodes with it).
pub const STANDARD_LAT_SPAN: Span = Span {
    min: -90.0,
    max: 90.0,
};

/// A cell: its interleaved number and its bits per coordinate (Redis
/// `GeoHashBits`). `bits` may carry the one extra bit described in the
/// module doc. The all-zero value is Redis's "no cell" (`HASHISZERO`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell {
    pub bits: u64,
    pub step: u8,
}

/// The extent of a cell (Redis `GeoHashArea`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Area {
    pub lon: Span,
    pub lat: Span,
}

/// Longitude bits of an interleaved number (the odd positions).
const ODD: u64 = 0xaaaa_aaaa_aaaa_aaaa;
/// Latitude bits of an interleaved number (the even positions).
const EVEN: u64 = 0x5555_5555_5555_5555;

/// Moves the bits of a 32-bit value to the even positions of a 64-bit one
/// (bit i to bit 2i), halving the distance between groups at each round.
fn spread(v: u32) -> u64 {
    const ROUNDS: [(u32, u64); 5] = [
        (16, 0x0000_ffff_0000_ffff),
        (8, 0x00ff_00ff_00ff_00ff),
        (4, 0x0f0f_0f0f_0f0f_0f0f),
        (2, 0x3333_3333_3333_3333),
        (1, EVEN),
    ];
    ROUNDS
        .iter()
        .fold(v as u64, |x, &(shift, mask)| (x | (x << shift)) & mask)
}

/// The inverse of [`spread`]: gathers the even bits of `v` into 32 bits.
fn gather(v: u64) -> u32 {
    const ROUNDS: [(u32, u64); 5] = [
        (1, 0x3333_3333_3333_3333),
        (2, 0x0f0f_0f0f_0f0f_0f0f),
        (4, 0x00ff_00ff_00ff_00ff),
        (8, 0x0000_ffff_0000_ffff),
        (16, 0x0000_0000_ffff_ffff),
    ];
    ROUNDS
        .iter()
        .fold(v & EVEN, |x, &(shift, mask)| (x | (x >> shift)) & mask) as u32
}

/// Interleaves slice numbers: latitude on the even bits, longitude on the odd.
fn interleave(lat: u32, lon: u32) -> u64 {
    spread(lat) | (spread(lon) << 1)
}

/// Splits an interleaved number into (latitude, longitude) slice numbers.
fn deinterleave(bits: u64) -> (u32, u32) {
    (gather(bits), gather(bits >> 1))
}

/// Redis `geohashEncode`: the cell of `(lon, lat)` at `step` bits per
/// coordinate over the given spans. `None` outside the spans, outside the
/// global limits (longitude ±180, latitude ±85.05112878, whatever the spans),
/// or for a step outside 1..=32.
pub fn encode_in(lon_span: Span, lat_span: Span, lon: f64, lat: f64, step: u8) -> Option<Cell> {
    if step == 0 || step > 32 || lat_span.is_zero() || lon_span.is_zero() {
        return None;
    }
    // Redis's comparisons let NaN through; so does this (not `contains`).
    let beyond = |v: f64, lo: f64, hi: f64| v.partial_cmp(&lo) == Some(Less) || v > hi;
    if beyond(lon, LON_MIN, LON_MAX)
        || beyond(lat, LAT_MIN, LAT_MAX)
        || lat < lat_span.min
        || lat > lat_span.max
        || lon < lon_span.min
        || lon > lon_span.max
    {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_offset = (lat - lat_span.min) / (lat_span.max - lat_span.min) * scale;
    let lon_offset = (lon - lon_span.min) / (lon_span.max - lon_span.min) * scale;
    // C converts the offsets (at most 2^step) to uint32_t by truncation.
    Some(Cell {
        bits: interleave(lat_offset as u32, lon_offset as u32),
        step,
    })
}

/// The 52-bit score GEOADD stores for `(lon, lat)`, or `None` outside
/// Redis's limits (then GEOADD answers [`super::text::invalid_pair`]).
/// GEOADD hands it to ZADD as an integer text, so the sorted set holds
/// `score as f64`: on the upper limits the number has 54 bits and that
/// conversion rounds it (to even), as in Redis.
pub fn encode(lon: f64, lat: f64) -> Option<u64> {
    encode_in(LON_SPAN, LAT_SPAN, lon, lat, STEP_MAX).map(Cell::align52)
}

/// Redis `geohashDecode`: the extent of `cell` over the given spans. Redis
/// refuses the zero cell and zero spans; so does this (`None`).
pub fn decode_area_in(lon_span: Span, lat_span: Span, cell: Cell) -> Option<Area> {
    if cell == Cell::ZERO || lat_span.is_zero() || lon_span.is_zero() {
        return None;
    }
    let (ilat, ilon) = deinterleave(cell.bits);
    let cells = (1u64 << cell.step) as f64;
    let lat_scale = lat_span.max - lat_span.min;
    let lon_scale = lon_span.max - lon_span.min;
    // `slice + 1` is C unsigned arithmetic: it wraps at 2^32.
    let at = |span: Span, scale: f64, slice: u32| span.min + (slice as f64 / cells) * scale;
    Some(Area {
        lat: Span {
            min: at(lat_span, lat_scale, ilat),
            max: at(lat_span, lat_scale, ilat.wrapping_add(1)),
        },
        lon: Span {
            min: at(lon_span, lon_scale, ilon),
            max: at(lon_span, lon_scale, ilon.wrapping_add(1)),
        },
    })
}

/// Redis `geohashDecodeToLongLatWGS84` of a step-26 cell: the centre of the
/// cell, clamped to the limits, as `(lon, lat)`. These are the doubles
/// GEOPOS, WITHCOORD and every distance start from.
pub fn decode(bits: u64) -> (f64, f64) {
    let cell = Cell {
        bits,
        step: STEP_MAX,
    };
    // A step-26 cell is never the zero cell, so the decode always succeeds.
    let area = decode_area_in(LON_SPAN, LAT_SPAN, cell).unwrap_or(Area {
        lon: LON_SPAN,
        lat: LAT_SPAN,
    });
    let lon = ((area.lon.min + area.lon.max) / 2.0).clamp(LON_MIN, LON_MAX);
    let lat = ((area.lat.min + area.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// C's `(uint64_t)score` as gcc compiles it for x86-64 (Redis `decodeGeohash`):
/// truncation toward zero; values from 2^63 go through a subtraction; what
/// the instruction cannot represent (NaN, below -2^63, from 2^64) gives
/// 2^63 below 2^63 and 0 above. Negative scores wrap (-1 is all ones).
pub fn score_bits(score: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    // cvttsd2si: truncate, or 0x8000_0000_0000_0000 when out of range.
    let cvtt = |x: f64| -> u64 {
        if !(-TWO_63..TWO_63).contains(&x) {
            1 << 63
        } else {
            x as i64 as u64
        }
    };
    if score >= TWO_63 {
        cvtt(score - TWO_63) ^ (1 << 63)
    } else {
        cvtt(score)
    }
}

/// [`decode`] of a sorted-set score: what GEOPOS answers for any member.
pub fn decode_score(score: f64) -> (f64, f64) {
    decode(score_bits(score))
}

/// GEOHASH's reply for a member's score: the position is decoded, encoded
/// again over the standard latitude span ±90, and written as 11 base-32
/// characters; the 11th stands for bits the score does not have and is
/// always `0`.
pub fn geohash_string(score: f64) -> [u8; 11] {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (lon, lat) = decode_score(score);
    // A decoded position is within the limits, so this always encodes.
    let bits = encode_in(LON_SPAN, STANDARD_LAT_SPAN, lon, lat, STEP_MAX).map_or(0, |c| c.bits);
    let mut out = [b'0'; 11];
    for (i, c) in out.iter_mut().take(10).enumerate() {
        *c = ALPHABET[((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize];
    }
    out
}

impl Cell {
    /// Redis's "no cell" (`GZERO`), used for a neighbour a search skips.
    pub const ZERO: Cell = Cell { bits: 0, step: 0 };

    /// Redis `geohashAlign52Bits`: the cell's number shifted to the top of a
    /// 52-bit score, i.e. the lowest score inside the cell.
    pub fn align52(self) -> u64 {
        self.bits << (52 - self.step as u32 * 2)
    }

    /// The cell `dx` columns east and `dy` rows north (each -1, 0 or 1),
    /// wrapping around at the edges of the grid (Redis `geohash_move_x/y`).
    pub fn moved(self, dx: i8, dy: i8) -> Cell {
        let width = 64 - self.step as u32 * 2;
        let mut bits = self.bits;
        if dx != 0 {
            bits = step_field(bits, ODD, EVEN >> width, dx > 0) & (ODD >> width) | bits & EVEN;
        }
        if dy != 0 {
            bits = step_field(bits, EVEN, ODD >> width, dy > 0) & (EVEN >> width) | bits & ODD;
        }
        Cell {
            bits,
            step: self.step,
        }
    }
}

/// Adds or subtracts one to the coordinate stored on the `field` bits of
/// `bits`. `gaps` are the other coordinate's positions within the cell's
/// width: set to ones they carry an increment across themselves (for a
/// decrement, the borrow), so plain integer arithmetic does the work.
fn step_field(bits: u64, field: u64, gaps: u64, up: bool) -> u64 {
    let v = bits & field;
    if up {
        v.wrapping_add(gaps + 1)
    } else {
        (v | gaps).wrapping_sub(gaps + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn interleave_round_trips() {
        for (lat, lon) in [
            (0, 0),
            (1, 0),
            (0, 1),
            (0x3ff_ffff, 0x155_5555),
            (1 << 26, 1 << 26),
        ] {
            let bits = interleave(lat, lon);
            assert_eq!(deinterleave(bits), (lat, lon));
        }
        assert_eq!(interleave(1, 0), 1);
        assert_eq!(interleave(0, 1), 2);
        assert_eq!(deinterleave(u64::MAX), (u32::MAX, u32::MAX));
    }

    #[test]
    fn scores_positions_and_geohash_like_redis() {
        let fx = fixture::load();
        assert!(fx.points.len() > 1000);
        for p in &fx.points {
            let lon: f64 = p.lon_arg.parse().unwrap();
            let lat: f64 = p.lat_arg.parse().unwrap();
            // GEOADD's ZADD stores the integer as a double (rounded above 2^53).
            let score = encode(lon, lat).unwrap() as f64;
            assert_eq!((score as u64).to_string(), p.zscore, "{}", p.name);
            let (x, y) = decode_score(score);
            assert_eq!(super::super::text::coord(x), p.pos_lon, "{}", p.name);
            assert_eq!(super::super::text::coord(y), p.pos_lat, "{}", p.name);
            assert_eq!(&geohash_string(score)[..], p.geohash.as_bytes());
        }
    }

    #[test]
    fn limits_and_odd_scores() {
        assert_eq!(encode(180.0, 0.0), Some(10133099161583616));
        assert_eq!(encode(180.0, LAT_MAX), Some(13510798882111488));
        assert_eq!(encode(180.0000001, 0.0), None);
        assert_eq!(encode(0.0, -85.0511288), None);
        assert_eq!(encode(f64::INFINITY, 0.0), None);
        // Redis: ZADD k -1 m / 1e30 m, then GEOPOS/GEOHASH.
        assert_eq!(score_bits(-1.0), u64::MAX);
        assert_eq!(score_bits(1e30), 0);
        assert_eq!(decode_score(-1.0), (LON_MAX, LAT_MAX));
        assert_eq!(&geohash_string(-1.0), b"bp05b5048p0");
        assert_eq!(&geohash_string(1e30), b"00bh0hbj200");
        assert_eq!(score_bits(2.5), 2);
        assert_eq!(score_bits(f64::NAN), 1 << 63);
        assert_eq!(score_bits(1.5e19), 15_000_000_000_000_000_000);
    }

    #[test]
    fn neighbours_wrap() {
        let c = Cell { bits: 0, step: 2 };
        assert_eq!(c.moved(1, 0).bits, 0b10);
        assert_eq!(c.moved(0, 1).bits, 0b01);
        assert_eq!(c.moved(-1, 0).bits, 0b1010);
        assert_eq!(c.moved(0, -1).bits, 0b0101);
        assert_eq!(c.moved(-1, -1).bits, 0b1111);
        assert_eq!(c.moved(-1, -1).moved(1, 1), c);
    }
}
