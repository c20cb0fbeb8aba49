//! Domain rules that decide whether an input may be recorded. Pure functions over the input and
//! what the store already holds; the reasons are what a sender is told.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::model::{Channel, HeartbeatInput, OrgKind, OrgUnit, RatingInput, ServiceEventInput};

/// Why an input was not recorded. Serialised as `{"code": "...", "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("a bad review (差评) must carry indicator codes or a written comment")]
    BadReviewWithoutDetail,
    #[error(
        "service act {project_no}#{service_number} already has rating {existing} with assess number {assess_number} (本次服务已存在评价)"
    )]
    DuplicateRating {
        project_no: String,
        service_number: u8,
        assess_number: u8,
        existing: u64,
    },
    #[error(
        "follow-up rating (追评) of {project_no}#{service_number} needs a first rating of that service act"
    )]
    FollowUpWithoutFirst {
        project_no: String,
        service_number: u8,
    },
    #[error("assess number must be 1 (first rating) or 2 (追评), got {0}")]
    AssessNumber(u8),
    #[error("service number must be 1..=99, got {0}")]
    ServiceNumber(u8),
    #[error("field {field} is required")]
    Missing { field: &'static str },
    #[error("field {field} is longer than {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("field {field} has an invalid value: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("unknown {kind} {id}")]
    Unknown { kind: &'static str, id: String },
    #[error("{kind} {id} does not lie within region {area}")]
    OutsideArea {
        kind: &'static str,
        id: String,
        area: String,
    },
    #[error("source {source_id} may only submit data within {scope}, not {area}")]
    OutOfScope {
        source_id: String,
        scope: String,
        area: String,
    },
    #[error(
        "device {device} rated {seconds} s after its previous rating; model minimum is {minimum} s"
    )]
    TooSoon {
        device: String,
        seconds: i64,
        minimum: u32,
    },
    #[error("time {at} lies in the future (server time {now})")]
    InFuture {
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    /// A source reported a rating on a channel only the platform itself records on.
    #[error(
        "channel {} belongs to the platform itself (its default ratings, phone call-backs and SMS rating links): report the channel the rating was given through, or have the operator grant this source the channel in [ingest] channel_owners",
        channel_code(*.channel)
    )]
    ChannelNotOwned { channel: Channel },
    /// A source reported a rating older than the window outside sources are trusted with.
    #[error(
        "rated_at {at} is more than {max_days} days before the server time {now}: too old to record from a source; it is kept for replay (raise [ingest] max_age_days to record it)"
    )]
    TooOld {
        at: DateTime<Utc>,
        now: DateTime<Utc>,
        max_days: u32,
    },
    /// A work-order, problem, call or message change that is not allowed now.
    #[error("{message}")]
    Workflow { code: &'static str, message: String },
}

impl DomainError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::BadReviewWithoutDetail => "bad_review_without_detail",
            DomainError::DuplicateRating { .. } => "duplicate_rating",
            DomainError::FollowUpWithoutFirst { .. } => "follow_up_without_first",
            DomainError::AssessNumber(_) => "invalid_assess_number",
            DomainError::ServiceNumber(_) => "invalid_service_number",
            DomainError::Missing { .. } => "missing_field",
            DomainError::TooLong { .. } => "field_too_long",
            DomainError::Invalid { .. } => "invalid_field",
            DomainError::Unknown { .. } => "unknown_reference",
            DomainError::OutsideArea { .. } => "outside_area",
            DomainError::OutOfScope { .. } => "out_of_scope",
            DomainError::InFuture { .. } => "in_future",
            DomainError::TooSoon { .. } => "too_soon",
            DomainError::ChannelNotOwned { .. } => "channel_not_owned",
            DomainError::TooOld { .. } => "too_old",
            DomainError::Workflow { code, .. } => code,
        }
    }

    pub fn reason(&self) -> Reason {
        Reason {
            code: self.code().to_string(),
            message: self.to_string(),
        }
    }
}

/// A rejection reason as senders see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct Reason {
    pub code: String,
    pub message: String,
}

/// How far ahead of the server clock a device clock may run before its times are refused.
pub const CLOCK_SKEW: Duration = Duration::minutes(10);

