//! How setting values are read from text: integers and memory sizes with
//! Redis's error texts, booleans as yes/no, one of a set of words, CPU lists.

/// An integer in `[min, max]`, with Redis's error texts.
pub(super) fn int(v: &str, min: i64, max: i64) -> Result<i64, String> {
    let n: i64 = v
        .trim()
        .parse()
        .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
    in_range(n, min, max)
}

pub(super) fn in_range(n: i64, min: i64, max: i64) -> Result<i64, String> {
    if n < min || n > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(n)
}

/// A byte count with Redis's memory units (`1k`=1000, `1kb`=1024, `gb`, ...).
pub fn memory(v: &str, min: i64, max: i64) -> Result<i64, String> {
    let lower = v.trim().to_ascii_lowercase();
    let units: &[(&str, i64)] = &[
        ("kb", 1 << 10),
        ("mb", 1 << 20),
        ("gb", 1 << 30),
        ("k", 1000),
        ("m", 1_000_000),
        ("g", 1_000_000_000),
        ("b", 1),
    ];
    let (digits, mul) = units
        .iter()
        .find_map(|(suffix, mul)| lower.strip_suffix(suffix).map(|d| (d, *mul)))
        .unwrap_or((lower.as_str(), 1));
    let n: i64 = digits
        .parse()
        .ok()
        .and_then(|n: i64| n.checked_mul(mul))
        .ok_or_else(|| "argument must be a memory value".to_string())?;
    in_range(n, min, max)
}

pub(super) fn boolean(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

pub(super) fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

/// One of `choices` (case-insensitive), with Redis's error text.
pub(super) fn one_of(v: &str, choices: &[&'static str]) -> Result<&'static str, String> {
    choices
        .iter()
        .find(|c| c.eq_ignore_ascii_case(v))
        .copied()
        .ok_or_else(|| {
            format!(
                "argument(s) must be one of the following: {}",
                choices.join(", ")
            )
        })
}

/// A CPU list as taskset writes it: `0-3,8,10-11` (empty: none given).
pub fn parse_cpu_list(v: &str) -> Result<Vec<usize>, String> {
    let mut cpus = Vec::new();
    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || format!("'{part}' is not a CPU number or range like 0-3");
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (
                a.trim().parse().map_err(|_| bad())?,
                b.trim().parse().map_err(|_| bad())?,
            ),
            None => {
                let n: usize = part.parse().map_err(|_| bad())?;
                (n, n)
            }
        };
        if lo > hi || hi >= 4096 {
            return Err(bad());
        }
        for cpu in lo..=hi {
            if !cpus.contains(&cpu) {
                cpus.push(cpu);
            }
        }
    }
    Ok(cpus)
}
