//! Tests of the HX-PJ200 decoder, driven by a small encoder of the same frames (the encoder
//! also produces the files in `samples/`, so README, samples and decoder cannot drift apart).

use hcp_adapter_sdk::types::{
    ApplicantType, Channel, DecodeError, Evaluator, Heartbeat, Inbound, Level, Rating,
};

use crate::frame::{FRAME_HEARTBEAT, FRAME_RATING, MAGIC, VERSION};
use crate::{CONTENT_TYPE, SAMPLES, decode};

struct RatingFrame {
    sequence: u32,
    device: &'static str,
    unix_time: u32,
    level_code: u8,
    indicators: &'static [&'static str],
    comment: &'static str,
    project_no: &'static str,
    task_code: &'static str,
    service_number: u8,
    staff: &'static str,
    real_name: u8,
    phone: &'static str,
}

struct HeartbeatFrame {
    sequence: u32,
    device: &'static str,
    unix_time: u32,
    ratings_total: u32,
    firmware: &'static str,
}

fn short(out: &mut Vec<u8>, text: &str) {
    out.push(u8::try_from(text.len()).unwrap());
    out.extend_from_slice(text.as_bytes());
}

/// Magic, then `covered` (version … end of body), then the CRC of `covered`.
fn seal(covered: Vec<u8>) -> Vec<u8> {
    let mut frame = MAGIC.to_vec();
    frame.extend_from_slice(&covered);
    frame.extend_from_slice(&hcp_adapter_sdk::crc16_ccitt(&covered).to_be_bytes());
    frame
}

fn header(frame_type: u8, sequence: u32, device: &str) -> Vec<u8> {
    let mut out = vec![VERSION, frame_type];
    out.extend_from_slice(&sequence.to_be_bytes());
    short(&mut out, device);
    out
}

fn encode_rating(frame: &RatingFrame) -> Vec<u8> {
    let mut out = header(FRAME_RATING, frame.sequence, frame.device);
    out.extend_from_slice(&frame.unix_time.to_be_bytes());
    out.push(frame.level_code);
    out.push(u8::try_from(frame.indicators.len()).unwrap());
    for indicator in frame.indicators {
        short(&mut out, indicator);
    }
    out.extend_from_slice(&u16::try_from(frame.comment.len()).unwrap().to_be_bytes());
    out.extend_from_slice(frame.comment.as_bytes());
    short(&mut out, frame.project_no);
    short(&mut out, frame.task_code);
    out.push(frame.service_number);
    short(&mut out, frame.staff);
    out.push(frame.real_name);
    short(&mut out, frame.phone);
    seal(out)
}

fn encode_heartbeat(frame: &HeartbeatFrame) -> Vec<u8> {
    let mut out = header(FRAME_HEARTBEAT, frame.sequence, frame.device);
    out.extend_from_slice(&frame.unix_time.to_be_bytes());
    out.extend_from_slice(&frame.ratings_total.to_be_bytes());
    short(&mut out, frame.firmware);
    seal(out)
}

const DEVICE: &str = "HX-410421-0007";
const TASK: &str = "11410421005343519X4000117005000";

/// 2026-03-10 10:05:00 China time.
fn very_satisfied() -> RatingFrame {
    RatingFrame {
        sequence: 1041,
        device: DEVICE,
        unix_time: 1_773_108_300,
        level_code: 1,
        indicators: &[],
        comment: "",
        project_no: "41042120260310000123",
        task_code: TASK,
        service_number: 2,
        staff: "S410421-0012",
        real_name: 0,
        phone: "",
    }
}

/// A real-name 非常不满意 with indicators and a comment, 2026-03-10 10:25:00 China time.
fn bad_review() -> RatingFrame {
    RatingFrame {
        sequence: 1042,
        unix_time: 1_773_109_500,
        level_code: 5,
        indicators: &["501", "510"],
        comment: "窗口工作人员离岗二十分钟，等待时间过长",
        project_no: "41042120260310000131",
        service_number: 1,
        real_name: 1,
        phone: "13800000000",
        ..very_satisfied()
    }
}

/// A 满意 without staff (no queue ticket), 2026-03-10 10:40:00 China time.
fn satisfied_without_staff() -> RatingFrame {
    RatingFrame {
        sequence: 1043,
        unix_time: 1_773_110_400,
        level_code: 2,
        project_no: "41042120260310000140",
        service_number: 1,
        staff: "",
        ..very_satisfied()
    }
}

/// 2026-03-10 10:50:00 China time.
fn heartbeat() -> HeartbeatFrame {
    HeartbeatFrame {
        sequence: 1044,
        device: DEVICE,
        unix_time: 1_773_111_000,
        ratings_total: 5821,
        firmware: "PJ200-1.4.2",
    }
}

fn sample_payloads() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "rating-very-satisfied.bin",
            encode_rating(&very_satisfied()),
        ),
        ("bad-review-real-name.bin", encode_rating(&bad_review())),
        (
            "rating-and-heartbeat.bin",
            [
                encode_rating(&satisfied_without_staff()),
                encode_heartbeat(&heartbeat()),
            ]
            .concat(),
        ),
    ]
}

