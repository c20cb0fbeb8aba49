//! Content types: a payload's `Content-Type` header compared the way HTTP means it.

use crate::types::DecodeError;

/// True when the media type of `content_type` (the part before any `;` parameter, trimmed,
/// compared case-insensitively) is `expected`: `application/json; charset=utf-8` is
/// `application/json`.
pub fn media_type_is(content_type: &str, expected: &str) -> bool {
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    media_type.eq_ignore_ascii_case(expected)
}

/// The `unsupported` error for a content type the adapter does not handle, naming the ones it
/// does.
pub fn unsupported_content_type(content_type: &str, supported: &[&str]) -> DecodeError {
    DecodeError::Unsupported(format!(
        "content type {content_type:?} is not supported (expected {})",
        supported.join(" or ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_and_case_are_ignored() {
        assert!(media_type_is("application/json", "application/json"));
        assert!(media_type_is(
            " Application/JSON ; charset=UTF-8",
            "application/json"
        ));
        assert!(!media_type_is("application/jsonx", "application/json"));
        assert!(!media_type_is("", "application/json"));
    }

    #[test]
    fn unsupported_names_the_supported_types() {
        assert_eq!(
            unsupported_content_type("text/plain", &["application/json"]),
            DecodeError::Unsupported(
                "content type \"text/plain\" is not supported (expected application/json)"
                    .to_owned()
            )
        );
    }
}
