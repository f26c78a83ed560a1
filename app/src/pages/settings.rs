//! The Settings page (admins): the AWS resources Gatehouse manages, which
//! Cognito group grants which role and how many approvals a change needs,
//! and the IAM policy Gatehouse's own role needs. Every edit is checked
//! (a resource live, before it is added) and goes into the admin's settings
//! draft, a change request another admin must approve before it takes
//! effect.

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::roles::Role;
use crate::settings::{RoleSetting, Source, Target};
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

/// A resource that could be added: a web ACL or IP set AWS lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    pub name: String,
    pub scope: String,
}

/// One of the admin's open settings change requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub id: String,
    pub status: crate::changes::Status,
    pub words: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsView {
    pub targets: Vec<Target>,
    pub roles: Vec<RoleSetting>,
    pub required_approvals: i32,
    pub approvals_source: Source,
    /// Web ACLs AWS lists in both scopes that are not managed yet; or why
    /// they could not be listed.
    pub web_acls: Result<Vec<Candidate>, String>,
    pub ip_sets: Result<Vec<Candidate>, String>,
    pub pending: Vec<Pending>,
    /// "What Gatehouse needs", pretty JSON.
    pub iam_policy: String,
    /// The Cognito user pool people sign in with, if any.
    pub user_pool: Option<String>,
    /// How threshold health is judged.
    pub health: crate::traffic::health::HealthSettings,
    /// The console's AWS Region.
    pub region: String,
}

#[server(output = crate::codec::Json)]
pub async fn load_settings() -> Result<SettingsView, AppError> {
    let user = crate::auth::caller::require(Role::Admin).await?;
    let state = crate::state::app_state()?;
    let doc = crate::settings::store::current(&state.pool).await?;
    let now = crate::settings::Effective::of(&doc, &state.overrides);
    let (web_acls, ip_sets, pending) = tokio::join!(
        candidates::web_acls(&state.aws, &doc),
        candidates::ip_sets(&state.aws),
        crate::changes::drafts::pending(
            &state.pool,
            crate::changes::Kind::Settings,
            &user.username
        ),
    );
    let iam_policy =
        serde_json::to_string_pretty(&crate::settings::store::iam_policy(&state, &doc))
            .unwrap_or_default();
    Ok(SettingsView {
        targets: doc.targets,
        roles: now.roles,
        required_approvals: now.required_approvals,
        approvals_source: now.approvals_source,
        web_acls,
        ip_sets,
        pending: pending?
            .into_iter()
            .map(|(id, status, words)| Pending { id, status, words })
            .collect(),
        iam_policy,
        user_pool: state.auth.pool.as_ref().map(|p| p.user_pool_id.clone()),
        health: doc.threshold_health.unwrap_or_default(),
        region: state.aws.region.clone(),
    })
}

#[cfg(feature = "ssr")]
mod candidates {
    use super::Candidate;
    use crate::settings::SettingsDoc;
    use crate::state::AwsClients;
    use crate::targets::TargetKind;

    /// Web ACLs of both scopes (CloudFront's where AWS lists them) that are
    /// not managed yet.
    pub async fn web_acls(aws: &AwsClients, doc: &SettingsDoc) -> Result<Vec<Candidate>, String> {
        let found = crate::rules::live::all_web_acls(&aws.wafv2)
            .await
            .map_err(|e| {
                tracing::warn!(%e, "ListWebACLs for the Settings page");
                "AWS WAF did not list the web ACLs (ListWebACLs).".to_owned()
            })?;
        Ok(found
            .into_iter()
            .filter(|acl| {
                !doc.of(TargetKind::WebAcl)
                    .any(|t| t.name == acl.name && t.scope.as_deref() == Some(&acl.scope))
            })
            .map(|acl| Candidate {
                name: acl.name,
                scope: acl.scope,
            })
            .collect())
    }