fn decode_ok(payload: &[u8]) -> Vec<Inbound> {
    decode(CONTENT_TYPE, payload).unwrap()
}

fn decode_one_rating(payload: &[u8]) -> Rating {
    match decode_ok(payload).as_slice() {
        [Inbound::Rating(rating)] => rating.clone(),
        other => panic!("expected one rating, got {other:?}"),
    }
}

fn malformed(payload: &[u8]) -> String {
    match decode(CONTENT_TYPE, payload) {
        Err(DecodeError::Malformed(reason)) => reason,
        other => panic!("expected malformed, got {other:?}"),
    }
}

/// Set HX_PJ200_WRITE_SAMPLES=1 to rewrite `samples/` after changing the frames above.
#[test]
fn sample_files_match_the_encoder() {
    let directory = concat!(env!("CARGO_MANIFEST_DIR"), "/samples");
    if std::env::var_os("HX_PJ200_WRITE_SAMPLES").is_some() {
        for (name, payload) in sample_payloads() {
            std::fs::write(format!("{directory}/{name}"), &payload).unwrap();
        }
    }
    for (name, payload) in sample_payloads() {
        let shipped = SAMPLES
            .iter()
            .find(|(file, _)| *file == name)
            .map(|(_, bytes)| *bytes)
            .unwrap();
        assert_eq!(shipped, payload.as_slice(), "samples/{name} is stale");
    }
}

#[test]
fn every_sample_decodes() {
    for (name, payload) in SAMPLES {
        assert!(!decode_ok(payload).is_empty(), "{name}");
    }
}

#[test]
fn a_real_name_bad_review_decodes_field_by_field() {
    assert_eq!(
        decode_ok(&encode_rating(&bad_review())),
        [Inbound::Rating(Rating {
            event_id: "HX-410421-0007-1042".to_owned(),
            project_no: "41042120260310000131".to_owned(),
            service_number: 1,
            assess_number: 1,
            task_code: TASK.to_owned(),
            department: None,
            area_code: None,
            window: None,
            staff: Some("S410421-0012".to_owned()),
            device: Some(DEVICE.to_owned()),
            service_name: None,
            level: Level::VeryDissatisfied,
            channel: Channel::HallDevice,
            indicators: vec!["501".to_owned(), "510".to_owned()],
            text: Some("窗口工作人员离岗二十分钟，等待时间过长".to_owned()),
            evaluator: Evaluator {
                real_name: true,
                applicant_type: ApplicantType::NaturalPerson,
                name: None,
                phone: Some("13800000000".to_owned()),
                id_number: None,
            },
            rated_at: "2026-03-10T10:25:00+08:00".to_owned(),
        })]
    );
}

#[test]
fn frames_back_to_back_decode_in_order() {
    let items = decode_ok(
        &[
            encode_rating(&satisfied_without_staff()),
            encode_heartbeat(&heartbeat()),
        ]
        .concat(),
    );
    let [Inbound::Rating(rating), Inbound::Heartbeat(heartbeat)] = items.as_slice() else {
        panic!("expected a rating and a heartbeat, got {items:?}");
    };
    assert_eq!(rating.level, Level::Satisfied);
    assert_eq!(rating.staff, None);
    assert_eq!(rating.evaluator.phone, None);
    assert!(!rating.evaluator.real_name);
    assert_eq!(rating.rated_at, "2026-03-10T10:40:00+08:00");
    assert_eq!(
        heartbeat,
        &Heartbeat {
            device: DEVICE.to_owned(),
            sent_at: "2026-03-10T10:50:00+08:00".to_owned(),
            sequence: 1044,
            ratings_total: 5821,
            firmware: Some("PJ200-1.4.2".to_owned()),
        }
    );
}

#[test]
fn level_codes_follow_gbt39046_order() {
    let expected = [
        Level::VerySatisfied,
        Level::Satisfied,
        Level::BasicallySatisfied,
        Level::Dissatisfied,
        Level::VeryDissatisfied,
    ];
    for (code, level) in (1..=5).zip(expected) {
        let frame = RatingFrame {
            level_code: code,
            ..very_satisfied()
        };
        let rating = decode_one_rating(&encode_rating(&frame));
        assert_eq!(rating.level, level, "code {code}");
    }
}

#[test]
fn a_bad_review_without_indicators_or_comment_is_still_decoded() {
    // The platform, not the adapter, rejects it (with its own reason).
    let frame = RatingFrame {
        level_code: 4,
        ..very_satisfied()
    };
    let rating = decode_one_rating(&encode_rating(&frame));
    assert_eq!(rating.level, Level::Dissatisfied);
    assert!(rating.indicators.is_empty() && rating.text.is_none());
}

#[test]
fn wrong_magic() {
    let mut payload = encode_rating(&very_satisfied());
    payload[0] = 0x5A;
    assert_eq!(
        malformed(&payload),
        "frame 1 at byte 0: wrong magic 0x5a5a, expected 0xa55a"
    );
}

