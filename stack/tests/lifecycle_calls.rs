//! The socket model's life-cycle calls, checked on the stack's sources:
//! `pru_detach` is called only by `sofree` and `pru_abort` only by
//! `soabort` (both in `kern/uipc.rs`), where each call is counted
//! (`pru_detach_calls`, `pru_abort_calls`) and guarded (`sofree` frees
//! only an attached socket nobody holds, so `pru_detach` runs once). A
//! second, uncounted call from anywhere else fails this test.
//! Test code (`*_tests.rs`, a test module at the end of a file) is not
//! checked.

mod common;

use std::fs;
use std::path::Path;

use common::{code_of, rust_files};

/// (file relative to src/, the enclosing `fn`) of every call of `.name(`.
fn callers(name: &str) -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 30, "only {} source files found", files.len());
    let needle = format!(".{name}(");
    let mut found = Vec::new();
    for f in files {
        let code = code_of(&fs::read_to_string(&f).expect("read source"));
        let rel = f.strip_prefix(&src).unwrap().display().to_string();
        let mut current_fn = String::new();
        for line in code.lines() {
            if let Some(i) = line.find("fn ") {
                let name: String = line[i + 3..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    current_fn = name;
                }
            }
            if line.contains(&needle) {
                found.push((rel.clone(), current_fn.clone()));
            }
        }
    }
    found
}

#[test]
fn pru_detach_is_called_only_by_sofree() {
    assert_eq!(
        callers("pru_detach"),
        [("kern/uipc.rs".to_string(), "sofree".to_string())]
    );
}

#[test]
fn pru_abort_is_called_only_by_soabort() {
    assert_eq!(
        callers("pru_abort"),
        [("kern/uipc.rs".to_string(), "soabort".to_string())]
    );
}
