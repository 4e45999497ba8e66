//! The GEO commands through the real binary: a seeded differential run
//! against redis-server (replies byte for byte, RESP2 and RESP3, one and
//! two shards, both sorted-set encodings) over random GEOADDs (clusters,
//! duplicate points, invalid positions) and random GEODIST, GEOHASH,
//! GEOPOS, GEORADIUS*, GEOSEARCH and GEOSEARCHSTORE requests with good and
//! bad options; every STORE is followed by a comparison of what was
//! stored, with destinations on the source's shard and on another one.
//! COUNT without ANY is compared exactly too, ties included: ringkv
//! reproduces Redis's partial sort. Then COMMAND INFO for every command.

mod common;

use common::reply::{elements, parsed, R};
use common::{show, tags_on_different_shards, RawConn, RedisServer, TestServer};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Where the request keys point: geo sets, a string, a missing key.
fn src_key(rng: &mut StdRng) -> String {
    [
        "g1", "g1", "g1", "g1", "g1", "g2", "g2", "{g1}b", "{g1}b", "str", "nokey",
    ][rng.gen_range(0..11)]
    .to_string()
}

fn member(rng: &mut StdRng) -> String {
    match rng.gen_range(0..20) {
        0 => "".to_string(),
        1 => "12".to_string(),
        2 => "nope".to_string(),
        3..=13 => format!("m{}", rng.gen_range(0..20)),
        _ => format!("m{}", rng.gen_range(0..90)),
    }
}

/// Places points gather around: ordinary, near the poles' limits, on the
/// antimeridian and the equator.
const CENTRES: &[(f64, f64)] = &[
    (13.361389, 38.115556),
    (-122.42, 37.77),
    (0.0, 0.0),
    (179.95, 84.9),
    (-179.99, -85.0),
    (2.35, 48.85),
];

/// A coordinate text: mostly a cluster point or a recent point again
/// (equal distances), sometimes anywhere or on a limit, rarely invalid
/// (invalid ones are not remembered).
fn position(rng: &mut StdRng, recent: &mut Vec<(String, String)>) -> (String, String) {
    let p = match rng.gen_range(0..40) {
        0..=17 => {
            let (lon, lat) = CENTRES[rng.gen_range(0..CENTRES.len())];
            let spread = [0.001, 0.05, 1.0][rng.gen_range(0..3)];
            let lon = (lon + rng.gen_range(-spread..spread)).clamp(-180.0, 180.0);
            let lat = (lat + rng.gen_range(-spread..spread)).clamp(-85.05112878, 85.05112878);
            (format!("{lon:.6}"), format!("{lat:.7}"))
        }
        18..=21 => (
            format!("{}", rng.gen_range(-180.0..180.0)),
            format!("{}", rng.gen_range(-85.05..85.05)),
        ),
        22..=33 if !recent.is_empty() => return recent[rng.gen_range(0..recent.len())].clone(),
        34 => ("180".to_string(), "85.05112878".to_string()),
        35 => ("-180".to_string(), "-85.05112878".to_string()),
        36 => ("180.0001".to_string(), "10".to_string()),
        37 => ("10".to_string(), "-85.06".to_string()),
        38 => (
            ["abc", "nan", "inf", "", "1e400"][rng.gen_range(0..5)].to_string(),
            "1".to_string(),
        ),
        _ => ("0".to_string(), "0".to_string()),
    };
    if p.0.parse::<f64>().is_ok_and(|x| x.abs() <= 180.0)
        && p.1.parse::<f64>().is_ok_and(|y| y.abs() <= 85.05112878)
    {
        if recent.len() < 40 {
            recent.push(p.clone());
        } else {
            let i = rng.gen_range(0..recent.len());
            recent[i] = p.clone();
        }
    }
    p
}

fn unit(rng: &mut StdRng) -> String {
    match rng.gen_range(0..40) {
        0 => "yd".to_string(),
        n => ["m", "km", "ft", "mi", "KM", "Mi", "km", "km"][n % 8].to_string(),
    }
}

