//! The VPN countries page (SPEC §5): the allowed countries, the NAT gateway
//! addresses and the deny policy that follows from them, read live from
//! their parts; editors change countries (picked by name or code) and
//! addresses in a draft that one change request carries whole.

use crate::error::AppError;
use crate::pages::settings::{Edited, Pending, PendingChanges};
use crate::vpn::{Country, IpTest, VpnDoc, all_countries, country_name};
use leptos::prelude::*;
use leptos_meta::Title;
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
    /// How old `live` is ("read 4 s ago").
    pub read: String,
    pub draft: Option<(String, VpnDoc)>,
    pub pending: Vec<Pending>,
    pub can_edit: bool,
}

#[server(output = crate::codec::Json)]
pub async fn load_vpn(set: Option<String>) -> Result<VpnView, AppError> {
    use crate::changes::kinds::vpn_geofencing;
    use crate::changes::{Kind, drafts};
    let user = crate::auth::caller::require(crate::roles::Role::Viewer).await?;
    let state = crate::state::app_state()?;
    let sets = crate::vpn::service::sets(&state.pool).await?;
    let name = crate::vpn::service::chosen(&state.pool, set.as_deref()).await?;
    let target = vpn_geofencing::target(&name);
    let (parts, read) = crate::vpn::service::parts(&state, &name).await?;
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
        live: parts.doc(),
        read,
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

/// Puts `countries` (codes, separated by commas or spaces) and
/// `nat_addresses` (one a line) into the editor's draft of `set`; the deny
/// policy follows the addresses.
#[server(output = crate::codec::Json)]
pub async fn save_vpn(
    set: String,
    countries: String,
    nat_addresses: String,
) -> Result<Edited, AppError> {
    use crate::changes::{Kind, drafts, kinds::vpn_geofencing};
    let user = crate::auth::caller::require(Kind::VpnGeofencing.author_role()).await?;
    let state = crate::state::app_state()?;
    let name = crate::vpn::service::chosen(&state.pool, Some(&set)).await?;
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

/// "Test an IP" against the set's live parts, or with the caller's draft's
/// countries and NAT addresses.
#[server(output = crate::codec::Json)]
pub async fn test_vpn_ip(set: String, ip: String, draft: bool) -> Result<IpTest, AppError> {
    use crate::changes::{Kind, drafts, kinds::vpn_geofencing};
    let user = crate::auth::caller::require(crate::roles::Role::Viewer).await?;
    let state = crate::state::app_state()?;
    let name = crate::vpn::service::chosen(&state.pool, Some(&set)).await?;
    let (parts, _) = crate::vpn::service::parts(&state, &name).await?;
    let drafted = match draft {
        false => None,
        true => {
            let target = vpn_geofencing::target(&name);
            match drafts::open_draft(&state.pool, Kind::VpnGeofencing, &target, &user.username)
                .await?
            {
                Some(id) => Some(vpn_geofencing::doc(
                    &crate::changes::store::get(&state.pool, id).await?.content,
                )),
                None => None,
            }
        }
    };
    crate::vpn::service::test_ip(&state, &parts, drafted.as_ref(), &ip)
}

/// The page as the server renders it; the island within hydrates.
#[component]
pub fn VpnCountries() -> impl IntoView {
    view! {
        <Title text="VPN countries" />
        <VpnCountriesIsland set=leptos_router::hooks::use_query_map().get_untracked().get("set") />
    }
}

#[island(lazy)]
fn VpnCountriesIsland(set: Option<String>) -> impl IntoView {
    let save = ServerAction::<SaveVpn>::new();
    let data = Resource::new(
        move || (set.clone(), save.version().get()),
        |(set, _)| load_vpn(set),
    );
    view! {
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
        read,
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
            <p class="muted age" data-testid="read-age">{read}</p>
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
        <TestIp set=set.clone() has_draft=draft.is_some() />
        <DenyCheck policy=live.deny_policy.clone() />
        {can_edit.then(|| {
            let start = draft.as_ref().map(|(_, d)| d.clone()).unwrap_or_else(|| live.clone());
            view! { <Editor set draft_id=draft.map(|(id, _)| id) start save /> }
        })}
    }
}

/// "Test an IP": its country, what the geo web ACL does with it, and the
/// connect handler's answer.
#[component]
fn TestIp(set: String, has_draft: bool) -> impl IntoView {
    let test = ServerAction::<TestVpnIp>::new();
    let ip = RwSignal::new(String::new());
    let with_draft = RwSignal::new(false);
    view! {
        <section class="panel" aria-labelledby="test-heading" data-testid="test-ip">
            <h2 id="test-heading">"Test an IP"</h2>
            <p class="muted">
                "A preview: the country comes from a bundled database, not the one AWS WAF uses, so an edge case may differ. "
                "Private, documentation and other special-purpose addresses are never located."
            </p>
            <div class="inline-form">
                <label>"Public IPv4 or IPv6 address "
                    <input prop:value=move || ip.get() on:input=move |ev| ip.set(event_target_value(&ev)) />
                </label>
                {has_draft.then(|| view! {
                    <label class="check"><input type="checkbox" prop:checked=move || with_draft.get()
                        on:change=move |ev| with_draft.set(event_target_checked(&ev)) />"With my draft's countries"</label>
                })}
                <button type="button" on:click=move |_| {
                    test.dispatch(TestVpnIp { set: set.clone(), ip: ip.get_untracked(), draft: with_draft.get_untracked() });
                }>"Test"</button>
            </div>
            {move || test.value().get().map(|r| match r {
                Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                Ok(found) => view! { <IpResult found /> }.into_any(),
            })}
        </section>
    }
}

#[component]
fn IpResult(found: IpTest) -> impl IntoView {
    let whereabouts = match (&found.country, &found.special) {
        (Some(code), _) => named(code),
        (None, Some(why)) => format!("not located: a {why} address"),
        (None, None) => "not located: the database does not know it".to_owned(),
    };
    let allowed = found.web_acl.action == "ALLOW";
    let decided = match &found.web_acl.rule {
        Some(rule) => format!("rule {rule}"),
        None => "the default action".to_owned(),
    };
    view! {
        <dl class="probes" data-testid="ip-result">
            <div class="probe"><dt>"Address"</dt><dd><code>{found.ip.clone()}</code></dd></div>
            <div class="probe"><dt>"Country"</dt><dd data-testid="ip-country">{whereabouts}</dd></div>
            <div class="probe"><dt>"Geo web ACL"</dt><dd>
                <span class=if allowed { "decision allow" } else { "decision deny" } data-testid="ip-action">{found.web_acl.action.clone()}</span>
                {format!(" by {decided}, for a call from the NAT carrying it in X-Forwarded-For")}
                <ul>{found.web_acl.why.iter().map(|w| view! { <li>{w.clone()}</li> }).collect_view()}</ul>
            </dd></div>
        </dl>
        <p>"The connect handler answers Client VPN:"</p>
        <pre class="json" data-testid="handler-answer">{serde_json::to_string_pretty(&found.handler).unwrap_or_default()}</pre>
        <p class="muted">{format!("Database: {}; {}; built {}.", found.about.source, found.about.licence, found.about.built)}</p>
    }
}

/// The deny policy in the policy simulator: would this call be denied?
/// Runs in the browser on the evaluator the Policies page uses.
#[component]
fn DenyCheck(policy: serde_json::Value) -> impl IntoView {
    use crate::policies::evaluate::{Context, Decision, Policy, Request, evaluate};
    let principal = RwSignal::new("arn:aws:iam::123456789012:role/admin".to_owned());
    let action = RwSignal::new("s3:GetObject".to_owned());
    let source = RwSignal::new("192.0.2.44".to_owned());
    let via_service = RwSignal::new(false);
    let answer = Memo::new(move |_| {
        let context = Context::new()
            .with("aws:PrincipalARN", &[principal.get().as_str()])
            .with("aws:SourceIp", &[source.get().as_str()])
            .with(
                "aws:ViaAWSService",
                &[if via_service.get() { "true" } else { "false" }],
            );
        let request = Request {
            action: action.get(),
            resource: "*".into(),
            context,
        };
        let policies = [Policy {
            label: "deny policy".into(),
            document: policy.clone(),
        }];
        evaluate(&policies, &request).decision
    });
    let field = |label: &'static str, signal: RwSignal<String>| {
        view! {
            <label>{label}" "<input prop:value=move || signal.get() on:input=move |ev| signal.set(event_target_value(&ev)) /></label>
        }
    };
    view! {
        <section class="panel" aria-labelledby="deny-heading" data-testid="deny-check">
            <h2 id="deny-heading">"Would the deny policy deny this call?"</h2>
            <div class="inline-form">
                {field("Principal ARN", principal)}
                {field("Action", action)}
                {field("Source IP", source)}
                <label class="check"><input type="checkbox" prop:checked=move || via_service.get()
                    on:change=move |ev| via_service.set(event_target_checked(&ev)) />"Through an AWS service"</label>
            </div>
            <p data-testid="deny-answer">{move || match answer.get() {
                Decision::ExplicitDeny => "Denied: the call does not come from a NAT address.",
                _ => "Not denied by this policy (the principal's other policies decide).",
            }}</p>
        </section>
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
        // The code itself first, then names that start with it, then the rest.
        let mut found: Vec<(u8, &Country)> = countries
            .iter()
            .filter_map(|c| {
                let name = c.name.to_lowercase();
                if c.code.to_lowercase() == needle {
                    Some((0, c))
                } else if name.starts_with(&needle) {
                    Some((1, c))
                } else if name.contains(&needle) {
                    Some((2, c))
                } else {
                    None
                }
            })
            .collect();
        found.sort_by_key(|(rank, _)| *rank);
        found
            .into_iter()
            .take(12)
            .map(|(_, c)| c.clone())
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
