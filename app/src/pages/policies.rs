//! The Policies page (SPEC §4): the group → policy mappings the API Gateway
//! authorizer reads from DynamoDB, each in plain words with its findings;
//! edits into the editor's draft (a change request); the simulator and the
//! decision matrix, both run in the browser on the same evaluator the
//! server and the command line use.

use crate::error::AppError;
use crate::pages::settings::{Edited, Outcome, Pending, PendingChanges};
use crate::policies::evaluate::{Decision, Evaluation, evaluate};
use crate::policies::mapping::{
    self, Call, Endpoint, Mapping, Mappings, authorizer_output, findings, read_context,
    read_endpoints,
};
use crate::policies::matrix::{Matrix, changed, endpoints_from_openapi, matrix};
use crate::policies::summary::summary;
use crate::policies::validate::{Finding, Severity, validate_text};
#[cfg(feature = "ssr")]
use crate::roles::Role;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

/// The caller's draft of the table's mappings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DraftMappings {
    pub id: String,
    pub mappings: Mappings,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoliciesView {
    pub tables: Vec<String>,
    pub table: String,
    pub live: Mappings,
    /// How old `live` is ("read 4 s ago").
    pub read: String,
    pub draft: Option<DraftMappings>,
    pub pending: Vec<Pending>,
    pub can_edit: bool,
}

#[server(output = crate::codec::Json)]
pub async fn load_policies(table: Option<String>) -> Result<PoliciesView, AppError> {
    use crate::changes::{Kind, drafts};
    let user = crate::auth::caller::require(Role::Viewer).await?;
    let state = crate::state::app_state()?;
    let reach = crate::changes::kinds::Reach {
        pool: &state.pool,
        aws: &state.aws,
    };
    let tables = crate::policies::live::tables(&state.pool).await?;
    let table = crate::policies::live::table(&state.pool, table.as_deref()).await?;
    let (live, draft, pending) = tokio::join!(
        crate::policies::live::read(reach, &table),
        draft_of(&state.pool, &table, &user.username),
        drafts::pending(&state.pool, Kind::PolicyMappings, &user.username),
    );
    let draft = draft?;
    let (live, read) = live?;
    Ok(PoliciesView {
        tables,
        table,
        live,
        read,
        draft,
        pending: pending?
            .into_iter()
            .map(|(id, status, words)| Pending { id, status, words })
            .collect(),
        can_edit: user.has(Kind::PolicyMappings.author_role()),
    })
}

/// The caller's open draft of `table`'s mappings, read again after an edit.
#[server(output = crate::codec::Json)]
pub async fn load_draft(table: String) -> Result<Option<DraftMappings>, AppError> {
    let user = crate::auth::caller::require(Role::Viewer).await?;
    let state = crate::state::app_state()?;
    let table = crate::policies::live::table(&state.pool, Some(&table)).await?;
    draft_of(&state.pool, &table, &user.username).await
}

#[cfg(feature = "ssr")]
async fn draft_of(
    pool: &sqlx::PgPool,
    table: &str,
    author: &str,
) -> Result<Option<DraftMappings>, AppError> {
    use crate::changes::{Kind, drafts, kinds::policy_mappings};
    let target = policy_mappings::target(table);
    let Some(id) = drafts::open_draft(pool, Kind::PolicyMappings, &target, author).await? else {
        return Ok(None);
    };
    let change = crate::changes::store::get(pool, id).await?;
    Ok(Some(DraftMappings {
        id: id.to_string(),
        mappings: policy_mappings::mappings(&change.content),
    }))
}

