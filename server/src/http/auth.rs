//! Sessions, the page gate, the same-origin check, and the sign-in and
//! sign-out form handlers.
//!
//! Order on each request: [`authenticate`] finds the caller's session (and
//! ends it when it ran out), [`same_origin`] refuses state-changing requests
//! from other sites, [`gate`] sends signed-out visitors to the sign-in page
//! with the page they wanted as `next`.

use app::audit::{self, Action, Client, NewEvent};
use app::auth::caller::{Caller, record_denial};
use app::auth::sessions::{self, SessionPolicy};
use app::auth::sign_in::{self, Outcome};
use app::state::AppState;
use axum::{
    Extension, Form,
    extract::{ConnectInfo, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use chrono::{TimeDelta, Utc};
use ipnet::IpNet;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};

const CHALLENGE_COOKIE: &str = "gatehouse_challenge";
/// Holds a hosted-UI sign-in between leaving for Cognito and coming back:
/// `state~code_verifier~base64url(next)`.
const OAUTH_COOKIE: &str = "gatehouse_oauth";

/// The value of cookie `name` in the request, if any.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn client_of(request: &Request, trusted_proxies: &[IpNet]) -> Client {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    Client {
        ip: peer.map(|peer| client_ip(peer, request.headers(), trusted_proxies).to_string()),
        user_agent: request
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(300).collect()),
    }
}

/// The client's address: the connecting address, unless that is a trusted
/// proxy; then the nearest address in `X-Forwarded-For` that is not a
/// trusted proxy (each proxy appends the address it was reached from, so
/// what lies left of the first untrusted hop could have been written by the
/// client itself and is not believed).
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpNet]) -> IpAddr {
    let trusted = |ip: &IpAddr| trusted_proxies.iter().any(|net| net.contains(ip));
    let mut nearest = peer.to_canonical();
    if !trusted(&nearest) {
        return nearest;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    for hop in hops.into_iter().rev() {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => nearest = ip.to_canonical(),
            // A malformed hop ends what can be believed.
            Err(_) => return nearest,
        }
        if !trusted(&nearest) {
            return nearest;
        }
    }
    nearest
}

