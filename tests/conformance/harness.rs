//! What every backend provides to the suite.

use std::sync::Arc;

use tessera::async_trait;
use tessera::clock::ManualClock;
use tessera::jwt::Revocations;
use tessera::onetime::OneTimeStore;
use tessera::session::SessionStore;
use tessera::throttle::ThrottleStore;
use tessera::token::{TokenDigest, TokenStore};
use tessera::users::UserStore;

/// One instance's handles on a backend.
#[derive(Clone)]
pub struct Stores {
    pub tokens: Arc<dyn TokenStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub revocations: Arc<dyn Revocations>,
    pub onetime: Arc<dyn OneTimeStore>,
    pub throttle: Arc<dyn ThrottleStore>,
    /// `None` for backends without a user store (Redis).
    pub users: Option<Arc<dyn UserStore>>,
}

/// A backend under test: its storage lives as long as the value.
#[async_trait]
pub trait Backend: Send + Sync {
    /// For messages.
    fn name(&self) -> &'static str;

    /// The clock the stores were built with (Redis computes TTLs from it).
    fn clock(&self) -> &ManualClock;

    /// A new, independent set of handles over the same storage: another
    /// instance of the application.
    async fn stores(&self) -> Stores;

    /// Everything stored, as text (binary columns in hex), for the at-rest
    /// test.
    async fn dump(&self) -> Vec<String>;

    /// Overwrites the session stored under `digest` with undecodable bytes.
    async fn corrupt_session(&self, digest: &TokenDigest);

    /// Handles whose every call first stalls forever (`stall`) or fails
    /// (`!stall`), built with a short store timeout.
    async fn faulty(&self, stall: bool) -> Stores;

    /// Handles that reach the server through a [`Proxy`] the test controls,
    /// built with a short store timeout; `None` for backends without a
    /// server.
    async fn proxied(&self) -> Option<(Stores, crate::proxy::Proxy)> {
        None
    }

    /// Removes what the test stored (schemas, key prefixes, files).
    async fn finish(&self);
}

/// Whether a test that needs `var` must fail rather than skip.
pub fn strict() -> bool {
    std::env::var("TESSERA_TEST_STRICT").is_ok_and(|v| v == "1")
}

/// The value of `var`, or `None` after printing that the test was skipped
/// (a failure in strict mode).
pub fn service_url(var: &str, test: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                !strict(),
                "{var} is not set and TESSERA_TEST_STRICT=1: {test} cannot run"
            );
            println!("skipped {test}: {var} is not set");
            None
        }
    }
}

/// A random hex string for schema names and key prefixes.
pub fn random_name() -> String {
    use tessera::token::TokenId;
    TokenId::generate().expect("randomness").as_str()[..16].to_owned()
}

/// `host:port` of a database URL (`scheme://[user@]host:port/…`).
pub fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, rest)| rest);
    rest.split(['/', '?']).next().unwrap_or(rest).to_owned()
}

/// `url` with its `host:port` replaced by the proxy's.
pub fn via_proxy(url: &str, port: u16) -> String {
    url.replacen(&host_port(url), &format!("127.0.0.1:{port}"), 1)
}
