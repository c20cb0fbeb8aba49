//! The reference adapters through the real host: each loads and decodes its own samples, and
//! their records arrive in the engine's types with the right fields; damaged payloads come back
//! as the sender's fault with the adapter's own reason.

mod common;

use chrono::{DateTime, Utc};
use common::{Frame, HX_PJ200, host, load, rating_frame};
use hcp_core::model::{
    ApplicantType, CaseStatus, Channel, EvaluatorInput, HeartbeatInput, Level, RatingInput,
};
use hcp_plugins::{
    Ack, CallError, Decoded, HostOptions, Limits, PluginHost, PluginKind, UplinkBatch, UplinkRating,
};

fn at(text: &str) -> DateTime<Utc> {
    match DateTime::parse_from_rfc3339(text) {
        Ok(instant) => instant.with_timezone(&Utc),
        Err(error) => panic!("bad test instant {text}: {error}"),
    }
}

/// "2 ratings, 1 heartbeat": what a payload decoded to, in one comparable line.
fn summary(items: &[Decoded]) -> String {
    let count = |wanted: fn(&Decoded) -> bool| items.iter().filter(|item| wanted(item)).count();
    let parts = [
        (count(|item| matches!(item, Decoded::Rating(_))), "rating"),
        (count(|item| matches!(item, Decoded::Service(_))), "service"),
        (
            count(|item| matches!(item, Decoded::Heartbeat(_))),
            "heartbeat",
        ),
    ];
    parts
        .iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, what)| format!("{count} {what}{}", if *count == 1 { "" } else { "s" }))
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn every_reference_adapter_loads_and_handles_its_own_samples() {
    // name, kind, what each sample decodes to (uplink: accepted/refused counts)
    let table: [(&str, PluginKind, &[&str]); 4] = [
        (
            "hx-pj200",
            PluginKind::HallDevice,
            &["1 rating", "1 rating", "1 rating, 1 heartbeat"],
        ),
        (
            "zw-e7",
            PluginKind::HallDevice,
            &["2 ratings, 1 heartbeat", "1 rating", "1 heartbeat"],
        ),
        ("yth-feed", PluginKind::BusinessSystem, &["3 services"]),
        (
            "henan-uplink",
            PluginKind::Uplink,
            &["3 accepted, 0 refused", "2 accepted, 2 refused"],
        ),
    ];
    for (name, kind, expected) in table {
        let plugin = load(host(), name);
        assert_eq!(plugin.info.id, name);
        assert_eq!(plugin.kind(), kind, "{name}");
        // The uplink adapter is built against contract 1.1 (rectifications, reconciliation).
        let abi = if name == "henan-uplink" {
            "1.1.0"
        } else {
            "1.0.0"
        };
        assert_eq!(plugin.info.abi, abi, "{name}");
        assert_eq!(plugin.sha256.len(), 64, "{name}");
        let found: Vec<String> = plugin
            .samples()
            .iter()
            .map(|sample| {
                if kind.is_inbound() {
                    match plugin.decode(&sample.content_type, &sample.payload) {
                        Ok(items) => summary(&items),
                        Err(error) => format!("error: {error}"),
                    }
                } else {
                    match plugin.parse_ack(200, &sample.payload) {
                        Ok(ack) => {
                            format!(
                                "{} accepted, {} refused",
                                ack.accepted.len(),
                                ack.refused.len()
                            )
                        }
                        Err(error) => format!("error: {error}"),
                    }
                }
            })
            .collect();
        assert_eq!(found, expected, "{name}");
    }
}

