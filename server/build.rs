//! Embeds the web console: every file of `console/dist` (built by `make console`: `npm ci` and
//! `vite build`) becomes a static asset of the `hcp` binary, with a gzip copy when that is
//! smaller. Without a built console the table is empty and `/console/` says how to build it.

// A build script reports a broken build by panicking, with the reason.
#![allow(clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let dist = manifest.join("../console/dist");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    println!("cargo::rerun-if-changed={}", dist.display());
    println!("cargo::rerun-if-changed=build.rs");
    let mut paths = Vec::new();
    files(&dist, &mut paths);
    paths.sort();
    let mut table = String::from("&[\n");
    for (index, path) in paths.iter().enumerate() {
        let name = path
            .strip_prefix(&dist)
            .expect("under dist")
            .to_string_lossy()
            .replace('\\', "/");
        let bytes = std::fs::read(path).expect("a console asset is readable");
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&bytes).expect("gzip in memory");
        let gzip = encoder.finish().expect("gzip in memory");
        let gzip_expr = if gzip.len() + 64 < bytes.len() {
            let gz_path = out_dir.join(format!("console-{index}.gz"));
            std::fs::write(&gz_path, &gzip).expect("OUT_DIR is writable");
            format!("Some(include_bytes!({:?}))", gz_path.display().to_string())
        } else {
            "None".to_string()
        };
        table.push_str(&format!(
            "    ({name:?}, include_bytes!({:?}), {gzip_expr}),\n",
            path.display().to_string()
        ));
    }
    table.push_str("]\n");
    std::fs::write(out_dir.join("console_assets.rs"), table).expect("OUT_DIR is writable");
}
