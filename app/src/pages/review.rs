//! A change request's review, at its own link (`/reviews/{id}`): what it
//! changes (per rule in plain words, and as JSON), the evidence, comments,
//! approvals and the timeline, and the steps the signed-in person may take.
//! Opening it changes nothing; every step is checked again on the server.

use crate::changes::{Allowed, ChangeDiff, ChangeView};
use crate::error::AppError;
use crate::traffic::replay::{Comparison, KeyChange, RuleOutcome};
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewView {
    pub change: ChangeView,
    pub allowed: Allowed,
    /// For a web ACL rules change: its rules and the rules it is based on
    /// replayed over the imported traffic, or why not.
    pub replay: Option<Result<Comparison, String>>,
}

#[server(input = leptos::server_fn::codec::Json, output = crate::codec::Json)]
pub async fn load_review(id: String) -> Result<ReviewView, AppError> {
    let user = crate::auth::caller::require(crate::roles::Role::Viewer).await?;
    let state = crate::state::app_state()?;
    let id = id.parse::<uuid::Uuid>().map_err(|_| AppError::NotFound)?;
    let change = crate::changes::store::visible_to(&state.pool, id, &user.username).await?;
    let replay = match change.kind {
        crate::changes::Kind::WebAclRules => Some(replay_of(&state, &change).await),
        _ => None,
    };
    let change = crate::changes::view::view(&state.pool, change).await?;
    let allowed = change.allowed(&user);
    Ok(ReviewView {
        change,
        allowed,
        replay,
    })
}

/// A web ACL rules change request's rules and the rules it is based on,
/// replayed over the last day of the web ACL's imported traffic.
#[cfg(feature = "ssr")]
async fn replay_of(
    state: &crate::state::AppState,
    change: &crate::changes::store::Change,
) -> Result<Comparison, String> {
    use crate::traffic::replaying::{self, Range, Sources};
    let sources = Sources {
        pool: &state.pool,
        wafv2: Some(&state.aws.wafv2),
        geo: state.geo.as_ref(),
    };
    let replayed = async {
        let range = Range::or_default(&state.pool, None, None).await?;
        replaying::replay_change(sources, change, range).await
    };
    replayed.await.map_err(|e| e.to_string())
}

/// A step taken on a change request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    Describe,
    Attach,
    Submit,
    Comment,
    Approve,
    Reject,
    Apply,
    Withdraw,
    Rebase,
    Rollback,
}

/// What a step came to, for the page to say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stepped {
    pub message: String,
    /// A change request the step made (a rollback), to open.
    pub opened: Option<String>,
}

