//! The routes of CONTRACTS.md §1. Each handler does one call into `Auth`
//! and shapes the answer; errors go through [`AuthRejection`], the adapter's
//! one mapping of `AuthError` to a response.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tessera_axum::{
    AuthClient, AuthRejection, Authenticated, CurrentSession, Fresh, remove_session_cookie,
    session_cookie,
};
use tessera_core::auth::AuthError;
use tessera_core::identity::AuthMethod;
use tessera_core::password::Password;
use tessera_core::session::Session;

use crate::AppState;
use crate::json::ApiJson;
use tessera_example_common::Note;
use tessera_example_common::api::{
    self, Account, AdminView, CsrfToken, KeyCreated, LoginBody, Me, NewApiKey, NewNote,
    PasswordChange, RefreshBody, RegisterBody, ResetConfirm, ResetRequest, SessionLogin, Tokens,
    UserPatch, plausible_email, reset_message,
};

type Answer<T> = Result<T, AuthRejection>;

// ---- handlers -----------------------------------------------------------

pub(crate) async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub(crate) async fn jwks(State(app): State<AppState>) -> Json<Value> {
    Json(app.auth.jwt().keys().jwks())
}

pub(crate) async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(json!({"error": "not_found"}))).into_response()
}

pub(crate) async fn method_not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(json!({"error": "method_not_allowed"})),
    )
        .into_response()
}

