//! `Authenticate` at `/auth/{provider}` and `/auth`: the test AppHost's credentials provider.

use axum::extract::State;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use super::AppState;
use crate::auth::{Credentials, PASSWORD, USER_NAME, cookies};
use crate::binding::Req;
use crate::respond::{ApiError, json};
use crate::util::random_id;

/// `AuthenticateResponse`, camelCase with nulls omitted. `userId` stays null (omitted) because
/// the test AppHost has no user repository, so sessions have no `UserAuthId`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AuthenticateResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    session_id: String,
    user_name: String,
    display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    bearer_token: Option<String>,
}

fn usable_cookie(v: &str) -> bool {
    !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn set_cookie(resp: &mut Response, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// `Authenticate`: `provider` `credentials` with `userName`/`password`, or `logout`; with no
/// provider and no credentials, reports the current session (401 when anonymous).
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    req: Req,
) -> Result<Response, ApiError> {
    handle(&state, req)
}

pub(crate) fn handle(state: &AppState, req: Req) -> Result<Response, ApiError> {
    let shared = &state.shared;
    let user_name = req.params.str("userName");
    let provider = req
        .params
        .str("provider")
        .filter(|p| !p.is_empty())
        .or_else(|| user_name.as_ref().map(|_| "credentials".to_string()));
    let creds = shared.auth.resolve(&req.parts.headers, req.query_token());

    let Some(provider) = provider else {
        // GET /auth: who am I?
        return match creds {
            Credentials::Authenticated {
                session_id,
                session,
            } => Ok(json(
                StatusCode::OK,
                &AuthenticateResponse {
                    user_id: None,
                    session_id,
                    user_name: session.user_name.clone(),
                    display_name: session.user_name,
                    bearer_token: None,
                },
            )),
            Credentials::Invalid { message } => Err(ApiError::unauthorized(message)),
            Credentials::Anonymous { .. } => Err(ApiError::unauthorized("Not Authenticated")),
        };
    };

    if provider.eq_ignore_ascii_case("logout") {
        if let Some(id) = creds.session_id() {
            shared.auth.logout(id);
        }
        return Ok(json(StatusCode::OK, &serde_json::json!({})));
    }
    if !provider.eq_ignore_ascii_case("credentials") {
        return Err(ApiError::not_found(format!(
            "No configuration was added for OAuth provider '{provider}'"
        )));
    }
    let password = req.params.str("password");
    if user_name.as_deref() != Some(USER_NAME) || password.as_deref() != Some(PASSWORD) {
        return Err(ApiError::unauthorized("Invalid UserName or Password"));
    }
    let remember = req
        .params
        .str("rememberMe")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));

    let jar = cookies(&req.parts.headers);
    let existing = |name: &str| {
        jar.iter()
            .find(|(k, v)| k == name && usable_cookie(v))
            .map(|(_, v)| v.clone())
    };
    let ss_id = existing("ss-id").unwrap_or_else(|| random_id(20));
    let ss_pid = existing("ss-pid").unwrap_or_else(|| random_id(20));
    let session_id = if remember {
        ss_pid.clone()
    } else {
        ss_id.clone()
    };
    let token = shared.auth.authenticate(&session_id, USER_NAME);

    let mut resp = json(
        StatusCode::OK,
        &AuthenticateResponse {
            user_id: None,
            session_id,
            user_name: USER_NAME.to_string(),
            display_name: USER_NAME.to_string(),
            bearer_token: Some(token),
        },
    );
    set_cookie(&mut resp, format!("ss-id={ss_id}; Path=/; HttpOnly"));
    set_cookie(
        &mut resp,
        format!("ss-pid={ss_pid}; Path=/; Max-Age=630720000; HttpOnly"),
    );
    let opt = if remember { "perm" } else { "temp" };
    set_cookie(
        &mut resp,
        format!("ss-opt={opt}; Path=/; Max-Age=630720000; HttpOnly"),
    );
    Ok(resp)
}
