//! Loading a rules version: reading the folder, sorting files into hooks, modules and tests,
//! compiling every script with the one engine, checking each hook's contract, and hashing the
//! contents into the version and per-hook versions.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::sync::Arc;

use rhai::{AST, Engine, FnAccess};
use sha2::{Digest, Sha256};

use super::engine::{self, ModuleTable};
use super::testing::{self, TestCase};
use super::{Hook, Limits, PolicyError, county_of, is_county_code};
use crate::calendar::Calendar;

/// One compiled hook script.
pub(super) struct Compiled {
    /// `default` or a county code.
    pub(super) scope: String,
    pub(super) file: String,
    pub(super) ast: AST,
    /// Where `fn <hook>` is declared: errors without a position of their own point here.
    pub(super) fn_position: (usize, usize),
    pub(super) hook_version: String,
}

pub(super) struct Inner {
    pub(super) engine: Engine,
    pub(super) calendar: Arc<Calendar>,
    pub(super) limits: Limits,
    pub(super) files: BTreeMap<String, String>,
    pub(super) version: String,
    /// scope → hook → script. `default` holds all seven.
    pub(super) scopes: BTreeMap<String, BTreeMap<Hook, Compiled>>,
    pub(super) tests: Vec<TestCase>,
}

impl Inner {
    pub(super) fn scope_for(&self, hook: Hook, county: &str) -> &str {
        county_of(county)
            .and_then(|county| self.scopes.get_key_value(county))
            .filter(|(_, hooks)| hooks.contains_key(&hook))
            .map_or("default", |(scope, _)| scope.as_str())
    }

    pub(super) fn compiled(&self, hook: Hook, county: &str) -> Option<&Compiled> {
        self.scopes.get(self.scope_for(hook, county))?.get(&hook)
    }
}

/// What a relative path in a rules version is.
enum Kind {
    Hook { scope: String, hook: Hook },
    Module { import_path: String },
    Tests { scope: String },
}

fn classify(path: &str) -> Result<Kind, PolicyError> {
    let layout = |message: String| PolicyError::Layout {
        file: path.to_owned(),
        message,
    };
    let parts: Vec<&str> = path.split('/').collect();
    let Some(&scope) = parts.first() else {
        return Err(layout("empty path".to_owned()));
    };
    if scope != "default" && !is_county_code(scope) {
        return Err(layout(format!(
            "{scope}/ is not a scope: policies go in default/ or in a folder named by a 6-digit county code such as 410421/"
        )));
    }
    let hook_names = || {
        Hook::ALL
            .iter()
            .map(|h| h.file_name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match parts.as_slice() {
        [_, file] => match file.strip_suffix(".rhai") {
            Some(stem) => match stem.parse::<Hook>() {
                Ok(hook) => Ok(Kind::Hook {
                    scope: scope.to_owned(),
                    hook,
                }),
                Err(_) => Err(layout(format!(
                    "{file} is not a hook file: expected one of {}; shared code goes in {scope}/lib/",
                    hook_names()
                ))),
            },
            None => Err(layout(
                "not a rules file: a scope folder holds <hook>.rhai, lib/*.rhai and tests/*.json"
                    .to_owned(),
            )),
        },
        [_, "lib", file] => {
            let stem = file.strip_suffix(".rhai").unwrap_or(file);
            let import_path = if scope == "default" {
                stem.to_owned()
            } else {
                format!("{scope}/{stem}")
            };
            match engine::import_file(&import_path) {
                Some(expected) if expected == path => Ok(Kind::Module { import_path }),
                _ => Err(layout(
                    "module names are lowercase letters, digits and _, ending in .rhai".to_owned(),
                )),
            }
        }
        [_, "tests", file] if file.ends_with(".json") => Ok(Kind::Tests {
            scope: scope.to_owned(),
        }),
        _ => Err(layout(
            "not a rules file: a scope folder holds <hook>.rhai, lib/*.rhai and tests/*.json"
                .to_owned(),
        )),
    }
}

/// Reads `default/` and every 6-digit county folder: all `.rhai` and `.json` files in them (so
/// that a misplaced one is refused by name, not silently ignored). Other folders are skipped
/// unless they hold `.rhai` files, which is refused as a misnamed scope.
pub(super) fn read_dir(dir: &Path) -> Result<BTreeMap<String, String>, PolicyError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PolicyError::Io { path, source }
    };
    let mut files = BTreeMap::new();
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(io(dir))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(io(dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        let mut found = BTreeMap::new();
        collect(&path, &name, 0, &mut found)?;
        let is_scope = name == "default" || is_county_code(&name);
        if is_scope {
            files.extend(found);
        } else if let Some(file) = found.keys().find(|f| f.ends_with(".rhai")) {
            return Err(PolicyError::Layout {
                file: file.clone(),
                message: format!(
                    "{name}/ is not a scope: policies go in default/ or in a folder named by a 6-digit county code such as 410421/"
                ),
            });
        }
    }
    Ok(files)
}

/// Depth is bounded so that a symlink loop cannot recurse forever.
fn collect(
    dir: &Path,
    prefix: &str,
    depth: usize,
    out: &mut BTreeMap<String, String>,
) -> Result<(), PolicyError> {
    if depth > 3 {
        return Ok(());
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PolicyError::Io { path, source }
    };
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        // Editors' swap and backup files (`.deadline.rhai.swp`, `deadline.rhai~`) are not rules.
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        let relative = format!("{prefix}/{name}");
        if path.is_dir() {
            collect(&path, &relative, depth + 1, out)?;
        } else if name.ends_with(".rhai") || name.ends_with(".json") {
            let text = fs::read_to_string(&path).map_err(|source| {
                if source.kind() == std::io::ErrorKind::InvalidData {
                    // Editors on Chinese Windows default to GBK; say what to do about it.
                    PolicyError::Layout {
                        file: relative.clone(),
                        message: "the file is not UTF-8 text: save it with UTF-8 encoding"
                            .to_owned(),
                    }
                } else {
                    PolicyError::Io {
                        path: path.clone(),
                        source,
                    }
                }
            })?;
            out.insert(relative, text);
        }
    }
    Ok(())
}

