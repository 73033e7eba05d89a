//! The framework-free half of a web adapter: what a request's head says
//! about its caller.
//!
//! An adapter implements [`RequestHead`] over its own request type and calls
//! [`resolve`] once per request; it then only has to store the
//! [`Resolution`], answer [`Resolution::reject`] at once when set, and add
//! the rotated session cookie to the response. The rules live here, once,
//! so every adapter reads credentials, enforces CSRF and builds login
//! redirects identically:
//!
//! - `Authorization` (Bearer or Basic, scheme case-insensitive) decides on
//!   its own; the session cookie is read only when there is none. Two
//!   `Authorization` headers, an empty or non-token68 bearer token, bad
//!   base64 or UTF-8 in Basic, or an unknown scheme are `invalid_request`.
//!   Tokens and session ids in the query string or path are never read.
//! - A cookie-authenticated unsafe request needs a CSRF token bound to the
//!   session id it presented, and passes the `Sec-Fetch-Site` / `Origin`
//!   checks. A role change rotates the session on that same request; the
//!   token is still checked against the presented id.
//! - Basic credentials on an unsafe request get the provenance check
//!   (browsers replay cached Basic credentials cross-site, like cookies).
//! - [`RequestPolicy::csrf_exempt`] paths (login forms, which run before a
//!   session exists) need no token but keep the provenance check, whatever
//!   credentials come with the request.
//! - [`RequestPolicy::without_session_cookie`] paths (token login,
//!   registration, refresh, reset) never read the cookie, so a stale cookie
//!   neither authenticates them nor makes them demand a CSRF token.
//!
//! After [`resolve`], the adapter keeps [`Resolution::into_state`] in the
//! request; its extractors and guards ask the [`RequestState`]
//! ([`RequestState::authenticated`], [`RequestState::check`], …) and turn
//! the [`Rejection`] they may get into their framework's response with
//! [`AuthError::response`]. Which error a route answers, and when it is a
//! login redirect instead, is decided here, so it cannot differ between
//! adapters.
//!
//! ```
//! use tessera_core::auth::request::{RequestHead, RequestPolicy, resolve};
//! use tessera_core::auth::{Auth, AuthError};
//! use tessera_core::jwt::{JwtKey, JwtKeySet};
//! use tessera_core::password::{Argon2Hasher, Argon2Params, Password, PasswordPool};
//!
//! /// A framework's request head, reduced to what tessera reads.
//! struct Head {
//!     method: &'static str,
//!     path: &'static str,
//!     headers: Vec<(&'static str, Vec<u8>)>,
//! }
//!
//! impl RequestHead for Head {
//!     fn method(&self) -> &str { self.method }
//!     fn path(&self) -> &str { self.path }
//!     fn path_and_query(&self) -> &str { self.path }
//!     fn header_values(&self, name: &str) -> impl Iterator<Item = &[u8]> {
//!         self.headers.iter().filter(move |(n, _)| *n == name).map(|(_, v)| v.as_slice())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = Auth::builder()
//!     .in_memory()
//!     .jwt_keys(JwtKeySet::new(JwtKey::generate_ed25519(Some("k1"))?, vec![])?)
//!     .secret_key([7u8; 32])
//!     .issuer("https://auth.example.com")
//!     .audience("https://api.example.com")
//!     .public_origin("https://app.example.com")
//!     .role_scopes("user", ["notes:read"])
//!     .password_pool(PasswordPool::builder().hasher(Argon2Hasher::new(Argon2Params::new(1024, 1, 1))?).build()?)
//!     .build()?;
//! let password = Password::new("correct horse battery");
//! auth.register("alice@example.com", &password).await?;
//! let tokens = auth.login("alice@example.com", &password, None).await?;
//! let policy = RequestPolicy::new();
//!
//! let bearer = format!("Bearer {}", tokens.access_token);
//! let head = Head { method: "GET", path: "/notes", headers: vec![("authorization", bearer.into_bytes())] };
//! let resolution = resolve(&auth, &policy, &head).await;
//! assert!(resolution.identity.is_some_and(|id| id.has_scope("notes:read")));
//!
//! // Malformed credentials are an error, never anonymous.
//! let head = Head { method: "GET", path: "/notes", headers: vec![("authorization", b"Bearer ".to_vec())] };
//! let resolution = resolve(&auth, &policy, &head).await;
//! assert!(resolution.identity.is_none());
//! assert!(matches!(resolution.error, Some(AuthError::InvalidRequest(_))));
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeSet;

