//! Checks of the codebase itself: module docs, and each runtime touched in one place only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|name| name == "target") {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

fn sources(crate_dir: &str) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    rust_files(&root().join(crate_dir), &mut files);
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            (path, text)
        })
        .collect()
}

#[test]
fn every_module_says_what_it_is_for() {
    let mut missing = Vec::new();
    for dir in ["core", "server", "tests", "plugins/host"] {
        for (path, text) in sources(dir) {
            let first = text
                .lines()
                .find(|line| !line.trim().is_empty())
                .unwrap_or_default();
            if !first.starts_with("//!") {
                missing.push(path.display().to_string());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "files without a leading //! doc line: {missing:?}"
    );
}

/// Each runtime is touched in exactly one place (ARCHITECTURE.md, invariant 1).
#[test]
fn runtimes_stay_in_their_modules() {
    let check = |dir: &str, needle: &str, allowed: Option<&str>| {
        let offenders: Vec<String> = sources(dir)
            .into_iter()
            .filter(|(path, text)| {
                text.contains(needle)
                    && !allowed.is_some_and(|allowed| path.to_string_lossy().contains(allowed))
            })
            .map(|(path, _)| path.display().to_string())
            .collect();
        assert!(
            offenders.is_empty(),
            "{needle} used outside {allowed:?}: {offenders:?}"
        );
    };
    check("core/src", "sled::", Some("core/src/store/"));
    check("server/src", "sled::", None);
    check("core/src", "axum::", None);
    check("core/src", "async_nats::", None);
    check("server/src", "async_nats::", None);
    check("core/src", "wasmtime", None);
    check("core/src", "rhai::", Some("core/src/policy/"));
    check("server/src", "rhai::", None);
    check("server/src", "wasmtime::", None);
}

#[test]
fn dependency_edges() {
    let manifest =
        |dir: &str| std::fs::read_to_string(root().join(dir).join("Cargo.toml")).unwrap();
    let server = manifest("server");
    assert!(
        !server.contains("sled"),
        "the server must reach sled only through hcp-core"
    );
    let core = manifest("core");
    for forbidden in ["axum", "tokio", "hyper"] {
        assert!(
            !core.contains(forbidden),
            "the engine must not know about HTTP ({forbidden})"
        );
    }
    let workspace = manifest(".");
    assert!(
        !workspace.contains("name = \"core\""),
        "no package may be named core"
    );
}

/// A released contract is what vendors built against: it never changes. A change goes into a
/// new version folder (`plugins/wit/adapter@1.1.0/`), and this list grows.
#[test]
fn released_wit_is_unchanged() {
    use sha2::Digest as _;
    let released = [
        (
            "plugins/wit/adapter@1.0.0/adapter.wit",
            "4c231d5410472365d4c54bdf9c5b3df1574f0f3bb7d2ea6a3f0bf94cb7c79b9e",
        ),
        (
            "plugins/wit/adapter@1.1.0/adapter.wit",
            "89d18ba7a1e0260ede32cdaecb3129239d3f2297d3754fb514f0703460ed3b21",
        ),
    ];
    for (path, expected) in released {
        let bytes = std::fs::read(root().join(path)).unwrap();
        let actual: String = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        assert_eq!(
            actual, expected,
            "{path} was released and must not change; add a new version folder"
        );
    }
}

/// Two API types under one schema name would make the OpenAPI document describe one of them
/// for both (the later silently replaces the earlier): every type deriving `ToSchema` has its
/// own name, or is given one with `#[schema(as = …)]`. Generic types are named per use.
#[test]
fn api_schema_names_are_unique() {
    let mut names: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for dir in ["core/src", "server/src"] {
        for (path, text) in sources(dir) {
            let lines: Vec<&str> = text.lines().collect();
            for (at, line) in lines.iter().enumerate() {
                if !(line.trim_start().starts_with("#[derive(") && line.contains("ToSchema")) {
                    continue;
                }
                let mut renamed = None;
                for next in &lines[at + 1..] {
                    let next = next.trim_start();
                    if let Some(rest) = next.strip_prefix("#[schema(as = ") {
                        renamed = rest.split(')').next().map(str::to_string);
                    }
                    let declared = ["pub struct ", "pub enum ", "struct ", "enum "]
                        .iter()
                        .find_map(|prefix| next.strip_prefix(prefix));
                    if let Some(declared) = declared {
                        let name: String = declared
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        if !declared[name.len()..].starts_with('<') {
                            names
                                .entry(renamed.unwrap_or(name))
                                .or_default()
                                .push(path.display().to_string());
                        }
                        break;
                    }
                }
            }
        }
    }
    let shared: Vec<String> = names
        .into_iter()
        .filter(|(_, places)| places.len() > 1)
        .map(|(name, places)| format!("{name}: {places:?}"))
        .collect();
    assert!(
        shared.is_empty(),
        "schema names used twice:\n{}",
        shared.join("\n")
    );
}
