//! Test-only: reads `tests/fixtures/geo/redis.txt`, what redis-server 7.0
//! answered to GEO commands over a seeded set of points (written by
//! `scripts/gen_geo_fixtures.py`, which documents the line format).

use std::collections::HashMap;
use std::sync::OnceLock;

const TEXT: &str = include_str!("../../../tests/fixtures/geo/redis.txt");

/// A member as GEOADD was sent it and what Redis then answered for it.
pub struct Point {
    pub name: String,
    pub lon_arg: String,
    pub lat_arg: String,
    pub zscore: String,
    pub pos_lon: String,
    pub pos_lat: String,
    pub geohash: String,
}

impl Point {
    /// The sorted-set score.
    pub fn score(&self) -> f64 {
        parse_strtod(&self.zscore)
    }
}

/// GEODIST a b unit and its reply.
pub struct Dist {
    pub a: String,
    pub b: String,
    pub unit: String,
    pub reply: String,
}

/// A GEOADD position refused, and the error text.
pub struct Refused {
    pub lon_arg: String,
    pub lat_arg: String,
    pub reply: String,
}

/// A GEOSEARCH (arguments between the key and the options) and its results:
/// unsorted with [member, dist, hash, lon, lat] texts, then ASC and DESC names.
pub struct Search {
    pub id: String,
    pub args: Vec<String>,
    pub unsorted: Vec<[String; 5]>,
    pub asc: Vec<String>,
    pub desc: Vec<String>,
}

pub struct Fixture {
    pub points: Vec<Point>,
    pub dists: Vec<Dist>,
    pub errors: Vec<Refused>,
    pub searches: Vec<Search>,
    by_name: HashMap<String, usize>,
}

impl Fixture {
    pub fn point(&self, name: &str) -> &Point {
        &self.points[self.by_name[name]]
    }
}

/// An argument as Redis's `strtod` reads it (Rust's parser is also correctly
/// rounded; `inf` is spelled the same).
pub fn parse_strtod(s: &str) -> f64 {
    s.parse()
        .unwrap_or_else(|_| panic!("not a number in fixture: {s:?}"))
}

/// The fixture, parsed once for all tests.
pub fn load() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(parse)
}

fn parse() -> Fixture {
    let mut fx = Fixture {
        points: Vec::new(),
        dists: Vec::new(),
        errors: Vec::new(),
        searches: Vec::new(),
        by_name: HashMap::new(),
    };
    for line in TEXT.lines() {
        let f: Vec<String> = line.split('\t').map(str::to_string).collect();
        match f[0].as_str() {
            "P" => {
                fx.by_name.insert(f[1].clone(), fx.points.len());
                fx.points.push(Point {
                    name: f[1].clone(),
                    lon_arg: f[2].clone(),
                    lat_arg: f[3].clone(),
                    zscore: f[4].clone(),
                    pos_lon: f[5].clone(),
                    pos_lat: f[6].clone(),
                    geohash: f[7].clone(),
                });
            }
            "D" => fx.dists.push(Dist {
                a: f[1].clone(),
                b: f[2].clone(),
                unit: f[3].clone(),
                reply: f[4].clone(),
            }),
            "E" => fx.errors.push(Refused {
                lon_arg: f[1].clone(),
                lat_arg: f[2].clone(),
                reply: f[3].clone(),
            }),
            "S" => fx.searches.push(Search {
                id: f[1].clone(),
                args: f[2..].to_vec(),
                unsorted: Vec::new(),
                asc: Vec::new(),
                desc: Vec::new(),
            }),
            kind @ ("U" | "A" | "Z") => {
                let s = fx.searches.last_mut().expect("results before their search");
                assert_eq!(s.id, f[1], "results out of place");
                match kind {
                    "U" => s.unsorted.push([
                        f[2].clone(),
                        f[3].clone(),
                        f[4].clone(),
                        f[5].clone(),
                        f[6].clone(),
                    ]),
                    "A" => s.asc = f[2..].to_vec(),
                    _ => s.desc = f[2..].to_vec(),
                }
            }
            other => panic!("unknown fixture line kind {other:?}"),
        }
    }
    fx
}
