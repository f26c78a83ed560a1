use crate::sections::section;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_location;

/// A section whose page is not built yet: it says what the page will do and
/// says plainly that it cannot do it yet.
#[component]
pub fn Unbuilt() -> impl IntoView {
    let location = use_location();
    let current = Memo::new(move |_| section(&location.pathname.get()));
    let label = move || current.get().map(|s| s.label).unwrap_or("Page");

    view! {
        <Title text=label />
        <h1>{label}</h1>
        <p class="lead">{move || current.get().map(|s| s.purpose)}</p>
        <p class="notice" role="status">
            "This page is not built yet. Nothing here reads or changes AWS."
        </p>
    }
}
