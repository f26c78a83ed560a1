//! The audit page: the trail, filtered by actor, action, target and time,
//! a page at a time, with CSV and JSON exports of exactly the filtered view.

use crate::audit::{Action, AuditEvent, AuditFilter, AuditPage, Coverage};
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

// JSON arguments: the filter is a nested struct, which URL encoding cannot carry.
#[server(input = leptos::server_fn::codec::Json, output = crate::codec::Json)]
pub async fn load_audit(filter: AuditFilter, page: i64) -> Result<AuditPage, AppError> {
    crate::auth::caller::require(crate::roles::Role::Viewer).await?;
    let state = crate::state::app_state()?;
    let size = crate::audit::PAGE_SIZE;
    // A page past the last shows the last (and no page number overflows
    // the offset).
    let page = page.clamp(1, i64::from(i32::MAX) / size);
    let (mut events, total) =
        crate::audit::search(&state.pool, &filter, size, (page - 1) * size).await?;
    let last = ((total + size - 1) / size).max(1);
    let page = match page > last {
        true => {
            events = crate::audit::search(&state.pool, &filter, size, (last - 1) * size)
                .await?
                .0;
            last
        }
        false => page,
    };
    let coverage = state
        .checkpoints
        .as_ref()
        .map_or(Coverage::NotAnchored, |c| c.coverage());
    let since = match &coverage {
        Coverage::Covered { sequence, .. } => *sequence,
        _ => 0,
    };
    let uncovered = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM audit_events WHERE id > $1"#,
        since
    )
    .fetch_one(&state.pool)
    .await?;
    let (rows, refusals) = crate::audit::refusals::pending(&state.pool).await?;
    Ok(AuditPage {
        events,
        total,
        page,
        pages: ((total + size - 1) / size).max(1),
        coverage,
        uncovered,
        pending_refusals: (refusals, rows),
    })
}

/// A time as the form's `datetime-local` inputs show it (UTC).
fn form_time(time: Option<chrono::DateTime<chrono::Utc>>) -> String {
    time.map(|t| t.format("%Y-%m-%dT%H:%M").to_string())
        .unwrap_or_default()
}

