//! The dashboard: is the console healthy, what waits for the signed-in
//! person's review, whether each managed web ACL still holds what Gatehouse
//! last applied to it (drift), and which AWS resources it manages.

use super::review::DiffView;
use super::reviews::ChangeTable;
use crate::changes::{ChangeRow, Drift, DriftState};
use crate::error::AppError;
use crate::health::{HealthReport, Probe, Status};
use crate::targets::ManagedTarget;
use crate::traffic::health::{ThresholdReport, Verdict};
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Overview {
    pub health: HealthReport,
    /// Separate from `health` so the page can still say what is wrong when
    /// the database is the thing that is down.
    pub targets: Result<Vec<ManagedTarget>, AppError>,
    /// Change requests waiting for the signed-in person's review.
    pub waiting: Result<Vec<ChangeRow>, AppError>,
    /// Each managed web ACL against what Gatehouse last applied to it.
    pub drift: Result<Vec<Drift>, AppError>,
    /// Each managed rate-based rule's limit against its traffic's peaks.
    pub thresholds: Result<ThresholdReport, AppError>,
}

#[server(output = crate::codec::Json)]
pub async fn load_overview() -> Result<Overview, AppError> {
    let user = crate::auth::caller::require(crate::roles::Role::Viewer).await?;
    let state = crate::state::app_state()?;
    let (health, targets, waiting) = tokio::join!(
        crate::health::check(&state),
        crate::targets::list(&state.pool),
        crate::changes::store::waiting_for(&state.pool, &user.username)
    );
    // Only what this person's role lets them approve.
    let waiting = waiting.map_err(AppError::from).map(|rows| {
        rows.into_iter()
            .filter(|r| user.has(r.kind.approver_role()))
            .collect()
    });
    let reach = crate::changes::kinds::Reach {
        pool: &state.pool,
        aws: &state.aws,
    };
    let drift = async {
        match &targets {
            Ok(targets) => crate::changes::drift::drift(reach, targets).await,
            Err(error) => Err(error.clone()),
        }
    };
    let (drift, thresholds) = tokio::join!(
        drift,
        crate::traffic::health::current(&state.pool, &state.aws)
    );
    Ok(Overview {
        health,
        targets,
        waiting,
        drift,
        thresholds,
    })
}

/// The page as the server renders it; the island within hydrates.
#[component]
pub fn Dashboard() -> impl IntoView {
    view! {
        <Title text="Dashboard" />
        <DashboardIsland />
    }
}