/// Sets a group's policy in the editor's draft of `table` (a new group is
/// stored as a map; an existing one keeps its form).
#[server(output = crate::codec::Json)]
pub async fn save_mapping(
    table: String,
    group: String,
    policy: String,
) -> Result<Edited, AppError> {
    let group = group.trim().to_owned();
    if group.is_empty() || group.len() > 128 {
        return Err(AppError::BadRequest(
            "Name the Cognito group (1 to 128 characters).".into(),
        ));
    }
    // DynamoDB holds at most 400 KB an item; a policy is far smaller.
    if policy.len() > 100 * 1024 {
        return Err(AppError::BadRequest(format!(
            "The policy is {} KB; keep it under 100 KB (nothing was saved).",
            policy.len() / 1024
        )));
    }
    let document: serde_json::Value = serde_json::from_str(&policy).map_err(|e| {
        AppError::BadRequest(format!("The policy is not JSON ({e}); nothing was saved."))
    })?;
    let message = format!("The policy of {group} is in your draft.");
    edit_draft(table, move |mappings| {
        mappings.set(&group, document);
        Ok(())
    })
    .await
    .map(|draft| Edited { draft, message })
}

/// Removes a group's mapping in the editor's draft of `table`.
#[server(output = crate::codec::Json)]
pub async fn delete_mapping(table: String, group: String) -> Result<Edited, AppError> {
    let message = format!("Unmapping {group} is in your draft.");
    edit_draft(table, move |mappings| match mappings.remove(&group) {
        true => Ok(()),
        false => Err(format!("{group} has no mapping")),
    })
    .await
    .map(|draft| Edited { draft, message })
}

#[cfg(feature = "ssr")]
async fn edit_draft(
    table: String,
    change: impl FnOnce(&mut Mappings) -> Result<(), String>,
) -> Result<String, AppError> {
    use crate::changes::{Kind, drafts, kinds::policy_mappings};
    let user = crate::auth::caller::require(Kind::PolicyMappings.author_role()).await?;
    let state = crate::state::app_state()?;
    let table = crate::policies::live::table(&state.pool, Some(&table)).await?;
    let reach = crate::changes::kinds::Reach {
        pool: &state.pool,
        aws: &state.aws,
    };
    let id = drafts::edit(
        reach,
        Kind::PolicyMappings,
        &policy_mappings::target(&table),
        &format!("Change the policy mappings of {table}"),
        crate::auth::sign_in::actor(&user),
        crate::auth::caller::caller().client,
        |content| {
            let mut mappings = Mappings::read(content)?;
            change(&mut mappings)?;
            Ok(mappings.to_json())
        },
    )
    .await?;
    Ok(id.to_string())
}

/// The `cognito:groups` of an access (or ID) token, once its signature,
/// issuer and expiry check out against the user pool's JWKS.
#[server(output = crate::codec::Json)]
pub async fn token_groups(token: String) -> Result<Vec<String>, AppError> {
    use crate::auth::tokens::TokenUse;
    crate::auth::caller::require(Role::Viewer).await?;
    let state = crate::state::app_state()?;
    let pool = state.auth.pool.as_ref().ok_or_else(|| {
        AppError::BadRequest("No Cognito user pool is configured to check tokens against.".into())
    })?;
    let token = token.trim();
    let verified = match pool.verifier.verify(token, TokenUse::Access).await {
        Ok(user) => Ok(user),
        Err(_) => pool.verifier.verify(token, TokenUse::Id).await,
    };
    match verified {
        Ok(user) => Ok(user.groups),
        Err(error) => {
            tracing::info!(%error, "simulator: a pasted token was refused");
            Err(AppError::BadRequest(
                "That token was refused: it is not a current token of this user pool (signature, issuer, audience or expiry)."
                    .into(),
            ))
        }
    }
}

/// Endpoints the matrix starts with: the demo API's.
const DEFAULT_ENDPOINTS: &str = "GET /petstore/v1/pets\nPOST /petstore/v1/pets\nDELETE /petstore/v1/pets/1\nGET /petstore/v2/status\nGET /petstore/v2/pets\nGET /admin/users";

