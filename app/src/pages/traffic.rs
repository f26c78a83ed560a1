//! The Traffic page: what was imported, an analysis form with every
//! parameter, the top keys per window, the recommendation with its what-if,
//! and the charts. The whole analysis lives in the query string, so the
//! address bar is the link to share.

use crate::error::AppError;
use crate::traffic::healthy::{Healthy, LeftOut};
use crate::traffic::query::{Analysis, KeyBy, UNKNOWN_WEB_ACL, UriMatch, WINDOWS, rfc3339};
use crate::traffic::runs::{AthenaStatus, RunState};
use crate::traffic::threshold::{Basis, DEFAULT_BUFFER_PERCENT};
use crate::traffic::windows::TopRow;
use crate::traffic::{ImportRow, Recommendation};
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

/// The recommendation panel's own parameters, beside the analysis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Panel {
    pub basis: Basis,
    pub buffer_percent: u32,
    /// The limit to replay; the recommended one when not given.
    pub what_if: Option<u64>,
    /// What the recommendation is based on.
    pub healthy: Healthy,
}

impl Panel {
    /// The panel's query-string pairs: only what differs from the default.
    pub fn to_query(&self) -> Vec<String> {
        let mut pairs = Vec::new();
        if self.basis != Basis::P99 {
            pairs.push(format!("percentile={}", self.basis.as_str()));
        }
        if self.buffer_percent != DEFAULT_BUFFER_PERCENT {
            pairs.push(format!("buffer={}", self.buffer_percent));
        }
        if let Some(limit) = self.what_if {
            pairs.push(format!("what_if={limit}"));
        }
        pairs.extend(self.healthy.to_query());
        pairs
    }
}

/// Everything the page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrafficView {
    pub imports: Vec<ImportRow>,
    /// The analysis asked (defaults filled in), or why it cannot be answered.
    pub analysis: Result<Analysis, String>,
    /// What the form shows: the analysis, or the defaults when it failed.
    pub form: Analysis,
    pub panel: Panel,
    pub result: Option<AnalysisResult>,
    /// The managed web ACLs (`SCOPE/name`) an editor may propose a rule
    /// for; empty for others.
    pub propose_to: Vec<String>,
    /// The managed web ACLs' names, to choose the traffic of one.
    pub web_acls: Vec<String>,
    /// The log source the analysis reads, and those registered.
    pub source: String,
    pub sources: Vec<String>,
    /// An Athena source's runs.
    pub athena: Option<AthenaStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalysisResult {
    pub top: Vec<TopRow>,
    pub recommendation: Recommendation,
    /// SVG documents drawn on the server.
    pub charts: [String; 3],
}

