//! SORT's options as Redis 7.0's `sortCommandGeneric` reads them, and its
//! `BY`/`GET` patterns as `lookupKeyByPattern` resolves them.
//!
//! Patterns are read the way Redis's C code reads them: the `*` is looked
//! for only up to the first NUL byte, and so is the `->` of a hash field
//! after it, while the key's text after the `*` and the field are taken
//! whole.

use crate::cmd::eq_ic;
use crate::cmd::error::CmdError;
use crate::protocol::parser::parse_i64;
use crate::protocol::Args;

/// What the elements are sorted by.
#[derive(Clone, Debug, PartialEq)]
pub enum By {
    /// No `BY`: the elements themselves.
    Element,
    /// `BY` a pattern without `*` (`nosort` by custom): nothing is sorted.
    Constant,
    /// `BY` the values the pattern names for each element.
    Pattern(Pattern),
}

/// One `GET` of the output.
#[derive(Clone, Debug, PartialEq)]
pub enum Get {
    /// `GET #`: the element itself.
    Element,
    /// A pattern without `*`: always nil.
    Nothing,
    /// The value the pattern names for the element.
    Pattern(Pattern),
}

/// A pattern with its `*`: `prefix*suffix`, or `prefix*suffix->field` for a
/// hash field.
#[derive(Clone, Debug, PartialEq)]
pub struct Pattern {
    prefix: Vec<u8>,
    suffix: Vec<u8>,
    field: Option<Vec<u8>>,
}

/// What an element's pattern names: a string key, or a field of a hash.
pub type Lookup = (Vec<u8>, Option<Vec<u8>>);

impl Pattern {
    /// The pattern's `*` and hash field, as Redis finds them; None without
    /// a `*` before the first NUL byte.
    pub fn parse(p: &[u8]) -> Option<Pattern> {
        let c_str = &p[..p.iter().position(|&b| b == 0).unwrap_or(p.len())];
        let star = c_str.iter().position(|&b| b == b'*')?;
        let after = &c_str[star + 1..];
        let arrow = after
            .windows(2)
            .position(|w| w == b"->")
            .map(|i| star + 1 + i)
            .filter(|&i| p.get(i + 2).is_some_and(|&b| b != 0));
        let (suffix, field) = match arrow {
            Some(i) => (&p[star + 1..i], Some(p[i + 2..].to_vec())),
            None => (&p[star + 1..], None),
        };
        Some(Pattern {
            prefix: p[..star].to_vec(),
            suffix: suffix.to_vec(),
            field,
        })
    }

    /// The key (and field) this pattern names for `element`.
    pub fn lookup(&self, element: &[u8]) -> Lookup {
        let mut key = Vec::with_capacity(self.prefix.len() + element.len() + self.suffix.len());
        key.extend_from_slice(&self.prefix);
        key.extend_from_slice(element);
        key.extend_from_slice(&self.suffix);
        (key, self.field.clone())
    }
}

/// A SORT or SORT_RO invocation's options.
#[derive(Clone, Debug, PartialEq)]
pub struct SortPlan {
    pub desc: bool,
    pub alpha: bool,
    /// `LIMIT offset count`, as given (0 -1 without one).
    pub limit: (i64, i64),
    pub by: By,
    pub gets: Vec<Get>,
    /// `STORE`'s destination (the last one given).
    pub store: Option<Vec<u8>>,
}

/// `ERR value is not an integer or out of range`, LIMIT's error.
const NOT_INTEGER: CmdError = CmdError::NotInteger;

impl SortPlan {
    /// Reads the options after the key (`words`, from argument 2 on);
    /// `readonly` (SORT_RO) refuses STORE as a syntax error, as Redis does.
    pub fn parse<T: AsRef<[u8]>>(words: &[T], readonly: bool) -> Result<SortPlan, CmdError> {
        let mut plan = SortPlan {
            desc: false,
            alpha: false,
            limit: (0, -1),
            by: By::Element,
            gets: Vec::new(),
            store: None,
        };
        let mut j = 0;
        while j < words.len() {
            let w = words[j].as_ref();
            let left = words.len() - j - 1;
            if eq_ic(w, "asc") {
                plan.desc = false;
            } else if eq_ic(w, "desc") {
                plan.desc = true;
            } else if eq_ic(w, "alpha") {
                plan.alpha = true;
            } else if eq_ic(w, "limit") && left >= 2 {
                let n = |i: usize| parse_i64(words[i].as_ref()).ok_or(NOT_INTEGER);
                plan.limit = (n(j + 1)?, n(j + 2)?);
                j += 2;
            } else if !readonly && eq_ic(w, "store") && left >= 1 {
                plan.store = Some(words[j + 1].as_ref().to_vec());
                j += 1;
            } else if eq_ic(w, "by") && left >= 1 {
                // As in Redis, a constant BY stops the sort for good, even
                // when a pattern follows.
                if plan.by != By::Constant {
                    plan.by =
                        Pattern::parse(words[j + 1].as_ref()).map_or(By::Constant, By::Pattern);
                }
                j += 1;
            } else if eq_ic(w, "get") && left >= 1 {
                let p = words[j + 1].as_ref();
                let c_str = &p[..p.iter().position(|&b| b == 0).unwrap_or(p.len())];
                plan.gets.push(if c_str == b"#" {
                    Get::Element
                } else {
                    Pattern::parse(p).map_or(Get::Nothing, Get::Pattern)
                });
                j += 1;
            } else {
                return Err(CmdError::Syntax);
            }
            j += 1;
        }
        Ok(plan)
    }

