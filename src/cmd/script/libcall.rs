//! What the cjson, cmsgpack and struct libraries share: their functions are
//! C closures (a trampoline over a Rust function), so that they raise their
//! errors as Redis's C libraries do (`luaL_error`'s `user_script:N:` prefix,
//! `luaL_argerror`'s `bad argument #n to 'name'`) with plain string error
//! values, and read their arguments' numbers exactly (mlua's Lua 5.1
//! conversion turns -0 and numbers under 2^-52 into the integer 0).
//! Also C's `%.14g` and the Lua API's argument checks.

use mlua::ffi;
use mlua::{Function, Lua, MultiValue, Table, Value};
use std::os::raw::c_int;

/// The most stack slots a C function may use (Lua 5.1's LUAI_MAXCSTACK).
pub const MAX_CSTACK: usize = 8000;

/// How a library function failed, as the C library would have raised it.
pub enum Fail {
    /// `luaL_error`: the caller's position, then the text.
    Msg(Vec<u8>),
    /// An error raised by the Lua API itself (no position).
    Raw(Vec<u8>),
    /// `luaL_argerror(n, text)`.
    Arg(i32, Vec<u8>),
}

impl Fail {
    pub fn msg(s: impl Into<Vec<u8>>) -> Fail {
        Fail::Msg(s.into())
    }
    pub fn arg(n: i32, s: impl Into<Vec<u8>>) -> Fail {
        Fail::Arg(n, s.into())
    }
}

pub type Ret = Result<Vec<Value>, Fail>;

/// Results in a table (their count too): as many as Lua's stack takes,
/// without holding an mlua reference for each.
pub type ManyRet = Result<(Table, usize), Fail>;

/// A call's arguments, kept in a table so numbers read back exactly.
pub struct Args {
    t: Table,
    n: usize,
}

impl Args {
    pub fn len(&self) -> usize {
        self.n
    }
    /// The arguments with a nil pushed after them (a C function's mark,
    /// which its argument errors then name as `nil`).
    pub fn with_mark(&self) -> Args {
        Args {
            t: self.t.clone(),
            n: self.n + 1,
        }
    }
    /// Argument `i` (1-based); nil past the end.
    pub fn get(&self, i: usize) -> Value {
        if i > self.n {
            return Value::Nil;
        }
        exact(
            &self.t,
            Value::Integer(i as i64),
            self.t.raw_get(i).unwrap_or(Value::Nil),
        )
    }
    /// Lua's name of argument `i`'s type, `no value` past the end.
    pub fn type_name(&self, i: usize) -> &'static str {
        if i > self.n {
            "no value"
        } else {
            type_name(&self.get(i))
        }
    }
    fn type_error(&self, i: usize, expected: &str) -> Fail {
        Fail::arg(
            i as i32,
            format!("{expected} expected, got {}", self.type_name(i)),
        )
    }
    /// `luaL_checknumber`: a number, or a string Lua converts to one.
    pub fn number(&self, lua: &Lua, i: usize) -> Result<f64, Fail> {
        match self.get(i) {
            Value::Number(n) => Ok(n),
            Value::Integer(n) => Ok(n as f64),
            v @ Value::String(_) => match lua.coerce_number(v) {
                Ok(Some(n)) => Ok(n),
                _ => Err(self.type_error(i, "number")),
            },
            _ => Err(self.type_error(i, "number")),
        }
    }
    /// `luaL_checkinteger`: as C casts the number (out of range: i64::MIN).
    pub fn integer(&self, lua: &Lua, i: usize) -> Result<i64, Fail> {
        self.number(lua, i).map(c_i64)
    }
    /// `luaL_optinteger`.
    pub fn opt_integer(&self, lua: &Lua, i: usize, default: i64) -> Result<i64, Fail> {
        match self.get(i) {
            Value::Nil => Ok(default),
            _ => self.integer(lua, i),
        }
    }
    /// `luaL_checklstring`: a string, or a number as Lua writes it.
    pub fn bytes(&self, i: usize) -> Result<Vec<u8>, Fail> {
        match self.get(i) {
            Value::String(s) => Ok(s.as_bytes().to_vec()),
            Value::Number(n) => Ok(fmt_g(n, 14).into_bytes()),
            Value::Integer(n) => Ok(fmt_g(n as f64, 14).into_bytes()),
            _ => Err(self.type_error(i, "string")),
        }
    }
}

/// `v` read from `t[key]`, its number re-read exactly.
pub fn exact(t: &Table, key: Value, v: Value) -> Value {
    match v {
        Value::Integer(i) => match t.raw_get::<f64>(key) {
            Ok(n) => Value::Number(n),
            Err(_) => Value::Number(i as f64),
        },
        Value::Number(n) => Value::Number(n),
        other => other,
    }
}

