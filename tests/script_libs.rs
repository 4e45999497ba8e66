//! The cjson, cmsgpack and struct libraries through the real binary
//! against redis-server, byte for byte (raw RESP, error tails included):
//! a table of scripts (round trips, every type width and format option,
//! limits, errors, settings), then a model-based property test (random
//! nested values encoded with cjson and cmsgpack and decoded back equal to
//! the model, on both servers, with the same encodings), and random number
//! lists through cjson at every precision and random struct formats.

mod common;

use common::{show, RawConn, RedisServer, TestServer};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Prefixed to every script (same line, so error lines stay): `hex(s)`.
const HEX: &str = "local function hex(s) return (string.gsub(s, '.', function(c) \
                   return string.format('%02x', string.byte(c)) end)) end ";

/// Random JSON-ish texts decoded (Redis's math.random sequence, the same
/// on both servers, seeded by ARGV[1]): values re-encoded, or the errors.
const JSON_FUZZ: &str = r#"math.randomseed(tonumber(ARGV[1]))
local alpha = {'{', '}', '[', ']', ',', ':', '"', '\\', 'u', '1', '0', '-', 'e', '.', '+', 't', 'true', 'null', 'false',
  'n', 'a', 'x', ' ', '\\u00', 'd8', 'dc', '00', string.char(0), '\\n', '7f', 'Infinity', 'nan', '0x1'}