pub(super) fn build(
    files: &BTreeMap<String, String>,
    calendar: Arc<Calendar>,
    limits: Limits,
) -> Result<Inner, PolicyError> {
    let mut hooks = Vec::new();
    let mut modules = BTreeMap::new();
    let mut test_files = Vec::new();
    for (path, original) in files {
        // Some Windows editors start UTF-8 files with a byte-order mark, which is no code.
        let text = original.strip_prefix('\u{feff}').unwrap_or(original);
        match classify(path)? {
            Kind::Hook { scope, hook } => hooks.push((scope, hook, path, original, text)),
            Kind::Module { import_path } => {
                modules.insert(import_path, (path.clone(), text.to_owned()));
            }
            Kind::Tests { scope } => test_files.push((scope, path, text)),
        }
    }

    let table = Arc::new(ModuleTable::new(modules, &limits));
    let engine = engine::build_engine(&limits, &calendar, table.clone());
    engine::preload_modules(&engine, &table)?;

    let mut scopes: BTreeMap<String, BTreeMap<Hook, Compiled>> = BTreeMap::new();
    for (scope, hook, file, original, text) in hooks {
        let (ast, used) = engine::compile_hook(&engine, &table, file, text)?;
        let fn_position = check_contract(&ast, hook, file, text)?;
        let mut hashed = vec![(file.as_str(), original.as_str())];
        for module in &used {
            if let Some(module_text) = files.get(module) {
                hashed.push((module.as_str(), module_text.as_str()));
            }
        }
        scopes.entry(scope.clone()).or_default().insert(
            hook,
            Compiled {
                scope,
                file: file.clone(),
                ast,
                fn_position,
                hook_version: hash(hashed),
            },
        );
    }

    let defaults = scopes.get("default");
    if let Some(missing) = Hook::ALL
        .into_iter()
        .find(|hook| !defaults.is_some_and(|d| d.contains_key(hook)))
    {
        return Err(PolicyError::Contract {
            file: format!("default/{}", missing.file_name()),
            hook: missing,
            message:
                "missing: default/ must define every hook, it serves every county without its own"
                    .to_owned(),
        });
    }

    let mut tests = Vec::new();
    for (scope, file, text) in test_files {
        tests.extend(testing::parse(file, text, &scope)?);
    }

    Ok(Inner {
        engine,
        calendar,
        limits,
        version: hash(files.iter().map(|(p, t)| (p.as_str(), t.as_str()))),
        files: files.clone(),
        scopes,
        tests,
    })
}

/// The script must define `fn <hook>(input)`: public, exactly one parameter. This is also what
/// catches the editor's truncate-then-write: the momentarily empty file compiles, but defines
/// nothing, so it never becomes active.
fn check_contract(
    ast: &AST,
    hook: Hook,
    file: &str,
    text: &str,
) -> Result<(usize, usize), PolicyError> {
    let name = hook.name();
    let contract = |message: String| PolicyError::Contract {
        file: file.to_owned(),
        hook,
        message,
    };
    if text.trim().is_empty() {
        return Err(contract(format!(
            "the file is empty, expected fn {name}(input); if an editor is still writing it, the last good version stays active"
        )));
    }
    let defined: Vec<_> = ast.iter_functions().collect();
    let Some(function) = defined.iter().find(|f| f.name == name) else {
        let others: Vec<String> = defined
            .iter()
            .map(|f| format!("{}({})", f.name, f.params.join(", ")))
            .collect();
        let listing = if others.is_empty() {
            "it defines no function".to_owned()
        } else {
            format!("it defines {}", others.join(", "))
        };
        return Err(contract(format!(
            "does not define fn {name}(input); {listing}"
        )));
    };
    if defined.iter().filter(|f| f.name == name).count() > 1 || function.params.len() != 1 {
        let arities: BTreeSet<usize> = defined
            .iter()
            .filter(|f| f.name == name)
            .map(|f| f.params.len())
            .collect();
        return Err(contract(format!(
            "fn {name} must take exactly one parameter (input), found versions taking {arities:?}"
        )));
    }
    if function.access == FnAccess::Private {
        return Err(contract(format!(
            "fn {name} is private; the host cannot call it, remove `private`"
        )));
    }
    Ok(fn_position(text, name))
}

/// Position of `fn <name>` (as a whole word) in the text, or (0, 0).
fn fn_position(text: &str, name: &str) -> (usize, usize) {
    let needle = format!("fn {name}");
    let mut from = 0;
    while let Some(found) = text.get(from..).and_then(|rest| rest.find(&needle)) {
        let offset = from + found;
        let next = text
            .get(offset + needle.len()..)
            .and_then(|rest| rest.chars().next());
        if !next.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            return engine::position_of(text, offset);
        }
        from = offset + needle.len();
    }
    (0, 0)
}

/// sha256 hex over (path, content) pairs in the given (sorted) order, each length-prefixed so
/// that no two different sets can produce the same byte stream.
fn hash<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut hasher = Sha256::new();
    for (path, text) in entries {
        hasher.update((path.len() as u64).to_le_bytes());
        hasher.update(path.as_bytes());
        hasher.update((text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
    }
    hex::encode(hasher.finalize())
}
