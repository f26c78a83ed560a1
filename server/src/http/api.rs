//! The JSON API for scripts, under `/api/v1/`. Each endpoint authenticates
//! with the session cookie or `Authorization: Bearer <access token>`; a
//! missing, invalid, expired or forged token gets 401 and no reason.

use app::auth::User;
use app::auth::caller::Caller;
use app::auth::tokens::TokenUse;
use app::changes::ChangeFilter;
use app::error::AppError;
use app::roles::Role;
use app::rules::live::{self, LiveError};
use app::state::AppState;
use axum::{
    Extension, Json,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        Json(serde_json::json!({ "error": "unauthorized" })),
    )
        .into_response()
}

/// The caller: the session's user, else the bearer token's.
async fn api_user(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
) -> Result<User, Response> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if let Some(token) = bearer {
        let pool = state.auth.pool.as_ref().ok_or_else(unauthorized)?;
        let user = pool
            .verifier
            .verify(token.trim(), TokenUse::Access)
            .await
            .map_err(|err| {
                tracing::info!(%err, "bearer token refused");
                unauthorized()
            })?;
        return app::auth::caller::with_roles(state, user)
            .await
            .map_err(IntoResponse::into_response);
    }
    caller.user().cloned().ok_or_else(unauthorized)
}

/// `GET /api/v1/me`: `{"username", "sub", "groups", "roles"}`.
pub async fn me(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
) -> Response {
    match api_user(&state, &caller, &headers).await {
        Ok(user) => Json(user).into_response(),
        Err(response) => response,
    }
}

/// `GET /api/v1/aws/calls` (admins): the AWS calls this console process
/// has made since it started, per service, counted at the client (retries
/// included): `{"wafv2": 12, "dynamodb": 3, …}`.
pub async fn aws_calls(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = api_user_with(&state, &caller, &headers, Role::Admin).await {
        return response;
    }
    let calls: serde_json::Map<String, serde_json::Value> = state
        .aws
        .budget
        .calls()
        .into_iter()
        .map(|(service, n)| (service.to_owned(), n.into()))
        .collect();
    Json(calls).into_response()
}

/// The caller, who must hold `role`: 403 (and no detail) otherwise.
async fn api_user_with(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    role: Role,
) -> Result<User, Response> {
    let user = api_user(state, caller, headers).await?;
    match user.has(role) {
        true => Ok(user),
        false => Err((
            StatusCode::FORBIDDEN,
            Json(serde_json::json!({ "error": "forbidden" })),
        )
            .into_response()),
    }
}

/// A query parameter's value.
fn param<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// A JSON answer, or the error's.
fn answer(result: Result<serde_json::Value, AppError>) -> Response {
    match result {
        Ok(value) => Json(value).into_response(),
        Err(error) => error.into_response(),
    }
}