use base64ct::{Base64, Encoding};

use crate::auth::{Auth, AuthError};
use crate::authz::Requirement;
use crate::csrf::CsrfRequest;
use crate::identity::{Credentials, Identity};
use crate::password::Password;
use crate::session::{Session, SessionId};
use crate::throttle::{Client, TrustedProxies};

/// A read-only view of a request's head, implemented by each adapter over
/// its framework's request type.
pub trait RequestHead {
    /// The method, as sent (`"POST"`; compared case-sensitively).
    fn method(&self) -> &str;
    /// The path the router matches, without the query string. It decides
    /// whether a [`RequestPolicy::csrf_exempt`] path applies, so it must be
    /// the same string the router dispatched on: axum routes on the raw
    /// path (`Uri::path`), actix-web on the percent-decoded one
    /// (`match_info().as_str()`, not `ServiceRequest::path`). Reporting the
    /// raw path to an adapter whose router decodes would let
    /// `/session/log%69n` reach the login handler unmatched, without its
    /// provenance check.
    fn path(&self) -> &str;
    /// The path and query string, as sent (`"/"` when there is none).
    fn path_and_query(&self) -> &str;
    /// Every value of the header `name` (lower case), in order.
    fn header_values(&self, name: &str) -> impl Iterator<Item = &[u8]>;
    /// The address of the connection's other end, when the server knows
    /// it. Without it only per-account throttling applies to the request.
    fn peer_addr(&self) -> Option<std::net::IpAddr> {
        None
    }
}

/// The adapter-independent settings of the request resolution.
#[derive(Clone, Debug, Default)]
pub struct RequestPolicy {
    login_page: Option<String>,
    csrf_exempt: BTreeSet<String>,
    without_cookie: BTreeSet<String>,
    trusted_proxies: TrustedProxies,
}

impl RequestPolicy {
    /// API mode, no exempt paths.
    pub fn new() -> Self {
        Self::default()
    }

    /// Browser mode: HTML requests (`Accept: text/html`) that need an
    /// identity and have none are redirected to `login_page` with the
    /// requested path as `next`, instead of 401.
    #[must_use]
    pub fn browser_login_page(mut self, login_page: &str) -> Self {
        self.login_page = Some(login_page.to_owned());
        self
    }

    /// Paths whose unsafe requests are checked for provenance (`Origin`,
    /// `Sec-Fetch-Site`) but need no CSRF token: login forms and other
    /// routes that authenticate by their body.
    #[must_use]
    pub fn csrf_exempt<I, S>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.csrf_exempt.extend(paths.into_iter().map(Into::into));
        self
    }

    /// Proxies whose `X-Forwarded-For` is believed when they are the
    /// connection's peer; none by default (the header is ignored). See
    /// [`TrustedProxies::client_address`].
    #[must_use]
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.trusted_proxies = proxies;
        self
    }

    /// The client of `request`: its peer's address, or behind a trusted
    /// proxy the right-most `X-Forwarded-For` hop no trusted proxy added.
    pub fn client<H: RequestHead>(&self, request: &H) -> Client {
        match request.peer_addr() {
            Some(peer) => Client::at(
                self.trusted_proxies
                    .client_address(peer, request.header_values("x-forwarded-for")),
            ),
            None => {
                static WARNED: std::sync::atomic::AtomicBool =
                    std::sync::atomic::AtomicBool::new(false);
                if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    tracing::warn!(
                        target: "tessera::auth",
                        "the server does not say who the client is: per-address throttling is off \
                         (see the adapter's docs on the peer address)"
                    );
                }
                Client::unknown()
            }
        }
    }

    /// Paths that never authenticate by the session cookie (token login,
    /// registration, refresh, password reset: their body carries what they
    /// need). The cookie is not read there, so neither a CSRF token nor a
    /// same-origin request is required; `Authorization` still is read.
    #[must_use]
    pub fn without_session_cookie<I, S>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.without_cookie
            .extend(paths.into_iter().map(Into::into));
        self
    }
}

