//! The routes of CONTRACTS.md §1, as in the axum starter. Each handler does
//! one call into `Auth` and shapes the answer; errors go through
//! [`AuthRejection`], the adapter's one mapping of `AuthError` to a
//! response.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use tessera_actix::{
    AuthClient, AuthRejection, Authenticated, CurrentSession, Fresh, remove_session_cookie,
    session_cookie,
};
use tessera_core::auth::AuthError;
use tessera_core::identity::AuthMethod;
use tessera_core::password::Password;
use tessera_core::session::Session;

use crate::AppState;
use crate::json::ApiJson;
use tessera_example_common::api::{
    self, Account, CsrfToken, KeyCreated, LoginBody, NewApiKey, NewNote, PasswordChange,
    RefreshBody, RegisterBody, ResetConfirm, ResetRequest, SessionLogin, Tokens, UserPatch,
    plausible_email, reset_message,
};

type State = web::Data<AppState>;
type Answer = Result<HttpResponse, AuthRejection>;

// ---- handlers -----------------------------------------------------------

pub(crate) async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

pub(crate) async fn jwks(app: State) -> HttpResponse {
    HttpResponse::Ok().json(app.auth.jwt().keys().jwks())
}

pub(crate) async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(json!({"error": "not_found"}))
}

pub(crate) async fn method_not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed().json(json!({"error": "method_not_allowed"}))
}