#[cfg(feature = "ssr")]
fn panel_of(get: &impl Fn(&str) -> Option<String>) -> Result<Panel, String> {
    let text = |k: &str| {
        get(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    Ok(Panel {
        basis: text("percentile").map_or(Ok(Basis::P99), |v| Basis::parse(&v))?,
        buffer_percent: match text("buffer") {
            None => DEFAULT_BUFFER_PERCENT,
            Some(v) => v
                .parse()
                .ok()
                .filter(|b| *b <= 1000)
                .ok_or_else(|| format!("buffer: {v:?} is not a percentage from 0 to 1000"))?,
        },
        what_if: match text("what_if") {
            None => None,
            Some(v) => Some(
                v.parse()
                    .map_err(|_| format!("what_if: {v:?} is not a whole number"))?,
            ),
        },
        healthy: Healthy::from_query(get)?,
    })
}

#[server(input = leptos::server_fn::codec::Json, output = crate::codec::Json)]
pub async fn load_traffic(query: Vec<(String, String)>) -> Result<TrafficView, AppError> {
    let user = crate::auth::caller::require(crate::roles::Role::Viewer).await?;
    let state = crate::state::app_state()?;
    let mut view = traffic_view(&state, &query).await?;
    let managed = managed_web_acls(&state.pool).await?;
    view.web_acls = managed
        .iter()
        .filter_map(|w| w.split_once('/').map(|(_, name)| name.to_owned()))
        .collect();
    view.web_acls.sort();
    view.web_acls.dedup();
    if user.has(crate::roles::Role::Editor) {
        view.propose_to = managed;
    }
    Ok(view)
}

/// The managed web ACLs, as `SCOPE/name`.
#[cfg(feature = "ssr")]
async fn managed_web_acls(pool: &sqlx::PgPool) -> Result<Vec<String>, AppError> {
    let doc = crate::settings::store::current(pool).await?;
    Ok(doc
        .of(crate::targets::TargetKind::WebAcl)
        .map(|t| format!("{}/{}", t.scope.as_deref().unwrap_or("REGIONAL"), t.name))
        .collect())
}

/// The page for the analysis in `query` (a link's query string, or the
/// form's fields).
#[cfg(feature = "ssr")]
pub async fn traffic_view(
    state: &crate::state::AppState,
    query: &[(String, String)],
) -> Result<TrafficView, AppError> {
    let (imports, analysed, sources) = tokio::try_join!(
        async { Ok(crate::traffic::store::imports(&state.pool, 20).await?) },
        analyse(state, query),
        crate::traffic::athena_view::sources(state),
    )?;
    let mut names: Vec<String> = vec![crate::traffic::runs::IMPORTED.to_owned()];
    names.extend(
        sources
            .iter()
            .map(|s| s.name().to_owned())
            .filter(|n| n != crate::traffic::runs::IMPORTED),
    );
    Ok(TrafficView {
        imports,
        analysis: analysed.analysis,
        form: analysed.form,
        panel: analysed.panel,
        result: analysed.result,
        propose_to: Vec::new(),
        web_acls: Vec::new(),
        source: analysed.source,
        sources: names,
        athena: analysed.athena,
    })
}

/// The analysis in `query`, answered: the page's view without the imports.
#[cfg(feature = "ssr")]
pub struct Analysed {
    pub analysis: Result<Analysis, String>,
    pub form: Analysis,
    pub panel: Panel,
    pub result: Option<AnalysisResult>,
    pub source: String,
    pub athena: Option<AthenaStatus>,
}

/// Answers the analysis in `query` (a link's query string, or the form's
/// fields).
#[cfg(feature = "ssr")]
pub async fn analyse(
    state: &crate::state::AppState,
    query: &[(String, String)],
) -> Result<Analysed, AppError> {
    use crate::traffic::{athena_view, charts, store};
    let pool = &state.pool;
    let default_range = store::default_range(pool, chrono::Utc::now()).await?;
    let find = |key: &str| query.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let source = find("source")
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| crate::traffic::runs::IMPORTED.to_owned());
    // An unknown source is a question that cannot be answered: said, with
    // the form kept.
    let (athena_source, unknown_source) = match athena_view::athena_source(state, &source).await {
        Ok(found) => (found, None),
        Err(AppError::BadRequest(problem)) => (None, Some(problem)),
        Err(other) => return Err(other),
    };
    // The form names the key in two fields (kind, and the header for a
    // forwarded IP); links name it in one.
    let by = find("by").or_else(|| {
        find("by_kind").map(|kind| match kind.as_str() {
            "forwarded" => format!("forwarded:{}", find("header").unwrap_or_default().trim()),
            _ => kind,
        })
    });
    let get = |key: &str| if key == "by" { by.clone() } else { find(key) };
    let panel = panel_of(&get);
    let analysis = Analysis::from_query(get, default_range);
    let analysis = match unknown_source {
        Some(problem) => Err(problem),
        None => analysis,
    };
    let (analysis, panel) = match (analysis, panel) {
        (Ok(a), Ok(p)) => (a, p),
        (Err(problem), _) | (_, Err(problem)) => {
            let form =
                Analysis::from_query(|_| None, default_range).map_err(AppError::BadRequest)?;
            return Ok(Analysed {
                form,
                analysis: Err(problem),
                panel: panel_of(&|_| None).map_err(AppError::BadRequest)?,
                result: None,
                source,
                athena: None,
            });
        }
    };
    let healthy = Some(&panel.healthy).filter(|h| h.leaves_out_anything());
    let (answer, athena, what_if) = match &athena_source {
        None => (
            store::answer(pool, &analysis, store::Detail::Everything, healthy).await?,
            None,
            None,
        ),
        Some(on) => {
            let caller = crate::auth::caller::caller();
            let actor =
                caller
                    .user()
                    .map(crate::auth::sign_in::actor)
                    .unwrap_or(crate::audit::Actor {
                        sub: None,
                        username: None,
                    });
            let limit = |answer: &store::Answer| {
                let r = answer.recommendation(panel.basis, panel.buffer_percent, panel.what_if);
                r.what_if.limit
            };
            let (status, answered) =
                athena_view::view(state, on, &analysis, healthy, limit, &actor, &caller.client)
                    .await?;
            match answered {
                None => {
                    return Ok(Analysed {
                        form: analysis.clone(),
                        analysis: Ok(analysis),
                        panel,
                        result: None,
                        source,
                        athena: Some(status),
                    });
                }
                Some((answer, what_if)) => (answer, Some(status), what_if),
            }
        }
    };
    let mut recommendation =
        answer.recommendation(panel.basis, panel.buffer_percent, panel.what_if);
    if let Some(replayed) = what_if {
        recommendation.what_if = replayed;
    }
    let line = recommendation.what_if.limit;
    let charts = [
        charts::top_bars(&answer.top, line),
        charts::over_time(
            &answer.busiest,
            &answer.totals,
            analysis.window,
            (analysis.from.timestamp(), analysis.to.timestamp()),
            line,
        ),
        charts::peak_distribution(&answer.peaks, recommendation.recommended),
    ];
    Ok(Analysed {
        form: analysis.clone(),
        analysis: Ok(analysis),
        panel,
        result: Some(AnalysisResult {
            top: answer.top,
            recommendation,
            charts,
        }),
        source,
        athena,
    })
}

/// What the healthy basis left out, in words.
fn left_out_words(l: &LeftOut) -> String {
    let share = |n: u64| match l.requests {
        0 => String::new(),
        all => format!(" ({:.1} %)", n as f64 * 100.0 / all as f64),
    };
    let mut parts: Vec<String> = [
        (l.blocked, "requests WAF blocked or challenged"),
        (l.labelled, "requests labelled as from known-bad sources"),
        (l.excluded_time, "requests in excluded time ranges"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}{}", share(n)))
    .collect();
    if l.outlier_keys > 0 {
        parts.push(format!(
            "{} outlier keys (peaks above {}, far above the rest: modified z-score of the log peak over 3.5)",
            l.outlier_keys, l.outlier_above
        ));
    }
    match parts.is_empty() {
        true => format!(
            "Based on healthy traffic: nothing needed leaving out; {} keys.",
            l.keys
        ),
        false => format!(
            "Based on healthy traffic of {} keys: left out {}. The what-if below replays all traffic.",
            l.keys,
            parts.join(", ")
        ),
    }
}

fn time(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0).map_or_else(String::new, rfc3339)
}

fn short(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map_or_else(|| "—".into(), |t| t.format("%Y-%m-%d %H:%M").to_string())
}

/// The page as the server renders it; the island within hydrates.
#[component]
pub fn Traffic() -> impl IntoView {
    view! {
        <Title text="Traffic" />
        <TrafficIsland query=analysis_query() />
    }
}

/// The analysis's parameters in the request's query string, on the server.
fn analysis_query() -> Vec<(String, String)> {
    let q = leptos_router::hooks::use_query_map().get_untracked();
    let keys = [
        "from",
        "to",
        "window",
        "by",
        "by_kind",
        "header",
        "uri",
        "uri_match",
        "method",
        "country",
        "web_acl",
        "label",
        "sliding",
        "limit",
        "percentile",
        "buffer",
        "what_if",
        "blocked",
        "bad_labels",
        "exclude",
        "outliers",
        "source",
    ];
    keys.iter()
        .filter_map(|k| q.get(k).map(|v| ((*k).to_owned(), v)))
        .collect()
}

#[island(lazy)]
fn TrafficIsland(query: Vec<(String, String)>) -> impl IntoView {
    let data = Resource::new(move || query.clone(), load_traffic);
    view! {
        <h1>"Traffic"</h1>
        <p class="lead">
            "Request rates from your WAF logs: who sends the most per window, the peak a rate limit must allow, "
            "and what a limit would have blocked. Import logs with " <code>"gatehouse logs import PATH…"</code> "."
        </p>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => {
                        // While Athena works, look again shortly.
                        if view.athena.as_ref().is_some_and(AthenaStatus::in_flight) {
                            set_timeout(move || data.refetch(), std::time::Duration::from_millis(1500));
                        }
                        view! { <TrafficBody view refresh=Callback::new(move |()| data.refetch()) /> }.into_any()
                    }
                    Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn TrafficBody(view: TrafficView, refresh: Callback<()>) -> impl IntoView {
    let TrafficView {
        imports,
        analysis,
        form,
        panel,
        result,
        propose_to,
        web_acls,
        source,
        sources,
        athena,
    } = view;
    let problem = analysis.as_ref().err().cloned();
    let shown = analysis.ok();
    let mut link_query = shown.as_ref().map(|a| {
        let mut q = a.to_query();
        for pair in panel.to_query() {
            q += &format!("&{pair}");
        }
        q
    });
    if source != crate::traffic::runs::IMPORTED
        && let Some(q) = &mut link_query
    {
        *q += &format!("&source={}", crate::url::encode(&source));
    }
    let what_if_done = athena.as_ref().is_none_or(|a| {
        a.what_if
            .as_ref()
            .is_some_and(|r| r.state == RunState::Succeeded)
    });
    view! {
        <Upload />
        <Imports imports />
        <AnalysisForm a=form panel=panel.clone() web_acls source=source.clone() sources />
        {problem.map(|p| view! { <p class="error" role="alert">{p}</p> })}
        {athena.zip(link_query.clone()).map(|(status, query)| view! { <AthenaRuns status query refresh /> })}
        {shown.zip(result).zip(link_query).map(|((analysis, result), query)| view! {
            <Results analysis query result propose_to what_if_done />
        })}
    }
}

/// Runs the analysis of `query` on its Athena source; `again` runs it
/// even when a run is kept. Any signed-in person may: viewers run analyses.
#[server(output = crate::codec::Json)]
pub async fn run_on_athena(query: String, again: bool) -> Result<(), AppError> {
    use crate::traffic::athena_view;
    let user = crate::auth::caller::require(crate::roles::Role::Viewer).await?;
    let state = crate::state::app_state()?;
    let query: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let find = |key: &str| query.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let source = find("source").unwrap_or_default();
    let on = athena_view::athena_source(&state, &source)
        .await?
        .ok_or_else(|| AppError::BadRequest(format!("{source:?} is not an Athena log source.")))?;
    let default_range =
        crate::traffic::store::default_range(&state.pool, chrono::Utc::now()).await?;
    let analysis = Analysis::from_query(find, default_range).map_err(AppError::BadRequest)?;
    let panel = panel_of(&find).map_err(AppError::BadRequest)?;
    let healthy = Some(&panel.healthy).filter(|h| h.leaves_out_anything());
    let actor = crate::auth::sign_in::actor(&user);
    let client = crate::auth::caller::caller().client;
    athena_view::run(&state, &on, &analysis, healthy, again, &actor, &client).await?;
    Ok(())
}

/// Stops a run on Athena that is still going.
#[server(output = crate::codec::Json)]
pub async fn cancel_on_athena(run: i64) -> Result<(), AppError> {
    let user = crate::auth::caller::require(crate::roles::Role::Viewer).await?;
    let state = crate::state::app_state()?;
    let actor = crate::auth::sign_in::actor(&user);
    let client = crate::auth::caller::caller().client;
    crate::traffic::athena_view::cancel(&state, run, &actor, &client).await?;
    Ok(())
}

/// An Athena source's runs: where each is, what it scanned and cost, and
/// the buttons to run, run again or cancel.
#[component]
fn AthenaRuns(status: AthenaStatus, query: String, refresh: Callback<()>) -> impl IntoView {
    let run = ServerAction::<RunOnAthena>::new();
    let cancel = ServerAction::<CancelOnAthena>::new();
    Effect::new(move |_| {
        if run.value().get().is_some() || cancel.value().get().is_some() {
            refresh.run(());
        }
    });
    let again_query = query.clone();
    let price = status.price_per_tb;
    let line = |what: &'static str, r: &crate::traffic::runs::Run| {
        let scanned = r.bytes_scanned as f64 / 1e6;
        let cost = r.cost(price);
        let state = r.state.as_str();
        let reason = r.reason.clone();
        let id = r.id;
        let going = !r.state.is_final();
        view! {
            <li data-testid=format!("athena-{what}")>
                <strong>{what}</strong>": "
                <span data-testid="athena-state">{state}</span>
                {format!(" · {scanned:.1} MB scanned · ${cost:.4} at ${price}/TB · {:.1} s · started by {}",
                    r.execution_ms as f64 / 1000.0, r.started_by)}
                {reason.map(|why| view! { <p class="error" role="alert">{why}</p> })}
                {going.then(|| view! {
                    <button type="button" on:click=move |_| { cancel.dispatch(CancelOnAthena { run: id }); }>"Cancel"</button>
                })}
            </li>
        }
    };
    let counts = status.counts.as_ref().map(|r| line("analysis", r));
    let what_if = status.what_if.as_ref().map(|r| line("what-if", r));
    let ran = status.counts.is_some();
    view! {
        <section class="panel" aria-labelledby="athena-heading" data-testid="athena">
            <h2 id="athena-heading">{format!("Amazon Athena: {}", status.source)}</h2>
            {status.emulator.then(|| view! {
                <p class="notice" role="note">
                    "This console talks to an AWS emulator: its Athena runs no SQL, so analyses come back empty. "
                    "On AWS, the same statements scan the chosen days of your WAF logs."
                </p>
            })}
            {(!ran).then(|| view! {
                <p>"This analysis has not run on Athena yet. Running it scans the chosen days of the logs, billed by the data scanned."</p>
                <button type="button" on:click=move |_| { run.dispatch(RunOnAthena { query: query.clone(), again: false }); }>"Run on Athena"</button>
            })}
            <ul class="runs">{counts}{what_if}</ul>
            {ran.then(|| view! {
                <button type="button" on:click=move |_| { run.dispatch(RunOnAthena { query: again_query.clone(), again: true }); }>"Run again"</button>
            })}
            {move || run.value().get().and_then(Result::err).map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })}
            {move || cancel.value().get().and_then(Result::err).map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })}
        </section>
    }
}