local out = {}
for i = 1, 1500 do
  local parts = {} for j = 1, math.random(1, 12) do parts[j] = alpha[math.random(1, #alpha)] end
  local ok, v = pcall(cjson.decode, table.concat(parts))
  if ok then cjson.encode_invalid_numbers(true) local ok2, e = pcall(cjson.encode, v) cjson.encode_invalid_numbers(false) out[#out + 1] = tostring(e)
  else out[#out + 1] = v end
end
return out"#;

/// Random bytes (headers likely) unpacked with cmsgpack.
const MSGPACK_FUZZ: &str = r#"math.randomseed(tonumber(ARGV[1])) local out = {}
for i = 1, 1500 do
  local b = {}
  for j = 1, math.random(1, 10) do
    local r = math.random()
    if r < 0.3 then b[j] = string.char(math.random(0x80, 0xa5)) elseif r < 0.6 then b[j] = string.char(math.random(0xc0, 0xdf))
    else b[j] = string.char(math.random(0, 255)) end
  end
  local r = {pcall(cmsgpack.unpack, table.concat(b))} local ok, e = pcall(cjson.encode, r) out[#out + 1] = ok and e or ('E' .. e)
end
return out"#;

/// Random struct formats (invalid ones too) unpacking random bytes, sized,
/// packing random arguments.
const STRUCT_FUZZ: &str = r#"math.randomseed(tonumber(ARGV[1]))
local alpha = {'b', 'B', 'h', 'H', 'l', 'L', 'T', 'i', 'I', 'c', 's', 'f', 'd', 'x', '!', '>', '<', ' ', '1', '2', '4', '8', '0', '3', '9', 'z', '?'}
local vals = {1, -1, 255, 65536, -2^40, 2^63, 0.5, 'abc', '', 'hello world', '12', 1e300, -0.25}
local out = {}
for i = 1, 1500 do
  local f = {} for j = 1, math.random(1, 8) do f[j] = alpha[math.random(1, #alpha)] end
  local fmt = table.concat(f)
  local d = {} for j = 1, math.random(0, 40) do d[j] = string.char(math.random(0, 255)) end
  local args = {} for j = 1, math.random(0, 6) do args[j] = vals[math.random(1, #vals)] end
  local r1 = {pcall(struct.unpack, fmt, table.concat(d), math.random(1, 5))}
  local r2 = {pcall(struct.size, fmt)}
  local r3 = {pcall(struct.pack, fmt, unpack(args))}
  for _, r in ipairs({r1, r2, r3}) do for k, v in ipairs(r) do r[k] = tostring(v) end out[#out + 1] = table.concat(r, '|') end
end
return out"#;

/// Scripts and their ARGV.
const CASES: &[(&str, &[&str])] = &[
    (JSON_FUZZ, &["1"]),
    (JSON_FUZZ, &["2"]),
    (MSGPACK_FUZZ, &["1"]),
    (MSGPACK_FUZZ, &["2"]),
    (STRUCT_FUZZ, &["1"]),
    (STRUCT_FUZZ, &["2"]),
    // cjson.encode
    ("return cjson.encode({1, 2, 3})", &[]),
    ("return cjson.encode({})", &[]),
    ("return cjson.encode({1, 2, {a = 1, b = 'x/y'}, true, false})", &[]),
    ("return cjson.encode({a = 1, b = 2, c = 3, d = {1, 2}, e = 'x'})", &[]),
    ("return cjson.encode('a\"b\\\\c/d\\n\\r\\t\\b\\f\\0\\1\\31\\127\\128\\255')", &[]),
    ("return cjson.encode(ARGV[1])", &["caf\u{e9} \u{1F600}"]),
    ("return cjson.encode({0.1, -0.0, 1e-20, 1/3, 1e300, -1e-300, 123456789012345, 12345678901234, 2^53, -2^63})", &[]),
    ("return cjson.encode({0.5, 100, 1e14, 1e15, 0.0001, 0.00001, 3.14159265358979})", &[]),
    ("return cjson.encode(nil)", &[]),
    ("return cjson.encode(true)", &[]),
    ("return cjson.encode(cjson.null)", &[]),
    ("return cjson.encode({cjson.null, 1})", &[]),
    ("return cjson.encode({[1] = 1, [2] = 2, [4] = 4})", &[]),
    ("return cjson.encode({[1] = 'a', [10] = 'b'})", &[]),
    ("return cjson.encode({[11] = 'x'})", &[]),
    ("return cjson.encode({[1] = 1, [20] = 1})", &[]),
    ("return cjson.encode({[1.5] = 1})", &[]),
    ("return cjson.encode({[-1] = 'a', [0] = 'b'})", &[]),
    ("return cjson.encode({1, 2, x = 3})", &[]),
    ("return cjson.encode({[true] = 1})", &[]),
    ("return cjson.encode(function() end)", &[]),
    ("return cjson.encode({f = print})", &[]),
    ("return cjson.encode(0/0)", &[]),
    ("return cjson.encode({1/0})", &[]),
    ("return cjson.encode({[1/0] = 1})", &[]),
    ("return cjson.encode()", &[]),
    ("return cjson.encode(1, 2)", &[]),
    ("local t = {} t[1] = t return cjson.encode(t)", &[]),
    ("local t = {} for i = 1, 999 do t = {t} end return #cjson.encode(t)", &[]),
    ("local t = {} for i = 1, 1000 do t = {t} end return cjson.encode(t)", &[]),
    ("local t = {} for i = 1, 1000 do t = {x = t} end return cjson.encode(t)", &[]),
    ("local ok, e = pcall(cjson.encode, {1}, 2) return e", &[]),
    ("local f = cjson.encode return f()", &[]),
    ("return {pcall(cjson.encode, {[{}] = 1})}", &[]),
    // cjson.decode
    ("return cjson.decode('[1,2,3,\"x\"]')", &[]),
    ("return cjson.encode(cjson.decode(ARGV[1]))", &[r#"{"a":[1,2,{"b":null}],"c":"d","e":true,"f":false}"#]),
    ("return table.concat(cjson.decode('[0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10]'), ' ')", &[]),
    ("local d = cjson.decode('{\"keya\": \"a\", \"keyb\": \"b\"}') return {d.keya, d.keyb}", &[]),
    ("return cjson.decode(ARGV[1])", &[r#""\u00e9\u4e2d\ud83d\ude00\/\b\f\n\r\t\"\\ \u0041""#]),
    ("return hex(cjson.decode(ARGV[1]))", &[r#""\u0000\u007f\u0080\u07ff\u0800\uffff""#]),
    ("return cjson.decode(ARGV[1])", &[r#""\ud800""#]),
    ("return cjson.decode(ARGV[1])", &[r#""\udc00\u0041""#]),
    ("return cjson.decode(ARGV[1])", &[r#""\ud800\u0041""#]),
    ("return cjson.decode(ARGV[1])", &[r#""\u12""#]),
    ("return cjson.decode(ARGV[1])", &[r#""\x""#]),
    ("return cjson.decode(ARGV[1])", &[r#""abc"#]),
    ("return cjson.decode('x')", &[]),
    ("return cjson.decode('')", &[]),
    ("return cjson.decode('  ')", &[]),
    ("return cjson.decode('[')", &[]),
    ("return cjson.decode('[1,]')", &[]),
    ("return cjson.decode('[1 2]')", &[]),
    ("return cjson.decode('{\"a\" 1}')", &[]),
    ("return cjson.decode('{\"a\":1,}')", &[]),
    ("return cjson.decode('{1:2}')", &[]),
    ("return cjson.decode('{\"a\":1 \"b\"}')", &[]),
    ("return cjson.decode('[1] x')", &[]),
    ("return cjson.decode('tru')", &[]),
    ("return cjson.decode('nil')", &[]),
    ("return cjson.decode('-')", &[]),
    ("return cjson.decode('1.5e')", &[]),
    ("return {cjson.decode('{}'), cjson.decode('[]')}", &[]),
    ("return type(cjson.decode('{}'))", &[]),
    ("return cjson.decode('null') == cjson.null", &[]),
    ("return type(cjson.null)", &[]),
    ("return cjson.encode({cjson.decode('+1'), cjson.decode('0x1F'), cjson.decode('007'), cjson.decode('-0x10'), cjson.decode('1E2')})", &[]),
    ("cjson.encode_invalid_numbers(true) local r = cjson.encode({cjson.decode('Infinity'), cjson.decode('-inf'), cjson.decode('nan'), cjson.decode('NaN')}) cjson.encode_invalid_numbers(false) return r", &[]),
    ("return cjson.decode('123abc')", &[]),
    ("return cjson.decode('12\\0x')", &[]),
    ("return cjson.decode('1\\0')", &[]),
    ("return cjson.decode('\"a\\0b\"')", &[]),
    ("return cjson.decode(42)", &[]),
    ("return cjson.decode(true)", &[]),
    ("return cjson.decode()", &[]),
    ("return cjson.decode(string.rep('[', 1000) .. string.rep(']', 1000)) ~= nil", &[]),
    ("return cjson.decode(string.rep('[', 1001) .. string.rep(']', 1001))", &[]),
    ("return cjson.decode(string.rep('{\"a\":', 1001))", &[]),
    ("return {pcall(cjson.decode, '[1, 2')}", &[]),
    // Redis's own tests (scripting.tcl)
    (r#"local some_map = {s1 = "Some string", n1 = 100, a1 = {"Some", "String", "Array"}, nil1 = nil, b1 = true, b2 = false}
local encoded = cjson.encode(some_map) local decoded = cjson.decode(encoded) assert(table.concat(some_map) == table.concat(decoded))
cjson.encode_keep_buffer(false) encoded = cjson.encode(some_map) decoded = cjson.decode(encoded) assert(table.concat(some_map) == table.concat(decoded))
local table1 = {one = "one", [1] = "one"} encoded = cjson.encode(table1) decoded = cjson.decode(encoded)
assert(decoded["one"] == table1["one"]) assert(decoded["1"] == table1[1])
local invalid_map = {} invalid_map[false] = "false" local ok, e = pcall(cjson.encode, invalid_map) assert(ok == false)
cjson.encode_max_depth(1) ok, encoded = pcall(cjson.encode, some_map) assert(ok == false)
cjson.decode_max_depth(1) ok, decoded = pcall(cjson.decode, '{"obj": {"array": [1,2,3,4]}}') assert(ok == false)
ok, encoded = pcall(cjson.encode, {num1 = 0/0}) assert(ok == false)
cjson.encode_invalid_numbers(true) ok, encoded = pcall(cjson.encode, {num1 = 0/0}) assert(ok == true)
cjson.decode_max_depth(1000) cjson.encode_max_depth(1000) cjson.encode_invalid_numbers(false) cjson.encode_keep_buffer(true)
return {cjson.encode(some_map), e}"#, &[]),
    (r#"local str_lt_32 = string.rep("x", 30) local str_lt_255 = string.rep("x", 250)
local str_lt_65535 = string.rep("x", 65530) local str_long = string.rep("x", 100000)
local array_big = {} for i = 1, 100000 do array_big[i] = i end
local map_big = {} for i = 1, 100000 do map_big[tostring(i)] = i end
local some_map = {s1 = str_lt_32, s2 = str_lt_255, s3 = str_lt_65535, s4 = str_long, d1 = 0.1, i1 = 1, i2 = 250, i3 = 65530,
  i4 = 100000, i5 = 2^40, i6 = -1, i7 = -120, i8 = -32000, i9 = -100000, i10 = -3147483648, a1 = {1, 2, 3, 4, 5},
  a2 = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}, a3 = array_big, m1 = {a = 1, b = 2}, m2 = map_big,
  b1 = false, b2 = true, n = nil}
local encoded = cmsgpack.pack(some_map) local decoded = cmsgpack.unpack(encoded)
assert(table.concat(some_map) == table.concat(decoded))
local offset, decoded_one = cmsgpack.unpack_one(encoded, 0) assert(offset == -1)
local multiple = cmsgpack.pack(str_lt_32, str_lt_255, str_lt_65535, str_long)
local o, obj = cmsgpack.unpack_limit(multiple, 1, 0) assert(obj == str_lt_32)
o, obj = cmsgpack.unpack_limit(multiple, 1, o) assert(obj == str_lt_255)
o, obj = cmsgpack.unpack_limit(multiple, 1, o) assert(obj == str_lt_65535)
o, obj = cmsgpack.unpack_limit(multiple, 1, o) assert(obj == str_long) assert(o == -1)
return {redis.sha1hex(encoded), #encoded, redis.sha1hex(cmsgpack.pack(decoded)), redis.sha1hex(cjson.encode(decoded))}"#, &[]),
    (r#"local a = {x = nil, y = 5} local b = {x = a} a['x'] = b local encoded = cmsgpack.pack(a)
local re = cmsgpack.unpack(encoded) assert(re.x.x.y == re.y) assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.y == re.y)
assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x) assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x == nil) return hex(encoded)"#, &[]),
    (r#"local out = {} cjson.encode_invalid_numbers(true)
for _, n in ipairs({'1.e5', '-.5', '1.', '01.5', '1e+5', '1E-5', '0e', '-0', '1e999999999999', '0x1.8p1', '0x.8', '0xG', '-0x',
  '0x1p-1074', '0x1P+3', 'infinit', 'infinityx', '-nan(123)', 'nan(', 'NAN', '+inf', '+', '+x', '1.5.5', '2.2250738585072011e-308',
  '123456789012345678901234567890e-10', '9007199254740993', '00', '--1', '1e-', '1_0', '0x123456789abcdef123456789p-10'}) do
  local ok, v = pcall(cjson.decode, n) out[#out + 1] = ok and cjson.encode(v) or v end
cjson.encode_invalid_numbers(false) return out"#, &[]),
    // cjson settings
    ("return {cjson.encode_max_depth(), cjson.decode_max_depth(), cjson.encode_number_precision()}", &[]),
    ("return {cjson.encode_sparse_array()}", &[]),
    ("return cjson.encode_keep_buffer()", &[]),
    ("return {cjson._NAME, cjson._VERSION}", &[]),
    ("cjson.encode_number_precision(3) local r = cjson.encode({1/3, 12345, 0.1}) cjson.encode_number_precision(14) return r", &[]),
    ("return cjson.encode_number_precision(15)", &[]),
    ("return cjson.encode_number_precision(0)", &[]),
    ("return cjson.encode_number_precision('x')", &[]),
    ("return cjson.encode_max_depth(1, 2)", &[]),
    ("cjson.encode_max_depth(2) local ok, e = pcall(cjson.encode, {{{1}}}) cjson.encode_max_depth(1000) return e", &[]),
    ("cjson.decode_max_depth(2) local ok, e = pcall(cjson.decode, '[[[1]]]') cjson.decode_max_depth(1000) return e", &[]),
    ("cjson.encode_max_depth(100000) local t = {} for i = 1, 5000 do t = {t} end local ok, e = pcall(cjson.encode, t) cjson.encode_max_depth(1000) return e", &[]),
    ("cjson.decode_max_depth(100000) local ok, e = pcall(cjson.decode, string.rep('[', 5000)) cjson.decode_max_depth(1000) return e", &[]),
    ("cjson.decode_max_depth(100000) local ok, e = pcall(cjson.decode, string.rep('[', 7997) .. string.rep(']', 7997)) cjson.decode_max_depth(1000) return {tostring(ok), type(e)}", &[]),
    ("cjson.decode_max_depth(100000) local ok, e = pcall(cjson.decode, string.rep('[', 8000) .. string.rep(']', 8000)) cjson.decode_max_depth(1000) return {tostring(ok), e}", &[]),
    ("cjson.encode_max_depth(100000) local t = {} for i = 1, 7990 do t = {t} end local ok, e = pcall(cjson.encode, t) cjson.encode_max_depth(1000) return {tostring(ok), e}", &[]),
    ("cjson.encode_max_depth(100000) local t = {} for i = 1, 3990 do t = {a = t} end local ok, e = pcall(cjson.encode, t) cjson.encode_max_depth(1000) return {tostring(ok), #e}", &[]),
    ("cjson.decode_max_depth(100000) local ok, e = pcall(cjson.decode, string.rep('{\"a\":', 5000)) cjson.decode_max_depth(1000) return e", &[]),
    ("return {cjson.encode_sparse_array(true, 3, 5), cjson.encode({[1] = 1, [9] = 2}), cjson.encode_sparse_array(false, 2, 10)}", &[]),
    ("local a = cjson.encode_sparse_array(nil, 0) local r = cjson.encode({[1] = 1, [100] = 2}) cjson.encode_sparse_array(nil, 2) return r", &[]),
    ("return cjson.encode_sparse_array('maybe')", &[]),
    ("return cjson.encode_sparse_array(nil, -1)", &[]),
    ("return {cjson.encode_invalid_numbers('null'), cjson.encode({0/0, 1/0}), cjson.encode_invalid_numbers('on'), cjson.encode({1/0, -1/0, 0/0}), cjson.encode_invalid_numbers(false)}", &[]),
    ("cjson.decode_invalid_numbers(false) local ok, e = pcall(cjson.decode, '[+1]') local ok2, e2 = pcall(cjson.decode, '[007]') local ok3, e3 = pcall(cjson.decode, 'nan') cjson.decode_invalid_numbers(true) return {e, e2, e3}", &[]),
    ("return {cjson.encode_keep_buffer(false), cjson.encode({1}), cjson.encode_keep_buffer('on')}", &[]),
    ("local c = cjson.new() c.encode_number_precision(2) return {c.encode({1/3}), cjson.encode({1/3}), type(c.new), c._NAME}", &[]),
    ("cjson.encode = 1", &[]),
    ("cjson.newkey = 1", &[]),
    // cmsgpack.pack: every width
    ("return hex(cmsgpack.pack(0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, 2^53))", &[]),
    ("return hex(cmsgpack.pack(-1, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649, -2^53, -2^63))", &[]),
    ("return hex(cmsgpack.pack(0.1, 0.5, -1.5, 1e300, 2^63, 2^64, 1/0, -1/0, 1e-20, 3.4028234663852886e38))", &[]),
    ("return hex(cmsgpack.pack(-1099511627776))", &[]),
    ("return hex(cmsgpack.pack(true, false, nil, cjson.null, print))", &[]),
    ("return hex(cmsgpack.pack('', 'abc', string.rep('x', 31)))", &[]),
    ("return hex(string.sub(cmsgpack.pack(string.rep('x', 32)), 1, 4) .. string.sub(cmsgpack.pack(string.rep('x', 255)), 1, 4))", &[]),
    ("return hex(string.sub(cmsgpack.pack(string.rep('x', 256)), 1, 4) .. string.sub(cmsgpack.pack(string.rep('x', 65535)), 1, 4))", &[]),
    ("return hex(string.sub(cmsgpack.pack(string.rep('x', 65536)), 1, 6))", &[]),
    ("return hex(cmsgpack.pack({}, {1, 2, 3}, {a = 1}, {[1] = 1, [3] = 3}, {[2] = 2}, {1, 2, x = 1}))", &[]),
    ("local t = {} for i = 1, 16 do t[i] = i end return hex(string.sub(cmsgpack.pack(t), 1, 4))", &[]),
    ("local t = {} for i = 1, 65536 do t[i] = 0 end return hex(string.sub(cmsgpack.pack(t), 1, 6))", &[]),
    ("local t = {} for i = 1, 16 do t['k' .. i] = i end local s = cmsgpack.pack(t) return {hex(string.sub(s, 1, 3)), #s}", &[]),
    ("local t = {} for i = 1, 65536 do t['k' .. i] = 0 end return hex(string.sub(cmsgpack.pack(t), 1, 5))", &[]),
    ("return hex(cmsgpack.pack({[1.5] = 1, [-1] = 2, [0] = 3}))", &[]),
    ("local t = {} for i = 1, 20 do t = {t} end return hex(cmsgpack.pack(t))", &[]),
    ("local a = {x = nil, y = 5} local b = {x = a} a.x = b return hex(cmsgpack.pack(a))", &[]),
    ("return cmsgpack.pack()", &[]),
    ("local t = {} for i = 1, 4000 do t[i] = i end return #cmsgpack.pack(unpack(t))", &[]),
    ("local t = {} for i = 1, 4001 do t[i] = i end return #cmsgpack.pack(unpack(t))", &[]),
    ("local t = {} for i = 1, 7000 do t[i] = 'x' .. i end return #struct.pack(string.rep('s', 7000), unpack(t))", &[]),
    ("return hex(cmsgpack.pack(setmetatable({1, 2}, {__index = function(t, k) return k * 10 end})))", &[]),
    // cmsgpack.unpack
    ("return {cmsgpack.unpack(cmsgpack.pack(1, 'two', {3, 4}, true))}", &[]),
    ("local t = cmsgpack.unpack(cmsgpack.pack({a = 1, b = {c = 'd'}})) return {t.a, t.b.c}", &[]),
    ("return cjson.encode({cmsgpack.unpack(cmsgpack.pack(0.1, -1.5, 1e300, 2^63, -2^63, 2^53 + 1))})", &[]),
    ("return cjson.encode({cmsgpack.unpack(ARGV[1])})", &["\u{0}\u{7f}"]),
    ("return cjson.encode({cmsgpack.unpack('\\204\\255\\205\\1\\0\\206\\0\\1\\0\\0\\208\\128\\209\\128\\0\\210\\128\\0\\0\\0')})", &[]),
    ("return cjson.encode({cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255\\255\\211\\128\\0\\0\\0\\0\\0\\0\\0\\224\\255')})", &[]),
    ("return cjson.encode({cmsgpack.unpack('\\202\\63\\128\\0\\0\\203\\63\\240\\0\\0\\0\\0\\0\\0\\192\\194\\195')})", &[]),
    ("return {cmsgpack.unpack('\\217\\3abc\\218\\0\\2de\\219\\0\\0\\0\\1f\\162gh')}", &[]),
    ("return cjson.encode(cmsgpack.unpack('\\220\\0\\2\\1\\2'))..cjson.encode(cmsgpack.unpack('\\221\\0\\0\\0\\1\\7'))..cjson.encode(cmsgpack.unpack('\\222\\0\\1\\161a\\1'))..cjson.encode(cmsgpack.unpack('\\223\\0\\0\\0\\1\\161b\\2'))", &[]),
    ("return cjson.encode(cmsgpack.unpack('\\147\\1\\192\\3'))", &[]),
    ("return cmsgpack.unpack('\\129\\192\\1')", &[]),
    ("return cmsgpack.unpack('\\129\\203\\127\\248\\0\\0\\0\\0\\0\\0\\1')", &[]),
    ("return cmsgpack.unpack('\\205\\1')", &[]),
    ("return cmsgpack.unpack('\\217\\5ab')", &[]),
    ("return cmsgpack.unpack('\\147\\1')", &[]),
    ("return cmsgpack.unpack('\\193')", &[]),
    ("return cmsgpack.unpack('\\196\\1a')", &[]),
    ("return cmsgpack.unpack('\\212\\1\\1')", &[]),
    ("return {cmsgpack.unpack('')}", &[]),
    ("return cmsgpack.unpack()", &[]),
    ("return cmsgpack.unpack({})", &[]),
    ("return cmsgpack.unpack(5)", &[]),
    ("local t = {cmsgpack.unpack(string.rep('\\1', 7999))} return #t", &[]),
    ("local t = {cmsgpack.unpack(string.rep('\\1', 8000))} return #t", &[]),
    ("return type(cmsgpack.unpack(string.rep('\\145', 3999) .. '\\1'))", &[]),
    ("return cmsgpack.unpack(string.rep('\\145', 4000) .. '\\1')", &[]),
    ("return cmsgpack.unpack(string.rep('\\129\\1', 4000) .. '\\1')", &[]),
    ("return type(cmsgpack.unpack(string.rep('\\129\\161a', 3999) .. '\\1'))", &[]),
    ("return type(cmsgpack.unpack(string.rep('\\129\\161a', 4000) .. '\\1'))", &[]),
    ("return type(cmsgpack.unpack(string.rep('\\129\\145\\1', 3000) .. '\\1'))", &[]),
    ("local t = cmsgpack.unpack(cmsgpack.pack(string.rep('x', 70000))) return #t", &[]),
    // unpack_one / unpack_limit offsets
    ("local s = cmsgpack.pack(1, 'ab', {3}) return {cmsgpack.unpack_one(s)}", &[]),
    ("local s = cmsgpack.pack(1, 'ab', {3}) local o, v = cmsgpack.unpack_one(s, 1) return {o, v}", &[]),
    ("local s = cmsgpack.pack(1, 'ab', {3}) local o, v = cmsgpack.unpack_one(s, 4) return {o, v[1]}", &[]),
    ("local s = cmsgpack.pack(1, 'ab') return {cmsgpack.unpack_one(s, 5)}", &[]),
    ("return {cmsgpack.unpack_one('\\1', 2)}", &[]),
    ("return {cmsgpack.unpack_one('\\1', -1)}", &[]),
    ("return {cmsgpack.unpack_one('abc', 'x')}", &[]),
    ("local s = cmsgpack.pack(1, 2, 3, 4) return {cmsgpack.unpack_limit(s, 2)}", &[]),
    ("local s = cmsgpack.pack(1, 2, 3, 4) return {cmsgpack.unpack_limit(s, 2, 2)}", &[]),
    ("local s = cmsgpack.pack(1, 2, 3, 4) return {cmsgpack.unpack_limit(s, 0)}", &[]),
    ("local s = cmsgpack.pack(1, 2, 3, 4) return {cmsgpack.unpack_limit(s, 0, 1)}", &[]),
    ("local s = cmsgpack.pack(1, 2, 3, 4) return {cmsgpack.unpack_limit(s, 9, 1)}", &[]),
    ("return {cmsgpack.unpack_limit('\\1', -1)}", &[]),
    ("return {cmsgpack.unpack_limit('\\1')}", &[]),
    ("return {cmsgpack.unpack_limit('\\1', 1.9, 0.5)}", &[]),
    ("local s = cmsgpack.pack('a', string.rep('b', 300), string.rep('c', 70000)) local o1, a = cmsgpack.unpack_limit(s, 1, 0) local o2, b = cmsgpack.unpack_limit(s, 1, o1) local o3, c = cmsgpack.unpack_limit(s, 1, o2) return {o1, o2, o3, a, #b, #c}", &[]),
    ("return {cmsgpack._NAME, cmsgpack._VERSION, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION}", &[]),
    ("cmsgpack.pack = 1", &[]),
    // struct: every option, both byte orders, alignment
    ("return hex(struct.pack('bBhHlLTiI', -1, 255, -2, 65535, -3, 2^40, 7, -4, 4000000000))", &[]),
    ("return hex(struct.pack('>bBhHlLTiI', -1, 255, -2, 65535, -3, 2^40, 7, -4, 4000000000))", &[]),
    ("return hex(struct.pack('<i1i2i3i5i7i8', -1, -2, -3, -4, -5, -6))", &[]),
    ("return hex(struct.pack('>I3i10I16', 65536 * 3 + 1, -1, 2^60))", &[]),
    ("return hex(struct.pack('<fd>fd', 1.5, -0.1, 1.5, -0.1))", &[]),
    ("return hex(struct.pack('c3c1c0s', 'abcdef', 'xy', 'whole', 'zt'))", &[]),
    ("return hex(struct.pack('b x x h', 1, 2))", &[]),
    ("return hex(struct.pack('!bi!2bi!4bd!bdbh', 1, 2, 3, 4, 5, 6, 7, 8, 9, 10))", &[]),
    ("return hex(struct.pack('!8bT!bl', 1, 2, 3, 4))", &[]),
    ("return hex(struct.pack('!4bi3bi6', 1, 2, 3, 4))", &[]),
    ("return hex(struct.pack('>!4 b f', 1, 2))", &[]),
    ("return hex(struct.pack('i', '12'))", &[]),
    ("return hex(struct.pack('B', 256 + 7))", &[]),
    ("return hex(struct.pack('i0i', 5, 6))", &[]),
    ("return {struct.size('bhilTfdx'), struct.size('!bhilTfdx'), struct.size('!2bd'), struct.size('c5'), struct.size('i16'), struct.size('z9')}", &[]),
    ("return struct.size('s')", &[]),
    ("return struct.size('c0')", &[]),
    ("return struct.size('!3')", &[]),
    ("return struct.pack('i33', 1)", &[]),
    ("return struct.pack('i99999999999', 1)", &[]),
    ("return struct.pack('!0b', 1)", &[]),
    ("return struct.pack('y', 1)", &[]),
    ("return struct.pack('i')", &[]),
    ("return struct.pack('i', 'x')", &[]),
    ("return struct.pack('c5', 'abc')", &[]),
    ("return struct.pack('bc2', 1, {})", &[]),
    ("return struct.pack()", &[]),
    ("return hex(struct.pack('b\\0b', 1, 2))", &[]),
    ("return {struct.unpack('bBhHlLTiI', struct.pack('bBhHlLTiI', -1, 255, -2, 65535, -3, 2^40, 7, -4, 4000000000))}", &[]),
    ("return {struct.unpack('>i3<i3', '\\255\\255\\254\\254\\255\\255')}", &[]),
    ("return {struct.unpack('>I3i5', '\\1\\2\\3\\255\\255\\255\\255\\255')}", &[]),
    ("return cjson.encode({struct.unpack('>i10I10', string.rep('\\255', 20))})", &[]),
    ("return cjson.encode({struct.unpack('<i16', string.rep('\\128', 16))})", &[]),
    ("return cjson.encode({struct.unpack('<fd>fd', struct.pack('<fd>fd', 1.5, -0.1, 0.25, 1e300))})", &[]),
    ("return {struct.unpack('c2c0c1', '3xabcdef')}", &[]),
    ("return {struct.unpack('bc0', struct.pack('b', 3) .. 'abc')}", &[]),
    ("return {struct.unpack('c0', 'abc')}", &[]),
    ("return {struct.unpack('sxs', 'ab\\0\\0cd\\0')}", &[]),
    ("return {struct.unpack('s', 'abc')}", &[]),
    ("return {struct.unpack('!4bi', '\\1\\0\\0\\0\\2\\0\\0\\0')}", &[]),
    ("return {struct.unpack('i', 'abc')}", &[]),
    ("return {struct.unpack('b', 'abc', 3)}", &[]),
    ("return {struct.unpack('b', 'abc', 4)}", &[]),
    ("return {struct.unpack('b', 'abc', 0)}", &[]),
    ("return {struct.unpack('b', 'abc', -1)}", &[]),
    ("return {struct.unpack('q', 'abc')}", &[]),
    ("return {struct.unpack('i0', 'abc')}", &[]),
    ("return {struct.unpack('i')}", &[]),
    ("local t = {struct.unpack(string.rep('b', 7997), string.rep('\\1', 8000))} return #t", &[]),
    ("local t = {struct.unpack(string.rep('b', 7998), string.rep('\\1', 8000))} return #t", &[]),
    ("local t = {struct.unpack(string.rep('c1', 7000), string.rep('a', 8000))} return #t", &[]),
    ("local s = struct.pack('>HB', 7, 8) local a, b, n = struct.unpack('>HB', s) return {a, b, n, #s}", &[]),
    ("local s = string.rep('\\1', 20) return {struct.unpack(string.rep('b', 20), s)}", &[]),
    ("return type(struct.pack)", &[]),
    ("struct.pack = nil", &[]),
];

fn eval(c: &mut RawConn, body: &str, args: &[&str]) -> Vec<u8> {
    let script = format!("{HEX}{body}");
    let mut argv = vec!["EVAL".to_string(), script, "0".to_string()];
    argv.extend(args.iter().map(|s| s.to_string()));
    c.cmd(&argv)
}

#[test]
fn library_scripts_match_redis() {
    assert!(CASES.len() >= 80);
    for threads in [1, 2] {
        let (ringkv, redis) = (TestServer::start(threads), RedisServer::start());
        let (mut a, mut b) = (ringkv.raw(), redis.raw());
        let mut diffs = Vec::new();
        for (body, args) in CASES {
            let (ours, theirs) = (eval(&mut a, body, args), eval(&mut b, body, args));
            if ours != theirs {
                diffs.push(format!(
                    "{body}\n  ours:   {}\n  redis:  {}",
                    show(&ours),
                    show(&theirs)
                ));
            }
        }
        assert!(
            diffs.is_empty(),
            "threads {threads}: {} of {} differ:\n{}",
            diffs.len(),
            CASES.len(),
            diffs.join("\n")
        );
    }
}

/// A Lua value of the model: what a round trip must give back.
#[derive(Clone, Debug)]
enum M {
    Bool(bool),
    Num(f64),
    Str(Vec<u8>),
    /// cjson.null (JSON only).
    Null,
    Arr(Vec<M>),
    Map(Vec<(Vec<u8>, M)>),
}

/// `dump(v)` (in the scripts): a canonical text of a value, numbers and
/// strings in hex, table entries sorted bytewise.
const DUMP: &str = "local function lt(a, b) for i = 1, math.min(#a, #b) do local x, y = a:byte(i), b:byte(i) \
    if x ~= y then return x < y end end return #a < #b end \
    local dump dump = function(v) local t = type(v) \
    if t == 'table' then local parts = {} for k, x in pairs(v) do parts[#parts + 1] = dump(k) .. '=' .. dump(x) end \
    table.sort(parts, lt) return '{' .. table.concat(parts, ',') .. '}' \
    elseif t == 'string' then return 's' .. hex(v) \
    elseif t == 'number' then return 'n' .. hex(struct.pack('>d', v)) \
    elseif t == 'boolean' then return v and 't' or 'f' \
    elseif v == cjson.null then return 'z' end return '?' end ";

fn hex(b: &[u8]) -> String {
    b.iter().map(|c| format!("{c:02x}")).collect()
}

impl M {
    fn dump(&self) -> String {
        match self {
            M::Bool(b) => if *b { "t" } else { "f" }.to_string(),
            M::Num(x) => format!("n{}", hex(&x.to_be_bytes())),
            M::Str(s) => format!("s{}", hex(s)),
            M::Null => "z".to_string(),
            M::Arr(items) => {
                let parts = items.iter().enumerate().map(|(i, v)| {
                    format!("n{}={}", hex(&((i + 1) as f64).to_be_bytes()), v.dump())
                });
                sorted(parts.collect())
            }
            M::Map(pairs) => sorted(
                pairs
                    .iter()
                    .map(|(k, v)| format!("s{}={}", hex(k), v.dump()))
                    .collect(),
            ),
        }
    }

    /// The value as a Lua expression.
    fn lua(&self) -> String {
        let string = |s: &[u8]| -> String {
            let body: String = s.iter().map(|c| format!("\\{c}")).collect();
            format!("\"{body}\"")
        };
        match self {
            M::Bool(b) => b.to_string(),
            M::Num(x) => format!("{x:?}"),
            M::Str(s) => string(s),
            M::Null => "cjson.null".to_string(),
            M::Arr(items) => {
                let items: Vec<String> = items.iter().map(M::lua).collect();
                format!("{{{}}}", items.join(", "))
            }
            M::Map(pairs) => {
                let pairs: Vec<String> = pairs
                    .iter()
                    .map(|(k, v)| format!("[{}] = {}", string(k), v.lua()))
                    .collect();
                format!("{{{}}}", pairs.join(", "))
            }
        }
    }
}

fn sorted(mut parts: Vec<String>) -> String {
    parts.sort();
    format!("{{{}}}", parts.join(","))
}

/// A random model value; `json` keeps to what JSON carries exactly
/// (numbers of at most 14 significant digits, null allowed).
fn model(rng: &mut StdRng, depth: u32, json: bool) -> M {
    let pick = rng.gen_range(0..if depth < 4 { 7 } else { 4 });
    match pick {
        0 => M::Bool(rng.gen()),
        1 => M::Num(number(rng, json)),
        2 => {
            let len = match rng.gen_range(0..10) {
                0 if !json => rng.gen_range(32..300),
                _ => rng.gen_range(0..20),
            };
            M::Str((0..len).map(|_| rng.gen()).collect())
        }
        3 if json => M::Null,
        3 => M::Num(number(rng, json)),
        4 | 5 => M::Arr(
            (0..rng.gen_range(0..6))
                .map(|_| model(rng, depth + 1, json))
                .collect(),
        ),
        _ => {
            let mut pairs: Vec<(Vec<u8>, M)> = Vec::new();
            for _ in 0..rng.gen_range(0..5) {
                let key: Vec<u8> = (0..rng.gen_range(0..6))
                    .map(|_| rng.gen_range(b'a'..=b'f'))
                    .collect();
                if pairs.iter().all(|(k, _)| *k != key) {
                    pairs.push((key, model(rng, depth + 1, json)));
                }
            }
            M::Map(pairs)
        }
    }
}

fn number(rng: &mut StdRng, json: bool) -> f64 {
    let x = match rng.gen_range(0..6) {
        0 => rng.gen_range(-1000..1000) as f64,
        1 => rng.gen_range(-100_000_000_000_000i64..100_000_000_000_000) as f64,
        2 => rng.gen_range(-1_000_000..1_000_000) as f64 / 8.0,
        3 if !json => {
            // Every integer width, around its limits.
            let bits = rng.gen_range(0..64);
            let n = (1i64 << bits).wrapping_add(rng.gen_range(-2..2));
            if rng.gen() {
                n as f64
            } else {
                -(n as f64)
            }
        }
        4 if !json => rng.gen_range(-1e6f32..1e6f32) as f64,
        5 if !json => f64::from_bits(rng.gen()),
        _ => rng.gen_range(-50..50) as f64 / 4.0,
    };
    if x.is_finite() && x != 0.0 {
        x
    } else {
        1.0
    }
}

/// Random nested values through cjson and cmsgpack, on both servers: the
/// encodings are the same bytes, and decoding gives the model back.
#[test]
fn round_trips_match_the_model() {
    let (ringkv, redis) = (TestServer::start(1), RedisServer::start());
    let (mut a, mut b) = (ringkv.raw(), redis.raw());
    let mut rng = StdRng::seed_from_u64(17);
    for i in 0..300 {
        let json = i % 2 == 0;
        let m = model(&mut rng, 0, json);
        let body = if json {
            format!(
                "{DUMP}local v = {} local j = cjson.encode(v) return {{j, dump(cjson.decode(j))}}",
                m.lua()
            )
        } else {
            format!("{DUMP}local v = {} local p = cmsgpack.pack(v) return {{hex(p), dump(cmsgpack.unpack(p))}}", m.lua())
        };
        let (ours, theirs) = (eval(&mut a, &body, &[]), eval(&mut b, &body, &[]));
        assert_eq!(show(&ours), show(&theirs), "{body}");
        let dump = m.dump();
        let tail = format!("${}\r\n{dump}\r\n", dump.len());
        assert!(
            ours.ends_with(tail.as_bytes()),
            "{body}\n{}\nwant {dump}",
            show(&ours)
        );
    }
}

/// Random doubles through cjson.encode at every precision, and random
/// struct formats packed and unpacked: the same bytes on both servers.
#[test]
fn number_formats_and_struct_formats_match_redis() {
    let (ringkv, redis) = (TestServer::start(1), RedisServer::start());
    let (mut a, mut b) = (ringkv.raw(), redis.raw());
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..60 {
        let nums: Vec<String> = (0..20)
            .map(|_| {
                let x = match rng.gen_range(0..3) {
                    0 => f64::from_bits(rng.gen()),
                    1 => rng.gen_range(-1e6..1e6),
                    _ => rng.gen_range(-1e-3..1e-3),
                };
                if x.is_finite() && x != 0.0 {
                    format!("{x:?}")
                } else {
                    "0.5".to_string()
                }
            })
            .collect();
        let precision = rng.gen_range(1..=14);
        let body = format!(
            "cjson.encode_number_precision({precision}) local r = cjson.encode({{{}}}) \
             cjson.encode_number_precision(14) return r",
            nums.join(", ")
        );
        assert_eq!(
            show(&eval(&mut a, &body, &[])),
            show(&eval(&mut b, &body, &[])),
            "{body}"
        );
    }
    let options = [
        "b", "B", "h", "H", "l", "L", "T", "i", "I", "i3", "I5", "i8", "I12", "f", "d", "x", "c4",
        "s", "!", "!2", "!4", ">", "<", " ",
    ];
    for _ in 0..150 {
        let n = rng.gen_range(1..8);
        let fmt: String = (0..n)
            .map(|_| options[rng.gen_range(0..options.len())])
            .collect();
        let args: Vec<String> = (0..n)
            .map(|_| match rng.gen_range(0..4) {
                0 => rng.gen_range(-300..300).to_string(),
                1 => format!("{:?}", rng.gen_range(-1e12..1e12)),
                2 => "'abcdef'".to_string(),
                _ => rng.gen_range(0..70000).to_string(),
            })
            .collect();
        let body = format!(
            "local s = struct.pack('{fmt}', {}) return {{hex(s), select(2, pcall(struct.size, '{fmt}')), \
             cjson.encode({{pcall(struct.unpack, '{fmt}', s)}})}}",
            args.join(", ")
        );
        assert_eq!(
            show(&eval(&mut a, &body, &[])),
            show(&eval(&mut b, &body, &[])),
            "{body}"
        );
    }
}
