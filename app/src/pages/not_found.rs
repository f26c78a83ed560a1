use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_location;

/// The page for any path the console does not have. Answers 404 on the server.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    let path = use_location().pathname;

    view! {
        <Title text="Page not found" />
        <h1>"Page not found"</h1>
        <p>"There is no page at " <code>{move || path.get()}</code> "."</p>
        <p>
            <a href="/">"Go to the dashboard"</a>
        </p>
    }
}
