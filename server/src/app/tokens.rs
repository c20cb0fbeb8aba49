//! The citizen's links: the tracking link of a work order and the rating link of an invited
//! service act. Both are keyed with the data folder's personal-data key, so a link names its
//! object and nothing else, and a forged or altered one names none.

use hcp_core::auth;
use hcp_core::pii::PiiKey;

use crate::app::Platform;
use hcp_core::outreach::service_subject;

/// The token of the link that rates one service act: the 32 hex digits of
/// [`PiiKey::rating_token`], the service number in two digits, then the project number in hex.
/// It carries no personal data and nothing is stored for it; a link for another act cannot be
/// made without the key. It works until the act is rated, which the default rating does at the
/// latest, so it lives as long as the act can still be rated.
pub fn rating_token(pii: &PiiKey, project_no: &str, service_number: u8) -> String {
    let mut token = pii.rating_token(&service_subject(project_no, service_number));
    token.push_str(&format!("{service_number:02}"));
    for byte in project_no.as_bytes() {
        token.push_str(&format!("{byte:02x}"));
    }
    token
}

/// The act a rating token names, if the token is genuine.
pub fn act_of_token(pii: &PiiKey, token: &str) -> Option<(String, u8)> {
    // 64 characters of project number at most (the store's limit for identifiers), in hex.
    if token.len() < 36 || token.len() > 34 + 2 * 64 || !token.is_ascii() {
        return None;
    }
    let (proof, rest) = token.split_at(32);
    let (number, project_hex) = rest.split_at(2);
    if !number.bytes().all(|byte| byte.is_ascii_digit()) || project_hex.len() % 2 != 0 {
        return None;
    }
    let service_number: u8 = number.parse().ok().filter(|n| (1..=99).contains(n))?;
    let bytes = (0..project_hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(project_hex.get(at..at + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    let project_no = String::from_utf8(bytes).ok()?;
    let expected = pii.rating_token(&service_subject(&project_no, service_number));
    auth::constant_time_eq(&expected, &proof.to_ascii_lowercase())
        .then_some((project_no, service_number))
}

/// The citizen's link that rates one service act.
pub fn rating_url(platform: &Platform, project_no: &str, service_number: u8) -> String {
    format!(
        "{}/r/{}",
        platform.messages.public_url.trim_end_matches('/'),
        rating_token(platform.store.pii(), project_no, service_number)
    )
}

/// The work order a citizen's tracking token opens; not found for a token of the wrong shape
/// or one that opens none. Blocking.
pub fn order_of_tracking_token(
    platform: &Platform,
    token: &str,
) -> Result<hcp_core::workflow::Order, crate::app::AppError> {
    let unknown = || crate::app::AppError::NotFound("链接无效或已失效".into());
    if token.len() != 32 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(unknown());
    }
    // A link handed out by another node a moment ago is looked for again once caught up.
    platform
        .store
        .read_fresh(|store| store.order_of_token(token))?
        .ok_or_else(unknown)
}

/// The link a citizen follows their bad review with.
pub fn tracking_url(platform: &Platform, order_id: u64) -> String {
    format!(
        "{}/t/{}",
        platform.messages.public_url.trim_end_matches('/'),
        platform.store.pii().tracking_token(order_id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rating_token_names_its_act_and_nothing_else() {
        let key = PiiKey::from_bytes([3; 32]);
        for (project, number) in [("BF-2026-000123", 1), ("办件/甲 01", 99), ("x", 7)] {
            let token = rating_token(&key, project, number);
            assert!(
                token.bytes().all(|byte| byte.is_ascii_hexdigit()),
                "{token}"
            );
            assert_eq!(
                act_of_token(&key, &token),
                Some((project.to_string(), number))
            );
            assert_eq!(act_of_token(&PiiKey::from_bytes([4; 32]), &token), None);
        }
        let token = rating_token(&key, "BF-2026-000123", 1);
        // Another act with the same proof, a changed proof, a cut token, junk.
        let other = format!("{}02{}", &token[..32], &token[34..]);
        let mut flipped = token.clone().into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap_or_default();
        for bad in [
            other.as_str(),
            flipped.as_str(),
            &token[..token.len() - 1],
            &token[..35],
            "",
            "not a token",
            &format!("{}+1{}", &token[..32], &token[34..]),
        ] {
            assert_eq!(act_of_token(&key, bad), None, "{bad}");
        }
    }
}
