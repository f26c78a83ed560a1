use crate::roles::Role;
use leptos::prelude::*;
use leptos_meta::Title;

/// A page the signed-in user's role does not open. Answers 403.
#[component]
pub fn Forbidden(needed: Role) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::FORBIDDEN);
    }
    view! {
        <Title text="Not allowed" />
        <h1>"Not allowed"</h1>
        <p class="error" role="alert">
            {format!("This page needs the {} role, which your account does not have.", needed.as_str())}
        </p>
        <p><a href="/">"Go to the dashboard"</a></p>
    }
}
