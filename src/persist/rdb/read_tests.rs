//! Unit tests for the RDB reader: round trips through the writer, every string
//! and length encoding, the opcodes we skip or reject, and corrupt input.

use super::super::crc64::crc64;
use super::super::write::{encode_entry, encode_header, encode_len, encode_select_db};
use super::super::{AuxInfo, RdbWriter};
use super::*;
use crate::shard::value::Value;

/// Values through the owning layer's constructor (integers only when canonical).
fn int(n: i64) -> Value {
    Value::string(itoa::Buffer::new().format(n).as_bytes())
}

fn bytes(b: impl AsRef<[u8]>) -> Value {
    Value::string(b.as_ref())
}

const AUX: AuxInfo = AuxInfo {
    ctime_s: 1_700_000_000,
    used_mem: 1 << 20,
};

/// A file from hand-encoded records: header, `body`, EOF and a valid checksum.
fn file_with(version: &str, body: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    encode_header(&mut f, AUX);
    f[5..9].copy_from_slice(version.as_bytes());
    f.extend_from_slice(body);
    f.push(op::EOF);
    let crc = crc64(&f);
    f.extend_from_slice(&crc.to_le_bytes());
    f
}

fn all(buf: &[u8]) -> Result<Vec<RdbEntry<Value>>> {
    RdbReader::new(buf)?.entries(Default::default()).collect()
}

fn entry(db: u32, key: &[u8], value: Value, expire_at_ms: u64) -> RdbEntry<Value> {
    RdbEntry {
        db,
        key: key.to_vec(),
        value,
        expire_at_ms,
    }
}

fn sample() -> Vec<RdbEntry<Value>> {
    vec![
        entry(0, b"int", int(-129), 0),
        entry(0, b"big", int(i64::MIN), 1_900_000_000_000),
        entry(0, b"123", bytes(b"0123"), 0),
        entry(3, b"bin\0\r\n", bytes(vec![0, 13, 10, 255]), 5),
        entry(3, b"", bytes(Vec::new()), 0),
        entry(15, b"long", bytes(vec![b'x'; 70_000]), 0),
    ]
}

fn write_sample() -> Vec<u8> {
    let entries = sample();
    let mut w = RdbWriter::new(Vec::new(), AUX);
    for db in [0, 3, 15] {
        let of_db: Vec<_> = entries.iter().filter(|e| e.db == db).collect();
        let expires = of_db.iter().filter(|e| e.expire_at_ms != 0).count();
        w.select_db(db, of_db.len() as u64, expires as u64).unwrap();
        for e in of_db {
            w.entry(&e.key, &e.value, e.expire_at_ms).unwrap();
        }
    }
    w.finish().unwrap()
}

#[test]
fn round_trip_through_writer() {
    let file = write_sample();
    let mut r = RdbReader::new(&file).unwrap();
    let mut got = Vec::new();
    while let Some(e) = r.next_entry::<Value>(Default::default()).unwrap() {
        got.push(e);
    }
    assert_eq!(got, sample());
    assert_eq!(r.version(), 10);
    assert_eq!(r.offset(), file.len());
    assert_eq!(r.aux()[0], (b"redis-ver".to_vec(), b"7.0.15".to_vec()));
    assert_eq!(r.aux()[1], (b"redis-bits".to_vec(), b"64".to_vec()));
    assert_eq!(r.aux().len(), 5);
    let mut via_load = Vec::new();
    let loaded = load(&file, Default::default(), |e| via_load.push(e)).unwrap();
    assert_eq!((loaded.version, loaded.functions.len()), (10, 0));
    assert_eq!(via_load, sample());
}

