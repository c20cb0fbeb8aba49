//! The web console, served at `/console/` from the assets embedded when `hcp` was built
//! (`server/build.rs`). Hashed assets (`assets/…`) are cached for a year; `index.html` is
//! revalidated, and any path under `/console/` that is not a file is the single-page app's own
//! route, answered with `index.html`.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// `(path under dist, bytes, gzip of the bytes when smaller)`.
type Asset = (&'static str, &'static [u8], Option<&'static [u8]>);

static ASSETS: &[Asset] = include!(concat!(env!("OUT_DIR"), "/console_assets.rs"));

/// The console's policy: scripts and styles from here only (Element Plus sets inline style
/// attributes, so styles allow them; no inline script runs), images from here and `data:`, the
/// API and the live counters from here, no framing.
pub const CONSOLE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|(name, _, _)| *name == path)
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("ttf") => "font/ttf",
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

const NOT_BUILT: &str = "<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><title>控制台未构建</title><p>控制台未随本程序构建。请在源码目录运行 <code>make build</code>（或 <code>make console</code> 后重新编译 hcp）。</p><p>The console was not built into this binary: run <code>make build</code>.</p></html>";

/// `GET /console` and everything under it.
pub async fn serve(request: Request) -> Response {
    let path = request.uri().path();
    let rest = path
        .strip_prefix("/console")
        .unwrap_or("")
        .trim_start_matches('/');
    if path == "/console" {
        return (
            StatusCode::PERMANENT_REDIRECT,
            [(header::LOCATION, "/console/")],
        )
            .into_response();
    }
    let gzip_ok = request
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|part| part.trim().starts_with("gzip")));
    let (name, asset, fallback) = match find(rest) {
        Some(asset) if !rest.is_empty() => (rest, asset, false),
        _ => {
            // A file-like path that is not there is a 404, not the app.
            let last = rest.rsplit('/').next().unwrap_or("");
            if rest.starts_with("assets/") || last.contains('.') {
                return (StatusCode::NOT_FOUND, "no such console file").into_response();
            }
            match find("index.html") {
                Some(asset) => ("index.html", asset, true),
                None => {
                    return (
                        StatusCode::SERVICE_UNAVAILABLE,
                        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                        NOT_BUILT,
                    )
                        .into_response();
                }
            }
        }
    };
    let (_, bytes, gzip) = asset;
    let mut response = match (gzip, gzip_ok) {
        (Some(gzip), true) => {
            let mut response = axum::body::Body::from(*gzip).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            response
        }
        _ => axum::body::Body::from(*bytes).into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(name)),
    );
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    let cache = if name.starts_with("assets/") && !fallback {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

/// Whether the console's assets were built into this binary.
pub fn built() -> bool {
    find("index.html").is_some()
}
