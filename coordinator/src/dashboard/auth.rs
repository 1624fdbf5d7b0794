//! Who may see the dashboard: whoever holds the coordinator's client token, the same one
//! the CLI sends. It comes as `Authorization: Bearer <token>` (scripts, `curl`), or in the
//! [`COOKIE`] that the sign-in form sets, or that opening `/?token=<token>` sets before
//! redirecting to `/` (the URL `gptsweep local` prints, as Jupyter does). The cookie holds
//! the token hex-encoded (a hand-written token may hold `;` or `"`), `HttpOnly` and
//! `SameSite=Lax` (and `Secure` over TLS): Lax, so that the link opened from a chat or a
//! notebook arrives signed in; the dashboard only reads, so no page changes anything a
//! forged request could abuse. Tokens are compared in constant time. A worker's token is
//! refused by name.

use axum::extract::{FromRequestParts, Query, State};
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, COOKIE as COOKIE_HEADER, LOCATION, SET_COOKIE,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::{Form, Json};
use serde::Deserialize;

use super::Dashboard;
use super::assets;
use crate::access::constant_time_eq;

/// The cookie that carries the client token.
pub const COOKIE: &str = "gptsweep_token";

/// How a presented token stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// The client token.
    Client,
    /// The worker token: it opens the Workers service only.
    Worker,
    /// No token, or one this coordinator did not issue.
    Unknown,
}

impl Dashboard {
    fn judge(&self, token: Option<&str>) -> Verdict {
        let Some(token) = token else {
            return Verdict::Unknown;
        };
        let access = self.coordinator.access();
        if constant_time_eq(token.as_bytes(), access.client_token.as_bytes()) {
            Verdict::Client
        } else if constant_time_eq(token.as_bytes(), access.worker_token.as_bytes()) {
            Verdict::Worker
        } else {
            Verdict::Unknown
        }
    }

    /// `Set-Cookie` for `token` (`None` clears the cookie).
    fn cookie(&self, token: Option<&str>) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        match token {
            Some(t) => format!(
                "{COOKIE}={}; Path=/; HttpOnly; SameSite=Lax{secure}",
                hex::encode(t)
            ),
            None => format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
        }
    }
}

/// The token a request presents: the bearer header first, else the cookie's.
fn presented(headers: &HeaderMap) -> Option<String> {
    if let Some(bearer) = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(bearer.trim().to_string());
    }
    headers
        .get_all(COOKIE_HEADER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .and_then(|hexed| hex::decode(hexed).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
}

/// Proof that a request carries the client token; the JSON API's guard. Without it the
/// answer is 401 (403 for the worker token) with `{"error": ...}`.
pub struct Client;

impl FromRequestParts<Dashboard> for Client {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Dashboard) -> Result<Self, Response> {
        match state.judge(presented(&parts.headers).as_deref()) {
            Verdict::Client => Ok(Client),
            Verdict::Worker => Err(refusal(StatusCode::FORBIDDEN, WORKER_TOKEN)),
            Verdict::Unknown => Err(refusal(
                StatusCode::UNAUTHORIZED,
                "sign in with the coordinator's client token (its client.token file): the \
                 Authorization: Bearer header, or the form at /",
            )),
        }
    }
}

const WORKER_TOKEN: &str =
    "that is the worker token, which opens the Workers service only; use client.token";

fn refusal(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// `/?token=...`.
#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    token: String,
}

/// `GET /`: the dashboard for a signed-in browser, else the sign-in form. With
/// `?token=`, a right token sets the cookie and redirects to `/`, out of the address bar
/// (a browser's history keeps the URL it was opened with).
pub async fn index(
    State(state): State<Dashboard>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
) -> Response {
    if let Some(token) = query.token {
        return sign_in(&state, token.trim());
    }
    match state.judge(presented(&headers).as_deref()) {
        Verdict::Client => assets::index(),
        Verdict::Worker => login_page(StatusCode::FORBIDDEN, Some(WORKER_TOKEN)),
        Verdict::Unknown => login_page(StatusCode::UNAUTHORIZED, None),
    }
}

/// `POST /login` from the sign-in form.
pub async fn login(State(state): State<Dashboard>, Form(form): Form<LoginForm>) -> Response {
    sign_in(&state, form.token.trim())
}

/// `POST /logout`: clears the cookie.
pub async fn logout(State(state): State<Dashboard>) -> Response {
    (
        StatusCode::SEE_OTHER,
        [
            (SET_COOKIE, state.cookie(None)),
            (LOCATION, "/".to_string()),
        ],
    )
        .into_response()
}

fn sign_in(state: &Dashboard, token: &str) -> Response {
    match state.judge(Some(token)) {
        Verdict::Client => (
            StatusCode::SEE_OTHER,
            [
                (SET_COOKIE, state.cookie(Some(token))),
                (LOCATION, "/".to_string()),
            ],
        )
            .into_response(),
        Verdict::Worker => login_page(StatusCode::FORBIDDEN, Some(WORKER_TOKEN)),
        Verdict::Unknown => login_page(
            StatusCode::UNAUTHORIZED,
            Some("that is not this coordinator's client token"),
        ),
    }
}

/// The sign-in form, with what went wrong.
fn login_page(status: StatusCode, error: Option<&str>) -> Response {
    let error = error
        .map(|e| format!("<p class=\"error\">{}</p>", escape(e)))
        .unwrap_or_default();
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>gptsweep: sign in</title>\
         <link rel=\"stylesheet\" href=\"/static/app.css\"></head><body><main class=\"login\">\
         <h1>gptsweep</h1>{error}<form method=\"post\" action=\"/login\">\
         <label>Client token <input name=\"token\" type=\"password\" autocomplete=\"current-password\" autofocus required></label>\
         <button type=\"submit\">Sign in</button></form>\
         <p class=\"hint\">The coordinator's <code>client.token</code> (in its state directory), the token the CLI uses.</p>\
         </main></body></html>"
    );
    (status, [(CACHE_CONTROL, "no-store")], Html(page)).into_response()
}

/// `text` safe inside HTML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_bearer_header_wins_over_the_cookie_and_other_cookies_are_skipped() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE_HEADER,
            HeaderValue::from_static("theme=dark; gptsweep_token=613b62; x=1"),
        );
        assert_eq!(presented(&h).as_deref(), Some("a;b"));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer xyz"));
        assert_eq!(presented(&h).as_deref(), Some("xyz"));
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE_HEADER,
            HeaderValue::from_static("gptsweep_token_old=1; other=2"),
        );
        assert_eq!(presented(&h), None);
    }

    #[test]
    fn errors_on_the_sign_in_page_are_escaped() {
        assert_eq!(escape("<b>\"&"), "&lt;b&gt;&quot;&amp;");
    }
}