/// What [`resolve`] learnt about a request.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Resolution {
    /// The caller, if the credentials resolved to one.
    pub identity: Option<Identity>,
    /// Why the credentials did not resolve: the answer for a route that
    /// needs an identity (bad credentials are never anonymous).
    pub error: Option<AuthError>,
    /// The session the cookie named, for cookie-authenticated requests.
    pub session: Option<Session>,
    /// The session got a new id on this request (a role change): the
    /// response must carry its cookie, rejections included.
    pub rotated: bool,
    /// A rejection to answer at once, whatever the route (a CSRF or
    /// provenance failure).
    pub reject: Option<AuthError>,
    /// Browser mode: where to send an HTML request that needs an identity.
    pub login_redirect: Option<String>,
    /// The client, for the handlers' throttled calls
    /// ([`Auth::from_client`]).
    pub client: Client,
}

impl Resolution {
    /// The `Set-Cookie` value to add to the response when the session was
    /// rotated on this request; see [`handler_set_session_cookie`] for when
    /// to leave it out.
    pub fn rotated_cookie(&self, auth: &Auth) -> Option<String> {
        self.session
            .as_ref()
            .filter(|_| self.rotated)
            .map(|session| auth.sessions().cookie(session).header_value())
    }

    /// What extractors and guards need, to keep in the request.
    pub fn into_state(self) -> RequestState {
        RequestState {
            identity: self.identity,
            error: self.error,
            session: self.session,
            login_redirect: self.login_redirect,
            client: self.client,
        }
    }
}

/// Whether a handler's response already sets the session cookie (a login,
/// logout or password change): then it knows better than a rotation, and
/// the adapter must not add [`Resolution::rotated_cookie`]. `set_cookies` are
/// the response's `Set-Cookie` values.
pub fn handler_set_session_cookie<'a>(
    auth: &Auth,
    set_cookies: impl IntoIterator<Item = &'a [u8]>,
) -> bool {
    let name = auth.sessions().cookie_settings().name().as_bytes();
    set_cookies.into_iter().any(|value| {
        value
            .strip_prefix(name)
            .is_some_and(|rest| rest.starts_with(b"="))
    })
}

/// What a request's credentials resolved to, kept in the request for its
/// extractors and guards (adapters store it in their request extensions).
#[derive(Clone, Debug, Default)]
pub struct RequestState {
    identity: Option<Identity>,
    error: Option<AuthError>,
    session: Option<Session>,
    login_redirect: Option<String>,
    client: Client,
}

impl RequestState {
    /// The client the request came from (for [`Auth::from_client`]).
    pub fn client(&self) -> Client {
        self.client
    }

    /// The identity, if the credentials resolved to one.
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    /// Why the credentials did not resolve, if they were bad.
    pub fn error(&self) -> Option<&AuthError> {
        self.error.as_ref()
    }

    /// The session the cookie named, for cookie-authenticated requests.
    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    /// The identity, for a route that needs one. Without one: the
    /// credentials' own error, or `unauthenticated`; a login redirect in
    /// browser mode when there were no credentials or the session ended.
    ///
    /// # Errors
    /// The [`Rejection`] to answer.
    pub fn authenticated(&self) -> Result<&Identity, Rejection> {
        if let Some(identity) = &self.identity {
            return Ok(identity);
        }
        Err(match &self.error {
            Some(error) => Rejection {
                login_redirect: matches!(error, AuthError::SessionEnded)
                    .then(|| self.login_redirect.clone())
                    .flatten(),
                error: error.clone(),
            },
            None => Rejection {
                error: AuthError::Unauthenticated,
                login_redirect: self.login_redirect.clone(),
            },
        })
    }

