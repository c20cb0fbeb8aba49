//! The stored bytes of a case (办件) and its service acts.
//!
//! A case is read by every rating and service act of its project and rewritten by most of
//! them, so its value is what the `cases` tree pays for twice: in bytes (a third of a city's
//! projections as JSON) and in sled's rewritten pages. It is written as [`CASE_V1`], one format
//! byte and a postcard body of the [`StoredCase`] DTO below:
//!
//! - the project number is the key and is not repeated in the value;
//! - instants are seconds and nanoseconds (varints), codes of the outside world are kept as
//!   they came (they are the key of nothing here), enums are explicit numbers that never change
//!   meaning;
//! - a sealed contact is its raw bytes (nonce ‖ ciphertext), not their base64.
//!
//! Values that begin with another byte are read through [`super::codec`] (JSON text, or a
//! compressed frame of it), which is how stores written before this format keep working: a
//! case is rewritten in this format the next time it changes.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{ApplicantType, Case, CaseStatus, Level, SealedField, ServiceAct};
use crate::outreach::{ScheduledAction, ScheduledTask};

/// A postcard body of [`StoredCase`].
pub const CASE_V1: u8 = 0x02;

type Error = serde_json::Error;

fn error(message: impl std::fmt::Display) -> Error {
    <serde_json::Error as serde::de::Error>::custom(message)
}

#[derive(Serialize, Deserialize)]
struct StoredCase<'a> {
    #[serde(borrow)]
    project_name: Cow<'a, str>,
    #[serde(borrow)]
    task_code: Cow<'a, str>,
    #[serde(borrow)]
    department: Cow<'a, str>,
    #[serde(borrow)]
    area_code: Cow<'a, str>,
    status: u8,
    applicant_type: u8,
    first_seen: Instant,
    updated_at: Instant,
    #[serde(borrow)]
    services: Vec<StoredAct<'a>>,
}

#[derive(Serialize, Deserialize)]
struct StoredAct<'a> {
    service_number: u8,
    #[serde(borrow)]
    service_name: Cow<'a, str>,
    occurred_at: Instant,
    #[serde(borrow)]
    window: Option<Cow<'a, str>>,
    #[serde(borrow)]
    staff: Option<Cow<'a, str>>,
    ratings: Vec<u64>,
    #[serde(borrow)]
    contact: Option<StoredSealed<'a>>,
    #[serde(borrow)]
    planned: Vec<StoredTask<'a>>,
}

/// An instant to the nanosecond, as chrono keeps it.
#[derive(Serialize, Deserialize, Clone, Copy)]
struct Instant {
    seconds: i64,
    nanos: u32,
}

impl Instant {
    fn of(at: DateTime<Utc>) -> Self {
        Self {
            seconds: at.timestamp(),
            nanos: at.timestamp_subsec_nanos(),
        }
    }

    fn at(self) -> Result<DateTime<Utc>, Error> {
        DateTime::from_timestamp(self.seconds, self.nanos).ok_or_else(|| {
            error(format!(
                "a stored case has an instant out of range: {}",
                self.seconds
            ))
        })
    }
}

#[derive(Serialize, Deserialize)]
struct StoredSealed<'a> {
    #[serde(borrow)]
    sealed: SealedBytes<'a>,
    #[serde(borrow)]
    masked: Cow<'a, str>,
}

/// The sealed bytes themselves; the text as it was when it is not canonical base64 (never
/// written by this platform, kept so that any value reads back exactly).
#[derive(Serialize, Deserialize)]
enum SealedBytes<'a> {
    Raw(#[serde(borrow)] Cow<'a, [u8]>),
    Text(#[serde(borrow)] Cow<'a, str>),
}

#[derive(Serialize, Deserialize)]
struct StoredTask<'a> {
    at: Instant,
    /// The task's project when it is not the case's own (never, as planned today).
    #[serde(borrow)]
    project_no: Option<Cow<'a, str>>,
    service_number: u8,
    /// 0 SMS, 1 phone, 2 app, 3 default rating (with `level`).
    action: u8,
    level: u8,
    decision_seq: u64,
}

fn status_number(status: CaseStatus) -> u8 {
    match status {
        CaseStatus::Submitted => 0,
        CaseStatus::Accepted => 1,
        CaseStatus::Completed => 2,
    }
}

fn status_of(number: u8) -> Result<CaseStatus, Error> {
    Ok(match number {
        0 => CaseStatus::Submitted,
        1 => CaseStatus::Accepted,
        2 => CaseStatus::Completed,
        _ => return Err(error(format!("a stored case has status {number}"))),
    })
}

fn applicant_number(applicant: ApplicantType) -> u8 {
    match applicant {
        ApplicantType::NaturalPerson => 0,
        ApplicantType::EnterpriseLegalPerson => 1,
        ApplicantType::InstitutionLegalPerson => 2,
        ApplicantType::SocialOrganisationLegalPerson => 3,
        ApplicantType::NonLegalPersonEnterprise => 4,
        ApplicantType::AdministrativeOrgan => 5,
        ApplicantType::OtherOrganisation => 6,
    }
}

