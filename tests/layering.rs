//! The layering `src/lib.rs` states is true: a module of `src/` may name
//! (`crate::x`) only modules of lower layers, never one above it.
//!
//! The check reads every non-test source file, drops comments and
//! `#[cfg(test)]` modules, and looks at each `crate::<module>` path. The
//! known upward edges still to be removed are listed in [`KNOWN`]; anything
//! else upward fails, and so does a listed edge that no longer exists (so the
//! list only ever shrinks).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The top-level modules from the top layer down; modules on one line are one
/// layer and may not name each other.
const LAYERS: &[&[&str]] = &[
    &["server"],
    &["net"],
    &["route"],
    &["runtime"],
    &["cmd"],
    &["metrics"],
    &["shard"],
    &["persist"],
    &["slot", "clock", "protocol", "config"],
];

/// Upward edges (from, to) that remain, each with why it is still here.
const KNOWN: &[(&str, &str)] = &[];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The file's code without comments and without `#[cfg(test)]` items
/// (a `mod` with a body, skipped to its matching brace).
fn code_of(text: &str) -> Vec<(usize, String)> {
    let mut lines = Vec::new();
    let mut skipping_depth: Option<i64> = None;
    let mut pending_cfg_test = false;
    for (n, raw) in text.lines().enumerate() {
        let code = match raw.find("//") {
            Some(i) => &raw[..i],
            None => raw,
        };
        if let Some(depth) = skipping_depth.as_mut() {
            *depth += code.matches('{').count() as i64 - code.matches('}').count() as i64;
            if *depth <= 0 {
                skipping_depth = None;
            }
            continue;
        }
        let trimmed = code.trim();
        if trimmed == "#[cfg(test)]" {
            pending_cfg_test = true;
            continue;
        }
        if pending_cfg_test {
            pending_cfg_test = false;
            if trimmed.starts_with("mod ") && trimmed.ends_with(';') {
                continue;
            }
            let depth = code.matches('{').count() as i64 - code.matches('}').count() as i64;
            if depth > 0 {
                skipping_depth = Some(depth);
            }
            continue;
        }
        lines.push((n + 1, code.to_string()));
    }
    lines
}

fn crate_paths(code: &str) -> impl Iterator<Item = &str> {
    code.match_indices("crate::").filter_map(move |(i, _)| {
        if i > 0 {
            let before = code.as_bytes()[i - 1];
            if before.is_ascii_alphanumeric() || before == b'_' {
                return None; // e.g. `$crate::`
            }
        }
        let rest = &code[i + "crate::".len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        (end > 0).then(|| &rest[..end])
    })
}

#[test]
fn no_module_names_a_module_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut violations = Vec::new();
    let mut seen_known = BTreeSet::new();
    for file in files {
        let rel = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let name = file.file_name().unwrap().to_string_lossy();
        if name == "tests.rs" || name.ends_with("_tests.rs") || rel == "main.rs" || rel == "lib.rs"
        {
            continue;
        }
        let from = rel.split(['/', '.']).next().unwrap().to_string();
        let Some(from_layer) = layer_of(&from) else {
            violations.push(format!("{rel}: module `{from}` has no layer in LAYERS"));
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for (line, code) in code_of(&text) {
            for to in crate_paths(&code) {
                if to == from {
                    continue;
                }
                let Some(to_layer) = layer_of(to) else {
                    violations.push(format!(
                        "{rel}:{line}: `crate::{to}` has no layer in LAYERS"
                    ));
                    continue;
                };
                if to_layer <= from_layer {
                    if KNOWN.contains(&(from.as_str(), to)) {
                        seen_known.insert((from.clone(), to.to_string()));
                    } else {
                        violations.push(format!(
                            "{rel}:{line}: `{from}` names `crate::{to}` above or beside it"
                        ));
                    }
                }
            }
        }
    }
    for (from, to) in KNOWN {
        if !seen_known.contains(&(from.to_string(), to.to_string())) {
            violations.push(format!(
                "KNOWN lists {from} -> {to}, which no longer exists: remove it"
            ));
        }
    }
    assert!(
        violations.is_empty(),
        "layering violations:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_checker_sees_paths_and_skips_tests() {
    let text = "use crate::net::x; // crate::server\n#[cfg(test)]\nmod tests {\n    use crate::server;\n}\nfn f() { crate::cmd::g(); }\n";
    let code = code_of(text);
    let paths: Vec<&str> = code.iter().flat_map(|(_, c)| crate_paths(c)).collect();
    assert_eq!(paths, ["net", "cmd"]);
}
