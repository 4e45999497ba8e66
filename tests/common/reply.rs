//! A RESP2/RESP3 reply parsed into a tree, for tests that compare replies
//! whose aggregate order may differ (hashtable iteration) or that need the
//! elements of a reply.

/// A parsed RESP reply: a one-line reply (`+`, `-`, `:`, `,`, `_`, `#`...)
/// with its type byte, a bulk string (`None` for the null bulk), or an
/// aggregate (`*`, `~`, `%` with its keys and values flattened) with its
/// type byte. A null array reads as the null bulk.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum R {
    Line(u8, Vec<u8>),
    Bulk(Option<Vec<u8>>),
    Agg(u8, Vec<R>),
}

/// Parses the reply starting at `*at` and moves `*at` past it.
pub fn parse(b: &[u8], at: &mut usize) -> R {
    let end = *at
        + b[*at..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("CRLF");
    let (kind, line) = (b[*at], b[*at + 1..end].to_vec());
    *at = end + 2;
    match kind {
        b'$' => {
            let n: i64 = String::from_utf8_lossy(&line).parse().unwrap();
            if n < 0 {
                return R::Bulk(None);
            }
            let data = b[*at..*at + n as usize].to_vec();
            *at += n as usize + 2;
            R::Bulk(Some(data))
        }
        b'*' | b'~' | b'%' => {
            let n: i64 = String::from_utf8_lossy(&line).parse().unwrap();
            if n < 0 {
                return R::Bulk(None);
            }
            let n = if kind == b'%' { 2 * n } else { n };
            R::Agg(kind, (0..n).map(|_| parse(b, at)).collect())
        }
        _ => R::Line(kind, line),
    }
}

/// The one reply `b` holds (nothing may follow it).
pub fn parsed(b: &[u8]) -> R {
    let mut at = 0;
    let r = parse(b, &mut at);
    assert_eq!(at, b.len(), "trailing bytes after a reply");
    r
}

/// The reply with every aggregate's elements sorted (order ignored).
pub fn unordered(r: &R) -> R {
    match r {
        R::Agg(k, v) => {
            let mut v: Vec<R> = v.iter().map(unordered).collect();
            v.sort();
            R::Agg(*k, v)
        }
        other => other.clone(),
    }
}

/// An aggregate's elements (none for anything else).
pub fn elements(r: &R) -> Vec<R> {
    match r {
        R::Agg(_, v) => v.clone(),
        _ => Vec::new(),
    }
}