    /// The identity if there is one, `None` for a request without
    /// credentials; bad credentials are still refused (a request with a bad
    /// token is never treated as anonymous).
    ///
    /// # Errors
    /// The [`Rejection`] for bad credentials.
    pub fn optional(&self) -> Result<Option<&Identity>, Rejection> {
        match (&self.identity, &self.error) {
            (None, None) => Ok(None),
            _ => self.authenticated().map(Some),
        }
    }

    /// An identity that entered a password recently; `fresh_login_required`
    /// otherwise.
    ///
    /// # Errors
    /// The [`Rejection`] to answer.
    pub fn fresh(&self) -> Result<&Identity, Rejection> {
        let identity = self.authenticated()?;
        if identity.fresh {
            Ok(identity)
        } else {
            Err(AuthError::FreshLoginRequired.into())
        }
    }

    /// The identity, checked against `requirement`: 401 without one, 403
    /// for a missing role or scope (an empty requirement denies), 401
    /// `fresh_login_required` for a stale one.
    ///
    /// # Errors
    /// The [`Rejection`] to answer.
    pub fn check(&self, requirement: &Requirement) -> Result<&Identity, Rejection> {
        let identity = self.authenticated()?;
        requirement
            .check(identity)
            .map_err(|denied| AuthError::Denied(denied).into())
            .map(|()| identity)
    }
}

/// A refused request: the error, or in browser mode the login page to send
/// an HTML request to (`303 See Other`) instead.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Rejection {
    /// Why.
    pub error: AuthError,
    /// Browser mode: answer `303 See Other` to this location instead.
    pub login_redirect: Option<String>,
}

impl From<AuthError> for Rejection {
    fn from(error: AuthError) -> Self {
        Self {
            error,
            login_redirect: None,
        }
    }
}

/// Reads the request's credentials once, resolves them through `auth` and
/// applies the CSRF rules; see the [module docs](self).
///
/// The future is `Send` when `H` is `Sync` (axum's request parts), and
/// still usable on single-threaded runtimes when it is not (actix-web's
/// `ServiceRequest`).
pub async fn resolve<H: RequestHead>(
    auth: &Auth,
    policy: &RequestPolicy,
    request: &H,
) -> Resolution {
    let mut out = Resolution {
        login_redirect: login_redirect(policy, request),
        client: policy.client(request),
        ..Resolution::default()
    };
    let exempt = policy.csrf_exempt.contains(request.path());
    if exempt && let Err(error) = check_provenance(auth, request) {
        out.reject = Some(error);
        return out;
    }
    // The iterator must not live across an await: the future stays `Send`.
    let (first, second) = {
        let mut authorization = request.header_values("authorization");
        (authorization.next(), authorization.next())
    };
    match (first, second) {
        (Some(_), Some(_)) => {
            out.error = Some(AuthError::InvalidRequest("several Authorization headers"));
        }
        (Some(value), None) => match parse_authorization(value) {
            Ok(credentials) => {
                if matches!(credentials, Credentials::Basic { .. })
                    && let Err(error) = check_provenance(auth, request)
                {
                    out.reject = Some(error);
                    return out;
                }
                match auth
                    .from_client(out.client)
                    .authenticate(&credentials)
                    .await
                {
                    Ok(identity) => out.identity = identity,
                    Err(error) => out.error = Some(error),
                }
            }
            Err(error) => out.error = Some(error),
        },
        (None, _) if policy.without_cookie.contains(request.path()) => {}
        (None, _) => {
            let name = auth.sessions().cookie_settings().name();
            if let Some(cookie) = find_cookie(request.header_values("cookie"), name) {
                match auth.authenticate_session(cookie).await {
                    Ok(Some(resolved)) => {
                        out.rotated = resolved.rotated;
                        out.identity = Some(resolved.identity);
                        out.session = Some(resolved.session);
                    }
                    Ok(None) => {}
                    Err(error) => out.error = Some(error),
                }
                if !exempt
                    && out.session.is_some()
                    && let Err(error) = check_csrf(auth, request, SessionId::parse(cookie))
                {
                    out.reject = Some(error);
                }
            }
        }
    }
    out
}

