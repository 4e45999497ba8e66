//! What a GEOSEARCH (or GEORADIUS) scans and keeps, as Redis does it
//! (`geohashCalculateAreasByShapeWGS84`, `membersOfAllNeighbors`,
//! `geoWithinShape` and the reply's sort).
//!
//! A search covers its shape with the cell holding the centre plus its eight
//! neighbours, at a step estimated from the size of the shape (one step
//! coarser when a neighbour does not reach the bounding box; neighbours
//! wholly outside the bounding box are dropped). Each remaining cell is a
//! range of scores `[min, max)`; the command scans the ranges in
//! [`score_ranges`]'s order, each in sorted-set order (score, then member),
//! and keeps the members [`Shape::hit`] accepts. That order is the reply's
//! when no sort is asked, so it is kept exactly.
//!
//! The shape keeps its sizes in the user's unit and the unit's factor
//! apart, because Redis multiplies them at different points of different
//! formulas; doing the same keeps every double the same.

use super::distance::{self, EARTH_RADIUS_M};
use super::hash::{self, Cell, LAT_SPAN, LON_SPAN, STEP_MAX};
use std::cmp::Ordering;

/// The shape searched, in the user's unit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Extent {
    /// BYRADIUS radius.
    Radius(f64),
    /// BYBOX width height.
    Box { width: f64, height: f64 },
}

/// A search area: the centre (FROMLONLAT as given, FROMMEMBER as decoded
/// from the member's score), the extent, and the unit's metres
/// ([`distance::Unit::to_meters`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shape {
    pub lon: f64,
    pub lat: f64,
    pub extent: Extent,
    pub to_meters: f64,
}

/// A member the search keeps: its decoded position and its distance from
/// the centre in metres (the reply divides it by `to_meters`; the sort uses
/// metres, as Redis sorts before converting).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    pub lon: f64,
    pub lat: f64,
    pub dist_m: f64,
}

/// A range of scores `[min, max)` to scan: one cell of the search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScoreRange {
    pub min: u64,
    pub max: u64,
}

impl ScoreRange {
    /// The cell's scores: its number aligned to 52 bits, up to the next
    /// cell's (Redis `scoresOfGeoHashBox`).
    pub fn of_cell(cell: Cell) -> ScoreRange {
        ScoreRange {
            min: cell.align52(),
            max: Cell {
                bits: cell.bits.wrapping_add(1),
                step: cell.step,
            }
            .align52(),
        }
    }

    /// Whether a sorted-set score is in the range. Redis compares doubles:
    /// the ends are converted to `f64` first (exact below 2^53; above it,
    /// where only scores of points on the upper limits fall, the rounding can
    /// make a range empty, and Redis then finds nothing there either).
    pub fn contains(&self, score: f64) -> bool {
        score >= self.min as f64 && score < self.max as f64
    }
}

/// Redis `geohashEstimateStepsByRadius`: the step whose cells are about as
/// large as `range_m`, one coarser towards the poles, two beyond ±80°.
pub fn estimate_step(range_m: f64, lat: f64) -> u8 {
    const MERCATOR_MAX: f64 = 20037726.37;
    if range_m == 0.0 {
        return STEP_MAX;
    }
    let mut range = range_m;
    let mut step: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, STEP_MAX as i32) as u8
}

/// The four corners' extremes of a shape, Redis `geohashBoundingBox`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bounds {
    pub min_lon: f64,
    pub min_lat: f64,
    pub max_lon: f64,
    pub max_lat: f64,
}

