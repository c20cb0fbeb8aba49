//! Cost of plugin calls against native code: per-payload decode through the `zw-e7` adapter
//! versus decoding the same JSON natively with serde_json into the same records, the cost of a
//! fresh instance, the fuel a 4 KiB upload takes, and compile versus cached load time.
//! Run with `cargo bench -p hcp-plugins --bench decode` after `make adapters`.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, Utc};
use hcp_core::model::{ApplicantType, Channel, EvaluatorInput, Level, RatingInput};
use hcp_plugins::{CallError, HostOptions, Limits, PluginHost};
use serde::Deserialize;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let adapters = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/adapters");
    let zw_e7 = std::fs::read(adapters.join("zw-e7.wasm")).map_err(|error| {
        format!(
            "{}: {error} (run `make adapters` first)",
            adapters.display()
        )
    })?;
    let hx_pj200 = std::fs::read(adapters.join("hx-pj200.wasm"))?;
    let cache = tempfile::tempdir()?;

    println!("== load");
    for (name, bytes) in [("zw-e7", &zw_e7), ("hx-pj200", &hx_pj200)] {
        let compile = median(5, || {
            let host = PluginHost::new(HostOptions::default())?;
            let started = Instant::now();
            host.load(bytes, None)?;
            Ok(started.elapsed())
        })?;
        let options = HostOptions {
            cache_dir: Some(cache.path().to_owned()),
            ..HostOptions::default()
        };
        PluginHost::new(options.clone())?.load(bytes, None)?;
        let cached = median(5, || {
            let host = PluginHost::new(options.clone())?;
            let started = Instant::now();
            let plugin = host.load(bytes, None)?;
            assert!(plugin.compiled_from_cache());
            Ok(started.elapsed())
        })?;
        println!(
            "{name:>9}: load with compile {compile:?}, from cache {cached:?} (both run describe and every sample)"
        );
    }

    let host = PluginHost::new(HostOptions::default())?;
    let plugin = host.load(&zw_e7, None)?;
    let payloads = [
        ("status-only 102 B", status_only()),
        ("2 ratings 0.7 KiB", upload(2)),
        ("16 ratings 4 KiB", upload(16)),
        ("100 ratings 24 KiB", upload(100)),
        ("9999 ratings 2.4 MiB", upload(9999)),
    ];

    println!("== decode (zw-e7, per payload, fresh instance each)");
    for (name, payload) in &payloads {
        let items = plugin.decode("application/json", payload)?.len();
        let wasm = per_call(|| {
            black_box(plugin.decode("application/json", black_box(payload))?);
            Ok(())
        })?;
        let native = per_call(|| {
            black_box(native_decode(black_box(payload))?);
            Ok(())
        })?;
        println!(
            "{name:>22} ({:>7} B, {items:>5} records): plugin {wasm:>10?}, native {native:>10?}, ratio {:.1}x",
            payload.len(),
            wasm.as_secs_f64() / native.as_secs_f64()
        );
    }

    println!("== instance");
    let unsupported = per_call(|| match plugin.decode("text/plain", b"x") {
        Err(CallError::Unsupported(_)) => Ok(()),
        other => Err(format!("expected unsupported, got {other:?}").into()),
    })?;
    println!("fresh instance + a call that refuses the content type: {unsupported:?}");

    println!(
        "== fuel (deterministic; the default limit is {})",
        Limits::default().fuel
    );
    // Loading runs the samples under the same limits, so that is the least fuel measurable.
    let floor = fuel_needed(&zw_e7, None)?;
    println!("{:>22}: {floor} fuel", "load (samples)");
    for (name, payload) in &payloads {
        let fuel = fuel_needed(&zw_e7, Some(payload))?;
        let fuel = if fuel == floor {
            format!("at most {fuel}")
        } else {
            fuel.to_string()
        };
        println!("{name:>22}: {fuel} fuel ({} B)", payload.len());
    }
    Ok(())
}

type Result<T, E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

fn median(runs: usize, mut measure: impl FnMut() -> Result<Duration>) -> Result<Duration> {
    let mut times = (0..runs).map(|_| measure()).collect::<Result<Vec<_>>>()?;
    times.sort();
    Ok(times[runs / 2])
}

/// Mean time per call over about half a second, after a warm-up.
fn per_call(mut call: impl FnMut() -> Result<()>) -> Result<Duration> {
    for _ in 0..100 {
        call()?;
    }
    let mut calls = 0u32;
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(500) {
        for _ in 0..50 {
            call()?;
        }
        calls += 50;
    }
    Ok(started.elapsed() / calls)
}

