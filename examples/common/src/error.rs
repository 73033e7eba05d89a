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
}
