//! Why the starter could not start.

use tessera_core::auth::AuthError;
use tessera_core::error::{ConfigError, StoreError};
use tessera_core::jwt::KeyError;

/// A start-up failure. Requests never produce one: they are answered with
/// the web adapter's rejection type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting is missing, contradictory or unusable.
    #[error("configuration error: {0}")]
    Config(String),
    /// The `Auth` builder refused the configuration.
    #[error("configuration error: {0}")]
    Auth(#[from] ConfigError),
    /// The JWT key cannot be used.
    #[error("JWT key: {0}")]
    Key(#[from] KeyError),
    /// A store could not be reached or migrated.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The administrator account could not be created.
    #[error("administrator account: {0}")]
    Admin(#[source] AuthError),
    /// A file or socket operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Turns an I/O error into [`Error::Io`] with `context`, for
    /// `map_err`.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }

    /// The error and its causes on one line, for a binary's last words; a
    /// cause the message already quotes is not repeated.
    pub fn report(&self) -> String {
        let mut reason = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !reason.ends_with(&cause_text) {
                reason.push_str(": ");
                reason.push_str(&cause_text);
            }
            source = cause.source();
        }
        reason
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_names_every_cause_once() {
        let error = Error::io("cannot listen on 127.0.0.1:1")(std::io::Error::other("denied"));
        assert_eq!(error.report(), "cannot listen on 127.0.0.1:1: denied");
        let error = Error::Admin(AuthError::WeakPassword(
            tessera_core::error::PolicyError::TooShort { min: 8, actual: 3 },
        ));
        assert!(
            error
                .report()
                .starts_with("administrator account: weak password")
        );
    }
}
