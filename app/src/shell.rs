//! The document shell, the application's layout and its routes.

use crate::auth::User;
use crate::error::AppError;
use crate::pages::{
    Audit, Dashboard, ErrorPage, Forbidden, NewPassword, NotFound, Policies, Review, Reviews,
    Rules, Settings, SignIn, Traffic, VpnCountries,
};
use crate::sections::{SECTIONS, required_role};
use leptos::prelude::*;
use leptos_meta::{HashedStylesheet, Link, MetaTags, Title, provide_meta_context};
use leptos_router::{
    components::{A, Route, Router, Routes},
    hooks::use_location,
    path,
};

/// The HTML document around the application, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <AutoReload options=options.clone() />
                // By its hashed name when the build hashes the site's files.
                <HashedStylesheet options=options.clone() id="gatehouse" />
                <HydrationScripts options islands=true />
                <MetaTags />
            </head>
            <body>
                <App />
                <HydratedMark />
            </body>
        </html>
    }
}

/// The signed-in user, if any. The server's session middleware decides;
/// this only reports it to the page.
#[server(output = crate::codec::Json)]
pub async fn current_user() -> Result<Option<User>, AppError> {
    Ok(crate::auth::caller::caller().user().cloned())
}

/// The signed-in user as the page knows it, loaded with the page.
#[derive(Clone, Copy)]
pub struct SignedInUser(pub Resource<Result<Option<User>, AppError>>);

/// A page shown only to users whose role opens it. The server checks the
/// same rule (and audits refusals) before the page is rendered; this is what
/// the person then sees.
fn guarded<V: IntoView + 'static>(page: fn() -> V) -> impl IntoView {
    let SignedInUser(user) = expect_context::<SignedInUser>();
    let needed = required_role(&use_location().pathname.get_untracked());
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(user)) if user.has(needed) => page().into_any(),
                    Ok(Some(_)) => view! { <Forbidden needed /> }.into_any(),
                    _ => view! { <p>"Sign in to continue."</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Marks the document hydrated (`<html data-hydrated="true">`), for people
/// debugging and for the end2end tests that need interactivity. It is the
/// page's last island: the browser hydrates islands in document order, each
/// once its code has arrived, so by the time this one runs every button on
/// the page works. An effect runs only in the browser.
#[island]
fn HydratedMark() -> impl IntoView {
    Effect::new(|_| {
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("data-hydrated", "true");
        }
    });
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_context(SignedInUser(Resource::new_blocking(
        || (),
        |_| current_user(),
    )));
    #[cfg(feature = "ssr")]
    content_security_policy::send();

    view! {
        <Link rel="icon" href="/favicon.svg" type_="image/svg+xml" />
        <Title formatter=|page: String| format!("{page} · Gatehouse") />
        <Router>
            <a class="skip-link" href="#main">
                "Skip to content"
            </a>
            <Layout>
                <ErrorBoundary fallback=|errors| view! { <ErrorPage errors /> }>
                <Routes fallback=NotFound>
                    <Route path=path!("/sign-in") view=SignIn />
                    <Route path=path!("/sign-in/new-password") view=NewPassword />
                    <Route path=path!("/") view=|| guarded(Dashboard) />
                    <Route path=path!("/traffic") view=|| guarded(Traffic) />
                    <Route path=path!("/rules") view=|| guarded(Rules) />
                    <Route path=path!("/policies") view=|| guarded(Policies) />
                    <Route path=path!("/vpn-countries") view=|| guarded(VpnCountries) />
                    <Route path=path!("/reviews") view=|| guarded(Reviews) />
                    <Route path=path!("/reviews/:id") view=|| guarded(Review) />
                    <Route path=path!("/audit") view=|| guarded(Audit) />
                    <Route path=path!("/settings") view=|| guarded(Settings) />
                </Routes>
                </ErrorBoundary>
            </Layout>
        </Router>
    }
}

/// Header, navigation and main landmark. On narrow screens the navigation
/// folds behind a menu button.
#[component]
fn Layout(children: Children) -> impl IntoView {
    view! {
        <header class="topbar">
            <a class="brand" href="/">
                <img class="brand-mark" src="/favicon.svg" alt="" width="24" height="24" />
                "Gatehouse"
            </a>
            <Suspense>
                {move || Suspend::new(async move {
                    let SignedInUser(user) = expect_context::<SignedInUser>();
                    user.await.ok().flatten().map(|user| view! { <UserMenu user /> })
                })}
            </Suspense>
            <MenuButton />
        </header>
        <div class="frame">
            <nav id="main-nav" class="sidebar" aria-label="Main">
                <Suspense>
                {move || Suspend::new(async move {
                let SignedInUser(user) = expect_context::<SignedInUser>();
                let user = user.await.ok().flatten();
                view! {
                <ul>
                    {SECTIONS
                        .iter()
                        .filter(|section| user.as_ref().is_some_and(|u| u.has(section.role)))
                        .map(|section| {
                            view! {
                                <li>
                                    // A section's own pages (a review at /reviews/{id}) are in it too.
                                    <A href=section.path exact=section.path == "/">
                                        {section.label}
                                    </A>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
                }
                })}
                </Suspense>
            </nav>
            <main id="main" tabindex="-1">
                {children()}
            </main>
        </div>
    }
}

/// Unfolds and folds the navigation (`#main-nav`) on narrow screens. Every
/// link loads its page afresh, folded again.
#[island]
fn MenuButton() -> impl IntoView {
    let (open, set_open) = signal(false);
    Effect::new(move |_| {
        let open = open.get();
        if let Some(nav) = document().get_element_by_id("main-nav") {
            let _ = nav.class_list().toggle_with_force("open", open);
        }
    });
    view! {
        <button
            type="button"
            class="menu-button"
            aria-controls="main-nav"
            aria-expanded=move || open.get().to_string()
            on:click=move |_| set_open.update(|open| *open = !*open)
        >
            "Menu"
        </button>
    }
}

/// Who is signed in, with what role, and the way out.
#[component]
fn UserMenu(user: User) -> impl IntoView {
    let role = user.roles.iter().max().map_or("no role", |r| r.as_str());
    view! {
        <div class="user-menu">
            <span class="who">
                <strong data-testid="username">{user.username}</strong>
                " · "
                <span data-testid="role">{role}</span>
            </span>
            <form method="post" action="/auth/sign-out">
                <button type="submit" class="secondary">"Sign out"</button>
            </form>
        </div>
    }
}

/// The Content-Security-Policy of rendered pages. It allows scripts only
/// from this origin and inline scripts carrying this response's nonce (the
/// hydration bootstrap), and WebAssembly compilation for the hydrate bundle.
#[cfg(feature = "ssr")]
pub mod content_security_policy {
    use leptos::prelude::use_context;

    pub fn header_value(nonce: &str) -> String {
        format!(
            "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
             style-src 'self'; img-src 'self' data:; connect-src 'self'; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        )
    }

    /// Puts the policy for this response's nonce on the response.
    pub(crate) fn send() {
        let (Some(nonce), Some(response)) = (
            leptos::nonce::use_nonce(),
            use_context::<leptos_axum::ResponseOptions>(),
        ) else {
            return;
        };
        if let Ok(value) = http::HeaderValue::from_str(&header_value(&nonce)) {
            response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
}