/// Finds the session of the request's cookie. A session past its idle or
/// absolute limit, or whose tokens can no longer be refreshed, is ended
/// (and audited) and its cookie removed.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let client = client_of(&request, &state.auth.trusted_proxies);
    if needs_no_session(request.uri().path()) {
        request.extensions_mut().insert(Caller {
            session: None,
            client,
        });
        return next.run(request).await;
    }
    let policy = &state.auth.policy;
    let token = cookie(request.headers(), policy.cookie_name()).map(str::to_owned);
    let mut clear_cookie = false;
    let mut session = None;
    if let Some(token) = token {
        match sessions::load(&state.pool, &token, &state.overrides).await {
            Ok(Some(found)) => session = live(&state, found, &client).await,
            Ok(None) => {}
            Err(err) => return err.into_response(),
        }
        clear_cookie = session.is_none();
    }
    // What a signed-in person (or a script with a token) is shown is
    // theirs: no shared or browser cache keeps it.
    let personal = session.is_some() || request.headers().contains_key(header::AUTHORIZATION);
    request.extensions_mut().insert(Caller { session, client });
    let mut response = next.run(request).await;
    if clear_cookie && !response.headers().contains_key(header::SET_COOKIE) {
        set_cookie(&mut response, &policy.removal_cookie());
    }
    if personal {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Drops an `X-Request-Id` that did not come from a trusted proxy, so that
/// the id the log and the response carry is the console's own (or the
/// load balancer's), never one a client chose.
pub async fn untrusted_request_id(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let trusted = peer.is_some_and(|peer| {
        state
            .auth
            .trusted_proxies
            .iter()
            .any(|proxy| proxy.contains(&peer))
    });
    if !trusted {
        request.headers_mut().remove("x-request-id");
    }
    next.run(request).await
}

/// Built assets and health checks: browsers send the session cookie with
/// each of them, and none needs to know who asks, so they cost no session
/// lookup.
fn needs_no_session(path: &str) -> bool {
    path.starts_with("/pkg/") || path == "/favicon.svg" || path == "/healthz"
}

/// The session if it may go on, refreshed when its access token is due.
async fn live(
    state: &AppState,
    mut session: sessions::Session,
    client: &Client,
) -> Option<sessions::Session> {
    let now = Utc::now();
    if let Some(why) = session.ended(&state.auth.policy, now) {
        if let Err(err) = sign_in::expire(state, &session, why, client).await {
            tracing::error!(%err, "could not record a session's expiry");
        }
        return None;
    }
    if session.tokens.access_expires_at - TimeDelta::seconds(60) <= now {
        match sign_in::refresh(state, &session).await {
            Ok(Some(user)) => session.user = user,
            Ok(None) => {
                let _ = sign_in::expire(state, &session, "token refresh refused", client).await;
                return None;
            }
            // No answer ends nothing: the session goes on with the groups
            // it had, until its own idle or absolute expiry, and the next
            // request tries again.
            Err(err) => tracing::warn!(%err, "token refresh did not complete; the session goes on"),
        }
    }
    if let Err(err) = sessions::touch(&state.pool, &session).await {
        tracing::warn!(%err, "could not record session activity");
    }
    Some(session)
}

fn set_cookie(response: &mut Response, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// The caller [`authenticate`] found for this request.
fn caller_of(request: &Request) -> Caller {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or_default()
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether a state-changing request provably comes from this console's own
/// pages: `Sec-Fetch-Site: same-origin`, or an `Origin` naming the host the
/// request was sent to. Scripts that authenticate with a bearer token and
/// send no cookie need neither.
pub fn same_origin_request(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "same-origin";
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let authority = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        return authority.is_some() && authority == host;
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer "));
    bearer && !headers.contains_key(header::COOKIE)
}

/// Refuses state-changing requests that do not come from the console's own
/// pages (CSRF), and audits the refusal.
pub async fn same_origin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if is_safe(request.method()) || same_origin_request(request.headers()) {
        return next.run(request).await;
    }
    let caller = caller_of(&request);
    let target: String = format!("{} {}", request.method(), request.uri().path())
        .chars()
        .take(300)
        .collect();
    let recorded = async {
        // Without a session the caller is anyone: counted, not written one
        // by one (audit::refusals).
        let Some(user) = caller.user() else {
            return audit::refusals::count(
                &state.anonymous_db,
                Action::CsrfRefused,
                &caller.client,
                None,
                &target,
            )
            .await;
        };
        let mut tx = state.pool.begin().await?;
        audit::record(
            &mut tx,
            NewEvent::new(
                Action::CsrfRefused,
                Some(sign_in::actor(user)),
                caller.client.clone(),
            )
            .target(target),
        )
        .await?;
        tx.commit().await?;
        Ok::<_, app::error::AppError>(())
    };
    if let Err(err) = recorded.await {
        return err.into_response();
    }
    (
        StatusCode::FORBIDDEN,
        axum::Json(serde_json::json!({ "error": "Cross-site request refused." })),
    )
        .into_response()
}

/// Paths anyone may load: the sign-in pages and their form handlers, the
/// built assets, health, and the APIs (which answer 401 themselves).
fn is_public(path: &str) -> bool {
    path == "/sign-in"
        || path == "/sign-in/new-password"
        || path.starts_with("/auth/")
        || path.starts_with("/pkg/")
        || path.starts_with("/api/")
        || path == "/healthz"
        || path == "/favicon.svg"
}

/// Sends signed-out visitors of a page to the sign-in page, keeping where
/// they were going; audits signed-in visitors whose role does not allow the
/// page (which then renders as forbidden).
pub async fn gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    if !is_safe(request.method()) || is_public(&path) {
        return next.run(request).await;
    }
    let caller = caller_of(&request);
    let Some(user) = caller.user() else {
        let wanted = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
        let target = format!("/sign-in?next={}", app::url::encode(wanted));
        return Redirect::to(&target).into_response();
    };
    let needed = app::sections::required_role(&path);
    if !user.has(needed)
        && let Err(err) = record_denial(&state.pool, user, needed, &path, &caller.client).await
    {
        return err.into_response();
    }
    next.run(request).await
}

/// A return path that stays on this console: an absolute path, never
/// `//host`, a backslash trick or a scheme. Anything else becomes `/`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control)
                && !path.starts_with("/auth/") =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    username: String,
    password: String,
    next: Option<String>,
}

