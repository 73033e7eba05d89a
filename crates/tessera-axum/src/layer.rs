//! The layer that resolves a request's credentials once.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use base64ct::{Base64, Encoding};
use tessera_core::auth::{Auth, AuthError};
use tessera_core::csrf::CsrfRequest;
use tessera_core::identity::{Credentials, Identity};
use tessera_core::password::Password;
use tessera_core::session::{Session, SessionId};
use tower::{Layer, Service};

use crate::rejection::AuthRejection;

/// What the layer learnt about a request, in its extensions.
#[derive(Clone, Debug, Default)]
pub struct AuthState {
    pub(crate) identity: Option<Identity>,
    pub(crate) error: Option<StoredError>,
    pub(crate) session: Option<Session>,
    pub(crate) login_redirect: Option<String>,
}

impl AuthState {
    /// The identity, if the request's credentials resolved to one.
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    /// The session the cookie named, for cookie-authenticated requests.
    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    /// The rejection for a request that needed an identity and has none:
    /// the credentials' own error, or `unauthenticated` (a redirect to the
    /// login page in browser mode).
    pub(crate) fn rejection(&self) -> AuthRejection {
        match &self.error {
            Some(error) => {
                let error = error.to_error();
                let redirect = matches!(error, AuthError::SessionEnded)
                    .then(|| self.login_redirect.clone())
                    .flatten();
                AuthRejection::new(error).redirect_to(redirect)
            }
            None => AuthRejection::new(AuthError::Unauthenticated)
                .redirect_to(self.login_redirect.clone()),
        }
    }
}

/// An `AuthError` kept in request extensions (which need `Clone`).
#[derive(Clone, Debug)]
pub(crate) enum StoredError {
    InvalidRequest(&'static str),
    InvalidToken,
    InvalidBasic,
    SessionEnded,
    Unavailable(String),
}

impl StoredError {
    fn from_error(error: AuthError) -> Self {
        match error {
            AuthError::InvalidRequest(what) => Self::InvalidRequest(what),
            AuthError::InvalidToken => Self::InvalidToken,
            AuthError::InvalidBasic | AuthError::InvalidCredentials => Self::InvalidBasic,
            AuthError::SessionEnded => Self::SessionEnded,
            other => Self::Unavailable(other.to_string()),
        }
    }

    pub(crate) fn to_error(&self) -> AuthError {
        match self {
            Self::InvalidRequest(what) => AuthError::InvalidRequest(what),
            Self::InvalidToken => AuthError::InvalidToken,
            Self::InvalidBasic => AuthError::InvalidBasic,
            Self::SessionEnded => AuthError::SessionEnded,
            Self::Unavailable(why) => AuthError::Unavailable(why.clone()),
        }
    }
}

/// Resolves credentials and enforces CSRF for cookie-authenticated unsafe
/// requests; see the crate docs.
#[derive(Clone, Debug)]
pub struct AuthLayer {
    auth: Auth,
    config: Arc<Config>,
}

#[derive(Clone, Debug, Default)]
struct Config {
    login_page: Option<String>,
    csrf_exempt: BTreeSet<String>,
}

impl AuthLayer {
    /// A layer resolving credentials through `auth`.
    pub fn new(auth: Auth) -> Self {
        Self {
            auth,
            config: Arc::new(Config::default()),
        }
    }

    /// Browser mode: HTML requests (`Accept: text/html`) that need an
    /// identity and have none are redirected to `login_page` with the
    /// requested path as `next`, instead of 401.
    pub fn browser_login_page(mut self, login_page: &str) -> Self {
        Arc::make_mut(&mut self.config).login_page = Some(login_page.to_owned());
        self
    }

    /// Paths whose unsafe requests are checked for provenance (`Origin`,
    /// `Sec-Fetch-Site`) but need no CSRF token: login forms, which run
    /// before a session exists.
    pub fn csrf_exempt<I, S>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Arc::make_mut(&mut self.config)
            .csrf_exempt
            .extend(paths.into_iter().map(Into::into));
        self
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            auth: self.auth.clone(),
            config: self.config.clone(),
        }
    }
}

