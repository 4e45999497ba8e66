//! Distances on the sphere and the units they are given in, as Redis
//! computes them (`geohash_helper.c`, `extractUnitOrReply`).
//!
//! Distances are haversine great-circle distances on a sphere of Redis's
//! radius, in metres, in `f64`. `sin`, `cos`, `asin` and `sqrt` are the
//! platform libm's, as in Redis: on the same glibc the results are the same
//! doubles, so GEODIST and WITHDIST print the same digits.

use crate::cmd::CmdError;
use std::f64::consts::PI;

/// Redis `EARTH_RADIUS_IN_METERS` (the quadratic mean radius of WGS-84).
pub const EARTH_RADIUS_M: f64 = 6372797.560856;

/// Degrees to radians as Redis writes it (`ang * (M_PI / 180.0)`).
pub fn deg_rad(deg: f64) -> f64 {
    deg * (PI / 180.0)
}

/// Radians to degrees as Redis writes it (`ang / (M_PI / 180.0)`).
pub fn rad_deg(rad: f64) -> f64 {
    rad / (PI / 180.0)
}

/// Redis `geohashGetLatDistance`: the distance between two latitudes on one
/// meridian.
pub fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_M * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// Redis `geohashGetDistance`: the haversine distance in metres between
/// `(lon1, lat1)` and `(lon2, lat2)`, short-cut to [`lat_distance`] when
/// the longitudes' half-difference has a zero sine.
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let v = ((deg_rad(lon2) - deg_rad(lon1)) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let (lat1r, lat2r) = (deg_rad(lat1), deg_rad(lat2));
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// Redis `geohashGetDistanceIfInRadiusWGS84`: the distance from the centre
/// `(lon1, lat1)` to the point `(lon2, lat2)` if it is at most `radius_m`.
/// A NaN distance (nearly antipodal points, where rounding pushes the
/// haversine past 1) passes, as in Redis.
pub fn within_radius(lon1: f64, lat1: f64, lon2: f64, lat2: f64, radius_m: f64) -> Option<f64> {
    let d = distance(lon1, lat1, lon2, lat2);
    if d > radius_m {
        None
    } else {
        Some(d)
    }
}

/// Redis `geohashGetDistanceIfInRectangle`: the distance from the centre
/// `(lon1, lat1)` to the point `(lon2, lat2)` if the point lies in the box
/// `width_m` x `height_m` centred there. The point is in when its latitude
/// distance is at most half the height and the distance along its own
/// parallel to the centre's meridian at most half the width (so the box's
/// sides follow meridians and its top and bottom follow parallels).
pub fn within_box(
    width_m: f64,
    height_m: f64,
    lon1: f64,
    lat1: f64,
    lon2: f64,
    lat2: f64,
) -> Option<f64> {
    if lat_distance(lat2, lat1) > height_m / 2.0 {
        return None;
    }
    if distance(lon2, lat2, lon1, lat2) > width_m / 2.0 {
        return None;
    }
    Some(distance(lon1, lat1, lon2, lat2))
}

/// A unit of distance the GEO commands accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    M,
    Km,
    Ft,
    Mi,
}

impl Unit {
    /// Metres per unit, Redis's factors (a mile is 1609.34 m there).
    pub fn to_meters(self) -> f64 {
        match self {
            Unit::M => 1.0,
            Unit::Km => 1000.0,
            Unit::Ft => 0.3048,
            Unit::Mi => 1609.34,
        }
    }
}

/// Redis's error for any other unit.
pub const UNSUPPORTED_UNIT: &str = "ERR unsupported unit provided. please use M, KM, FT, MI";

/// Parses a unit argument, case-insensitively, as Redis's `strcasecmp` on the
/// C string does: the argument ends at its first NUL byte (`km\0x` is `km`).
pub fn parse_unit(arg: &[u8]) -> Result<Unit, CmdError> {
    let text = arg.split(|&b| b == 0).next().unwrap_or(arg);
    let unit = match text.to_ascii_lowercase().as_slice() {
        b"m" => Unit::M,
        b"km" => Unit::Km,
        b"ft" => Unit::Ft,
        b"mi" => Unit::Mi,
        _ => return Err(CmdError::Static(UNSUPPORTED_UNIT)),
    };
    Ok(unit)
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, hash, text};
    use super::*;

    #[test]
    fn geodist_like_redis() {
        let fx = fixture::load();
        assert!(fx.dists.len() >= 400);
        for d in &fx.dists {
            let (a, b) = (fx.point(&d.a), fx.point(&d.b));
            let (x1, y1) = hash::decode_score(a.score());
            let (x2, y2) = hash::decode_score(b.score());
            let unit = parse_unit(d.unit.as_bytes()).unwrap();
            let got = text::distance(distance(x1, y1, x2, y2) / unit.to_meters());
            assert_eq!(got, d.reply, "{} {} {}", d.a, d.b, d.unit);
        }
    }

    #[test]
    fn units() {
        assert_eq!(parse_unit(b"KM"), Ok(Unit::Km));
        assert_eq!(parse_unit(b"mI"), Ok(Unit::Mi));
        assert_eq!(parse_unit(b"ft\0junk"), Ok(Unit::Ft));
        assert_eq!(
            parse_unit(b"yd").unwrap_err().to_string(),
            "ERR unsupported unit provided. please use M, KM, FT, MI"
        );
        assert!(parse_unit(b"").is_err());
        assert!(parse_unit(b" m").is_err());
    }

    #[test]
    fn same_meridian_short_cut() {
        let d = distance(10.0, 0.0, 10.0, 1.0);
        assert_eq!(d, lat_distance(0.0, 1.0));
        assert_eq!(within_radius(0.0, 0.0, 0.0, 1.0, d), Some(d));
        assert_eq!(within_radius(0.0, 0.0, 0.0, 1.0, d * 0.999), None);
        assert_eq!(within_box(1.0, 0.0, 5.0, 5.0, 5.0, 5.0), Some(0.0));
        assert_eq!(within_box(1.0, 0.0, 5.0, 5.0, 5.0, 5.0001), None);
    }
}