fn sign_in_page(error: &str, next: &str, extra: &str) -> Redirect {
    Redirect::to(&format!(
        "/sign-in?error={error}{extra}&next={}",
        app::url::encode(next)
    ))
}

fn signed_in(policy: &SessionPolicy, token: &str, next: &str) -> Response {
    let mut response = Redirect::to(next).into_response();
    set_cookie(&mut response, &policy.cookie(token));
    response
}

/// `POST /auth/sign-in`.
pub async fn sign_in_form(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Form(form): Form<SignInForm>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    let username = form.username.trim();
    if username.is_empty() || form.password.is_empty() {
        return sign_in_page("missing", &next, "").into_response();
    }
    // A new session id at every sign-in: whatever session the browser had
    // is dropped (no fixation).
    if let Some(old) = &caller.session
        && let Ok(mut conn) = state.pool.acquire().await
        && let Err(err) = sessions::delete(&mut conn, &old.id_hash).await
    {
        tracing::warn!(%err, "could not drop the session a sign-in replaces");
    }
    let outcome =
        sign_in::with_password(&state, username, &form.password, &next, &caller.client).await;
    match outcome {
        Ok(Outcome::SignedIn { session_token }) => {
            signed_in(&state.auth.policy, &session_token, &next)
        }
        Ok(Outcome::NewPasswordRequired { challenge_token }) => {
            let mut response = Redirect::to("/sign-in/new-password").into_response();
            set_cookie(
                &mut response,
                &challenge_cookie(&state.auth.policy, &challenge_token, 300),
            );
            response
        }
        Ok(Outcome::LockedOut { minutes }) => {
            sign_in_page("locked", &next, &format!("&minutes={minutes}")).into_response()
        }
        Ok(_) => sign_in_page("invalid", &next, "").into_response(),
        Err(err) => {
            tracing::warn!(%err, "sign-in could not complete");
            sign_in_page("unavailable", &next, "").into_response()
        }
    }
}

fn challenge_cookie(policy: &SessionPolicy, token: &str, max_age: u32) -> String {
    format!(
        "{CHALLENGE_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        if policy.secure_cookies {
            "; Secure"
        } else {
            ""
        }
    )
}

#[derive(Debug, Deserialize)]
pub struct NewPasswordForm {
    new_password: String,
    confirm: String,
}

/// `POST /auth/new-password`: completes `NEW_PASSWORD_REQUIRED`.
pub async fn new_password_form(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    Form(form): Form<NewPasswordForm>,
) -> Response {
    let Some(challenge) = cookie(&headers, CHALLENGE_COOKIE) else {
        return sign_in_page("expired", "/", "").into_response();
    };
    if form.new_password != form.confirm {
        return Redirect::to("/sign-in/new-password?error=mismatch").into_response();
    }
    let outcome =
        sign_in::with_new_password(&state, challenge, &form.new_password, &caller.client).await;
    let mut response = match outcome {
        Ok((Outcome::SignedIn { session_token }, next)) => {
            signed_in(&state.auth.policy, &session_token, &safe_next(Some(&next)))
        }
        Ok((Outcome::WeakPassword, next)) => sign_in_page("weak", &next, "").into_response(),
        Ok((_, next)) => sign_in_page("expired", &next, "").into_response(),
        Err(err) => {
            tracing::warn!(%err, "password challenge could not complete");
            sign_in_page("unavailable", "/", "").into_response()
        }
    };
    set_cookie(&mut response, &challenge_cookie(&state.auth.policy, "", 0));
    response
}