    /// Whether the command reads keys that no argument names (a `BY` or
    /// `GET` pattern with a `*`): they may live on any shard.
    pub fn reaches_keys(&self) -> bool {
        matches!(self.by, By::Pattern(_)) || self.gets.iter().any(|g| matches!(g, Get::Pattern(_)))
    }

    /// The `LIMIT` window over `len` elements, clamped as Redis clamps it:
    /// the half-open range of positions in the sorted output.
    pub fn window(&self, len: usize) -> std::ops::Range<usize> {
        let len = len as i64;
        let (offset, count) = self.limit;
        let mut start = offset.clamp(0, len);
        let count = count.clamp(-1, len);
        let mut end = if count < 0 {
            len - 1
        } else {
            start + count - 1
        };
        if start >= len {
            start = len - 1;
            end = len - 2;
        }
        end = end.min(len - 1);
        if end < start {
            return 0..0;
        }
        start as usize..end as usize + 1
    }
}

/// SORT's `STORE` key, found as Redis's `sortGetKeys` finds it: options
/// skip their arguments (LIMIT two, GET and BY one), the last STORE wins.
pub fn store_key(args: &Args) -> Option<usize> {
    let mut found = None;
    let mut i = 2;
    while i < args.len() {
        let w = args.get(i);
        if eq_ic(w, "limit") {
            i += 2;
        } else if eq_ic(w, "get") || eq_ic(w, "by") {
            i += 1;
        } else if eq_ic(w, "store") && i + 1 < args.len() {
            found = Some(i + 1);
        }
        i += 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(words: &[&str]) -> Result<SortPlan, CmdError> {
        SortPlan::parse(words, false)
    }

    #[test]
    fn patterns_split_at_star_and_arrow() {
        let p = Pattern::parse(b"w_*->f").unwrap();
        assert_eq!(p.lookup(b"3"), (b"w_3".to_vec(), Some(b"f".to_vec())));
        let p = Pattern::parse(b"w_*_x").unwrap();
        assert_eq!(p.lookup(b"a"), (b"w_a_x".to_vec(), None));
        // An empty field keeps the arrow in the key.
        let p = Pattern::parse(b"h*->").unwrap();
        assert_eq!(p.lookup(b"1"), (b"h1->".to_vec(), None));
        // The arrow must follow the star.
        let p = Pattern::parse(b"a->b*").unwrap();
        assert_eq!(p.lookup(b"1"), (b"a->b1".to_vec(), None));
        assert_eq!(Pattern::parse(b"nostar"), None);
        // C strings: a star after a NUL is not seen.
        assert_eq!(Pattern::parse(b"a\0*"), None);
    }

    #[test]
    fn options_parse_as_redis() {
        let p = plan(&[
            "limit", "1", "2", "desc", "alpha", "by", "w_*", "get", "#", "get", "x", "store", "d",
        ])
        .unwrap();
        assert_eq!(p.limit, (1, 2));
        assert!(p.desc && p.alpha);
        assert!(matches!(p.by, By::Pattern(_)));
        assert_eq!(p.gets[0], Get::Element);
        assert_eq!(p.gets[1], Get::Nothing);
        assert_eq!(p.store.as_deref(), Some(&b"d"[..]));
        assert!(p.reaches_keys());
        assert_eq!(plan(&["by", "nosort"]).unwrap().by, By::Constant);
        assert_eq!(
            plan(&["by", "nosort", "by", "w_*"]).unwrap().by,
            By::Constant
        );
        assert!(!plan(&["by", "nosort", "get", "#"]).unwrap().reaches_keys());
        assert_eq!(plan(&["limit", "1"]), Err(CmdError::Syntax));
        assert_eq!(plan(&["limit", "x", "1"]), Err(CmdError::NotInteger));
        assert_eq!(plan(&["bogus"]), Err(CmdError::Syntax));
        assert_eq!(
            SortPlan::parse(&["store", "d"], true),
            Err(CmdError::Syntax)
        );
    }

    #[test]
    fn windows_clamp_as_redis() {
        let w = |o, c, len| {
            let mut p = plan(&[]).unwrap();
            p.limit = (o, c);
            p.window(len)
        };
        assert_eq!(w(0, -1, 5), 0..5);
        assert_eq!(w(1, 2, 5), 1..3);
        assert_eq!(w(-3, 2, 5), 0..2);
        assert_eq!(w(4, 10, 5), 4..5);
        assert_eq!(w(5, 1, 5), 0..0);
        assert_eq!(w(2, 0, 5), 0..0);
        assert_eq!(w(0, -1, 0), 0..0);
        assert_eq!(w(i64::MAX, i64::MAX, 3), 0..0);
        assert_eq!(w(i64::MIN, i64::MIN, 3), 0..3);
    }
}