/// The CSRF check for a request whose cookie named a live, logged-in
/// session, against the id the client presented.
fn check_csrf<H: RequestHead>(
    auth: &Auth,
    request: &H,
    presented: Option<SessionId>,
) -> Result<(), AuthError> {
    let base = CsrfRequest::new(request.method())
        .token(header_str(request, "x-csrf-token"))
        .origin(header_str(request, "origin"))
        .sec_fetch_site(header_str(request, "sec-fetch-site"));
    let result = match &presented {
        Some(id) => auth.csrf().check(&base.session(id)),
        None => auth.csrf().check(&base.cookie_without_session()),
    };
    result.map_err(|e| {
        tracing::info!(
            target: "tessera::audit",
            event = "csrf.refused",
            method = request.method(),
            reason = %e,
            "CSRF check failed"
        );
        AuthError::Csrf(e)
    })
}

fn check_provenance<H: RequestHead>(auth: &Auth, request: &H) -> Result<(), AuthError> {
    if matches!(request.method(), "GET" | "HEAD") {
        return Ok(());
    }
    let csrf = CsrfRequest::new(request.method())
        .origin(header_str(request, "origin"))
        .sec_fetch_site(header_str(request, "sec-fetch-site"));
    auth.csrf().check_provenance(&csrf).map_err(|e| {
        tracing::info!(
            target: "tessera::audit",
            event = "csrf.refused",
            method = request.method(),
            reason = %e,
            "request from another origin refused"
        );
        AuthError::Csrf(e)
    })
}

/// The first value of header `name`, if it is visible ASCII.
fn header_str<'a, H: RequestHead>(request: &'a H, name: &str) -> Option<&'a str> {
    request
        .header_values(name)
        .next()
        .and_then(|v| std::str::from_utf8(v).ok())
        .filter(|v| v.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b)))
}

/// Reads an `Authorization` header value. The scheme is case-insensitive
/// (RFC 9110); one or more spaces separate it from the credentials
/// (RFC 6750 §2.1); a bearer token must be a token68.
///
/// # Errors
/// [`AuthError::InvalidRequest`] for anything malformed.
pub fn parse_authorization(value: &[u8]) -> Result<Credentials, AuthError> {
    let value = std::str::from_utf8(value)
        .ok()
        .filter(|v| v.bytes().all(|b| (b' '..=b'~').contains(&b)))
        .ok_or(AuthError::InvalidRequest(
            "Authorization is not visible ASCII",
        ))?;
    let (scheme, rest) = value.split_once(' ').ok_or(AuthError::InvalidRequest(
        "Authorization without credentials",
    ))?;
    let credentials = rest.trim_start_matches(' ');
    if credentials.is_empty() || credentials.contains(' ') {
        return Err(AuthError::InvalidRequest("empty or malformed credentials"));
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        let token68 = credentials.trim_end_matches('=').bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        });
        if !token68 {
            return Err(AuthError::InvalidRequest("bearer token is not a token68"));
        }
        return Ok(Credentials::Bearer(credentials.to_owned()));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = Base64::decode_vec(credentials)
            .map_err(|_| AuthError::InvalidRequest("Basic is not base64"))?;
        let decoded = String::from_utf8(decoded)
            .map_err(|_| AuthError::InvalidRequest("Basic is not UTF-8"))?;
        let (login, password) = decoded
            .split_once(':')
            .ok_or(AuthError::InvalidRequest("Basic has no ':'"))?;
        return Ok(Credentials::Basic {
            login: login.to_owned(),
            password: Password::new(password),
        });
    }
    Err(AuthError::InvalidRequest("unknown Authorization scheme"))
}