/// The caps on every free-text and code field of every input, in characters (not bytes). One
/// small set, so that a field's cap says what kind of field it is; a field with a format of its
/// own (a region code, a mobile number, an ID number) is held to that format instead.
///
/// The HTTP API documents each field's cap as its `maxLength` (`#[schema(max_length = N)]`,
/// which takes only a literal: keep it one of these) and refuses a longer value with 422
/// `invalid_field` naming the field, before anything is looked up; ingest refuses it with the
/// item's reason and keeps the payload for replay, like every other refusal.
pub mod caps {
    /// Ids and codes: org unit, item, project and event ids, usernames, versions, counties.
    pub const CODE: usize = 64;
    /// Names and short lines: names of units, items, services, people; titles; a reveal's
    /// reason.
    pub const NAME: usize = 200;
    /// What a person writes: comments, notes of order steps and calls, reasons, replies.
    pub const TEXT: usize = 2000;
    /// Longer accounts: an explanation, a plan, a message sent out, a problem's basis.
    pub const LONG_TEXT: usize = 10_000;
    /// One rules file of a simulation (a county's policy script).
    pub const FILE: usize = 200_000;
    /// What one SMS to citizens says beside its link (a systemic problem's resolution).
    pub const SMS: usize = 300;
    /// Every cap the API documents: a field documented with another `maxLength` is a mistake
    /// (the HTTP layer's tests check it), except the formats below.
    pub const ALL: [usize; 6] = [CODE, NAME, SMS, TEXT, LONG_TEXT, FILE];
    /// Formats with a length of their own: a region code (12 digits), an ID number (18, up
    /// to 32 with separators), a phone number (20), an indicator code (16).
    pub const FORMATS: [usize; 4] = [12, 16, 20, 32];
    /// Items of a list of texts (an appeal's evidence, say) at most.
    pub const LIST_ITEMS: usize = 32;

    /// A list of strings of at most `max` characters each, as the API documents it: a list's
    /// items take no `max_length` attribute of their own, so such a field names one of the
    /// functions below in `#[schema(schema_with = …)]`.
    fn strings(max: usize, max_items: usize) -> utoipa::openapi::schema::Array {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
        ArrayBuilder::new()
            .items(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .max_length(Some(max)),
            )
            .max_items(Some(max_items))
            .build()
    }

    /// Texts, [`TEXT`] characters each, at most [`LIST_ITEMS`] of them.
    pub fn text_list() -> utoipa::openapi::schema::Array {
        strings(TEXT, LIST_ITEMS)
    }

    /// Indicator codes (`evalDetail`): 1-16 letters or digits, at most 32.
    pub fn indicator_codes() -> utoipa::openapi::schema::Array {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
        ArrayBuilder::new()
            .items(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .max_length(Some(16))
                    .pattern(Some("^[A-Za-z0-9]{1,16}$")),
            )
            .max_items(Some(super::MAX_INDICATORS))
            .build()
    }
}

pub const MAX_TEXT_CHARS: usize = caps::TEXT;
const MAX_ID_CHARS: usize = caps::CODE;
const MAX_NAME_CHARS: usize = caps::NAME;
const MAX_INDICATORS: usize = 32;

fn required(field: &'static str, value: &str, max: usize) -> Result<(), DomainError> {
    if value.trim().is_empty() {
        return Err(DomainError::Missing { field });
    }
    if value.chars().count() > max {
        return Err(DomainError::TooLong { field, max });
    }
    Ok(())
}

fn optional(field: &'static str, value: Option<&str>, max: usize) -> Result<(), DomainError> {
    match value {
        Some(value) if value.chars().count() > max => Err(DomainError::TooLong { field, max }),
        _ => Ok(()),
    }
}

fn not_future(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), DomainError> {
    if at > now + CLOCK_SKEW {
        return Err(DomainError::InFuture { at, now });
    }
    Ok(())
}

fn service_number(number: u8) -> Result<(), DomainError> {
    if !(1..=99).contains(&number) {
        return Err(DomainError::ServiceNumber(number));
    }
    Ok(())
}

