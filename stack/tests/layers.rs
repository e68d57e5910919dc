//! The stack's layering, checked on its sources (docs/architecture.md):
//! every `crate::` path in a part's code must name a module that part may
//! import. The socket layer (`kern`) never names the protocols (`netinet`)
//! or the stack's face (`host`, `Stack`); the protocols never name the
//! face; packet views (`wire`) name nothing else. Within `kern` and within
//! `netinet` the files import each other without a loop. Test modules (a
//! `#[cfg(test)] mod` at the end of a file, `*_tests.rs` files) drive the
//! whole stack through its face and are not checked.

mod common;

use std::fs;
use std::path::Path;

use common::{code_of, rust_files};

/// Leaf modules every part may use: plain types and helpers that import no
/// part themselves.
const BASE: &[&str] = &[
    "api", "config", "errno", "linux", "stats", "time", "rng", "hash", "offload",
];

/// (part, the crate modules its code may name besides `BASE`).
const RULES: &[(&str, &[&str])] = &[
    ("wire", &["wire"]),
    ("kern", &["kern"]),
    ("netinet", &["kern", "wire", "netinet"]),
];

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

/// The files of `part` (by module name) each file's code names, through
/// `crate::part::m` or `super::m`.
fn part_graph(src: &Path, part: &str) -> Vec<(String, Vec<String>)> {
    let mut files = Vec::new();
    rust_files(&src.join(part), &mut files);
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_stem().unwrap().to_string_lossy().into_owned())
        .filter(|n| n != "mod")
        .collect();
    let mut graph = Vec::new();
    for f in &files {
        let me = f.file_stem().unwrap().to_string_lossy().into_owned();
        if me == "mod" {
            continue;
        }
        let code = code_of(&fs::read_to_string(f).expect("read source"));
        graph.push((me.clone(), names_used(&code, part, &names, &me)));
    }
    graph
}

/// The modules of `part` among `names` that `code` names, but `me`.
fn names_used(code: &str, part: &str, names: &[String], me: &str) -> Vec<String> {
    let mut used: Vec<String> = names
        .iter()
        .filter(|n| n.as_str() != me)
        .filter(|n| {
            [format!("crate::{part}::{n}"), format!("super::{n}")]
                .iter()
                .any(|p| {
                    code.match_indices(p.as_str()).any(|(i, _)| {
                        let after = code[i + p.len()..].chars().next();
                        !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
                    })
                })
                || code.contains(&format!("crate::{part}::{{"))
                    && group_names(code, part).contains(n)
        })
        .cloned()
        .collect();
    used.sort();
    used
}

/// Module names inside `crate::part::{...}` groups.
fn group_names(code: &str, part: &str) -> Vec<String> {
    let open = format!("crate::{part}::{{");
    code.match_indices(open.as_str())
        .flat_map(|(i, _)| {
            let rest = &code[i + open.len()..];
            let body = &rest[..rest.find('}').unwrap_or(rest.len())];
            body.split(',')
                .map(|s| s.trim().split("::").next().unwrap_or("").to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A loop in the graph, if any, as the list of files around it.
fn find_loop(graph: &[(String, Vec<String>)]) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &[(String, Vec<String>)],
        state: &mut Vec<(String, u8)>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        let at = |state: &Vec<(String, u8)>| state.iter().position(|(m, _)| m == n);
        match at(state).map(|i| state[i].1) {
            Some(2) => return None,
            Some(1) => {
                let from = path.iter().position(|m| m == n).unwrap();
                let mut cycle = path[from..].to_vec();
                cycle.push(n.to_string());
                return Some(cycle);
            }
            _ => {}
        }
        state.push((n.to_string(), 1));
        path.push(n.to_string());
        let deps = graph.iter().find(|(m, _)| m == n).map(|(_, d)| d.clone());
        for d in deps.unwrap_or_default() {
            if let Some(c) = visit(&d, graph, state, path) {
                return Some(c);
            }
        }
        path.pop();
        let i = at(state).unwrap();
        state[i].1 = 2;
        None
    }
    let mut state = Vec::new();
    for (n, _) in graph {
        if let Some(c) = visit(n, graph, &mut state, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

#[test]
fn files_of_a_part_import_each_other_without_a_loop() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for part in ["kern", "netinet"] {
        let graph = part_graph(&src, part);
        assert!(graph.len() > 5, "{part}: only {} files", graph.len());
        if let Some(cycle) = find_loop(&graph) {
            panic!("{part}: import loop {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn the_loop_check_sees_loops() {
    let g = |edges: &[(&str, &[&str])]| -> Vec<(String, Vec<String>)> {
        edges
            .iter()
            .map(|(n, d)| (n.to_string(), d.iter().map(|s| s.to_string()).collect()))
            .collect()
    };
    assert_eq!(
        find_loop(&g(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"])])),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    assert_eq!(
        find_loop(&g(&[("a", &["b", "c"]), ("b", &["c"]), ("c", &[])])),
        None
    );
    let names = [
        "ip".to_string(),
        "tcp_input".to_string(),
        "tcp_in".to_string(),
    ];
    let code = "use crate::netinet::tcp_input::tcp_input;\nuse super::ip;\n";
    assert_eq!(
        names_used(code, "netinet", &names, "udp"),
        ["ip", "tcp_input"],
        "a module's name is matched whole"
    );
    assert_eq!(
        names_used(
            "use crate::netinet::{ip::x, tcp_in};",
            "netinet",
            &names,
            "udp"
        ),
        ["ip", "tcp_in"]
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