    pub async fn ip_sets(aws: &AwsClients) -> Result<Vec<Candidate>, String> {
        let listed = crate::settings::check::ip_sets(aws)
            .await
            .map_err(|e| format!("AWS WAF did not list the IP sets ({e})."))?;
        Ok(listed
            .into_iter()
            .filter_map(|s| {
                Some(Candidate {
                    name: s.name?,
                    scope: "REGIONAL".into(),
                })
            })
            .collect())
    }
}

/// What an edit came to: the settings draft it went into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edited {
    pub draft: String,
    pub message: String,
}

/// Checks a resource live and adds it to the admin's settings draft.
/// `kind` is `web_acl` (`web_acl` = `SCOPE/name`), `dynamodb_table`
/// (`name`), `vpn_geofencing` (`name`, `geo_web_acl`, `nat_ip_set`,
/// `policy_arn`, optional `scp_id`) or `log_source` (`name`).
#[server(output = crate::codec::Json)]
pub async fn add_target(
    kind: String,
    web_acl: Option<String>,
    name: Option<String>,
    geo_web_acl: Option<String>,
    nat_ip_set: Option<String>,
    policy_arn: Option<String>,
    scp_id: Option<String>,
) -> Result<Edited, AppError> {
    use crate::settings::check;
    let (state, actor, client) = as_admin().await?;
    let aws = &state.aws;
    let text = |value: Option<String>, what: &str| {
        value
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty() && v.len() <= 2048)
            .ok_or_else(|| AppError::BadRequest(format!("Give the {what}.")))
    };
    let failed = |e: check::CheckFailed| AppError::BadRequest(format!("Not added: {e}."));
    let target = match kind.as_str() {
        "web_acl" => {
            let chosen = text(web_acl, "web ACL")?;
            let (scope, name) = chosen
                .split_once('/')
                .ok_or_else(|| AppError::BadRequest("Pick a web ACL from the list.".into()))?;
            check::web_acl(aws, scope, name).await.map_err(failed)?
        }
        "dynamodb_table" => check::policy_table(aws, &text(name, "table name")?)
            .await
            .map_err(failed)?,
        "vpn_geofencing" => {
            let input = check::VpnSetInput {
                name: text(name, "set's name")?,
                geo_web_acl: text(geo_web_acl, "geo web ACL")?,
                nat_ip_set: text(nat_ip_set, "NAT IP set")?,
                policy_arn: text(policy_arn, "deny policy's ARN")?,
                scp_id: scp_id
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty()),
            };
            check::vpn_set(aws, &input).await.map_err(failed)?
        }
        "log_source" => check::log_source(&state.pool, aws, &text(name, "source's name")?)
            .await
            .map_err(failed)?,
        other => return Err(AppError::BadRequest(format!("Unknown kind {other:?}."))),
    };
    add_checked(&state, actor, client, target).await
}