#[island(lazy)]
fn DashboardIsland() -> impl IntoView {
    let (checks, set_checks) = signal(0u32);
    let overview = Resource::new(move || checks.get(), |_| load_overview());

    view! {
        <h1>"Dashboard"</h1>
        <section class="panel" aria-labelledby="status-heading">
            <div class="panel-head">
                <h2 id="status-heading">"System status"</h2>
                <button type="button" on:click=move |_| set_checks.update(|n| *n += 1)>
                    "Check again"
                </button>
            </div>
            <Transition fallback=|| view! { <p>"Checking…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(o) => view! { <HealthView report=o.health /> }.into_any(),
                        Err(err) => view! { <ErrorNotice error=err /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <section class="panel" aria-labelledby="waiting-heading">
            <h2 id="waiting-heading">"Waiting for your review"</h2>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await.map(|o| o.waiting) {
                        Ok(Ok(rows)) if rows.is_empty() => view! { <p role="status">"Nothing waits for you."</p> }.into_any(),
                        Ok(Ok(rows)) => view! { <ChangeTable rows /> }.into_any(),
                        Ok(Err(err)) | Err(err) => view! { <ErrorNotice error=err /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <section class="panel" aria-labelledby="drift-heading">
            <h2 id="drift-heading">"Drift"</h2>
            <p class="muted">"Each managed web ACL's live rules against the version Gatehouse last applied."</p>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await.map(|o| o.drift) {
                        Ok(Ok(drift)) => view! { <DriftView drift /> }.into_any(),
                        Ok(Err(err)) | Err(err) => view! { <ErrorNotice error=err /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <section class="panel" aria-labelledby="thresholds-heading">
            <h2 id="thresholds-heading">"Threshold health"</h2>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await.map(|o| o.thresholds) {
                        Ok(Ok(report)) => view! { <ThresholdView report /> }.into_any(),
                        Ok(Err(err)) | Err(err) => view! { <ErrorNotice error=err /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <section class="panel" aria-labelledby="targets-heading">
            <h2 id="targets-heading">"Managed AWS resources"</h2>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await.map(|o| o.targets) {
                        Ok(Ok(targets)) => view! { <TargetTable targets /> }.into_any(),
                        Ok(Err(err)) | Err(err) => view! { <ErrorNotice error=err /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// Each rate-based rule's limit against the peaks of the traffic it
/// counts, with its verdict, linked to the analysis behind the figures.
#[component]
fn ThresholdView(report: ThresholdReport) -> impl IntoView {
    let s = report.settings;
    let explained = format!(
        "Each rate-based rule's limit against the {} of its keys' peaks (healthy traffic: blocked requests, bad-source labels and outlier keys left out) over the last {} days imported. Tight: the peak above {} % of the limit, so legitimate heavy users are near it; loose: the limit above {} times the peak, so a flood runs long before it acts; unreviewed: no change to the rule applied through Gatehouse in {} days.",
        s.percentile.as_str(),
        s.days,
        s.tight_percent,
        s.loose_factor,
        s.unreviewed_days
    );
    let percentile = s.percentile.as_str();
    view! {
        <p class="muted">{explained}</p>
        {report.unread.into_iter().map(|u| view! { <p class="error" role="alert">{u}</p> }).collect_view()}
        {if report.rules.is_empty() {
            view! { <p>"No managed web ACL has a rate-based rule."</p> }.into_any()
        } else {
            view! {
                <div class="table-wrap">
                    <table data-testid="thresholds">
                        <thead>
                            <tr>
                                <th scope="col">"Web ACL"</th>
                                <th scope="col">"Rule"</th>
                                <th scope="col">"Limit"</th>
                                <th scope="col">{format!("Peak ({percentile})")}</th>
                                <th scope="col">"Max"</th>
                                <th scope="col">"Headroom"</th>
                                <th scope="col">"Verdict"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {report.rules.into_iter().map(|r| {
                                let class = match r.verdict {
                                    Verdict::Tight => "badge down",
                                    Verdict::Healthy => "badge ok",
                                    _ => "badge",
                                };
                                let figure = |value: String| match &r.analysis {
                                    Some(link) => view! { <a href=link.clone()>{value}</a> }.into_any(),
                                    None => view! { <span>{value}</span> }.into_any(),
                                };
                                let has_data = r.keys > 0;
                                view! {
                                    <tr>
                                        <td>{format!("{} ({})", r.web_acl, r.scope)}</td>
                                        <th scope="row">{r.rule.clone()}</th>
                                        <td class="num">{format!("{} / {} s", r.limit, r.window)}</td>
                                        <td class="num">{has_data.then(|| figure(r.peak.to_string()))}</td>
                                        <td class="num">{has_data.then(|| figure(r.max.to_string()))}</td>
                                        <td class="num">{r.headroom.map(|h| format!("×{h:.1}"))}</td>
                                        <td>
                                            <span class=class data-testid="verdict">{r.verdict.as_str()}</span>
                                            {r.unreviewed.then(|| view! { " " <span class="badge">"unreviewed"</span> })}
                                            {r.analysis.clone().zip(r.recommended).map(|(link, limit)| view! {
                                                " " <a href=link>{format!("Propose rule ({limit})")}</a>
                                            })}
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            }.into_any()
        }}
    }
}

#[component]
fn HealthView(report: HealthReport) -> impl IntoView {
    let summary = match report.status {
        Status::Ok => "All systems answer.",
        Status::Degraded => "Something is not answering.",
    };
    let checked_at = report.checked_at.format("%H:%M:%S%.3f UTC").to_string();
    view! {
        <p class="status-line">
            <strong>{summary}</strong>
            " Last checked at "
            <time datetime=report.checked_at.to_rfc3339() data-testid="checked-at">
                {checked_at}
            </time>
            "."
        </p>
        <dl class="probes">
            <ProbeView name="Database" probe=report.database />
            <ProbeView name="AWS" probe=report.aws />
            {report.audit_anchor.map(|probe| view! { <ProbeView name="Audit anchor" probe /> })}
        </dl>
    }
}

#[component]
fn ProbeView(name: &'static str, probe: Probe) -> impl IntoView {
    let (class, word) = if probe.ok {
        ("ok", "Up")
    } else {
        ("down", "Down")
    };
    view! {
        <div class=format!("probe {class}")>
            <dt>{name}</dt>
            <dd>
                <span class="badge">{word}</span>
                " "
                {probe.detail}
                " "
                <span class="muted">
                    {match probe.age_secs {
                        0 => format!("({} ms)", probe.latency_ms),
                        age => format!("({} ms, read {age} s ago)", probe.latency_ms),
                    }}
                </span>
            </dd>
        </div>
    }
}

#[component]
fn TargetTable(targets: Vec<ManagedTarget>) -> impl IntoView {
    if targets.is_empty() {
        return view! {
            <p>
                "No AWS resources are registered yet. Run "
                <code>"gatehouse demo"</code>
                " to provision the demo resources into the local emulator."
            </p>
        }
        .into_any();
    }
    view! {
        <div class="table-wrap">
            <table>
                <thead>
                    <tr>
                        <th scope="col">"Kind"</th>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Scope"</th>
                        <th scope="col">"Region"</th>
                        <th scope="col">"AWS id"</th>
                    </tr>
                </thead>
                <tbody>
                    {targets
                        .into_iter()
                        .map(|t| {
                            view! {
                                <tr>
                                    <td class="nowrap">{t.kind.label()}</td>
                                    <th scope="row">{t.name}</th>
                                    <td class="nowrap">{t.scope.unwrap_or_else(|| "—".into())}</td>
                                    <td class="nowrap">{t.region}</td>
                                    <td>
                                        <code>{t.aws_id}</code>
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
pub fn ErrorNotice(error: AppError) -> impl IntoView {
    view! {
        <p class="error" role="alert">
            {error.to_string()}
        </p>
    }
}

/// The dashboard's drift panel: each managed web ACL, and the settings,
/// against what Gatehouse last applied to it.
#[component]
fn DriftView(drift: Vec<Drift>) -> impl IntoView {
    if drift.is_empty() {
        return view! { <p>"No managed web ACLs."</p> }.into_any();
    }
    view! {
        <ul class="drift" data-testid="drift">
            {drift.into_iter().map(|d| {
                let last = d.last_applied.clone().map(|l| view! {
                    " Last change through Gatehouse: "
                    <a href=format!("/reviews/{}", l.id)>{l.title}</a>
                    {format!(
                        " by {} at {}.",
                        l.applied_by.unwrap_or_else(|| "Gatehouse".into()),
                        l.applied_at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default()
                    )}
                });
                let read = d.read.clone().map(|r| view! { <span class="muted age">{format!(" ({r})")}</span> });
                let state = match d.state {
                    DriftState::InSync => view! { <span class="badge ok">"In sync"</span> }.into_any(),
                    DriftState::NeverApplied => view! { <span class="muted">"Nothing applied through Gatehouse yet."</span> }.into_any(),
                    DriftState::Unreadable(why) => view! { <span class="error">{why}</span> }.into_any(),
                    DriftState::Drifted(diff) => view! {
                        <span class="badge down">"Changed outside Gatehouse"</span>
                        <DiffView diff />
                    }.into_any(),
                };
                view! {
                    <li>
                        <strong>{match d.kind {
                            crate::changes::Kind::WebAclRules => format!("{} ({})", d.web_acl, d.scope),
                            _ => d.target.clone(),
                        }}</strong>": " {state} {read} {last}
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}