/// The value of cookie `name`, from the first `Cookie` header that has it.
///
/// Only ASCII space and tab surround a pair, and a pair with any byte
/// outside visible ASCII is skipped: a planted cookie named
/// `"\u{a0}__Host-…"` must not pass for the `__Host-` cookie (browsers only
/// protect names that start with exactly `__Host-`).
fn find_cookie<'a>(values: impl Iterator<Item = &'a [u8]>, name: &str) -> Option<&'a str> {
    values
        .flat_map(|value| value.split(|&b| b == b';'))
        .map(|pair| pair.trim_ascii_start().trim_ascii_end())
        .filter(|pair| pair.iter().all(|b| (b' '..=b'~').contains(b)))
        .filter_map(|pair| std::str::from_utf8(pair).ok())
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
}

fn login_redirect<H: RequestHead>(policy: &RequestPolicy, request: &H) -> Option<String> {
    let page = policy.login_page.as_ref()?;
    let html = header_str(request, "accept").is_some_and(|accept| accept.contains("text/html"));
    if !html {
        return None;
    }
    let next = request.path_and_query();
    // "//host" would read as another site wherever `next` is used unchecked.
    let next = if next.starts_with("//") { "/" } else { next };
    Some(format!("{page}?next={}", percent_encode(next)))
}

