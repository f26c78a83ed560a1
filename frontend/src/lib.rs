//! The browser entry point: hydrates the islands of the server-rendered page
//! and nothing else. Everything the page does lives in the `app` crate.

// Links the `app` crate, whose islands export their hydrating functions.
extern crate app;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // The islands themselves are found and hydrated by the script the page
    // loads, in document order, each once its code has arrived.
    leptos::mount::hydrate_islands();
}