/// The service of [`AuthLayer`].
#[derive(Clone, Debug)]
pub struct AuthService<S> {
    inner: S,
    auth: Auth,
    config: Arc<Config>,
}

impl<S> Service<Request> for AuthService<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The clone that was polled ready is the one that serves.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let auth = self.auth.clone();
        let config = self.config.clone();
        Box::pin(async move {
            // `Body` is not `Sync`: resolve on the parts alone.
            let (mut parts, body) = request.into_parts();
            let resolved = resolve(&auth, &config, &parts).await;
            let rotated_cookie = resolved.rotated.then(|| {
                resolved
                    .state
                    .session
                    .as_ref()
                    .map(|s| session_cookie(&auth, s))
            });
            if let Some(rejection) = resolved.reject_now {
                let mut response = rejection.into_response();
                // A rotation already happened: the client needs the new id.
                if let Some(Some(cookie)) = rotated_cookie {
                    response.headers_mut().append(header::SET_COOKIE, cookie);
                }
                return Ok(response);
            }
            parts.extensions.insert(resolved.state);
            parts.extensions.insert(auth.clone());
            let mut response = inner.call(Request::from_parts(parts, body)).await?;
            if let Some(Some(cookie)) = rotated_cookie {
                // A handler that set the session cookie itself (login,
                // logout, password change) knows better than the rotation.
                let prefix = format!("{}=", auth.sessions().cookie_settings().name());
                let handler_set_it = response
                    .headers()
                    .get_all(header::SET_COOKIE)
                    .iter()
                    .any(|value| value.as_bytes().starts_with(prefix.as_bytes()));
                if !handler_set_it {
                    response.headers_mut().append(header::SET_COOKIE, cookie);
                }
            }
            Ok(response)
        })
    }
}

struct Resolved {
    state: AuthState,
    rotated: bool,
    reject_now: Option<AuthRejection>,
}

async fn resolve(auth: &Auth, config: &Config, request: &Parts) -> Resolved {
    let headers = &request.headers;
    let mut state = AuthState {
        login_redirect: login_redirect(config, request),
        ..AuthState::default()
    };
    let exempt = config.csrf_exempt.contains(request.uri.path());
    let reject = |state: AuthState, rotated: bool, rejection: AuthRejection| Resolved {
        state,
        rotated,
        reject_now: Some(rejection),
    };
    // Login forms and other exempt routes: provenance is checked whatever
    // credentials come with the request.
    if exempt && let Err(rejection) = check_provenance(auth, request) {
        return reject(state, false, rejection);
    }
    let mut authorization = headers.get_all(header::AUTHORIZATION).iter();
    let (first, second) = (authorization.next(), authorization.next());
    let mut rotated = false;
    match (first, second) {
        (Some(_), Some(_)) => {
            state.error = Some(StoredError::InvalidRequest("several Authorization headers"));
        }
        (Some(value), None) => match parse_authorization(value) {
            Ok(credentials) => {
                // Browsers cache Basic credentials and attach them to
                // cross-site requests, like cookies: check provenance.
                if matches!(credentials, Credentials::Basic { .. })
                    && let Err(rejection) = check_provenance(auth, request)
                {
                    return reject(state, false, rejection);
                }
                match auth.authenticate(&credentials).await {
                    Ok(identity) => state.identity = identity,
                    Err(error) => state.error = Some(StoredError::from_error(error)),
                }
            }
            Err(error) => state.error = Some(StoredError::from_error(error)),
        },
        (None, _) => {
            if let Some(cookie) = find_cookie(headers, auth.sessions().cookie_settings().name()) {
                match auth.authenticate_session(cookie).await {
                    Ok(Some(resolved)) => {
                        rotated = resolved.rotated;
                        state.identity = Some(resolved.identity);
                        state.session = Some(resolved.session);
                    }
                    Ok(None) => {}
                    Err(error) => state.error = Some(StoredError::from_error(error)),
                }
                // The token was made for the id the client presented; a
                // rotation on this very request (a role change) must not
                // make it fail.
                if !exempt
                    && state.session.is_some()
                    && let Err(rejection) = check_csrf(auth, request, SessionId::parse(cookie))
                {
                    return reject(state, rotated, rejection);
                }
            }
        }
    }
    Resolved {
        state,
        rotated,
        reject_now: None,
    }
}