// A fixed endpoint: scripts and tests post steps to `/api/take_step`.
#[server(input = leptos::server_fn::codec::Json, output = crate::codec::Json, endpoint = "take_step")]
pub async fn take_step(id: String, step: Step, text: String) -> Result<Stepped, AppError> {
    use crate::changes::apply::{self, Applier, Outcome};
    use crate::changes::{evidence, steps, store};
    use crate::roles::Role;
    let user = crate::auth::caller::require(Role::Viewer).await?;
    let state = crate::state::app_state()?;
    let pool = &state.pool;
    let id = id.parse::<uuid::Uuid>().map_err(|_| AppError::NotFound)?;
    let kind = store::get(pool, id).await?.kind;
    // Who may take which step depends on what the change changes: rules
    // are an editor's and an approver's, settings an admin's.
    let needed = match step {
        Step::Comment => Role::Viewer,
        Step::Approve | Step::Reject => kind.approver_role(),
        _ => kind.author_role(),
    };
    let user = crate::auth::caller::require(needed).await.map(|_| user)?;
    let actor = crate::auth::sign_in::actor(&user);
    let client = crate::auth::caller::caller().client;
    let reach = crate::changes::kinds::Reach {
        pool,
        aws: &state.aws,
    };
    let said = |message: &str| {
        Ok(Stepped {
            message: message.to_owned(),
            opened: None,
        })
    };
    let live = || async {
        let change = store::get(pool, id).await?;
        kind.read_live(reach, &change.base.target)
            .await
            .map_err(|e| AppError::unavailable(e.service, e.cause))
    };
    let required_approvals = || async {
        crate::settings::store::effective(pool, &state.overrides)
            .await
            .map(|now| now.required_approvals)
    };
    match step {
        Step::Describe => {
            steps::describe(pool, id, &text, actor, client).await?;
            said("Description saved.")
        }
        Step::Attach => {
            let change = store::get(pool, id).await?;
            let found = evidence::from_link(&state, &change, &text, &user.username).await?;
            steps::attach(pool, id, found, actor, client).await?;
            said("Evidence attached.")
        }
        Step::Submit => {
            let now = live().await?;
            let approvals = required_approvals().await?;
            steps::submit(pool, id, &now.token, approvals, actor, client).await?;
            said("Submitted for review. Share this page's link with an approver.")
        }
        Step::Comment => {
            steps::comment(pool, id, &text, actor, client).await?;
            said("Comment added.")
        }
        Step::Approve => match steps::approve(pool, id, actor, client).await? {
            crate::changes::Status::Approved => said("Approved: it can be applied."),
            _ => said("Approval recorded; it needs more before it can be applied."),
        },
        Step::Reject => {
            steps::reject(pool, id, &text, actor, client).await?;
            said("Rejected.")
        }
        Step::Withdraw => {
            steps::withdraw(pool, id, actor, client).await?;
            said("Withdrawn.")
        }
        Step::Apply => {
            let by = Applier {
                actor,
                client,
                approver: user.has(kind.approver_role()),
            };
            let outcome = apply::apply(reach, id, &by).await;
            // The apply's events are anchored now, not at the next round.
            if let Some(checkpoints) = &state.checkpoints {
                checkpoints.nudge();
            }
            match outcome? {
                Outcome::Applied { .. } => said(match kind {
                    crate::changes::Kind::WebAclRules => "Applied: AWS WAF holds the new rules.",
                    crate::changes::Kind::Settings => {
                        "Applied: the new settings are in effect (a new role mapping at each person's next request)."
                    }
                    crate::changes::Kind::PolicyMappings => {
                        "Applied: DynamoDB holds the new mappings, written in one transaction."
                    }
                    crate::changes::Kind::VpnGeofencing => {
                        "Applied: the NAT IP set, the geo web ACL and the deny policy hold the new set."
                    }
                }),
                Outcome::AlreadyApplied => {
                    said("It had already been applied; nothing was pushed again.")
                }
                Outcome::Stale => said(&format!(
                    "Not applied: the {} was changed elsewhere since this change was based on it. \
                     Nothing was overwritten; the author can rebase it.",
                    kind.noun()
                )),
                Outcome::Failed => said("The update was refused. Nothing was changed."),
                Outcome::NotTaken => {
                    said("The earlier apply never reached AWS; it can be applied again.")
                }
            }
        }
        Step::Rebase => {
            let now = live().await?;
            let conflicts = steps::rebase(pool, id, &now, actor, client).await?;
            match conflicts.is_empty() {
                true => said("Rebased onto the live state; it needs approval again."),
                false => said(&format!(
                    "Rebased onto the live state; it needs approval again. Both sides changed: {}",
                    conflicts.join("; ")
                )),
            }
        }
        Step::Rollback => {
            let now = live().await?;
            let approvals = required_approvals().await?;
            let new = steps::rollback(pool, id, &now, approvals, actor, client).await?;
            Ok(Stepped {
                message: format!(
                    "A change request restoring the {} before this one is open for review.",
                    kind.content_label().to_lowercase()
                ),
                opened: Some(new.to_string()),
            })
        }
    }
}

/// The page as the server renders it; the island within hydrates.
#[component]
pub fn Review() -> impl IntoView {
    view! {
        <Title text="Review" />
        <ReviewIsland id=leptos_router::hooks::use_params_map().get_untracked().get("id").unwrap_or_default() />
    }
}

