//! Hostile test guest: `decode` returns 1,000,000 ratings, each with a 1 KiB comment (over 1 GiB
//! once lowered), to prove that the host bounds what it accepts from an adapter.

use hcp_adapter_sdk::types::{
    ApplicantType, Channel, DecodeError, Evaluator, Inbound, Info, Level, Rating, Sample,
};

const RATINGS: u32 = 1_000_000;
const COMMENT_BYTES: usize = 1024;

struct HostileOutput;

impl hcp_adapter_sdk::inbound::Guest for HostileOutput {
    fn describe() -> Info {
        hostile_common::info("hostile-output", "decode returns a million ratings")
    }

    fn samples() -> Vec<Sample> {
        Vec::new()
    }

    fn decode(_content_type: String, _payload: Vec<u8>) -> Result<Vec<Inbound>, DecodeError> {
        Ok((0..RATINGS).map(rating).collect())
    }
}

fn rating(sequence: u32) -> Inbound {
    Inbound::Rating(Rating {
        event_id: format!("hostile-output-{sequence}"),
        project_no: format!("P{sequence:010}"),
        service_number: 1,
        assess_number: 1,
        task_code: "T-HOSTILE".to_owned(),
        department: None,
        area_code: None,
        window: None,
        staff: None,
        device: Some("hostile-output".to_owned()),
        service_name: None,
        level: Level::VeryDissatisfied,
        channel: Channel::HallDevice,
        indicators: Vec::new(),
        text: Some("差".repeat(COMMENT_BYTES / "差".len()) + "!"),
        evaluator: Evaluator {
            real_name: false,
            applicant_type: ApplicantType::NaturalPerson,
            name: None,
            phone: None,
            id_number: None,
        },
        rated_at: "2026-03-10T10:00:00+08:00".to_owned(),
    })
}

hcp_adapter_sdk::export_inbound!(HostileOutput);