/// The page, rendered on the server: the live mappings in words with their
/// findings are HTML; the editor, the simulator and the matrix are one
/// island, given the page's data.
#[component]
pub fn Policies() -> impl IntoView {
    let table = leptos_router::hooks::use_query_map()
        .get_untracked()
        .get("table");
    let data = Resource::new(|| (), move |_| load_policies(table.clone()));
    view! {
        <Title text="Policies" />
        <h1>"Policies"</h1>
        <p class="lead">
            "The API Gateway Lambda authorizer verifies a caller's Cognito access token, reads the policy of each of the caller's "
            <code>"cognito:groups"</code>
            " from this DynamoDB table and returns their union; API Gateway then allows or denies "
            <code>"execute-api:Invoke"</code>
            " on the method's ARN. A caller in no mapped group is denied. Changes go through a change request."
        </p>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => view! { <PoliciesBody view /> }.into_any(),
                    Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn PoliciesBody(view: PoliciesView) -> impl IntoView {
    let tables = view.tables.clone();
    let pending = view.pending.clone();
    let live = view.live.clone();
    view! {
        {(tables.len() > 1).then(|| view! {
            <nav class="inline-form" aria-label="Policy tables">
                "Table: "
                {tables.into_iter().map(|t| view! {
                    <a href=format!("/policies?table={}", crate::url::encode(&t))>{t.clone()}</a>" "
                }).collect_view()}
            </nav>
        })}
        <PendingChanges pending heading="Your policy changes" />
        <section class="panel" aria-labelledby="live-heading">
            <h2 id="live-heading">{format!("Mappings in {}", view.table)}</h2>
            <p class="muted age" data-testid="read-age">{view.read.clone()}</p>
            <p class="muted">
                "Whether API Gateway evaluates the Condition block of a policy an authorizer returns is not documented: "
                "the simulator evaluates conditions with IAM's semantics and says when a decision turns on one. "
                "With authorizer caching on (300 s by default), the policy returned for a token is reused for every method of the API until it expires."
            </p>
            {if live.mappings.is_empty() {
                view! { <p>"The table maps no group: every caller is denied."</p> }.into_any()
            } else {
                live.mappings.into_iter().map(|mapping| view! { <MappingCard mapping /> }).collect_view().into_any()
            }}
        </section>
        <PolicyTools view=ToolsView {
            table: view.table,
            live: view.live,
            draft: view.draft,
            can_edit: view.can_edit,
        } />
    }
}

/// What the browser's part of the page is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolsView {
    pub table: String,
    pub live: Mappings,
    pub draft: Option<DraftMappings>,
    pub can_edit: bool,
}

/// What runs in the browser: edits into the draft, the simulator and the
/// decision matrix. After each edit it reads the draft again, so the
/// simulator and the matrix can use it at once.
#[island(lazy)]
fn PolicyTools(view: ToolsView) -> impl IntoView {
    let ToolsView {
        table,
        live,
        draft,
        can_edit,
    } = view;
    let save = ServerAction::<SaveMapping>::new();
    let delete = ServerAction::<DeleteMapping>::new();
    let draft = RwSignal::new(draft);
    let reread = table.clone();
    Effect::new(move |seen: Option<(usize, usize)>| {
        let versions = (save.version().get(), delete.version().get());
        if seen.is_some_and(|seen| seen != versions) {
            let table = reread.clone();
            leptos::task::spawn_local(async move {
                if let Ok(read) = load_draft(table).await {
                    draft.set(read);
                }
            });
        }
        versions
    });
    let editor_group = RwSignal::new(String::new());
    let editor_text = RwSignal::new(String::new());
    move || {
        let (table, live, draft) = (table.clone(), live.clone(), draft.get());
        view! {
            <Outcome action=save />
            <Outcome action=delete />
            {can_edit.then(|| {
                let starts = live.mappings.clone().into_iter().map(|m| {
                    let text = m.policy_text();
                    let label = format!("Edit {}", m.group);
                    view! {
                        <button type="button" class="secondary" on:click=move |_| {
                            editor_group.set(m.group.clone());
                            editor_text.set(text.clone());
                        }>{label}</button>
                        " "
                    }
                }).collect_view();
                view! {
                    <Editor table=table.clone() draft=draft.clone() save delete group=editor_group text=editor_text>
                        {starts}
                    </Editor>
                }
            })}
            <Simulator live=live.clone() draft=draft.clone().map(|d| d.mappings) />
            <MatrixPanel live draft table />
        }
    }
}

#[component]
fn MappingCard(mapping: Mapping) -> impl IntoView {
    let found = findings(&mapping);
    let words = summary(&mapping.policy);
    view! {
        <article class="mapping" data-testid="mapping" data-group=mapping.group.clone()>
            <h3>{mapping.group.clone()} " " <span class="muted">{format!("stored as a {}", mapping.stored.label())}</span></h3>
            <p data-testid="summary">{words}</p>
            <Findings found />
            <details>
                <summary>"Policy document"</summary>
                <pre class="json">{mapping.policy_text()}</pre>
            </details>
        </article>
    }
}

#[component]
fn Findings(found: Vec<Finding>) -> impl IntoView {
    let label = |s: Severity| match s {
        Severity::Error => "Error",
        Severity::SecurityWarning => "Security warning",
        Severity::Warning => "Warning",
        Severity::Suggestion => "Suggestion",
    };
    (!found.is_empty()).then(|| {
        view! {
            <ul class="findings" data-testid="findings">
                {found.into_iter().map(|f| view! {
                    <li class=format!("finding {:?}", f.severity).to_lowercase()>
                        <strong>{label(f.severity)}</strong> " " <code>{f.code}</code>
                        {(!f.path.is_empty()).then(|| view! { " at " <code>{f.path.clone()}</code> })}
                        ": " {f.message}
                    </li>
                }).collect_view()}
            </ul>
        }
    })
}

/// Edits into the editor's draft: a group's policy with findings as it is
/// typed, or the group unmapped.
#[component]
fn Editor(
    table: String,
    draft: Option<DraftMappings>,
    save: ServerAction<SaveMapping>,
    delete: ServerAction<DeleteMapping>,
    group: RwSignal<String>,
    text: RwSignal<String>,
    /// A button per live mapping, to start from it.
    children: Children,
) -> impl IntoView {
    let found = Memo::new(move |_| {
        let text = text.get();
        match text.trim().is_empty() {
            true => Vec::new(),
            false => validate_text(&text),
        }
    });
    let table_for_delete = table.clone();
    // Plain forms that post to the server functions, so they work before
    // the island hydrates too; once it has, they dispatch from the fields'
    // signals (ActionForm would decode the form data in the browser, which
    // costs the page a query-string decoder).
    let save_table = table.clone();
    let on_save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        save.dispatch(SaveMapping {
            table: save_table.clone(),
            group: group.get_untracked(),
            policy: text.get_untracked(),
        });
    };
    let delete_table = table.clone();
    let on_delete = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        delete.dispatch(DeleteMapping {
            table: delete_table.clone(),
            group: group.get_untracked(),
        });
    };
    view! {
        <section class="panel" aria-labelledby="editor-heading">
            <h2 id="editor-heading">"Edit a mapping"</h2>
            {match &draft {
                Some(d) => view! {
                    <p class="notice">
                        "Your edits go into your draft: "
                        <a href=format!("/reviews/{}", d.id)>"open its review"</a>
                        " to describe and submit it. The simulator and the matrix can use it."
                    </p>
                }.into_any(),
                None => view! { <p class="muted">"Saving starts a draft change request from the live table."</p> }.into_any(),
            }}
            <p class="inline-form">"Start from a live mapping: " {children()}</p>
            <form method="post" action=SaveMapping::url() on:submit=on_save>
                <input type="hidden" name="table" value=table.clone() />
                <label>"Cognito group "
                    <input name="group" required prop:value=move || group.get()
                        on:input=move |ev| group.set(event_target_value(&ev)) />
                </label>
                <label class="block">"Policy document (JSON)"
                    <textarea name="policy" rows="14" class="json" spellcheck="false"
                        prop:value=move || text.get()
                        on:input=move |ev| text.set(event_target_value(&ev))></textarea>
                </label>
                <div data-testid="editor-findings">
                    {move || view! { <Findings found=found.get() /> }}
                    {move || (found.with(Vec::is_empty) && !text.with(|t| t.trim().is_empty())).then(|| view! {
                        <p class="muted">"No findings."</p>
                    })}
                </div>
                <button type="submit">"Save to my draft"</button>
            </form>
            <form method="post" action=DeleteMapping::url() class="inline-form" on:submit=on_delete>
                <input type="hidden" name="table" value=table_for_delete />
                <input type="hidden" name="group" prop:value=move || group.get() />
                <button type="submit" disabled=move || group.with(|g| g.trim().is_empty())>
                    {move || format!("Unmap {} in my draft", group.get())}
                </button>
            </form>
        </section>
    }
}