/// Checks a rating on its own, before looking anything up.
pub fn rating_shape(input: &RatingInput, now: DateTime<Utc>) -> Result<(), DomainError> {
    required("event_id", &input.event_id, MAX_ID_CHARS)?;
    required("project_no", &input.project_no, MAX_ID_CHARS)?;
    required("task_code", &input.task_code, MAX_ID_CHARS)?;
    // A registered device's rating inherits its window's department and area (filled later).
    if input.device.is_none() {
        required("department", &input.department, MAX_ID_CHARS)?;
        required("area_code", &input.area_code, 12)?;
    }
    optional("department", Some(&input.department), MAX_ID_CHARS)?;
    optional("area_code", Some(&input.area_code), 12)?;
    optional("window", input.window.as_deref(), MAX_ID_CHARS)?;
    optional("staff", input.staff.as_deref(), MAX_ID_CHARS)?;
    optional("device", input.device.as_deref(), MAX_ID_CHARS)?;
    service_number(input.service_number)?;
    if !(1..=2).contains(&input.assess_number) {
        return Err(DomainError::AssessNumber(input.assess_number));
    }
    optional(
        "service_name",
        input.service_name.as_deref(),
        MAX_NAME_CHARS,
    )?;
    optional("text", input.text.as_deref(), MAX_TEXT_CHARS)?;
    optional(
        "evaluator.name",
        input.evaluator.name.as_deref(),
        MAX_NAME_CHARS,
    )?;
    optional("evaluator.phone", input.evaluator.phone.as_deref(), 20)?;
    optional(
        "evaluator.id_number",
        input.evaluator.id_number.as_deref(),
        32,
    )?;
    if input.indicators.len() > MAX_INDICATORS {
        return Err(DomainError::Invalid {
            field: "indicators",
            reason: format!("at most {MAX_INDICATORS} indicator codes"),
        });
    }
    if let Some(bad) = input.indicators.iter().find(|code| {
        code.is_empty() || code.len() > 16 || !code.chars().all(|c| c.is_ascii_alphanumeric())
    }) {
        return Err(DomainError::Invalid {
            field: "indicators",
            reason: format!("indicator code {bad:?} is not 1-16 letters or digits"),
        });
    }
    let has_text = input
        .text
        .as_deref()
        .is_some_and(|text| !text.trim().is_empty());
    if input.level.is_bad() && input.indicators.is_empty() && !has_text {
        return Err(DomainError::BadReviewWithoutDetail);
    }
    if let Some(phone) = input.evaluator.phone.as_deref()
        && !phone
            .chars()
            .all(|c| c.is_ascii_digit() || c == '+' || c == '-')
    {
        return Err(DomainError::Invalid {
            field: "evaluator.phone",
            reason: "only digits, + and -".into(),
        });
    }
    not_future(input.rated_at, now)
}

/// The channels only the platform itself records ratings on: its default ratings
/// (`system_default`), the answers its call-back agents take (`phone`) and the ratings given
/// through its SMS invitation links (`sms`). All three come from the `system` source, straight to
/// the store; none arrives through the ingest door.
pub const PLATFORM_CHANNELS: [Channel; 3] = [Channel::SystemDefault, Channel::Phone, Channel::Sms];

/// What a source outside the platform is trusted with.
#[derive(Debug, Clone, Copy)]
pub struct Trust<'a> {
    /// Platform channels the operator granted this source (a 12345 hotline's phone ratings).
    pub granted: &'a [Channel],
    /// Ratings older than this many days (before the server time) are refused; `None`: any age.
    pub max_age_days: Option<u32>,
}

/// Checks a rating that arrived from a source through the ingest door (devices, business
/// systems; never the platform's own ratings): it may not claim a channel of the platform's
/// own unless granted, nor be older than the trusted window. Both refusals are kept for replay.
pub fn outside_rating(
    input: &RatingInput,
    trust: Trust<'_>,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    if PLATFORM_CHANNELS.contains(&input.channel) && !trust.granted.contains(&input.channel) {
        return Err(DomainError::ChannelNotOwned {
            channel: input.channel,
        });
    }
    if let Some(max_days) = trust.max_age_days
        && input.rated_at < now - Duration::days(i64::from(max_days))
    {
        return Err(DomainError::TooOld {
            at: input.rated_at,
            now,
            max_days,
        });
    }
    Ok(())
}

/// A channel as the API spells it.
pub fn channel_code(channel: Channel) -> &'static str {
    match channel {
        Channel::Pc => "pc",
        Channel::Mobile => "mobile",
        Channel::QrCode => "qr_code",
        Channel::HallDevice => "hall_device",
        Channel::HallTerminal => "hall_terminal",
        Channel::Phone => "phone",
        Channel::Sms => "sms",
        Channel::SystemDefault => "system_default",
    }
}

/// Checks a service event on its own, before looking anything up.
pub fn service_shape(input: &ServiceEventInput, now: DateTime<Utc>) -> Result<(), DomainError> {
    required("event_id", &input.event_id, MAX_ID_CHARS)?;
    required("project_no", &input.project_no, MAX_ID_CHARS)?;
    required("task_code", &input.task_code, MAX_ID_CHARS)?;
    required("department", &input.department, MAX_ID_CHARS)?;
    required("area_code", &input.area_code, 12)?;
    required("service_name", &input.service_name, MAX_NAME_CHARS)?;
    optional("project_name", Some(&input.project_name), MAX_NAME_CHARS)?;
    optional("window", input.window.as_deref(), MAX_ID_CHARS)?;
    optional("staff", input.staff.as_deref(), MAX_ID_CHARS)?;
    optional("applicant_phone", input.applicant_phone.as_deref(), 20)?;
    service_number(input.service_number)?;
    not_future(input.occurred_at, now)
}