#[test]
fn hx_pj200_frames_become_ratings_and_heartbeats() {
    let plugin = load(host(), "hx-pj200");
    let mut payload = Frame::Rating {
        sequence: 1043,
        device: "HX-410421-0007",
        unix_time: 1_773_109_500, // 2026-03-10 10:25:00 China time
        level: 5,
        indicators: &["501", "510"],
        comment: "窗口工作人员离岗二十分钟",
        project_no: "41042120260310000131",
        task_code: "11410421005343519X4000117005000",
        service_number: 2,
        staff: "S410421-0003",
        real_name: true,
        phone: "13800000000",
    }
    .encode();
    payload.extend(
        Frame::Heartbeat {
            sequence: 1044,
            device: "HX-410421-0007",
            unix_time: 1_773_111_000,
            ratings_total: 5821,
            firmware: "PJ200-1.4.2",
        }
        .encode(),
    );

    let decoded = plugin.decode(HX_PJ200, &payload);
    let expected = vec![
        Decoded::Rating(RatingInput {
            event_id: "HX-410421-0007-1043".to_owned(),
            project_no: "41042120260310000131".to_owned(),
            service_number: 2,
            assess_number: 1,
            task_code: "11410421005343519X4000117005000".to_owned(),
            // Left for the engine to fill from the device registry.
            department: String::new(),
            area_code: String::new(),
            service_name: None,
            window: None,
            staff: Some("S410421-0003".to_owned()),
            device: Some("HX-410421-0007".to_owned()),
            level: Level::VeryDissatisfied,
            channel: Channel::HallDevice,
            indicators: vec!["501".to_owned(), "510".to_owned()],
            text: Some("窗口工作人员离岗二十分钟".to_owned()),
            evaluator: EvaluatorInput {
                real_name: true,
                applicant_type: ApplicantType::NaturalPerson,
                name: None,
                phone: Some("13800000000".to_owned()),
                id_number: None,
            },
            rated_at: at("2026-03-10T10:25:00+08:00"),
        }),
        Decoded::Heartbeat(HeartbeatInput {
            device: "HX-410421-0007".to_owned(),
            sent_at: at("2026-03-10T02:50:00Z"),
            sequence: 1044,
            ratings_total: 5821,
            firmware: Some("PJ200-1.4.2".to_owned()),
        }),
    ];
    assert_eq!(decoded, Ok(expected));
}

#[test]
fn damaged_hx_pj200_payloads_are_the_senders_fault_with_the_adapters_reason() {
    let plugin = load(host(), "hx-pj200");
    let good = rating_frame(7);
    let mut flipped = good.clone();
    flipped[40] ^= 0x01; // inside the project number
    let mut second_bad_magic = good.clone();
    second_bad_magic.extend(rating_frame(8));
    second_bad_magic[good.len()] = 0x5A;
    let unknown_type = {
        let mut frame = good.clone();
        frame[3] = 3;
        let end = frame.len() - 2;
        let crc = common::crc16_ccitt_false(&frame[2..end]);
        frame[end..].copy_from_slice(&crc.to_be_bytes());
        frame
    };
    let second_frame_reason = format!(
        "malformed payload: frame 2 at byte {}: wrong magic 0x5a5a, expected 0xa55a",
        good.len()
    );
    // name, content type, payload, what it decodes to or the start of the error
    type Case<'a> = (&'a str, &'a str, Vec<u8>, Result<&'a str, &'a str>);
    let cases: Vec<Case> = vec![
        (
            "empty payload",
            HX_PJ200,
            Vec::new(),
            Err("malformed payload: payload is empty"),
        ),
        (
            "flipped byte",
            HX_PJ200,
            flipped,
            Err("malformed payload: frame 1 at byte 0: bad crc: expected 0x"),
        ),
        (
            "truncated",
            HX_PJ200,
            good[..12].to_vec(),
            Err(
                "malformed payload: frame 1 at byte 0: truncated at byte offset 9: device id needs 14 bytes",
            ),
        ),
        (
            "second frame's magic",
            HX_PJ200,
            second_bad_magic,
            Err(second_frame_reason.as_str()),
        ),
        (
            "unknown frame type",
            HX_PJ200,
            unknown_type,
            Err("unsupported: frame 1 at byte 0: unknown frame type 3"),
        ),
        (
            "another content type",
            "application/json",
            good.clone(),
            Err("unsupported: content type \"application/json\" is not supported"),
        ),
        (
            "content type parameters are ignored",
            "application/vnd.hx-pj200; charset=binary",
            good,
            Ok("1 rating"),
        ),
    ];
    for (name, content_type, payload, expected) in cases {
        let result = plugin.decode(content_type, &payload);
        if let Err(error) = &result {
            assert!(!error.is_plugin_fault(), "{name}: {error}");
        }
        let found = result
            .map(|items| summary(&items))
            .map_err(|error| error.to_string());
        match (&found, expected) {
            (Ok(found), Ok(expected)) => assert_eq!(found, expected, "{name}"),
            (Err(found), Err(expected)) => {
                assert!(found.starts_with(expected), "{name}: {found}")
            }
            _ => panic!("{name}: expected {expected:?}, found {found:?}"),
        }
    }
}