impl Shape {
    /// Redis `geohashBoundingBox`. The longitude half-width is measured on
    /// the edge farther from the equator, where a distance spans the most
    /// degrees: the top edge from the equator northwards, the bottom edge
    /// south of it.
    pub fn bounds(&self) -> Bounds {
        let (height, width) = match self.extent {
            Extent::Radius(r) => (self.to_meters * r, self.to_meters * r),
            Extent::Box { width, height } => (
                self.to_meters * (height / 2.0),
                self.to_meters * (width / 2.0),
            ),
        };
        let lat_delta = distance::rad_deg(height / EARTH_RADIUS_M);
        let lon_delta =
            |lat: f64| distance::rad_deg(width / EARTH_RADIUS_M / distance::deg_rad(lat).cos());
        let lon_delta = if self.lat < 0.0 {
            lon_delta(self.lat - lat_delta)
        } else {
            lon_delta(self.lat + lat_delta)
        };
        Bounds {
            min_lon: self.lon - lon_delta,
            min_lat: self.lat - lat_delta,
            max_lon: self.lon + lon_delta,
            max_lat: self.lat + lat_delta,
        }
    }

    /// The distance in metres that sizes the cells: the radius, or the
    /// half-diagonal of the box.
    fn reach_m(&self) -> f64 {
        let r = match self.extent {
            Extent::Radius(r) => r,
            Extent::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        };
        r * self.to_meters
    }

    /// Redis `geoWithinShape`: decodes the score and keeps the member if it
    /// is inside the shape, with its distance from the centre.
    pub fn hit(&self, score: f64) -> Option<Hit> {
        let (lon, lat) = hash::decode_score(score);
        let dist_m = match self.extent {
            Extent::Radius(r) => {
                distance::within_radius(self.lon, self.lat, lon, lat, r * self.to_meters)
            }
            Extent::Box { width, height } => distance::within_box(
                width * self.to_meters,
                height * self.to_meters,
                self.lon,
                self.lat,
                lon,
                lat,
            ),
        }?;
        Some(Hit { lon, lat, dist_m })
    }
}

/// The centre's cell and its neighbours in the order Redis scans them:
/// centre, north, south, east, west, north-east, north-west, south-east,
/// south-west; a neighbour the search does not need is [`Cell::ZERO`]
/// (Redis `geohashCalculateAreasByShapeWGS84`).
pub fn cells(shape: &Shape) -> [Cell; 9] {
    let b = shape.bounds();
    let mut step = estimate_step(shape.reach_m(), shape.lat);
    let area_of = |c: Cell| hash::decode_area_in(LON_SPAN, LAT_SPAN, c);
    // The centre is within the limits (the command checked it), so these
    // encodes and decodes succeed; a failure would leave Redis's zeroed cell.
    let centre_at = |step| hash::encode_in(LON_SPAN, LAT_SPAN, shape.lon, shape.lat, step);
    let mut centre = centre_at(step).unwrap_or(Cell { bits: 0, step });
    // A neighbour that stops short of the bounding box means the cells are
    // too small: take the next coarser step.
    let short = [
        area_of(centre.moved(0, 1)).is_some_and(|a| a.lat.max < b.max_lat),
        area_of(centre.moved(0, -1)).is_some_and(|a| a.lat.min > b.min_lat),
        area_of(centre.moved(1, 0)).is_some_and(|a| a.lon.max < b.max_lon),
        area_of(centre.moved(-1, 0)).is_some_and(|a| a.lon.min > b.min_lon),
    ];
    if step > 1 && short.contains(&true) {
        step -= 1;
        centre = centre_at(step).unwrap_or(Cell { bits: 0, step });
    }
    let mut out = [
        centre,
        centre.moved(0, 1),
        centre.moved(0, -1),
        centre.moved(1, 0),
        centre.moved(-1, 0),
        centre.moved(1, 1),
        centre.moved(-1, 1),
        centre.moved(1, -1),
        centre.moved(-1, -1),
    ];
    // Drop the rows and columns of neighbours beyond the bounding box.
    if step >= 2 {
        if let Some(a) = area_of(centre) {
            let (north, south, east, west) = ([1, 5, 6], [2, 7, 8], [3, 5, 7], [4, 6, 8]);
            let mut drop = |idx: [usize; 3]| idx.iter().for_each(|&i| out[i] = Cell::ZERO);
            if a.lat.min < b.min_lat {
                drop(south);
            }
            if a.lat.max > b.max_lat {
                drop(north);
            }
            if a.lon.min < b.min_lon {
                drop(west);
            }
            if a.lon.max > b.max_lon {
                drop(east);
            }
        }
    }
    out
}