#[component]
pub fn Audit() -> impl IntoView {
    let query = use_query_map();
    let request = Memo::new(move |_| {
        let q = query.get();
        let page = q
            .get("page")
            .and_then(|p| p.parse::<i64>().ok())
            .unwrap_or(1);
        (AuditFilter::from_query(|key| q.get(key)), page)
    });
    let data = Resource::new(
        move || request.get(),
        |(filter, page)| async move {
            match filter {
                Ok(filter) => load_audit(filter.clone(), page).await.map(|p| (filter, p)),
                Err(problem) => Err(AppError::BadRequest(problem)),
            }
        },
    );
    let shown = request.get_untracked().0.unwrap_or_default();

    view! {
        <Title text="Audit" />
        <h1>"Audit"</h1>
        <p class="lead">
            "Every sign-in, refusal and change, newest first. The trail is hash-chained: "
            <code>"gatehouse audit verify"</code> " checks that nothing was changed or removed."
        </p>
        <form method="get" action="/audit" class="filters" aria-label="Filter events">
            <label>"Actor" <input name="actor" value=shown.actor.clone() /></label>
            <label>
                "Action"
                <select name="action">
                    <option value="">"Any"</option>
                    {Action::ALL
                        .into_iter()
                        .map(|a| {
                            let selected = shown.action.as_deref() == Some(a.as_str());
                            view! { <option value=a.as_str() selected=selected>{a.label()}</option> }
                        })
                        .collect_view()}
                </select>
            </label>
            <label>"Target" <input name="target" value=shown.target.clone() /></label>
            <label>"From (UTC)" <input type="datetime-local" name="from" value=form_time(shown.from) /></label>
            <label>"To (UTC)" <input type="datetime-local" name="to" value=form_time(shown.to) /></label>
            <div class="filter-actions">
                <button type="submit">"Filter"</button>
                <a href="/audit">"Clear"</a>
            </div>
        </form>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok((filter, page)) => view! { <Trail filter page /> }.into_any(),
                    Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Trail(filter: AuditFilter, page: AuditPage) -> impl IntoView {
    let query = filter.to_query();
    let link = move |n: i64| {
        if query.is_empty() {
            format!("/audit?page={n}")
        } else {
            format!("/audit?{query}&page={n}")
        }
    };
    let export = filter.to_query();
    let matches = if page.total == 1 {
        "1 event matches".to_owned()
    } else {
        format!("{} events match", page.total)
    };
    let summary = format!("{matches}; page {} of {}.", page.page, page.pages);
    let anchoring = anchoring(&page.coverage, page.uncovered);
    let pending = match page.pending_refusals {
        (0, _) => None,
        (refusals, rows) => Some(format!(
            "{refusals} refusal{} of callers who were not signed in (failed sign-ins, refused \
             callbacks, cross-site posts) {} counted in {rows} group{} by address and minute; \
             each group goes into the trail as one event when its minute closes.",
            if refusals == 1 { "" } else { "s" },
            if refusals == 1 { "is" } else { "are" },
            if rows == 1 { "" } else { "s" },
        )),
    };
    view! {
        <p class="note" data-testid="audit-anchor">{anchoring}</p>
        {pending.map(|text| view! { <p class="note" data-testid="audit-pending">{text}</p> })}
        <div class="panel-head">
            <p role="status" data-testid="audit-summary">{summary}</p>
            <p class="exports">
                "Export this view: "
                <a href=format!("/audit/export.csv?{export}") download>"CSV"</a>
                " · "
                <a href=format!("/audit/export.json?{export}") download>"JSON"</a>
            </p>
        </div>
        <div class="table-wrap">
            <table>
                <thead>
                    <tr>
                        <th scope="col">"Time (UTC)"</th>
                        <th scope="col">"Actor"</th>
                        <th scope="col">"Action"</th>
                        <th scope="col">"Target"</th>
                        <th scope="col">"Client"</th>
                        <th scope="col">"Details"</th>
                    </tr>
                </thead>
                <tbody>{page.events.into_iter().map(|e| view! { <EventRow event=e /> }).collect_view()}</tbody>
            </table>
        </div>
        <nav class="pager" aria-label="Pages">
            {(page.page > 1).then(|| view! { <a href=link(page.page - 1) rel="prev">"Newer"</a> })}
            {(page.page < page.pages).then(|| view! { <a href=link(page.page + 1) rel="next">"Older"</a> })}
        </nav>
    }
}

/// How far the trail is anchored outside the database, in a sentence.
fn anchoring(coverage: &Coverage, uncovered: i64) -> String {
    let newer = match uncovered {
        0 => "every event is covered".to_owned(),
        1 => "1 newer event is not yet covered".to_owned(),
        n => format!("{n} newer events are not yet covered"),
    };
    match coverage {
        Coverage::NotAnchored => "Not anchored outside the database: cutting the newest events \
             off the trail would go unnoticed (set audit.key and audit.anchor)."
            .to_owned(),
        Coverage::Pending { anchor, problem } => match problem {
            Some(problem) => {
                format!("Checkpoints go to {anchor}, but none could be written: {problem}")
            }
            None => format!("Checkpoints go to {anchor}; none written yet."),
        },
        Coverage::Covered {
            anchor,
            sequence,
            at,
            lock,
            problem,
        } => {
            let lock = lock.as_ref().map(|l| format!(" ({l})")).unwrap_or_default();
            let problem = problem
                .as_ref()
                .map(|p| format!(" The last attempt failed: {p}"))
                .unwrap_or_default();
            format!(
                "Anchored at {anchor}{lock}: the latest checkpoint ({} UTC) covers events up to \
                 {sequence}; {newer}.{problem}",
                at.format("%Y-%m-%d %H:%M:%S")
            )
        }
    }
}

#[component]
fn EventRow(event: AuditEvent) -> impl IntoView {
    let action =
        Action::parse(&event.action).map_or_else(|| event.action.clone(), |a| a.label().to_owned());
    let actor = event
        .actor_username
        .clone()
        .or(event.actor_sub.clone())
        .unwrap_or_else(|| "—".into());
    let details = [
        ("Before", event.before),
        ("After", event.after),
        ("AWS request id", event.aws_request_id),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.map(|v| format!("{name}: {v}")))
    .collect::<Vec<_>>();
    view! {
        <tr>
            <td class="nowrap">{event.occurred_at.format("%Y-%m-%d %H:%M:%S").to_string()}</td>
            <td>{actor}</td>
            <td class="nowrap" data-action=event.action.clone()>{action}</td>
            <td>{event.target.unwrap_or_default()}</td>
            <td class="nowrap">{event.client_ip.unwrap_or_default()}</td>
            <td>
                {(!details.is_empty())
                    .then(|| {
                        view! {
                            <details>
                                <summary>{format!("Event {}", event.id)}</summary>
                                <pre>{details.join("\n")}</pre>
                            </details>
                        }
                    })}
            </td>
        </tr>
    }
}