/// AWS's words go to the log; the caller gets what it can act on.
fn live_error(error: LiveError) -> Response {
    let (status, message) = match &error {
        LiveError::Scope(_) | LiveError::NotFound(..) => (StatusCode::NOT_FOUND, error.to_string()),
        LiveError::Aws(_) | LiveError::Unreadable(_) => {
            tracing::warn!(%error, "reading web ACLs failed");
            (
                StatusCode::BAD_GATEWAY,
                "AWS WAF could not be read; the server log has the details".to_owned(),
            )
        }
    };
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// `GET /api/v1/web-acls`: `[{"name", "id", "arn", "scope"}]`, regional
/// and CloudFront.
pub async fn web_acls(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = api_user_with(&state, &caller, &headers, Role::Viewer).await {
        return response;
    }
    match live::all_web_acls_shared(&state.aws).await {
        Ok(all) => Json(all).into_response(),
        Err(error) => live_error(error),
    }
}

/// `GET /api/v1/web-acls/{scope}/{name}/rules`: the live rules as AWS's
/// JSON (as the console's JSON editor shows them), with the lock token:
/// read from AWS on every request, since a script asks for them to see
/// exactly what AWS holds (after an apply, say) — unlike the web ACL list,
/// which the live-state cache answers.
pub async fn web_acl_rules(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((scope, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = api_user_with(&state, &caller, &headers, Role::Viewer).await {
        return response;
    }
    match live::rules(&state.aws.wafv2, &scope, &name).await {
        Ok(live) => Json(serde_json::json!({
            "web_acl": live.web_acl,
            "lock_token": live.lock_token,
            "rules": app::rules::model::rules_json(&live.rules),
        }))
        .into_response(),
        Err(error) => live_error(error),
    }
}

/// `GET /api/v1/changes?status=&author=&target=`: change requests, most
/// recently changed first (drafts only the caller's own).
pub async fn changes(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    axum::extract::Query(query): axum::extract::Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let user = match api_user_with(&state, &caller, &headers, Role::Viewer).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let filter = ChangeFilter::from_query(|key| {
        query.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    });
    let filter = match filter {
        Ok(filter) => filter,
        Err(problem) => return AppError::BadRequest(problem).into_response(),
    };
    match app::changes::store::list(&state.pool, &filter, &user.username).await {
        Ok(rows) => Json(rows).into_response(),
        Err(error) => AppError::from(error).into_response(),
    }
}

/// `GET /api/v1/changes/{id}`: one change request, whole (diff, evidence,
/// comments, approvals, timeline).
pub async fn change(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let user = match api_user_with(&state, &caller, &headers, Role::Viewer).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let Ok(id) = id.parse::<uuid::Uuid>() else {
        return AppError::NotFound.into_response();
    };
    let found = match app::changes::store::visible_to(&state.pool, id, &user.username).await {
        Ok(change) => app::changes::view::view(&state.pool, change).await,
        Err(error) => Err(error),
    };
    match found {
        Ok(view) => Json(view).into_response(),
        Err(error) => AppError::from(error).into_response(),
    }
}

/// `GET /api/v1/policies?table=`: the live mappings of a managed policy
/// table (the first when not named), each with its form, summary and
/// findings.
pub async fn policies(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    axum::extract::Query(query): axum::extract::Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = api_user_with(&state, &caller, &headers, Role::Viewer).await {
        return response;
    }
    let shown = live_mappings(&state, param(&query, "table"))
        .await
        .map(|(table, mappings)| app::policies::mapping::show_json(&table, &mappings.mappings));
    answer(shown)
}

/// `POST /api/v1/policies/simulate` with `{"groups": […], "method", "path",
/// "stage", "api_id", "region", "account", "source_ip", "context", "table"}`
/// (all but the groups optional): the decision against the live table, as
/// `gatehouse policy simulate` answers, with the resource and the
/// authorizer's output.
pub async fn simulate_policies(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(response) = api_user_with(&state, &caller, &headers, Role::Viewer).await {
        return response;
    }
    let simulate: app::policies::mapping::Simulate = match serde_json::from_slice(&body) {
        Ok(simulate) => simulate,
        Err(error) => {
            return AppError::BadRequest(format!("Not a simulation: {error}.")).into_response();
        }
    };
    let answered = live_mappings(&state, simulate.table.as_deref())
        .await
        .map(|(_, mappings)| simulate.run(&mappings));
    answer(answered)
}

async fn live_mappings(
    state: &AppState,
    table: Option<&str>,
) -> Result<(String, app::policies::mapping::Mappings), AppError> {
    let table = app::policies::live::table(&state.pool, table).await?;
    let reach = app::changes::kinds::Reach {
        pool: &state.pool,
        aws: &state.aws,
    };
    let (mappings, _) = app::policies::live::read(reach, &table).await?;
    Ok((table, mappings))
}

/// `GET /api/v1/vpn/countries?set=`: the allowed countries, NAT addresses,
/// deny policy (and SCP) of a managed VPN geofencing set, and where each
/// lives.
pub async fn vpn_countries(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    axum::extract::Query(query): axum::extract::Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = api_user_with(&state, &caller, &headers, Role::Viewer).await {
        return response;
    }
    let shown = async {
        let name = app::vpn::service::chosen(&state.pool, param(&query, "set")).await?;
        let (parts, _) = app::vpn::service::parts(&state, &name).await?;
        Ok::<_, AppError>(app::vpn::service::show_json(&name, &parts))
    };
    answer(shown.await)
}

/// `GET /api/v1/vpn/test?ip=&set=`: an address's country, what the geo web
/// ACL does with it and the connect handler's answer.
pub async fn vpn_test(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    axum::extract::Query(query): axum::extract::Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = api_user_with(&state, &caller, &headers, Role::Viewer).await {
        return response;
    }
    let get = |key: &str| param(&query, key);
    let tested = async {
        let name = app::vpn::service::chosen(&state.pool, get("set")).await?;
        let (parts, _) = app::vpn::service::parts(&state, &name).await?;
        let found = app::vpn::service::test_ip(&state, &parts, None, get("ip").unwrap_or(""))?;
        Ok::<_, AppError>(app::vpn::service::test_json(&found))
    };
    answer(tested.await)
}

/// What a replay is asked for, from the query string or a JSON body.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayAsk {
    /// The web ACL whose traffic (and live rules) are replayed.
    web_acl: Option<String>,
    scope: Option<String>,
    /// A change request: its rules beside the rules it is based on.
    change: Option<uuid::Uuid>,
    /// Rules (as `rules validate` takes them), replayed alone.
    rules: Option<serde_json::Value>,
    from: Option<String>,
    to: Option<String>,
}

async fn replayed(
    state: &AppState,
    user: &User,
    ask: ReplayAsk,
) -> Result<serde_json::Value, AppError> {
    use app::traffic::replay::TOP_KEYS;
    use app::traffic::replaying::{self, Range, Sources};
    let time = |name: &str, value: Option<&str>| {
        value
            .map(|v| {
                app::traffic::query::parse_time(v).ok_or_else(|| {
                    AppError::BadRequest(format!(
                        "{name}: {v:?} is not a date and time (RFC 3339)."
                    ))
                })
            })
            .transpose()
    };
    let range = Range::or_default(
        &state.pool,
        time("from", ask.from.as_deref())?,
        time("to", ask.to.as_deref())?,
    )
    .await?;
    let sources = Sources {
        pool: &state.pool,
        wafv2: Some(&state.aws.wafv2),
        geo: state.geo.as_ref(),
    };
    let json =
        |value: Result<serde_json::Value, serde_json::Error>| value.map_err(|_| AppError::Internal);
    if let Some(id) = ask.change {
        let change = app::changes::store::visible_to(&state.pool, id, &user.username).await?;
        return json(serde_json::to_value(
            replaying::replay_change(sources, &change, range).await?,
        ));
    }
    let name = ask
        .web_acl
        .ok_or_else(|| AppError::BadRequest("Name a web_acl or a change.".into()))?;
    let scope = ask.scope.unwrap_or_else(|| "REGIONAL".into());
    let managed = app::settings::store::current(&state.pool).await?;
    if !managed
        .of(app::targets::TargetKind::WebAcl)
        .any(|t| t.name == name && t.scope.as_deref().unwrap_or("REGIONAL") == scope)
    {
        return Err(AppError::BadRequest(format!(
            "Gatehouse does not manage the web ACL {name} ({scope})."
        )));
    }
    let Some(rules) = ask.rules else {
        return json(serde_json::to_value(
            replaying::replay_live(sources, &scope, &name, range).await?,
        ));
    };
    let rules = app::rules::rules_of(rules)
        .map_err(|e| AppError::BadRequest(format!("Not rules: {e}.")))?;
    let report = replaying::replay_sets(sources, &name, range, &[&rules])
        .await?
        .remove(0)
        .shortened(TOP_KEYS);
    json(serde_json::to_value(report))
}

/// `GET /api/v1/traffic/replay?web_acl=&scope=&change=&from=&to=`: the
/// imported traffic through a managed web ACL's live rules, or a change
/// request's rules beside the rules it is based on (the review page's
/// evidence, by URL).
pub async fn replay_get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    axum::extract::Query(query): axum::extract::Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let user = match api_user_with(&state, &caller, &headers, Role::Viewer).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let get = |key: &str| param(&query, key).map(str::to_owned);
    let change = match get("change").map(|c| c.parse::<uuid::Uuid>()) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => {
            return AppError::BadRequest("change: not a change request id.".into()).into_response();
        }
    };
    let ask = ReplayAsk {
        web_acl: get("web_acl"),
        scope: get("scope"),
        change,
        rules: None,
        from: get("from"),
        to: get("to"),
    };
    answer(replayed(&state, &user, ask).await)
}

/// `POST /api/v1/traffic/replay` with `{"web_acl", "scope", "change",
/// "rules", "from", "to"}`: as the GET, and with `rules` that set of rules
/// on the web ACL's traffic.
pub async fn replay_post(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let user = match api_user_with(&state, &caller, &headers, Role::Viewer).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let ask: ReplayAsk = match serde_json::from_slice(&body) {
        Ok(ask) => ask,
        Err(error) => {
            return AppError::BadRequest(format!("Not a replay: {error}.")).into_response();
        }
    };
    answer(replayed(&state, &user, ask).await)
}
