//! Glob-style pattern matching with Redis 7.0's `stringmatchlen` semantics
//! (`*`, `?`, `[abc]`, `[^a-z]`, `\x` escapes), used by KEYS, SCAN MATCH and
//! CONFIG GET.
//!
//! Redis's quirks are kept on purpose, since clients see them:
//! - a pattern never matches the empty string unless the pattern is empty too
//!   (`*` matches `""` only through the callers' "exactly `*`" shortcut);
//! - in a class, `a-z` ranges may be written backwards (`[z-a]`), a range end
//!   can be the class's `]` (`[a-]x]`), `\` escapes one byte, and an
//!   unterminated class ends at the pattern's end;
//! - in a class `\x` compares case-sensitively even when `nocase`;
//! - a trailing lone `\` matches a literal backslash.
//!
//! Cost is bounded as in Redis: recursion stops at 1000 nested `*` (no
//! match), and once the rest of a pattern after a `*` failed at every
//! position, no earlier `*` retries longer matches.

/// True when `s` matches `pattern`.
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    match_from(pattern, s, nocase, &mut skip_longer, 0)
}

fn eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

fn match_from(
    mut p: &[u8],
    mut s: &[u8],
    nocase: bool,
    skip_longer: &mut bool,
    nesting: usize,
) -> bool {
    if nesting > 1000 {
        return false;
    }
    while !p.is_empty() && !s.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                while !s.is_empty() {
                    if match_from(&p[1..], s, nocase, skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s = &s[1..];
                }
                // The rest failed from every position: earlier stars cannot help.
                *skip_longer = true;
                return false;
            }
            b'?' => s = &s[1..],
            b'[' => {
                p = &p[1..];
                let not = p.first() == Some(&b'^');
                if not {
                    p = &p[1..];
                }
                let c = s[0];
                let mut matched = false;
                // Stops with `p` on the class's `]`, or empty when the class is
                // unterminated (Redis then steps back so the pattern ends).
                loop {
                    match p {
                        [b'\\', escaped, ..] => {
                            p = &p[1..];
                            matched |= *escaped == c;
                        }
                        [b']', ..] | [] => break,
                        [lo, b'-', hi, ..] => {
                            let (mut lo, mut hi, mut c) = (*lo, *hi, c);
                            if lo > hi {
                                std::mem::swap(&mut lo, &mut hi);
                            }
                            if nocase {
                                lo = lo.to_ascii_lowercase();
                                hi = hi.to_ascii_lowercase();
                                c = c.to_ascii_lowercase();
                            }
                            matched |= lo <= c && c <= hi;
                            p = &p[2..];
                        }
                        [b, ..] => matched |= eq(*b, c, nocase),
                    }
                    p = &p[1..];
                }
                if matched == not {
                    return false;
                }
                s = &s[1..];
                if p.is_empty() {
                    // Unterminated class: the pattern is used up.
                    return s.is_empty();
                }
            }
            b'\\' if p.len() >= 2 => {
                p = &p[1..];
                if !eq(p[0], s[0], nocase) {
                    return false;
                }
                s = &s[1..];
            }
            b => {
                if !eq(b, s[0], nocase) {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = &p[1..];
        if s.is_empty() {
            while p.first() == Some(&b'*') {
                p = &p[1..];
            }
            break;
        }
    }
    p.is_empty() && s.is_empty()
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    /// (pattern, key, matches) — each checked against redis-server 7.0's
    /// `KEYS pattern` with that single key stored (see tests/keys.rs, which
    /// replays the same table against a live server).
    pub const REDIS_CASES: &[(&[u8], &[u8], bool)] = &[
        (b"h?llo", b"hello", true),
        (b"h?llo", b"hllo", false),
        (b"h*llo", b"hllo", true),
        (b"h*llo", b"heeeello", true),
        (b"h[ae]llo", b"hallo", true),
        (b"h[ae]llo", b"hillo", false),
        (b"h[^e]llo", b"hallo", true),
        (b"h[^e]llo", b"hello", false),
        (b"h[a-b]llo", b"hbllo", true),
        (b"h[b-a]llo", b"hallo", true),
        (b"h\\*llo", b"h*llo", true),
        (b"h\\*llo", b"hallo", false),
        (b"key:*", b"key:", true),
        (b"**", b"", false),
        (b"?*", b"", false),
        (b"", b"", true),
        (b"*", b"a", true),
        (b"a*b*c", b"abc", true),
        (b"a*b*c", b"aXbYbZc", true),
        (b"a*b*c", b"acb", false),
        (b"*a", b"aaa", true),
        (b"a**", b"a", true),
        (b"a*?", b"a", false),
        (b"[abc", b"a", true),
        (b"[abc", b"ab", false),
        (b"x[abc", b"xc", true),
        (b"[a-", b"a", true),
        (b"[a-", b"-", true),
        (b"[a-]x]", b"]", true),
        (b"[a-]x]", b"^x]", false),
        (b"[]]", b"]", false),
        (b"[]]", b"]]", false),
        (b"[]a]", b"a", false),
        (b"[\\]]", b"]", true),
        (b"[\\]a]", b"a", true),
        (b"[^]", b"a", true),
        (b"[^]", b"", false),
        (b"[]", b"a", false),
        (b"a[]b", b"ab", false),
        (b"\\", b"\\", true),
        (b"a\\", b"a\\", true),
        (b"\\a", b"a", true),
        (b"[\\", b"\\", true),
        (b"[a\\-z]", b"-", true),
        (b"[a\\-z]", b"b", false),
        (b"[-a]", b"-", true),
        (b"[a-z0-9]*", b"q9", true),
        (b"[^a-z]", b"Q", true),
        (b"*[*]", b"ab*", true),
        (b"*\\", b"ab\\", true),
        (b"?", b"\xff", true),
        (b"[\x80-\xff]", b"\xc3", true),
        (b"K*", b"k1", false),
    ];

    #[test]
    fn matches_redis_keys() {
        for (p, s, want) in REDIS_CASES {
            assert_eq!(
                glob_match(p, s, false),
                *want,
                "pattern {:?} key {:?}",
                p.escape_ascii().to_string(),
                s.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn nocase_as_config_get() {
        assert!(glob_match(b"MAXMEMORY*", b"maxmemory-policy", true));
        assert!(glob_match(b"[A-C]x", b"bX", true));
        assert!(glob_match(b"[Q]", b"q", true));
        // An escaped byte in a class compares exactly, even with nocase.
        assert!(!glob_match(b"[\\Q]", b"q", true));
    }

    #[test]
    fn pathological_patterns_finish_quickly() {
        let s = vec![b'a'; 100];
        let mut p = b"a*".repeat(30);
        p.push(b'b');
        let start = std::time::Instant::now();
        assert!(!glob_match(&p, &s, false));
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
        // More than 1000 nested stars: no match, as Redis.
        let deep = b"a*".repeat(1100);
        assert!(!glob_match(&deep, &vec![b'a'; 1200], false));
        assert!(glob_match(&b"a*".repeat(900), &vec![b'a'; 1000], false));
    }
}