fn radius(rng: &mut StdRng) -> String {
    match rng.gen_range(0..40) {
        0 => "0".to_string(),
        1 => "-1".to_string(),
        2 => "abc".to_string(),
        3 => "20000000".to_string(),
        4 => "6000".to_string(),
        5 => "inf".to_string(),
        6..=20 => format!("{}", rng.gen_range(1..5000)),
        _ => format!("{:.3}", rng.gen_range(0.0..300.0)),
    }
}

/// The options after the shape: WITH*, ASC/DESC, COUNT [ANY], noise.
fn options(rng: &mut StdRng, a: &mut Vec<String>, with: bool) {
    for _ in 0..rng.gen_range(0..4) {
        match rng.gen_range(0..12) {
            0 if with => a.push("WITHDIST".into()),
            1 if with => a.push("WITHHASH".into()),
            2 if with => a.push("WITHCOORD".into()),
            3 => a.push("ASC".into()),
            4 => a.push("DESC".into()),
            5..=7 => {
                a.push("COUNT".into());
                a.push(
                    match rng.gen_range(0..40) {
                        0 => "0",
                        1 => "-2",
                        2 => "x",
                        3..=15 => "1",
                        16..=25 => "3",
                        _ => "8",
                    }
                    .to_string(),
                );
                if rng.gen_bool(0.3) {
                    a.push("ANY".into());
                }
            }
            8 if rng.gen_bool(0.1) => a.push("ANY".into()),
            9 if rng.gen_bool(0.05) => a.push("bogus".into()),
            10 if rng.gen_bool(0.05) => a.push("COUNT".into()),
            _ => {}
        }
    }
}

/// GEOSEARCH's FROM and BY groups in random order, sometimes missing,
/// doubled or wrong.
fn search_shape(rng: &mut StdRng, a: &mut Vec<String>, recent: &mut Vec<(String, String)>) {
    let mut groups: Vec<Vec<String>> = Vec::new();
    let from = |rng: &mut StdRng, recent: &mut Vec<(String, String)>| {
        if rng.gen_bool(0.5) {
            vec!["FROMMEMBER".to_string(), member(rng)]
        } else {
            let (lon, lat) = position(rng, recent);
            vec!["FROMLONLAT".to_string(), lon, lat]
        }
    };
    let by = |rng: &mut StdRng| {
        if rng.gen_bool(0.5) {
            vec!["BYRADIUS".to_string(), radius(rng), unit(rng)]
        } else {
            let mut g = vec!["BYBOX".to_string(), radius(rng), radius(rng), unit(rng)];
            if rng.gen_bool(0.05) {
                g.truncate(3);
            }
            g
        }
    };
    if rng.gen_range(0..25) != 0 {
        groups.push(from(rng, recent));
    }
    if rng.gen_range(0..25) != 0 {
        groups.push(by(rng));
    }
    if rng.gen_range(0..30) == 0 {
        groups.push(from(rng, recent));
    }
    if rng.gen_range(0..30) == 0 {
        groups.push(by(rng));
    }
    if rng.gen_bool(0.5) {
        groups.reverse();
    }
    a.extend(groups.into_iter().flatten());
}