/// Function libraries are read after the AUX fields and handed back in
/// file order; a FUNCTION DUMP payload of them decodes, and a damaged or
/// foreign one is refused with Redis's reasons.
#[test]
fn function_libraries_round_trip() {
    use super::super::read::{read_functions_payload, FunctionsPayloadError};
    use super::super::write::{encode_function, encode_functions_payload};
    let codes: [&[u8]; 2] = [
        b"#!lua name=a
return 1",
        &[b'x'; 300],
    ];
    let mut file = Vec::new();
    encode_header(&mut file, AUX);
    for c in codes {
        encode_function(&mut file, c);
    }
    let mut crc = super::super::crc64::Crc64::new();
    crc.update(&file);
    super::super::write::encode_eof(&mut file, &mut crc);
    let loaded = load::<Value>(&file, Default::default(), |_| panic!("no entries")).unwrap();
    assert_eq!(
        loaded.functions,
        codes.iter().map(|c| c.to_vec()).collect::<Vec<_>>()
    );

    let mut payload = Vec::new();
    encode_functions_payload(&mut payload, &codes);
    assert_eq!(
        read_functions_payload(&payload).unwrap(),
        codes.iter().map(|c| c.to_vec()).collect::<Vec<_>>()
    );
    let mut bad = payload.clone();
    bad[3] ^= 1;
    assert_eq!(
        read_functions_payload(&bad),
        Err(FunctionsPayloadError::VersionOrChecksum)
    );
    assert_eq!(
        read_functions_payload(b"short"),
        Err(FunctionsPayloadError::VersionOrChecksum)
    );
    let mut not_function = Vec::new();
    super::super::write::encode_dump(&mut not_function, &Value::int(1));
    assert_eq!(
        read_functions_payload(&not_function),
        Err(FunctionsPayloadError::NotAFunction)
    );
}

#[test]
fn reads_redis_server_dump() {
    // `SET k <"abcdefghij" x 5>; SAVE` on redis-server 7.0.15: an LZF string.
    let dump = b"REDIS0010\xfa\x09redis-ver\x067.0.15\xfa\x0aredis-bits\xc0\x40\
        \xfa\x05ctime\xc2\xb4\x3e\x04\x6b\xfa\x08used-mem\xc2\x48\x54\x0e\x00\
        \xfa\x08aof-base\xc0\x00\xfe\x00\xfb\x01\x00\x00\x01k\xc3\x12\x32\
        \x0aabcdefghija\xe0\x1c\x09\x01ij\xff\x33\x6f\xc7\x73\xd4\x4c\xcc\x3e";
    let got = all(dump).unwrap();
    assert_eq!(got, vec![entry(0, b"k", bytes(b"abcdefghij".repeat(5)), 0)]);
}

#[test]
fn length_forms_and_int_encodings() {
    let mut body = vec![op::SELECTDB];
    encode_len(&mut body, 1 << 33); // a 64-bit db number is rejected...
    assert!(matches!(
        all(&file_with("0010", &body)).unwrap_err().kind,
        RdbErrorKind::BadLength(_)
    ));
    // ...while 14- and 32-bit string lengths and every INT encoding read back.
    let mut body = vec![op::SELECTDB, 0x40, 200];
    for (k, v) in [(b"a", vec![b'y'; 300]), (b"b", vec![b'z'; 20_000])] {
        encode_entry(&mut body, k, &bytes(v), 0);
    }
    body.extend_from_slice(&[0, 0xc0, 7, 0xc1, 0x34, 0x12]); // "7" => 0x1234
    body.extend_from_slice(&[0, 0xc2, 1, 0, 0, 0x80, 1, b'x']); // key i32 => "x"
    body.extend_from_slice(&[0, 1, b'k', 0x81, 0, 0, 0, 0, 0, 0, 0, 2, b'4', b'2']);
    let got = all(&file_with("0010", &body)).unwrap();
    assert_eq!(got[0].db, 200);
    assert_eq!(got[1].value, bytes(vec![b'z'; 20_000]));
    assert_eq!(got[2], entry(200, b"7", int(0x1234), 0));
    assert_eq!(got[3].key, b"-2147483647");
    assert_eq!(got[4], entry(200, b"k", int(42), 0));
}

#[test]
fn expiry_opcodes_and_skipped_metadata() {
    let mut body = vec![op::EXPIRETIME];
    body.extend_from_slice(&2_000_000_000u32.to_le_bytes());
    body.extend_from_slice(&[op::IDLE, 5, op::FREQ, 9]);
    encode_entry(&mut body, b"s", &int(1), 0);
    body.push(op::EXPIRETIME_MS);
    body.extend_from_slice(&(-5i64).to_le_bytes());
    encode_entry(&mut body, b"past", &int(2), 0);
    encode_entry(&mut body, b"none", &int(3), 0);
    let got = all(&file_with("0009", &body)).unwrap();
    assert_eq!(got[0].expire_at_ms, 2_000_000_000_000);
    assert_eq!(got[1].expire_at_ms, 1);
    assert_eq!(got[2].expire_at_ms, 0);
}

