//! Unit tests of the AOF format: encoders, parsing, torn tails, corruption.

use super::*;

fn cmd(args: &[&[u8]]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.to_vec()).collect()
}

fn args_of(rec: &Record) -> Vec<Vec<Vec<u8>>> {
    match rec {
        Record::Cmd(c) => vec![c.args.clone()],
        Record::Tx { cmds, .. } => cmds.iter().map(|c| c.args.clone()).collect(),
    }
}

fn only_cmd(data: &[u8]) -> Vec<Vec<u8>> {
    let file = parse(data).unwrap();
    assert_eq!(file.records.len(), 1);
    assert_eq!(file.torn_tail, None);
    assert_eq!(file.valid_len, data.len());
    args_of(&file.records[0]).remove(0)
}

#[test]
fn encodes_resp_arrays() {
    let mut out = Vec::new();
    encode_command(&mut out, &[b"SET", b"k", b""]);
    assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
}

#[test]
fn every_encoder_round_trips() {
    let cases: Vec<(Vec<u8>, Vec<Vec<u8>>)> = vec![
        (enc(|o| encode_select(o, 7)), cmd(&[b"SELECT", b"7"])),
        (
            enc(|o| encode_set(o, b"k", &Value::int(-12), 0)),
            cmd(&[b"SET", b"k", b"-12"]),
        ),
        (
            enc(|o| encode_set(o, b"k\r\n", &Value::string(b"a\r\nb"), 99)),
            cmd(&[b"SET", b"k\r\n", b"a\r\nb", b"PXAT", b"99"]),
        ),
        (enc(|o| encode_del(o, b"k")), cmd(&[b"DEL", b"k"])),
        (
            enc(|o| encode_pexpireat(o, b"k", 1234)),
            cmd(&[b"PEXPIREAT", b"k", b"1234"]),
        ),
        (enc(|o| encode_persist(o, b"k")), cmd(&[b"PERSIST", b"k"])),
        (enc(encode_flushdb), cmd(&[b"FLUSHDB"])),
        (enc(encode_flushall), cmd(&[b"FLUSHALL"])),
        (
            enc(|o| encode_swapdb(o, 1, 15)),
            cmd(&[b"SWAPDB", b"1", b"15"]),
        ),
    ];
    for (bytes, want) in cases {
        assert_eq!(only_cmd(&bytes), want);
    }
}

fn enc(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::new();
    f(&mut out);
    out
}

#[test]
fn tagged_transaction_and_commit() {
    let data = enc(|o| {
        encode_tx_begin(o, "5f3a9c-1027");
        encode_set(o, b"a", &Value::int(1), 0);
        encode_del(o, b"b");
        encode_tx_end(o);
        encode_commit(o, "5f3a9c-1027");
        encode_command(o, &[b"multi"]);
        encode_tx_end(o);
    });
    let file = parse(&data).unwrap();
    assert_eq!(file.torn_tail, None);
    assert_eq!(file.records.len(), 2);
    let Record::Tx { offset, tag, cmds } = &file.records[0] else {
        panic!("not a transaction: {:?}", file.records[0]);
    };
    assert_eq!((*offset, tag.as_deref()), (0, Some("5f3a9c-1027")));
    assert_eq!(cmds.len(), 2);
    assert!(cmds[1].is("del"));
    assert!(matches!(&file.records[1], Record::Tx { tag: None, cmds, .. } if cmds.is_empty()));
    assert!(file.commits.contains("5f3a9c-1027"));
}

#[test]
fn tx_tag_only_attaches_to_the_next_multi() {
    let data = enc(|o| {
        o.extend_from_slice(b"#TX lost\r\n");
        encode_del(o, b"k");
        o.extend_from_slice(b"# a comment\r\n#TXT x y\r\n");
        encode_command(o, &[b"MULTI"]);
        encode_tx_end(o);
    });
    let file = parse(&data).unwrap();
    assert_eq!(file.records.len(), 2);
    assert!(matches!(&file.records[1], Record::Tx { tag: None, .. }));
    assert!(file.commits.is_empty());
}

/// A file of several units, with the offset where each unit ends and the
/// record and commit counts once it is complete.
fn sample() -> (Vec<u8>, Vec<(usize, usize, usize)>) {
    let mut out = Vec::new();
    let mut ends = vec![(0, 0, 0)];
    let mut unit = |out: &mut Vec<u8>, f: &dyn Fn(&mut Vec<u8>), recs: usize, commits| {
        f(out);
        ends.push((out.len(), recs, commits));
    };
    unit(&mut out, &|o| encode_select(o, 1), 1, 0);
    unit(
        &mut out,
        &|o| encode_set(o, b"key", &Value::int(10), 5),
        2,
        0,
    );
    unit(
        &mut out,
        &|o| {
            encode_tx_begin(o, "t1");
            encode_set(o, b"x", &Value::string(b"yy"), 0);
            encode_del(o, b"key");
            encode_tx_end(o);
        },
        3,
        0,
    );
    unit(&mut out, &|o| o.extend_from_slice(b"# note\r\n"), 3, 0);
    unit(&mut out, &|o| encode_commit(o, "t1"), 3, 1);
    unit(&mut out, &encode_flushall, 4, 1);
    (out, ends)
}