/// A table key held without an mlua reference where it can be (strings
/// and numbers), to walk big tables with [`next_pair`].
pub enum Key {
    Str(Vec<u8>),
    Num(f64),
    Val(Value),
}

impl Key {
    pub fn of(v: Value) -> Key {
        match v {
            Value::String(s) => Key::Str(s.as_bytes().to_vec()),
            Value::Integer(i) => Key::Num(i as f64),
            Value::Number(n) => Key::Num(n),
            v => Key::Val(v),
        }
    }
    pub fn value(&self, lua: &Lua) -> mlua::Result<Value> {
        Ok(match self {
            Key::Str(s) => Value::String(lua.create_string(s)?),
            Key::Num(n) => Value::Number(*n),
            Key::Val(v) => v.clone(),
        })
    }
}

/// Lua's `next(t, key)`, the value read exactly; None at the end.
pub fn next_pair(next: &Function, t: &Table, key: Value) -> mlua::Result<Option<(Value, Value)>> {
    let (k, v): (Value, Value) = next.call((t, key))?;
    if k.is_nil() {
        return Ok(None);
    }
    let v = exact(t, k.clone(), v);
    Ok(Some((k, v)))
}

/// Values a walk holds at each depth (the tables it is inside of, a key
/// read), kept in a Lua table so a deep walk holds no mlua reference per
/// level (mlua has room for about 8000).
pub struct Held(Table);

impl Held {
    pub fn new(lua: &Lua) -> Result<Held, Fail> {
        lua.create_table().map(Held).map_err(lua_fail)
    }
    pub fn set(&self, i: usize, v: Value) -> Result<(), Fail> {
        self.0.raw_set(i, v).map_err(lua_fail)
    }
    pub fn get(&self, i: usize) -> Result<Value, Fail> {
        self.0.raw_get(i).map_err(lua_fail)
    }
    pub fn table(&self, i: usize) -> Result<Table, Fail> {
        self.0.raw_get(i).map_err(lua_fail)
    }
}

/// An mlua failure (out of memory, mostly) as a Lua error text.
pub fn lua_fail(e: mlua::Error) -> Fail {
    Fail::msg(e.to_string())
}

/// A number of a Lua value, if it is one.
pub fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => Some(*n),
        Value::Integer(i) => Some(*i as f64),
        _ => None,
    }
}

/// Lua's `lua_typename` of a value.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
}

/// A double cast to a 64-bit integer as x86-64 does (out of range or NaN:
/// i64::MIN).
pub fn c_i64(x: f64) -> i64 {
    if x.is_finite() && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&x) {
        x as i64
    } else {
        i64::MIN
    }
}