/// Checks a heartbeat on its own.
pub fn heartbeat_shape(input: &HeartbeatInput, now: DateTime<Utc>) -> Result<(), DomainError> {
    required("device", &input.device, MAX_ID_CHARS)?;
    optional("firmware", input.firmware.as_deref(), MAX_NAME_CHARS)?;
    not_future(input.sent_at, now)
}

/// Ids that travel in URLs and keys: 1-64 letters, digits, `-`, `_` or `.`.
pub fn identifier(field: &'static str, value: &str) -> Result<(), DomainError> {
    required(field, value, MAX_ID_CHARS)?;
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(DomainError::Invalid {
            field,
            reason: format!("{value:?} may hold only letters, digits, -, _ and ."),
        });
    }
    Ok(())
}

/// Checks a master-data node: code formats by kind, and parent kinds that make sense.
pub fn org_unit(unit: &OrgUnit, parent: Option<&OrgUnit>) -> Result<(), DomainError> {
    required("name", &unit.name, MAX_NAME_CHARS)?;
    match unit.kind {
        OrgKind::City | OrgKind::County => region_code(&unit.id, 6)?,
        OrgKind::Township => region_code(&unit.id, 9)?,
        OrgKind::Village => region_code(&unit.id, 12)?,
        OrgKind::Department => credit_code(&unit.id)?,
        OrgKind::Hall | OrgKind::ServicePoint | OrgKind::Window => {
            required("id", &unit.id, MAX_ID_CHARS)?
        }
    }
    let allowed: &[OrgKind] = match unit.kind {
        OrgKind::City => &[],
        OrgKind::County => &[OrgKind::City],
        OrgKind::Township => &[OrgKind::County],
        OrgKind::Village => &[OrgKind::Township],
        OrgKind::Hall => &[OrgKind::City, OrgKind::County, OrgKind::Township],
        OrgKind::ServicePoint => &[OrgKind::Township, OrgKind::Village],
        OrgKind::Department => &[OrgKind::City, OrgKind::County, OrgKind::Township],
        OrgKind::Window => &[OrgKind::Hall, OrgKind::ServicePoint],
    };
    match (parent, &unit.parent) {
        (None, None) if allowed.is_empty() => Ok(()),
        (None, None) => Err(DomainError::Missing { field: "parent" }),
        (None, Some(id)) => Err(DomainError::Unknown {
            kind: "parent",
            id: id.clone(),
        }),
        (Some(parent), _) if allowed.contains(&parent.kind) => Ok(()),
        (Some(parent), _) => Err(DomainError::Invalid {
            field: "parent",
            reason: format!("a {:?} cannot sit under a {:?}", unit.kind, parent.kind),
        }),
    }
}

/// Statistical division codes: 6 digits (县级及以上), 9 (乡级), 12 (村级).
pub fn region_code(code: &str, len: usize) -> Result<(), DomainError> {
    if code.len() != len || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DomainError::Invalid {
            field: "id",
            reason: format!("region code {code:?} must be {len} digits"),
        });
    }
    Ok(())
}

const CREDIT_CHARSET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const CREDIT_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// The check character of the first 17 characters of a 统一社会信用代码 (GB 32100-2015).
pub fn credit_check_char(first17: &str) -> Option<char> {
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (ch, weight) in first17.chars().zip(CREDIT_WEIGHTS) {
        let value = CREDIT_CHARSET.find(ch)?;
        sum += u32::try_from(value).ok()? * weight;
    }
    let check = (31 - sum % 31) % 31;
    CREDIT_CHARSET.chars().nth(usize::try_from(check).ok()?)
}

/// 统一社会信用代码: 18 characters of the GB 32100 charset with a valid check character.
pub fn credit_code(code: &str) -> Result<(), DomainError> {
    let invalid = |reason: &str| DomainError::Invalid {
        field: "id",
        reason: format!("统一社会信用代码 {code:?} {reason}"),
    };
    if code.len() != 18 || !code.chars().all(|c| CREDIT_CHARSET.contains(c)) {
        return Err(invalid(
            "must be 18 characters of 0-9 and A-Y without I, O, S, V, Z",
        ));
    }
    match credit_check_char(&code[..17]) {
        Some(check) if code.ends_with(check) => Ok(()),
        _ => Err(invalid("has a wrong check character")),
    }
}