pub(crate) async fn register(
    State(app): State<AppState>,
    AuthClient(client): AuthClient,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Answer<Response> {
    if !plausible_email(&body.email) {
        return Err(AuthError::InvalidRequest("email").into());
    }
    let user = app
        .auth
        .from_client(client)
        .register(&body.email, &Password::new(body.password))
        .await?;
    Ok((StatusCode::CREATED, Json(Account::from(&user))).into_response())
}

pub(crate) async fn login(
    State(app): State<AppState>,
    AuthClient(client): AuthClient,
    ApiJson(body): ApiJson<LoginBody>,
) -> Answer<Json<Tokens>> {
    let pair = app
        .auth
        .from_client(client)
        .login(
            &body.email,
            &Password::new(body.password),
            body.scope.as_deref(),
        )
        .await?;
    Ok(Json(Tokens::from(&pair)))
}

pub(crate) async fn refresh(
    State(app): State<AppState>,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Answer<Json<Tokens>> {
    let pair = app.auth.refresh(&body.refresh_token).await?;
    Ok(Json(Tokens::from(&pair)))
}

pub(crate) async fn logout(
    State(app): State<AppState>,
    Authenticated(identity): Authenticated,
    CurrentSession(session): CurrentSession,
) -> Answer<Response> {
    let by_session = is_session(&identity.method, session.as_ref());
    app.auth.logout(&identity, session).await?;
    Ok(no_content(
        by_session.then(|| remove_session_cookie(&app.auth)),
    ))
}

pub(crate) async fn logout_all(
    State(app): State<AppState>,
    Authenticated(identity): Authenticated,
    CurrentSession(session): CurrentSession,
) -> Answer<Response> {
    app.auth.logout_all(&identity.subject).await?;
    let by_session = is_session(&identity.method, session.as_ref());
    Ok(no_content(
        by_session.then(|| remove_session_cookie(&app.auth)),
    ))
}

pub(crate) async fn me(
    State(app): State<AppState>,
    Authenticated(identity): Authenticated,
) -> Answer<Json<Me>> {
    Ok(Json(api::me(&app.auth, identity).await?))
}

pub(crate) async fn change_password(
    State(app): State<AppState>,
    Fresh(identity): Fresh,
    CurrentSession(session): CurrentSession,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Answer<Response> {
    let (tokens, session) = api::change_password(&app.auth, &identity, session, body).await?;
    Ok(match session {
        Some(session) => with_session_cookie(&app, &session, Json(tokens)),
        None => Json(tokens).into_response(),
    })
}

pub(crate) async fn create_api_key(
    State(app): State<AppState>,
    Fresh(identity): Fresh,
    ApiJson(body): ApiJson<NewApiKey>,
) -> Answer<Response> {
    let key = app
        .auth
        .issue_api_key(&identity, &body.name, body.scopes)
        .await?;
    let body = KeyCreated {
        id: key.record.id.as_str(),
        api_key: key.token.expose_secret(),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub(crate) async fn delete_api_key(
    State(app): State<AppState>,
    Authenticated(identity): Authenticated,
    Id(id): Id,
) -> Answer<StatusCode> {
    app.auth.revoke_api_key(&identity.subject, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn list_notes(
    State(app): State<AppState>,
    Authenticated(identity): Authenticated,
) -> Json<Vec<Note>> {
    Json(app.notes.list(&identity.subject))
}

pub(crate) async fn create_note(
    State(app): State<AppState>,
    Authenticated(identity): Authenticated,
    ApiJson(body): ApiJson<NewNote>,
) -> Answer<Response> {
    let note = app
        .notes
        .add(&identity.subject, body.text)
        .map_err(|e| AuthError::Unavailable(e.to_string()))?;
    Ok((StatusCode::CREATED, Json(note)).into_response())
}

pub(crate) async fn list_users(State(app): State<AppState>) -> Answer<Json<Vec<AdminView>>> {
    Ok(Json(api::list_accounts(&app.auth).await?))
}

pub(crate) async fn update_user(
    State(app): State<AppState>,
    Id(id): Id,
    ApiJson(patch): ApiJson<UserPatch>,
) -> Answer<Json<AdminView>> {
    Ok(Json(api::update_account(&app.auth, &id, patch).await?))
}

pub(crate) async fn session_login(
    State(app): State<AppState>,
    AuthClient(client): AuthClient,
    CurrentSession(current): CurrentSession,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SessionLogin>,
) -> Answer<Response> {
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok());
    let (session, token) = api::session_login(&app.auth, client, current, body, user_agent).await?;
    Ok(with_session_cookie(&app, &session, Json(token)))
}

pub(crate) async fn session_logout(
    State(app): State<AppState>,
    Authenticated(identity): Authenticated,
    CurrentSession(session): CurrentSession,
) -> Answer<Response> {
    let session = session.ok_or(AuthError::Unauthenticated)?;
    app.auth.logout(&identity, Some(session)).await?;
    Ok(no_content(Some(remove_session_cookie(&app.auth))))
}

pub(crate) async fn session_csrf(
    State(app): State<AppState>,
    Authenticated(_): Authenticated,
    CurrentSession(session): CurrentSession,
) -> Answer<Json<CsrfToken>> {
    let session = session.ok_or(AuthError::Unauthenticated)?;
    Ok(Json(CsrfToken {
        csrf_token: app.auth.csrf().token(session.id()),
    }))
}

pub(crate) async fn request_password_reset(
    State(app): State<AppState>,
    AuthClient(client): AuthClient,
    ApiJson(body): ApiJson<ResetRequest>,
) -> Answer<Response> {
    if let Some((user, token)) = app
        .auth
        .from_client(client)
        .request_password_reset(&body.email)
        .await?
    {
        app.mailer
            .send(reset_message(&app.public_url, &user, &token));
    }
    Ok((StatusCode::ACCEPTED, Json(json!({"status": "sent"}))).into_response())
}

pub(crate) async fn confirm_password_reset(
    State(app): State<AppState>,
    ApiJson(body): ApiJson<ResetConfirm>,
) -> Answer<StatusCode> {
    app.auth
        .confirm_password_reset(&body.token, &Password::new(body.new_password))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- helpers ------------------------------------------------------------

fn is_session(method: &AuthMethod, session: Option<&Session>) -> bool {
    *method == AuthMethod::Session && session.is_some()
}

fn no_content(cookie: Option<HeaderValue>) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

fn with_session_cookie(app: &AppState, session: &Session, body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, session_cookie(&app.auth, session));
    response
}

/// The `{id}` of a path; an id that is not UTF-8 (or missing) is 404 JSON,
/// like an unknown one, instead of axum's plain-text 400.
pub(crate) struct Id(pub(crate) String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Id {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(id)) => Ok(Self(id)),
            Err(_) => Err(AuthError::NotFound.into()),
        }
    }
}
