//! Retention and erasure of personal data (个人信息保护法): the retention sweep, a data
//! subject's erasure request, and what the key ring holds.
//!
//! Personal values are sealed under keys of the ring (see [`hcp_core::keyring`]); erasing them
//! destroys keys, so the hash-chained log, every node and every backup lose the values at once
//! while every count, roll-up and assessment (none of which reads them) stays as it was. A
//! destruction is recorded in the log (`KeysDestroyed`) and in the audit trail, in one batch,
//! before the keys go. A sweep cut off between the two is carried out by the next one, which
//! finds the period keys still there; an erasure request answers only once its keys are gone, so
//! one cut off is made again (the sweep cannot redo it: a number that rates again later gets a
//! new key under the same id).

use chrono::{DateTime, Duration, Utc};
use hcp_core::auth::{Principal, Role};
use hcp_core::event::{AuditEntry, ErasureReason, KeyDestruction, KeyDestructionRecord};
use hcp_core::keyring::{Class, KeyRing, Month, parse_period_key_id, subject_key_id};
use hcp_core::store::{Command, Outcome};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppError;
use crate::app::config::RetentionConfig;
use crate::app::platform::Platform;

/// The actor of the background sweep in the log and the audit trail.
pub const SWEEP_ACTOR: &str = "system:retention";

/// What is held of one class of personal data.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ClassHeld {
    /// `evaluator_name`, `evaluator_phone`, `evaluator_id_number`, `applicant_phone`,
    /// `rejected_payload`, `uplink_body`.
    pub class: String,
    pub label: String,
    pub retention_days: u32,
    /// The months (`2026-11`) whose values are still held, oldest first.
    pub months: Vec<String>,
    /// When the oldest month held is erased (its last value reaches the retention then).
    pub next_erasure: Option<DateTime<Utc>>,
}

/// What the key ring holds, and what was destroyed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PrivacyStatus {
    pub classes: Vec<ClassHeld>,
    /// Subject keys held: about one per person who left a number (or an ID number).
    pub subjects: usize,
    /// The last destructions, newest first (at most 50).
    pub destructions: Vec<KeyDestructionRecord>,
}

/// When the values of `class` sealed in `month` are all past their retention.
pub fn erasure_due(retention: &RetentionConfig, class: Class, month: Month) -> DateTime<Utc> {
    month.end() + Duration::days(i64::from(retention.days(class)))
}

/// The period keys of the ring, by class, oldest month first.
fn period_keys(ring: &KeyRing) -> Result<Vec<(Class, Month)>, AppError> {
    let mut keys: Vec<(Class, Month)> = ring
        .ids("p.")?
        .iter()
        .filter_map(|id| parse_period_key_id(id))
        .collect();
    keys.sort();
    Ok(keys)
}

fn ring(platform: &Platform) -> Result<&KeyRing, AppError> {
    platform
        .store
        .pii()
        .ring()
        .ok_or_else(|| AppError::Internal("the store has no key ring".into()))
}

/// What the ring holds now. Blocking.
pub fn status(platform: &Platform) -> Result<PrivacyStatus, AppError> {
    let ring = ring(platform)?;
    let keys = period_keys(ring)?;
    let classes = Class::ALL
        .into_iter()
        .map(|class| {
            let months: Vec<Month> = keys
                .iter()
                .filter(|(held, _)| *held == class)
                .map(|(_, month)| *month)
                .collect();
            ClassHeld {
                class: class.name().into(),
                label: class.label().into(),
                retention_days: platform.retention.days(class),
                next_erasure: months
                    .first()
                    .map(|month| erasure_due(&platform.retention, class, *month)),
                months: months.iter().map(Month::to_string).collect(),
            }
        })
        .collect();
    let mut destructions = platform.store.key_destructions()?;
    destructions.reverse();
    destructions.truncate(50);
    Ok(PrivacyStatus {
        classes,
        subjects: ring.ids("s.")?.len(),
        destructions,
    })
}