/// `13812341234` → `***********`: citizens type their numbers into comments; a run of 7 or
/// more digits is masked wherever a comment goes beyond the rating itself.
pub fn mask_digit_runs(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut index = 0;
    while index < chars.len() {
        let run = chars[index..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if run >= 7 {
            out.extend(std::iter::repeat_n('*', run));
            index += run;
        } else if run > 0 {
            out.extend(&chars[index..index + run]);
            index += run;
        } else {
            out.push(chars[index]);
            index += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Channel, EvaluatorInput, Level};

    fn rating(level: Level, indicators: &[&str], text: Option<&str>) -> RatingInput {
        RatingInput {
            event_id: "e1".into(),
            project_no: "P1".into(),
            service_number: 1,
            assess_number: 1,
            task_code: "T1".into(),
            department: "D".into(),
            area_code: "410402".into(),
            service_name: None,
            window: None,
            staff: None,
            device: None,
            level,
            channel: Channel::HallDevice,
            indicators: indicators.iter().map(|s| s.to_string()).collect(),
            text: text.map(String::from),
            evaluator: EvaluatorInput::default(),
            rated_at: DateTime::UNIX_EPOCH,
        }
    }

    fn check(input: RatingInput, expected: Option<&str>) {
        let got = rating_shape(&input, Utc::now())
            .err()
            .map(|error| error.code());
        assert_eq!(got, expected, "{input:?}");
    }

    #[test]
    fn bad_reviews_need_detail() {
        check(
            rating(Level::Dissatisfied, &[], None),
            Some("bad_review_without_detail"),
        );
        check(
            rating(Level::VeryDissatisfied, &[], Some("  ")),
            Some("bad_review_without_detail"),
        );
        check(rating(Level::VeryDissatisfied, &["501"], None), None);
        check(rating(Level::Dissatisfied, &[], Some("排队太久")), None);
        check(rating(Level::BasicallySatisfied, &[], None), None);
        check(
            rating(Level::Satisfied, &["50 1"], None),
            Some("invalid_field"),
        );
    }

    #[test]
    fn numbers_and_times() {
        let mut input = rating(Level::Satisfied, &[], None);
        input.assess_number = 3;
        check(input, Some("invalid_assess_number"));
        let mut input = rating(Level::Satisfied, &[], None);
        input.service_number = 100;
        check(input, Some("invalid_service_number"));
        let mut input = rating(Level::Satisfied, &[], None);
        input.rated_at = Utc::now() + Duration::hours(1);
        check(input, Some("in_future"));
        let mut input = rating(Level::Satisfied, &[], None);
        input.project_no = String::new();
        check(input, Some("missing_field"));
    }

    #[test]
    fn outside_sources_are_trusted_only_for_what_they_are() {
        let now = Utc::now();
        let check = |channel: Channel, age_days: i64, trust: Trust<'_>, expected: Option<&str>| {
            let mut input = rating(Level::Satisfied, &[], None);
            input.channel = channel;
            input.rated_at = now - Duration::days(age_days);
            let got = outside_rating(&input, trust, now)
                .err()
                .map(|error| error.code());
            assert_eq!(got, expected, "{channel:?} {age_days} days old");
        };
        let plain = Trust {
            granted: &[],
            max_age_days: Some(30),
        };
        for channel in Channel::ALL {
            let expected = PLATFORM_CHANNELS
                .contains(&channel)
                .then_some("channel_not_owned");
            check(channel, 0, plain, expected);
        }
        let hotline = Trust {
            granted: &[Channel::Phone],
            max_age_days: Some(30),
        };
        check(Channel::Phone, 0, hotline, None);
        check(Channel::Sms, 0, hotline, Some("channel_not_owned"));
        check(Channel::HallDevice, 29, plain, None);
        check(Channel::HallDevice, 31, plain, Some("too_old"));
        let unbounded = Trust {
            granted: &[],
            max_age_days: None,
        };
        check(Channel::HallDevice, 3650, unbounded, None);
        // Every channel's code is the one its serde form uses.
        for channel in Channel::ALL {
            assert_eq!(
                serde_json::to_value(channel).ok(),
                Some(serde_json::Value::from(channel_code(channel)))
            );
        }
    }

    #[test]
    fn credit_codes() {
        // A code built with the GB 32100 check character, and the same code with it broken.
        let body = "91410400MA44A0B0X";
        let check_char = credit_check_char(body).unwrap_or('?');
        assert!(credit_code(&format!("{body}{check_char}")).is_ok());
        let wrong = if check_char == '0' { '1' } else { '0' };
        assert!(credit_code(&format!("{body}{wrong}")).is_err());
        assert!(credit_code("91410400MA44A0B0XI").is_err());
        assert!(credit_code("short").is_err());
    }
}
