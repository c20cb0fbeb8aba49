//! A citizen's phone number, confirmed before the platform texts it. Anyone may post an intake
//! without signing in and give any number; were that number texted the tracking link, a script
//! could make the platform text whomever it liked. So the number a citizen gives is not put on
//! the order: it is sent one 6-digit code (a few a day per number at most, see
//! [`crate::app::limits::PhoneCodes`]), and only when the code is posted back through the
//! citizen's own tracking link does the order take the number (`contact_confirmed`) and the
//! platform text it. Numbers that staff type in (taking a call) are on the order at once.

use hcp_core::model::SealedField;
use hcp_core::outreach::{MessageChannel, MessageInput, MessagePurpose};
use hcp_core::store::{Command, LoopCommand};
use hcp_core::workflow::OrderChange;
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppError;
use crate::app::limits::{CodeCheck, code_digest_input};
use crate::app::platform::Platform;

/// What the keyed digest of a number is for (see [`hcp_core::pii::PiiKey::keyed_digest`]).
const NUMBER_DIGEST: &str = "phone number";
/// What the keyed digest of a code is for.
const CODE_DIGEST: &str = "phone code";

/// What became of the number an intake gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PhoneState {
    /// Taken in by staff: the platform texts it the tracking link.
    Confirmed,
    /// A citizen's: a code was sent to it; nothing else is texted to it until the code is
    /// posted back.
    CodeSent,
    /// A citizen's, but the number had all its codes of the day: nothing is texted to it.
    NotSent,
}

/// The number of an intake, masked, and what to do to confirm it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PhoneStatus {
    pub state: PhoneState,
    /// `139****5678`.
    pub masked: String,
    /// Where to post `{"code": "123456"}` (`code_sent` only).
    pub confirm_url: Option<String>,
    /// How long the code is valid, in seconds (`code_sent` only).
    pub expires_in_seconds: Option<u64>,
}

impl PhoneStatus {
    pub fn confirmed(contact: &SealedField) -> PhoneStatus {
        PhoneStatus {
            state: PhoneState::Confirmed,
            masked: contact.masked.clone(),
            confirm_url: None,
            expires_in_seconds: None,
        }
    }
}

/// The text of a confirmation SMS.
fn code_text(code: &str, order_id: u64, minutes: u64) -> String {
    format!(
        "【政务服务好差评】验证码{code}，{minutes}分钟内有效。您提交的诉求已登记为工单{order_id}，输入验证码后，办理进度将以短信告知您。如非本人操作，请忽略本短信。"
    )
}

/// Sends the confirmation code of `contact` (the sealed `phone`) for work order `order_id`,
/// unless the number had all its codes of the day. The order is recorded already: a code that
/// cannot be queued is logged and answered as not sent, never as a failed intake (which its
/// sender would post again). Blocking.
pub fn send_code(
    platform: &Platform,
    order_id: u64,
    contact: SealedField,
    phone: &str,
) -> PhoneStatus {
    let not_sent = PhoneStatus {
        state: PhoneState::NotSent,
        masked: contact.masked.clone(),
        confirm_url: None,
        expires_in_seconds: None,
    };
    match queue_code(platform, order_id, contact, phone) {
        Ok(Some(status)) => status,
        Ok(None) => {
            tracing::warn!(
                order = order_id,
                "a number given at the intake had all its confirmation codes of the day"
            );
            not_sent
        }
        Err(error) => {
            tracing::error!(order = order_id, %error, "the confirmation code could not be queued");
            not_sent
        }
    }
}

/// Queues the code of `contact` for `order_id`; `None` when the number had all its codes of
/// the day.
fn queue_code(
    platform: &Platform,
    order_id: u64,
    contact: SealedField,
    phone: &str,
) -> Result<Option<PhoneStatus>, AppError> {
    let pii = platform.store.pii();
    let codes = &platform.limits.phone_codes;
    if codes
        .allow(&pii.keyed_digest(NUMBER_DIGEST, phone))
        .is_err()
    {
        return Ok(None);
    }
    let masked = contact.masked.clone();
    let code = format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32));
    let ttl = codes.ttl();
    codes.keep(
        order_id,
        contact.clone(),
        pii.keyed_digest(CODE_DIGEST, &code_digest_input(order_id, &code)),
    );
    platform.record(Command::Loop(LoopCommand::QueueMessage {
        actor: "system".into(),
        message: MessageInput {
            channel: MessageChannel::Sms,
            purpose: MessagePurpose::Confirmation,
            subject: format!("order:{order_id}"),
            to: contact,
            text: code_text(&code, order_id, (ttl.as_secs() / 60).max(1)),
        },
    }))?;
    Ok(Some(PhoneStatus {
        state: PhoneState::CodeSent,
        masked,
        confirm_url: Some(format!(
            "{}/api/v1/track/{}/confirm-phone",
            platform.messages.public_url.trim_end_matches('/'),
            pii.tracking_token(order_id)
        )),
        expires_in_seconds: Some(ttl.as_secs()),
    }))
}

/// A number confirmed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConfirmedPhone {
    pub order_id: u64,
    /// `139****5678`: from now on it gets the order's messages.
    pub masked: String,
}

/// The code posted through the tracking link `token`: right, the order takes the number it was
/// sent to; wrong, 422 with the attempts left; wrong too often, 409 and the number stays
/// unconfirmed. Blocking.
pub fn confirm(platform: &Platform, token: &str, code: &str) -> Result<ConfirmedPhone, AppError> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(AppError::invalid_field(
            "code",
            "the 6 digits of the code sent by SMS",
        ));
    }
    let order = crate::app::tokens::order_of_tracking_token(platform, token)?;
    let digest = platform
        .store
        .pii()
        .keyed_digest(CODE_DIGEST, &code_digest_input(order.id, code));
    match platform.limits.phone_codes.check(order.id, &digest) {
        CodeCheck::Confirmed(contact) => {
            let masked = contact.masked.clone();
            crate::app::orders::change(
                platform,
                crate::app::orders::CITIZEN,
                order.id,
                OrderChange::ContactConfirmed { contact },
                None,
            )?;
            Ok(ConfirmedPhone {
                order_id: order.id,
                masked,
            })
        }
        CodeCheck::Wrong { left } => Err(AppError::invalid_field(
            "code",
            format!("not the code sent; {left} attempts left"),
        )),
        CodeCheck::Locked => Err(AppError::Conflict(
            "the code was entered wrongly too often: the number stays unconfirmed and is not texted".into(),
        )),
        CodeCheck::NoCode => Err(AppError::Conflict(
            "no code waits for this order: none was sent, or it expired or was used".into(),
        )),
    }
}

/// An 11-digit mainland mobile number (starting with 1): what a citizen may give to be called
/// back, texted, or erased by.
pub fn is_mobile_number(phone: &str) -> bool {
    phone.len() == 11 && phone.starts_with('1') && phone.bytes().all(|byte| byte.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_text_says_what_it_is_for_and_how_long() {
        let text = code_text("012345", 42, 10);
        assert!(
            text.starts_with("【政务服务好差评】验证码012345，10分钟内有效"),
            "{text}"
        );
        assert!(text.contains("工单42"), "{text}");
        assert!(
            !text.contains("http"),
            "no link before the number is confirmed: {text}"
        );
    }
}
