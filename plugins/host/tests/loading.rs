//! Installation checks that do not depend on a plugin's behaviour: the compiled-code cache and
//! ed25519 signatures.

mod common;

use std::path::{Path, PathBuf};

use common::{HX_PJ200, component, rating_frame};
use ed25519_dalek::{Signer, SigningKey};
use hcp_plugins::{HostOptions, Plugin, PluginError, PluginHost};

fn start(options: HostOptions) -> PluginHost {
    match PluginHost::new(options) {
        Ok(host) => host,
        Err(error) => panic!("host does not start: {error}"),
    }
}

fn cached_host(dir: &Path) -> PluginHost {
    start(HostOptions {
        cache_dir: Some(dir.to_owned()),
        ..HostOptions::default()
    })
}

fn loaded(result: Result<std::sync::Arc<Plugin>, PluginError>) -> std::sync::Arc<Plugin> {
    match result {
        Ok(plugin) => plugin,
        Err(error) => panic!("refused: {error}"),
    }
}

fn temporary_dir() -> tempfile::TempDir {
    match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(error) => panic!("no temporary folder: {error}"),
    }
}

/// The cache folder's files, by name.
fn cache_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(listing) => listing
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .collect(),
        Err(error) => panic!("cannot list {}: {error}", dir.display()),
    };
    files.sort();
    files
}

