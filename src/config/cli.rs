//! The command line, parsed the way redis-server parses it: `--name value`
//! (values run until the next `--`, so `--save 900 1 300 10` works and
//! `--save ''` gives an empty value), `--name=value`, plus `--config PATH`
//! (or a first argument naming the file, as `redis-server /etc/redis.conf`),
//! `--help` and `--version`. Names are checked against the settings table;
//! values are checked later, in precedence order, by [`super::load`].

use super::{params, ConfigError, Override};
use std::path::PathBuf;

/// What the arguments say.
#[derive(Debug, Default)]
pub struct Parsed {
    pub file: Option<PathBuf>,
    pub flags: Vec<Override>,
    pub help: bool,
    pub version: bool,
}

pub fn parse(args: Vec<String>) -> Result<Parsed, ConfigError> {
    let mut out = Parsed::default();
    let mut i = 0;
    if let Some(first) = args.first() {
        if !first.starts_with('-') {
            out.file = Some(PathBuf::from(first));
            i = 1;
        }
    }
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        match arg.as_str() {
            "-h" | "--help" => {
                out.help = true;
                continue;
            }
            "-v" | "--version" => {
                out.version = true;
                continue;
            }
            _ => {}
        }
        let Some(flag) = arg.strip_prefix("--") else {
            return Err(ConfigError(format!(
                "command line: unexpected argument '{arg}' (settings are given as --name value)"
            )));
        };
        let (name, mut values) = match flag.split_once('=') {
            Some((n, v)) => (n, vec![v.to_string()]),
            None => (flag, Vec::new()),
        };
        if values.is_empty() {
            while i < args.len() && !args[i].starts_with("--") {
                values.push(args[i].clone());
                i += 1;
            }
        }
        if values.is_empty() {
            return Err(ConfigError(format!("command line: --{name} needs a value")));
        }
        let value = values.join(" ");
        if name == "config" {
            out.file = Some(PathBuf::from(value));
            continue;
        }
        let Some(param) = params::find(name) else {
            return Err(ConfigError(format!(
                "command line: unknown setting '--{name}' (see --help)"
            )));
        };
        out.flags.push(Override {
            param,
            value,
            source: format!("--{name}"),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Parsed, ConfigError> {
        parse(args.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn redis_style_flags() {
        let r = p(&[
            "/etc/ringkv.toml",
            "--port",
            "6380",
            "--save",
            "900",
            "1",
            "--bind=::1",
        ])
        .unwrap();
        assert_eq!(r.file, Some(PathBuf::from("/etc/ringkv.toml")));
        let flags: Vec<_> = r
            .flags
            .iter()
            .map(|o| (o.param.name, o.value.as_str()))
            .collect();
        assert_eq!(
            flags,
            [("port", "6380"), ("save", "900 1"), ("bind", "::1")]
        );
        let r = p(&[
            "--config",
            "x.toml",
            "--save",
            "",
            "--slowlog-log-slower-than",
            "-1",
        ])
        .unwrap();
        assert_eq!(r.file, Some(PathBuf::from("x.toml")));
        assert_eq!(r.flags[0].value, "");
        assert_eq!(r.flags[1].value, "-1");
        assert!(p(&["--help"]).unwrap().help);
        assert!(p(&["-v"]).unwrap().version);
    }

    #[test]
    fn rejections_name_the_flag() {
        assert_eq!(
            p(&["--prot", "1"]).unwrap_err().0,
            "command line: unknown setting '--prot' (see --help)"
        );
        assert_eq!(
            p(&["--port"]).unwrap_err().0,
            "command line: --port needs a value"
        );
        assert!(p(&["--port", "1", "stray"]).is_ok()); // joined: "1 stray", rejected by load
        assert!(p(&["a.toml", "b"]).is_err());
    }
}