/// The least fuel that loads the plugin and decodes `payload`, by bisection (fuel use is
/// deterministic).
fn fuel_needed(component: &[u8], payload: Option<&[u8]>) -> Result<u64> {
    let cache = tempfile::tempdir()?;
    let decodes = |fuel: u64| -> Result<bool> {
        let host = PluginHost::new(HostOptions {
            limits: Limits {
                fuel,
                ..Limits::default()
            },
            cache_dir: Some(cache.path().to_owned()),
            ..HostOptions::default()
        })?;
        // Loading runs the samples under the same fuel: too little fuel refuses the plugin.
        let Ok(plugin) = host.load(component, None) else {
            return Ok(false);
        };
        let Some(payload) = payload else {
            return Ok(true);
        };
        match plugin.decode("application/json", payload) {
            Ok(_) => Ok(true),
            Err(CallError::OutOfFuel { .. }) => Ok(false),
            Err(other) => Err(other.into()),
        }
    };
    let (mut low, mut high) = (1u64, Limits::default().fuel);
    while low < high {
        let middle = low + (high - low) / 2;
        if decodes(middle)? {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    Ok(low)
}

fn status_only() -> Vec<u8> {
    br#"{"deviceSn":"D410402-002","status":{"time":"2026-03-10 10:15:00","total":1234,"fw":"2.1.7","seq":88}}"#.to_vec()
}

/// A ZW-E7 upload of `records` ratings (one in four a 差评 with tags and a comment) and a status.
fn upload(records: usize) -> Vec<u8> {
    let records: Vec<String> = (0..records)
        .map(|index| {
            if index % 4 == 3 {
                format!(
                    r#"{{"recId":"E7-20260310-{index:06}","evalTime":"2026-03-10 10:31:07","score":4,"tags":["510","517"],"remark":"材料清单与窗口要求不一致，跑了两趟","bizNo":"4104022026031000{index:04}","itemCode":"11410402MB1A23456X4000117004000","serviceNo":1,"staffNo":"S410402-0017","realName":true,"mobile":"13800000000"}}"#
                )
            } else {
                format!(
                    r#"{{"recId":"E7-20260310-{index:06}","evalTime":"2026-03-10 10:05:00","score":1,"tags":[],"bizNo":"4104022026031000{index:04}","itemCode":"11410402MB1A23456X4000117004000","serviceNo":1,"staffNo":"S410402-0031","realName":false}}"#
                )
            }
        })
        .collect();
    format!(
        r#"{{"deviceSn":"D410402-002","records":[{}],"status":{{"time":"2026-03-10 10:15:00","total":1234,"fw":"2.1.7","seq":88}}}}"#,
        records.join(",")
    )
    .into_bytes()
}

// The native comparison: the adapter's own message structs (zw-e7/src/message.rs), read with
// serde_json and mapped to the same canonical records, so both sides do the same work.

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Message {
    device_sn: String,
    #[serde(default)]
    records: Vec<Record>,
    status: Option<Status>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Code {
    Number(u64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    rec_id: Code,
    eval_time: String,
    score: Code,
    #[serde(default)]
    tags: Vec<String>,
    remark: Option<String>,
    biz_no: String,
    item_code: String,
    service_no: u64,
    staff_no: Option<String>,
    #[serde(default)]
    real_name: bool,
    mobile: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Status {
    time: String,
    total: u64,
    fw: Option<String>,
    seq: Option<u64>,
}

fn china_time(text: &str) -> Result<DateTime<Utc>> {
    let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")?;
    Ok(local
        .and_local_timezone(hcp_core::calendar::china_tz())
        .single()
        .ok_or("ambiguous time")?
        .with_timezone(&Utc))
}

fn native_decode(payload: &[u8]) -> Result<(Vec<RatingInput>, Option<DateTime<Utc>>)> {
    let message: Message = serde_json::from_slice(payload)?;
    let device = message.device_sn.trim().to_owned();
    let ratings = message
        .records
        .into_iter()
        .map(|record| {
            let rec_id = match record.rec_id {
                Code::Number(number) => number.to_string(),
                Code::Text(text) => text,
            };
            let score = match record.score {
                Code::Number(number) => number,
                Code::Text(text) => text.parse()?,
            };
            let level = match score {
                1 => Level::VerySatisfied,
                2 => Level::Satisfied,
                3 => Level::BasicallySatisfied,
                4 => Level::Dissatisfied,
                5 => Level::VeryDissatisfied,
                _ => return Err("unknown score".into()),
            };
            Ok(RatingInput {
                event_id: format!("{device}-{rec_id}"),
                project_no: record.biz_no,
                service_number: u8::try_from(record.service_no)?,
                assess_number: 1,
                task_code: record.item_code,
                department: String::new(),
                area_code: String::new(),
                service_name: None,
                window: None,
                staff: record.staff_no,
                device: Some(device.clone()),
                level,
                channel: Channel::HallDevice,
                indicators: record.tags,
                text: record.remark,
                evaluator: EvaluatorInput {
                    real_name: record.real_name,
                    applicant_type: ApplicantType::NaturalPerson,
                    name: None,
                    phone: record.mobile,
                    id_number: None,
                },
                rated_at: china_time(&record.eval_time)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let sent_at = message
        .status
        .map(|status| china_time(&status.time))
        .transpose()?;
    Ok((ratings, sent_at))
}
