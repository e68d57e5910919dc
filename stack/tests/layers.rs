//! The stack's layering, checked on its sources (docs/architecture.md):
//! every `crate::` path in a part's code must name a module that part may
//! import. The socket layer (`kern`) never names the protocols (`netinet`)
//! or the stack's face (`host`, `Stack`); the protocols never name the
//! face; packet views (`wire`) name nothing else. Test modules (a
//! `#[cfg(test)] mod` at the end of a file, `*_tests.rs` files) drive the
//! whole stack through its face and are not checked.

use std::fs;
use std::path::{Path, PathBuf};

/// Leaf modules every part may use: plain types and helpers that import no
/// part themselves.
const BASE: &[&str] = &["api", "config", "errno", "linux", "stats", "time", "rng"];

/// (part, the crate modules its code may name besides `BASE`).
const RULES: &[(&str, &[&str])] = &[
    ("wire", &["wire"]),
    ("kern", &["kern"]),
    ("netinet", &["kern", "wire", "netinet"]),
];

/// The code of a source file without comments and without its test module.
fn code_of(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim();
        if t.starts_with("#[cfg(") && t.contains("test") {
            match lines.peek().map(|l| l.trim()) {
                Some(next) if next.starts_with("mod ") && next.ends_with('{') => break,
                Some(next) if next.starts_with("mod ") && next.ends_with(';') => {
                    lines.next();
                    continue;
                }
                _ => continue,
            }
        }
        let code = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// Every crate module named by a `crate::` path in `code`, groups
/// (`crate::{a, b::c}`) included.
fn crate_modules(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // e.g. `mycrate::`
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item = String::new();
            let mut at_start = true;
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 1 => {
                        at_start = true;
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
                if depth == 1 && at_start {
                    if c.is_alphanumeric() || c == '_' {
                        item.push(c);
                    } else if !item.is_empty() {
                        found.push(std::mem::take(&mut item));
                        at_start = false;
                    }
                }
            }
            if !item.is_empty() {
                found.push(item);
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.push(name);
        }
    }
    found
}

/// The violations in one file's text for a part allowed `allowed`.
fn violations(text: &str, allowed: &[&str]) -> Vec<String> {
    let code = code_of(text);
    let mut v: Vec<String> = crate_modules(&code)
        .into_iter()
        .filter(|m| !BASE.contains(&m.as_str()) && !allowed.contains(&m.as_str()))
        .map(|m| format!("crate::{m}"))
        .collect();
    if code.contains("super::super") {
        v.push("super::super (a path out of the part)".into());
    }
    v
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read source dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && !path.to_string_lossy().ends_with("_tests.rs")
        {
            out.push(path);
        }
    }
}

#[test]
fn each_part_imports_only_what_it_may() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut bad = Vec::new();
    let mut checked = 0;
    for (part, allowed) in RULES {
        let mut files = Vec::new();
        rust_files(&src.join(part), &mut files);
        assert!(!files.is_empty(), "no sources found for {part}");
        for f in files {
            let text = fs::read_to_string(&f).expect("read source");
            checked += 1;
            for v in violations(&text, allowed) {
                bad.push(format!("{}: {v}", f.strip_prefix(&src).unwrap().display()));
            }
        }
    }
    for base in BASE {
        let f = src.join(format!("{base}.rs"));
        let text = fs::read_to_string(&f).expect("read base module");
        checked += 1;
        for v in violations(&text, &[]) {
            bad.push(format!("{base}.rs: {v}"));
        }
    }
    assert!(checked > 30, "only {checked} files checked");
    assert!(
        bad.is_empty(),
        "imports against the layering (docs/architecture.md):\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_check_sees_back_edges() {
    let kern = RULES.iter().find(|(p, _)| *p == "kern").unwrap().1;
    let src = "//! doc naming crate::netinet is fine\n\
               use crate::kern::socket::Socket;\n\
               use crate::netinet::tcp_var::TcpCb;\n\
               use crate::{errno::Errno, host::Stack};\n\
               fn f(s: &crate::Stack) {}\n\
               #[cfg(test)]\nmod tests {\n    use crate::netinet::ip;\n}\n";
    assert_eq!(
        violations(src, kern),
        ["crate::netinet", "crate::host", "crate::Stack"],
        "back edges in code are found; comments and the test module are not"
    );
    assert!(violations("use super::super::netinet::ip;", kern).len() == 1);
    assert!(violations("use crate::kern::sockbuf::SockBuf;", kern).is_empty());
}
