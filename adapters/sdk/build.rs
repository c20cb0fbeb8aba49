//! Encodes the component type of each world (`inbound`, `uplink`) of the contract into
//! `$OUT_DIR/<world>.component-type` (and the 1.1.0 uplink world into
//! `uplink-1.1.component-type`), the bytes that `export_inbound!`/`export_uplink!` place in
//! a `component-type:` custom section so that `wasm-tools component new` knows the world.
//!
//! wit-bindgen emits this section itself, but only from a world's own `export!` macro, and the
//! SDK generates one set of bindings for both worlds (see `src/lib.rs`), so it encodes the two
//! worlds here with the very library wit-bindgen uses.

use std::path::PathBuf;

use wit_component::StringEncoding;
use wit_parser::Resolve;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    // 1.0.0: both worlds; 1.1.0: the uplink world (`v1_1`), whose interface grew.
    let contracts: [(&str, &[&str], &str); 2] = [
        ("adapter@1.0.0", &["inbound", "uplink"], ""),
        ("adapter@1.1.0", &["uplink"], "-1.1"),
    ];
    for (folder, worlds, suffix) in contracts {
        let wit_dir = manifest_dir.join("../../plugins/wit").join(folder);
        println!("cargo::rerun-if-changed={}", wit_dir.display());
        let mut resolve = Resolve::default();
        let (package, _) = resolve.push_dir(&wit_dir)?;
        for world in worlds {
            let world_id = resolve.select_world(&[package], Some(world))?;
            let bytes = wit_component::metadata::encode(
                &resolve,
                world_id,
                StringEncoding::UTF8,
                None,
                false,
            )?;
            std::fs::write(
                out_dir.join(format!("{world}{suffix}.component-type")),
                bytes,
            )?;
        }
    }
    Ok(())
}
