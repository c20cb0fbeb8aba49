//! Tests of the ZW-E7 decoder: the shipped samples field by field, then each error.

use hcp_adapter_sdk::types::{
    ApplicantType, Channel, DecodeError, Evaluator, Heartbeat, Inbound, Level, Rating,
};

use crate::{CONTENT_TYPE, SAMPLES, decode};

fn decode_ok(json: &str) -> Vec<Inbound> {
    decode(CONTENT_TYPE, json.as_bytes()).unwrap()
}

fn sample(name: &str) -> Vec<Inbound> {
    let (_, payload) = SAMPLES.iter().find(|(file, _)| *file == name).unwrap();
    decode(CONTENT_TYPE, payload).unwrap()
}

fn malformed(json: &str) -> String {
    match decode(CONTENT_TYPE, json.as_bytes()) {
        Err(DecodeError::Malformed(reason)) => reason,
        other => panic!("expected malformed, got {other:?}"),
    }
}

/// A one-record upload with `record` spliced in after the required fields.
fn one_record(extra: &str) -> String {
    format!(
        r#"{{"deviceSn":"D1","records":[{{"recId":"R1","evalTime":"2026-03-10 10:05:00",
            "bizNo":"P1","itemCode":"T1","serviceNo":1{extra}}}]}}"#
    )
}