/// `POST /auth/sign-out`.
pub async fn sign_out_form(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    let ended = match &caller.session {
        Some(session) => sign_in::sign_out(&state, session, &caller.client).await,
        None => Ok(()),
    };
    // The browser forgets the session whatever happened on the server.
    let mut response = match ended {
        Ok(()) => Redirect::to("/sign-in?signed_out=1").into_response(),
        Err(err) => err.into_response(),
    };
    set_cookie(&mut response, &state.auth.policy.removal_cookie());
    response
}

#[derive(Debug, Deserialize)]
pub struct StartQuery {
    next: Option<String>,
}

/// `GET /auth/cognito`: leaves for the hosted UI with a fresh `state` and a
/// PKCE S256 challenge; both wait in a short-lived HttpOnly cookie, so this
/// GET stores nothing on the server.
pub async fn hosted_ui_start(
    State(state): State<AppState>,
    axum::extract::Query(query): axum::extract::Query<StartQuery>,
) -> Response {
    use base64::Engine;
    use sha2::Digest;
    let Some((cognito, hosted)) = state
        .auth
        .pool
        .as_ref()
        .and_then(|p| p.hosted_ui.as_ref().map(|h| (p, h)))
    else {
        return Redirect::to("/sign-in?error=unavailable").into_response();
    };
    let next = safe_next(query.next.as_deref());
    let (oauth_state, _) = sessions::new_token();
    let (verifier, _) = sessions::new_token();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let challenge = b64.encode(sha2::Sha256::digest(verifier.as_bytes()));
    let location = format!(
        "{}/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state={oauth_state}&code_challenge={challenge}&code_challenge_method=S256",
        hosted.domain,
        app::url::encode(&cognito.client_id),
        app::url::encode(&hosted.redirect_uri),
    );
    let mut response = Redirect::to(&location).into_response();
    let value = format!("{oauth_state}~{verifier}~{}", b64.encode(next.as_bytes()));
    set_cookie(
        &mut response,
        &format!(
            "{OAUTH_COOKIE}={value}; Path=/auth/callback; HttpOnly; SameSite=Lax; Max-Age=600{}",
            if state.auth.policy.secure_cookies {
                "; Secure"
            } else {
                ""
            }
        ),
    );
    response
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /auth/callback`: Cognito sends the person back here with a code.
/// It must come back with the `state` this browser left with (which is what
/// stops a forged callback), then the code is exchanged with the PKCE
/// verifier. Like any OAuth redirect target, this GET starts a session.
pub async fn hosted_ui_callback(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<CallbackQuery>,
) -> Response {
    use base64::Engine;
    let pending = cookie(&headers, OAUTH_COOKIE).and_then(|value| {
        let mut parts = value.splitn(3, '~');
        let (state, verifier, next) = (parts.next()?, parts.next()?, parts.next()?);
        let next = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(next)
            .ok()?;
        Some((
            state.to_owned(),
            verifier.to_owned(),
            String::from_utf8(next).ok()?,
        ))
    });
    let refused = |reason: &'static str| {
        let state = state.clone();
        let client = caller.client.clone();
        async move {
            if let Err(err) = sign_in::refuse_callback(&state, &client, reason).await {
                return err.into_response();
            }
            let mut response = Redirect::to("/sign-in?error=cognito").into_response();
            set_cookie(
                &mut response,
                &format!("{OAUTH_COOKIE}=; Path=/auth/callback; HttpOnly; SameSite=Lax; Max-Age=0"),
            );
            response
        }
    };
    if query.error.is_some() {
        return refused("the hosted UI returned an error").await;
    }
    let (Some((expected, verifier, next)), Some(returned), Some(code)) =
        (pending, query.state, query.code)
    else {
        return refused("callback without a pending sign-in").await;
    };
    let same_state: bool = sha2_eq(&expected, &returned);
    if !same_state {
        return refused("state mismatch").await;
    }
    let outcome = sign_in::with_authorization_code(&state, &code, &verifier, &caller.client).await;
    let mut response = match outcome {
        Ok(Outcome::SignedIn { session_token }) => {
            signed_in(&state.auth.policy, &session_token, &safe_next(Some(&next)))
        }
        Ok(_) => Redirect::to("/sign-in?error=cognito").into_response(),
        Err(err) => {
            tracing::warn!(%err, "hosted UI sign-in could not complete");
            Redirect::to("/sign-in?error=unavailable").into_response()
        }
    };
    set_cookie(
        &mut response,
        &format!("{OAUTH_COOKIE}=; Path=/auth/callback; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    response
}

/// Compares two secrets in time independent of where they differ.
fn sha2_eq(a: &str, b: &str) -> bool {
    use sha2::Digest;
    sha2::Sha256::digest(a.as_bytes()) == sha2::Sha256::digest(b.as_bytes())
}

#[cfg(test)]
mod tests {

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/16".parse().unwrap()];
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.4".parse().unwrap(),
        );
        let proxy: IpAddr = "10.0.1.5".parse().unwrap();
        let stranger: IpAddr = "192.0.2.50".parse().unwrap();
        assert_eq!(
            client_ip(proxy, &headers, &trusted).to_string(),
            "198.51.100.4",
            "the hop the proxy saw"
        );
        assert_eq!(
            client_ip(stranger, &headers, &trusted),
            stranger,
            "a forged header from an untrusted address is ignored"
        );
        assert_eq!(client_ip(proxy, &headers, &[]), proxy, "no trusted proxies");
        headers.insert("x-forwarded-for", "203.0.113.9, 10.0.3.3".parse().unwrap());
        assert_eq!(
            client_ip(proxy, &headers, &trusted).to_string(),
            "203.0.113.9",
            "trusted hops are skipped"
        );
        headers.insert("x-forwarded-for", "203.0.113.9, junk".parse().unwrap());
        assert_eq!(client_ip(proxy, &headers, &trusted), proxy);
        let mapped: IpAddr = "::ffff:10.0.1.5".parse().unwrap();
        headers.insert("x-forwarded-for", "203.0.113.9".parse().unwrap());
        assert_eq!(
            client_ip(mapped, &headers, &trusted).to_string(),
            "203.0.113.9"
        );
    }
    use super::*;

    #[test]
    fn only_paths_on_this_console_are_return_targets() {
        assert_eq!(
            safe_next(Some("/reviews/abc?tab=diff")),
            "/reviews/abc?tab=diff"
        );
        for hostile in [
            "https://evil.example/",
            "//evil.example/",
            "/\\\\evil.example",
            "\\\\evil.example",
            "javascript:alert(1)",
            "evil.example",
            "/auth/sign-out",
            "/\\t/evil",
        ] {
            assert_eq!(safe_next(Some(hostile)), "/", "{hostile}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn same_origin_needs_proof() {
        let headers = |pairs: &[(&str, &str)]| {
            let mut map = HeaderMap::new();
            for (k, v) in pairs {
                map.insert(
                    http::HeaderName::from_bytes(k.as_bytes()).unwrap_or(header::ACCEPT),
                    HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("")),
                );
            }
            map
        };
        assert!(same_origin_request(&headers(&[(
            "sec-fetch-site",
            "same-origin"
        )])));
        assert!(!same_origin_request(&headers(&[(
            "sec-fetch-site",
            "cross-site"
        )])));
        assert!(same_origin_request(&headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000")
        ])));
        assert!(!same_origin_request(&headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://evil.example")
        ])));
        assert!(!same_origin_request(&headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "null")
        ])));
        assert!(!same_origin_request(&headers(&[
            ("host", "127.0.0.1:3000"),
            ("cookie", "gatehouse_session=x")
        ])));
        assert!(same_origin_request(&headers(&[(
            "authorization",
            "Bearer abc"
        )])));
        assert!(!same_origin_request(&headers(&[
            ("authorization", "Bearer abc"),
            ("cookie", "a=b")
        ])));
    }
}