/// Which mappings a simulation or the matrix reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Live,
    Draft,
}

/// The call the simulator and the matrix make, as typed.
#[derive(Clone, Copy)]
struct CallInputs {
    method: RwSignal<String>,
    path: RwSignal<String>,
    stage: RwSignal<String>,
    api_id: RwSignal<String>,
    source_ip: RwSignal<String>,
    context: RwSignal<String>,
}

impl CallInputs {
    fn new() -> Self {
        let call = Call::default();
        CallInputs {
            method: RwSignal::new(call.method),
            path: RwSignal::new("/petstore/v1/pets".into()),
            stage: RwSignal::new(call.stage),
            api_id: RwSignal::new(call.api_id),
            source_ip: RwSignal::new("192.0.2.10".into()),
            context: RwSignal::new(String::new()),
        }
    }

    fn call(&self) -> Result<Call, String> {
        Ok(Call {
            method: self.method.get(),
            path: self.path.get(),
            stage: self.stage.get(),
            api_id: self.api_id.get(),
            source_ip: self.source_ip.get(),
            context: read_context(&self.context.get())?,
            ..Call::default()
        })
    }
}

#[component]
fn Simulator(live: Mappings, draft: Option<Mappings>) -> impl IntoView {
    let has_draft = draft.is_some();
    let source = RwSignal::new(Source::Live);
    let groups = RwSignal::new(live.groups().into_iter().take(1).collect::<Vec<String>>());
    let inputs = CallInputs::new();
    let token = RwSignal::new(String::new());
    let from_token = ServerAction::<TokenGroups>::new();
    Effect::new(move |_| {
        if let Some(Ok(found)) = from_token.value().get() {
            groups.set(found);
        }
    });
    let (live_for_sim, draft_for_sim) = (live.clone(), draft.clone());
    let mappings = Memo::new(move |_| match (source.get(), &draft_for_sim) {
        (Source::Draft, Some(draft)) => draft.clone(),
        _ => live_for_sim.clone(),
    });
    let result = Memo::new(move |_| {
        let call = inputs.call()?;
        let chosen = groups.get();
        let policies = mappings.with(|m| m.policies_of(&chosen));
        let evaluation = evaluate(&policies, &call.request());
        let output = mappings.with(|m| authorizer_output("simulated-caller", m, &chosen));
        Ok::<_, String>((call.resource(), evaluation, output))
    });
    let all_groups = {
        let mut names = live.groups();
        if let Some(d) = &draft {
            for g in d.groups() {
                if !names.contains(&g) {
                    names.push(g);
                }
            }
        }
        names
    };
    view! {
        <section class="panel" aria-labelledby="sim-heading" data-testid="simulator">
            <h2 id="sim-heading">"Simulator"</h2>
            <p class="muted">"Runs in your browser on the evaluator the server uses: a decision needs no round trip."</p>
            {has_draft.then(|| view! { <SourcePicker source name="sim-source" /> })}
            <fieldset>
                <legend>"Caller's groups"</legend>
                {all_groups.into_iter().map(|g| {
                    let (name, for_check) = (g.clone(), g.clone());
                    view! {
                        <label class="check">
                            <input type="checkbox" value=g.clone()
                                prop:checked=move || groups.with(|gs| gs.contains(&for_check))
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    groups.update(|gs| {
                                        gs.retain(|x| x != &name);
                                        if on { gs.push(name.clone()); }
                                    });
                                } />
                            {g}
                        </label>
                    }
                }).collect_view()}
                <div class="inline-form">
                    <label>"Or paste an access token "
                        <input type="password" autocomplete="off" prop:value=move || token.get()
                            on:input=move |ev| token.set(event_target_value(&ev)) />
                    </label>
                    <button type="button" on:click=move |_| {
                        from_token.dispatch(TokenGroups { token: token.get_untracked() });
                    }>"Use the token's groups"</button>
                    {move || from_token.value().get().map(|r| match r {
                        Ok(found) => view! { <span role="status">{format!("Verified; groups: {}", found.join(", "))}</span> }.into_any(),
                        Err(e) => view! { <span class="error" role="alert">{e.to_string()}</span> }.into_any(),
                    })}
                </div>
            </fieldset>
            <CallFields inputs with_path=true />
            <div data-testid="decision" aria-live="polite">
                {move || match result.get() {
                    Err(why) => view! { <p class="error">{why}</p> }.into_any(),
                    Ok((resource, evaluation, output)) => view! {
                        <Explanation resource evaluation output />
                    }.into_any(),
                }}
            </div>
        </section>
    }
}