#[test]
fn a_second_host_loads_compiled_code_from_the_cache() {
    let dir = temporary_dir();
    let bytes = component("hx-pj200");

    let first = loaded(cached_host(dir.path()).load(&bytes, None));
    assert!(!first.compiled_from_cache());
    let files = cache_files(dir.path());
    let names: Vec<String> = files
        .iter()
        .filter_map(|path| {
            path.file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    let code_name = &names[0];
    // <sha256 of the plugin>-<16 hex of the engine's compatibility hash>.cwasm
    assert!(
        code_name.starts_with(&format!("{}-", first.sha256)),
        "{code_name}"
    );
    assert!(code_name.ends_with(".cwasm"), "{code_name}");
    assert_eq!(code_name.len(), 64 + 1 + 16 + ".cwasm".len(), "{code_name}");
    assert_eq!(names[1], format!("{code_name}.sha256"));

    // A new host (a restart) finds it, and the cached code behaves the same.
    let second = loaded(cached_host(dir.path()).load(&bytes, None));
    assert!(second.compiled_from_cache());
    assert_eq!(second.sha256, first.sha256);
    let frame = rating_frame(3);
    assert_eq!(
        second.decode(HX_PJ200, &frame),
        first.decode(HX_PJ200, &frame)
    );
}

#[test]
fn a_damaged_cache_entry_is_compiled_again_and_rewritten() {
    let dir = temporary_dir();
    let bytes = component("zw-e7");
    loaded(cached_host(dir.path()).load(&bytes, None));
    let files = cache_files(dir.path());
    let (code, checksum) = (&files[0], &files[1]);

    /// Damages the entry, given its code and checksum files.
    type Damage = fn(&Path, &Path);
    let damages: [(&str, Damage); 3] = [
        ("flipped byte", |code, _| {
            let Ok(mut bytes) = std::fs::read(code) else {
                panic!("cache entry unreadable");
            };
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0xFF;
            let _ = std::fs::write(code, bytes);
        }),
        ("truncated", |code, _| {
            let Ok(bytes) = std::fs::read(code) else {
                panic!("cache entry unreadable");
            };
            let _ = std::fs::write(code, &bytes[..bytes.len() / 3]);
        }),
        ("checksum missing", |_, checksum| {
            let _ = std::fs::remove_file(checksum);
        }),
    ];
    for (name, damage) in damages {
        damage(code, checksum);
        let recompiled = loaded(cached_host(dir.path()).load(&bytes, None));
        assert!(!recompiled.compiled_from_cache(), "{name}");
        assert!(
            recompiled
                .decode("application/json", br#"{"deviceSn":"D1"}"#)
                .is_ok(),
            "{name}"
        );
        let again = loaded(cached_host(dir.path()).load(&bytes, None));
        assert!(again.compiled_from_cache(), "{name}: entry not rewritten");
    }
}

#[test]
fn precompiled_code_is_not_accepted_as_a_plugin() {
    let dir = temporary_dir();
    let bytes = component("hx-pj200");
    loaded(cached_host(dir.path()).load(&bytes, None));
    let files = cache_files(dir.path());
    let Ok(precompiled) = std::fs::read(&files[0]) else {
        panic!("cache entry unreadable");
    };
    match cached_host(dir.path()).load(&precompiled, None) {
        Err(error @ PluginError::NotAComponent { .. }) => assert!(
            error.to_string().contains("precompiled wasmtime code"),
            "{error}"
        ),
        other => panic!("expected refusal, got {other:?}"),
    }
}

const VENDOR_SECRET: [u8; 32] = [7; 32];
const OTHER_SECRET: [u8; 32] = [8; 32];

fn signing_host(require_signature: bool) -> PluginHost {
    start(HostOptions {
        trusted_keys: vec![
            SigningKey::from_bytes(&VENDOR_SECRET)
                .verifying_key()
                .to_bytes(),
        ],
        require_signature,
        ..HostOptions::default()
    })
}

#[test]
fn signatures_are_checked_against_the_trusted_keys() {
    let bytes = component("hx-pj200");
    let vendor = SigningKey::from_bytes(&VENDOR_SECRET);
    let other = SigningKey::from_bytes(&OTHER_SECRET);
    let good = vendor.sign(&bytes).to_bytes().to_vec();
    let by_another_key = other.sign(&bytes).to_bytes().to_vec();
    let of_other_bytes = vendor.sign(b"something else").to_bytes().to_vec();
    let short = vec![0u8; 10];

    // required?, signature, expected outcome
    let cases: [(bool, Option<&[u8]>, &str); 9] = [
        (true, Some(&good), "installed"),
        (
            true,
            None,
            "plugin is not signed and this platform requires signatures",
        ),
        (
            true,
            Some(&by_another_key),
            "plugin signature is not valid: it does not verify",
        ),
        (
            true,
            Some(&of_other_bytes),
            "plugin signature is not valid: it does not verify",
        ),
        (
            true,
            Some(&short),
            "plugin signature is not valid: an ed25519 signature is 64 raw bytes; this one is 10",
        ),
        // Not required: unsigned plugins install, but a signature given must be good.
        (false, None, "installed"),
        (false, Some(&good), "installed"),
        (
            false,
            Some(&by_another_key),
            "plugin signature is not valid",
        ),
        (false, Some(&short), "plugin signature is not valid"),
    ];
    for (required, signature, expected) in cases {
        let found = match signing_host(required).load(&bytes, signature) {
            Ok(_) => "installed".to_owned(),
            Err(error) => error.to_string(),
        };
        assert!(
            found.starts_with(expected),
            "required {required}, signature {:?}: {found}",
            signature.map(<[u8]>::len)
        );
    }
}

#[test]
fn signature_options_are_checked_at_startup() {
    let cases = [
        (
            HostOptions {
                require_signature: true,
                ..HostOptions::default()
            },
            "invalid plugin host options: require_signature is set but no trusted keys are configured",
        ),
        (
            HostOptions {
                // Not a point on the curve.
                trusted_keys: vec![[2; 32]],
                ..HostOptions::default()
            },
            "invalid plugin host options: trusted key 0 (0202",
        ),
    ];
    for (options, expected) in cases {
        match PluginHost::new(options) {
            Ok(_) => panic!("host started; expected {expected}"),
            Err(error) => assert!(error.to_string().starts_with(expected), "{error}"),
        }
    }
}