/// Checks an Athena log source live and adds it to the admin's settings
/// draft. With `create_table`, Gatehouse makes the partition-projected WAF
/// table over `s3://BUCKET/AWSLogs/ACCOUNT/WAFLogs/…` when the change is
/// applied (its statement is in the change's words until then), and the
/// table's partition columns are `region` (valued `region_value`, or
/// `cloudfront`) and `date`.
#[server(output = crate::codec::Json)]
pub async fn add_athena_source(
    name: String,
    region: String,
    workgroup: String,
    output_location: Option<String>,
    database: String,
    table: String,
    web_acls: String,
    account: Option<String>,
    date_column: Option<String>,
    region_column: Option<String>,
    region_value: Option<String>,
    create_table: Option<String>,
    bucket: Option<String>,
    first_day: Option<String>,
) -> Result<Edited, AppError> {
    use crate::traffic::athena::LogTable;
    use crate::traffic::athena_table::NewLogTable;
    use crate::traffic::source::AthenaSource;
    let (state, actor, client) = as_admin().await?;
    let given =
        |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let needed = |value: String, what: &str| {
        given(Some(value)).ok_or_else(|| AppError::BadRequest(format!("Give the {what}.")))
    };
    let name = needed(name, "source's name")?;
    if name == crate::traffic::source::IMPORTED {
        return Err(AppError::BadRequest(format!(
            "\"{name}\" names the logs imported into PostgreSQL: give the Athena source another name."
        )));
    }
    let region = given(Some(region)).unwrap_or_else(|| state.aws.region.clone());
    let web_acls: Vec<String> = web_acls
        .split(',')
        .map(|w| w.trim().to_owned())
        .filter(|w| !w.is_empty())
        .collect();
    let account = given(account);
    let database = needed(database, "Glue database")?;
    let table = needed(table, "table's name")?;
    let region_value = given(region_value);
    let create_table = match create_table.is_some() {
        false => None,
        true => Some(NewLogTable {
            database: database.clone(),
            table: table.clone(),
            bucket: given(bucket).ok_or_else(|| {
                AppError::BadRequest("Give the bucket WAF delivers the logs to.".into())
            })?,
            account: account.clone().ok_or_else(|| {
                AppError::BadRequest("Give the account whose logs the bucket holds.".into())
            })?,
            web_acl: web_acls.first().cloned().ok_or_else(|| {
                AppError::BadRequest("Give the web ACL whose logs the table reads.".into())
            })?,
            region: region_value.clone().unwrap_or_else(|| region.clone()),
            first_day: given(first_day).ok_or_else(|| {
                AppError::BadRequest("Give the first day of logs (2026/01/31).".into())
            })?,
        }),
    };
    let log_table = match &create_table {
        Some(new) => new.log_table(),
        None => LogTable {
            database,
            table,
            date_column: given(date_column).unwrap_or_else(|| "date".into()),
            region: given(region_column).zip(region_value),
        },
    };
    let source = AthenaSource {
        name,
        region,
        workgroup: needed(workgroup, "workgroup")?,
        output_location: given(output_location),
        table: log_table,
        web_acls,
        account,
        location: None,
        create_table,
    };
    source
        .validate()
        .map_err(|e| AppError::BadRequest(format!("Not added: {e}.")))?;
    let target = crate::settings::check::athena_source(&state.aws, &source)
        .await
        .map_err(|e| AppError::BadRequest(format!("Not added: {e}.")))?;
    add_checked(&state, actor, client, target).await
}

/// Removes a managed resource (by its label) in the admin's settings draft.
#[server(output = crate::codec::Json)]
pub async fn remove_target(label: String) -> Result<Edited, AppError> {
    let (state, actor, client) = as_admin().await?;
    let shown = label.clone();
    let draft = edit(&state, actor, client, move |doc| {
        let before = doc.targets.len();
        doc.targets.retain(|t| t.label() != label);
        match doc.targets.len() == before {
            true => Err(format!("{label} is not managed")),
            false => Ok(()),
        }
    })
    .await?;
    Ok(Edited {
        draft,
        message: format!("Your settings change stops managing {shown}."),
    })
}