/// The CSRF check for a request whose cookie named a live, logged-in
/// session, against the id the client presented.
fn check_csrf(
    auth: &Auth,
    request: &Parts,
    presented: Option<SessionId>,
) -> Result<(), AuthRejection> {
    let headers = &request.headers;
    let base = CsrfRequest::new(request.method.as_str())
        .token(header_str(headers, "x-csrf-token"))
        .origin(header_str(headers, header::ORIGIN.as_str()))
        .sec_fetch_site(header_str(headers, "sec-fetch-site"));
    let result = match &presented {
        Some(id) => auth.csrf().check(&base.session(id)),
        None => auth.csrf().check(&base.cookie_without_session()),
    };
    result.map_err(|e| {
        tracing::info!(target: "tessera::auth", error = %e, "CSRF check failed");
        AuthRejection::new(AuthError::Csrf(e))
    })
}

fn check_provenance(auth: &Auth, request: &Parts) -> Result<(), AuthRejection> {
    let headers = &request.headers;
    let csrf = CsrfRequest::new(request.method.as_str())
        .origin(header_str(headers, header::ORIGIN.as_str()))
        .sec_fetch_site(header_str(headers, "sec-fetch-site"));
    if request.method == Method::GET || request.method == Method::HEAD {
        return Ok(());
    }
    auth.csrf()
        .check_provenance(&csrf)
        .map_err(|e| AuthRejection::new(AuthError::Csrf(e)))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Reads `Authorization`. The scheme is case-insensitive (RFC 9110); one or
/// more spaces separate it from the credentials (RFC 6750 §2.1).
fn parse_authorization(value: &HeaderValue) -> Result<Credentials, AuthError> {
    let value = value
        .to_str()
        .map_err(|_| AuthError::InvalidRequest("Authorization is not visible ASCII"))?;
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

/// The value of cookie `name`, from any `Cookie` header (the first one).
fn find_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
}

fn login_redirect(config: &Config, request: &Parts) -> Option<String> {
    let page = config.login_page.as_ref()?;
    let html = request
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if !html {
        return None;
    }
    let next = request.uri.path_and_query().map_or("/", |pq| pq.as_str());
    // "//host" would read as another site wherever `next` is used unchecked.
    let next = if next.starts_with("//") { "/" } else { next };
    Some(format!("{page}?next={}", percent_encode(next)))
}

fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The `Set-Cookie` value that carries `session`.
pub fn session_cookie(auth: &Auth, session: &Session) -> HeaderValue {
    let cookie = auth.sessions().cookie(session).header_value();
    // Session ids are base64url and cookie attributes are ASCII.
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The `Set-Cookie` value that clears the session cookie.
pub fn remove_session_cookie(auth: &Auth) -> HeaderValue {
    let cookie = auth.sessions().removal_cookie().header_value();
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Result<Credentials, AuthError> {
        parse_authorization(&HeaderValue::from_str(value).unwrap())
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
            parse_authorization(&HeaderValue::from_bytes(b"Bearer \xff").unwrap()),
            Err(AuthError::InvalidRequest(_))
        ));
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; __Host-tessera_session=abc; b=2"),
        );
        assert_eq!(find_cookie(&headers, "__Host-tessera_session"), Some("abc"));
        assert_eq!(find_cookie(&headers, "tessera_session"), None);
    }
}
