//! Contract 1.1 of the uplink world through the real host: the reference 河南 adapter (built
//! against 1.1) reports rectifications and the province's daily counts; a component built
//! against the released 1.0 contract (`fixtures/henan-uplink-1.0.0.wasm`, the 河南 adapter as
//! shipped before 1.1) still loads and reports ratings, byte for byte as before, and says no
//! to what 1.0 cannot carry.

mod common;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use common::{host, load};
use hcp_core::model::{Channel, EvaluatorInput, Level, RatingInput};
use hcp_core::uplink::{CountKey, DispositionKind, RecordKind, RectificationOutcome};
use hcp_core::workflow::{CallbackResult, RectificationLevel};
use hcp_plugins::{
    CallError, DayCount, Plugin, Rectification, UplinkBatch, UplinkRating, UplinkRecord,
    UplinkRecords, UplinkRectification,
};

fn at(text: &str) -> DateTime<Utc> {
    match DateTime::parse_from_rfc3339(text) {
        Ok(instant) => instant.with_timezone(&Utc),
        Err(error) => panic!("bad test instant {text}: {error}"),
    }
}

fn legacy() -> Arc<Plugin> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/henan-uplink-1.0.0.wasm");
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) => panic!("cannot read {}: {error}", path.display()),
    };
    match host().load(&bytes, None) {
        Ok(plugin) => plugin,
        Err(error) => panic!("the 1.0 component is refused: {error}"),
    }
}

fn rating(id: u64) -> UplinkRating {
    UplinkRating {
        id,
        rating: RatingInput {
            event_id: format!("E{id}"),
            project_no: format!("P{id}"),
            service_number: 1,
            assess_number: 1,
            task_code: "T-QYSL".to_owned(),
            department: "11410421MB0000001X".to_owned(),
            area_code: "410421".to_owned(),
            service_name: None,
            window: None,
            staff: None,
            device: None,
            level: Level::Dissatisfied,
            channel: Channel::QrCode,
            indicators: vec!["510".to_owned()],
            text: None,
            evaluator: EvaluatorInput::default(),
            rated_at: at("2026-03-10T10:25:00+08:00"),
        },
        received_at: at("2026-03-10T10:25:03+08:00"),
    }
}

fn rectification(id: u64, rating_id: u64) -> UplinkRectification {
    UplinkRectification {
        id,
        rating_id,
        rectification: Rectification {
            project_no: format!("P{rating_id}"),
            service_number: 1,
            assess_number: 1,
            task_code: "T-QYSL".to_owned(),
            department: "11410421MB0000001X".to_owned(),
            area_code: "410421".to_owned(),
            order_id: rating_id + 3,
            unit: "11410421MB0000001X".to_owned(),
            outcome: RectificationOutcome::Resolved,
            disposition: Some(DispositionKind::Immediate),
            action: "增设导办员".to_owned(),
            rectify_due: Some(at("2026-03-17T00:00:00+08:00")),
            rectified_at: Some(at("2026-03-11T09:00:00+08:00")),
            feedback_at: Some(at("2026-03-11T10:00:00+08:00")),
            satisfaction: Some(RectificationLevel::Satisfied),
            callback: Some(CallbackResult::Reached),
            reopened: 0,
            closed_at: at("2026-03-12T11:00:00+08:00"),
        },
    }
}

fn json(body: &[u8]) -> serde_json::Value {
    match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(error) => panic!("not json: {error}"),
    }
}