#[island(lazy)]
fn ReviewIsland(id: String) -> impl IntoView {
    let step = ServerAction::<TakeStep>::new();
    // What is being typed outlives the page's refresh after each step.
    let fields = Fields::default();
    let data = Resource::new(
        move || (id.clone(), step.version().get()),
        |(id, _)| load_review(id),
    );
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(review) => view! { <ReviewBody review step fields /> }.into_any(),
                    Err(AppError::NotFound) => view! {
                        <h1>"Review"</h1>
                        <p class="error" role="alert">"No such change request."</p>
                    }.into_any(),
                    Err(error) => view! {
                        <h1>"Review"</h1>
                        <p class="error" role="alert">{error.to_string()}</p>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ReviewBody(review: ReviewView, step: ServerAction<TakeStep>, fields: Fields) -> impl IntoView {
    let ReviewView {
        change,
        allowed,
        replay,
    } = review;
    let title = if change.title.is_empty() {
        "(untitled)".to_owned()
    } else {
        change.title.clone()
    };
    let approvals = format!(
        "{} of {} approvals",
        change.current_approvals(),
        change.required_approvals
    );
    let by = match change.submitted_at {
        Some(at) => format!(
            "by {} · submitted {}",
            change.author,
            at.format("%Y-%m-%d %H:%M UTC")
        ),
        None => format!("by {} · not submitted yet", change.author),
    };
    let applied = change.applied_at.map(|at| {
        format!(
            "Applied {} by {}{}.",
            at.format("%Y-%m-%d %H:%M:%S UTC"),
            change
                .applied_by
                .clone()
                .unwrap_or_else(|| "Gatehouse (settled)".into()),
            change
                .aws_request_id
                .as_ref()
                .map(|r| format!(" (AWS request {r})"))
                .unwrap_or_default()
        )
    });
    let edit_link = match change.kind {
        crate::changes::Kind::WebAclRules => format!(
            "/rules?web_acl={}&scope={}&draft={}",
            crate::url::encode(&change.target_name),
            crate::url::encode(&change.target_scope),
            change.id
        ),
        crate::changes::Kind::Settings => "/settings".to_owned(),
        crate::changes::Kind::PolicyMappings => format!(
            "/policies?table={}&draft={}",
            crate::url::encode(&change.target_name),
            change.id
        ),
        crate::changes::Kind::VpnGeofencing => format!(
            "/vpn-countries?set={}",
            crate::url::encode(&change.target_name)
        ),
    };
    let label = change.kind.content_label();
    let stale_heading = format!("The {} changed elsewhere", change.kind.noun());
    let id = change.id.clone();
    view! {
        <h1>{title}</h1>
        <p class="status-line">
            <span class=format!("status {}", change.status.as_str()) data-testid="change-status">
                {change.status.label()}
            </span>
            {format!(" · {} · {by} · {approvals}", change.target)}
        </p>
        {change.rollback_of.clone().map(|of| view! {
            <p>{format!("Restores the {} from before ", label.to_lowercase())} <a href=format!("/reviews/{of}")>"this change request"</a>"."</p>
        })}
        {applied.map(|text| view! { <p role="status" data-testid="applied">{text}</p> })}
        {change.failure.clone().map(|text| view! { <p class="error" role="alert">{text}</p> })}
        {change.stale.clone().map(|stale| view! {
            <section class="panel stale" aria-labelledby="stale-heading">
                <h2 id="stale-heading">{stale_heading}</h2>
                <p>
                    "Since this change was based on it, its target was changed outside this review. "
                    "Nothing was overwritten. Against the live state, this change would now:"
                </p>
                <DiffView diff=stale.diff />
                <details><summary>{format!("The live {}", label.to_lowercase())}</summary><pre><code>{stale.live_json}</code></pre></details>
            </section>
        })}
        <StepResult step />
        <Steps id=id.clone() allowed step edit_link kind=change.kind description=change.description.clone() fields />
        <section aria-labelledby="summary-heading">
            <h2 id="summary-heading">"Summary"</h2>
            {if change.description.is_empty() {
                view! { <p class="muted">"No description."</p> }.into_any()
            } else {
                view! { <p class="description" data-testid="description">{change.description.clone()}</p> }.into_any()
            }}
        </section>
        <section aria-labelledby="diff-heading">
            <h2 id="diff-heading">"What it changes"</h2>
            <DiffView diff=change.diff.clone() />
            <details><summary>{format!("{label} before (JSON)")}</summary><pre><code>{change.base_json.clone()}</code></pre></details>
            <details><summary>{format!("{label} after (JSON)")}</summary><pre><code data-testid="content-json">{change.content_json.clone()}</code></pre></details>
        </section>
        <Evidence change=change.clone() />
        {replay.map(|replay| view! { <Replay id=id.clone() replay /> })}
        <Comments change=change.clone() id=id.clone() step body=fields.comment />
        <section aria-labelledby="approvals-heading">
            <h2 id="approvals-heading">"Approvals"</h2>
            {if change.approvals.is_empty() {
                view! { <p class="muted">"None yet."</p> }.into_any()
            } else {
                view! {
                    <ul data-testid="approvals">
                        {change.approvals.iter().map(|a| view! {
                            <li>
                                {format!("{} · {}", a.approver, a.approved_at.format("%Y-%m-%d %H:%M UTC"))}
                                {(!a.current).then_some(" (of earlier content: does not count)")}
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
        <section aria-labelledby="timeline-heading">
            <h2 id="timeline-heading">"Timeline"</h2>
            <ol class="timeline" data-testid="timeline">
                {change.timeline.iter().map(|s| view! {
                    <li>
                        <time datetime=s.at.to_rfc3339()>{s.at.format("%Y-%m-%d %H:%M:%S UTC").to_string()}</time>
                        {format!(" · {} · {}", s.what, s.actor.clone().unwrap_or_else(|| "Gatehouse".into()))}
                        {s.aws_request_id.clone().map(|r| format!(" · AWS request {r}"))}
                    </li>
                }).collect_view()}
            </ol>
            <p><a href=format!("/audit?target={}", crate::url::encode(&format!("change request {}", change.id)))>"In the audit trail"</a></p>
        </section>
    }
}

/// A diff per rule in plain words, with the structured form as JSON.
#[component]
pub fn DiffView(diff: ChangeDiff) -> impl IntoView {
    if diff.words.is_empty() {
        return view! { <p>"No changes."</p> }.into_any();
    }
    let json = serde_json::to_string_pretty(&diff.changes).unwrap_or_default();
    view! {
        <ul data-testid="change-words">
            {diff.words.into_iter().map(|w| view! { <li>{w}</li> }).collect_view()}
        </ul>
        <details><summary>"As JSON"</summary><pre><code>{json}</code></pre></details>
    }
    .into_any()
}

#[component]
fn StepResult(step: ServerAction<TakeStep>) -> impl IntoView {
    move || {
        match step.value().get() {
        Some(Ok(done)) => view! {
            <p role="status" class="notice" data-testid="step-result">
                {done.message}
                {done.opened.map(|id| view! { " " <a href=format!("/reviews/{id}")>"Open it"</a> })}
            </p>
        }
        .into_any(),
        Some(Err(error)) => view! { <p class="error" role="alert" data-testid="step-result">{error.to_string()}</p> }.into_any(),
        None => ().into_any(),
    }
    }
}

/// The text fields of the steps.
#[derive(Clone, Copy, Default)]
struct Fields {
    /// None until edited: the saved description shows.
    description: RwSignal<Option<String>>,
    link: RwSignal<String>,
    reason: RwSignal<String>,
    comment: RwSignal<String>,
}

/// The buttons and fields of the steps the signed-in person may take.
#[component]
fn Steps(
    id: String,
    allowed: Allowed,
    step: ServerAction<TakeStep>,
    edit_link: String,
    /// What the change changes (names the edit, apply and rebase steps).
    kind: crate::changes::Kind,
    description: String,
    fields: Fields,
) -> impl IntoView {
    let id = StoredValue::new(id);
    let take = move |s: Step, text: String| {
        step.dispatch(TakeStep {
            id: id.get_value(),
            step: s,
            text,
        });
    };
    let saved = StoredValue::new(description);
    let Fields {
        description,
        link,
        reason,
        ..
    } = fields;
    let shown_description = move || description.get().unwrap_or_else(|| saved.get_value());
    let busy = move || step.pending().get();
    let button = move |shown: bool, label: &'static str, s: Step| {
        shown.then(|| view! {
            <button type="button" disabled=busy on:click=move |_| take(s, String::new())>{label}</button>
        })
    };
    let any = allowed != Allowed::default();
    view! {
        <section aria-labelledby="steps-heading" class="panel steps" hidden=!any>
            <h2 id="steps-heading">"Steps"</h2>
            {allowed.edit.then(|| view! {
                <div class="step">
                    <label class="block">
                        "Description"
                        <textarea rows="4" prop:value=shown_description
                            on:input=move |ev| description.set(Some(event_target_value(&ev)))></textarea>
                    </label>
                    <button type="button" disabled=busy on:click=move |_| take(Step::Describe, shown_description())>
                        "Save description"
                    </button>
                    " "<a href=edit_link.clone()>{format!("Edit the {}", kind.content_label().to_lowercase())}</a>
                </div>
            })}
            {allowed.attach.then(|| view! {
                <div class="step inline-form">
                    <label>
                        "Traffic analysis link "
                        <input type="text" size="50" placeholder="/traffic?from=…" prop:value=move || link.get()
                            on:input=move |ev| link.set(event_target_value(&ev)) />
                    </label>
                    <button type="button" disabled=busy on:click=move |_| take(Step::Attach, link.get_untracked())>
                        "Attach as evidence"
                    </button>
                </div>
            })}
            <div class="step inline-form">
                {button(allowed.submit, "Submit for review", Step::Submit)}
                {button(allowed.approve, "Approve", Step::Approve)}
                {button(allowed.apply, kind.apply_label(), Step::Apply)}
                {button(allowed.rebase, kind.rebase_label(), Step::Rebase)}
                {button(allowed.rollback, "Roll back: restore the state before this change", Step::Rollback)}
                {button(allowed.withdraw, "Withdraw", Step::Withdraw)}
            </div>
            {allowed.reject.then(|| view! {
                <div class="step inline-form">
                    <label>
                        "Reason "
                        <input type="text" size="40" prop:value=move || reason.get()
                            on:input=move |ev| reason.set(event_target_value(&ev)) />
                    </label>
                    <button type="button" disabled=busy on:click=move |_| take(Step::Reject, reason.get_untracked())>
                        "Reject"
                    </button>
                </div>
            })}
        </section>
    }
}

/// "What it would have done": live and draft replayed over the imported
/// traffic, side by side.
#[component]
fn Replay(id: String, replay: Result<Comparison, String>) -> impl IntoView {
    let link = format!("/api/v1/traffic/replay?change={id}");
    view! {
        <section aria-labelledby="replay-heading" data-testid="replay">
            <h2 id="replay-heading">"Replay over imported traffic"</h2>
            <p class="muted">
                "The rules it is based on and its own, replayed over the last day of this web ACL's imported logs: "
                "rules in priority order, a rate-based rule blocking a key from the 10-second step after it goes over its limit "
                "for as long as it stays over. WAF's own reaction takes some seconds, so these are estimates. "
                "The replay reads only the logs imported into PostgreSQL, whichever source the evidence's analysis came from "
                "(an analysis on Athena is not replayed rule by rule). "
                <a href=link.clone()>"As JSON"</a>
            </p>
            {match replay {
                Ok(compared) => view! { <ReplayTable compared /> }.into_any(),
                Err(error) => view! { <p class="error" role="alert">{format!("No replay: {error}")}</p> }.into_any(),
            }}
        </section>
    }
}

fn outcome_words(rule: Option<&RuleOutcome>) -> String {
    match rule {
        None => "—".into(),
        Some(r) => match (&r.unknown, &r.rate) {
            (Some(why), _) => format!("not replayed: {why}"),
            (None, Some(rate)) => format!(
                "{} over {} / {} s by {}: {} requests of {} keys blocked{}",
                r.action,
                rate.limit,
                rate.window,
                rate.key,
                r.requests,
                r.keys,
                if r.action == "COUNT" {
                    " (counted only)"
                } else {
                    ""
                }
            ),
            (None, None) => format!(
                "{}: {} of {} requests matched",
                r.action, r.requests, r.reached
            ),
        },
    }
}

#[component]
fn ReplayTable(compared: Comparison) -> impl IntoView {
    let mut names: Vec<(i64, String)> = compared
        .live
        .rules
        .iter()
        .chain(&compared.draft.rules)
        .map(|r| (r.priority, r.name.clone()))
        .collect();
    names.sort();
    names.dedup_by(|a, b| a.1 == b.1);
    let find = |rules: &[RuleOutcome], name: &str| rules.iter().find(|r| r.name == name).cloned();
    let rows: Vec<(String, String, String)> = names
        .into_iter()
        .map(|(_, name)| {
            let live = outcome_words(find(&compared.live.rules, &name).as_ref());
            let draft = outcome_words(find(&compared.draft.rules, &name).as_ref());
            (name, live, draft)
        })
        .collect();
    let keys = |title: &'static str, testid: &'static str, list: Vec<KeyChange>| {
        (!list.is_empty()).then(|| view! {
            <details>
                <summary>{title}</summary>
                <table data-testid=testid>
                    <thead><tr><th scope="col">"Key"</th><th scope="col">"Blocked live"</th><th scope="col">"Blocked by the draft"</th></tr></thead>
                    <tbody>{list.into_iter().map(|k| view! {
                        <tr><td>{k.key}</td><td class="num">{k.live}</td><td class="num">{k.draft}</td></tr>
                    }).collect_view()}</tbody>
                </table>
            </details>
        })
    };
    view! {
        <p data-testid="replay-summary">{format!(
            "{} requests replayed. The draft blocks {} more requests of {} keys and lets {} more through of {} keys.",
            compared.live.requests,
            compared.requests_newly_blocked,
            compared.keys_newly_blocked,
            compared.requests_newly_allowed,
            compared.keys_newly_allowed
        )}</p>
        <div class="table-wrap">
            <table data-testid="replay-table">
                <thead><tr><th scope="col">"Rule"</th><th scope="col">"Live"</th><th scope="col">"Draft"</th></tr></thead>
                <tbody>{rows.into_iter().map(|(name, live, draft)| view! {
                    <tr><th scope="row">{name}</th><td>{live}</td><td>{draft}</td></tr>
                }).collect_view()}</tbody>
            </table>
        </div>
        {keys("Keys newly blocked", "newly-blocked", compared.newly_blocked)}
        {keys("Keys newly let through", "newly-allowed", compared.newly_allowed)}
    }
}

#[component]
fn Evidence(change: ChangeView) -> impl IntoView {
    view! {
        <section aria-labelledby="evidence-heading">
            <h2 id="evidence-heading">"Evidence"</h2>
            {if change.evidence.is_empty() {
                view! { <p class="muted">"None attached."</p> }.into_any()
            } else {
                change.evidence.into_iter().map(|e| view! {
                    <figure class="evidence" data-testid="evidence">
                        <figcaption>
                            <p>{e.summary}</p>
                            <p class="muted">
                                {format!("Attached by {} at {}. ", e.attached_by, e.attached_at.format("%Y-%m-%d %H:%M UTC"))}
                                <a href=e.link>"Open it as it is now"</a>
                            </p>
                        </figcaption>
                        // Drawn by the server with plotters, which escapes the text it draws.
                        {(!e.chart.is_empty()).then(|| view! { <div class="chart" inner_html=e.chart.clone()></div> })}
                        {(!e.matrix.is_empty()).then(|| view! {
                            <table class="matrix" data-testid="matrix-evidence">
                                <thead><tr><th>"Group"</th><th>"Endpoint"</th><th>"Live"</th><th>"With this change"</th></tr></thead>
                                <tbody>
                                    {e.matrix.iter().map(|c| view! {
                                        <tr>
                                            <th scope="row">{c.group.clone()}</th>
                                            <td>{c.endpoint.label()}</td>
                                            <td class=if c.before.allowed() { "cell allow" } else { "cell deny" }>{c.before.label()}</td>
                                            <td class="cell changed">{c.after.label()}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        })}
                    </figure>
                }).collect_view().into_any()
            }}
        </section>
    }
}

#[component]
fn Comments(
    change: ChangeView,
    id: String,
    step: ServerAction<TakeStep>,
    body: RwSignal<String>,
) -> impl IntoView {
    view! {
        <section aria-labelledby="comments-heading">
            <h2 id="comments-heading">"Comments"</h2>
            <ul class="comments" data-testid="comments">
                {change.comments.into_iter().map(|c| view! {
                    <li>
                        <p class="muted">{format!("{} · {}", c.author, c.created_at.format("%Y-%m-%d %H:%M UTC"))}</p>
                        <p class="description">{c.body}</p>
                    </li>
                }).collect_view()}
            </ul>
            <label class="block">
                "Comment"
                <textarea rows="3" prop:value=move || body.get()
                    on:input=move |ev| body.set(event_target_value(&ev))></textarea>
            </label>
            <button type="button" disabled=move || step.pending().get() on:click=move |_| {
                step.dispatch(TakeStep { id: id.clone(), step: Step::Comment, text: body.get_untracked() });
                body.set(String::new());
            }>"Add comment"</button>
        </section>
    }
}