fn percent_encode(value: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            // Writing to a `String` cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Result<Credentials, AuthError> {
        parse_authorization(value.as_bytes())
    }

    /// G1 and G7 at the parser.
    #[test]
    fn authorization_parsing() {
        assert!(
            matches!(parse("Bearer abc.def-ghi_jkl"), Ok(Credentials::Bearer(t)) if t == "abc.def-ghi_jkl")
        );
        assert!(matches!(parse("bearer abc"), Ok(Credentials::Bearer(_))));
        assert!(matches!(parse("BEARER  abc"), Ok(Credentials::Bearer(t)) if t == "abc"));
        for bad in [
            "Bearer",
            "Bearer ",
            "Bearer  ",
            "Bearer a b",
            "Bearer a\"b",
            "Bearer a\tb",
            "Token abc",
            "Basic",
            "Basic !!!",
            "Basic YWJj",
            "abc",
        ] {
            assert!(
                matches!(parse(bad), Err(AuthError::InvalidRequest(_))),
                "{bad:?}"
            );
        }
        let basic = Base64::encode_string(b"alice@example.com:pa:ss");
        match parse(&format!("Basic {basic}")).unwrap() {
            Credentials::Basic { login, password } => {
                assert_eq!(login, "alice@example.com");
                assert_eq!(password.expose_secret(), "pa:ss");
            }
            other => panic!("{other:?}"),
        }
        let not_utf8 = Base64::encode_string(b"\xff\xfe:x");
        assert!(matches!(
            parse(&format!("Basic {not_utf8}")),
            Err(AuthError::InvalidRequest(_))
        ));
        assert!(matches!(
            parse_authorization(b"Bearer \xff"),
            Err(AuthError::InvalidRequest(_))
        ));
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let headers: [&[u8]; 2] = [b"x=\xff", b"a=1; __Host-tessera_session=abc; b=2"];
        assert_eq!(
            find_cookie(headers.into_iter(), "__Host-tessera_session"),
            Some("abc")
        );
        assert_eq!(find_cookie(headers.into_iter(), "tessera_session"), None);
        // A look-alike name (non-breaking space, or other non-ASCII bytes)
        // is skipped, not trimmed into the real name; the real cookie in
        // the same header is still found.
        let planted = "\u{a0}__Host-tessera_session=attacker; __Host-tessera_session=victim";
        assert_eq!(
            find_cookie([planted.as_bytes()].into_iter(), "__Host-tessera_session"),
            Some("victim")
        );
        let alone = "\u{a0}__Host-tessera_session=attacker";
        assert_eq!(
            find_cookie([alone.as_bytes()].into_iter(), "__Host-tessera_session"),
            None
        );
        assert_eq!(
            find_cookie(
                [&b"\t__Host-tessera_session=x "[..]].into_iter(),
                "__Host-tessera_session"
            ),
            Some("x")
        );
    }

    /// `resolve` is `Send` whenever the request head is `Sync` (what axum
    /// and other multi-threaded servers need); this only has to compile.
    #[allow(dead_code, reason = "a compile-time check")]
    fn resolve_is_send_for_sync_heads<H: RequestHead + Sync>(
        auth: &Auth,
        policy: &RequestPolicy,
        head: &H,
    ) -> impl std::future::Future<Output = Resolution> + Send {
        resolve(auth, policy, head)
    }

    fn identity(fresh: bool) -> Identity {
        Identity {
            subject: crate::users::UserId::new("u1"),
            roles: ["user".to_owned()].into(),
            scopes: ["notes:read".to_owned()].into(),
            method: crate::identity::AuthMethod::Jwt,
            token_id: None,
            family: None,
            fresh,
            authenticated_at: None,
        }
    }

    /// Which error a route answers is decided here, once for every adapter.
    #[test]
    fn request_state_answers() {
        let anonymous = RequestState::default();
        assert!(matches!(anonymous.optional(), Ok(None)));
        let rejection = anonymous.authenticated().unwrap_err();
        assert!(matches!(rejection.error, AuthError::Unauthenticated));
        assert_eq!(rejection.login_redirect, None);

        let browser = RequestState {
            login_redirect: Some("/login?next=/x".into()),
            ..RequestState::default()
        };
        assert_eq!(
            browser
                .authenticated()
                .unwrap_err()
                .login_redirect
                .as_deref(),
            Some("/login?next=/x")
        );
        // An ended session redirects too; a bad token never does.
        let ended = RequestState {
            error: Some(AuthError::SessionEnded),
            ..browser.clone()
        };
        assert!(ended.optional().unwrap_err().login_redirect.is_some());
        let bad_token = RequestState {
            error: Some(AuthError::InvalidToken),
            ..browser
        };
        let rejection = bad_token.optional().unwrap_err();
        assert!(matches!(rejection.error, AuthError::InvalidToken));
        assert_eq!(rejection.login_redirect, None);

        let stale = RequestState {
            identity: Some(identity(false)),
            ..RequestState::default()
        };
        assert!(stale.optional().unwrap().is_some());
        assert!(matches!(
            stale.fresh().unwrap_err().error,
            AuthError::FreshLoginRequired
        ));
        assert!(stale.check(&Requirement::scope("notes:read")).is_ok());
        assert!(matches!(
            stale
                .check(&Requirement::scope("Notes:read"))
                .unwrap_err()
                .error,
            AuthError::Denied(crate::authz::Denied::MissingScope(_))
        ));
        assert!(matches!(
            stale.check(&Requirement::any_of([])).unwrap_err().error,
            AuthError::Denied(crate::authz::Denied::Empty)
        ));
        assert!(matches!(
            stale.check(&Requirement::Fresh).unwrap_err().error,
            AuthError::Denied(crate::authz::Denied::NotFresh)
        ));
        let fresh = RequestState {
            identity: Some(identity(true)),
            ..RequestState::default()
        };
        assert!(fresh.fresh().is_ok());
    }

    #[test]
    fn next_is_percent_encoded_and_never_protocol_relative() {
        assert_eq!(percent_encode("/a b?c=d&e"), "/a%20b%3Fc%3Dd%26e");
        struct Head(&'static str);
        impl RequestHead for Head {
            fn method(&self) -> &str {
                "GET"
            }
            fn path(&self) -> &str {
                self.0
            }
            fn path_and_query(&self) -> &str {
                self.0
            }
            fn header_values(&self, name: &str) -> impl Iterator<Item = &[u8]> {
                (name == "accept").then_some(&b"text/html"[..]).into_iter()
            }
        }
        let policy = RequestPolicy::new().browser_login_page("/login");
        assert_eq!(
            login_redirect(&policy, &Head("//evil.example/x")).as_deref(),
            Some("/login?next=/")
        );
        assert_eq!(
            login_redirect(&policy, &Head("/notes?page=2")).as_deref(),
            Some("/login?next=/notes%3Fpage%3D2")
        );
        assert_eq!(login_redirect(&RequestPolicy::new(), &Head("/x")), None);
    }
}
