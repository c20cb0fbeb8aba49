//! (being written)

use axum::Router;
use utoipa::OpenApi;

use crate::state::Platform;

#[derive(OpenApi)]
#[openapi(paths())]
pub struct Doc;

pub fn routes() -> Router<Platform> {
    Router::new()
}