/// The score ranges a search scans, in Redis's order (see [`cells`]): the
/// dropped neighbours are skipped, and so is a cell equal to the one scanned
/// just before it (huge radii make neighbours coincide). Like Redis, the
/// first neighbour is not compared with the centre.
pub fn score_ranges(shape: &Shape) -> Vec<ScoreRange> {
    let cells = cells(shape);
    let mut out = Vec::with_capacity(9);
    let mut last: Option<Cell> = None;
    for (i, &cell) in cells.iter().enumerate() {
        if cell == Cell::ZERO {
            continue;
        }
        // Redis remembers the last scanned index, starting at 0, and only
        // compares when it is not 0.
        if last.is_some_and(|l| l == cell) {
            continue;
        }
        out.push(ScoreRange::of_cell(cell));
        last = if i == 0 { None } else { Some(cell) };
    }
    out
}

/// Redis's comparison for ASC: greater, equal, or else (NaN included) less.
fn cmp_asc(a: f64, b: f64) -> Ordering {
    if a > b {
        Ordering::Greater
    } else if a == b {
        Ordering::Equal
    } else {
        Ordering::Less
    }
}

/// Sorts results by distance as Redis's full sort does (ASC, or DESC when
/// `desc`): glibc's `qsort` is a stable top-down merge sort, reproduced here
/// exactly so that equal distances keep their scan order and NaN distances
/// land where Redis puts them. (With COUNT and no ANY, Redis sorts only the
/// first COUNT with its unstable partial quicksort instead; not this.)
pub fn sort_by_distance<T>(items: &mut Vec<T>, dist_m: impl Fn(&T) -> f64, desc: bool) {
    let cmp = |a: &T, b: &T| {
        let o = cmp_asc(dist_m(a), dist_m(b));
        if desc {
            o.reverse()
        } else {
            o
        }
    };
    let taken = std::mem::take(items);
    *items = merge_sort(taken, &cmp);
}

/// glibc `msort_with_tmp`: split at n/2, sort both halves, merge taking from
/// the left half while it compares `<=`.
fn merge_sort<T>(mut v: Vec<T>, cmp: &impl Fn(&T, &T) -> Ordering) -> Vec<T> {
    if v.len() <= 1 {
        return v;
    }
    let right = v.split_off(v.len() / 2);
    let (left, right) = (merge_sort(v, cmp), merge_sort(right, cmp));
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut l, mut r) = (left.into_iter().peekable(), right.into_iter().peekable());
    while let (Some(a), Some(b)) = (l.peek(), r.peek()) {
        let next = if cmp(a, b) != Ordering::Greater {
            l.next()
        } else {
            r.next()
        };
        out.extend(next);
    }
    out.extend(l);
    out.extend(r);
    out
}

#[cfg(test)]
mod tests {
    use super::super::distance::parse_unit;
    use super::super::{fixture, text};
    use super::*;

    #[test]
    fn steps() {
        assert_eq!(estimate_step(0.0, 0.0), 26);
        assert_eq!(estimate_step(1.0, 0.0), 24);
        assert_eq!(estimate_step(1.0, 70.0), 23);
        assert_eq!(estimate_step(1.0, -85.0), 22);
        assert_eq!(estimate_step(5_000_000.0, 0.0), 2);
        assert_eq!(estimate_step(20_000_000.0, 0.0), 1);
        assert_eq!(estimate_step(f64::INFINITY, 0.0), 1);
    }