fn level_of(score: &str) -> Result<Level, String> {
    let json = one_record(&format!(r#","score":{score}"#));
    match decode(CONTENT_TYPE, json.as_bytes()) {
        Ok(items) => match items.as_slice() {
            [Inbound::Rating(rating)] => Ok(rating.level),
            other => panic!("expected one rating, got {other:?}"),
        },
        Err(DecodeError::Malformed(reason)) => Err(reason),
        Err(other) => panic!("expected malformed, got {other:?}"),
    }
}

#[test]
fn every_sample_decodes() {
    for (name, payload) in SAMPLES {
        assert!(!decode(CONTENT_TYPE, payload).unwrap().is_empty(), "{name}");
    }
}

#[test]
fn ratings_and_status_sample() {
    let items = sample("ratings-and-status.json");
    let [
        Inbound::Rating(first),
        Inbound::Rating(second),
        Inbound::Heartbeat(heartbeat),
    ] = items.as_slice()
    else {
        panic!("expected two ratings and a heartbeat, got {items:?}");
    };
    assert_eq!(first.event_id, "D410402-002-E7-20260310-000318");
    assert_eq!(first.level, Level::VerySatisfied);
    assert_eq!(first.rated_at, "2026-03-10T10:05:00+08:00");
    assert_eq!(first.indicators, Vec::<String>::new());
    assert_eq!(first.text, None);
    assert_eq!(second.level, Level::Satisfied);
    assert_eq!(second.service_number, 2);
    assert!(!second.evaluator.real_name);
    assert_eq!(
        heartbeat,
        &Heartbeat {
            device: "D410402-002".to_owned(),
            sent_at: "2026-03-10T10:15:00+08:00".to_owned(),
            sequence: 88,
            ratings_total: 1234,
            firmware: Some("2.1.7".to_owned()),
        }
    );
}

#[test]
fn bad_review_sample_field_by_field() {
    assert_eq!(
        sample("bad-review.json"),
        [Inbound::Rating(Rating {
            event_id: "D410402-002-E7-20260310-000320".to_owned(),
            project_no: "41040220260310000066".to_owned(),
            service_number: 1,
            assess_number: 1,
            task_code: "11410402MB1A23456X4000117004000".to_owned(),
            department: None,
            area_code: None,
            window: None,
            staff: Some("S410402-0017".to_owned()),
            device: Some("D410402-002".to_owned()),
            service_name: None,
            level: Level::Dissatisfied,
            channel: Channel::HallDevice,
            indicators: vec!["510".to_owned(), "517".to_owned()],
            text: Some("材料清单与窗口要求不一致，跑了两趟".to_owned()),
            evaluator: Evaluator {
                real_name: true,
                applicant_type: ApplicantType::NaturalPerson,
                name: None,
                phone: Some("13800000000".to_owned()),
                id_number: None,
            },
            rated_at: "2026-03-10T10:31:07+08:00".to_owned(),
        })]
    );
}

#[test]
fn status_only_is_a_heartbeat() {
    let items = sample("status-only.json");
    assert!(
        matches!(items.as_slice(), [Inbound::Heartbeat(heartbeat)] if heartbeat.sequence == 89)
    );
    let items = decode_ok(r#"{"deviceSn":"D1","status":{"time":"2026-03-10 11:00:00","total":0}}"#);
    assert!(matches!(
        items.as_slice(),
        [Inbound::Heartbeat(Heartbeat {
            sequence: 0,
            firmware: None,
            ..
        })]
    ));
}

#[test]
fn scores_follow_gbt39046_order() {
    assert_eq!(level_of("1"), Ok(Level::VerySatisfied));
    assert_eq!(level_of("2"), Ok(Level::Satisfied));
    assert_eq!(level_of("3"), Ok(Level::BasicallySatisfied));
    assert_eq!(level_of("4"), Ok(Level::Dissatisfied));
    assert_eq!(level_of("5"), Ok(Level::VeryDissatisfied));
    assert_eq!(level_of(r#""5""#), Ok(Level::VeryDissatisfied));
}

#[test]
fn unknown_scores_name_the_record() {
    assert_eq!(
        level_of("0"),
        Err("records[0]: unknown score \"0\" (expected 1=非常满意 … 5=非常不满意)".to_owned())
    );
    assert_eq!(
        level_of("6"),
        Err("records[0]: unknown score \"6\" (expected 1=非常满意 … 5=非常不满意)".to_owned())
    );
    // The second record of three is the bad one; nothing is returned (all or nothing).
    let record = |score: u8| {
        format!(
            r#"{{"recId":"R{score}","evalTime":"2026-03-10 10:05:00","score":{score},
                 "bizNo":"P1","itemCode":"T1","serviceNo":1}}"#
        )
    };
    let json = format!(
        r#"{{"deviceSn":"D1","records":[{},{},{}]}}"#,
        record(1),
        record(9),
        record(2)
    );
    assert_eq!(
        malformed(&json),
        "records[1]: unknown score \"9\" (expected 1=非常满意 … 5=非常不满意)"
    );
}

#[test]
fn a_bad_review_without_tags_or_remark_is_still_decoded() {
    let items = decode_ok(&one_record(r#","score":5,"remark":"  ""#));
    let [Inbound::Rating(rating)] = items.as_slice() else {
        panic!("expected one rating, got {items:?}");
    };
    assert_eq!(rating.level, Level::VeryDissatisfied);
    assert!(rating.indicators.is_empty() && rating.text.is_none());
}

#[test]
fn field_errors_say_where() {
    let json = r#"{"deviceSn":"D1","records":[{"recId":"R1","evalTime":"2026-02-30 10:00:00","score":1,"bizNo":"P1","itemCode":"T1","serviceNo":1}]}"#;
    assert_eq!(
        malformed(json),
        "records[0]: evalTime: invalid china time \"2026-02-30 10:00:00\": day 30 out of range for 2026-02 (1 to 28)"
    );
    let json = r#"{"deviceSn":"D1","records":[{"recId":"R1","evalTime":"2026-03-10 10:00:00","score":1,"bizNo":"P1","itemCode":"T1","serviceNo":300}]}"#;
    assert_eq!(
        malformed(json),
        "records[0]: serviceNo 300 out of range 0 to 255"
    );
    let json = r#"{"deviceSn":"D1","records":[{"recId":"R1","score":1,"bizNo":"P1","itemCode":"T1","serviceNo":1}]}"#;
    assert_eq!(
        malformed(json),
        "invalid zw-e7 json: missing field `evalTime` at line 1 column 95"
    );
    assert_eq!(
        malformed(r#"{"deviceSn":" ","records":[]}"#),
        "deviceSn is empty"
    );
    assert_eq!(
        malformed(r#"{"deviceSn":"D1","status":{"time":"10:00","total":1}}"#),
        "status.time: invalid china time \"10:00\": expected yyyy-MM-dd HH:mm:ss"
    );
    assert!(malformed("not json").starts_with("invalid zw-e7 json: expected ident"));
}

#[test]
fn record_ids_may_be_numbers() {
    let json = r#"{"deviceSn":"D1","records":[{"recId":318,"evalTime":"2026-03-10 10:05:00","score":1,"bizNo":"P1","itemCode":"T1","serviceNo":1}]}"#;
    let items = decode_ok(json);
    assert!(matches!(items.as_slice(), [Inbound::Rating(rating)] if rating.event_id == "D1-318"));
}

#[test]
fn other_content_types_are_unsupported() {
    assert!(matches!(
        decode("text/plain", b"{}"),
        Err(DecodeError::Unsupported(reason)) if reason.contains("expected application/json")
    ));
    assert!(decode("application/json; charset=utf-8", br#"{"deviceSn":"D1"}"#).is_ok());
}