#[test]
fn unsupported_types_and_opcodes() {
    let mut body = Vec::new();
    encode_select_db(&mut body, 0, 1, 0);
    let header_len = file_with("0010", &[]).len() - 9; // less EOF + CRC
    let at = header_len + body.len();
    body.extend_from_slice(&[15, 3, b'h', b'\r', b'1']);
    let err = all(&file_with("0010", &body)).unwrap_err();
    let shown = err.to_string();
    assert_eq!(err.offset, at, "{shown}");
    assert!(
        shown.contains("unsupported value type 15 for key \"h\\r1\""),
        "{shown}"
    );
    assert!(shown.ends_with(&format!("at offset {at}")), "{shown}");
    for (code, what) in [
        (246, "function library of a 7.0 release candidate"),
        (247, "module aux data"),
        (100, "opcode"),
    ] {
        let err = all(&file_with("0010", &[code])).unwrap_err();
        assert!(err.to_string().contains(what), "{err}");
    }
}

#[test]
fn empty_collections_are_skipped_as_redis_does() {
    // An empty set (2), hash (4) and listpack hash (16), the first with an
    // expiry that must not stick to the next key; then a string.
    let mut body = Vec::new();
    encode_select_db(&mut body, 0, 4, 1);
    body.push(op::EXPIRETIME_MS);
    body.extend_from_slice(&9_000_000_000_000u64.to_le_bytes());
    body.extend_from_slice(&[op::TYPE_SET, 1, b'e', 0]);
    body.extend_from_slice(&[op::TYPE_HASH, 1, b'h', 0]);
    let listpack = [7, 0, 0, 0, 0, 0, 0xff];
    body.extend_from_slice(&[op::TYPE_HASH_LISTPACK, 1, b'l', 7]);
    body.extend_from_slice(&listpack);
    encode_entry(&mut body, b"s", &bytes("v"), 0);
    let file = file_with("0010", &body);
    let mut r = RdbReader::new(&file).unwrap();
    let mut got = Vec::new();
    while let Some(e) = r.next_entry::<Value>(Default::default()).unwrap() {
        got.push(e);
    }
    assert_eq!(got, vec![entry(0, b"s", bytes("v"), 0)]);
    assert_eq!(r.empty_keys_skipped(), 3);
    // An empty intset is corrupt to Redis 7.0 as well (its integrity check).
    let mut body = Vec::new();
    body.extend_from_slice(&[op::TYPE_SET_INTSET, 1, b'i', 8, 2, 0, 0, 0, 0, 0, 0, 0]);
    assert!(all(&file_with("0010", &body)).is_err());
}

#[test]
fn header_and_checksum_checks() {
    let good = write_sample();
    assert_eq!(
        RdbReader::new(b"RADIS0010").err().unwrap().kind,
        RdbErrorKind::BadMagic
    );
    let v11 = RdbReader::new(b"REDIS0011").err().unwrap();
    assert_eq!(
        (v11.offset, v11.kind),
        (5, RdbErrorKind::UnsupportedVersion(11))
    );
    assert!(RdbReader::new(b"REDIS00x1").is_err());

    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 1] ^= 1;
    let err = all(&bad).unwrap_err();
    assert!(matches!(err.kind, RdbErrorKind::ChecksumMismatch { .. }));
    assert_eq!(err.offset, n - 8);

    bad[n - 8..].fill(0); // zero: checksum not computed
    assert_eq!(all(&bad).unwrap(), sample());

    let mut trailing = good;
    trailing.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
    assert_eq!(all(&trailing).unwrap(), sample());
}

#[test]
fn every_truncation_is_an_error() {
    let file = write_sample();
    for len in 0..file.len() {
        let err = all(&file[..len]).unwrap_err();
        assert!(err.offset <= len, "offset {} past {len}", err.offset);
    }
}

#[test]
fn corrupt_bytes_never_panic() {
    use rand::{Rng, SeedableRng};
    let file = write_sample();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for _ in 0..3000 {
        let mut bad = file.clone();
        for _ in 0..rng.gen_range(1..4) {
            let i = rng.gen_range(0..bad.len());
            bad[i] = rng.gen();
        }
        let cut = rng.gen_range(0..=bad.len());
        let _ = all(&bad);
        let _ = all(&bad[..cut]);
    }
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(tail in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
        let mut f = b"REDIS0010".to_vec();
        f.extend_from_slice(&tail);
        let _ = all(&f);
    }
}