fn applicant_of(number: u8) -> Result<ApplicantType, Error> {
    Ok(match number {
        0 => ApplicantType::NaturalPerson,
        1 => ApplicantType::EnterpriseLegalPerson,
        2 => ApplicantType::InstitutionLegalPerson,
        3 => ApplicantType::SocialOrganisationLegalPerson,
        4 => ApplicantType::NonLegalPersonEnterprise,
        5 => ApplicantType::AdministrativeOrgan,
        6 => ApplicantType::OtherOrganisation,
        _ => return Err(error(format!("a stored case has applicant type {number}"))),
    })
}

fn task_action(action: &ScheduledAction) -> (u8, u8) {
    match action {
        ScheduledAction::InviteSms => (0, 0),
        ScheduledAction::InvitePhone => (1, 0),
        ScheduledAction::InviteApp => (2, 0),
        ScheduledAction::DefaultRating { level } => (3, level.index()),
    }
}

fn action_of(action: u8, level: u8) -> Result<ScheduledAction, Error> {
    Ok(match action {
        0 => ScheduledAction::InviteSms,
        1 => ScheduledAction::InvitePhone,
        2 => ScheduledAction::InviteApp,
        3 => ScheduledAction::DefaultRating {
            level: Level::from_index(level)
                .ok_or_else(|| error(format!("a planned default rating has level {level}")))?,
        },
        _ => return Err(error(format!("a planned task has action {action}"))),
    })
}

fn sealed_bytes(text: &str) -> SealedBytes<'_> {
    match BASE64.decode(text) {
        Ok(raw) if BASE64.encode(&raw) == text => SealedBytes::Raw(Cow::Owned(raw)),
        _ => SealedBytes::Text(Cow::Borrowed(text)),
    }
}

/// The stored bytes of `case` (its project number is the key).
pub fn encode(case: &Case) -> Result<Vec<u8>, Error> {
    let stored = StoredCase {
        project_name: Cow::Borrowed(&case.project_name),
        task_code: Cow::Borrowed(&case.task_code),
        department: Cow::Borrowed(&case.department),
        area_code: Cow::Borrowed(&case.area_code),
        status: status_number(case.status),
        applicant_type: applicant_number(case.applicant_type),
        first_seen: Instant::of(case.first_seen),
        updated_at: Instant::of(case.updated_at),
        services: case
            .services
            .iter()
            .map(|act| StoredAct {
                service_number: act.service_number,
                service_name: Cow::Borrowed(&act.service_name),
                occurred_at: Instant::of(act.occurred_at),
                window: act.window.as_deref().map(Cow::Borrowed),
                staff: act.staff.as_deref().map(Cow::Borrowed),
                ratings: act.ratings.clone(),
                contact: act.contact.as_ref().map(|contact| StoredSealed {
                    sealed: sealed_bytes(&contact.sealed),
                    masked: Cow::Borrowed(&contact.masked),
                }),
                planned: act
                    .planned
                    .iter()
                    .map(|task| {
                        let (action, level) = task_action(&task.action);
                        StoredTask {
                            at: Instant::of(task.at),
                            project_no: (task.project_no != case.project_no)
                                .then_some(Cow::Borrowed(task.project_no.as_str())),
                            service_number: task.service_number,
                            action,
                            level,
                            decision_seq: task.decision_seq,
                        }
                    })
                    .collect(),
            })
            .collect(),
    };
    postcard::to_extend(&stored, vec![CASE_V1]).map_err(error)
}

