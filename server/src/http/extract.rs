//! Extractors that answer a refused request in the one error shape: axum's own `Json`, `Query`,
//! `Path` and `Form`, whose rejections would otherwise answer `text/plain`, wrapped so that
//! every rejection becomes an [`ApiError`]; and the router's answers for unknown routes, wrong
//! methods and anything else that leaves axum as plain text.

use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, OptionalFromRequest, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::ApiError;

/// The status axum chose for a rejection, and its text, as an [`ApiError`].
fn rejected(status: StatusCode, text: String) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(text),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(text),
        status if status.is_server_error() => ApiError::Internal(text),
        _ => ApiError::BadRequest(text),
    }
}

/// A JSON body (`Content-Type: application/json`). Syntax and data errors are 400, a missing
/// content type 415, a body over the limit 413.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Json<T>, ApiError> {
        let route = route(&request);
        let axum::Json(value) =
            <axum::Json<serde_json::Value> as FromRequest<S>>::from_request(request, state)
                .await
                .map_err(|rejection: JsonRejection| {
                    rejected(rejection.status(), rejection.body_text())
                })?;
        capped(route, &value)?;
        typed(value).map(Json)
    }
}

/// An optional JSON body: none without a JSON content type, else as [`Json`].
impl<T, S> OptionalFromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Option<Json<T>>, ApiError> {
        let route = route(&request);
        let value =
            <axum::Json<serde_json::Value> as OptionalFromRequest<S>>::from_request(request, state)
                .await
                .map_err(|rejection: JsonRejection| {
                    rejected(rejection.status(), rejection.body_text())
                })?;
        value
            .map(|axum::Json(value)| {
                capped(route, &value)?;
                typed(value).map(Json)
            })
            .transpose()
    }
}

/// The operation a request was routed to: its method and path template.
fn route(request: &Request) -> Option<(String, String)> {
    let path = request.extensions().get::<MatchedPath>()?;
    Some((
        request.method().as_str().to_string(),
        path.as_str().to_string(),
    ))
}

/// The body's fields within their documented caps ([`super::caps`]).
fn capped(route: Option<(String, String)>, value: &serde_json::Value) -> Result<(), ApiError> {
    let route = route
        .as_ref()
        .map(|(method, path)| (method.as_str(), path.as_str()));
    super::caps::check(route, value)
}

/// A parsed body as the handler's type. A number with a zero fraction (`3.0`) is an integer,
/// as JSON Schema reads it, so an integer field takes it like `3`.
fn typed<T: DeserializeOwned>(mut value: serde_json::Value) -> Result<T, ApiError> {
    integral(&mut value);
    serde_json::from_value(value).map_err(|error| {
        ApiError::BadRequest(format!(
            "Failed to deserialize the JSON body into the target type: {error}"
        ))
    })
}

fn integral(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(number) if !number.is_i64() && !number.is_u64() => {
            if let Some(float) = number.as_f64()
                && float.fract() == 0.0
                && float.abs() < 9.0e15
            {
                // Exact: |float| < 2^53.
                #[allow(clippy::cast_possible_truncation)]
                let whole = float as i64;
                *value = serde_json::Value::from(whole);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(integral),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(integral),
        _ => {}
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Query string parameters; a string that does not parse is 400.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Query<T>, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|rejection: QueryRejection| {
                rejected(rejection.status(), rejection.body_text())
            })
    }
}

/// Path parameters; one that does not parse is 400.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Path<T>, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|rejection: PathRejection| rejected(rejection.status(), rejection.body_text()))
    }
}

/// A form body (`application/x-www-form-urlencoded`), as the citizen pages post it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Form<T>(pub T);

impl<T, S> FromRequest<S> for Form<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Form<T>, ApiError> {
        axum::Form::<T>::from_request(request, state)
            .await
            .map(|axum::Form(value)| Form(value))
            .map_err(|rejection: FormRejection| rejected(rejection.status(), rejection.body_text()))
    }
}

/// The answer for a path no route matches.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}

/// The answer for a route that exists but not with this method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Rewrites what still leaves as plain text with an error status (a raw body over its limit,
/// anything axum or a layer answers by itself) into the one error shape, keeping the status.
pub async fn plain_errors(response: Response) -> Response {
    let status = response.status();
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_none_or(|value| value.starts_with("text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !plain {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, 64 * 1024).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_string(),
        Err(_) => String::new(),
    };
    let error = match status {
        StatusCode::NOT_FOUND => ApiError::NotFound(or(text, "no such route")),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::UNAUTHORIZED => ApiError::Unauthorized,
        status if status.is_server_error() => ApiError::Internal(or(text, status.as_str())),
        status => rejected(
            status,
            or(text, status.canonical_reason().unwrap_or("refused")),
        ),
    };
    let mut rewritten = error.into_response();
    // Keep what the original answer said about the request (e.g. `Allow` on a 405).
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().insert(name.clone(), value.clone());
        }
    }
    *rewritten.status_mut() = status;
    rewritten
}

fn or(text: String, fallback: &str) -> String {
    if text.is_empty() {
        fallback.to_string()
    } else {
        text
    }
}

/// The address a request comes from, as the abuse limits count it (see
/// [`crate::app::limits::Limits::client_address`]): the peer, or behind a trusted proxy the
/// client it forwards for.
#[derive(Debug, Clone)]
pub struct ClientAddr(pub String);

impl FromRequestParts<crate::app::Platform> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        platform: &crate::app::Platform,
    ) -> Result<ClientAddr, ApiError> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip());
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|value| value.to_str().ok());
        Ok(ClientAddr(platform.limits.client_address(peer, forwarded)))
    }
}

/// A citizen's post, made without signing in, within its address's rate
/// ([`crate::app::limits::Limits::public_posts`]): over it, 429 with `Retry-After` before the
/// body is read.
#[derive(Debug, Clone)]
pub struct PublicPost(pub ClientAddr);

impl FromRequestParts<crate::app::Platform> for PublicPost {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        platform: &crate::app::Platform,
    ) -> Result<PublicPost, ApiError> {
        let address = ClientAddr::from_request_parts(parts, platform).await?;
        platform
            .limits
            .public_posts
            .take(&address.0)
            .map_err(|wait| crate::app::limits::too_many("posts from this address", wait))?;
        Ok(PublicPost(address))
    }
}

/// [`PublicPost`] on a route that staff use signed in as well (the intake): a request with an
/// `Authorization` header is not counted, and its handler refuses a credential that is not one.
#[derive(Debug, Clone)]
pub struct AnonymousPost;

impl FromRequestParts<crate::app::Platform> for AnonymousPost {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        platform: &crate::app::Platform,
    ) -> Result<AnonymousPost, ApiError> {
        if !parts.headers.contains_key(header::AUTHORIZATION) {
            PublicPost::from_request_parts(parts, platform).await?;
        }
        Ok(AnonymousPost)
    }
}

/// The public pages' reads (disclosure, tracking, rating links) within their address's rate
/// ([`crate::app::limits::Limits::public_reads`]); over it, 429 with `Retry-After`: a page for
/// a page, the error shape for the API.
pub async fn public_reads(
    axum::extract::State(platform): axum::extract::State<crate::app::Platform>,
    address: ClientAddr,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    match platform.limits.public_reads.take(&address.0) {
        Ok(()) => next.run(request).await,
        Err(wait) if request.uri().path().starts_with("/api/") => {
            crate::app::limits::too_many("reads from this address", wait).into_response()
        }
        Err(wait) => super::outreach::too_many_page(wait),
    }
}
