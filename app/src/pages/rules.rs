//! The Rate rules page: a web ACL's live rules in priority order, each said
//! in plain words with its capacity cost, what validation and the lint find
//! in them, and the templates to start a new rule from. The web ACL is in the
//! query string (`?web_acl=shop&scope=REGIONAL`, or the picker's
//! `?acl=REGIONAL/shop`), so a link shows the same.

use super::rule_editor::{EditorStart, RuleEditor};
use crate::error::AppError;
use crate::rules::DraftRow;
use crate::rules::validate::{Finding, Severity};
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebAclChoice {
    pub name: String,
    pub scope: String,
}

/// One live rule as the page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleRow {
    pub priority: Option<i64>,
    pub name: String,
    /// In plain words; for a rule the model keeps verbatim, says so.
    pub summary: String,
    pub wcu: Option<u32>,
    /// The rule as AWS's JSON, pretty-printed.
    pub json: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateRow {
    pub title: String,
    pub json: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesView {
    pub web_acls: Vec<WebAclChoice>,
    /// The web ACL shown, if any exists.
    pub chosen: Option<WebAclChoice>,
    pub rules: Vec<RuleRow>,
    pub findings: Vec<Finding>,
    /// Capacity of the rules whose cost is known, and how many are not.
    pub wcu: (u32, usize),
    pub templates: Vec<TemplateRow>,
    /// For editors: what the editor starts from.
    pub editor: Option<EditorStart>,
    /// The open drafts of this web ACL.
    pub drafts: Vec<DraftRow>,
    /// How old the rules shown are ("read 4 s ago").
    pub read: Option<String>,
}

#[server(input = leptos::server_fn::codec::Json, output = crate::codec::Json)]
pub async fn load_rules(
    web_acl: Option<String>,
    scope: Option<String>,
    draft: Option<String>,
) -> Result<RulesView, AppError> {
    use crate::rules::model::{RuleEntry, rules_json};
    use crate::rules::templates::Template;
    use crate::rules::{drafts, live, summary, validate};
    let user = crate::auth::caller::require(crate::roles::Role::Viewer).await?;
    let state = crate::state::app_state()?;
    // The web ACLs Gatehouse manages (registered on the Settings page).
    let found: Vec<live::WebAclRef> = crate::targets::list(&state.pool)
        .await?
        .into_iter()
        .filter(|t| t.kind == crate::targets::TargetKind::WebAcl)
        .map(|t| live::WebAclRef {
            name: t.name,
            id: t.aws_id,
            arn: t.arn.unwrap_or_default(),
            scope: t.scope.unwrap_or_else(|| "REGIONAL".into()),
        })
        .collect();
    let choice_of = |a: &live::WebAclRef| WebAclChoice {
        name: a.name.clone(),
        scope: a.scope.clone(),
    };
    let web_acls: Vec<WebAclChoice> = found.iter().map(choice_of).collect();
    let scope = scope
        .unwrap_or_else(|| "REGIONAL".into())
        .to_ascii_uppercase();
    let chosen = match web_acl {
        Some(name) => Some(
            found
                .into_iter()
                .find(|a| a.name == name && a.scope == scope)
                .ok_or_else(|| {
                    AppError::BadRequest(live::LiveError::NotFound(name, scope).to_string())
                })?,
        ),
        None => found.into_iter().next(),
    };
    let templates = Template::ALL
        .into_iter()
        .map(|t| TemplateRow {
            title: t.title().to_owned(),
            json: serde_json::to_string_pretty(&rules_json(&t.rules(0))).unwrap_or_default(),
        })
        .collect();
    let Some(acl) = chosen else {
        return Ok(RulesView {
            web_acls,
            chosen: None,
            rules: Vec::new(),
            findings: Vec::new(),
            wcu: (0, 0),
            templates,
            editor: None,
            drafts: Vec::new(),
            read: None,
        });
    };
    let choice = choice_of(&acl);
    // As pages show it: from the live-state cache, with its age. A draft
    // saved from the editor is based on a fresh read all the same.
    let reach = crate::changes::kinds::Reach {
        pool: &state.pool,
        aws: &state.aws,
    };
    let target = crate::changes::kinds::TargetRef {
        name: acl.name,
        scope: acl.scope,
        id: acl.id,
    };
    let shown = crate::changes::Kind::WebAclRules
        .read_shown(reach, &target)
        .await
        .map_err(|e| AppError::unavailable(e.service, e.cause))?;
    let live = crate::changes::kinds::web_acl_rules::rules_of(&shown.live);
    let mut entries = live.rules.clone();
    entries.sort_by_key(|r| r.priority().unwrap_or(i64::MAX));
    let rules = entries
        .iter()
        .map(|entry| RuleRow {
            priority: entry.priority(),
            name: entry.name().unwrap_or("(no name)").to_owned(),
            summary: match entry {
                RuleEntry::Rule(rule) => summary::summary(rule),
                RuleEntry::Verbatim { .. } => {
                    "Not understood by Gatehouse; kept exactly as it is.".into()
                }
            },
            wcu: match entry {
                RuleEntry::Rule(rule) => summary::wcu(rule),
                RuleEntry::Verbatim { .. } => None,
            },
            json: serde_json::to_string_pretty(&entry.to_json()).unwrap_or_default(),
        })
        .collect();
    let pretty =
        |rules: &[RuleEntry]| serde_json::to_string_pretty(&rules_json(rules)).unwrap_or_default();
    let open_drafts = drafts::list(&state.pool, &choice.name, &choice.scope)
        .await
        .map_err(AppError::from)?;
    let reopened = match draft.as_deref().map(str::parse::<uuid::Uuid>) {
        None => None,
        Some(Err(_)) => return Err(AppError::NotFound),
        Some(Ok(id)) => {
            let found = crate::changes::store::get(&state.pool, id).await?;
            if !found.status.editable() {
                return Err(AppError::BadRequest(format!(
                    "That change request is {}: it can no longer be edited.",
                    found.status.label().to_lowercase()
                )));
            }
            Some(found)
        }
    };
    let editor = user
        .has(crate::roles::Role::Editor)
        .then(|| match &reopened {
            // A reopened draft is edited against the live state it was drafted on.
            Some(found) => EditorStart {
                web_acl: choice.clone(),
                base_lock_token: found.base.token.clone(),
                base_json: pretty(&crate::changes::kinds::web_acl_rules::rules(
                    &found.base.content,
                )),
                draft: Some(super::rule_editor::OpenDraft {
                    id: found.id.to_string(),
                    title: found.title.clone(),
                    rules_json: pretty(&crate::changes::kinds::web_acl_rules::rules(
                        &found.content,
                    )),
                    stale: found.base.token != live.lock_token,
                    submitted: found.status != crate::changes::Status::Draft,
                }),
            },
            None => EditorStart {
                web_acl: choice.clone(),
                base_lock_token: live.lock_token.clone(),
                base_json: pretty(&live.rules),
                draft: None,
            },
        });
    Ok(RulesView {
        web_acls,
        chosen: Some(choice),
        rules,
        findings: validate::validate(&live.rules),
        wcu: summary::web_acl_wcu(&live.rules),
        templates,
        editor,
        drafts: open_drafts,
        read: Some(shown.freshness()),
    })
}

/// The page, rendered on the server: the live rules, their findings, the
/// drafts and the templates are HTML; only the editor is an island.
#[component]
pub fn Rules() -> impl IntoView {
    let q = leptos_router::hooks::use_query_map().get_untracked();
    // The picker sends `acl=SCOPE/NAME`; links carry web_acl and scope.
    let picked = q.get("acl").and_then(|acl| {
        acl.split_once('/')
            .map(|(scope, name)| (Some(name.to_owned()), Some(scope.to_owned())))
    });
    let (web_acl, scope) = picked.unwrap_or_else(|| (q.get("web_acl"), q.get("scope")));
    let draft = q.get("draft");
    let data = Resource::new(
        || (),
        move |_| load_rules(web_acl.clone(), scope.clone(), draft.clone()),
    );
    view! {
        <Title text="Rate rules" />
        <h1>"Rate rules"</h1>
        <p class="lead">
            "The web ACL's rules as they are live in AWS WAF, in priority order and in plain words, "
            "with what AWS would refuse and what a reviewer would question."
        </p>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => view! { <RulesBody view /> }.into_any(),
                    Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn RulesBody(view: RulesView) -> impl IntoView {
    let RulesView {
        web_acls,
        chosen,
        rules,
        findings,
        wcu,
        templates,
        editor,
        drafts,
        read,
    } = view;
    let picker = view! {
        <form method="get" action="/rules" class="inline-form">
            <label>
                "Web ACL "
                <select name="acl">
                    {web_acls
                        .iter()
                        .map(|a| {
                            let selected = chosen.as_ref() == Some(a);
                            let label = match a.scope.as_str() {
                                "CLOUDFRONT" => format!("{} (CloudFront)", a.name),
                                _ => a.name.clone(),
                            };
                            view! {
                                <option value=format!("{}/{}", a.scope, a.name) selected=selected>{label}</option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <button type="submit">"Show"</button>
        </form>
    };
    let Some(chosen) = chosen else {
        return view! {
            {picker}
            <p role="status">"Gatehouse manages no web ACL yet: an admin registers them on the " <a href="/settings">"Settings"</a> " page."</p>
        }
        .into_any();
    };
    let (known, unknown) = wcu;
    let capacity = match unknown {
        0 => format!("{known} WCU of the 1,500 a web ACL includes"),
        n => format!("at least {known} WCU ({n} rules of unknown cost)"),
    };
    view! {
        {picker}
        <section aria-labelledby="live-heading">
            <h2 id="live-heading">{format!("{} ({}): live rules", chosen.name, chosen.scope)}</h2>
            <p data-testid="capacity">{capacity}</p>
            {read.map(|r| view! { <p class="muted age" data-testid="read-age">{r}</p> })}
            <ol class="rules" data-testid="live-rules">
                {rules
                    .into_iter()
                    .map(|r| {
                        let priority = r.priority.map_or("–".into(), |p| p.to_string());
                        let cost = r.wcu.map_or("? WCU".into(), |w| format!("{w} WCU"));
                        view! {
                            <li>
                                <p>
                                    <span class="priority">{priority}</span>" "
                                    <strong>{r.name}</strong>": "{r.summary}" "
                                    <span class="muted">{format!("({cost})")}</span>
                                </p>
                                <details>
                                    <summary>"JSON"</summary>
                                    <pre><code>{r.json}</code></pre>
                                </details>
                            </li>
                        }
                    })
                    .collect_view()}
            </ol>
            <Findings findings />
        </section>
        <Drafts drafts web_acl=chosen.clone() />
        {editor.map(|start| view! { <RuleEditor start /> })}
        <section aria-labelledby="templates-heading">
            <h2 id="templates-heading">"Templates"</h2>
            <p>"Starting points from the AWS guidance on rate-based rules, each valid as it comes."</p>
            {templates
                .into_iter()
                .map(|t| view! {
                    <details>
                        <summary>{t.title}</summary>
                        <pre><code>{t.json}</code></pre>
                    </details>
                })
                .collect_view()}
        </section>
    }
    .into_any()
}

#[component]
fn Findings(findings: Vec<Finding>) -> impl IntoView {
    if findings.is_empty() {
        return view! { <p role="status" data-testid="findings">"No problems found."</p> }
            .into_any();
    }
    view! {
        <ul data-testid="findings" class="findings">
            {findings
                .into_iter()
                .map(|f| {
                    let label = match f.severity {
                        Severity::Error => "Error",
                        Severity::Warning => "Warning",
                    };
                    view! {
                        <li class=label.to_ascii_lowercase()>
                            <strong>{label}</strong>" · "{f.rule}
                            {(!f.path.is_empty()).then(|| view! { " · " <code>{f.path}</code> })}
                            ": "{f.message}
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
fn Drafts(drafts: Vec<DraftRow>, web_acl: WebAclChoice) -> impl IntoView {
    if drafts.is_empty() {
        return ().into_any();
    }
    view! {
        <section aria-labelledby="drafts-heading">
            <h2 id="drafts-heading">"Drafts"</h2>
            <ul data-testid="drafts">
                {drafts
                    .into_iter()
                    .map(|d| {
                        let href = format!(
                            "/rules?web_acl={}&scope={}&draft={}",
                            crate::url::encode(&web_acl.name),
                            crate::url::encode(&web_acl.scope),
                            d.id
                        );
                        let title = if d.title.is_empty() { "(untitled)".to_owned() } else { d.title };
                        view! {
                            <li>
                                <a href=href>{title}</a>
                                {format!(" · {} · saved {}", d.author, d.updated_at.format("%Y-%m-%d %H:%M UTC"))}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </section>
    }
    .into_any()
}