/// The case stored under `key` (its project number) as `bytes`, whichever format wrote them.
pub fn decode(key: &[u8], bytes: &[u8]) -> Result<Case, Error> {
    let Some((&CASE_V1, body)) = bytes.split_first() else {
        return super::codec::decode(bytes);
    };
    let stored: StoredCase<'_> = postcard::from_bytes(body)
        .map_err(|e| error(format!("a stored case does not decode: {e}")))?;
    let project_no = std::str::from_utf8(key)
        .map_err(|_| error("a case's key is not a project number"))?
        .to_string();
    let mut services = Vec::with_capacity(stored.services.len());
    for act in stored.services {
        let mut planned = Vec::with_capacity(act.planned.len());
        for task in act.planned {
            planned.push(ScheduledTask {
                at: task.at.at()?,
                project_no: task
                    .project_no
                    .map_or_else(|| project_no.clone(), Cow::into_owned),
                service_number: task.service_number,
                action: action_of(task.action, task.level)?,
                decision_seq: task.decision_seq,
            });
        }
        services.push(ServiceAct {
            service_number: act.service_number,
            service_name: act.service_name.into_owned(),
            occurred_at: act.occurred_at.at()?,
            window: act.window.map(Cow::into_owned),
            staff: act.staff.map(Cow::into_owned),
            ratings: act.ratings,
            contact: act.contact.map(|contact| SealedField {
                sealed: match contact.sealed {
                    SealedBytes::Raw(raw) => BASE64.encode(raw),
                    SealedBytes::Text(text) => text.into_owned(),
                },
                masked: contact.masked.into_owned(),
            }),
            planned,
        });
    }
    Ok(Case {
        project_no,
        project_name: stored.project_name.into_owned(),
        task_code: stored.task_code.into_owned(),
        department: stored.department.into_owned(),
        area_code: stored.area_code.into_owned(),
        status: status_of(stored.status)?,
        applicant_type: applicant_of(stored.applicant_type)?,
        first_seen: stored.first_seen.at()?,
        updated_at: stored.updated_at.at()?,
        services,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn case() -> Case {
        Case {
            project_no: "41041120250730361829".into(),
            project_name: "湛河区天成餐饮管理有限公司企业设立登记".into(),
            task_code: "1141041153078877180110001000000".into(),
            department: "114104115307887718".into(),
            area_code: "410411".into(),
            status: CaseStatus::Completed,
            applicant_type: ApplicantType::EnterpriseLegalPerson,
            first_seen: at("2025-07-30T08:02:37Z"),
            updated_at: at("2025-07-30T11:07:02.123456789Z"),
            services: vec![
                ServiceAct {
                    service_number: 1,
                    service_name: "申报".into(),
                    occurred_at: at("2025-07-30T08:02:37Z"),
                    window: Some("W410411-01".into()),
                    staff: Some("S410411-0002".into()),
                    ratings: vec![1360635],
                    contact: None,
                    planned: Vec::new(),
                },
                ServiceAct {
                    service_number: 3,
                    service_name: "办结".into(),
                    occurred_at: at("2025-07-30T11:07:02Z"),
                    window: None,
                    staff: None,
                    ratings: Vec::new(),
                    contact: Some(SealedField {
                        sealed: BASE64.encode([7u8; 41]),
                        masked: "138****1234".into(),
                    }),
                    planned: vec![
                        ScheduledTask {
                            at: at("2025-07-31T01:00:00Z"),
                            project_no: "41041120250730361829".into(),
                            service_number: 3,
                            action: ScheduledAction::InviteSms,
                            decision_seq: 17,
                        },
                        ScheduledTask {
                            at: at("2025-08-06T16:00:00Z"),
                            project_no: "another".into(),
                            service_number: 3,
                            action: ScheduledAction::DefaultRating {
                                level: Level::Satisfied,
                            },
                            decision_seq: 17,
                        },
                    ],
                },
            ],
        }
    }

    #[test]
    fn a_case_reads_back_exactly_in_under_a_third_of_its_json() {
        let case = case();
        let bytes = encode(&case).unwrap();
        assert_eq!(bytes[0], CASE_V1);
        assert_eq!(decode(case.project_no.as_bytes(), &bytes).unwrap(), case);
        let json = serde_json::to_vec(&case).unwrap();
        assert!(
            bytes.len() * 3 < json.len(),
            "{} bytes for {} bytes of JSON",
            bytes.len(),
            json.len()
        );
        // The same case always has the same bytes (a rebuild writes what the live store did).
        assert_eq!(
            encode(&decode(case.project_no.as_bytes(), &bytes).unwrap()).unwrap(),
            bytes
        );
    }

    #[test]
    fn every_status_applicant_and_action_round_trips() {
        let mut case = case();
        for status in [
            CaseStatus::Submitted,
            CaseStatus::Accepted,
            CaseStatus::Completed,
        ] {
            for applicant in 0..7 {
                case.status = status;
                case.applicant_type = applicant_of(applicant).unwrap();
                for (action, level) in [(0, 0), (1, 0), (2, 0), (3, 0), (3, 4)] {
                    case.services[1].planned[0].action = action_of(action, level).unwrap();
                    let bytes = encode(&case).unwrap();
                    assert_eq!(decode(case.project_no.as_bytes(), &bytes).unwrap(), case);
                }
            }
        }
    }

    #[test]
    fn a_sealed_contact_that_is_not_canonical_base64_is_kept_as_text() {
        let mut case = case();
        case.services[1].contact.as_mut().unwrap().sealed = "not base64!".into();
        let bytes = encode(&case).unwrap();
        assert_eq!(decode(case.project_no.as_bytes(), &bytes).unwrap(), case);
    }

    #[test]
    fn cases_written_as_json_still_read() {
        let case = case();
        let json = serde_json::to_vec(&case).unwrap();
        assert_eq!(decode(case.project_no.as_bytes(), &json).unwrap(), case);
        let compressed = super::super::codec::compress(json);
        assert_eq!(
            decode(case.project_no.as_bytes(), &compressed).unwrap(),
            case
        );
    }

    #[test]
    fn a_damaged_case_is_an_error_not_a_panic() {
        let bytes = encode(&case()).unwrap();
        for cut in 1..bytes.len() {
            let _ = decode(b"41041120250730361829", &bytes[..cut]);
        }
        assert!(decode(b"41041120250730361829", &[CASE_V1, 0xff, 0xff]).is_err());
    }
}
