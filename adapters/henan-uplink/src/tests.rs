//! Tests of the 河南 uplink: request snapshots, the default-rating rule, and answers.

use hcp_adapter_sdk::types::{ApplicantType, Channel, DecodeError, Evaluator, Level, Rating};
use hcp_adapter_sdk::uplink::{Ack, UplinkBatch, UplinkRating};

use crate::SAMPLES;
use crate::ack::parse_answer;
use crate::request::{REQUEST_CONTENT_TYPE, encode_batch};

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
