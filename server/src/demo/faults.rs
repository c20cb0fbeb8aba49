//! Faults the demo can be asked to suffer, to show what the platform does then. `POST
//! /demo/faults/committer` (an administrator) makes the store's committer panic on the next
//! rating it records, as a bug in the rules glue would: the writers waiting are answered 503,
//! `/readyz` fails, and the process ends with status 70 saying why, for its supervisor to start
//! it again. Only in the demo build; a production build has no way to do this.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use hcp_core::auth::Permission;
use hcp_core::event::PolicyDecision;
use hcp_core::model::{Rating, RatingFacts};
use hcp_core::store::Decider;
use serde_json::{Value, json};

use crate::app::platform::Platform;
use crate::http::extract::Json;
use crate::http::{ApiError, Auth};

pub fn routes() -> Router<Platform> {
    Router::new().route("/demo/faults/committer", post(committer))
}

/// The decider put in place of the rules' one: it panics on the first rating it is asked about.
struct Panics;

impl Decider for Panics {
    fn decide(
        &self,
        _rating: &Rating,
        _comment: Option<&str>,
        _facts: &RatingFacts,
    ) -> Vec<PolicyDecision> {
        panic!("the demo's committer fault (POST /demo/faults/committer)");
    }
}

async fn committer(
    State(platform): State<Platform>,
    auth: Auth,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.require(Permission::Administer)?;
    tracing::warn!(actor = %auth.0.username, "the demo's committer fault is armed");
    platform.store.set_decider(Arc::new(Panics));
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "armed": true,
            "note": "the next rating recorded makes the store's committer panic; the process then exits with status 70",
        })),
    ))
}
