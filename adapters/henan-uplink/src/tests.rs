//! Tests of the 河南 uplink: request snapshots, the default-rating rule, rectification records,
//! answers, and the reconciliation query and its answer.

use hcp_adapter_sdk::v1_1::types::{ApplicantType, Channel, DecodeError, Evaluator, Level, Rating};
use hcp_adapter_sdk::v1_1::uplink::{
    Ack, CallbackResult, DayCount, DispositionKind, RecordBatch, RecordKind, Rectification,
    RectificationLevel, RectificationOutcome, UplinkBatch, UplinkRating, UplinkRecord,
    UplinkRectification,
};

use crate::SAMPLES;
use crate::ack::parse_answer;
use crate::counts;
use crate::request::{REQUEST_CONTENT_TYPE, encode_batch, encode_records};

fn bad_review() -> UplinkRating {
    UplinkRating {
        id: 1006,
        rating: Rating {
            event_id: "HX-410421-0007-1042".to_owned(),
            project_no: "41042120260310000131".to_owned(),
            service_number: 1,
            assess_number: 1,
            task_code: "11410421005343519X4000117005000".to_owned(),
            department: Some("11410421005343519X".to_owned()),
            area_code: Some("410421".to_owned()),
            window: Some("W410421-01".to_owned()),
            staff: Some("S410421-0012".to_owned()),
            device: Some("HX-410421-0007".to_owned()),
            service_name: Some("申报".to_owned()),
            level: Level::VeryDissatisfied,
            channel: Channel::HallDevice,
            indicators: vec!["501".to_owned(), "510".to_owned()],
            text: Some("窗口工作人员离岗二十分钟".to_owned()),
            evaluator: Evaluator {
                real_name: true,
                applicant_type: ApplicantType::NaturalPerson,
                name: Some("张三".to_owned()),
                phone: Some("13800000000".to_owned()),
                id_number: Some("410421199001011234".to_owned()),
            },
            // UTC on purpose: assessTime must come out in China time.
            rated_at: "2026-03-10T02:25:00Z".to_owned(),
        },
        received_at: "2026-03-10T10:25:01+08:00".to_owned(),
    }
}

fn default_rating() -> UplinkRating {
    let mut uplink = bad_review();
    uplink.id = 1007;
    uplink.rating.level = Level::Satisfied;
    uplink.rating.channel = Channel::SystemDefault;
    uplink.rating.indicators.clear();
    uplink.rating.text = None;
    uplink.rating.service_name = None;
    uplink.rating.evaluator = Evaluator {
        real_name: false,
        applicant_type: ApplicantType::EnterpriseLegalPerson,
        name: None,
        phone: None,
        id_number: None,
    };
    uplink.rating.rated_at = "2026-03-19T00:00:00+08:00".to_owned();
    uplink
}

fn encode(ratings: Vec<UplinkRating>) -> Result<String, String> {
    let request = encode_batch(&UplinkBatch {
        number: 20_260_310,
        ratings,
    })?;
    assert_eq!(request.content_type, REQUEST_CONTENT_TYPE);
    Ok(String::from_utf8(request.body).unwrap())
}

#[test]
fn a_batch_encodes_with_the_provincial_field_names() {
    assert_eq!(
        encode(vec![bad_review(), default_rating()]).unwrap(),
        concat!(
            r#"{"batchNo":"20260310","records":["#,
            r#"{"platformId":"1006","projectNo":"41042120260310000131","serviceNumber":1,"#,
            r#""assessNumber":1,"taskCode":"11410421005343519X4000117005000","#,
            r#""deptCode":"11410421005343519X","areaCode":"410421","pf":"4","satisfaction":"1","#,
            r#""evalDetail":"501,510","writingEvaluation":"窗口工作人员离岗二十分钟","#,
            r#""assessTime":"2026-03-10 10:25:00","userProp":"1","serviceName":"申报","#,
            r#""userName":"张三","mobile":"13800000000"},"#,
            r#"{"platformId":"1007","projectNo":"41042120260310000131","serviceNumber":1,"#,
            r#""assessNumber":1,"taskCode":"11410421005343519X4000117005000","#,
            r#""deptCode":"11410421005343519X","areaCode":"410421","defaultEval":"1","#,
            r#""satisfaction":"4","assessTime":"2026-03-19 00:00:00","userProp":"2"}"#,
            r#"]}"#
        )
    );
}

