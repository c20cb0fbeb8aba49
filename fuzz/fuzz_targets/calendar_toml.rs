//! The holiday-table loader: any TOML text (one table, or two split at a NUL byte) is loaded
//! or refused with a reason, never a panic; a loaded calendar answers for its years.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let tables: Vec<(&str, &str)> = text
        .split('\0')
        .enumerate()
        .map(|(index, table)| (["a.toml", "b.toml", "c.toml"][index.min(2)], table))
        .collect();
    if let Ok(calendar) = hcp_core::calendar::Calendar::from_toml_tables(tables) {
        let first = calendar.first_year();
        if let Some(day) = chrono::NaiveDate::from_yo_opt(first, 1) {
            let _ = calendar.is_working_day(day);
        }
        let _ = calendar.with_provisional();
    }
});