#[test]
fn zw_e7_ratings_carry_china_time_as_utc() {
    let plugin = load(host(), "zw-e7");
    let payload = r#"{"deviceSn":"D410402-002","records":[{"recId":7,"evalTime":"2026-03-10 10:31:07","score":"4","tags":["510"],"remark":"跑了两趟","bizNo":"41040220260310000066","itemCode":"11410402MB1A23456X4000117004000","serviceNo":1}]}"#.as_bytes();
    let decoded = plugin.decode("application/json; charset=utf-8", payload);
    let Ok([Decoded::Rating(rating)]) = decoded.as_deref() else {
        panic!("expected one rating, got {decoded:?}");
    };
    assert_eq!(rating.event_id, "D410402-002-7");
    assert_eq!(rating.level, Level::Dissatisfied);
    assert_eq!(rating.rated_at, at("2026-03-10T02:31:07Z"));
    assert_eq!(rating.indicators, ["510"]);
    assert_eq!(rating.department, "");

    let bad_score = br#"{"deviceSn":"D1","records":[{"recId":1,"evalTime":"2026-03-10 10:31:07","score":9,"bizNo":"P","itemCode":"T","serviceNo":1}]}"#;
    match plugin.decode("application/json", bad_score) {
        Err(CallError::Malformed(reason)) => {
            assert!(
                reason.starts_with("records[0]: unknown score \"9\""),
                "{reason}"
            )
        }
        other => panic!("expected malformed, got {other:?}"),
    }
}

#[test]
fn yth_feed_service_events_arrive_whole() {
    let plugin = load(host(), "yth-feed");
    let Some(sample) = plugin.samples().first() else {
        panic!("yth-feed ships no sample");
    };
    let decoded = plugin.decode(&sample.content_type, &sample.payload);
    let Ok(items) = decoded else {
        panic!("sample refused: {decoded:?}");
    };
    let Some(Decoded::Service(first)) = items.first() else {
        panic!("expected service events, got {items:?}");
    };
    assert_eq!(first.project_no, "41042120260310000123");
    assert_eq!(first.department, "11410421005343519X");
    assert_eq!(first.area_code, "410421");
    assert_eq!(first.service_number, 1);
    assert_eq!(first.service_name, "申报");
    assert_eq!(first.status, CaseStatus::Accepted);
    assert_eq!(first.window.as_deref(), Some("W410421-01"));
    assert_eq!(first.applicant_type, ApplicantType::NaturalPerson);
    assert_eq!(first.occurred_at, at("2026-03-10T09:30:00+08:00"));
}

fn uplink_rating(id: u64, department: &str) -> UplinkRating {
    UplinkRating {
        id,
        rating: RatingInput {
            event_id: format!("E{id}"),
            project_no: "41042120260310000131".to_owned(),
            service_number: 1,
            assess_number: 1,
            task_code: "11410421005343519X4000117005000".to_owned(),
            department: department.to_owned(),
            area_code: "410421".to_owned(),
            service_name: Some("申报".to_owned()),
            window: None,
            staff: None,
            device: None,
            level: Level::VeryDissatisfied,
            channel: Channel::HallDevice,
            indicators: vec!["501".to_owned(), "510".to_owned()],
            text: Some("窗口工作人员离岗二十分钟".to_owned()),
            evaluator: EvaluatorInput::default(),
            rated_at: at("2026-03-10T02:25:00Z"),
        },
        received_at: at("2026-03-10T02:25:03Z"),
    }
}

