//! The VPN countries page (SPEC §5): the allowed countries, the NAT gateway
//! addresses and the deny policy that follows from them, read live from
//! their parts; editors change countries (picked by name or code) and
//! addresses in a draft that one change request carries whole.

use crate::error::AppError;
use crate::pages::settings::{Edited, Pending, PendingChanges};
use crate::vpn::{Country, VpnDoc, all_countries, country_name};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

/// Where a set's parts live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartNames {
    pub geo_web_acl: String,
    pub nat_ip_set: String,
    pub policy_arn: String,
    pub policy_version: String,
    pub scp_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VpnView {
    pub sets: Vec<String>,
    pub set: String,
    pub live: VpnDoc,
    pub parts: PartNames,
    pub draft: Option<(String, VpnDoc)>,
    pub pending: Vec<Pending>,
    pub can_edit: bool,
}

#[server]
pub async fn load_vpn(set: Option<String>) -> Result<VpnView, AppError> {
    use crate::changes::kinds::{Reach, vpn_geofencing};
    use crate::changes::{Kind, drafts, store::ChangeError};
    let user = crate::auth::caller::require(crate::roles::Role::Viewer).await?;
    let state = crate::state::app_state()?;
    let reach = Reach {
        pool: &state.pool,
        aws: &state.aws,
    };
    let sets = vpn_sets(&state.pool).await?;
    let name = chosen(&sets, set.as_deref())?;
    let target = vpn_geofencing::target(&name);
    let live = Kind::VpnGeofencing
        .read_live(reach, &target)
        .await
        .map_err(ChangeError::from)?;
    let parts = crate::vpn::live::Parts::read_json(&live.resource).ok_or(AppError::Internal)?;
    let open =
        drafts::open_draft(&state.pool, Kind::VpnGeofencing, &target, &user.username).await?;
    let draft = match open {
        Some(id) => {
            let change = crate::changes::store::get(&state.pool, id).await?;
            Some((id.to_string(), vpn_geofencing::doc(&change.content)))
        }
        None => None,
    };
    let pending = drafts::pending(&state.pool, Kind::VpnGeofencing, &user.username).await?;
    Ok(VpnView {
        sets,
        set: name,
        live: vpn_geofencing::doc(&live.content),
        parts: PartNames {
            geo_web_acl: parts.set.geo_web_acl.name.clone(),
            nat_ip_set: parts.set.nat_ip_set.name.clone(),
            policy_arn: parts.set.policy_arn.clone(),
            policy_version: parts.policy_version.clone(),
            scp_id: parts.set.scp_id.clone(),
        },
        draft,
        pending: pending
            .into_iter()
            .map(|(id, status, words)| Pending { id, status, words })
            .collect(),
        can_edit: user.has(Kind::VpnGeofencing.author_role()),
    })
}

#[cfg(feature = "ssr")]
async fn vpn_sets(pool: &sqlx::PgPool) -> Result<Vec<String>, AppError> {
    let doc = crate::settings::store::current(pool).await?;
    Ok(doc
        .of(crate::targets::TargetKind::VpnGeofencing)
        .map(|t| t.name.clone())
        .collect())
}

#[cfg(feature = "ssr")]
fn chosen(sets: &[String], asked: Option<&str>) -> Result<String, AppError> {
    match asked.filter(|a| !a.is_empty()) {
        Some(asked) if sets.iter().any(|s| s == asked) => Ok(asked.to_owned()),
        Some(asked) => Err(AppError::BadRequest(format!(
            "Gatehouse does not manage a VPN geofencing set {asked:?}: an admin registers it on the Settings page."
        ))),
        None => sets.first().cloned().ok_or_else(|| {
            AppError::BadRequest(
                "No VPN geofencing set is managed yet: an admin registers it on the Settings page."
                    .into(),
            )
        }),
    }
}

