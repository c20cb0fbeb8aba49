//! Who may read the operational detail (`/metrics`, the detail of `/readyz`) on the main
//! address: the holder of the operations token of `[ops] token_file`. The operations address
//! (`[ops] listen`) serves them to whoever reaches it, so it is bound where only monitoring can.

use anyhow::Context as _;
use hcp_core::auth;

use crate::app::config::OpsConfig;

/// Fewest characters of an operations token.
pub const MIN_TOKEN_CHARS: usize = 32;

/// The operations token, kept as its hash.
#[derive(Debug, Clone, Default)]
pub struct OpsAccess {
    token_hash: Option<String>,
}

impl OpsAccess {
    /// Reads the token file, when one is configured: its first line, at least
    /// [`MIN_TOKEN_CHARS`] characters. Blocking.
    pub fn load(config: &OpsConfig) -> anyhow::Result<OpsAccess> {
        let Some(path) = &config.token_file else {
            return Ok(OpsAccess::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the operations token {}", path.display()))?;
        let token = text.lines().next().unwrap_or_default().trim();
        anyhow::ensure!(
            token.chars().count() >= MIN_TOKEN_CHARS,
            "the operations token in {} has fewer than {MIN_TOKEN_CHARS} characters",
            path.display()
        );
        Ok(OpsAccess::with_token(token))
    }

    pub fn with_token(token: &str) -> OpsAccess {
        OpsAccess {
            token_hash: Some(auth::api_key_hash(token)),
        }
    }

    /// Whether a token is configured at all.
    pub fn configured(&self) -> bool {
        self.token_hash.is_some()
    }

    /// Whether `presented` is the operations token (compared in constant time).
    pub fn allows(&self, presented: Option<&str>) -> bool {
        match (&self.token_hash, presented) {
            (Some(hash), Some(presented)) => {
                auth::constant_time_eq(&auth::api_key_hash(presented), hash)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_configured_token_opens() {
        let token = "ops-0123456789abcdef0123456789abcdef";
        let access = OpsAccess::with_token(token);
        assert!(access.configured());
        assert!(access.allows(Some(token)));
        assert!(!access.allows(Some("ops-0123456789abcdef0123456789abcdee")));
        assert!(!access.allows(None));
        let none = OpsAccess::default();
        assert!(!none.configured());
        assert!(!none.allows(Some(token)));
        assert!(!none.allows(Some("")));
    }

    #[test]
    fn a_token_file_is_read_and_checked() {
        let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let path = dir.path().join("ops.token");
        std::fs::write(&path, "0123456789abcdef0123456789abcdef\n")
            .unwrap_or_else(|error| panic!("{error}"));
        let config = OpsConfig {
            listen: None,
            token_file: Some(path.clone()),
        };
        let access = OpsAccess::load(&config).unwrap_or_else(|error| panic!("{error}"));
        assert!(access.allows(Some("0123456789abcdef0123456789abcdef")));
        std::fs::write(&path, "short\n").unwrap_or_else(|error| panic!("{error}"));
        let error = OpsAccess::load(&config)
            .err()
            .map(|error| error.to_string());
        assert!(
            error
                .as_deref()
                .is_some_and(|error| error.contains("fewer than 32")),
            "{error:?}"
        );
        let missing = OpsConfig {
            listen: None,
            token_file: Some(dir.path().join("missing")),
        };
        assert!(OpsAccess::load(&missing).is_err());
    }
}
