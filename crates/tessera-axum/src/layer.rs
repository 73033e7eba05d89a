//! The layer that resolves a request's credentials once.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tessera_core::auth::request::{RequestHead, RequestPolicy, Resolution, resolve};
use tessera_core::auth::{Auth, AuthError};
use tessera_core::identity::Identity;
use tessera_core::session::Session;
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
    policy: Arc<RequestPolicy>,
}

impl AuthLayer {
    /// A layer resolving credentials through `auth`.
    pub fn new(auth: Auth) -> Self {
        Self {
            auth,
            policy: Arc::new(RequestPolicy::new()),
        }
    }

    /// Browser mode: HTML requests (`Accept: text/html`) that need an
    /// identity and have none are redirected to `login_page` with the
    /// requested path as `next`, instead of 401.
    pub fn browser_login_page(mut self, login_page: &str) -> Self {
        self.policy = Arc::new(self.policy.as_ref().clone().browser_login_page(login_page));
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
        self.policy = Arc::new(self.policy.as_ref().clone().csrf_exempt(paths));
        self
    }

    /// Paths that never authenticate by the session cookie (token login,
    /// registration, refresh, password reset): the cookie is not read
    /// there, so no CSRF token or same-origin request is needed.
    pub fn without_session_cookie<I, S>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.policy = Arc::new(self.policy.as_ref().clone().without_session_cookie(paths));
        self
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            auth: self.auth.clone(),
            policy: self.policy.clone(),
        }
    }
}

/// The service of [`AuthLayer`].
#[derive(Clone, Debug)]
pub struct AuthService<S> {
    inner: S,
    auth: Auth,
    policy: Arc<RequestPolicy>,
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
        let policy = self.policy.clone();
        Box::pin(async move {
            // `Body` is not `Sync`: resolve on the parts alone.
            let (mut parts, body) = request.into_parts();
            let resolution = resolve(&auth, &policy, &Head(&parts)).await;
            let rotated_cookie = resolution.rotated.then(|| {
                resolution
                    .session
                    .as_ref()
                    .map(|s| session_cookie(&auth, s))
            });
            let (state, reject_now) = AuthState::from_resolution(resolution);
            if let Some(error) = reject_now {
                let mut response = AuthRejection::new(error).into_response();
                // A rotation already happened: the client needs the new id.
                if let Some(Some(cookie)) = rotated_cookie {
                    response.headers_mut().append(header::SET_COOKIE, cookie);
                }
                return Ok(response);
            }
            parts.extensions.insert(state);
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

impl AuthState {
    fn from_resolution(resolution: Resolution) -> (Self, Option<AuthError>) {
        let state = Self {
            identity: resolution.identity,
            error: resolution.error.map(StoredError::from_error),
            session: resolution.session,
            login_redirect: resolution.login_redirect,
        };
        (state, resolution.reject)
    }
}

/// The request head as the core's resolution reads it.
struct Head<'a>(&'a Parts);

impl RequestHead for Head<'_> {
    fn method(&self) -> &str {
        self.0.method.as_str()
    }

    fn path(&self) -> &str {
        self.0.uri.path()
    }

    fn path_and_query(&self) -> &str {
        self.0.uri.path_and_query().map_or("/", |pq| pq.as_str())
    }

    fn header_values(&self, name: &str) -> impl Iterator<Item = &[u8]> {
        self.0
            .headers
            .get_all(name)
            .into_iter()
            .map(HeaderValue::as_bytes)
    }
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
