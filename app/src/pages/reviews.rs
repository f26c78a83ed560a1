//! The Reviews page: change requests by status, author and target, each
//! linking to its review. Drafts show only to their authors.

use crate::changes::{ChangeFilter, ChangeRow, Status};
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[server(input = leptos::server_fn::codec::Json, output = crate::codec::Json)]
pub async fn load_reviews(filter: ChangeFilter) -> Result<Vec<ChangeRow>, AppError> {
    let user = crate::auth::caller::require(crate::roles::Role::Viewer).await?;
    let state = crate::state::app_state()?;
    Ok(crate::changes::store::list(&state.pool, &filter, &user.username).await?)
}

#[component]
pub fn Reviews() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| {
        let q = query.get();
        ChangeFilter::from_query(|key| q.get(key))
    });
    let data = Resource::new(
        move || filter.get(),
        |filter| async move {
            match filter {
                Ok(filter) => load_reviews(filter).await,
                Err(problem) => Err(AppError::BadRequest(problem)),
            }
        },
    );
    let shown = filter.get_untracked().unwrap_or_default();
    view! {
        <Title text="Reviews" />
        <h1>"Reviews"</h1>
        <p class="lead">
            "Change requests: what waits for review, what was approved and applied to AWS, and what was not. "
            "Each has its own link to share."
        </p>
        <form method="get" action="/reviews" class="filters" aria-label="Filter change requests">
            <label>
                "Status"
                <select name="status">
                    <option value="">"Any"</option>
                    {Status::ALL
                        .into_iter()
                        .map(|s| {
                            let selected = shown.status == Some(s);
                            view! { <option value=s.as_str() selected=selected>{s.label()}</option> }
                        })
                        .collect_view()}
                </select>
            </label>
            <label>"Author" <input name="author" value=shown.author.clone() /></label>
            <label>"Target" <input name="target" value=shown.target.clone() /></label>
            <div class="filter-actions">
                <button type="submit">"Filter"</button>
            </div>
        </form>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(rows) => view! { <ChangeTable rows /> }.into_any(),
                    Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Change requests as a table; also on the dashboard.
#[component]
pub fn ChangeTable(rows: Vec<ChangeRow>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p role="status">"No change requests."</p> }.into_any();
    }
    view! {
        <div class="table-wrap">
            <table data-testid="changes">
                <thead>
                    <tr>
                        <th scope="col">"Title"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Target"</th>
                        <th scope="col">"Author"</th>
                        <th scope="col">"Approvals"</th>
                        <th scope="col">"Updated (UTC)"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|r| {
                            let title = if r.title.is_empty() { "(untitled)".to_owned() } else { r.title };
                            view! {
                                <tr>
                                    <th scope="row"><a href=format!("/reviews/{}", r.id)>{title}</a></th>
                                    <td class="nowrap"><span class=format!("status {}", r.status.as_str())>{r.status.label()}</span></td>
                                    <td>{r.target}</td>
                                    <td>{r.author}</td>
                                    <td class="nowrap">{format!("{} of {}", r.approvals, r.required_approvals)}</td>
                                    <td class="nowrap">{r.updated_at.format("%Y-%m-%d %H:%M").to_string()}</td>
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