/// A random command; the second value names a key whose content is
/// compared afterwards (a STORE destination).
fn random_command(
    rng: &mut StdRng,
    recent: &mut Vec<(String, String)>,
    dsts: &[String],
) -> (Vec<String>, Option<String>) {
    let mut a: Vec<String> = Vec::new();
    let dst = |rng: &mut StdRng| dsts[rng.gen_range(0..dsts.len())].clone();
    let mut stored = None;
    match rng.gen_range(0..40) {
        0..=11 => {
            a.push("GEOADD".into());
            a.push(["g1", "g1", "g2", "{g1}b", "str"][rng.gen_range(0..5)].into());
            if rng.gen_bool(0.25) {
                for _ in 0..rng.gen_range(1..3) {
                    a.push(["NX", "XX", "CH", "CH", "GT"][rng.gen_range(0..5)].into());
                }
            }
            for _ in 0..rng.gen_range(1..6) {
                let (lon, lat) = position(rng, recent);
                a.extend([lon, lat, member(rng)]);
            }
            if rng.gen_range(0..20) == 0 {
                a.pop();
            }
        }
        12 => {
            a.push("GEODIST".into());
            a.extend([src_key(rng), member(rng), member(rng)]);
            for _ in 0..rng.gen_range(0..3) {
                a.push(unit(rng));
            }
        }
        13 => {
            a.push(["GEOHASH", "GEOPOS"][rng.gen_range(0..2)].into());
            a.push(src_key(rng));
            for _ in 0..rng.gen_range(0..4) {
                a.push(member(rng));
            }
        }
        14..=19 => {
            let store = rng.gen_bool(0.4);
            a.push(
                if store || rng.gen_bool(0.5) {
                    "GEORADIUS"
                } else {
                    "GEORADIUS_RO"
                }
                .into(),
            );
            a.push(src_key(rng));
            let (lon, lat) = position(rng, recent);
            a.extend([lon, lat, radius(rng), unit(rng)]);
            let with = !store || rng.gen_bool(0.1);
            options(rng, &mut a, with);
            if store {
                let d = dst(rng);
                a.push(["STORE", "STOREDIST"][rng.gen_range(0..2)].into());
                a.push(d.clone());
                stored = Some(d);
                if rng.gen_bool(0.1) {
                    a.push("STORE".into());
                }
            }
        }
        20..=24 => {
            let store = rng.gen_bool(0.4);
            a.push(
                if store || rng.gen_bool(0.5) {
                    "GEORADIUSBYMEMBER"
                } else {
                    "GEORADIUSBYMEMBER_RO"
                }
                .into(),
            );
            a.extend([src_key(rng), member(rng), radius(rng), unit(rng)]);
            let with = !store || rng.gen_bool(0.1);
            options(rng, &mut a, with);
            if store {
                let d = dst(rng);
                a.push(["STORE", "STOREDIST"][rng.gen_range(0..2)].into());
                a.push(d.clone());
                stored = Some(d);
            }
        }
        25..=31 => {
            a.push("GEOSEARCH".into());
            a.push(src_key(rng));
            let mut rest = Vec::new();
            search_shape(rng, &mut rest, recent);
            options(rng, &mut rest, true);
            if rng.gen_range(0..20) == 0 {
                rest.push("STOREDIST".into());
            }
            a.extend(rest);
        }
        32..=36 => {
            a.push("GEOSEARCHSTORE".into());
            let d = dst(rng);
            a.extend([d.clone(), src_key(rng)]);
            search_shape(rng, &mut a, recent);
            let with = rng.gen_bool(0.1);
            options(rng, &mut a, with);
            if rng.gen_bool(0.4) {
                a.push("STOREDIST".into());
            }
            stored = Some(d);
        }
        37 => {
            // A score GEOADD would not write, read back as a position.
            let score =
                ["-1", "4503599627370496", "1e20", "0", "3471579339700058.5"][rng.gen_range(0..5)];
            a.extend(["ZADD".into(), "g1".into(), score.into(), member(rng)]);
        }
        38 => {
            a.extend(["ZREM".into(), src_key(rng), member(rng)]);
        }
        _ => {
            if rng.gen_range(0..10) == 0 {
                a.extend(["DEL".into(), "g2".into()]);
            } else {
                a.extend(["GEOPOS".into(), "g1".into(), member(rng)]);
            }
        }
    }
    (a, stored)
}