#[test]
fn torn_at_every_offset() {
    let (data, ends) = sample();
    let full = parse(&data).unwrap();
    for cut in 0..=data.len() {
        let file = parse(&data[..cut]).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        let &(end, recs, commits) = ends.iter().rev().find(|u| u.0 <= cut).unwrap();
        assert_eq!(file.valid_len, end, "cut {cut}");
        assert_eq!(file.records[..], full.records[..recs], "cut {cut}");
        assert_eq!(file.commits.len(), commits, "cut {cut}");
        let expect_torn = (end != cut).then_some(end);
        assert_eq!(file.torn_tail, expect_torn, "cut {cut}");
    }
}

#[test]
fn zero_padding_is_corruption_at_every_offset() {
    // A crash cuts a file short; zeros after the data are damage (as Redis
    // sees them), never trimmed away as a torn write.
    let (data, ends) = sample();
    for cut in 0..=data.len() {
        let mut padded = data[..cut].to_vec();
        padded.resize(cut + 100, 0);
        let err = parse(&padded).expect_err(&format!("cut {cut}"));
        // Reported at the damaged unit, or at the piece of a transaction
        // where the zeros begin.
        let &(end, _, _) = ends.iter().rev().find(|u| u.0 <= cut).unwrap();
        assert!((end..=cut).contains(&err.offset), "cut {cut}: {err}");
    }
}

#[test]
fn multi_without_exec_at_the_end_is_dropped() {
    let data = enc(|o| {
        encode_del(o, b"a");
        encode_tx_begin(o, "t9");
        encode_del(o, b"b");
        encode_commit(o, "t9");
    });
    let file = parse(&data).unwrap();
    assert_eq!(file.records.len(), 1);
    assert_eq!(file.torn_tail, Some(enc(|o| encode_del(o, b"a")).len()));
    assert!(
        file.commits.is_empty(),
        "a commit inside the torn tail counts"
    );
}

/// A clean file, then `bad` at `at`, then more records.
fn corrupt_at(bad: &[u8]) -> (Vec<u8>, usize) {
    let mut data = enc(|o| {
        encode_select(o, 0);
        encode_del(o, b"k");
    });
    let at = data.len();
    data.extend_from_slice(bad);
    encode_flushall(&mut data);
    (data, at)
}

#[test]
fn corruption_in_the_middle_reports_its_offset() {
    let cases: &[&[u8]] = &[
        b"x",
        b"\0",
        b"*1\r\n$3\r\nDELX",
        b"*1\r\n$x\r\nDEL\r\n",
        b"*z\r\n",
        b"*-1\r\n",
        b"*0\r\n",
        b"*2\r\n$3\r\nDEL\r\n:1\r\n",
        b"*1\r\n$3\r\nDEL\r",
        b"*1\r\n$4\r\nEXEC\r\n",
        b"#TX \r\n",
        b"#COMMIT a b\r\n",
        b"# bare LF\n",
        b"*99999999999\r\n",
        b"*1\r\n$999999999999\r\n",
    ];
    for bad in cases {
        let (data, at) = corrupt_at(bad);
        let err = parse(&data).unwrap_err();
        assert_eq!(
            err.offset,
            at,
            "{:?}: {err}",
            bad.escape_ascii().to_string()
        );
    }
}

#[test]
fn nested_multi_is_corrupt() {
    let data = enc(|o| {
        encode_command(o, &[b"MULTI"]);
        encode_command(o, &[b"MULTI"]);
        encode_tx_end(o);
    });
    assert_eq!(parse(&data).unwrap_err().offset, 15);
}

#[test]
fn over_limit_lengths_are_corrupt_even_at_the_end() {
    for bad in [&b"*1048577"[..], b"*1\r\n$536870913"] {
        let err = parse(bad).unwrap_err();
        assert_eq!(err.offset, 0, "{err}");
    }
    // Within the limits, a length past the end of the data is a torn tail.
    let file = parse(b"*1\r\n$536870912\r\nab").unwrap();
    assert_eq!(file.torn_tail, Some(0));
}

#[test]
fn garbage_or_zeros_at_the_end_are_corruption() {
    let mut data = enc(|o| encode_del(o, b"k"));
    let len = data.len();
    data.extend_from_slice(b"x\0\0\0");
    assert_eq!(parse(&data).unwrap_err().offset, len);
    assert_eq!(parse(b"\0\0\0").unwrap_err().offset, 0);
    assert_eq!(parse(b"").unwrap().torn_tail, None);
}

#[test]
fn the_bulk_limit_follows_the_caller() {
    let big = MAX_BULK_LEN + 1;
    let mut data = format!("*1\r\n${big}\r\n").into_bytes();
    data.resize(data.len() + big, b'v');
    data.extend_from_slice(b"\r\n");
    assert!(parse(&data).is_err());
    let file = parse_with_limit(&data, big).unwrap();
    assert_eq!((file.records.len(), file.torn_tail), (1, None));
}

#[test]
fn corrupt_bytes_never_panic() {
    use rand::{Rng, SeedableRng};
    let (data, _) = sample();
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    for _ in 0..5000 {
        let mut bad = data.clone();
        for _ in 0..rng.gen_range(1..4) {
            let i = rng.gen_range(0..bad.len());
            bad[i] = rng.gen();
        }
        let cut = rng.gen_range(0..=bad.len());
        for file in [parse(&bad), parse(&bad[..cut])].into_iter().flatten() {
            assert!(file.valid_len <= bad.len());
        }
    }
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
        let _ = parse(&data);
    }
}

#[test]
fn error_display_names_the_offset() {
    let err = AofError::new(42, "empty command");
    assert_eq!(err.to_string(), "aof: empty command at offset 42");
}