/// What a sweep erased.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct SweepResult {
    /// The period keys destroyed (`p.<class>.<yyyymm>`).
    pub destroyed: Vec<String>,
    /// Log sequence number of the destruction, when there was one.
    pub seq: Option<u64>,
}

/// Destroys the period keys whose months are past their class's retention as of `now`:
/// records the destruction (log and audit trail, one batch), then destroys them. Blocking.
pub fn sweep(
    platform: &Platform,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<SweepResult, AppError> {
    let ring = ring(platform)?;
    let due: Vec<(Class, Month)> = period_keys(ring)?
        .into_iter()
        .filter(|(class, month)| erasure_due(&platform.retention, *class, *month) <= now)
        .collect();
    if due.is_empty() {
        return Ok(SweepResult::default());
    }
    let detail = Class::ALL
        .into_iter()
        .filter_map(|class| {
            let months: Vec<String> = due
                .iter()
                .filter(|(held, _)| *held == class)
                .map(|(_, month)| month.to_string())
                .collect();
            (!months.is_empty()).then(|| {
                format!(
                    "{}（保存 {} 天）：{}",
                    class.label(),
                    platform.retention.days(class),
                    months.join("、")
                )
            })
        })
        .collect::<Vec<_>>()
        .join("；");
    let keys: Vec<String> = due
        .iter()
        .map(|(class, month)| hcp_core::keyring::period_key_id(*class, *month))
        .collect();
    let (seq, _) = record(
        platform,
        actor,
        KeyDestruction {
            reason: ErasureReason::Retention,
            keys: keys.clone(),
            detail: format!("保存期满删除：{detail}"),
        },
    )?;
    ring.destroy(&keys)?;
    tracing::info!(keys = keys.len(), %detail, "personal data past its retention erased");
    Ok(SweepResult {
        destroyed: keys,
        seq: Some(seq),
    })
}

/// An administrator of the whole city runs the sweep now. Blocking.
pub fn sweep_now(platform: &Platform, principal: &Principal) -> Result<SweepResult, AppError> {
    platform.scope().ensure_city(
        principal,
        &[Role::Admin],
        "personal data is erased for the whole city",
    )?;
    sweep(platform, &principal.username, platform.clock.now())
}

/// The background sweep: runs [`sweep`] when `retention.sweep_hours` have passed since it last
/// looked (on the platform clock), logging what went wrong. Blocking.
pub fn sweep_when_due(platform: &Platform, now: DateTime<Utc>) {
    let every = platform.retention.sweep_hours;
    if every == 0 {
        return;
    }
    {
        let mut checked = platform
            .retention_checked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if checked.is_some_and(|last| now < last + Duration::hours(i64::from(every))) {
            return;
        }
        *checked = Some(now);
    }
    if let Err(error) = sweep(platform, SWEEP_ACTOR, now) {
        tracing::warn!(%error, "retention sweep failed; it runs again at the next check");
        if let Ok(mut checked) = platform.retention_checked.lock() {
            *checked = None;
        }
    }
}

/// The destruction and its audit entry, in one batch; their sequence numbers.
fn record(
    platform: &Platform,
    actor: &str,
    destruction: KeyDestruction,
) -> Result<(u64, u64), AppError> {
    let entry = AuditEntry {
        actor: actor.to_string(),
        action: match destruction.reason {
            ErasureReason::Retention => "pii_retention_erased".into(),
            ErasureReason::Request => "pii_subject_erased".into(),
        },
        target: destruction.keys.join(","),
        detail: destruction.detail.clone(),
    };
    let outcomes = platform.store.submit(vec![
        Command::DestroyKeys {
            actor: actor.to_string(),
            destruction,
        },
        Command::Audit { entry },
    ])?;
    match outcomes.as_slice() {
        [Outcome::Recorded { seq }, Outcome::Recorded { seq: audit }] => Ok((*seq, *audit)),
        other => Err(AppError::Internal(format!(
            "destruction not recorded: {other:?}"
        ))),
    }
}

/// A data subject's request to erase their personal data.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErasureRequest {
    /// The mobile number the person gave (11 digits).
    #[serde(default)]
    #[schema(max_length = 32)]
    pub phone: Option<String>,
    /// The ID number, for ratings that gave one and no phone.
    #[serde(default)]
    #[schema(max_length = 32)]
    pub id_number: Option<String>,
    /// The request's reference (申请编号) or how it came in; kept in the audit trail.
    #[schema(max_length = 2000)]
    pub reference: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErasureResult {
    /// Whether anything was held under the numbers given (sealed since the key ring).
    pub held: bool,
    /// Subject keys destroyed (one per number given that was held).
    pub destroyed: usize,
    /// Log sequence number of the audit entry (and the destruction before it, when `held`).
    pub audit_seq: u64,
}

/// Erases every personal value sealed under the numbers given: the name, phone and ID number of
/// the person's ratings, their number on service acts, complaints and messages. The request is
/// recorded in the audit trail whether or not anything was held. Blocking.
pub fn erase_subject(
    platform: &Platform,
    principal: &Principal,
    request: &ErasureRequest,
) -> Result<ErasureResult, AppError> {
    platform.scope().ensure_city(
        principal,
        &[Role::Admin],
        "a person's data is erased for the whole city",
    )?;
    let phone = request
        .phone
        .as_deref()
        .map(str::trim)
        .filter(|phone| !phone.is_empty());
    let id_number = request
        .id_number
        .as_deref()
        .map(str::trim)
        .filter(|id| !id.is_empty());
    if let Some(phone) = phone
        && !crate::app::contact::is_mobile_number(phone)
    {
        return Err(AppError::invalid_field(
            "phone",
            "expected an 11-digit mobile number",
        ));
    }
    if let Some(id) = id_number
        && !(id.len() == 18
            && id
                .chars()
                .all(|c| c.is_ascii_digit() || c == 'X' || c == 'x'))
    {
        return Err(AppError::invalid_field(
            "id_number",
            "expected an 18-character ID number",
        ));
    }
    if phone.is_none() && id_number.is_none() {
        return Err(AppError::invalid_field(
            "phone",
            "give the phone number or the ID number to erase",
        ));
    }
    if request.reference.trim().is_empty() {
        return Err(AppError::invalid_field(
            "reference",
            "say which request this is (its reference or how it came in)",
        ));
    }
    let pii = platform.store.pii();
    let ring = ring(platform)?;
    let mut keys = Vec::new();
    for number in [phone, id_number].into_iter().flatten() {
        let id = subject_key_id(&pii.subject_id(number));
        // A ring out of reach is an error, never "nothing held".
        match ring.key_for_opening(&id) {
            Ok(_) => keys.push(id),
            Err(hcp_core::pii::PiiError::Erased { .. }) => {}
            Err(error) => return Err(error.into()),
        }
    }
    let masked: Vec<String> = [
        phone.map(|phone| hcp_core::pii::PiiKind::Phone.mask(phone)),
        id_number.map(|id| hcp_core::pii::PiiKind::IdNumber.mask(id)),
    ]
    .into_iter()
    .flatten()
    .collect();
    let detail = format!(
        "本人申请删除（{}）：{}；{}",
        request.reference.trim(),
        masked.join("、"),
        if keys.is_empty() {
            "未持有其个人信息".to_string()
        } else {
            format!("销毁密钥 {} 个", keys.len())
        }
    );
    let audit_seq = if keys.is_empty() {
        let entry = AuditEntry {
            actor: principal.username.clone(),
            action: "pii_subject_erased".into(),
            target: String::new(),
            detail,
        };
        match platform.store.submit_one(Command::Audit { entry })? {
            Outcome::Recorded { seq } => seq,
            other => {
                return Err(AppError::Internal(format!(
                    "audit entry not recorded: {other:?}"
                )));
            }
        }
    } else {
        let (_, audit) = record(
            platform,
            &principal.username,
            KeyDestruction {
                reason: ErasureReason::Request,
                keys: keys.clone(),
                detail,
            },
        )?;
        ring.destroy(&keys)?;
        audit
    };
    Ok(ErasureResult {
        held: !keys.is_empty(),
        destroyed: keys.len(),
        audit_seq,
    })
}