#[test]
fn differential_against_redis() {
    // Searches that found something, found nothing, failed; and found
    // something under COUNT without ANY.
    let mut tally = [0usize; 4];
    for threads in [1, 2] {
        let (ta, tb) = tags_on_different_shards(threads.max(2));
        // Destinations beside the sources and on the other shard.
        let dsts = vec![
            "{g1}d".to_string(),
            format!("{{{ta}}}d"),
            format!("{{{tb}}}d"),
            "{g1}d".to_string(),
            "g2".to_string(),
            "str".to_string(),
        ];
        for resp3 in [false, true] {
            let (ringkv, redis) = (TestServer::start(threads), RedisServer::start());
            let (mut a, mut b) = (ringkv.raw(), redis.raw());
            for c in [&mut a, &mut b] {
                if resp3 {
                    c.cmd(&["HELLO", "3"]);
                }
                c.cmd(&["SET", "str", "x"]);
            }
            let mut rng = StdRng::seed_from_u64(40 + threads as u64 * 2 + resp3 as u64);
            let mut recent = Vec::new();
            for step in 0..3000 {
                if step == 1500 {
                    for c in [&mut a, &mut b] {
                        let r = c.cmd(&["CONFIG", "SET", "zset-max-listpack-entries", "8"]);
                        assert_eq!(r, b"+OK\r\n");
                    }
                }
                let (argv, stored) = random_command(&mut rng, &mut recent, &dsts);
                let ctx = format!("threads {threads} resp3 {resp3} step {step}: {argv:?}");
                let (ours, theirs) = (a.cmd(&argv), b.cmd(&argv));
                assert_eq!(show(&ours), show(&theirs), "{ctx}");
                if argv[0].starts_with("GEOR") || argv[0].starts_with("GEOS") {
                    let kind = match parsed(&ours) {
                        R::Agg(_, v) if !v.is_empty() => 0,
                        R::Line(b':', n) if n != b"0" => 0,
                        R::Line(b'-', _) => 2,
                        _ => 1,
                    };
                    tally[kind] += 1;
                    if kind == 0
                        && argv.iter().any(|w| w == "COUNT")
                        && !argv.iter().any(|w| w == "ANY")
                    {
                        tally[3] += 1;
                    }
                }
                if let Some(d) = stored {
                    let probe = ["ZRANGE", d.as_str(), "0", "-1", "WITHSCORES"];
                    assert_eq!(show(&a.cmd(&probe)), show(&b.cmd(&probe)), "after {ctx}");
                }
            }
            for k in ["g1", "g2", "{g1}b"]
                .iter()
                .chain(dsts.iter().map(|d| d.as_str()).collect::<Vec<_>>().iter())
            {
                for probe in [
                    vec!["ZRANGE", k, "0", "-1", "WITHSCORES"],
                    vec!["OBJECT", "ENCODING", k],
                ] {
                    assert_eq!(show(&a.cmd(&probe)), show(&b.cmd(&probe)), "{probe:?}");
                }
            }
        }
    }
    // The run means something: many searches found members, many failed.
    eprintln!("searches found/empty/failed, COUNT found: {tally:?}");
    assert!(
        tally[0] > 2000 && tally[2] > 1000 && tally[3] > 200,
        "{tally:?}"
    );
}

const GEO_COMMANDS: [&str; 10] = [
    "geoadd",
    "geodist",
    "geohash",
    "geopos",
    "georadius",
    "georadius_ro",
    "georadiusbymember",
    "georadiusbymember_ro",
    "geosearch",
    "geosearchstore",
];