#[component]
fn Imports(imports: Vec<ImportRow>) -> impl IntoView {
    if imports.is_empty() {
        return view! { <p role="status">"Nothing imported yet."</p> }.into_any();
    }
    view! {
        <section aria-labelledby="imports-heading">
            <h2 id="imports-heading">"Imports"</h2>
            <div class="table-wrap">
                <table>
                    <thead>
                        <tr>
                            <th scope="col">"Imported (UTC)"</th>
                            <th scope="col">"By"</th>
                            <th scope="col">"From"</th>
                            <th scope="col">"Files"</th>
                            <th scope="col">"Records"</th>
                            <th scope="col">"Malformed"</th>
                            <th scope="col">"Already imported"</th>
                            <th scope="col">"Time span (UTC)"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {imports
                            .into_iter()
                            .map(|i| {
                                view! {
                                    <tr>
                                        <td>{short(Some(i.started_at))}</td>
                                        <td>{i.imported_by}</td>
                                        <td>{i.source}</td>
                                        <td class="num">{i.files}</td>
                                        <td class="num">{i.records}</td>
                                        <td class="num">{i.malformed}</td>
                                        <td class="num">{i.duplicates_skipped}</td>
                                        <td>{format!("{} – {}", short(i.first_at), short(i.last_at))}</td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
    .into_any()
}

#[component]
fn AnalysisForm(
    a: Analysis,
    panel: Panel,
    web_acls: Vec<String>,
    source: String,
    sources: Vec<String>,
) -> impl IntoView {
    let chosen = a.web_acl.clone().unwrap_or_default();
    let mut web_acl_options: Vec<(String, String)> = vec![("all".into(), "All web ACLs".into())];
    web_acl_options.extend(web_acls.into_iter().map(|w| (w.clone(), w)));
    web_acl_options.push((
        UNKNOWN_WEB_ACL.into(),
        "Unknown (logs imported before web ACLs were kept)".into(),
    ));
    if !chosen.is_empty() && !web_acl_options.iter().any(|(v, _)| *v == chosen) {
        web_acl_options.push((chosen.clone(), chosen.clone()));
    }
    let healthy = panel.healthy.clone();
    let by_kind = match &a.by {
        KeyBy::Forwarded(_) => "forwarded".to_owned(),
        other => other.as_text(),
    };
    let header = match &a.by {
        KeyBy::Forwarded(h) => h.clone(),
        _ => "X-Forwarded-For".into(),
    };
    let by_options = [
        ("ip", "Client IP"),
        ("forwarded", "Forwarded-IP header"),
        ("ip-uri", "Client IP + URI"),
        ("country", "Country"),
    ];
    view! {
        <section aria-labelledby="analysis-heading">
            <h2 id="analysis-heading">"Analysis"</h2>
            <form method="get" action="/traffic" class="filters" aria-label="Analysis">
                <label>
                    "Logs from"
                    <select name="source">
                        {sources.into_iter().map(|name| {
                            let label = match name == crate::traffic::runs::IMPORTED {
                                true => "Imported into PostgreSQL".to_owned(),
                                false => format!("{name} (Athena)"),
                            };
                            view! { <option value=name.clone() selected=name == source>{label}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <label>"From (UTC)" <input name="from" value=rfc3339(a.from) required /></label>
                <label>"To (UTC)" <input name="to" value=rfc3339(a.to) required /></label>
                <label>
                    "Window"
                    <select name="window">
                        {WINDOWS.into_iter().map(|w| view! { <option value=w.to_string() selected=w == a.window>{format!("{w} s")}</option> }).collect_view()}
                    </select>
                </label>
                <label>
                    "Count by"
                    <select name="by_kind">
                        {by_options.into_iter().map(|(v, l)| view! { <option value=v selected=v == by_kind>{l}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Header (forwarded IP)" <input name="header" value=header /></label>
                <label>"URI" <input name="uri" value=a.uri.clone().unwrap_or_default() placeholder="/login" /></label>
                <label>
                    "URI match"
                    <select name="uri_match">
                        <option value="exact" selected=a.uri_match == UriMatch::Exact>"Exactly"</option>
                        <option value="prefix" selected=a.uri_match == UriMatch::Prefix>"Starts with"</option>
                    </select>
                </label>
                <label>"Method" <input name="method" value=a.method.clone().unwrap_or_default() placeholder="POST" /></label>
                <label>"Country" <input name="country" value=a.country.clone().unwrap_or_default() placeholder="DE" maxlength="2" /></label>
                <label>
                    "Web ACL"
                    <select name="web_acl">
                        {web_acl_options.into_iter().map(|(v, l)| {
                            let selected = v == chosen || (v == "all" && chosen.is_empty());
                            view! { <option value=v selected=selected>{l}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <label>"Label" <input name="label" value=a.label.clone().unwrap_or_default() placeholder="awswaf:managed:aws:anonymous-ip-list:HostingProviderIPList" /></label>
                <label class="check"><input type="checkbox" name="sliding" value="true" checked=a.sliding /> "Sliding windows (every 10 s)"</label>
                <label>"Rows" <input name="limit" type="number" min="1" max="10000" value=a.limit.to_string() /></label>
                <label>
                    "Recommend from"
                    <select name="percentile">
                        {Basis::ALL.into_iter().map(|b| view! { <option value=b.as_str() selected=b == panel.basis>{b.as_str()}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Growth buffer (%)" <input name="buffer" type="number" min="0" max="1000" value=panel.buffer_percent.to_string() /></label>
                <label>"What if the limit were" <input name="what_if" type="number" min="10" value=panel.what_if.map(|w| w.to_string()).unwrap_or_default() placeholder="recommended" /></label>
                <fieldset class="basis">
                    <legend>"Recommend from healthy traffic: leave out"</legend>
                    <label>"Requests WAF blocked or challenged"
                        <select name="blocked">
                            <option value="skip" selected=healthy.skip_blocked>"Leave out"</option>
                            <option value="keep" selected=!healthy.skip_blocked>"Keep"</option>
                        </select>
                    </label>
                    <label>"Keys whose peak is an outlier"
                        <select name="outliers">
                            <option value="skip" selected=healthy.outliers>"Leave out"</option>
                            <option value="keep" selected=!healthy.outliers>"Keep"</option>
                        </select>
                    </label>
                    <label>"Requests with these labels (a namespace ends with :; none for no label)"
                        <input name="bad_labels" value=if healthy.bad_labels.is_empty() { "none".to_owned() } else { healthy.bad_labels.join(",") } />
                    </label>
                    <label>"Time ranges (UTC, FROM/TO, comma-separated)"
                        <input name="exclude" value=healthy.exclude_text() placeholder="2026-11-22T15:00:00Z/2026-11-22T15:10:00Z" />
                    </label>
                </fieldset>
                <div class="filter-actions">
                    <button type="submit">"Analyse"</button>
                    <a href="/traffic">"Reset"</a>
                </div>
            </form>
        </section>
    }
}

/// A rule draft proposed from an analysis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub draft: String,
    pub web_acl: String,
    pub scope: String,
    pub words: String,
}

/// Opens a rules draft on `web_acl` (`SCOPE/name`) with a rate rule from
/// the analysis `link` names — the recommended limit, its key, window and
/// scope — and attaches the analysis to it as evidence.
#[server(output = crate::codec::Json)]
pub async fn propose_rule(link: String, web_acl: String) -> Result<Proposal, AppError> {
    use crate::changes::{evidence, steps};
    let user = crate::auth::caller::require(crate::roles::Role::Editor).await?;
    let state = crate::state::app_state()?;
    let query = evidence::analysis_query(&link)
        .ok_or_else(|| AppError::BadRequest("That is not a Traffic page link.".into()))?;
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let analysed = analyse(&state, &pairs).await?;
    let analysis = analysed.analysis.map_err(AppError::BadRequest)?;
    let recommended = analysed
        .result
        .map(|r| r.recommendation.recommended)
        .ok_or(AppError::Internal)?;
    let (scope, name) = web_acl
        .split_once('/')
        .ok_or_else(|| AppError::BadRequest("Choose a web ACL.".into()))?;
    if !managed_web_acls(&state.pool).await?.contains(&web_acl) {
        return Err(AppError::BadRequest(format!(
            "Gatehouse does not manage the web ACL {name} ({scope})."
        )));
    }
    let live = crate::rules::live::rules(&state.aws.wafv2, scope, name)
        .await
        .map_err(|e| AppError::unavailable("AWS WAF", e))?;
    let limit = i64::try_from(recommended).unwrap_or(i64::MAX);
    let proposed = crate::rules::propose::propose(&live.rules, &analysis, limit)
        .map_err(AppError::BadRequest)?;
    let actor = crate::auth::sign_in::actor(&user);
    let client = crate::auth::caller::caller().client;
    let title = format!("From the traffic analysis: {}", proposed.words);
    let id = crate::rules::drafts::create(
        &state.pool,
        &live,
        &title,
        &proposed.rules,
        actor.clone(),
        client.clone(),
    )
    .await?;
    let found = evidence::traffic_analysis(&state, &link, &user.username).await?;
    steps::attach(&state.pool, id, found, actor, client).await?;
    Ok(Proposal {
        draft: id.to_string(),
        web_acl: name.to_owned(),
        scope: scope.to_owned(),
        words: proposed.words,
    })
}

/// "Propose rule": for editors, a web ACL to choose and one click.
#[component]
fn ProposeFromAnalysis(link: String, to: Vec<String>) -> impl IntoView {
    let propose = ServerAction::<ProposeRule>::new();
    let choice = NodeRef::<leptos::html::Select>::new();
    view! {
        {(!to.is_empty()).then(|| view! {
            <div class="inline-form" data-testid="propose">
                <label>"Web ACL "
                    <select node_ref=choice>
                        {to.into_iter().map(|w| view! { <option value=w.clone()>{w.clone()}</option> }).collect_view()}
                    </select>
                </label>
                <button type="button" on:click=move |_| {
                    let web_acl = choice.get_untracked().map(|s| s.value()).unwrap_or_default();
                    propose.dispatch(ProposeRule { link: link.clone(), web_acl });
                }>"Propose rule"</button>
            </div>
        })}
        {move || propose.value().get().map(|r| match r {
            Ok(p) => view! {
                <p role="status" class="notice" data-testid="proposed">
                    {format!("Draft saved with the analysis attached: {}. ", p.words)}
                    <a href=format!("/rules?web_acl={}&scope={}&draft={}", crate::url::encode(&p.web_acl), crate::url::encode(&p.scope), p.draft)>"Open it in the rules editor"</a>
                    " · "
                    <a href=format!("/reviews/{}", p.draft)>"its review"</a>
                </p>
            }.into_any(),
            Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
        })}
    }
}

/// Rows of the top list shown at once; the rest fold away.
const SHOWN_ROWS: usize = 20;

#[component]
fn TopTable(
    rows: Vec<TopRow>,
    by: KeyBy,
    key_label: String,
    with_uri: bool,
    testid: &'static str,
) -> impl IntoView {
    view! {
        <table data-testid=testid>
            <thead>
                <tr>
                    <th scope="col">"Count"</th>
                    <th scope="col">"Window start (UTC)"</th>
                    <th scope="col">{key_label}</th>
                    {with_uri.then(|| view! { <th scope="col">"URI"</th> })}
                </tr>
            </thead>
            <tbody>
                {rows.into_iter().map(|row| {
                    let flagged = row.key.parse::<std::net::IpAddr>().is_err() && by != KeyBy::Country;
                    view! {
                        <tr>
                            <td class="num">{row.count}</td>
                            <td>{time(row.window_start)}</td>
                            <td>{row.key}{flagged.then(|| view! { " " <span class="flag" title="Not an IP address: the log redacted or altered it">"not an IP"</span> })}</td>
                            {with_uri.then(|| view! { <td>{row.uri.unwrap_or_default()}</td> })}
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn Results(
    analysis: Analysis,
    /// The analysis's query string: its shareable link.
    query: String,
    result: AnalysisResult,
    propose_to: Vec<String>,
    /// Whether the what-if has its answer (Athena runs it after the
    /// analysis).
    what_if_done: bool,
) -> impl IntoView {
    let link = format!("/traffic?{query}");
    let AnalysisResult {
        top,
        recommendation: r,
        charts: [bars, lines, peaks],
    } = result;
    let key_label = analysis.by.label();
    let with_uri = analysis.by == KeyBy::IpUri;
    let kind = if analysis.sliding { "sliding" } else { "fixed" };
    let p = r.peaks;
    let overlap = if analysis.sliding {
        " (Sliding windows overlap: a request counts once for each window it is over the limit in.)"
    } else {
        ""
    };
    view! {
        <p class="share">"Link to this analysis: " <a href=link.clone() data-testid="share-link">{link.clone()}</a></p>
        <section aria-labelledby="recommendation-heading" class="panel">
            <h2 id="recommendation-heading">"Recommendation"</h2>
            <p data-testid="peaks">{format!(
                "Peaks of {} keys per {} s window ({kind}): p50 {} · p90 {} · p99 {} · p99.9 {} · max {}",
                p.keys, analysis.window, p.p50, p.p90, p.p99, p.p99_9, p.max
            )}</p>
            {r.left_out.map(|l| view! { <p data-testid="left-out">{left_out_words(&l)}</p> })}
            <p class="recommended">"Recommended limit: " <strong data-testid="recommended">{r.recommended}</strong>
                {format!(" requests per {} s ({} + {} % buffer, within WAF's 10 – 2,000,000,000)", analysis.window, r.basis.as_str(), r.buffer_percent)}</p>
            <p data-testid="what-if">{match what_if_done {
                true => format!(
                    "A limit of {} would have blocked {} keys and {} requests over the limit, in {} windows.{}",
                    r.what_if.limit, r.what_if.keys, r.what_if.requests, r.what_if.windows.len(),
                    overlap
                ),
                false => format!("What a limit of {} would have blocked: Athena is still working it out.", r.what_if.limit),
            }}</p>
            <ProposeFromAnalysis link=link.clone() to=propose_to />
            {(!r.what_if.windows.is_empty()).then(|| view! {
                <details>
                    <summary>"Blocked, window by window"</summary>
                    <table>
                        <thead><tr><th scope="col">"Window start (UTC)"</th><th scope="col">"Keys over"</th><th scope="col">"Requests over"</th></tr></thead>
                        <tbody>{r.what_if.windows.iter().map(|w| view! {
                            <tr><td>{time(w.window_start)}</td><td class="num">{w.keys}</td><td class="num">{w.requests}</td></tr>
                        }).collect_view()}</tbody>
                    </table>
                </details>
            })}
        </section>
        <section aria-labelledby="charts-heading">
            <h2 id="charts-heading">"Charts"</h2>
            <figure><figcaption>"Top keys per window, with the limit"</figcaption><div class="chart" inner_html=bars></div></figure>
            <figure><figcaption>"Requests over time for the busiest keys"</figcaption><div class="chart" inner_html=lines></div></figure>
            <figure><figcaption>"Distribution of peaks, with the recommended limit"</figcaption><div class="chart" inner_html=peaks></div></figure>
        </section>
        <section aria-labelledby="top-heading">
            <h2 id="top-heading">"Top keys per window"</h2>
            {
                let shown = top.len().min(SHOWN_ROWS);
                let rest: Vec<TopRow> = top.iter().skip(shown).cloned().collect();
                let first: Vec<TopRow> = top.into_iter().take(shown).collect();
                let by = analysis.by.clone();
                view! {
                    <div class="table-wrap">
                        <TopTable rows=first by=by.clone() key_label=key_label.clone() with_uri testid="top-table" />
                    </div>
                    {(!rest.is_empty()).then(|| view! {
                        <details>
                            <summary>{format!("{} more rows", rest.len())}</summary>
                            <div class="table-wrap"><TopTable rows=rest by key_label with_uri testid="top-table-more" /></div>
                        </details>
                    })}
                }
            }
        </section>
    }
}

/// Upload one log file, with a progress bar. The size is checked before
/// anything is sent; the server checks it again.
#[component]
fn Upload() -> impl IntoView {
    let input = NodeRef::<leptos::html::Input>::new();
    let progress = RwSignal::new(None::<f64>);
    let outcome = RwSignal::new(None::<Result<String, String>>);
    let limit_mb = crate::traffic::UPLOAD_LIMIT_BYTES / (1024 * 1024);
    let prefix = NodeRef::<leptos::html::Input>::new();
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        #[cfg(feature = "hydrate")]
        upload::start(input, progress, outcome);
    };
    let submit_s3 = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        #[cfg(feature = "hydrate")]
        upload::from_s3(prefix, progress, outcome);
    };
    view! {
        <section aria-labelledby="upload-heading">
            <h2 id="upload-heading">"Import a log file"</h2>
            <form class="filters" on:submit=submit aria-label="Import a log file">
                <label>
                    {format!("WAF log file (gzip or plain, up to {limit_mb} MB)")}
                    <input type="file" name="file" node_ref=input required />
                </label>
                <div class="filter-actions">
                    <button type="submit">"Upload and import"</button>
                </div>
            </form>
            <form class="filters" on:submit=submit_s3 aria-label="Import from S3">
                <label>
                    "S3 prefix"
                    <input name="prefix" node_ref=prefix required placeholder="s3://bucket/AWSLogs/123456789012/WAFLogs/" />
                </label>
                <div class="filter-actions">
                    <button type="submit">"Import from S3"</button>
                </div>
            </form>
            {move || progress.get().map(|p| view! {
                <progress max="100" value=format!("{:.0}", p * 100.0) aria-label="Upload progress">{format!("{:.0} %", p * 100.0)}</progress>
            })}
            {move || outcome.get().map(|o| match o {
                Ok(text) => view! { <p role="status" data-testid="upload-result">{text} " " <a href="/traffic" rel="external">"Show the analysis"</a></p> }.into_any(),
                Err(text) => view! { <p class="error" role="alert">{text}</p> }.into_any(),
            })}
        </section>
    }
}

#[cfg(feature = "hydrate")]
mod upload {
    use leptos::prelude::*;
    use wasm_bindgen::{JsCast, closure::Closure};

    type Outcome = RwSignal<Option<Result<String, String>>>;

    pub fn start(
        input: NodeRef<leptos::html::Input>,
        progress: RwSignal<Option<f64>>,
        outcome: Outcome,
    ) {
        let Some(file) = input
            .get_untracked()
            .and_then(|i| i.files())
            .and_then(|f| f.get(0))
        else {
            outcome.set(Some(Err("Choose a file first.".into())));
            return;
        };
        let limit = crate::traffic::UPLOAD_LIMIT_BYTES;
        if file.size() > limit as f64 {
            outcome.set(Some(Err(format!(
                "{} is {:.0} MB, above the {} MB upload limit. Import it with `gatehouse logs import PATH` instead.",
                file.name(),
                file.size() / 1_048_576.0,
                limit / 1_048_576
            ))));
            return;
        }
        let url = format!("/traffic/upload?name={}", crate::url::encode(&file.name()));
        begin(&url, Some(&file), progress, outcome);
    }

    pub fn from_s3(
        prefix: NodeRef<leptos::html::Input>,
        progress: RwSignal<Option<f64>>,
        outcome: Outcome,
    ) {
        let prefix = prefix
            .get_untracked()
            .map(|i| i.value())
            .unwrap_or_default();
        let url = format!(
            "/traffic/import-s3?prefix={}",
            crate::url::encode(prefix.trim())
        );
        begin(&url, None, progress, outcome);
    }

    fn begin(
        url: &str,
        file: Option<&web_sys::File>,
        progress: RwSignal<Option<f64>>,
        outcome: Outcome,
    ) {
        outcome.set(None);
        progress.set(Some(0.0));
        if let Err(problem) = send(url, file, progress, outcome) {
            progress.set(None);
            outcome.set(Some(Err(problem)));
        }
    }

    fn send(
        url: &str,
        file: Option<&web_sys::File>,
        progress: RwSignal<Option<f64>>,
        outcome: Outcome,
    ) -> Result<(), String> {
        let fail = |_| "The browser could not start the import.".to_owned();
        let request = web_sys::XmlHttpRequest::new().map_err(fail)?;
        request.open("POST", url).map_err(fail)?;
        request
            .set_request_header("Content-Type", "application/octet-stream")
            .map_err(fail)?;
        let on_progress =
            Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |e: web_sys::ProgressEvent| {
                if e.length_computable() && e.total() > 0.0 {
                    progress.set(Some(e.loaded() / e.total()));
                }
            });
        request
            .upload()
            .map_err(fail)?
            .set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
        on_progress.forget();
        let done = request.clone();
        let on_load = Closure::<dyn FnMut()>::new(move || {
            progress.set(None);
            let text = done.response_text().ok().flatten().unwrap_or_default();
            let body: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            let status = done.status().unwrap_or(0);
            outcome.set(Some(if status == 200 {
                Ok(format!(
                    "Imported {} records ({} malformed lines, {} records already imported).",
                    body["records"], body["malformed"], body["duplicates_skipped"]
                ))
            } else {
                Err(body["error"].as_str().map_or_else(
                    || match status {
                        401 => "Your session ended: sign in again.".to_owned(),
                        403 => "Importing logs needs the editor role.".to_owned(),
                        _ => format!("The upload failed (HTTP {status})."),
                    },
                    str::to_owned,
                ))
            }));
        });
        request.set_onloadend(Some(on_load.as_ref().unchecked_ref()));
        on_load.forget();
        request
            .send_with_opt_blob(file.map(|f| f.as_ref()))
            .map_err(fail)
    }
}
