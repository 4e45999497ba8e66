//! The TOML settings file: flat `name = value` pairs with Redis's names
//! (`port = 6379`, `appendonly = false`, `save = "3600 1"`). Integers,
//! booleans (or "yes"/"no") and strings are accepted where they make sense;
//! every value goes through the same parser as `CONFIG SET`. Errors name the
//! file, the line (from the TOML spans) and the key.

use super::{params, Config, ConfigError};
use std::collections::BTreeMap;
use std::path::Path;
use toml::{Spanned, Value};

/// Applies every setting in the file at `path` to `cfg`.
pub fn apply(cfg: &mut Config, path: &Path) -> Result<(), ConfigError> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("{shown}: cannot read the config file: {e}")))?;
    apply_text(cfg, &shown.to_string(), &text)
}

/// [`apply`] on text already read; `shown` names the file in errors.
pub fn apply_text(cfg: &mut Config, shown: &str, text: &str) -> Result<(), ConfigError> {
    let table: BTreeMap<String, Spanned<Value>> = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        ConfigError(format!(
            "{shown}:{line}: invalid TOML: {}",
            e.message().trim()
        ))
    })?;
    // Report in file order, so the first bad line is the one named.
    let mut entries: Vec<(&String, &Spanned<Value>)> = table.iter().collect();
    entries.sort_by_key(|(_, v)| v.span().start);
    for (key, value) in entries {
        let line = line_of(text, value.span().start);
        let Some(param) = params::find(key) else {
            return Err(ConfigError(format!(
                "{shown}:{line}: unknown setting '{key}'"
            )));
        };
        let bad =
            |why: String| ConfigError(format!("{shown}:{line}: bad value for '{key}': {why}"));
        let text_value = scalar(value.get_ref()).map_err(bad)?;
        (param.set)(cfg, &text_value).map_err(bad)?;
    }
    Ok(())
}

/// A TOML value as the text `CONFIG SET` would receive.
fn scalar(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Integer(n) => Ok(n.to_string()),
        Value::Boolean(b) => Ok(if *b { "yes" } else { "no" }.to_string()),
        Value::Array(items) => {
            let parts: Result<Vec<String>, String> = items.iter().map(scalar).collect();
            Ok(parts?.join(" "))
        }
        Value::Float(_) => Err("expected an integer or a string, not a float".into()),
        Value::Datetime(_) => Err("expected an integer or a string, not a date".into()),
        Value::Table(_) => Err("expected a value, not a table (settings are flat)".into()),
    }
}

/// 1-based line of byte offset `at`.
pub fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(text: &str) -> Result<Config, ConfigError> {
        let mut c = Config::defaults();
        apply_text(&mut c, "t.toml", text).map(|()| c)
    }

    #[test]
    fn values_of_every_shape() {
        let c = apply(
            "# comment\nport = 6380\nappendonly = true\nsave = \"3600 1\"\n\
             proto-max-bulk-len = \"2mb\"\nunixsocketperm = 700\nbind = \"0.0.0.0\"\n",
        )
        .unwrap();
        assert_eq!(c.port, 6380);
        assert!(c.appendonly);
        assert_eq!(c.save, "3600 1");
        assert_eq!(c.proto_max_bulk_len, 2 << 20);
        assert_eq!(c.unixsocketperm, 0o700);
        assert_eq!(c.bind, "0.0.0.0");
    }

    #[test]
    fn errors_name_file_line_and_key() {
        assert_eq!(
            apply("port = 1\n\nprot = 2\n").unwrap_err().0,
            "t.toml:3: unknown setting 'prot'"
        );
        assert_eq!(
            apply("# x\nport = \"abc\"\n").unwrap_err().0,
            "t.toml:2: bad value for 'port': argument couldn't be parsed into an integer"
        );
        assert_eq!(
            apply("maxclients = 1.5\n").unwrap_err().0,
            "t.toml:1: bad value for 'maxclients': expected an integer or a string, not a float"
        );
        let e = apply("port = 1\nport 2\n").unwrap_err().0;
        assert!(e.starts_with("t.toml:2: invalid TOML"), "{e}");
        // The first bad line in the file is reported, not the first in key order.
        assert_eq!(
            apply("zzz = 1\naaa = 2\n").unwrap_err().0,
            "t.toml:1: unknown setting 'zzz'"
        );
    }

    #[test]
    fn shipped_file_documents_every_setting_with_its_default() {
        let text = include_str!("../../configs/ringkv.toml");
        let doc: toml::Table = toml::from_str(text).unwrap();
        for p in params::PARAMS {
            let v = doc
                .get(p.name)
                .unwrap_or_else(|| panic!("configs/ringkv.toml lacks {}", p.name));
            let mut c = Config::defaults();
            (p.set)(&mut c, &scalar(v).unwrap()).unwrap();
            assert_eq!((p.get)(&c), p.default, "{} in configs/ringkv.toml", p.name);
        }
        assert_eq!(
            doc.len(),
            params::PARAMS.len(),
            "configs/ringkv.toml has extra keys"
        );
    }
}
