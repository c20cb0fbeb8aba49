//! Tests of the 一体化平台 feed decoder: the shipped sample field by field, codes as strings
//! and numbers, and each error.

use hcp_adapter_sdk::types::{ApplicantType, CaseStatus, DecodeError, Inbound, ServiceEvent};

use crate::{CONTENT_TYPE, SAMPLE, decode};

fn events(json: &[u8]) -> Vec<ServiceEvent> {
    decode(CONTENT_TYPE, json)
        .unwrap()
        .into_iter()
        .map(|item| match item {
            Inbound::Service(event) => event,
            other => panic!("expected a service event, got {other:?}"),
        })
        .collect()
}

fn malformed(json: &str) -> String {
    match decode(CONTENT_TYPE, json.as_bytes()) {
        Err(DecodeError::Malformed(reason)) => reason,
        other => panic!("expected malformed, got {other:?}"),
    }
}

/// A one-entry delivery whose entry has the required fields plus `fields` (which win: serde
/// would refuse a duplicate key, so the defaults are only added when absent).
fn one_entry(fields: &[(&str, &str)]) -> String {
    let defaults = [
        ("projectNo", r#""P1""#),
        ("projectName", r#""案件""#),
        ("taskCode", r#""T1""#),
        ("deptCode", r#""D1""#),
        ("areaCode", r#""410421""#),
        ("proStatus", r#""2""#),
        ("acceptDate", r#""2026-03-10 09:30:00""#),
        ("serviceNumber", "1"),
        ("serviceName", r#""申报""#),
        ("userProp", r#""1""#),
    ];
    let mut members: Vec<String> = fields
        .iter()
        .map(|(key, value)| format!(r#""{key}":{value}"#))
        .collect();
    for (key, value) in defaults {
        if !fields.iter().any(|(field, _)| *field == key) {
            members.push(format!(r#""{key}":{value}"#));
        }
    }
    format!(r#"{{"data":[{{{}}}]}}"#, members.join(","))
}

#[test]
fn the_sample_decodes_field_by_field() {
    let events = events(SAMPLE);
    assert_eq!(events.len(), 3);
    assert_eq!(
        events[0],
        ServiceEvent {
            event_id: "yth-41042120260310000123-1-2".to_owned(),
            project_no: "41042120260310000123".to_owned(),
            project_name: "张三申请个体工商户设立登记".to_owned(),
            task_code: "11410421005343519X4000117005000".to_owned(),
            department: "11410421005343519X".to_owned(),
            area_code: "410421".to_owned(),
            service_number: 1,
            service_name: "申报".to_owned(),
            status: CaseStatus::Accepted,
            occurred_at: "2026-03-10T09:30:00+08:00".to_owned(),
            window: Some("W410421-01".to_owned()),
            staff: Some("S410421-0001".to_owned()),
            applicant_type: ApplicantType::NaturalPerson,
        }
    );
    // Completed: occurred at resultDate; codes written as strings.
    assert_eq!(events[1].event_id, "yth-41042120260309000088-3-3");
    assert_eq!(events[1].status, CaseStatus::Completed);
    assert_eq!(events[1].occurred_at, "2026-03-10T16:45:00+08:00");
    assert_eq!(
        events[1].applicant_type,
        ApplicantType::EnterpriseLegalPerson
    );
    // Codes written as numbers; no window, no staff.
    assert_eq!(events[2].event_id, "yth-41042120260310000131-1-1");
    assert_eq!(events[2].status, CaseStatus::Submitted);
    assert_eq!(events[2].area_code, "410421");
    assert_eq!(
        (events[2].window.as_deref(), events[2].staff.as_deref()),
        (None, None)
    );
}

#[test]
fn codes_as_strings_and_numbers_are_the_same_event() {
    let as_strings = events(
        one_entry(&[
            ("proStatus", r#""2""#),
            ("serviceNumber", r#""02""#),
            ("userProp", r#""9""#),
        ])
        .as_bytes(),
    );
    let as_numbers = events(
        one_entry(&[
            ("proStatus", "2"),
            ("serviceNumber", "2"),
            ("userProp", "9"),
        ])
        .as_bytes(),
    );
    assert_eq!(as_strings, as_numbers);
    assert_eq!(as_numbers[0].event_id, "yth-P1-2-2");
    assert_eq!(
        as_numbers[0].applicant_type,
        ApplicantType::OtherOrganisation
    );
}

#[test]
fn every_status_and_applicant_code_maps() {
    for (code, status) in [
        ("1", CaseStatus::Submitted),
        ("2", CaseStatus::Accepted),
        ("3", CaseStatus::Completed),
    ] {
        let events = events(one_entry(&[("proStatus", code)]).as_bytes());
        assert_eq!(events[0].status, status);
    }
    for (code, applicant) in [
        ("1", ApplicantType::NaturalPerson),
        ("2", ApplicantType::EnterpriseLegalPerson),
        ("3", ApplicantType::InstitutionLegalPerson),
        ("4", ApplicantType::SocialOrganisationLegalPerson),
        ("5", ApplicantType::NonLegalPersonEnterprise),
        ("6", ApplicantType::AdministrativeOrgan),
        ("9", ApplicantType::OtherOrganisation),
    ] {
        let events = events(one_entry(&[("userProp", code)]).as_bytes());
        assert_eq!(events[0].applicant_type, applicant);
    }
}

#[test]
fn occurred_at_uses_result_date_only_for_completed_cases() {
    let result_date = ("resultDate", r#""2026-03-11 08:00:00""#);
    let accepted = events(one_entry(&[("proStatus", "2"), result_date]).as_bytes());
    assert_eq!(accepted[0].occurred_at, "2026-03-10T09:30:00+08:00");
    let completed = events(one_entry(&[("proStatus", "3"), result_date]).as_bytes());
    assert_eq!(completed[0].occurred_at, "2026-03-11T08:00:00+08:00");
    let completed_without =
        events(one_entry(&[("proStatus", "3"), ("resultDate", r#""""#)]).as_bytes());
    assert_eq!(
        completed_without[0].occurred_at,
        "2026-03-10T09:30:00+08:00"
    );
}

#[test]
fn errors_name_the_entry_and_the_field() {
    assert_eq!(
        malformed(&one_entry(&[("proStatus", "4")])),
        "data[0]: unknown proStatus \"4\" (expected 1 待受理, 2 已受理, 3 已办结)"
    );
    assert_eq!(
        malformed(&one_entry(&[("userProp", r#""7""#)])),
        "data[0]: unknown userProp \"7\" (expected 1 自然人, 2 企业法人, 3 事业法人, 4 社会组织法人, 5 非法人企业, 6 行政机关, 9 其他组织)"
    );
    assert_eq!(
        malformed(&one_entry(&[("serviceNumber", "256")])),
        "data[0]: serviceNumber \"256\" is not a number from 0 to 255"
    );
    assert_eq!(
        malformed(&one_entry(&[("acceptDate", r#""2026/03/10 09:30""#)])),
        "data[0]: acceptDate: invalid china time \"2026/03/10 09:30\": expected yyyy-MM-dd HH:mm:ss"
    );
    assert_eq!(
        malformed(&one_entry(&[
            ("proStatus", "3"),
            ("resultDate", r#""2026-03-32 08:00:00""#)
        ])),
        "data[0]: resultDate: invalid china time \"2026-03-32 08:00:00\": day 32 out of range for 2026-03 (1 to 31)"
    );
    assert_eq!(
        malformed(&one_entry(&[("projectNo", r#""""#)])),
        "data[0]: projectNo is empty"
    );
    assert!(malformed(&one_entry(&[("proStatus", "true")])).starts_with(
        "invalid feed json: invalid type: boolean `true`, expected a code as a string or an integer"
    ));
    assert!(malformed(r#"{"rows":[]}"#).starts_with("invalid feed json: missing field `data`"));
    // The second entry is the bad one; nothing is returned (all or nothing).
    let good = one_entry(&[]);
    let entry = &good[9..good.len() - 2];
    let json = format!(
        r#"{{"data":[{entry},{}]}}"#,
        &one_entry(&[("userProp", "0")])[9..].trim_end_matches("]}")
    );
    assert!(
        malformed(&json).starts_with("data[1]: unknown userProp \"0\""),
        "{json}"
    );
}

#[test]
fn other_content_types_are_unsupported() {
    assert!(matches!(
        decode("application/xml", b"<data/>"),
        Err(DecodeError::Unsupported(reason)) if reason.contains("\"application/xml\"")
    ));
}
