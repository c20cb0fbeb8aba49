//! Reading ratings: one rating as a signed-in user may see it, and walks over the ratings filed
//! under a unit, shared by reports, analysis and the public disclosure.

use std::ops::ControlFlow;

use chrono::NaiveDate;
use hcp_core::auth::Principal;
use hcp_core::calendar::local_date;
use hcp_core::model::Rating;
use hcp_core::store::{Dim, RatingQuery, Store};

use crate::app::{AppError, Platform};

/// A rating the caller asked for by id: within their scope, and rated before today unless
/// their role sees live ratings. Blocking.
pub fn visible(platform: &Platform, principal: &Principal, id: u64) -> Result<Rating, AppError> {
    let today = local_date(platform.clock.now());
    let rating = platform
        .store
        .rating(id)?
        .filter(|rating| principal.role.sees_live_ratings() || local_date(rating.rated_at) < today);
    platform
        .scope()
        .found(principal, rating, format!("rating {id}"))
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