#[test]
fn henan_uplink_encodes_batches_in_the_provinces_terms() {
    let plugin = load(host(), "henan-uplink");
    let batch = UplinkBatch {
        number: 20_260_310,
        ratings: vec![uplink_rating(1006, "11410421005343519X")],
    };
    let request = match plugin.encode(&batch) {
        Ok(request) => request,
        Err(error) => panic!("encode failed: {error}"),
    };
    assert_eq!(request.content_type, "application/json; charset=utf-8");
    let body: serde_json::Value = match serde_json::from_slice(&request.body) {
        Ok(body) => body,
        Err(error) => panic!("body is not json: {error}"),
    };
    let record = &body["records"][0];
    assert_eq!(body["batchNo"], "20260310");
    assert_eq!(record["platformId"], "1006");
    // The province counts levels the other way round: 1 = 非常不满意.
    assert_eq!(record["satisfaction"], "1");
    assert_eq!(record["evalDetail"], "501,510");
    // Instants reach the adapter in China time.
    assert_eq!(record["assessTime"], "2026-03-10 10:25:00");

    // A rating without its department cannot be reported: the adapter refuses the batch,
    // which is a judgement about the data, not a plugin fault.
    let refused = plugin.encode(&UplinkBatch {
        number: 1,
        ratings: vec![uplink_rating(1007, "")],
    });
    match refused {
        Err(error @ CallError::Unsupported(_)) => {
            assert!(!error.is_plugin_fault());
            assert!(error.to_string().contains("1007"), "{error}");
        }
        other => panic!("expected unsupported, got {other:?}"),
    }
}

#[test]
fn henan_uplink_reads_the_provinces_answers() {
    let plugin = load(host(), "henan-uplink");
    let body = r#"{"code":"200","accepted":["1004",1005],"refused":[{"id":"1006","reason":"事项编码不存在"}]}"#.as_bytes();
    assert_eq!(
        plugin.parse_ack(200, body),
        Ok(Ack {
            accepted: vec![1004, 1005],
            refused: vec![(1006, "事项编码不存在".to_owned())],
        })
    );
    match plugin.parse_ack(500, r#"{"code":"500","msg":"系统繁忙"}"#.as_bytes()) {
        Err(CallError::Malformed(reason)) => {
            assert!(
                reason.starts_with("province answered http status 500"),
                "{reason}"
            )
        }
        other => panic!("expected malformed, got {other:?}"),
    }
}

#[test]
fn calls_of_the_other_world_are_refused_before_running() {
    let uplink = load(host(), "henan-uplink");
    let device = load(host(), "zw-e7");
    let refused = [
        uplink.decode("application/json", b"{}").err(),
        device
            .encode(&UplinkBatch {
                number: 1,
                ratings: Vec::new(),
            })
            .err(),
        device.parse_ack(200, b"{}").err(),
    ];
    let messages: Vec<String> = refused
        .iter()
        .map(|error| error.as_ref().map(ToString::to_string).unwrap_or_default())
        .collect();
    assert_eq!(
        messages,
        [
            "plugin henan-uplink is a uplink adapter and cannot decode",
            "plugin zw-e7 is a hall_device adapter and cannot encode",
            "plugin zw-e7 is a hall_device adapter and cannot parse acknowledgements",
        ]
    );
}

#[test]
fn oversized_input_is_refused_before_the_plugin_runs() {
    let host = match PluginHost::new(HostOptions {
        limits: Limits {
            max_input_bytes: 1024,
            ..Limits::default()
        },
        ..HostOptions::default()
    }) {
        Ok(host) => host,
        Err(error) => panic!("host does not start: {error}"),
    };
    let plugin = load(&host, "hx-pj200");
    let payload: Vec<u8> = (0..20).flat_map(rating_frame).collect();
    assert!(payload.len() > 1024);
    assert_eq!(
        plugin.decode(HX_PJ200, &payload),
        Err(CallError::InputTooLarge { limit: 1024 })
    );
    let batch = UplinkBatch {
        number: 1,
        ratings: (0..20)
            .map(|id| uplink_rating(id, "11410421005343519X"))
            .collect(),
    };
    assert_eq!(
        load(&host, "henan-uplink").encode(&batch),
        Err(CallError::InputTooLarge { limit: 1024 })
    );
}
