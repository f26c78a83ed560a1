//! The dashboard: is the console healthy, what waits for the signed-in
//! person's review, whether each managed web ACL still holds what Gatehouse
//! last applied to it (drift), and which AWS resources it manages.

use super::review::DiffView;
use super::reviews::ChangeTable;
use crate::changes::{ChangeRow, Drift, DriftState};
use crate::error::AppError;
use crate::health::{HealthReport, Probe, Status};
use crate::targets::ManagedTarget;
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
}

#[server]
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
    let drift = match &targets {
        Ok(targets) => crate::changes::drift::drift(reach, targets).await,
        Err(error) => Err(error.clone()),
    };
    Ok(Overview {
        health,
        targets,
        waiting,
        drift,
    })
}

#[component]
pub fn Dashboard() -> impl IntoView {
    let (checks, set_checks) = signal(0u32);
    let overview = Resource::new(move || checks.get(), |_| load_overview());

    view! {
        <Title text="Dashboard" />
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
                <span class="muted">{format!("({} ms)", probe.latency_ms)}</span>
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
                        }}</strong>": " {state} {last}
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}