/// Puts `countries` (codes, separated by commas or spaces) and
/// `nat_addresses` (one a line) into the editor's draft of `set`; the deny
/// policy follows the addresses.
#[server]
pub async fn save_vpn(
    set: String,
    countries: String,
    nat_addresses: String,
) -> Result<Edited, AppError> {
    use crate::changes::{Kind, drafts, kinds::vpn_geofencing};
    let user = crate::auth::caller::require(Kind::VpnGeofencing.author_role()).await?;
    let state = crate::state::app_state()?;
    let sets = vpn_sets(&state.pool).await?;
    let name = chosen(&sets, Some(&set))?;
    let codes: Vec<String> = countries
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|c| !c.is_empty())
        .map(str::to_ascii_uppercase)
        .collect();
    let unknown: Vec<&str> = codes
        .iter()
        .filter(|c| country_name(c).is_none())
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(AppError::BadRequest(format!(
            "Not ISO 3166-1 alpha-2 country codes: {}. Nothing was saved.",
            unknown.join(", ")
        )));
    }
    let addresses = nat_addresses
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(crate::vpn::cidr)
        .collect::<Result<Vec<String>, String>>()
        .map_err(|why| AppError::BadRequest(format!("{why}. Nothing was saved.")))?;
    let reach = crate::changes::kinds::Reach {
        pool: &state.pool,
        aws: &state.aws,
    };
    let id = drafts::edit(
        reach,
        Kind::VpnGeofencing,
        &vpn_geofencing::target(&name),
        &format!("Change the VPN countries of {name}"),
        crate::auth::sign_in::actor(&user),
        crate::auth::caller::caller().client,
        |content| {
            let mut doc = VpnDoc::read(content)?;
            doc.countries = codes;
            doc.nat_addresses = addresses;
            let doc = doc.normalised();
            doc.check()?;
            Ok(doc.to_json())
        },
    )
    .await?;
    Ok(Edited {
        draft: id.to_string(),
        message: "The countries and NAT addresses are in your draft.".into(),
    })
}

