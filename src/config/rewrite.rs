//! `CONFIG REWRITE`: writes the running values of the runtime-changeable
//! settings back into the TOML file the server was started with, keeping its
//! comments, order and layout (toml_edit). A key already in the file gets its
//! new value in place; a changed setting missing from the file is appended.
//! Settings fixed at start (port, threads, ...) are left as the file has them,
//! so flags and environment overrides are never frozen into the file.
//! The new file replaces the old one atomically (write + rename).

use super::params::{Kind, PARAMS};
use super::Config;
use toml_edit::{DocumentMut, Item, Value};

/// Rewrites the config file; the error is the text after `ERR ` that Redis
/// would send.
pub fn rewrite(cfg: &Config) -> Result<(), String> {
    let Some(path) = &cfg.origin.file else {
        return Err("The server is running without a config file".into());
    };
    let old = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("Rewriting config file: {e}")),
    };
    let new = rewrite_text(&old, cfg).map_err(|e| format!("Rewriting config file: {e}"))?;
    let tmp = path.with_extension("toml.rewrite-tmp");
    std::fs::write(&tmp, new)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("Rewriting config file: {e}")
        })
}

/// The file text with every runtime-changeable setting set to `cfg`'s value.
pub fn rewrite_text(old: &str, cfg: &Config) -> Result<String, String> {
    let mut doc: DocumentMut = old
        .parse()
        .map_err(|e: toml_edit::TomlError| e.to_string())?;
    for p in PARAMS.iter().filter(|p| p.mutable) {
        let text = (p.get)(cfg);
        let mut value = match p.kind {
            Kind::Int => text
                .parse::<i64>()
                .map_or_else(|_| Value::from(text.as_str()), Value::from),
            Kind::Bool => Value::from(text == "yes"),
            Kind::Str => Value::from(text.as_str()),
        };
        match doc.get_mut(p.name) {
            Some(Item::Value(old)) => {
                *value.decor_mut() = old.decor().clone();
                *old = value;
            }
            Some(item) => *item = Item::Value(value),
            None if text != p.default => {
                doc.insert(p.name, Item::Value(value));
            }
            None => {}
        }
    }
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_comments_updates_in_place_appends_changes() {
        let old = "# my server\nport = 7000 # fixed\n\n# chatty\nloglevel = \"notice\"   # level\n";
        let mut cfg = Config::defaults();
        cfg.port = 9999; // immutable: a flag override is not written back
        cfg.loglevel = "warning".into();
        cfg.maxclients = 50;
        let new = rewrite_text(old, &cfg).unwrap();
        assert_eq!(
            new,
            "# my server\nport = 7000 # fixed\n\n# chatty\nloglevel = \"warning\"   # level\nmaxclients = 50\n"
        );
        // Unchanged settings are not appended.
        assert_eq!(rewrite_text("", &Config::defaults()).unwrap(), "");
    }

    #[test]
    fn without_a_file_it_is_redis_error() {
        assert_eq!(
            rewrite(&Config::defaults()).unwrap_err(),
            "The server is running without a config file"
        );
    }
}