#[test]
fn satisfaction_uses_the_provincial_order() {
    for (level, code) in [
        (Level::VeryDissatisfied, "1"),
        (Level::Dissatisfied, "2"),
        (Level::BasicallySatisfied, "3"),
        (Level::Satisfied, "4"),
        (Level::VerySatisfied, "5"),
    ] {
        let mut uplink = bad_review();
        uplink.rating.level = level;
        let json = encode(vec![uplink]).unwrap();
        assert!(
            json.contains(&format!(r#""satisfaction":"{code}""#)),
            "{json}"
        );
    }
}

#[test]
fn channels_use_the_national_pf_codes() {
    for (channel, pf) in [
        (Channel::Pc, "1"),
        (Channel::Mobile, "2"),
        (Channel::QrCode, "3"),
        (Channel::HallDevice, "4"),
        (Channel::HallTerminal, "5"),
        (Channel::Phone, "6"),
        (Channel::Sms, "7"),
    ] {
        let mut uplink = bad_review();
        uplink.rating.channel = channel;
        let json = encode(vec![uplink]).unwrap();
        assert!(
            json.contains(&format!(r#""pf":"{pf}","satisfaction""#)),
            "{json}"
        );
        assert!(!json.contains("defaultEval"));
    }
}

#[test]
fn the_id_number_is_never_sent() {
    let json = encode(vec![bad_review()]).unwrap();
    assert!(!json.contains("410421199001011234"));
}

#[test]
fn encoding_is_deterministic() {
    assert_eq!(
        encode(vec![bad_review(), default_rating()]),
        encode(vec![bad_review(), default_rating()])
    );
}

#[test]
fn a_rating_the_province_cannot_take_refuses_the_batch() {
    let mut no_department = default_rating();
    no_department.rating.department = None;
    assert_eq!(
        encode(vec![bad_review(), no_department]),
        Err(
            "rating 1007: department (deptCode) is missing, and the province requires it"
                .to_owned()
        )
    );
    let mut blank_area = bad_review();
    blank_area.rating.area_code = Some(" ".to_owned());
    assert_eq!(
        encode(vec![blank_area]),
        Err(
            "rating 1006: area code (areaCode) is missing, and the province requires it".to_owned()
        )
    );
    let mut bad_time = bad_review();
    bad_time.rating.rated_at = "2026-03-10 10:25".to_owned();
    assert_eq!(
        encode(vec![bad_time]),
        Err("rating 1006: rated-at: invalid rfc 3339 time \"2026-03-10 10:25\": expected yyyy-MM-ddTHH:mm:ss[.fraction](Z|+HH:mm|-HH:mm)".to_owned())
    );
    let mut comma = bad_review();
    comma.rating.indicators = vec!["501,510".to_owned()];
    assert_eq!(
        encode(vec![comma]),
        Err("rating 1006: indicator code \"501,510\" contains a comma, which evalDetail uses as separator".to_owned())
    );
    assert_eq!(
        encode(vec![]),
        Err("batch 20260310 has no ratings".to_owned())
    );
}

#[test]
fn every_sample_is_a_valid_answer() {
    assert_eq!(
        parse_answer(200, SAMPLES[0].1),
        Ok(Ack {
            accepted: vec![1001, 1002, 1003],
            refused: vec![],
        })
    );
    assert_eq!(
        parse_answer(200, SAMPLES[1].1),
        Ok(Ack {
            accepted: vec![1004, 1005],
            refused: vec![
                (
                    1006,
                    "重复评价：办件编号、服务序号、评价次数已存在".to_owned()
                ),
                (1007, "事项编码不存在".to_owned()),
            ],
        })
    );
}

fn malformed(status: u16, body: &str) -> String {
    match parse_answer(status, body.as_bytes()) {
        Err(DecodeError::Malformed(reason)) => reason,
        other => panic!("expected malformed, got {other:?}"),
    }
}

#[test]
fn errors_carry_the_provinces_message() {
    assert_eq!(
        malformed(500, r#"{"code":"500","msg":"系统繁忙，请稍后重试"}"#),
        "province answered http status 500: code \"500\": 系统繁忙，请稍后重试"
    );
    assert_eq!(
        malformed(401, r#"{"message":"签名验证失败"}"#),
        "province answered http status 401: 签名验证失败"
    );
    assert_eq!(
        malformed(502, "<html>Bad Gateway</html>"),
        "province answered http status 502: body \"<html>Bad Gateway</html>\""
    );
    assert_eq!(
        malformed(503, ""),
        "province answered http status 503: empty body"
    );
    assert_eq!(
        malformed(200, r#"{"code":"E1003","msg":"批次号重复"}"#),
        "province refused the request with code \"E1003\": 批次号重复"
    );
    assert_eq!(
        malformed(200, r#"{"code":400}"#),
        "province refused the request with code \"400\": no message"
    );
    let long = "x".repeat(300);
    assert_eq!(
        malformed(504, &long),
        format!(
            "province answered http status 504: body \"{}…\"",
            "x".repeat(200)
        )
    );
}

#[test]
fn answers_must_name_platform_ids_once() {
    assert_eq!(
        malformed(200, r#"{"code":"200","accepted":["1001","abc"]}"#),
        "accepted[1]: id \"abc\" is not a platform id (an unsigned integer)"
    );
    assert_eq!(
        malformed(
            200,
            r#"{"code":200,"accepted":[1],"refused":[{"id":"1","reason":"x"}]}"#
        ),
        "platform id 1 is both accepted and refused"
    );
    assert!(
        malformed(200, "ok")
            .starts_with("invalid answer json: expected value at line 1 column 1: body \"ok\"")
    );
    assert_eq!(
        parse_answer(200, br#"{"code":200}"#),
        Ok(Ack {
            accepted: vec![],
            refused: vec![]
        })
    );
}

fn rectification() -> UplinkRectification {
    UplinkRectification {
        id: 2048,
        rating_id: 1006,
        rectification: Rectification {
            project_no: "41042120260310000131".to_owned(),
            service_number: 1,
            assess_number: 1,
            task_code: "11410421005343519X4000117005000".to_owned(),
            department: "11410421005343519X".to_owned(),
            area_code: "410421".to_owned(),
            order_id: 1007,
            unit: "11410421005343519X".to_owned(),
            outcome: RectificationOutcome::Resolved,
            disposition: Some(DispositionKind::Immediate),
            action: "窗口增设引导员，离岗须报备".to_owned(),
            rectify_due: Some("2026-03-17T16:00:00Z".to_owned()),
            rectified_at: Some("2026-03-11T09:30:00+08:00".to_owned()),
            feedback_at: Some("2026-03-11T10:00:00+08:00".to_owned()),
            satisfaction: Some(RectificationLevel::Satisfied),
            callback: Some(CallbackResult::Reached),
            reopened: 0,
            closed_at: "2026-03-12T03:00:00Z".to_owned(),
        },
    }
}

fn encode_mixed(records: Vec<UplinkRecord>) -> Result<String, String> {
    let request = encode_records(&RecordBatch {
        number: 12,
        records,
    })?;
    assert_eq!(request.content_type, REQUEST_CONTENT_TYPE);
    Ok(String::from_utf8(request.body).unwrap())
}

#[test]
fn rectifications_follow_the_ratings_with_their_own_fields() {
    assert_eq!(
        encode_mixed(vec![
            UplinkRecord::Rectification(rectification()),
            UplinkRecord::Rating(default_rating()),
        ])
        .unwrap(),
        concat!(
            r#"{"batchNo":"12","records":["#,
            r#"{"platformId":"1007","projectNo":"41042120260310000131","serviceNumber":1,"#,
            r#""assessNumber":1,"taskCode":"11410421005343519X4000117005000","#,
            r#""deptCode":"11410421005343519X","areaCode":"410421","defaultEval":"1","#,
            r#""satisfaction":"4","assessTime":"2026-03-19 00:00:00","userProp":"2"}"#,
            r#"],"rectifications":["#,
            r#"{"platformId":"2048","ratingPlatformId":"1006","#,
            r#""projectNo":"41042120260310000131","serviceNumber":1,"assessNumber":1,"#,
            r#""taskCode":"11410421005343519X4000117005000","deptCode":"11410421005343519X","#,
            r#""areaCode":"410421","orderNo":"1007","handleUnit":"11410421005343519X","#,
            r#""result":"1","disposalType":"1","rectifyContent":"窗口增设引导员，离岗须报备","#,
            r#""rectifyDeadline":"2026-03-18 00:00:00","rectifyTime":"2026-03-11 09:30:00","#,
            r#""onTime":"1","feedbackTime":"2026-03-11 10:00:00","rectifySatisfaction":"1","#,
            r#""callbackResult":"1","reopenTimes":0,"closeTime":"2026-03-12 11:00:00"}"#,
            r#"]}"#
        )
    );
}

#[test]
fn a_ratings_only_batch_encodes_as_contract_1_0_did() {
    let ratings = vec![bad_review(), default_rating()];
    let old = encode_batch(&UplinkBatch {
        number: 7,
        ratings: ratings.clone(),
    })
    .unwrap();
    let new = encode_records(&RecordBatch {
        number: 7,
        records: ratings.into_iter().map(UplinkRecord::Rating).collect(),
    })
    .unwrap();
    assert_eq!(old, new);
}

#[test]
fn an_upheld_appeal_and_a_late_rectification_say_so() {
    let mut upheld = rectification();
    upheld.rectification.outcome = RectificationOutcome::AppealUpheld;
    upheld.rectification.disposition = None;
    upheld.rectification.rectified_at = None;
    upheld.rectification.feedback_at = None;
    upheld.rectification.satisfaction = None;
    upheld.rectification.callback = None;
    upheld.rectification.action = String::new();
    let json = encode_mixed(vec![UplinkRecord::Rectification(upheld)]).unwrap();
    assert!(json.contains(r#""result":"2","rectifyDeadline""#), "{json}");
    for absent in [
        "disposalType",
        "rectifyContent",
        "rectifyTime",
        "onTime",
        "rectifySatisfaction",
        "callbackResult",
    ] {
        assert!(!json.contains(absent), "{absent} in {json}");
    }

    let mut late = rectification();
    late.rectification.disposition = Some(DispositionKind::Scheduled);
    late.rectification.rectified_at = Some("2026-03-18T00:00:00.5+08:00".to_owned());
    late.rectification.reopened = 1;
    late.rectification.satisfaction = Some(RectificationLevel::BasicallySatisfied);
    late.rectification.callback = Some(CallbackResult::SmsAfterUnreachable);
    let json = encode_mixed(vec![UplinkRecord::Rectification(late)]).unwrap();
    for present in [
        r#""disposalType":"2""#,
        r#""onTime":"0""#,
        r#""rectifySatisfaction":"2""#,
        r#""callbackResult":"2""#,
        r#""reopenTimes":1"#,
    ] {
        assert!(json.contains(present), "{present} not in {json}");
    }
}

#[test]
fn a_rectification_the_province_cannot_take_refuses_the_batch() {
    let mut no_area = rectification();
    no_area.rectification.area_code = String::new();
    assert_eq!(
        encode_mixed(vec![
            UplinkRecord::Rating(bad_review()),
            UplinkRecord::Rectification(no_area)
        ]),
        Err(
            "rectification 2048: area code (areaCode) is missing, and the province requires it"
                .to_owned()
        )
    );
    let mut bad_close = rectification();
    bad_close.rectification.closed_at = "yesterday".to_owned();
    assert!(
        encode_mixed(vec![UplinkRecord::Rectification(bad_close)])
            .is_err_and(|error| error.starts_with("rectification 2048: closed-at: "))
    );
    assert_eq!(
        encode_mixed(vec![]),
        Err("batch 12 has no records".to_owned())
    );
}

#[test]
fn the_count_query_names_a_calendar_day() {
    let request = counts::query("2026-03-10").unwrap();
    assert_eq!(request.body, br#"{"statDate":"2026-03-10"}"#);
    assert_eq!(request.content_type, REQUEST_CONTENT_TYPE);
    for wrong in ["2026-02-30", "20260310", "2026-3-10", "2026-03-10 ", "x"] {
        assert_eq!(
            counts::query(wrong).map(|_| ()),
            Err(format!("day {wrong:?} is not a calendar day (yyyy-MM-dd)"))
        );
    }
}

#[test]
fn count_answers_map_back_to_channels_and_levels() {
    let answer = r#"{"code":"200","msg":"成功","statDate":"2026-03-10",
        "ratings":[{"areaCode":"410421","pf":"4","satisfaction":"5","count":12},
                   {"areaCode":"410421001","defaultEval":"1","satisfaction":4,"count":"3"}],
        "rectifications":[{"areaCode":"410421","count":2}]}"#;
    assert_eq!(
        counts::parse_answer(200, answer.as_bytes()),
        Ok(vec![
            DayCount {
                kind: RecordKind::Rating,
                area_code: "410421".to_owned(),
                channel: Some(Channel::HallDevice),
                level: Some(Level::VerySatisfied),
                count: 12,
            },
            DayCount {
                kind: RecordKind::Rating,
                area_code: "410421001".to_owned(),
                channel: Some(Channel::SystemDefault),
                level: Some(Level::Satisfied),
                count: 3,
            },
            DayCount {
                kind: RecordKind::Rectification,
                area_code: "410421".to_owned(),
                channel: None,
                level: None,
                count: 2,
            },
        ])
    );
    assert_eq!(
        counts::parse_answer(200, br#"{"code":"200"}"#),
        Ok(Vec::new())
    );
}

#[test]
fn count_answers_are_checked() {
    let fails = |status: u16, body: &str| match counts::parse_answer(status, body.as_bytes()) {
        Err(DecodeError::Malformed(reason)) => reason,
        other => panic!("expected malformed, got {other:?}"),
    };
    assert_eq!(
        fails(500, r#"{"code":"500","msg":"系统繁忙"}"#),
        "province answered http status 500: code \"500\": 系统繁忙"
    );
    assert_eq!(
        fails(200, r#"{"code":"E2001","msg":"日期超出范围"}"#),
        "province refused the count query with code \"E2001\": 日期超出范围"
    );
    assert_eq!(
        fails(
            200,
            r#"{"code":"200","ratings":[{"areaCode":"410421","pf":"9","satisfaction":"5","count":1}]}"#
        ),
        "ratings[0]: pf \"9\" is not a national channel code (1 PC, 2 移动端, 3 二维码, 4 大厅平板, 5 大厅其他终端, 6 电话, 7 短信)"
    );
    assert_eq!(
        fails(
            200,
            r#"{"code":"200","ratings":[{"areaCode":"410421","pf":"4","defaultEval":"1","satisfaction":"5","count":1}]}"#
        ),
        "ratings[0]: exactly one of pf and defaultEval \"1\" must be given"
    );
    assert_eq!(
        fails(
            200,
            r#"{"code":"200","ratings":[{"areaCode":"410421","pf":"4","satisfaction":"0","count":1}]}"#
        ),
        "ratings[0]: satisfaction \"0\" is not 1=非常不满意 … 5=非常满意"
    );
    assert_eq!(
        fails(
            200,
            r#"{"code":"200","rectifications":[{"areaCode":"","count":1}]}"#
        ),
        "rectifications[0]: areaCode is empty"
    );
    assert_eq!(
        fails(
            200,
            r#"{"code":"200","rectifications":[{"areaCode":"410421","count":-1}]}"#
        ),
        "rectifications[0]: count \"-1\" is not an unsigned integer"
    );
}