#[component]
fn SourcePicker(source: RwSignal<Source>, name: &'static str) -> impl IntoView {
    view! {
        <fieldset class="inline-form">
            <legend>"Mappings"</legend>
            <label class="check"><input type="radio" name=name prop:checked=move || source.get() == Source::Live
                on:change=move |_| source.set(Source::Live) />"Live table"</label>
            <label class="check"><input type="radio" name=name prop:checked=move || source.get() == Source::Draft
                on:change=move |_| source.set(Source::Draft) />"My draft"</label>
        </fieldset>
    }
}

#[component]
fn CallFields(inputs: CallInputs, with_path: bool) -> impl IntoView {
    let field = |label: &'static str, signal: RwSignal<String>| {
        view! {
            <label>{label}" "
                <input prop:value=move || signal.get() on:input=move |ev| signal.set(event_target_value(&ev)) />
            </label>
        }
    };
    view! {
        <div class="inline-form">
            {with_path.then(|| view! {
                <label>"Method "
                    <select prop:value=move || inputs.method.get() on:change=move |ev| inputs.method.set(event_target_value(&ev))>
                        {["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"].into_iter().map(|m| view! {
                            <option value=m selected=m == "GET">{m}</option>
                        }).collect_view()}
                    </select>
                </label>
            })}
            {with_path.then(|| field("Path", inputs.path))}
            {field("Stage", inputs.stage)}
            {field("API id", inputs.api_id)}
            {field("Source IP", inputs.source_ip)}
        </div>
        <label class="block">"Other context keys (one key=value per line; a,b for several values)"
            <textarea rows="2" prop:value=move || inputs.context.get()
                on:input=move |ev| inputs.context.set(event_target_value(&ev))></textarea>
        </label>
    }
}