#[test]
fn the_1_1_adapter_reports_rectifications_after_the_ratings() {
    let plugin = load(host(), "henan-uplink");
    assert_eq!(plugin.contract(), "1.1.0");
    assert!(plugin.reports_rectifications());
    let request = match plugin.encode_records(&UplinkRecords {
        number: 42,
        records: vec![
            UplinkRecord::Rectification(rectification(2001, 1006)),
            UplinkRecord::Rating(rating(1010)),
        ],
    }) {
        Ok(request) => request,
        Err(error) => panic!("encode_records failed: {error}"),
    };
    let body = json(&request.body);
    assert_eq!(body["batchNo"], "42");
    assert_eq!(body["records"][0]["platformId"], "1010");
    let record = &body["rectifications"][0];
    assert_eq!(record["platformId"], "2001");
    assert_eq!(record["ratingPlatformId"], "1006");
    assert_eq!(record["orderNo"], "1009");
    assert_eq!(record["result"], "1");
    assert_eq!(record["onTime"], "1");
    assert_eq!(record["rectifyTime"], "2026-03-11 09:00:00");
    assert_eq!(record["closeTime"], "2026-03-12 11:00:00");
}

#[test]
fn the_1_1_adapter_asks_for_and_reads_the_provinces_counts() {
    let plugin = load(host(), "henan-uplink");
    let day = NaiveDate::from_ymd_opt(2026, 3, 10).unwrap_or_default();
    let query = match plugin.count_query(day) {
        Ok(query) => query,
        Err(error) => panic!("count_query failed: {error}"),
    };
    assert_eq!(
        json(&query.body),
        serde_json::json!({"statDate": "2026-03-10"})
    );
    let answer = br#"{"code":"200","ratings":[{"areaCode":"410421","pf":"3","satisfaction":"2","count":4}],"rectifications":[{"areaCode":"410421","count":1}]}"#;
    assert_eq!(
        plugin.parse_counts(200, answer),
        Ok(vec![
            DayCount {
                key: CountKey {
                    kind: RecordKind::Rating,
                    area_code: "410421".to_owned(),
                    channel: Some(Channel::QrCode),
                    level: Some(Level::Dissatisfied),
                },
                count: 4,
            },
            DayCount {
                key: CountKey {
                    kind: RecordKind::Rectification,
                    area_code: "410421".to_owned(),
                    channel: None,
                    level: None,
                },
                count: 1,
            },
        ])
    );
    assert!(matches!(
        plugin.parse_counts(503, b"busy"),
        Err(CallError::Malformed(_))
    ));
}

#[test]
fn a_1_0_adapter_still_reports_ratings_exactly_as_before() {
    let old = legacy();
    let new = load(host(), "henan-uplink");
    assert_eq!(old.info.abi, "1.0.0");
    assert_eq!(old.contract(), "1.0.0");
    assert!(!old.reports_rectifications());
    let ratings = vec![rating(1010), rating(1011)];
    let records = UplinkRecords {
        number: 7,
        records: ratings.iter().cloned().map(UplinkRecord::Rating).collect(),
    };
    let through_old = old.encode_records(&records);
    let through_1_0_call = old.encode(&UplinkBatch { number: 7, ratings });
    let through_new = new.encode_records(&records);
    assert!(through_old.is_ok(), "{through_old:?}");
    assert_eq!(through_old, through_1_0_call);
    // The 1.1 adapter encodes a ratings-only batch to the very same bytes.
    assert_eq!(through_old, through_new);
}

#[test]
fn a_1_0_adapter_says_no_to_what_1_0_cannot_carry() {
    let old = legacy();
    let with_rectification = old.encode_records(&UplinkRecords {
        number: 8,
        records: vec![
            UplinkRecord::Rating(rating(1010)),
            UplinkRecord::Rectification(rectification(2001, 1006)),
        ],
    });
    match with_rectification {
        Err(error @ CallError::Unsupported(_)) => {
            assert!(!error.is_plugin_fault());
            assert_eq!(
                error.to_string(),
                "unsupported: rectification 2001: contract 1.0.0 carries ratings only"
            );
        }
        other => panic!("expected unsupported, got {other:?}"),
    }
    let day = NaiveDate::from_ymd_opt(2026, 3, 10).unwrap_or_default();
    assert!(matches!(
        old.count_query(day),
        Err(CallError::Unsupported(_))
    ));
    assert!(matches!(
        old.parse_counts(200, b"{}"),
        Err(CallError::Unsupported(_))
    ));
}