#[test]
fn unsupported_version() {
    let mut covered = encode_rating(&very_satisfied());
    covered.truncate(covered.len() - 2);
    covered.drain(..2);
    covered[0] = 2;
    assert_eq!(
        malformed(&seal(covered)),
        "frame 1 at byte 0: unsupported version 2 (this adapter reads version 1)"
    );
}

#[test]
fn bad_crc_says_expected_and_actual() {
    let good = encode_rating(&very_satisfied());
    let mut payload = good.clone();
    let last = payload.len() - 1;
    payload[last] ^= 0xFF;
    let carried = u16::from_be_bytes([payload[last - 1], payload[last]]);
    let computed = u16::from_be_bytes([good[last - 1], good[last]]);
    assert_eq!(
        malformed(&payload),
        format!(
            "frame 1 at byte 0: bad crc: expected 0x{computed:04x} (computed over bytes 2..{}), actual 0x{carried:04x}",
            last - 1
        )
    );
    // A damaged body byte is a CRC error too, not a strange value.
    let mut payload = good;
    payload[25] ^= 0x01;
    assert!(malformed(&payload).contains("bad crc"));
}

#[test]
fn every_cut_of_a_frame_is_reported_as_truncated() {
    let frame = encode_rating(&bad_review());
    for end in 1..frame.len() {
        let reason = malformed(&frame[..end]);
        assert!(
            reason.starts_with("frame 1 at byte 0: truncated at byte offset "),
            "cut at {end}: {reason}"
        );
    }
    assert_eq!(
        malformed(&frame[..10]),
        "frame 1 at byte 0: truncated at byte offset 9: device id needs 14 bytes, 1 left"
    );
}

#[test]
fn a_damaged_second_frame_names_its_number_and_offset() {
    let first = encode_rating(&very_satisfied());
    let second = encode_heartbeat(&heartbeat());
    let payload = [first.as_slice(), &second[..second.len() - 1]].concat();
    assert_eq!(
        malformed(&payload),
        format!(
            "frame 2 at byte {0}: truncated at byte offset {1}: crc needs 2 bytes, 1 left",
            first.len(),
            first.len() + second.len() - 2
        )
    );
}

#[test]
fn invalid_level_code() {
    let frame = RatingFrame {
        level_code: 6,
        ..very_satisfied()
    };
    assert_eq!(
        malformed(&encode_rating(&frame)),
        "frame 1 at byte 0: invalid level code 6 at byte offset 27 (expected 1=非常满意 … 5=非常不满意)"
    );
}

#[test]
fn invalid_utf8_comment() {
    let mut covered = encode_rating(&RatingFrame {
        comment: "ab",
        ..very_satisfied()
    });
    covered.truncate(covered.len() - 2);
    covered.drain(..2);
    // The comment's bytes follow its u16 length: "ab" → "a\xff".
    let comment_at = covered.windows(2).position(|pair| pair == b"ab").unwrap();
    covered[comment_at + 1] = 0xFF;
    assert_eq!(
        malformed(&seal(covered)),
        format!(
            "frame 1 at byte 0: comment is not valid utf-8 at byte offset {}",
            comment_at + 2 + 1
        )
    );
}

#[test]
fn identifiers_must_be_printable_ascii_and_phones_digits() {
    let frame = RatingFrame {
        phone: "138-0000",
        real_name: 1,
        ..very_satisfied()
    };
    let reason = malformed(&encode_rating(&frame));
    assert!(
        reason.starts_with("frame 1 at byte 0: phone has a byte 0x2d that is not an ascii digit"),
        "{reason}"
    );
    let frame = RatingFrame {
        staff: "张三",
        ..very_satisfied()
    };
    let reason = malformed(&encode_rating(&frame));
    assert!(
        reason
            .starts_with("frame 1 at byte 0: staff id has a byte 0xe5 that is not printable ascii"),
        "{reason}"
    );
    let frame = RatingFrame {
        real_name: 2,
        ..very_satisfied()
    };
    assert!(malformed(&encode_rating(&frame)).contains("invalid real-name flag 2"));
    let frame = RatingFrame {
        device: "",
        ..very_satisfied()
    };
    assert_eq!(
        malformed(&encode_rating(&frame)),
        "frame 1 at byte 0: device id is empty at byte offset 8"
    );
}

#[test]
fn unknown_frame_type_is_unsupported() {
    let mut covered = header(3, 1, DEVICE);
    covered.extend_from_slice(&[0; 8]);
    assert_eq!(
        decode(CONTENT_TYPE, &seal(covered)),
        Err(DecodeError::Unsupported(
            "frame 1 at byte 0: unknown frame type 3 (expected 1 rating or 2 heartbeat)".to_owned()
        ))
    );
}

#[test]
fn content_types() {
    let payload = encode_heartbeat(&heartbeat());
    assert!(decode("application/vnd.hx-pj200; charset=binary", &payload).is_ok());
    assert_eq!(
        decode("application/octet-stream", &payload),
        Err(DecodeError::Unsupported(
            "content type \"application/octet-stream\" is not supported (expected application/vnd.hx-pj200)"
                .to_owned()
        ))
    );
    assert_eq!(malformed(&[]), "payload is empty");
}