/// Sets role groups and the approvals needed in the admin's settings
/// draft. A value the file or environment fixes cannot be set here; a new
/// admin group must have members (else nobody could sign in as admin).
#[server(output = crate::codec::Json)]
pub async fn set_roles(
    viewer: Option<String>,
    editor: Option<String>,
    approver: Option<String>,
    admin: Option<String>,
    required_approvals: Option<String>,
) -> Result<Edited, AppError> {
    let (state, actor, client) = as_admin().await?;
    let stored = crate::settings::store::current(&state.pool).await?;
    let now = crate::settings::Effective::of(&stored, &state.overrides);
    // What the database holds; a role the file or environment fixes keeps
    // it as it is.
    let mut groups = stored.role_groups.clone().unwrap_or_default();
    for (role, value) in [
        (Role::Viewer, viewer),
        (Role::Editor, editor),
        (Role::Approver, approver),
        (Role::Admin, admin),
    ] {
        let Some(value) = value.map(|v| v.trim().to_owned()) else {
            continue;
        };
        let Some(setting) = now.roles.iter().find(|r| r.role == role) else {
            continue;
        };
        if setting.source.editable() {
            groups.set(role, value);
        } else if value != setting.group {
            return Err(AppError::BadRequest(format!(
                "The {} role's group is set in the {}, which wins over the console.",
                role.as_str(),
                setting.source.label()
            )));
        }
    }
    let admins_fixed = now
        .roles
        .iter()
        .any(|r| r.role == Role::Admin && !r.source.editable());
    if !admins_fixed && groups.admin != now.role_groups().admin {
        admins_exist(&state, &groups.admin).await?;
    }
    let approvals = match required_approvals.map(|v| v.trim().to_owned()) {
        Some(text) if !text.is_empty() => Some(text.parse::<i32>().map_err(|_| {
            AppError::BadRequest(format!("Approvals needed: {text:?} is not a number."))
        })?),
        _ => None,
    };
    if approvals.is_some_and(|n| n != now.required_approvals) && !now.approvals_source.editable() {
        return Err(AppError::BadRequest(format!(
            "The approvals needed are set in the {}, which wins over the console.",
            now.approvals_source.label()
        )));
    }
    let draft = edit(&state, actor, client, move |doc| {
        doc.role_groups = Some(groups);
        if let Some(n) = approvals {
            doc.required_approvals = Some(n);
        }
        doc.check()
    })
    .await?;
    Ok(Edited {
        draft,
        message: "Roles and approvals are in your settings change.".into(),
    })
}

/// Sets how threshold health is judged (the dashboard and `gatehouse
/// traffic health`) in the admin's settings draft.
#[server(output = crate::codec::Json)]
pub async fn set_health(
    percentile: String,
    days: String,
    tight_percent: String,
    loose_factor: String,
    unreviewed_days: String,
) -> Result<Edited, AppError> {
    let (state, actor, client) = as_admin().await?;
    let number = |name: &str, text: &str| {
        text.trim()
            .parse::<u32>()
            .map_err(|_| AppError::BadRequest(format!("{name}: {text:?} is not a whole number.")))
    };
    let health = crate::traffic::health::HealthSettings {
        percentile: crate::traffic::threshold::Basis::parse(percentile.trim())
            .map_err(AppError::BadRequest)?,
        days: number("Days", &days)?,
        tight_percent: number("Tight above", &tight_percent)?,
        loose_factor: number("Loose at", &loose_factor)?,
        unreviewed_days: number("Unreviewed after", &unreviewed_days)?,
    };
    health.check().map_err(AppError::BadRequest)?;
    let draft = edit(&state, actor, client, move |doc| {
        doc.threshold_health = Some(health);
        doc.check()
    })
    .await?;
    Ok(Edited {
        draft,
        message: "Threshold health is in your settings change.".into(),
    })
}

#[cfg(feature = "ssr")]
async fn as_admin() -> Result<
    (
        crate::state::AppState,
        crate::audit::Actor,
        crate::audit::Client,
    ),
    AppError,
> {
    let user = crate::auth::caller::require(Role::Admin).await?;
    let state = crate::state::app_state()?;
    let actor = crate::auth::sign_in::actor(&user);
    Ok((state, actor, crate::auth::caller::caller().client))
}

/// A resource that passed its check, put into the admin's settings draft
/// (in place of one of the same label).
#[cfg(feature = "ssr")]
async fn add_checked(
    state: &crate::state::AppState,
    actor: crate::audit::Actor,
    client: crate::audit::Client,
    target: Target,
) -> Result<Edited, AppError> {
    let label = target.label();
    let draft = edit(state, actor, client, move |doc| {
        doc.targets.retain(|t| t.label() != target.label());
        doc.targets.push(target);
        Ok(())
    })
    .await?;
    Ok(Edited {
        draft,
        message: format!("Checked and added to your settings change: {label}."),
    })
}

