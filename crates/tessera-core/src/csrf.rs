//! Cross-site request forgery protection for cookie-authenticated requests.
//!
//! Three checks, all on by default, for every request that a session
//! cookie authenticates and whose method is not `GET`, `HEAD` or `OPTIONS`:
//!
//! 1. `Sec-Fetch-Site`, when the browser sends it, must be `same-origin` or
//!    `none` (`same-site` only when sibling subdomains are trusted).
//! 2. `Origin`, when sent, must be the service's public origin; `null` is
//!    refused.
//! 3. The request carries the session's CSRF token (header or form field):
//!    an HMAC of the session id under a dedicated, rotatable key. A token
//!    from another session, or one an attacker planted in a cookie, does not
//!    match, and a new session id (login, step-up) makes a new token.
//!
//! Methods are compared case-sensitively, as HTTP methods are: `post`,
//! `get` and `TrAcE` are all "unsafe". Requests authenticated without
//! cookies (bearer tokens, Basic) need none of this: a browser does not
//! attach them on its own.
//!
//! ```
//! use tessera_core::csrf::{Csrf, CsrfRequest};
//! use tessera_core::keys::{HmacKey, HmacKeys};
//! use tessera_core::session::SessionId;
//!
//! let csrf = Csrf::new(HmacKeys::single(HmacKey::generate("csrf-1")?), "https://app.example.com")?;
//! let session = SessionId::generate()?;
//! let token = csrf.token(&session);
//!
//! let request = CsrfRequest::new("POST")
//!     .session(&session)
//!     .token(Some(&token))
//!     .origin(Some("https://app.example.com"))
//!     .sec_fetch_site(Some("same-origin"));
//! assert!(csrf.check(&request).is_ok());
//! assert!(csrf.check(&request.token(None)).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use base64ct::{Base64UrlUnpadded, Encoding};
use url::Url;

use crate::error::ConfigError;
use crate::keys::{HmacKeys, Tag};
use crate::session::SessionId;

/// Header the token is read from by default.
pub const HEADER: &str = "x-csrf-token";
/// Form field the token is read from by default.
pub const FORM_FIELD: &str = "csrf_token";

/// Why a request was refused. The client always gets the same 403
/// `csrf_failed`; the detail is for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CsrfError {
    /// `Sec-Fetch-Site` says the request comes from another site.
    #[error("cross-site request (Sec-Fetch-Site)")]
    CrossSite,
    /// `Origin` is not the service's own (or is `null`).
    #[error("foreign or null Origin")]
    Origin,
    /// The request carries no CSRF token.
    #[error("missing CSRF token")]
    Missing,
    /// The token does not belong to this session.
    #[error("CSRF token does not match the session")]
    Mismatch,
}

/// Issues and checks CSRF tokens, and checks request provenance.
#[derive(Debug, Clone)]
pub struct Csrf {
    keys: HmacKeys,
    origin: String,
    trust_same_site: bool,
}

