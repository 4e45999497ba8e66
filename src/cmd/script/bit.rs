//! The `bit` library Redis's Lua has (LuaBitOp 1.0): 32-bit operations on
//! Lua numbers, results as signed 32-bit integers.

use mlua::{Lua, Table, Variadic};

/// A number as LuaBitOp normalizes it: rounded to the nearest integer
/// (ties to even), then taken modulo 2^32.
fn tobit(x: f64) -> i32 {
    x.round_ties_even() as i64 as u32 as i32
}

/// Builds the `bit` table.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("tobit", lua.create_function(|_, x: f64| Ok(tobit(x)))?)?;
    t.raw_set("bnot", lua.create_function(|_, x: f64| Ok(!tobit(x)))?)?;
    t.raw_set(
        "bswap",
        lua.create_function(|_, x: f64| Ok(tobit(x).swap_bytes()))?,
    )?;
    let fold = |lua: &Lua, f: fn(i32, i32) -> i32| {
        lua.create_function(move |_, (first, rest): (f64, Variadic<f64>)| {
            Ok(rest.iter().fold(tobit(first), |acc, &x| f(acc, tobit(x))))
        })
    };
    t.raw_set("band", fold(lua, |a, b| a & b)?)?;
    t.raw_set("bor", fold(lua, |a, b| a | b)?)?;
    t.raw_set("bxor", fold(lua, |a, b| a ^ b)?)?;
    let shift = |lua: &Lua, f: fn(u32, u32) -> u32| {
        lua.create_function(move |_, (x, n): (f64, f64)| {
            Ok(f(tobit(x) as u32, (tobit(n) as u32) & 31) as i32)
        })
    };
    t.raw_set("lshift", shift(lua, |x, n| x << n)?)?;
    t.raw_set("rshift", shift(lua, |x, n| x >> n)?)?;
    t.raw_set("arshift", shift(lua, |x, n| ((x as i32) >> n) as u32)?)?;
    t.raw_set("rol", shift(lua, |x, n| x.rotate_left(n))?)?;
    t.raw_set("ror", shift(lua, |x, n| x.rotate_right(n))?)?;
    t.raw_set(
        "tohex",
        lua.create_function(|_, (x, n): (f64, Option<f64>)| {
            let mut n = n.map_or(8, tobit);
            let upper = n < 0;
            if upper {
                n = -n;
            }
            let n = n.clamp(0, 8) as usize;
            let hex = if upper {
                format!("{:08X}", tobit(x) as u32)
            } else {
                format!("{:08x}", tobit(x) as u32)
            };
            Ok(hex[8 - n..].to_string())
        })?,
    )?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::tobit;

    #[test]
    fn numbers_wrap_to_32_bits() {
        assert_eq!(tobit(0xffff_ffffu32 as f64), -1);
        assert_eq!(tobit(2f64.powi(32) + 5.0), 5);
        assert_eq!(tobit(2.5), 2);
        assert_eq!(tobit(3.5), 4);
        assert_eq!(tobit(-1.0), -1);
    }
}
