//! The checks every policy script's returned map goes through: `{"hook", "input", "output"}`
//! read strictly as that hook's output for that input on the shipped holiday tables, accepted
//! or refused with a reason, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let Ok(case) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    let Some(hook) = case["hook"]
        .as_str()
        .and_then(|name| name.parse::<hcp_core::policy::Hook>().ok())
    else {
        return;
    };
    let _ =
        hcp_core::policy::check_output(hook, &case["input"], case["output"].clone(), calendar());
});

fn calendar() -> &'static hcp_core::calendar::Calendar {
    static CALENDAR: std::sync::OnceLock<hcp_core::calendar::Calendar> = std::sync::OnceLock::new();
    CALENDAR.get_or_init(|| {
        hcp_core::calendar::Calendar::from_toml_tables([
            ("2025.toml", include_str!("../../rules/calendar/2025.toml")),
            ("2026.toml", include_str!("../../rules/calendar/2026.toml")),
        ])
        .and_then(|calendar| calendar.with_provisional())
        .unwrap_or_else(|error| panic!("the shipped tables: {error}"))
    })
}
