use crate::sections::{SECTIONS, section};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_location;

/// A section whose page is not built yet: it says what the page will do and
/// says plainly that it cannot do it yet.
#[component]
pub fn Unbuilt() -> impl IntoView {
    // Each route makes its own instance, so the section never changes while
    // this one is on screen.
    let current = section(&use_location().pathname.get_untracked()).unwrap_or(&SECTIONS[0]);

    view! {
        <Title text=current.label />
        <h1>{current.label}</h1>
        <p class="lead">{current.purpose}</p>
        <p class="notice" role="status">
            "This page is not built yet. Nothing here reads or changes AWS."
        </p>
    }
}
