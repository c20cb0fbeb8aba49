//! The layers of the platform and the arrows between them (ARCHITECTURE.md, "Layers"): domain →
//! policy → store → application → workers → transport → binaries. A module may use its own layer
//! and the layers before it, never one after it; the demo city sits beside the binaries and no
//! production module reaches it. Checked on the source text: every `crate::…`, `super::…` and
//! `hcp_core::…` path a file names is resolved to the module it enters.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The layers, lowest first.
const LAYERS: [&str; 7] = [
    "domain",
    "policy",
    "store",
    "application",
    "workers",
    "transport",
    "binaries",
];

fn rank(layer: &str) -> usize {
    LAYERS.iter().position(|name| *name == layer).unwrap()
}

/// The layer of a top-level module of `hcp-core`: the Rhai host is the policy layer, the sled
/// projections the store, every other module the domain.
fn core_layer(module: &str) -> &'static str {
    match module {
        "policy" => "policy",
        "store" => "store",
        _ => "domain",
    }
}

/// The layer of a top-level module of `hcp-server`; `None` for the demo city (beside the
/// binaries, reached by nothing in production).
fn server_layer(module: &str) -> Option<&'static str> {
    match module {
        "app" => Some("application"),
        "workers" => Some("workers"),
        "http" => Some("transport"),
        "run" | "main" | "lib" => Some("binaries"),
        "demo" => None,
        other => panic!("server module {other} has no layer: give it one in tests/tests/layers.rs"),
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`app/orders.rs` → `app`, `lib.rs` → `lib`).
fn top_module(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative.components().next().unwrap().as_os_str();
    first.to_string_lossy().trim_end_matches(".rs").to_string()
}

/// Drops comments (line and doc comments) so that prose naming a module is no arrow.
fn code_of(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every module a path in `code` enters under `prefix` (e.g. `crate::`): for `crate::app::x`
/// that is `app`; for `crate::{app::x, http}` both `app` and `http`.
fn entered(code: &str, prefix: &str) -> Vec<String> {
    let mut modules = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().last();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // A use group: the first segment of each member, at nesting depth one.
            let mut depth = 1;
            let mut member = String::new();
            let mut first_segment = true;
            for c in group.chars() {
                match c {
                    '{' => {
                        depth += 1;
                        first_segment = false;
                    }
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => {
                        if !member.is_empty() {
                            modules.push(std::mem::take(&mut member));
                        }
                        first_segment = true;
                    }
                    ':' if depth == 1 => first_segment = false,
                    c if depth == 1 && first_segment && (c.is_alphanumeric() || c == '_') => {
                        member.push(c)
                    }
                    _ => {}
                }
            }
            if !member.is_empty() {
                modules.push(member);
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                modules.push(name);
            }
        }
    }
    modules.retain(|module| module != "self");
    modules
}

#[test]
fn arrows_point_down() {
    let mut wrong = Vec::new();
    // hcp-core: domain, policy, store.
    let src = root().join("core/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for file in &files {
        let module = top_module(&src, file);
        if module == "lib" {
            continue;
        }
        let from = core_layer(&module);
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        for target in entered(&code, "crate::") {
            let to = core_layer(&target);
            if rank(to) > rank(from) {
                wrong.push(format!(
                    "{} ({from}) uses crate::{target} ({to})",
                    file.display()
                ));
            }
        }
        if from == "domain" {
            for runtime in ["rhai::", "sled::", "axum::", "tokio::"] {
                if code.contains(runtime) {
                    wrong.push(format!("{} (domain) names {runtime}", file.display()));
                }
            }
        }
    }
    // hcp-server: application, workers, transport, binaries; the demo beside them.
    let src = root().join("server/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for file in &files {
        let module = top_module(&src, file);
        let from = server_layer(&module);
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        for target in entered(&code, "crate::") {
            match (from, server_layer(&target)) {
                // The demo may use everything; binaries may start the demo.
                (None, _) | (Some("binaries"), None) => {}
                (Some(from), None) => wrong.push(format!(
                    "{} ({from}) reaches the demo city (crate::{target}): production code must not",
                    file.display()
                )),
                (Some(from), Some(to)) if rank(to) > rank(from) => wrong.push(format!(
                    "{} ({from}) uses crate::{target} ({to})",
                    file.display()
                )),
                _ => {}
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "arrows pointing up or sideways:\n{}",
        wrong.join("\n")
    );
}

/// The use cases transport reaches go through the application layer: a handler never writes to
/// the store itself (no command built or submitted in `http/`).
#[test]
fn transport_writes_through_the_application_layer() {
    let src = root().join("server/src/http");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut writing = Vec::new();
    for file in files {
        let code = code_of(&std::fs::read_to_string(&file).unwrap());
        for needle in [".submit(", ".submit_one(", ".record(", "Command::"] {
            if code.contains(needle) {
                writing.push(format!("{} ({needle})", file.display()));
            }
        }
    }
    assert!(
        writing.is_empty(),
        "transport writes to the store directly: go through the application layer\n{}",
        writing.join("\n")
    );
}

#[test]
fn the_parser_sees_use_groups_and_paths() {
    let code =
        "use crate::{app::{self, x}, http};\nlet a = crate::workers::sweep(b);\nnotcrate::demo";
    assert_eq!(entered(code, "crate::"), vec!["app", "http", "workers"]);
}