impl Csrf {
    /// CSRF protection with `keys` (dedicated to CSRF; put a new key first
    /// to rotate) for a service whose public origin is `public_origin`
    /// (scheme, host and port, such as `https://app.example.com`).
    ///
    /// # Errors
    /// [`ConfigError`] when `public_origin` is not an http(s) origin.
    pub fn new(keys: HmacKeys, public_origin: &str) -> Result<Self, ConfigError> {
        let url = Url::parse(public_origin)
            .map_err(|e| ConfigError::invalid("public_origin", e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(ConfigError::invalid(
                "public_origin",
                "must be an http or https origin",
            ));
        }
        Ok(Self {
            keys,
            origin: url.origin().ascii_serialization(),
            trust_same_site: false,
        })
    }

    /// Also accepts `Sec-Fetch-Site: same-site`, from sibling subdomains.
    /// Off by default: a sibling subdomain is often less trusted (user
    /// content, a marketing site).
    pub fn trust_same_site(mut self, trust: bool) -> Self {
        self.trust_same_site = trust;
        self
    }

    /// The origin requests must come from, as browsers serialise it.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The CSRF token of `session`: `<key id>.<base64url HMAC>`. Stable for
    /// the life of the session id; a new id gives a new token.
    pub fn token(&self, session: &SessionId) -> String {
        let tag = self.keys.sign(&Self::input(session));
        format!(
            "{}.{}",
            tag.key_id(),
            Base64UrlUnpadded::encode_string(tag.as_bytes())
        )
    }

    /// Whether `presented` is `session`'s token under any listed key,
    /// compared in constant time.
    pub fn verify_token(&self, session: &SessionId, presented: &str) -> bool {
        // Key ids may contain '.'; the MAC (base64url) never does.
        let Some((key_id, mac)) = presented.rsplit_once('.') else {
            return false;
        };
        let mut bytes = [0u8; 32];
        match Base64UrlUnpadded::decode(mac, &mut bytes) {
            Ok(decoded) if decoded.len() == 32 => {}
            _ => return false,
        }
        self.keys
            .verify(&Self::input(session), &Tag::from_parts(key_id, bytes))
    }

    /// Checks a request; see the module docs for the rules.
    ///
    /// # Errors
    /// The [`CsrfError`] of the first check that failed.
    pub fn check(&self, request: &CsrfRequest<'_>) -> Result<(), CsrfError> {
        if is_safe_method(request.method) || !request.cookie_authenticated() {
            return Ok(());
        }
        self.check_provenance(request)?;
        let token = request
            .token
            .filter(|t| !t.is_empty())
            .ok_or(CsrfError::Missing)?;
        match request.session {
            Some(session) if self.verify_token(session, token) => Ok(()),
            _ => Err(CsrfError::Mismatch),
        }
    }

    /// Only the provenance checks (`Sec-Fetch-Site`, `Origin`), whatever the
    /// method: for a login form, which has no session (and so no token) yet
    /// but must not be posted from another site.
    ///
    /// # Errors
    /// [`CsrfError::CrossSite`] or [`CsrfError::Origin`].
    pub fn check_provenance(&self, request: &CsrfRequest<'_>) -> Result<(), CsrfError> {
        if let Some(site) = request.sec_fetch_site {
            let ok = site == "same-origin"
                || site == "none"
                || (self.trust_same_site && site == "same-site");
            if !ok {
                return Err(CsrfError::CrossSite);
            }
        }
        if let Some(origin) = request.origin
            && origin != self.origin
        {
            return Err(CsrfError::Origin);
        }
        Ok(())
    }

    fn input(session: &SessionId) -> Vec<u8> {
        let mut input = b"tessera/v1/csrf\0".to_vec();
        input.extend_from_slice(session.expose_secret().as_bytes());
        input
    }
}

/// `GET`, `HEAD` and `OPTIONS`, exactly as written.
pub fn is_safe_method(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS")
}

/// What the CSRF check needs from a request. `Debug` hides the token.
#[derive(Clone, Copy)]
#[must_use]
pub struct CsrfRequest<'a> {
    method: &'a str,
    session: Option<&'a SessionId>,
    cookie: bool,
    token: Option<&'a str>,
    origin: Option<&'a str>,
    sec_fetch_site: Option<&'a str>,
}

impl std::fmt::Debug for CsrfRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsrfRequest")
            .field("method", &self.method)
            .field("session", &self.session)
            .field("cookie", &self.cookie)
            .field("token", &self.token.map(|_| "[redacted]"))
            .field("origin", &self.origin)
            .field("sec_fetch_site", &self.sec_fetch_site)
            .finish()
    }
}

impl<'a> CsrfRequest<'a> {
    /// A request with `method` (as received), without a session.
    pub fn new(method: &'a str) -> Self {
        Self {
            method,
            session: None,
            cookie: false,
            token: None,
            origin: None,
            sec_fetch_site: None,
        }
    }

    /// The session the request's cookie authenticated: the request is
    /// cookie-authenticated.
    pub fn session(mut self, session: &'a SessionId) -> Self {
        self.session = Some(session);
        self.cookie = true;
        self
    }