pub(crate) async fn register(
    app: State,
    AuthClient(client): AuthClient,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Answer {
    if !plausible_email(&body.email) {
        return Err(AuthError::InvalidRequest("email").into());
    }
    let user = app
        .auth
        .from_client(client)
        .register(&body.email, &Password::new(body.password))
        .await?;
    Ok(HttpResponse::Created().json(Account::from(&user)))
}

pub(crate) async fn login(
    app: State,
    AuthClient(client): AuthClient,
    ApiJson(body): ApiJson<LoginBody>,
) -> Answer {
    let pair = app
        .auth
        .from_client(client)
        .login(
            &body.email,
            &Password::new(body.password),
            body.scope.as_deref(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(Tokens::from(&pair)))
}

pub(crate) async fn refresh(app: State, ApiJson(body): ApiJson<RefreshBody>) -> Answer {
    let pair = app.auth.refresh(&body.refresh_token).await?;
    Ok(HttpResponse::Ok().json(Tokens::from(&pair)))
}

pub(crate) async fn logout(
    app: State,
    Authenticated(identity): Authenticated,
    CurrentSession(session): CurrentSession,
) -> Answer {
    let by_session = is_session(&identity.method, session.as_ref());
    app.auth.logout(&identity, session).await?;
    Ok(no_content(
        by_session.then(|| remove_session_cookie(&app.auth)),
    ))
}

pub(crate) async fn logout_all(
    app: State,
    Authenticated(identity): Authenticated,
    CurrentSession(session): CurrentSession,
) -> Answer {
    app.auth.logout_all(&identity.subject).await?;
    let by_session = is_session(&identity.method, session.as_ref());
    Ok(no_content(
        by_session.then(|| remove_session_cookie(&app.auth)),
    ))
}

pub(crate) async fn me(app: State, Authenticated(identity): Authenticated) -> Answer {
    Ok(HttpResponse::Ok().json(api::me(&app.auth, identity).await?))
}

pub(crate) async fn change_password(
    app: State,
    Fresh(identity): Fresh,
    CurrentSession(session): CurrentSession,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Answer {
    let (tokens, session) = api::change_password(&app.auth, &identity, session, body).await?;
    Ok(match session {
        Some(session) => with_session_cookie(&app, &session).json(tokens),
        None => HttpResponse::Ok().json(tokens),
    })
}

pub(crate) async fn create_api_key(
    app: State,
    Fresh(identity): Fresh,
    ApiJson(body): ApiJson<NewApiKey>,
) -> Answer {
    let key = app
        .auth
        .issue_api_key(&identity, &body.name, body.scopes)
        .await?;
    let body = KeyCreated {
        id: key.record.id.as_str(),
        api_key: key.token.expose_secret(),
    };
    Ok(HttpResponse::Created().json(body))
}

pub(crate) async fn delete_api_key(
    app: State,
    Authenticated(identity): Authenticated,
    Id(id): Id,
) -> Answer {
    app.auth.revoke_api_key(&identity.subject, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub(crate) async fn list_notes(app: State, Authenticated(identity): Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(app.notes.list(&identity.subject))
}

pub(crate) async fn create_note(
    app: State,
    Authenticated(identity): Authenticated,
    ApiJson(body): ApiJson<NewNote>,
) -> Answer {
    let note = app
        .notes
        .add(&identity.subject, body.text)
        .map_err(|e| AuthError::Unavailable(e.to_string()))?;
    Ok(HttpResponse::Created().json(note))
}

pub(crate) async fn list_users(app: State) -> Answer {
    Ok(HttpResponse::Ok().json(api::list_accounts(&app.auth).await?))
}

pub(crate) async fn update_user(
    app: State,
    Id(id): Id,
    ApiJson(patch): ApiJson<UserPatch>,
) -> Answer {
    Ok(HttpResponse::Ok().json(api::update_account(&app.auth, &id, patch).await?))
}

pub(crate) async fn session_login(
    app: State,
    AuthClient(client): AuthClient,
    CurrentSession(current): CurrentSession,
    request: HttpRequest,
    ApiJson(body): ApiJson<SessionLogin>,
) -> Answer {
    let user_agent = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok());
    let (session, token) = api::session_login(&app.auth, client, current, body, user_agent).await?;
    Ok(with_session_cookie(&app, &session).json(token))
}

pub(crate) async fn session_logout(
    app: State,
    Authenticated(identity): Authenticated,
    CurrentSession(session): CurrentSession,
) -> Answer {
    let session = session.ok_or(AuthError::Unauthenticated)?;
    app.auth.logout(&identity, Some(session)).await?;
    Ok(no_content(Some(remove_session_cookie(&app.auth))))
}

pub(crate) async fn session_csrf(
    app: State,
    Authenticated(_): Authenticated,
    CurrentSession(session): CurrentSession,
) -> Answer {
    let session = session.ok_or(AuthError::Unauthenticated)?;
    Ok(HttpResponse::Ok().json(CsrfToken {
        csrf_token: app.auth.csrf().token(session.id()),
    }))
}

pub(crate) async fn request_password_reset(
    app: State,
    AuthClient(client): AuthClient,
    ApiJson(body): ApiJson<ResetRequest>,
) -> Answer {
    if let Some((user, token)) = app
        .auth
        .from_client(client)
        .request_password_reset(&body.email)
        .await?
    {
        app.mailer
            .send(reset_message(&app.public_url, &user, &token));
    }
    Ok(HttpResponse::Accepted().json(json!({"status": "sent"})))
}

pub(crate) async fn confirm_password_reset(
    app: State,
    ApiJson(body): ApiJson<ResetConfirm>,
) -> Answer {
    app.auth
        .confirm_password_reset(&body.token, &Password::new(body.new_password))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---- helpers ------------------------------------------------------------

fn is_session(method: &AuthMethod, session: Option<&Session>) -> bool {
    *method == AuthMethod::Session && session.is_some()
}

fn no_content(cookie: Option<HeaderValue>) -> HttpResponse {
    let mut response = HttpResponse::NoContent();
    if let Some(cookie) = cookie {
        response.append_header((header::SET_COOKIE, cookie));
    }
    response.finish()
}

fn with_session_cookie(app: &AppState, session: &Session) -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::Ok();
    response.append_header((header::SET_COOKIE, session_cookie(&app.auth, session)));
    response
}

/// The `{id}` of a path; one that cannot be read is 404 JSON, like an
/// unknown one.
pub(crate) struct Id(pub(crate) String);

impl actix_web::FromRequest for Id {
    type Error = AuthRejection;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(
            request
                .match_info()
                .get("id")
                .map(|id| Self(id.to_owned()))
                .ok_or_else(|| AuthError::NotFound.into()),
        )
    }
}