/// C's `printf("%.<prec>g", x)`.
pub fn fmt_g(x: f64, prec: usize) -> String {
    let prec = prec.max(1);
    if x.is_nan() {
        return if x.is_sign_negative() { "-nan" } else { "nan" }.to_string();
    }
    if x.is_infinite() {
        return if x < 0.0 { "-inf" } else { "inf" }.to_string();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let e = format!("{:.*e}", prec - 1, x);
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let strip = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if exp < -4 || exp >= prec as i32 {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", strip(mant), exp.abs())
    } else {
        strip(&format!("{:.*}", (prec as i32 - 1 - exp) as usize, x))
    }
}

/// Calls the Rust function (upvalue 1) with the arguments in a table and
/// their count; it answers a code, then: 0, the results; 1, a table of
/// results and their count; 2, a `luaL_error` text; 3, an argument
/// number and text for `luaL_argerror`; 4, an error value to raise as is.
unsafe extern "C-unwind" fn trampoline(state: *mut ffi::lua_State) -> c_int {
    let n = ffi::lua_gettop(state);
    ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
    ffi::lua_createtable(state, n, 0);
    for i in 1..=n {
        ffi::lua_pushvalue(state, i);
        ffi::lua_rawseti(state, -2, i as ffi::lua_Integer);
    }
    ffi::lua_pushinteger(state, n as ffi::lua_Integer);
    ffi::lua_call(state, 2, ffi::LUA_MULTRET);
    let first = n + 1;
    let top = ffi::lua_gettop(state);
    let code = ffi::lua_tointeger(state, first);
    if code >= 2 && ffi::lua_checkstack(state, 4) == 0 {
        // No room to add the position: the message as it is.
        ffi::lua_settop(state, first + if code == 3 { 2 } else { 1 });
        ffi::lua_error(state);
    }
    match code {
        0 => top - first,
        1 => {
            let count = ffi::lua_tointeger(state, first + 2) as c_int;
            ffi::lua_pushvalue(state, first + 1);
            ffi::lua_replace(state, 1);
            ffi::lua_settop(state, 1);
            if ffi::lua_checkstack(state, count) == 0 {
                ffi::lua_pushstring(state, c"stack overflow".as_ptr());
                ffi::lua_error(state);
            }
            for i in 1..=count {
                ffi::lua_rawgeti(state, 1, i as ffi::lua_Integer);
            }
            count
        }
        3 => {
            let narg = ffi::lua_tointeger(state, first + 1) as c_int;
            ffi::luaL_argerror(state, narg, ffi::lua_tostring(state, first + 2))
        }
        2 => {
            ffi::luaL_where(state, 1);
            ffi::lua_pushvalue(state, first + 1);
            ffi::lua_concat(state, 2);
            ffi::lua_error(state)
        }
        _ => {
            ffi::lua_pushvalue(state, first + 1);
            ffi::lua_error(state)
        }
    }
}

/// Results returned inline up to this many; more go through a table.
const INLINE: usize = 16;

/// What a library function answered.
enum Done {
    Values(Vec<Value>),
    Table(Table, usize),
}

/// A library function: `f` over the call's arguments, as a C closure.
pub fn function(lua: &Lua, f: impl Fn(&Lua, &Args) -> Ret + 'static) -> mlua::Result<Function> {
    closure(lua, move |lua, a| f(lua, a).map(Done::Values))
}

/// A library function answering its results in a table.
pub fn function_many(
    lua: &Lua,
    f: impl Fn(&Lua, &Args) -> ManyRet + 'static,
) -> mlua::Result<Function> {
    closure(lua, move |lua, a| f(lua, a).map(|(t, n)| Done::Table(t, n)))
}

fn closure(
    lua: &Lua,
    f: impl Fn(&Lua, &Args) -> Result<Done, Fail> + 'static,
) -> mlua::Result<Function> {
    let inner = lua.create_function(move |lua, (t, n): (Table, i64)| {
        let args = Args { t, n: n as usize };
        let mut out = MultiValue::new();
        match f(lua, &args) {
            Ok(Done::Table(t, count)) => {
                out.extend([
                    Value::Integer(1),
                    Value::Table(t),
                    Value::Integer(count as i64),
                ]);
            }
            Ok(Done::Values(values)) if values.len() <= INLINE => {
                out.push_back(Value::Integer(0));
                out.extend(values);
            }
            Ok(Done::Values(values)) => {
                let count = values.len();
                let t = lua.create_table_with_capacity(count, 0)?;
                for (i, v) in values.into_iter().enumerate() {
                    t.raw_set(i + 1, v)?;
                }
                out.extend([
                    Value::Integer(1),
                    Value::Table(t),
                    Value::Integer(count as i64),
                ]);
            }
            Err(Fail::Msg(m)) => {
                out.extend([Value::Integer(2), Value::String(lua.create_string(m)?)]);
            }
            Err(Fail::Arg(i, m)) => {
                out.extend([
                    Value::Integer(3),
                    Value::Integer(i as i64),
                    Value::String(lua.create_string(m)?),
                ]);
            }
            Err(Fail::Raw(m)) => {
                out.extend([Value::Integer(4), Value::String(lua.create_string(m)?)]);
            }
        }
        Ok(out)
    })?;
    // SAFETY: the closure is made in protected mode from the function on
    // the stack; `trampoline` keeps no Rust value with a destructor on its
    // frame across the Lua calls that may raise through it.
    unsafe {
        lua.exec_raw::<Function>(inner, |state| {
            ffi::lua_pushcclosure(state, trampoline, 1);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{c_i64, fmt_g};

    #[test]
    fn formats_as_c_does() {
        let cases: &[(f64, usize, &str)] = &[
            (0.1, 14, "0.1"),
            (1.0 / 3.0, 14, "0.33333333333333"),
            (1e300, 14, "1e+300"),
            (1e-20, 14, "1e-20"),
            (-0.0, 14, "-0"),
            (100.0, 14, "100"),
            (123456789012345.0, 14, "1.2345678901234e+14"),
            (12345678901234.0, 14, "12345678901234"),
            (0.0001, 14, "0.0001"),
            (0.00001, 14, "1e-05"),
            (2.5, 1, "2"),
            (1.23456, 3, "1.23"),
            (9.9999999999999995, 14, "10"),
            (f64::INFINITY, 14, "inf"),
        ];
        for &(x, p, want) in cases {
            assert_eq!(fmt_g(x, p), want, "{x} at {p}");
        }
        assert_eq!(c_i64(1e30), i64::MIN);
        assert_eq!(c_i64(-3.7), -3);
    }
}
