//! Unit tests of the manifests: round trips, every parse error, file names.

use super::*;

#[test]
fn file_names() {
    assert_eq!(snapshot_file_name("dump.rdb", 7, 2), "dump.rdb.7.s2.rdb");
    assert_eq!(snapshot_manifest_name("dump.rdb"), "dump.rdb.manifest");
    assert_eq!(aof_base_name("ao.aof", 3, 0), "ao.aof.3.s0.base.rdb");
    assert_eq!(aof_incr_name("ao.aof", 4, 1), "ao.aof.4.s1.incr.aof");
    assert_eq!(aof_manifest_name("ao.aof"), "ao.aof.manifest");
}

fn snapshot() -> SnapshotManifest {
    SnapshotManifest {
        gen: 42,
        files: (0..3)
            .map(|s| snapshot_file_name("my dump.rdb", 42, s))
            .collect(),
    }
}

#[test]
fn snapshot_round_trip() {
    let m = snapshot();
    let text = m.render();
    assert!(text
        .starts_with("ringkv-snapshot 1\ngen 42\nshards 3\nfile my dump.rdb.42.s0.rdb shard 0\n"));
    assert_eq!(SnapshotManifest::parse(&text).unwrap(), m);
    let crlf = text.replace('\n', "\r\n\r\n");
    assert_eq!(SnapshotManifest::parse(&crlf).unwrap(), m);
}

#[test]
fn snapshot_lines_in_any_order() {
    let text = "ringkv-snapshot 1\ngen 1\nshards 2\nfile b shard 1\nfile a shard 0\n";
    let m = SnapshotManifest::parse(text).unwrap();
    assert_eq!(m.files, ["a", "b"]);
}

fn snapshot_err(text: &str) -> String {
    SnapshotManifest::parse(text).unwrap_err()
}

#[test]
fn snapshot_errors_name_the_line() {
    let head = "ringkv-snapshot 1\ngen 1\nshards 2\n";
    let cases: Vec<(String, &str)> = vec![
        ("".into(), "end of manifest"),
        ("ringkv-snapshot 2\n".into(), "line 1:"),
        ("ringkv-snapshot 1\n".into(), "expected `gen"),
        ("ringkv-snapshot 1\ngen x\n".into(), "line 2: invalid gen"),
        ("ringkv-snapshot 1\ngen -1\n".into(), "line 2: invalid gen"),
        (
            "ringkv-snapshot 1\ngen 99999999999999999999\n".into(),
            "line 2: invalid gen",
        ),
        (
            "ringkv-snapshot 1\ngen 1\nshards 0\n".into(),
            "line 3: shard count 0",
        ),
        (
            "ringkv-snapshot 1\ngen 1\nshards 16385\n".into(),
            "line 3: shard count",
        ),
        (
            "ringkv-snapshot 1\ngen 1\nshard 1\n".into(),
            "line 3: expected `shards",
        ),
        (format!("{head}file a shard 0\n"), "not every shard"),
        (
            format!("{head}file a shard 0\nfile b shard 2\n"),
            "line 5: shard 2 out of range",
        ),
        (
            format!("{head}file a shard 0\nfile b shard 0\n"),
            "line 5: shard 0 listed twice",
        ),
        (
            format!("{head}file a shard 0\nfile a shard 1\n"),
            "line 5: file \"a\" listed twice",
        ),
        (
            format!("{head}file ../a shard 0\n"),
            "line 4: invalid file name",
        ),
        (
            format!("{head}file .. shard 0\n"),
            "line 4: invalid file name",
        ),
        (format!("{head}file a shard x\n"), "line 4: invalid shard"),
        (
            format!("{head}file a shrd 0\n"),
            "line 4: expected `file <name> shard",
        ),
        (format!("{head}gen 2\n"), "line 4: expected `file"),
        (format!("{head}file shard 0\n"), "line 4: expected `file"),
    ];
    for (text, want) in cases {
        let err = snapshot_err(&text);
        assert!(err.contains(want), "{text:?}: {err:?} lacks {want:?}");
    }
}

