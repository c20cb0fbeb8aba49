//! Ratings: one asked for by id as its reader may see it, an evaluator revealed for a call-back
//! (audited first), and walks over the ratings filed under a unit, shared by reports, analysis
//! and the public disclosure.

use std::ops::ControlFlow;

use chrono::NaiveDate;
use hcp_core::auth::Principal;
use hcp_core::calendar::local_date;
use hcp_core::event::AuditEntry;
use hcp_core::model::{Rating, SealedField};
use hcp_core::pii::PiiKind;
use hcp_core::store::{Command, Dim, Outcome, RatingQuery, Store};
use hcp_core::validate::Reason;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppError;
use crate::app::platform::Platform;

/// A rating asked for by id: within the principal's scope, and of an earlier day unless the
/// role sees live ratings; 404 otherwise. Blocking.
pub fn load_visible(
    platform: &Platform,
    principal: &Principal,
    id: u64,
) -> Result<Rating, AppError> {
    let today = local_date(platform.clock.now());
    let rating = platform
        .store
        .read_fresh(|store| store.rating(id))?
        .filter(|rating| principal.role.sees_live_ratings() || local_date(rating.rated_at) < today);
    platform
        .scope()
        .found(principal, rating, format!("rating {id}"))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RevealedEvaluator {
    pub rating_id: u64,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub id_number: Option<String>,
    /// The fields that were given and are erased (past their retention, or at the evaluator's
    /// request): `name`, `phone`, `id_number`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub erased: Vec<String>,
    /// Log sequence number of the audit entry that recorded this reveal.
    pub audit_seq: u64,
}

/// Opens the personal data of a rating's evaluator, for a call-back. The reveal and its reason
/// are recorded durably in the audit trail before anything is opened. Blocking.
pub fn reveal_evaluator(
    platform: &Platform,
    principal: &Principal,
    id: u64,
    reason: &str,
) -> Result<RevealedEvaluator, AppError> {
    // What the schema documents (`\S[\s\S]*\S`, 2 to 200 characters), with `\s` as JSON
    // Schema's patterns read it (ECMAScript): Rust's `trim` also strips U+0085, which they do
    // not count as space.
    let count = reason.chars().count();
    let edges = [reason.chars().next(), reason.chars().last()];
    if !(2..=200).contains(&count) || edges.into_iter().flatten().any(ecma_space) {
        return Err(AppError::BadRequest(
            "reason must have 2 to 200 characters and begin and end with a visible one".into(),
        ));
    }
    let reason = reason.to_string();
    let rating = load_visible(platform, principal, id)?;
    if !rating.evaluator.real_name {
        return Err(AppError::Unprocessable(Reason {
            code: "anonymous_rating".into(),
            message: format!("rating {id} is anonymous: it keeps no personal data to reveal"),
        }));
    }
    let outcome = platform.store.submit_one(Command::Audit {
        entry: AuditEntry {
            actor: principal.username.clone(),
            action: "reveal_evaluator".into(),
            target: format!("rating:{id}"),
            detail: reason,
        },
    })?;
    // A reveal is audited anew each time: anything but a new entry is a fault.
    let audit_seq = match outcome {
        Outcome::Recorded { seq } => seq,
        other => {
            return Err(AppError::Internal(format!(
                "audit entry not recorded: {other:?}"
            )));
        }
    };
    let pii = platform.store.pii();
    let mut erased = Vec::new();
    let mut open = |kind, name: &str, field: &Option<SealedField>| -> Result<_, AppError> {
        let Some(field) = field else { return Ok(None) };
        let plain = pii.open_kept(kind, field)?;
        if plain.is_none() {
            erased.push(name.to_string());
        }
        Ok(plain)
    };
    let evaluator = &rating.evaluator;
    let name = open(PiiKind::Name, "name", &evaluator.name)?;
    let phone = open(PiiKind::Phone, "phone", &evaluator.phone)?;
    let id_number = open(PiiKind::IdNumber, "id_number", &evaluator.id_number)?;
    Ok(RevealedEvaluator {
        rating_id: id,
        name,
        phone,
        id_number,
        erased,
        audit_seq,
    })
}

/// Whether `c` is white space as the patterns of the OpenAPI document (ECMAScript `\s`) read
/// it.
fn ecma_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// Takes the first ratings (追评 left out) filed under a unit in a range, only the 差评 when
/// `bad_only`, newest first and page by page, until `take` breaks off; `Break` when it did.
/// Blocking.
pub fn each_first_rating(
    store: &Store,
    dim: Dim,
    unit: &str,
    (from, to): (NaiveDate, NaiveDate),
    bad_only: bool,
    mut take: impl FnMut(Rating) -> Result<ControlFlow<()>, AppError>,
) -> Result<ControlFlow<()>, AppError> {
    let mut cursor = None;
    loop {
        let page = store.ratings(&RatingQuery {
            dim,
            unit: unit.to_string(),
            from,
            to,
            level: None,
            channel: None,
            bad_only,
            real_name_only: false,
            cursor,
            limit: 500,
        })?;
        for rating in page.items {
            if rating.assess_number == 1 && take(rating)?.is_break() {
                return Ok(ControlFlow::Break(()));
            }
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(ControlFlow::Continue(())),
        }
    }
}

/// A rating's comment as its evaluator wrote it (an anonymous one's evaluator already struck):
/// `None` when it has none or it was erased (past the retention of free text, or its writer's
/// erasure). Blocking.
pub fn comment(platform: &Platform, rating: &Rating) -> Result<Option<String>, AppError> {
    opened(platform.store.pii(), rating)
}

fn opened(pii: &hcp_core::pii::PiiKey, rating: &Rating) -> Result<Option<String>, AppError> {
    match &rating.text {
        Some(text) => Ok(pii.open_text(text)?),
        None => Ok(None),
    }
}

/// The comments of ratings still held, for the hot words, and how many were erased.
pub struct Comments {
    texts: Vec<(u64, String)>,
    pub erased: u64,
}

impl Comments {
    /// Opens the comments of `ratings` (blank ones left out). Blocking.
    pub fn of(pii: &hcp_core::pii::PiiKey, ratings: &[Rating]) -> Result<Comments, AppError> {
        let mut comments = Comments {
            texts: Vec::new(),
            erased: 0,
        };
        for rating in ratings.iter().filter(|rating| rating.text.is_some()) {
            match opened(pii, rating)? {
                Some(text) if !text.trim().is_empty() => comments.texts.push((rating.id, text)),
                Some(_) => {}
                None => comments.erased += 1,
            }
        }
        Ok(comments)
    }

    pub fn borrowed(&self) -> Vec<hcp_core::analysis::Comment<'_>> {
        self.texts
            .iter()
            .map(|(rating_id, text)| hcp_core::analysis::Comment {
                rating_id: *rating_id,
                text,
            })
            .collect()
    }
}