#[cfg(feature = "ssr")]
async fn edit(
    state: &crate::state::AppState,
    actor: crate::audit::Actor,
    client: crate::audit::Client,
    change: impl FnOnce(&mut crate::settings::SettingsDoc) -> Result<(), String>,
) -> Result<String, AppError> {
    let reach = crate::changes::kinds::Reach {
        pool: &state.pool,
        aws: &state.aws,
    };
    Ok(crate::settings::drafts::edit(reach, actor, client, change)
        .await?
        .to_string())
}

/// Refuses an admin group nobody in the user pool belongs to: mapping the
/// admin role to it would leave no one able to change the settings.
#[cfg(feature = "ssr")]
async fn admins_exist(state: &crate::state::AppState, group: &str) -> Result<(), AppError> {
    let Some(pool) = &state.auth.pool else {
        return Ok(());
    };
    let members = state
        .aws
        .cognito
        .list_users_in_group()
        .user_pool_id(&pool.user_pool_id)
        .group_name(group)
        .limit(1)
        .send()
        .await;
    match members {
        Ok(found) if !found.users().is_empty() => Ok(()),
        Ok(_) => Err(AppError::BadRequest(format!(
            "Nobody is in the Cognito group {group:?}: with the admin role mapped to it, \
             no one could change the settings. Add its members first."
        ))),
        Err(error) => {
            let code = crate::aws_error::describe(&error);
            tracing::info!(error = %aws_sdk_cognitoidentityprovider::error::DisplayErrorContext(&error), "ListUsersInGroup");
            Err(AppError::BadRequest(format!(
                "Cannot tell who is in the Cognito group {group:?} (ListUsersInGroup failed: {code})."
            )))
        }
    }
}

/// The page as the server renders it; the island within hydrates.
#[component]
pub fn Settings() -> impl IntoView {
    view! {
        <Title text="Settings" />
        <SettingsIsland />
    }
}