    /// A session cookie was presented but did not resolve to a live session
    /// (the check then refuses any token).
    pub fn cookie_without_session(mut self) -> Self {
        self.cookie = true;
        self
    }

    /// The token from the `X-CSRF-Token` header or the form field.
    pub fn token(mut self, token: Option<&'a str>) -> Self {
        self.token = token;
        self
    }

    /// The `Origin` header.
    pub fn origin(mut self, origin: Option<&'a str>) -> Self {
        self.origin = origin;
        self
    }

    /// The `Sec-Fetch-Site` header.
    pub fn sec_fetch_site(mut self, site: Option<&'a str>) -> Self {
        self.sec_fetch_site = site;
        self
    }

    fn cookie_authenticated(&self) -> bool {
        self.cookie
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::HmacKey;

    fn csrf() -> Csrf {
        Csrf::new(
            HmacKeys::single(HmacKey::new("c1", vec![5; 32]).unwrap()),
            "https://app.example.com",
        )
        .unwrap()
    }

    fn post<'a>(session: &'a SessionId, token: Option<&'a str>) -> CsrfRequest<'a> {
        CsrfRequest::new("POST").session(session).token(token)
    }

    /// D1: a cookie-authenticated unsafe request without a token.
    #[test]
    fn d1_missing_token() {
        let csrf = csrf();
        let session = SessionId::generate().unwrap();
        for method in ["POST", "PUT", "PATCH", "DELETE"] {
            let request = CsrfRequest::new(method).session(&session);
            assert_eq!(csrf.check(&request), Err(CsrfError::Missing), "{method}");
            assert_eq!(
                csrf.check(&request.token(Some(""))),
                Err(CsrfError::Missing)
            );
        }
        let token = csrf.token(&session);
        assert_eq!(csrf.check(&post(&session, Some(&token))), Ok(()));
    }

    /// D2 and D3: another session's token, and a planted value that is not
    /// bound to the victim's session.
    #[test]
    fn d2_d3_tokens_are_bound_to_the_session() {
        let csrf = csrf();
        let a = SessionId::generate().unwrap();
        let b = SessionId::generate().unwrap();
        let token_a = csrf.token(&a);
        assert_eq!(
            csrf.check(&post(&b, Some(&token_a))),
            Err(CsrfError::Mismatch)
        );
        for planted in ["c1.AAAA", "attacker", "c1.", ".", "c1.%%%%"] {
            assert_eq!(
                csrf.check(&post(&a, Some(planted))),
                Err(CsrfError::Mismatch),
                "{planted}"
            );
        }
        // A cookie that resolved to no session has no valid token.
        let request = CsrfRequest::new("POST")
            .cookie_without_session()
            .token(Some(&token_a));
        assert_eq!(csrf.check(&request), Err(CsrfError::Mismatch));
    }

    /// D4: methods are compared as written.
    #[test]
    fn d4_method_case() {
        let csrf = csrf();
        let session = SessionId::generate().unwrap();
        for method in ["post", "TrAcE", "get", "INVALID", "Get", "head"] {
            let request = CsrfRequest::new(method).session(&session);
            assert_eq!(csrf.check(&request), Err(CsrfError::Missing), "{method}");
        }
        for method in ["GET", "HEAD", "OPTIONS"] {
            assert_eq!(
                csrf.check(&CsrfRequest::new(method).session(&session)),
                Ok(())
            );
        }
    }

    /// D5 and D6: `Sec-Fetch-Site`.
    #[test]
    fn d5_d6_sec_fetch_site() {
        let csrf = csrf();
        let session = SessionId::generate().unwrap();
        let token = csrf.token(&session);
        let with = |site| post(&session, Some(&token)).sec_fetch_site(Some(site));
        assert_eq!(csrf.check(&with("cross-site")), Err(CsrfError::CrossSite));
        assert_eq!(csrf.check(&with("same-site")), Err(CsrfError::CrossSite));
        assert_eq!(csrf.check(&with("same-origin")), Ok(()));
        assert_eq!(csrf.check(&with("none")), Ok(()));
        let trusting = csrf.clone().trust_same_site(true);
        assert_eq!(trusting.check(&with("same-site")), Ok(()));
        assert_eq!(
            trusting.check(&with("cross-site")),
            Err(CsrfError::CrossSite)
        );
    }

    /// D7: `Origin: null` and look-alike origins.
    #[test]
    fn d7_origin() {
        let csrf = csrf();
        let session = SessionId::generate().unwrap();
        let token = csrf.token(&session);
        for origin in [
            "null",
            "https://app.example.com.attacker.net",
            "http://app.example.com",
            "https://app.example.com:8443",
            "https://APP.example.com/",
        ] {
            let request = post(&session, Some(&token)).origin(Some(origin));
            assert_eq!(csrf.check(&request), Err(CsrfError::Origin), "{origin}");
        }
        let request = post(&session, Some(&token)).origin(Some("https://app.example.com"));
        assert_eq!(csrf.check(&request), Ok(()));
        // Provenance alone, for the login form.
        let login = CsrfRequest::new("POST").origin(Some("https://evil.example"));
        assert_eq!(csrf.check_provenance(&login), Err(CsrfError::Origin));
    }

    /// D8: a new session id (login) makes a new token; the old one fails.
    #[test]
    fn d8_tokens_rotate_with_the_session_id() {
        let csrf = csrf();
        let before = SessionId::generate().unwrap();
        let after = SessionId::generate().unwrap();
        let t1 = csrf.token(&before);
        let t2 = csrf.token(&after);
        assert_ne!(t1, t2);
        assert_eq!(
            csrf.check(&post(&after, Some(&t1))),
            Err(CsrfError::Mismatch)
        );
        assert_eq!(csrf.check(&post(&after, Some(&t2))), Ok(()));
    }

    /// D10: requests not authenticated by a cookie need no token.
    #[test]
    fn d10_bearer_requests_need_no_token() {
        let csrf = csrf();
        assert_eq!(csrf.check(&CsrfRequest::new("POST")), Ok(()));
        assert_eq!(
            csrf.check(&CsrfRequest::new("DELETE").origin(Some("https://evil.example"))),
            Ok(())
        );
    }

    /// C14: key rotation: old tokens pass while the old key is listed. Key
    /// ids may contain dots.
    #[test]
    fn c14_key_rotation() {
        let old = HmacKey::new("2026.01", vec![1; 32]).unwrap();
        let new = HmacKey::new("2026.06", vec![2; 32]).unwrap();
        let origin = "https://app.example.com";
        let session = SessionId::generate().unwrap();
        let token = Csrf::new(HmacKeys::single(old.clone()), origin)
            .unwrap()
            .token(&session);
        let rotated = Csrf::new(HmacKeys::new(vec![new.clone(), old]).unwrap(), origin).unwrap();
        assert!(rotated.verify_token(&session, &token));
        assert!(rotated.token(&session).starts_with("2026.06."));
        assert!(rotated.verify_token(&session, &rotated.token(&session)));
        let request = CsrfRequest::new("POST")
            .session(&session)
            .token(Some(&token));
        assert!(!format!("{request:?}").contains(&token));
        let dropped = Csrf::new(HmacKeys::single(new), origin).unwrap();
        assert!(!dropped.verify_token(&session, &token));
    }

    #[test]
    fn origins_are_serialised_like_browsers_do() {
        let csrf = Csrf::new(
            HmacKeys::single(HmacKey::new("c", vec![1; 32]).unwrap()),
            "https://App.Example.com:443/path",
        )
        .unwrap();
        assert_eq!(csrf.origin(), "https://app.example.com");
        assert!(
            Csrf::new(
                HmacKeys::single(HmacKey::new("c", vec![1; 32]).unwrap()),
                "file:///x"
            )
            .is_err()
        );
    }
}
