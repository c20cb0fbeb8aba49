//! The demo's provincial platform: a simulated one in this process, with the uplink pointed at it.

use anyhow::Context as _;

use crate::app::Platform;
use crate::app::config::UplinkConfig;
use crate::app::uplink::Uplink;

/// `hcp demo` without an `[uplink]` of its own: a simulated provincial platform in this
/// process (its data under `<data_dir>/province-sim`), the reference 河南 adapter copied into
/// the plugins folder, and the uplink pointed at them, so ratings visibly go up. Returns the
/// line to print.
pub async fn simulated(
    platform: &mut Platform,
    config: &crate::app::config::Config,
) -> anyhow::Result<Option<String>> {
    if config.uplink.enabled {
        return Ok(None);
    }
    let built = config.demo.adapters_dir.join("henan-uplink.wasm");
    if !built.exists() {
        return Ok(Some(format!(
            "  uplink: adapter henan-uplink not built ({}): run `make adapters`",
            built.display()
        )));
    }
    std::fs::create_dir_all(&platform.plugins_dir)?;
    let installed = platform.plugins_dir.join("henan-uplink.wasm");
    if std::fs::read(&installed).ok() != std::fs::read(&built).ok() {
        std::fs::copy(&built, &installed)
            .with_context(|| format!("installing {}", built.display()))?;
    }
    let province = super::province_sim::spawn_local(&config.data_dir.join("province-sim")).await?;
    let uplink = UplinkConfig {
        enabled: true,
        endpoint: format!("{province}/api/haocp/batch"),
        reconcile_endpoint: format!("{province}/api/haocp/counts"),
        adapter: "henan-uplink".into(),
        interval_secs: 5,
        ..config.uplink.clone()
    };
    platform.uplink = std::sync::Arc::new(Uplink::new(uplink));
    Ok(Some(format!(
        "  uplink: simulated provincial platform at {province} (GET {province}/sim/state); status GET /api/v1/admin/uplink"
    )))
}
