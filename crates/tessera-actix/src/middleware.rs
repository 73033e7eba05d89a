//! The middleware that resolves a request's credentials once.

use std::future::{Ready, ready};
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{self, HeaderValue};
use actix_web::{Error, HttpMessage, ResponseError};
use futures_util::future::LocalBoxFuture;
use tessera_core::auth::Auth;
use tessera_core::auth::request::{
    RequestHead, RequestPolicy, handler_set_session_cookie, resolve,
};
use tessera_core::session::Session;
use tessera_core::throttle::TrustedProxies;

use crate::rejection::AuthRejection;

/// Resolves credentials and enforces CSRF for cookie-authenticated unsafe
/// requests; see the crate docs. `.wrap()` it on the `App` (or on a scope
/// that holds every route using the extractors and guards).
#[derive(Clone, Debug)]
pub struct AuthMiddleware {
    auth: Auth,
    policy: Arc<RequestPolicy>,
}

impl AuthMiddleware {
    /// A middleware resolving credentials through `auth`.
    pub fn new(auth: Auth) -> Self {
        Self {
            auth,
            policy: Arc::new(RequestPolicy::new()),
        }
    }

    /// Browser mode: HTML requests (`Accept: text/html`) that need an
    /// identity and have none are redirected to `login_page` with the
    /// requested path as `next`, instead of 401.
    #[must_use]
    pub fn browser_login_page(mut self, login_page: &str) -> Self {
        self.policy = Arc::new(self.policy.as_ref().clone().browser_login_page(login_page));
        self
    }

    /// Paths whose unsafe requests are checked for provenance (`Origin`,
    /// `Sec-Fetch-Site`) but need no CSRF token: login forms, which run
    /// before a session exists. Paths are compared with the percent-decoded
    /// path actix-web routes on.
    #[must_use]
    pub fn csrf_exempt<I, S>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.policy = Arc::new(self.policy.as_ref().clone().csrf_exempt(paths));
        self
    }

    /// Proxies whose `X-Forwarded-For` is believed; none by default (the
    /// client address, for per-address throttling, is then the
    /// connection's peer).
    #[must_use]
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.policy = Arc::new(self.policy.as_ref().clone().trusted_proxies(proxies));
        self
    }

    /// Paths that never authenticate by the session cookie (token login,
    /// registration, refresh, password reset): the cookie is not read
    /// there, so no CSRF token or same-origin request is needed.
    #[must_use]
    pub fn without_session_cookie<I, S>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.policy = Arc::new(self.policy.as_ref().clone().without_session_cookie(paths));
        self
    }
}

impl<S, B> Transform<S, ServiceRequest> for AuthMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = AuthMiddlewareService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(AuthMiddlewareService {
            service: Rc::new(service),
            auth: self.auth.clone(),
            policy: self.policy.clone(),
        }))
    }
}

/// The service of [`AuthMiddleware`].
#[derive(Debug)]
pub struct AuthMiddlewareService<S> {
    service: Rc<S>,
    auth: Auth,
    policy: Arc<RequestPolicy>,
}

impl<S, B> Service<ServiceRequest> for AuthMiddlewareService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let auth = self.auth.clone();
        let policy = self.policy.clone();
        Box::pin(async move {
            let mut resolution = resolve(&auth, &policy, &Head(&request)).await;
            let rotated_cookie = resolution
                .rotated_cookie(&auth)
                .and_then(|cookie| HeaderValue::from_str(&cookie).ok());
            if let Some(error) = resolution.reject.take() {
                let mut response = AuthRejection::new(error).error_response();
                // A rotation already happened: the client needs the new id.
                if let Some(cookie) = rotated_cookie {
                    response.headers_mut().append(header::SET_COOKIE, cookie);
                }
                return Ok(request.into_response(response).map_into_right_body());
            }
            {
                let mut extensions = request.extensions_mut();
                extensions.insert(resolution.into_state());
            }
            let mut response = service.call(request).await?;
            if let Some(cookie) = rotated_cookie {
                let set_cookies = response.headers().get_all(header::SET_COOKIE);
                if !handler_set_session_cookie(&auth, set_cookies.map(HeaderValue::as_bytes)) {
                    response.headers_mut().append(header::SET_COOKIE, cookie);
                }
            }
            Ok(response.map_into_left_body())
        })
    }
}

/// The request head as the core's resolution reads it.
struct Head<'a>(&'a ServiceRequest);

impl RequestHead for Head<'_> {
    fn method(&self) -> &str {
        self.0.method().as_str()
    }

    /// The percent-decoded path actix-web's router matches (not the raw
    /// `ServiceRequest::path`), so that `/session/log%69n` is the exempt
    /// `/session/login` it will be routed to.
    fn path(&self) -> &str {
        self.0.match_info().as_str()
    }

    fn path_and_query(&self) -> &str {
        self.0.uri().path_and_query().map_or("/", |pq| pq.as_str())
    }

    fn header_values(&self, name: &str) -> impl Iterator<Item = &[u8]> {
        self.0.headers().get_all(name).map(HeaderValue::as_bytes)
    }

    fn peer_addr(&self) -> Option<std::net::IpAddr> {
        self.0.peer_addr().map(|addr| addr.ip())
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