fn aof() -> AofManifest {
    let entry = |kind, seq, shard| AofEntry {
        name: match kind {
            AofFileKind::Base => aof_base_name("appendonly.aof", seq, shard),
            AofFileKind::Incr => aof_incr_name("appendonly.aof", seq, shard),
        },
        seq,
        kind,
        shard,
    };
    AofManifest {
        shards: 2,
        entries: vec![
            entry(AofFileKind::Incr, 3, 0),
            entry(AofFileKind::Base, 1, 1),
            entry(AofFileKind::Base, 2, 0),
            entry(AofFileKind::Incr, 2, 0),
            entry(AofFileKind::Incr, 5, 1),
        ],
    }
}

#[test]
fn aof_round_trip() {
    let m = aof();
    let text = m.render();
    assert!(text.starts_with("shards 2\nfile appendonly.aof.3.s0.incr.aof seq 3 type i shard 0\n"));
    assert_eq!(AofManifest::parse(&text).unwrap(), m);
    assert_eq!(m.max_seq(), 5);
    assert_eq!(AofManifest::parse("shards 1\n").unwrap().max_seq(), 0);
}

#[test]
fn aof_files_of_orders_base_then_incrs() {
    let m = aof();
    let seqs: Vec<_> = m.files_of(0).iter().map(|e| (e.kind, e.seq)).collect();
    use AofFileKind::*;
    assert_eq!(seqs, [(Base, 2), (Incr, 2), (Incr, 3)]);
    assert_eq!(m.files_of(1).len(), 2);
    assert!(m.files_of(2).is_empty());
}

#[test]
fn aof_errors_name_the_line() {
    let cases = [
        ("", "end of manifest"),
        ("shards x\n", "line 1: invalid shards"),
        ("file a seq 1 type b shard 0\n", "line 1: expected `shards"),
        (
            "shards 1\nfile a seq 1 type x shard 0\n",
            "line 2: invalid type",
        ),
        (
            "shards 1\nfile a seq 1 type h shard 0\n",
            "line 2: invalid type",
        ),
        (
            "shards 1\nfile a seq z type b shard 0\n",
            "line 2: invalid seq",
        ),
        (
            "shards 1\nfile a seq 1 type b shard 1\n",
            "line 2: shard 1 out of range",
        ),
        (
            "shards 1\nfile a seq 1 type b\n",
            "line 2: expected `file <name> seq",
        ),
        (
            "shards 1\nfile a/b seq 1 type b shard 0\n",
            "line 2: invalid file name",
        ),
        (
            "shards 1\n\nfile a seq 1 type b shard 0\nfile a seq 2 type i shard 0\n",
            "line 4: file \"a\" listed twice",
        ),
        (
            "shards 1\nfile a seq 1 type b shard 0\nfile b seq 2 type b shard 0\n",
            "line 3: second base",
        ),
        (
            "shards 1\nfile a seq 2 type i shard 0\nfile b seq 2 type i shard 0\n",
            "line 3: second incremental",
        ),
    ];
    for (text, want) in cases {
        let err = AofManifest::parse(text).unwrap_err();
        assert!(err.contains(want), "{text:?}: {err:?} lacks {want:?}");
    }
}

#[test]
fn mangled_text_never_panics() {
    use rand::{Rng, SeedableRng};
    const ALPHABET: &[u8] = b" \n/.0123456789xbi";
    let texts = [snapshot().render(), aof().render()];
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    for _ in 0..3000 {
        for text in &texts {
            let mut chars: Vec<char> = text.chars().collect();
            let i = rng.gen_range(0..chars.len());
            chars[i] = char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]);
            let text: String = chars.into_iter().collect();
            let _ = SnapshotManifest::parse(&text);
            let _ = AofManifest::parse(&text);
        }
    }
}

#[test]
fn file_name_rules() {
    for ok in ["a", "dump.rdb.1.s0.rdb", "with space", "..a"] {
        assert!(check_file_name(ok).is_ok(), "{ok}");
    }
    for bad in ["", ".", "..", "a/b", "a\\b", " a", "a ", "a\nb", "a\0"] {
        assert!(check_file_name(bad).is_err(), "{bad:?}");
    }
}
