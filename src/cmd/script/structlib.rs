//! The `struct` library Redis's Lua has (Roberto Ierusalimschy's
//! lua_struct.c as Redis bundles it, for x86-64: `long` and `size_t` of 8
//! bytes, `int` of 4, maximum alignment 8, native little-endian):
//! `struct.pack(fmt, ...)`, `struct.unpack(fmt, s [, pos])`,
//! `struct.size(fmt)` with the options `>` `<` `!n` `x` `b` `B` `h` `H`
//! `l` `L` `T` `i[n]` `I[n]` `c[n]` `s` `f` `d` and ` ` (ignored), the
//! same padding rule (also for sizes that are not powers of 2), C's
//! conversions (integers wider than 8 bytes hold only 64 bits) and the
//! same error texts, the limit on results. A format ends at a NUL byte,
//! as in C. Conversions C leaves undefined (a double out of an integer's
//! range) give what x86-64 code gives.

use super::libcall::{self, c_i64, Args, Fail, ManyRet, Ret, MAX_CSTACK};
use mlua::{Lua, Table, Value};

/// The widest `i`/`I` (MAXINTSIZE).
const MAX_INT_SIZE: usize = 32;
/// `!` without a number (MAXALIGN on x86-64).
const MAX_ALIGN: usize = 8;

/// Builds the `struct` table.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", libcall::function(lua, pack)?)?;
    t.raw_set("unpack", libcall::function_many(lua, unpack)?)?;
    t.raw_set("size", libcall::function(lua, size)?)?;
    Ok(t)
}

/// The format's reading state: where it is, the byte order and alignment.
struct Format {
    fmt: Vec<u8>,
    at: usize,
    little: bool,
    align: usize,
}

impl Format {
    fn new(mut fmt: Vec<u8>) -> Format {
        if let Some(nul) = fmt.iter().position(|&c| c == 0) {
            fmt.truncate(nul);
        }
        Format {
            fmt,
            at: 0,
            little: true,
            align: 1,
        }
    }

    fn next_opt(&mut self) -> Option<u8> {
        let c = self.fmt.get(self.at).copied()?;
        self.at += 1;
        Some(c)
    }

    /// A number in the format, or `default` when none is there.
    fn number(&mut self, default: usize) -> Result<usize, Fail> {
        let digit = |f: &Format| f.fmt.get(f.at).filter(|c| c.is_ascii_digit()).copied();
        if digit(self).is_none() {
            return Ok(default);
        }
        let mut a: i32 = 0;
        while let Some(c) = digit(self) {
            let d = (c - b'0') as i32;
            if a > i32::MAX / 10 || a * 10 > i32::MAX - d {
                return Err(Fail::msg("integral size overflow"));
            }
            a = a * 10 + d;
            self.at += 1;
        }
        Ok(a as usize)
    }

    /// An option's size (0 for those that take no room or are not sizes).
    fn size(&mut self, opt: u8) -> Result<usize, Fail> {
        Ok(match opt {
            b'B' | b'b' | b'x' => 1,
            b'H' | b'h' => 2,
            b'L' | b'l' | b'T' | b'd' => 8,
            b'f' => 4,
            b'c' => self.number(1)?,
            b'i' | b'I' => {
                let n = self.number(4)?;
                if n > MAX_INT_SIZE {
                    return Err(Fail::msg(format!(
                        "integral size {n} is larger than limit of {MAX_INT_SIZE}"
                    )));
                }
                n
            }
            _ => 0,
        })
    }

    /// Padding before an item of `size` at offset `len`.
    fn to_align(&self, len: usize, opt: u8, size: usize) -> usize {
        if size == 0 || opt == b'c' {
            return 0;
        }
        let size = size.min(self.align);
        (size.wrapping_sub(len & (size - 1))) & (size - 1)
    }

    /// The options that are no item: space, `>`, `<`, `!n`.
    fn control(&mut self, opt: u8) -> Result<(), Fail> {
        match opt {
            b' ' => {}
            b'>' => self.little = false,
            b'<' => self.little = true,
            b'!' => {
                let a = self.number(MAX_ALIGN)?;
                if a == 0 || a & (a - 1) != 0 {
                    return Err(Fail::msg(format!("alignment {a} is not a power of 2")));
                }
                self.align = a;
            }
            _ => {
                let mut m = b"invalid format option '".to_vec();
                m.extend_from_slice(&[opt, b'\'']);
                return Err(Fail::Arg(1, m));
            }
        }
        Ok(())
    }
}

fn lua_fail(e: mlua::Error) -> Fail {
    Fail::msg(e.to_string())
}

fn pack(lua: &Lua, a: &Args) -> Ret {
    let mut f = Format::new(a.bytes(1)?);
    // lua_struct pushes a nil after the arguments.
    let a = &a.with_mark();
    let mut arg = 2;
    let mut out: Vec<u8> = Vec::new();
    while let Some(opt) = f.next_opt() {
        let mut size = f.size(opt)?;
        let pad = f.to_align(out.len(), opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = a.number(lua, arg)?;
                arg += 1;
                let v = if n < 0.0 { c_i64(n) as u64 } else { c_u64(n) };
                let bytes = (0..size).map(|i| if i < 8 { (v >> (8 * i)) as u8 } else { 0 });
                if f.little {
                    out.extend(bytes);
                } else {
                    let mut b: Vec<u8> = bytes.collect();
                    b.reverse();
                    out.extend(b);
                }
            }
            b'x' => out.push(0),
            b'f' => {
                let v = a.number(lua, arg)? as f32;
                arg += 1;
                out.extend(if f.little {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                });
            }
            b'd' => {
                let v = a.number(lua, arg)?;
                arg += 1;
                out.extend(if f.little {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                });
            }
            b'c' | b's' => {
                let s = a.bytes(arg)?;
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    return Err(Fail::arg(arg as i32, "string too short"));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => f.control(opt)?,
        }
    }
    Ok(vec![Value::String(
        lua.create_string(out).map_err(lua_fail)?,
    )])
}