fn decision_label(decision: Decision) -> &'static str {
    match decision {
        Decision::Allow => "Allow",
        Decision::ExplicitDeny => "Explicit deny",
        Decision::ImplicitDeny => "Implicit deny",
    }
}

#[component]
fn Explanation(
    resource: String,
    evaluation: Evaluation,
    output: serde_json::Value,
) -> impl IntoView {
    let decided = match &evaluation.deciding {
        Some(at) => format!(
            "Decided by {} of group {}.",
            at.sid
                .as_ref()
                .map(|s| format!("statement {s:?}"))
                .unwrap_or_else(|| format!("statement {}", at.index)),
            at.policy
        ),
        None if evaluation.statements.is_empty() => {
            "No policy applies: the caller is in no mapped group.".to_owned()
        }
        None => "No statement allows it.".to_owned(),
    };
    let class = match evaluation.decision {
        Decision::Allow => "decision allow",
        _ => "decision deny",
    };
    view! {
        <p><span class=class data-testid="decision-label">{decision_label(evaluation.decision)}</span> " " {decided}</p>
        <p class="muted">"Resource: " <code>{resource}</code> " · action " <code>{mapping::INVOKE}</code></p>
        {evaluation.depends_on_condition.then(|| view! {
            <p class="notice" data-testid="condition-note">
                "This decision turns on a Condition. AWS does not document whether API Gateway evaluates conditions of an authorizer's policy: check it against your API."
            </p>
        })}
        <table class="trace">
            <thead><tr><th>"Group"</th><th>"Statement"</th><th>"Effect"</th><th>"Action"</th><th>"Resource"</th><th>"Conditions"</th><th>"Applies"</th></tr></thead>
            <tbody>
                {evaluation.statements.into_iter().map(|s| view! {
                    <tr class=if s.matched { "matched" } else { "" }>
                        <td>{s.statement.policy.clone()}</td>
                        <td>{s.statement.sid.clone().unwrap_or_else(|| format!("#{}", s.statement.index))}</td>
                        <td>{s.effect.clone()}</td>
                        <td>{s.action.why.clone()}</td>
                        <td>{s.resource.why.clone()}</td>
                        <td>
                            {if s.conditions.is_empty() { view! { "none" }.into_any() } else {
                                view! { <ul>{s.conditions.into_iter().map(|c| view! {
                                    <li>{format!("{} {}: {}", c.operator, c.key, c.why)}</li>
                                }).collect_view()}</ul> }.into_any()
                            }}
                        </td>
                        <td>{if s.matched { "yes" } else { "no" }}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <details>
            <summary>"The authorizer's output for this caller"</summary>
            <pre class="json" data-testid="authorizer-output">{serde_json::to_string_pretty(&output).unwrap_or_default()}</pre>
        </details>
    }
}

#[component]
fn MatrixPanel(live: Mappings, draft: Option<DraftMappings>, table: String) -> impl IntoView {
    let endpoints_text = RwSignal::new(DEFAULT_ENDPOINTS.to_owned());
    let openapi_problem = RwSignal::new(None::<String>);
    let inputs = CallInputs::new();
    let draft_id = draft.as_ref().map(|d| d.id.clone());
    let draft = draft.map(|d| d.mappings);
    let computed = Memo::new(move |_| {
        let endpoints = read_endpoints(&endpoints_text.get())?;
        let call = inputs.call()?;
        let now = matrix(&live, &endpoints, &call);
        let proposed = draft.as_ref().map(|d| matrix(d, &endpoints, &call));
        Ok::<_, String>((now, proposed))
    });
    let read_openapi = move |text: String| match endpoints_from_openapi(&text) {
        Ok(found) => {
            openapi_problem.set(None);
            endpoints_text.set(
                found
                    .iter()
                    .map(Endpoint::label)
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
        Err(why) => openapi_problem.set(Some(why)),
    };
    let evidence_link = move || {
        let call = inputs.call().unwrap_or_default();
        let pairs = [
            ("table", table.clone()),
            ("endpoints", endpoints_text.get()),
            ("stage", call.stage),
            ("api_id", call.api_id),
            ("source_ip", call.source_ip),
            ("context", inputs.context.get()),
        ];
        let query: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", crate::url::encode(v)))
            .collect();
        format!("/policies?{}", query.join("&"))
    };
    let attach = ServerAction::<crate::pages::TakeStep>::new();
    view! {
        <section class="panel" aria-labelledby="matrix-heading" data-testid="matrix">
            <h2 id="matrix-heading">"Decision matrix"</h2>
            <p class="muted">"Each group alone against each endpoint. With a draft, the cells it changes against the live table are highlighted."</p>
            <label class="block">"Endpoints (one \"METHOD /path\" per line)"
                <textarea rows="6" prop:value=move || endpoints_text.get()
                    on:input=move |ev| endpoints_text.set(event_target_value(&ev))></textarea>
            </label>
            <label>"Or read them from an OpenAPI 3 document (JSON) "
                <input type="file" accept=".json,application/json" data-testid="openapi"
                    on:change=move |ev| read_file(ev, read_openapi) />
            </label>
            {move || openapi_problem.get().map(|p| view! { <p class="error" role="alert">{p}</p> })}
            <CallFields inputs with_path=false />
            {move || match computed.get() {
                Err(why) => view! { <p class="error">{why}</p> }.into_any(),
                Ok((now, proposed)) => view! { <MatrixTable now proposed /> }.into_any(),
            }}
            {draft_id.map(|id| {
                let id_for_click = id.clone();
                view! {
                    <div class="inline-form">
                        <button type="button" on:click=move |_| {
                            attach.dispatch(crate::pages::TakeStep {
                                id: id_for_click.clone(),
                                step: crate::pages::Step::Attach,
                                text: evidence_link(),
                            });
                        }>"Attach these cells to my draft's change request"</button>
                        {move || attach.value().get().map(|r| match r {
                            Ok(done) => view! { <span role="status">{done.message} " " <a href=format!("/reviews/{id}")>"Open its review"</a></span> }.into_any(),
                            Err(e) => view! { <span class="error" role="alert">{e.to_string()}</span> }.into_any(),
                        })}
                    </div>
                }
            })}
        </section>
    }
}

#[component]
fn MatrixTable(now: Matrix, proposed: Option<Matrix>) -> impl IntoView {
    let changes = proposed
        .as_ref()
        .map(|p| changed(&now, p))
        .unwrap_or_default();
    let shown = proposed.clone().unwrap_or_else(|| now.clone());
    let mut groups = shown.groups.clone();
    for g in &now.groups {
        if !groups.contains(g) {
            groups.push(g.clone());
        }
    }
    let count = changes.len();
    view! {
        {proposed.is_some().then(|| view! {
            <p data-testid="matrix-changes">{match count {
                0 => "Your draft changes no cell.".to_owned(),
                1 => "Your draft changes 1 cell (highlighted: live → draft).".to_owned(),
                n => format!("Your draft changes {n} cells (highlighted: live → draft)."),
            }}</p>
        })}
        <div class="scroll">
            <table class="matrix">
                <thead><tr><th>"Group"</th>
                    {shown.endpoints.iter().map(|e| view! { <th scope="col">{e.label()}</th> }).collect_view()}
                </tr></thead>
                <tbody>
                    {groups.into_iter().map(|g| {
                        let cells = shown.endpoints.iter().map(|e| {
                            let after = shown.cell(&g, e);
                            let change = changes.iter().find(|c| c.group == g && &c.endpoint == e);
                            let class = match (change, after.allowed()) {
                                (Some(_), _) => "cell changed",
                                (None, true) => "cell allow",
                                (None, false) => "cell deny",
                            };
                            let text = match change {
                                Some(c) => format!("{} → {}", c.before.label(), c.after.label()),
                                None => after.label().to_owned(),
                            };
                            view! { <td class=class>{text}</td> }
                        }).collect_view();
                        view! { <tr><th scope="row">{g}</th>{cells}</tr> }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// Reads the chosen file's text and hands it on (in the browser).
#[allow(unused_variables)]
fn read_file(ev: leptos::ev::Event, then: impl Fn(String) + 'static) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let Some(input) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        else {
            return;
        };
        let Some(file) = input.files().and_then(|files| files.get(0)) else {
            return;
        };
        leptos::task::spawn_local(async move {
            let text = wasm_bindgen_futures::JsFuture::from(file.text()).await;
            match text.ok().and_then(|t| t.as_string()) {
                Some(text) => then(text),
                None => then(String::new()),
            }
        });
    }
}
