//! The rules editor on the Rate rules page: a form for the rate-based
//! rules' limits, windows and path scopes, and the JSON view of all the
//! rules, kept in sync; validation, the lint and the diff against the live
//! web ACL follow every change (the same Rust as the server's, run in the
//! browser); "Save draft" stores the rules with the live state they were
//! edited from. Editors only.

use super::rules::WebAclChoice;
use crate::error::AppError;
use crate::rules::diff::{ItemChange, diff};
use crate::rules::model::{
    AggregateKeyType, Empty, FallbackBehavior, FieldToMatch, ForwardedIpConfig, RateBasedStatement,
    RuleAction, RuleEntry, Statement, rules_json,
};
use crate::rules::rules_of;
use crate::rules::templates::Template;
use crate::rules::validate::{Finding, Severity, WINDOWS, validate};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the editor starts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditorStart {
    pub web_acl: WebAclChoice,
    /// The LockToken of the live rules the editor opened with.
    pub base_lock_token: String,
    /// The live rules, as the console's JSON editor shows them (for a
    /// reopened draft, those it was drafted on).
    pub base_json: String,
    /// A reopened draft.
    pub draft: Option<OpenDraft>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenDraft {
    pub id: String,
    pub title: String,
    pub rules_json: String,
    /// The web ACL changed since the draft was made.
    pub stale: bool,
    /// Submitted already: saving sends it back to review.
    pub submitted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedDraft {
    pub id: String,
    pub errors: usize,
}

#[server(input = leptos::server_fn::codec::Json, output = crate::codec::Json)]
pub async fn save_draft(
    web_acl: String,
    scope: String,
    base_lock_token: String,
    draft_id: Option<String>,
    title: String,
    rules: String,
) -> Result<SavedDraft, AppError> {
    use crate::rules::{drafts, live};
    let user = crate::auth::caller::require(crate::roles::Role::Editor).await?;
    let state = crate::state::app_state()?;
    let document: serde_json::Value = serde_json::from_str(&rules)
        .map_err(|e| AppError::BadRequest(format!("The rules are not JSON: {e}")))?;
    let rules = rules_of(document).map_err(AppError::BadRequest)?;
    let live = live::rules(&state.aws.wafv2, &scope, &web_acl)
        .await
        .map_err(|e| AppError::unavailable("AWS WAF", e))?;
    if live.lock_token != base_lock_token {
        return Err(AppError::Conflict(
            "The web ACL changed since this page was opened. Reload to edit its current rules."
                .into(),
        ));
    }
    let actor = crate::auth::sign_in::actor(&user);
    let client = crate::auth::caller::caller().client;
    let id = match draft_id.and_then(|id| id.parse::<uuid::Uuid>().ok()) {
        Some(id) => {
            drafts::update(&state.pool, id, &title, &rules, actor, client).await?;
            id
        }
        None => drafts::create(&state.pool, &live, &title, &rules, actor, client).await?,
    };
    let errors = validate(&rules)
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    Ok(SavedDraft {
        id: id.to_string(),
        errors,
    })
}

#[server(input = leptos::server_fn::codec::Json, output = crate::codec::Json)]
pub async fn discard_draft(id: String) -> Result<(), AppError> {
    let user = crate::auth::caller::require(crate::roles::Role::Editor).await?;
    let state = crate::state::app_state()?;
    let id = id.parse::<uuid::Uuid>().map_err(|_| AppError::NotFound)?;
    let actor = crate::auth::sign_in::actor(&user);
    let client = crate::auth::caller::caller().client;
    Ok(crate::changes::steps::withdraw(&state.pool, id, actor, client).await?)
}

/// The rules as the editor shows them: parsed from the JSON view, or why not.
fn parse(text: &str) -> Result<Vec<RuleEntry>, String> {
    let document: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("Not JSON: {e}"))?;
    rules_of(document)
}

fn pretty(rules: &[RuleEntry]) -> String {
    serde_json::to_string_pretty(&rules_json(rules)).unwrap_or_default()
}

/// An island: the page around it is server-rendered HTML.
#[island(lazy)]
pub fn RuleEditor(start: EditorStart) -> impl IntoView {
    let base = parse(&start.base_json).unwrap_or_default();
    let initial = start
        .draft
        .as_ref()
        .map_or_else(|| start.base_json.clone(), |d| d.rules_json.clone());
    // The source of truth is the JSON text; the textarea shows `shown`,
    // which only the form rewrites, so typing in it keeps the caret.
    let text = RwSignal::new(initial.clone());
    let shown = RwSignal::new(initial);
    let parsed = Memo::new(move |_| parse(&text.get()));
    let edit = move |change: &dyn Fn(&mut Vec<RuleEntry>)| {
        if let Ok(mut rules) = parsed.get_untracked() {
            change(&mut rules);
            let json = pretty(&rules);
            text.set(json.clone());
            shown.set(json);
        }
    };
    let rows = move || {
        parsed
            .get()
            .map(|rules| {
                rules
                    .iter()
                    .enumerate()
                    .filter_map(|(i, r)| match r {
                        RuleEntry::Rule(rule)
                            if matches!(rule.statement, Statement::RateBased(_)) =>
                        {
                            Some((i, rule.name.clone()))
                        }
                        _ => None,
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let findings = Memo::new(move |_| match parsed.get() {
        Ok(rules) => Ok(validate(&rules)),
        Err(e) => Err(e),
    });
    let changes = Memo::new(move |_| {
        parsed
            .get()
            .map(|rules| diff(&base, &rules))
            .unwrap_or_default()
    });
    let title = RwSignal::new(
        start
            .draft
            .as_ref()
            .map(|d| d.title.clone())
            .unwrap_or_default(),
    );
    let draft_id = RwSignal::new(start.draft.as_ref().map(|d| d.id.clone()));
    let stale = start.draft.as_ref().is_some_and(|d| d.stale);
    let submitted = start.draft.as_ref().is_some_and(|d| d.submitted);
    let save = ServerAction::<SaveDraft>::new();
    let discard = ServerAction::<DiscardDraft>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = discard.value().get() {
            draft_id.set(None);
        }
    });
    let template = RwSignal::new(0usize);
    let add_template = move |_| {
        let chosen = Template::ALL[template.get_untracked().min(Template::ALL.len() - 1)];
        edit(&|rules: &mut Vec<RuleEntry>| {
            let next = rules
                .iter()
                .filter_map(RuleEntry::priority)
                .max()
                .map_or(0, |p| p + 1);
            rules.extend(chosen.rules(next));
        });
    };
    Effect::new(move |_| {
        if let Some(Ok(saved)) = save.value().get() {
            draft_id.set(Some(saved.id));
        }
    });
    let web_acl = start.web_acl.clone();
    let base_lock_token = start.base_lock_token.clone();
    view! {
        <section aria-labelledby="editor-heading" class="editor">
            <h2 id="editor-heading">"Edit"</h2>
            {stale.then(|| view! {
                <p class="error" role="alert">
                    "The web ACL changed since this draft was made: it cannot be saved as it is. "
                    "Start a new draft from the live rules."
                </p>
            })}
            <Priorities parsed edit />
            <div class="editor-form" data-testid="rule-form">
                <For each=rows key=|row| row.clone() let((index, name))>
                    <RateRuleRow index name parsed edit />
                </For>
            </div>
            <label class="block">
                "JSON"
                <textarea
                    rows="18"
                    spellcheck="false"
                    data-testid="rules-json"
                    prop:value=move || shown.get()
                    on:input=move |ev| text.set(event_target_value(&ev))
                ></textarea>
            </label>
            <div class="inline-form">
                <label>
                    "Template "
                    <select on:change=move |ev| template.set(event_target_value(&ev).parse().unwrap_or(0))>
                        {Template::ALL
                            .iter()
                            .enumerate()
                            .map(|(i, t)| view! { <option value=i.to_string()>{t.title()}</option> })
                            .collect_view()}
                    </select>
                </label>
                <button type="button" on:click=add_template>"Add to the draft"</button>
            </div>
            <EditorFindings findings />
            <Diff changes />
            <div class="save">
                <label>
                    "Title "
                    <input type="text" prop:value=move || title.get() on:input=move |ev| title.set(event_target_value(&ev)) />
                </label>
                <button
                    type="button"
                    disabled=move || parsed.get().is_err() || save.pending().get()
                    on:click=move |_| {
                        save.dispatch(SaveDraft {
                            web_acl: web_acl.name.clone(),
                            scope: web_acl.scope.clone(),
                            base_lock_token: base_lock_token.clone(),
                            draft_id: draft_id.get_untracked(),
                            title: title.get_untracked(),
                            rules: text.get_untracked(),
                        });
                    }
                >
                    {if submitted { "Save (back to review)" } else { "Save draft" }}
                </button>
                {move || draft_id.get().map(|id| view! {
                    <button type="button" on:click=move |_| { discard.dispatch(DiscardDraft { id: id.clone() }); }>
                        "Discard draft"
                    </button>
                })}
                {move || match discard.value().get() {
                    Some(Ok(())) => view! { <p role="status" data-testid="draft-discarded">"Draft discarded."</p> }.into_any(),
                    Some(Err(error)) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                    None => ().into_any(),
                }}
                {move || match save.value().get() {
                    Some(Ok(saved)) => view! {
                        <p role="status" data-testid="draft-saved">
                            {format!("{} ({}).", if submitted { "Saved; it is back in review" } else { "Draft saved" }, match saved.errors {
                                0 => "no errors".to_owned(),
                                n => format!("{n} errors to fix before it can be applied"),
                            })}
                        </p>
                        <p>
                            <a href=format!("/reviews/{}", saved.id) data-testid="review-link">
                                "Open its review: describe it, attach evidence, submit it"
                            </a>
                        </p>
                    }.into_any(),
                    Some(Err(error)) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                    None => ().into_any(),
                }}
            </div>
        </section>
    }
}

/// Every rule in priority order, each movable up or down (which swaps its
/// priority with its neighbour's).
#[component]
fn Priorities(
    parsed: Memo<Result<Vec<RuleEntry>, String>>,
    edit: impl Fn(&dyn Fn(&mut Vec<RuleEntry>)) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    // (position in the rules, name), by priority.
    let order = move || {
        let mut rules: Vec<(usize, i64, String)> = parsed
            .get()
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, r)| {
                (
                    i,
                    r.priority().unwrap_or(i64::MAX),
                    r.name().unwrap_or("(no name)").to_owned(),
                )
            })
            .collect();
        rules.sort_by_key(|r| r.1);
        rules
    };
    let swap = move |a: usize, b: usize| {
        edit(&|rules: &mut Vec<RuleEntry>| {
            let (pa, pb) = (rules[a].priority(), rules[b].priority());
            if let (Some(pa), Some(pb)) = (pa, pb) {
                set_priority(&mut rules[a], pb);
                set_priority(&mut rules[b], pa);
            }
        })
    };
    view! {
        <ol class="priorities" data-testid="priorities">
            {move || {
                let order = order();
                order
                    .iter()
                    .enumerate()
                    .map(|(k, (index, priority, name))| {
                        let up = k.checked_sub(1).map(|j| order[j].0);
                        let down = order.get(k + 1).map(|next| next.0);
                        let index = *index;
                        view! {
                            <li>
                                {format!("{priority} {name} ")}
                                <button type="button" aria-label=format!("Move {name} up") disabled=up.is_none()
                                    on:click=move |_| { if let Some(j) = up { swap(index, j) } }>"↑"</button>
                                <button type="button" aria-label=format!("Move {name} down") disabled=down.is_none()
                                    on:click=move |_| { if let Some(j) = down { swap(index, j) } }>"↓"</button>
                            </li>
                        }
                    })
                    .collect_view()
            }}
        </ol>
    }
}

fn set_priority(entry: &mut RuleEntry, priority: i64) {
    match entry {
        RuleEntry::Rule(rule) => rule.priority = priority,
        RuleEntry::Verbatim { json, .. } => {
            if let Some(object) = json.as_object_mut() {
                object.insert("Priority".into(), priority.into());
            }
        }
    }
}

/// The form row of one rate-based rule: limit, what it counts per (and the
/// forwarded-IP header), window, the path it is scoped to when it is scoped
/// by path, and the action.
#[component]
fn RateRuleRow(
    index: usize,
    name: String,
    parsed: Memo<Result<Vec<RuleEntry>, String>>,
    edit: impl Fn(&dyn Fn(&mut Vec<RuleEntry>)) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let rate = move || {
        parsed.get().ok().and_then(|rules| match rules.get(index) {
            Some(RuleEntry::Rule(rule)) => match &rule.statement {
                Statement::RateBased(rate) => Some((**rate).clone()),
                _ => None,
            },
            _ => None,
        })
    };
    let with_rule = move |change: Box<dyn Fn(&mut crate::rules::model::Rule)>| {
        edit(&|rules: &mut Vec<RuleEntry>| {
            if let Some(RuleEntry::Rule(rule)) = rules.get_mut(index) {
                change(rule);
            }
        })
    };
    let with_rate = move |change: Box<dyn Fn(&mut RateBasedStatement)>| {
        with_rule(Box::new(move |rule| {
            if let Statement::RateBased(rate) = &mut rule.statement {
                change(rate);
            }
        }))
    };
    let action = move || {
        parsed.get().ok().and_then(|rules| match rules.get(index) {
            Some(RuleEntry::Rule(rule)) => rule.action.as_ref().map(RuleAction::kind),
            _ => None,
        })
    };
    let key_type = move || rate().map(|r| r.aggregate_key_type.as_str().to_owned());
    let header = move || {
        rate()
            .and_then(|r| r.forwarded_ip_config)
            .map(|c| c.header_name)
    };
    let path = move || {
        rate().and_then(|r| match r.scope_down_statement {
            Some(Statement::ByteMatch(m))
                if matches!(m.field_to_match, FieldToMatch::UriPath(_)) =>
            {
                Some(m.search_string)
            }
            _ => None,
        })
    };
    let label = name.clone();
    let path_label = format!("{name} path");
    let header_label = format!("{name} header");
    view! {
        <fieldset data-rule=name.clone()>
            <legend>{label}</legend>
            <label>
                "Limit "
                <input
                    type="number"
                    min="10"
                    max="2000000000"
                    aria-label=format!("{name} limit")
                    prop:value=move || rate().map(|r| r.limit.to_string()).unwrap_or_default()
                    on:input=move |ev| {
                        if let Ok(limit) = event_target_value(&ev).trim().parse::<i64>() {
                            with_rate(Box::new(move |r| r.limit = limit));
                        }
                    }
                />
            </label>
            <label>
                " per "
                <select
                    aria-label=format!("{name} key")
                    prop:value=move || key_type().unwrap_or_default()
                    on:change=move |ev| {
                        let chosen = AggregateKeyType::from_text(&event_target_value(&ev));
                        with_rate(Box::new(move |r| set_key_type(r, chosen.clone())));
                    }
                >
                    <option value="IP">"client IP"</option>
                    <option value="FORWARDED_IP">"forwarded IP"</option>
                    <option value="CONSTANT">"all requests together"</option>
                    <option value="CUSTOM_KEYS" disabled=true>"custom keys (in the JSON)"</option>
                </select>
            </label>
            <TextField
                label=" from header "
                aria=header_label
                value=header
                set=move |text: String| with_rate(Box::new(move |r| {
                    if let Some(config) = &mut r.forwarded_ip_config {
                        config.header_name = text.clone();
                    }
                }))
            />
            <label>
                " in any "
                <select
                    aria-label=format!("{name} window")
                    prop:value=move || rate().and_then(|r| r.evaluation_window_sec).unwrap_or(300).to_string()
                    on:change=move |ev| {
                        if let Ok(window) = event_target_value(&ev).parse::<i64>() {
                            with_rate(Box::new(move |r| r.evaluation_window_sec = Some(window)));
                        }
                    }
                >
                    {WINDOWS
                        .iter()
                        .map(|w| view! { <option value=w.to_string()>{format!("{} s", w)}</option> })
                        .collect_view()}
                </select>
            </label>
            <TextField
                label=" for paths starting with "
                aria=path_label
                value=path
                set=move |text: String| with_rate(Box::new(move |r| {
                    if let Some(Statement::ByteMatch(m)) = &mut r.scope_down_statement {
                        m.search_string = text.clone();
                    }
                }))
            />
            <label>
                " then "
                <select
                    aria-label=format!("{name} action")
                    prop:value=move || action().unwrap_or_default()
                    on:change=move |ev| {
                        let chosen = event_target_value(&ev);
                        with_rule(Box::new(move |rule| {
                            rule.action = match chosen.as_str() {
                                "Count" => Some(RuleAction::Count(Empty::default())),
                                "Captcha" => Some(RuleAction::Captcha(Empty::default())),
                                "Challenge" => Some(RuleAction::Challenge(Empty::default())),
                                _ => Some(RuleAction::Block(Empty::default())),
                            };
                        }));
                    }
                >
                    <option value="Block">"Block"</option>
                    <option value="Count">"Count"</option>
                    <option value="Captcha">"CAPTCHA"</option>
                    <option value="Challenge">"Challenge"</option>
                </select>
            </label>
        </fieldset>
    }
}

/// A text field of the rule form, there while `value` has a value.
#[component]
fn TextField(
    label: &'static str,
    aria: String,
    value: impl Fn() -> Option<String> + Copy + Send + Sync + 'static,
    set: impl Fn(String) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    move || {
        value().map(|_| {
            view! {
                <label>
                    {label}
                    <input
                        type="text"
                        aria-label=aria.clone()
                        prop:value=move || value().unwrap_or_default()
                        on:input=move |ev| set(event_target_value(&ev))
                    />
                </label>
            }
        })
    }
}

/// Changes how a rate rule groups requests, with the forwarded-IP header
/// it then needs (X-Forwarded-For unless one is set), or without it.
fn set_key_type(rate: &mut RateBasedStatement, key_type: AggregateKeyType) {
    if key_type == AggregateKeyType::ForwardedIp {
        if rate.forwarded_ip_config.is_none() {
            rate.forwarded_ip_config = Some(ForwardedIpConfig {
                header_name: "X-Forwarded-For".into(),
                fallback_behavior: FallbackBehavior::NoMatch,
                other: Default::default(),
            });
        }
    } else {
        rate.forwarded_ip_config = None;
    }
    if key_type != AggregateKeyType::CustomKeys {
        rate.custom_keys = None;
    }
    rate.aggregate_key_type = key_type;
}

#[component]
fn EditorFindings(findings: Memo<Result<Vec<Finding>, String>>) -> impl IntoView {
    view! {
        <div data-testid="editor-findings" aria-live="polite">
            {move || match findings.get() {
                Err(problem) => view! { <p class="error" role="alert">{problem}</p> }.into_any(),
                Ok(list) if list.is_empty() => view! { <p>"No problems found."</p> }.into_any(),
                Ok(list) => view! {
                    <ul class="findings">
                        {list
                            .into_iter()
                            .map(|f| {
                                let label = match f.severity {
                                    Severity::Error => "Error",
                                    Severity::Warning => "Warning",
                                };
                                view! { <li>{format!("{label} · {} · {}: {}", f.rule, f.path, f.message)}</li> }
                            })
                            .collect_view()}
                    </ul>
                }.into_any(),
            }}
        </div>
    }
}

#[component]
fn Diff(changes: Memo<Vec<ItemChange>>) -> impl IntoView {
    view! {
        <div data-testid="diff">
            <h3>"Changes against the live web ACL"</h3>
            {move || {
                let changes = changes.get();
                if changes.is_empty() {
                    return view! { <p>"No changes."</p> }.into_any();
                }
                let json = serde_json::to_string_pretty(&changes).unwrap_or_default();
                view! {
                    <ul>
                        {changes
                            .into_iter()
                            .map(|c| match c {
                                ItemChange::Added { name, .. } => view! { <li>{format!("{name}: added")}</li> }.into_any(),
                                ItemChange::Removed { name, .. } => view! { <li>{format!("{name}: removed")}</li> }.into_any(),
                                ItemChange::Changed { name, fields, .. } => view! {
                                    <li>
                                        {format!("{name}: ")}
                                        {fields
                                            .into_iter()
                                            .map(|f| format!("{} {} → {}", f.path, f.before, f.after))
                                            .collect::<Vec<_>>()
                                            .join("; ")}
                                    </li>
                                }.into_any(),
                            })
                            .collect_view()}
                    </ul>
                    <details>
                        <summary>"As JSON"</summary>
                        <pre><code>{json}</code></pre>
                    </details>
                }.into_any()
            }}
        </div>
    }
}