    #[test]
    fn equal_neighbours_are_scanned_once() {
        // A whole-planet radius: at step 1 the neighbours wrap onto each other.
        let shape = Shape {
            lon: 0.0,
            lat: 0.0,
            extent: Extent::Radius(20_000.0),
            to_meters: 1000.0,
        };
        let ranges = score_ranges(&shape);
        assert!(ranges.len() < 9, "{ranges:?}");
        assert!(ranges.windows(2).all(|w| w[0] != w[1] || w[0] == ranges[0]));
    }

    #[test]
    fn merge_sort_is_stable() {
        let mut v = vec![(3.0, 'a'), (1.0, 'b'), (3.0, 'c'), (1.0, 'd'), (2.0, 'e')];
        sort_by_distance(&mut v, |x| x.0, false);
        let names: String = v.iter().map(|x| x.1).collect();
        assert_eq!(names, "bdeac");
        sort_by_distance(&mut v, |x| x.0, true);
        let names: String = v.iter().map(|x| x.1).collect();
        assert_eq!(names, "acebd");
    }

    /// Every search of the fixture: the members found, in Redis's unsorted
    /// order (ranges in order, each in sorted-set order), with the exact
    /// distance, hash and coordinate texts; then the ASC and DESC orders.
    #[test]
    fn searches_like_redis() {
        let fx = fixture::load();
        // The sorted set: by score, then member bytes.
        let mut zset: Vec<(f64, &str)> = fx.points.iter().map(|p| (p.score(), &*p.name)).collect();
        zset.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(b.1)));
        let mut nonempty = 0;
        for s in &fx.searches {
            let shape = shape_of(fx, &s.args);
            let mut found = Vec::new();
            for range in score_ranges(&shape) {
                for &(score, name) in zset.iter().filter(|z| range.contains(z.0)) {
                    if let Some(hit) = shape.hit(score) {
                        found.push((name, score, hit));
                    }
                }
            }
            let got: Vec<[String; 5]> = found
                .iter()
                .map(|(name, score, hit)| {
                    [
                        name.to_string(),
                        text::distance(hit.dist_m / shape.to_meters),
                        text::hash_integer(*score).to_string(),
                        text::coord(hit.lon),
                        text::coord(hit.lat),
                    ]
                })
                .collect();
            assert_eq!(got, s.unsorted, "search {} {:?}", s.id, s.args);
            nonempty += usize::from(!got.is_empty());
            let mut asc = found.clone();
            sort_by_distance(&mut asc, |f| f.2.dist_m, false);
            let asc: Vec<&str> = asc.iter().map(|f| f.0).collect();
            assert_eq!(asc, s.asc, "ASC search {} {:?}", s.id, s.args);
            let mut desc = found;
            sort_by_distance(&mut desc, |f| f.2.dist_m, true);
            let desc: Vec<&str> = desc.iter().map(|f| f.0).collect();
            assert_eq!(desc, s.desc, "DESC search {} {:?}", s.id, s.args);
        }
        assert!(nonempty > 100, "{nonempty} searches found something");
    }

    /// The shape of GEOSEARCH arguments (FROMLONLAT/FROMMEMBER, BYRADIUS/BYBOX).
    fn shape_of(fx: &fixture::Fixture, args: &[String]) -> Shape {
        let (lon, lat, rest) = match args[0].as_str() {
            "FROMLONLAT" => (
                fixture::parse_strtod(&args[1]),
                fixture::parse_strtod(&args[2]),
                &args[3..],
            ),
            _ => {
                let (lon, lat) = hash::decode_score(fx.point(&args[1]).score());
                (lon, lat, &args[2..])
            }
        };
        let num = |i: usize| fixture::parse_strtod(&rest[i]);
        let (extent, unit) = match rest[0].as_str() {
            "BYRADIUS" => (Extent::Radius(num(1)), &rest[2]),
            _ => (
                Extent::Box {
                    width: num(1),
                    height: num(2),
                },
                &rest[3],
            ),
        };
        Shape {
            lon,
            lat,
            extent,
            to_meters: parse_unit(unit.as_bytes()).unwrap().to_meters(),
        }
    }
}
