//! The browser entry point: hydrates the server-rendered page and nothing else.
//! Everything the page does lives in the `app` crate.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Asynchronously: a page's code (a lazy route) may have to arrive first.
    leptos::mount::hydrate_lazy(app::App);
}
