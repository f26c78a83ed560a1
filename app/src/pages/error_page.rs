use leptos::prelude::*;
use leptos_meta::Title;

/// What a page shows when rendering it failed: the errors in words a person
/// can act on (server functions only ever send `AppError` texts), and a way
/// on. Answers 500 on the server.
#[component]
pub fn ErrorPage(errors: ArcRwSignal<Errors>) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::INTERNAL_SERVER_ERROR);
    }
    let messages = move || {
        errors
            .get()
            .into_iter()
            .map(|(_, error)| view! { <li>{error.to_string()}</li> })
            .collect_view()
    };

    view! {
        <Title text="Something went wrong" />
        <h1>"Something went wrong"</h1>
        <div class="error" role="alert">
            <ul>{messages}</ul>
        </div>
        <p>
            <a href="/">"Go to the dashboard"</a>
            " or reload the page to try again."
        </p>
    }
}
