//! The layer that resolves a request's credentials once.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tessera_core::auth::Auth;
use tessera_core::auth::request::{
    RequestHead, RequestPolicy, RequestState, handler_set_session_cookie, resolve,
};
use tessera_core::session::Session;
use tessera_core::throttle::TrustedProxies;
use tower::{Layer, Service};

use crate::rejection::AuthRejection;

/// What the layer learnt about a request, in its extensions: the core's
/// [`RequestState`], which decides every extractor's and guard's answer.
pub type AuthState = RequestState;

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

    /// Proxies whose `X-Forwarded-For` is believed; none by default. The
    /// client address (for per-address throttling) is the connection's
    /// peer, which axum knows when served with
    /// `into_make_service_with_connect_info::<SocketAddr>()`.
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.policy = Arc::new(self.policy.as_ref().clone().trusted_proxies(proxies));
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
            let mut resolution = resolve(&auth, &policy, &Head(&parts)).await;
            let rotated_cookie = resolution
                .rotated_cookie(&auth)
                .and_then(|cookie| HeaderValue::from_str(&cookie).ok());
            if let Some(error) = resolution.reject.take() {
                let mut response = AuthRejection::new(error).into_response();
                // A rotation already happened: the client needs the new id.
                if let Some(cookie) = rotated_cookie {
                    response.headers_mut().append(header::SET_COOKIE, cookie);
                }
                return Ok(response);
            }
            parts.extensions.insert(resolution.into_state());
            let mut response = inner.call(Request::from_parts(parts, body)).await?;
            if let Some(cookie) = rotated_cookie {
                let set_cookies = response.headers().get_all(header::SET_COOKIE);
                if !handler_set_session_cookie(&auth, set_cookies.iter().map(HeaderValue::as_bytes))
                {
                    response.headers_mut().append(header::SET_COOKIE, cookie);
                }
            }
            Ok(response)
        })
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

    fn peer_addr(&self) -> Option<std::net::IpAddr> {
        self.0
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip())
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