#[component]
pub fn VpnCountries() -> impl IntoView {
    let query = use_query_map();
    let save = ServerAction::<SaveVpn>::new();
    let data = Resource::new(
        move || (query.with(|q| q.get("set")), save.version().get()),
        |(set, _)| load_vpn(set),
    );
    view! {
        <Title text="VPN countries" />
        <h1>"VPN countries"</h1>
        <p class="lead">
            "Client VPN's connect handler calls a check endpoint behind the geo web ACL with the user's public address in "
            <code>"X-Forwarded-For"</code>
            ": the call is allowed only when that address is in an allowed country and the call comes from the NAT gateways. "
            "The deny policy refuses every AWS call that does not come from a NAT address. All three change together, through one change request."
        </p>
        <crate::pages::settings::Outcome action=save />
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => view! { <VpnBody view save /> }.into_any(),
                    Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

fn named(code: &str) -> String {
    match country_name(code) {
        Some(name) => format!("{name} ({code})"),
        None => format!("{code} (not a country code)"),
    }
}

#[component]
fn VpnBody(view: VpnView, save: ServerAction<SaveVpn>) -> impl IntoView {
    let VpnView {
        sets,
        set,
        live,
        parts,
        draft,
        pending,
        can_edit,
    } = view;
    let policy = serde_json::to_string_pretty(&live.deny_policy).unwrap_or_default();
    view! {
        {(sets.len() > 1).then(|| view! {
            <nav class="inline-form" aria-label="VPN geofencing sets">"Set: "
                {sets.into_iter().map(|s| view! { <a href=format!("/vpn-countries?set={}", crate::url::encode(&s))>{s.clone()}</a>" " }).collect_view()}
            </nav>
        })}
        <PendingChanges pending heading="Your VPN changes" />
        <section class="panel" aria-labelledby="live-heading">
            <h2 id="live-heading">{format!("Set {set}, as it is in AWS")}</h2>
            <h3>"Allowed countries"</h3>
            <ul class="chips" data-testid="live-countries">
                {live.countries.iter().map(|c| view! { <li>{named(c)}</li> }).collect_view()}
            </ul>
            <h3>"NAT gateway addresses"</h3>
            <ul data-testid="live-nat">
                {live.nat_addresses.iter().map(|a| view! { <li><code>{a.clone()}</code></li> }).collect_view()}
            </ul>
            <table class="parts">
                <tbody>
                    <tr><th scope="row">"Geo web ACL"</th><td>{parts.geo_web_acl.clone()}</td></tr>
                    <tr><th scope="row">"NAT IP set"</th><td>{parts.nat_ip_set.clone()}</td></tr>
                    <tr><th scope="row">"Deny policy"</th><td><code>{parts.policy_arn.clone()}</code>{format!(" (default version {})", parts.policy_version)}</td></tr>
                    <tr><th scope="row">"SCP"</th><td>{parts.scp_id.clone().unwrap_or_else(|| "none managed".into())}</td></tr>
                </tbody>
            </table>
            <details>
                <summary>"The deny policy (JSON)"</summary>
                <pre class="json" data-testid="deny-policy">{policy}</pre>
            </details>
        </section>
        {can_edit.then(|| {
            let start = draft.as_ref().map(|(_, d)| d.clone()).unwrap_or_else(|| live.clone());
            view! { <Editor set draft_id=draft.map(|(id, _)| id) start save /> }
        })}
    }
}

/// The countries picker and the NAT addresses, saved into the editor's
/// draft.
#[component]
fn Editor(
    set: String,
    draft_id: Option<String>,
    start: VpnDoc,
    save: ServerAction<SaveVpn>,
) -> impl IntoView {
    let chosen = RwSignal::new(start.countries.clone());
    let search = RwSignal::new(String::new());
    let addresses = RwSignal::new(start.nat_addresses.join("\n"));
    let countries: Vec<Country> = all_countries();
    let matches = Memo::new(move |_| {
        let needle = search.get().trim().to_lowercase();
        if needle.is_empty() {
            return Vec::new();
        }
        countries
            .iter()
            .filter(|c| c.code.to_lowercase() == needle || c.name.to_lowercase().contains(&needle))
            .take(12)
            .cloned()
            .collect::<Vec<_>>()
    });
    let toggle = move |code: String| {
        chosen.update(|list| {
            if let Some(at) = list.iter().position(|c| *c == code) {
                list.remove(at);
            } else {
                list.push(code);
                list.sort();
            }
        })
    };
    view! {
        <section class="panel" aria-labelledby="edit-heading">
            <h2 id="edit-heading">"Change the set"</h2>
            {match &draft_id {
                Some(id) => view! {
                    <p class="notice">"You have a draft: " <a href=format!("/reviews/{id}")>"open its review"</a> " to describe and submit it."</p>
                }.into_any(),
                None => view! { <p class="muted">"Saving starts a draft change request from the live set."</p> }.into_any(),
            }}
            <h3>"Allowed countries"</h3>
            <ul class="chips" data-testid="chosen-countries">
                {move || chosen.get().into_iter().map(|code| {
                    let label = named(&code);
                    view! {
                        <li>
                            {label.clone()} " "
                            <button type="button" class="link" aria-label=format!("Remove {label}")
                                on:click=move |_| toggle(code.clone())>"×"</button>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <label>"Find a country by name or code "
                <input type="search" prop:value=move || search.get()
                    on:input=move |ev| search.set(event_target_value(&ev)) />
            </label>
            <ul class="picker" data-testid="country-matches">
                {move || matches.get().into_iter().map(|c| {
                    let code = c.code.clone();
                    let on = chosen.with(|list| list.contains(&c.code));
                    view! {
                        <li>
                            <button type="button" on:click=move |_| toggle(code.clone())>
                                {format!("{} {} ({})", if on { "Remove" } else { "Add" }, c.name, c.code)}
                            </button>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <label class="block">"NAT gateway addresses (one a line; an address alone is /32 or /128)"
                <textarea rows="4" class="json" prop:value=move || addresses.get()
                    on:input=move |ev| addresses.set(event_target_value(&ev))></textarea>
            </label>
            <button type="button" on:click=move |_| {
                save.dispatch(SaveVpn {
                    set: set.clone(),
                    countries: chosen.get_untracked().join(","),
                    nat_addresses: addresses.get_untracked(),
                });
            }>"Save to my draft"</button>
        </section>
    }
}