#[test]
fn command_info_matches_redis() {
    let (ringkv, redis) = (TestServer::start(1), RedisServer::start());
    let (mut a, mut b) = (ringkv.raw(), redis.raw());
    for resp3 in [false, true] {
        if resp3 {
            a.cmd(&["HELLO", "3"]);
            b.cmd(&["HELLO", "3"]);
        }
        for c in GEO_COMMANDS {
            let (ours, theirs) = (
                a.cmd(&["COMMAND", "INFO", c]),
                b.cmd(&["COMMAND", "INFO", c]),
            );
            // GEOSEARCHSTORE's two index key specs are reported as one
            // range (as ZRANGESTORE's), GEOADD's key flags as every other
            // write's (`RW access update`, Redis: `RW update`); the rest is
            // exact.
            if c == "geosearchstore" || c == "geoadd" {
                let head = |r: &[u8]| match parsed(r) {
                    R::Agg(_, v) => elements(&v[0]).into_iter().take(8).collect::<Vec<_>>(),
                    _ => Vec::new(),
                };
                assert_eq!(head(&ours), head(&theirs), "{c}");
            } else {
                assert_eq!(show(&ours), show(&theirs), "{c} resp3 {resp3}");
            }
        }
    }
    // The STORE keys, as GETKEYS finds them.
    for argv in [
        vec![
            "COMMAND",
            "GETKEYS",
            "GEORADIUS",
            "k",
            "1",
            "2",
            "3",
            "km",
            "STORE",
            "d",
        ],
        vec![
            "COMMAND",
            "GETKEYS",
            "GEORADIUSBYMEMBER",
            "k",
            "m",
            "3",
            "km",
            "STOREDIST",
            "d",
        ],
        vec![
            "COMMAND",
            "GETKEYS",
            "GEORADIUS",
            "k",
            "1",
            "2",
            "3",
            "km",
            "COUNT",
            "1",
        ],
        vec![
            "COMMAND",
            "GETKEYS",
            "GEOSEARCHSTORE",
            "d",
            "k",
            "FROMMEMBER",
            "m",
            "BYRADIUS",
            "1",
            "m",
        ],
    ] {
        assert_eq!(show(&a.cmd(&argv)), show(&b.cmd(&argv)), "{argv:?}");
    }
}

/// GEORADIUS … STORE and GEOSEARCHSTORE into a destination on another
/// shard write it there (and delete it when nothing is found).
#[test]
fn store_across_shards() {
    let server = TestServer::start(2);
    let (ta, tb) = tags_on_different_shards(2);
    let (src, dst) = (format!("{{{ta}}}src"), format!("{{{tb}}}dst"));
    let mut c: RawConn = server.raw();
    let add = c.cmd(&[
        "GEOADD",
        &src,
        "13.361389",
        "38.115556",
        "a",
        "15.087269",
        "37.502669",
        "b",
    ]);
    assert_eq!(add, b":2\r\n");
    let r = c.cmd(&[
        "GEORADIUS",
        &src,
        "15",
        "37",
        "200",
        "km",
        "STOREDIST",
        &dst,
    ]);
    assert_eq!(r, b":2\r\n");
    let stored = c.cmd(&["ZRANGE", &dst, "0", "-1", "WITHSCORES"]);
    assert_eq!(
        show(&stored),
        show(b"*4\r\n$1\r\nb\r\n$18\r\n56.441257870158204\r\n$1\r\na\r\n$18\r\n190.44242984775784\r\n")
    );
    let r = c.cmd(&[
        "GEOSEARCHSTORE",
        &dst,
        &src,
        "FROMMEMBER",
        "a",
        "BYBOX",
        "1",
        "1",
        "km",
    ]);
    assert_eq!(r, b":1\r\n");
    assert_eq!(c.cmd(&["ZCARD", &dst]), b":1\r\n");
    let r = c.cmd(&[
        "GEOSEARCHSTORE",
        &dst,
        &src,
        "FROMLONLAT",
        "0",
        "0",
        "BYRADIUS",
        "1",
        "m",
    ]);
    assert_eq!(r, b":0\r\n");
    assert_eq!(c.cmd(&["EXISTS", &dst]), b":0\r\n");
    // Errors found on the source's shard are the reply; nothing is written.
    c.cmd(&["SET", &dst, "x"]);
    let r = c.cmd(&["GEORADIUSBYMEMBER", &src, "zz", "1", "km", "STORE", &dst]);
    assert_eq!(
        show(&r),
        "-ERR could not decode requested zset member\\r\\n"
    );
    assert_eq!(c.cmd(&["GET", &dst]), b"$1\r\nx\r\n");
}
