//! The security headers of every answer, set in one place (a middleware over the whole router,
//! Swagger UI included) rather than by each handler:
//! - a content policy that allows nothing from elsewhere: no script but the one print button's
//!   handler and no style but the pages' own inline styles, each allowed by its hash
//!   ([`PAGE_STYLES`]), no framing (`frame-ancestors 'none'`), forms posting only here; the
//!   browsable API docs (`/docs/`, their assets vendored) get their own, as loose as Swagger UI
//!   needs and no looser;
//! - `X-Frame-Options: DENY`, `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`
//!   (a citizen's link carries its token in the URL, which no referrer may pass on);
//! - `Cache-Control: no-store` and `X-Robots-Tag: noindex` on every answer whose URL carries a
//!   citizen's token ([`carries_token`]), whatever the handler said.

use std::sync::OnceLock;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The inline `<style>` of every page the platform renders; a page with a style not listed here
/// renders unstyled (the end-to-end tests check every page's styles against the policy).
pub const PAGE_STYLES: [&str; 2] = [super::citizen::STYLE, crate::app::reports::PAGE_STYLE];

/// The policy of the browsable API docs: Swagger UI's own scripts and styles from here, the
/// inline styles it sets and the `data:` images of its icons, the OpenAPI document fetched from
/// here.
pub const DOCS_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

/// `'sha256-…'` of `text`, as a content policy names an inline script or style.
fn source_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The policy of every other answer, built once.
pub fn page_policy() -> &'static str {
    static POLICY: OnceLock<String> = OnceLock::new();
    POLICY.get_or_init(|| {
        let styles: Vec<String> = PAGE_STYLES.iter().map(|style| source_hash(style)).collect();
        format!(
            "default-src 'none'; script-src 'unsafe-hashes' {print}; style-src {styles}; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
            print = source_hash(crate::app::reports::PRINT_ONCLICK),
            styles = styles.join(" "),
        )
    })
}

/// Whether a path carries a citizen's token: the tracking page and API (`/t/{token}`,
/// `/api/v1/track/{token}`), the rating page and its post (`/r/{token}`,
/// `/api/v1/public/rate/{token}`) and a window's QR page and its post (`/w/{token}`).
pub fn carries_token(path: &str) -> bool {
    [
        "/t/",
        "/r/",
        "/w/",
        "/api/v1/track/",
        "/api/v1/public/rate/",
    ]
    .iter()
    .any(|prefix| path.starts_with(prefix))
}

fn is_console(path: &str) -> bool {
    path == "/console" || path.starts_with("/console/")
}

fn is_docs(path: &str) -> bool {
    path == "/docs" || path.starts_with("/docs/")
}

/// The policy of an answer that is not a page (JSON, a download): nothing in it may run or be
/// framed. Short, since every ingest answer carries it.
const DATA_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// The four policies as header values, made once.
fn policies() -> &'static [HeaderValue; 4] {
    static VALUES: OnceLock<[HeaderValue; 4]> = OnceLock::new();
    VALUES.get_or_init(|| {
        [
            page_policy(),
            DOCS_POLICY,
            DATA_POLICY,
            super::console::CONSOLE_POLICY,
        ]
        .map(|policy| {
            HeaderValue::from_str(policy).unwrap_or(HeaderValue::from_static(DATA_POLICY))
        })
    })
}

/// Middleware: the security headers of every answer.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let docs = is_docs(path);
    let console = is_console(path);
    let token = carries_token(path);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    let [page, docs_policy, data, console_policy] = policies();
    let policy = if docs {
        docs_policy
    } else if console {
        console_policy
    } else if html {
        page
    } else {
        data
    };
    headers.insert(header::CONTENT_SECURITY_POLICY, policy.clone());
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if token {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            HeaderName::from_static("x-robots-tag"),
            HeaderValue::from_static("noindex"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_the_ones_browsers_compute() {
        // The example of the CSP specification: sha256 of `alert('Hello, world.');`.
        assert_eq!(
            source_hash("alert('Hello, world.');"),
            "'sha256-qznLcsROx4GACP2dm0UCKCzCG+HiZ1guq6ZZDob/Tng='"
        );
        let policy = page_policy();
        for style in PAGE_STYLES {
            assert!(policy.contains(&source_hash(style)), "{policy}");
        }
        assert!(!policy.contains("'unsafe-inline'"), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"));
    }

    #[test]
    fn token_paths() {
        for path in [
            "/t/abc",
            "/r/abc",
            "/w/abc",
            "/api/v1/track/abc",
            "/api/v1/track/abc/evaluation",
            "/api/v1/public/rate/abc",
        ] {
            assert!(carries_token(path), "{path}");
        }
        for path in [
            "/public",
            "/api/v1/public/stats",
            "/docs/",
            "/",
            "/tracking",
        ] {
            assert!(!carries_token(path), "{path}");
        }
    }
}