#[island(lazy)]
fn SettingsIsland() -> impl IntoView {
    let add = ServerAction::<AddTarget>::new();
    let remove = ServerAction::<RemoveTarget>::new();
    let roles = ServerAction::<SetRoles>::new();
    let health = ServerAction::<SetHealth>::new();
    let athena = ServerAction::<AddAthenaSource>::new();
    let data = Resource::new(
        move || {
            (
                add.version().get(),
                athena.version().get(),
                remove.version().get(),
                roles.version().get(),
                health.version().get(),
            )
        },
        |_| load_settings(),
    );
    view! {
        <h1>"Settings"</h1>
        <p class="lead">
            "What Gatehouse manages, who holds which role, and how many approvals a change needs. "
            "Every change here is a change request: another admin approves it before it takes effect."
        </p>
        <Outcome action=add />
        <Outcome action=athena />
        <Outcome action=remove />
        <Outcome action=roles />
        <Outcome action=health />
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => view! { <SettingsBody view add athena remove roles health /> }.into_any(),
                    Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// What the last edit came to.
#[component]
pub(crate) fn Outcome<A>(action: ServerAction<A>) -> impl IntoView
where
    A: leptos::server_fn::ServerFn<Output = Edited, Error = AppError>
        + Clone
        + Send
        + Sync
        + 'static,
{
    move || {
        action.value().get().map(|result| match result {
            Ok(edited) => view! {
                <p role="status" class="notice">
                    {edited.message} " "
                    <a href=format!("/reviews/{}", edited.draft)>"Open its review"</a>
                    " to describe and submit it."
                </p>
            }
            .into_any(),
            Err(error) => {
                view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any()
            }
        })
    }
}

#[component]
fn SettingsBody(
    view: SettingsView,
    add: ServerAction<AddTarget>,
    athena: ServerAction<AddAthenaSource>,
    remove: ServerAction<RemoveTarget>,
    roles: ServerAction<SetRoles>,
    health: ServerAction<SetHealth>,
) -> impl IntoView {
    let SettingsView {
        targets,
        roles: role_settings,
        required_approvals,
        approvals_source,
        web_acls,
        ip_sets,
        pending,
        iam_policy,
        user_pool,
        health: health_settings,
        region,
    } = view;
    let geo_choices: Vec<String> = match &web_acls {
        Ok(found) => found
            .iter()
            .filter(|c| c.scope == "REGIONAL")
            .map(|c| c.name.clone())
            .chain(
                targets
                    .iter()
                    .filter(|t| t.kind == crate::targets::TargetKind::WebAcl)
                    .map(|t| t.name.clone()),
            )
            .collect(),
        Err(_) => Vec::new(),
    };
    view! {
        <PendingChanges pending heading="Your settings changes" />
        <section class="panel" aria-labelledby="targets-heading">
            <h2 id="targets-heading">"Managed resources"</h2>
            {if targets.is_empty() {
                view! { <p>"Gatehouse manages nothing yet."</p> }.into_any()
            } else {
                view! {
                    <table data-testid="managed">
                        <thead><tr><th>"Resource"</th><th>"What"</th><th>"Region"</th><th></th></tr></thead>
                        <tbody>
                            {targets.into_iter().map(|t| {
                                let label = t.label();
                                view! {
                                    <tr>
                                        <td>{label.clone()}</td>
                                        <td class="wrap">{t.summary()}</td>
                                        <td>{t.region.clone()}</td>
                                        <td>
                                            <ActionForm action=remove>
                                                <input type="hidden" name="label" value=label.clone() />
                                                <button type="submit" aria-label=format!("Stop managing {label}")>"Remove"</button>
                                            </ActionForm>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
        <section class="panel" aria-labelledby="add-heading">
            <h2 id="add-heading">"Add a resource"</h2>
            <p class="muted">"Each is checked live first: it exists, Gatehouse can read it, and where AWS gives one, the token a write needs."</p>
            <h3>"Web ACL"</h3>
            {match web_acls {
                Ok(found) if found.is_empty() => view! {
                    <p class="muted">"Every web ACL AWS WAF lists here is managed already."</p>
                }.into_any(),
                Ok(found) => view! {
                    <ActionForm action=add attr:class="inline-form">
                        <input type="hidden" name="kind" value="web_acl" />
                        <label>"Web ACL to manage"
                            <select name="web_acl">
                                {found.into_iter().map(|c| view! {
                                    <option value=format!("{}/{}", c.scope, c.name)>{format!("{} ({})", c.name, c.scope)}</option>
                                }).collect_view()}
                            </select>
                        </label>
                        <button type="submit">"Check and add web ACL"</button>
                    </ActionForm>
                }.into_any(),
                Err(why) => view! { <p class="error">{why}</p> }.into_any(),
            }}
            <h3>"API authorization policy table"</h3>
            <ActionForm action=add attr:class="inline-form">
                <input type="hidden" name="kind" value="dynamodb_table" />
                <label>"DynamoDB table name" <input name="name" required /></label>
                <button type="submit">"Check and add table"</button>
            </ActionForm>
            <h3>"VPN geofencing set"</h3>
            <ActionForm action=add attr:class="inline-form">
                <input type="hidden" name="kind" value="vpn_geofencing" />
                <label>"Set name" <input name="name" value="vpn" required /></label>
                <label>"Geo web ACL"
                    <select name="geo_web_acl">
                        {geo_choices.into_iter().map(|n| view! { <option value=n.clone()>{n.clone()}</option> }).collect_view()}
                    </select>
                </label>
                <label>"NAT IP set"
                    <select name="nat_ip_set">
                        {ip_sets.unwrap_or_default().into_iter().map(|c| view! { <option value=c.name.clone()>{c.name.clone()}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Deny policy ARN" <input name="policy_arn" placeholder="arn:aws:iam::123456789012:policy/…" required /></label>
                <label>"SCP id (optional)" <input name="scp_id" placeholder="p-…" /></label>
                <button type="submit">"Check and add VPN set"</button>
            </ActionForm>
            <h3>"WAF log source"</h3>
            <ActionForm action=add attr:class="inline-form">
                <input type="hidden" name="kind" value="log_source" />
                <label>"Name" <input name="name" value="imported" required /></label>
                <span class="muted">"Logs imported into PostgreSQL."</span>
                <button type="submit">"Check and add log source"</button>
            </ActionForm>
            <AthenaSourceForm action=athena region=region.clone() />
        </section>
        <RolesForm role_settings required_approvals approvals_source roles user_pool />
        <HealthForm settings=health_settings action=health />
        <section class="panel" aria-labelledby="iam-heading">
            <h2 id="iam-heading">"What Gatehouse needs"</h2>
            <p>
                "The least-privilege IAM policy for Gatehouse's own role, with the exact ARNs of what it manages. "
                <a href="/settings/iam-policy.json" download="gatehouse-iam-policy.json">"Download as JSON"</a>
            </p>
            <pre><code data-testid="iam-policy">{iam_policy}</code></pre>
        </section>
    }
}

/// An Athena log source: its workgroup and Glue table, checked live; or
/// the table Gatehouse makes when the change is applied.
#[component]
fn AthenaSourceForm(action: ServerAction<AddAthenaSource>, region: String) -> impl IntoView {
    view! {
        <h3>"Athena log source"</h3>
        <p class="muted">
            "The same analyses on Amazon Athena over the WAF logs in S3, for logs too large to import. "
            "Athena bills the data each query scans; the Traffic page shows it."
        </p>
        <ActionForm action attr:class="stacked-form" attr:aria-label="Athena log source">
            <label>"Name" <input name="name" placeholder="waf-logs-athena" required /></label>
            <label>"Region" <input name="region" value=region.clone() required /></label>
            <label>"Workgroup" <input name="workgroup" value="primary" required /></label>
            <label>"Query results location (unless the workgroup sets one)"
                <input name="output_location" placeholder="s3://athena-results-bucket/gatehouse/" />
            </label>
            <label>"Glue database" <input name="database" required /></label>
            <label>"Table" <input name="table" required /></label>
            <label>"Web ACL(s) whose logs it holds" <input name="web_acls" placeholder="shop, api" /></label>
            <label>"Account" <input name="account" placeholder="123456789012" inputmode="numeric" /></label>
            <fieldset>
                <legend>"An existing table's partition columns"</legend>
                <label>"Day column (yyyy/MM/dd)" <input name="date_column" value="date" /></label>
                <label>"Region column" <input name="region_column" placeholder="region" /></label>
                <label>"Region value" <input name="region_value" placeholder=region.clone() /></label>
            </fieldset>
            <fieldset>
                <legend>"Or Gatehouse makes the table"</legend>
                <label class="check">
                    <input type="checkbox" name="create_table" value="on" />
                    "Make the partition-projected WAF log table AWS documents, when this change is applied"
                </label>
                <label>"Bucket WAF delivers the logs to" <input name="bucket" placeholder="aws-waf-logs-shop" /></label>
                <label>"First day of logs" <input name="first_day" placeholder="2026/01/01" /></label>
                <p class="muted">
                    "Reads s3://BUCKET/AWSLogs/ACCOUNT/WAFLogs/REGION/WEB-ACL/yyyy/MM/dd/, partitioned by the region value "
                    "(cloudfront for a CloudFront web ACL) and the day. The statement is shown in your change before anyone approves it."
                </p>
            </fieldset>
            <button type="submit">"Check and add Athena source"</button>
        </ActionForm>
    }
}

/// The signed-in person's open change requests of a kind, with their
/// diffs in words.
#[component]
pub(crate) fn PendingChanges(pending: Vec<Pending>, heading: &'static str) -> impl IntoView {
    (!pending.is_empty()).then(|| view! {
        <section class="panel" aria-labelledby="pending-heading">
            <h2 id="pending-heading">{heading}</h2>
            <ul data-testid="pending">
                {pending.into_iter().map(|p| view! {
                    <li>
                        <a href=format!("/reviews/{}", p.id)>{format!("{} change request", p.status.label())}</a>
                        ": " {p.words.join("; ")}
                    </li>
                }).collect_view()}
            </ul>
        </section>
    })
}

/// How the dashboard's threshold health judges each rate rule.
#[component]
fn HealthForm(
    settings: crate::traffic::health::HealthSettings,
    action: ServerAction<SetHealth>,
) -> impl IntoView {
    use crate::traffic::threshold::Basis;
    view! {
        <section class="panel" aria-labelledby="health-heading">
            <h2 id="health-heading">"Threshold health"</h2>
            <p class="muted">
                "Each rate-based rule's limit against the peaks of its keys over the last days imported, "
                "as the dashboard and " <code>"gatehouse traffic health"</code> " judge it."
            </p>
            <ActionForm action attr:class="inline-form">
                <label>"Percentile of the peaks"
                    <select name="percentile">
                        {Basis::ALL.into_iter().map(|b| view! { <option value=b.as_str() selected=b == settings.percentile>{b.as_str()}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Days of logs" <input name="days" type="number" min="1" max="90" value=settings.days.to_string() /></label>
                <label>"Tight above (% of the limit)" <input name="tight_percent" type="number" min="1" max="100" value=settings.tight_percent.to_string() /></label>
                <label>"Loose when the limit is (× the peak)" <input name="loose_factor" type="number" min="2" max="1000" value=settings.loose_factor.to_string() /></label>
                <label>"Unreviewed after (days)" <input name="unreviewed_days" type="number" min="1" max="3650" value=settings.unreviewed_days.to_string() /></label>
                <button type="submit">"Propose threshold health"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn RolesForm(
    role_settings: Vec<RoleSetting>,
    required_approvals: i32,
    approvals_source: Source,
    roles: ServerAction<SetRoles>,
    user_pool: Option<String>,
) -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="roles-heading">
            <h2 id="roles-heading">"Roles and approvals"</h2>
            <p class="muted">
                {match user_pool {
                    Some(pool) => format!("Roles come from the Cognito groups of user pool {pool}; each includes the ones above it. "),
                    None => "No Cognito user pool is configured. ".to_owned(),
                }}
                "A new mapping applies from each person's next request. A value from the configuration file or the environment wins and cannot be changed here."
            </p>
            <ActionForm action=roles>
                <table>
                    <thead><tr><th>"Role"</th><th>"Cognito group"</th><th>"From"</th></tr></thead>
                    <tbody>
                        {role_settings.into_iter().map(|r| view! {
                            <tr>
                                <td>{r.role.as_str()}</td>
                                <td>
                                    <input name=r.role.as_str() value=r.group.clone()
                                        aria-label=format!("Group for the {} role", r.role.as_str())
                                        disabled=!r.source.editable() />
                                </td>
                                <td>{r.source.label()}</td>
                            </tr>
                        }).collect_view()}
                        <tr>
                            <td>"approvals needed"</td>
                            <td>
                                <input name="required_approvals" type="number" min="1" max="10"
                                    value=required_approvals.to_string() aria-label="Approvals needed"
                                    disabled=!approvals_source.editable() />
                            </td>
                            <td>{approvals_source.label()}</td>
                        </tr>
                    </tbody>
                </table>
                <button type="submit">"Propose roles and approvals"</button>
            </ActionForm>
        </section>
    }
}