/// A non-negative double cast to u64 as x86-64 code does.
fn c_u64(n: f64) -> u64 {
    if n.is_nan() || n < 9.223_372_036_854_776e18 {
        c_i64(n) as u64
    } else {
        (c_i64(n - 9.223_372_036_854_776e18) as u64) ^ (1 << 63)
    }
}

/// An integer of `size` bytes, as lua_struct reads it into 64 bits.
fn integer(b: &[u8], little: bool, signed: bool) -> f64 {
    let size = b.len();
    let mut l: u64 = 0;
    let mut push = |c: u8| l = l.wrapping_shl(8) | c as u64;
    if little {
        b.iter().rev().for_each(|&c| push(c));
    } else {
        b.iter().for_each(|&c| push(c));
    }
    if !signed {
        return l as f64;
    }
    let mask = u64::MAX.wrapping_shl((size * 8).wrapping_sub(1) as u32);
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

fn unpack(lua: &Lua, a: &Args) -> ManyRet {
    let mut f = Format::new(a.bytes(1)?);
    let data = a.bytes(2)?;
    let start = a.opt_integer(lua, 3, 1)? as u64;
    if start == 0 {
        return Err(Fail::arg(3, "offset must be 1 or greater"));
    }
    let ld = data.len() as u64;
    let mut pos = start - 1;
    let out = lua.create_table().map_err(lua_fail)?;
    let mut n = 0;
    let short = || Fail::arg(2, "data string too short");
    while let Some(opt) = f.next_opt() {
        let mut size = f.size(opt)? as u64;
        pos = pos.wrapping_add(f.to_align(pos as usize, opt, size as usize) as u64);
        if !(size <= ld && pos <= ld - size) {
            return Err(short());
        }
        if a.len() + n + 2 > MAX_CSTACK {
            return Err(Fail::msg("stack overflow (too many results)"));
        }
        let here = |n: u64| &data[pos as usize..(pos + n) as usize];
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let v = integer(here(size), f.little, opt.is_ascii_lowercase());
                n += 1;
                out.raw_set(n, v).map_err(lua_fail)?;
            }
            b'x' => {}
            b'f' => {
                let b: [u8; 4] = here(4).try_into().unwrap_or_default();
                let v = if f.little {
                    f32::from_le_bytes(b)
                } else {
                    f32::from_be_bytes(b)
                };
                n += 1;
                out.raw_set(n, v as f64).map_err(lua_fail)?;
            }
            b'd' => {
                let b: [u8; 8] = here(8).try_into().unwrap_or_default();
                let v = if f.little {
                    f64::from_le_bytes(b)
                } else {
                    f64::from_be_bytes(b)
                };
                n += 1;
                out.raw_set(n, v).map_err(lua_fail)?;
            }
            b'c' => {
                if size == 0 {
                    let last = match n {
                        0 => Value::Nil,
                        n => out.raw_get(n).map_err(lua_fail)?,
                    };
                    let len = match last {
                        Value::Integer(_) | Value::Number(_) => out.raw_get::<f64>(n).ok(),
                        v @ Value::String(_) => lua.coerce_number(v).ok().flatten(),
                        _ => None,
                    };
                    let Some(len) = len else {
                        return Err(Fail::msg("format 'c0' needs a previous size"));
                    };
                    size = c_u64(len);
                    out.raw_set(n, Value::Nil).map_err(lua_fail)?;
                    n -= 1;
                    if !(size <= ld && pos <= ld - size) {
                        return Err(short());
                    }
                }
                let s = lua.create_string(here(size)).map_err(lua_fail)?;
                n += 1;
                out.raw_set(n, s).map_err(lua_fail)?;
            }
            b's' => {
                let rest = &data[pos as usize..];
                let Some(e) = rest.iter().position(|&c| c == 0) else {
                    return Err(Fail::msg("unfinished string in data"));
                };
                size = e as u64 + 1;
                let s = lua.create_string(&rest[..e]).map_err(lua_fail)?;
                n += 1;
                out.raw_set(n, s).map_err(lua_fail)?;
            }
            _ => f.control(opt)?,
        }
        pos = pos.wrapping_add(size);
    }
    n += 1;
    out.raw_set(n, pos.wrapping_add(1) as i64 as f64)
        .map_err(lua_fail)?;
    Ok((out, n))
}

fn size(_: &Lua, a: &Args) -> Ret {
    let mut f = Format::new(a.bytes(1)?);
    let mut pos = 0usize;
    while let Some(opt) = f.next_opt() {
        let size = f.size(opt)?;
        pos += f.to_align(pos, opt, size);
        if opt == b's' {
            return Err(Fail::arg(1, "option 's' has no fixed size"));
        }
        if opt == b'c' && size == 0 {
            return Err(Fail::arg(1, "option 'c0' has no fixed size"));
        }
        if !opt.is_ascii_alphanumeric() {
            f.control(opt)?;
        }
        pos += size;
    }
    Ok(vec![Value::Number(pos as f64)])
}
