//! The sign-in pages. Both forms post to the server's `/auth/…` handlers,
//! which work without JavaScript and answer with a redirect.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// What a sign-in error code in the query string means to the person.
fn message(error: &str, minutes: Option<&str>) -> String {
    match error {
        "invalid" => "Incorrect username or password.".into(),
        "missing" => "Enter your username and password.".into(),
        "locked" => format!(
            "Too many failed sign-ins. Try again in {} minutes.",
            minutes.unwrap_or("a few")
        ),
        "weak" => "That password does not meet the user pool's password policy. Sign in again \
                   with your temporary password and choose another."
            .into(),
        "expired" => "The sign-in took too long. Start again.".into(),
        "mismatch" => "The two passwords differ.".into(),
        "unavailable" => "Cognito did not answer. Try again shortly.".into(),
        "cognito" => "Sign-in with Cognito did not complete. Start again.".into(),
        _ => "Sign-in failed.".into(),
    }
}

/// Whether anyone can sign in, and whether the hosted UI is offered.
#[server(output = crate::codec::Json)]
pub async fn sign_in_available() -> Result<(bool, bool), crate::error::AppError> {
    let pool = crate::state::app_state()?.auth.pool;
    Ok((pool.is_some(), pool.is_some_and(|p| p.hosted_ui.is_some())))
}

#[component]
pub fn SignIn() -> impl IntoView {
    let query = use_query_map();
    let q = query.get_untracked();
    let next = q.get("next").unwrap_or_else(|| "/".into());
    let error = q
        .get("error")
        .map(|e| message(&e, q.get("minutes").as_deref()));
    let signed_out = q.get("signed_out").is_some();
    let available = Resource::new_blocking(|| (), |_| sign_in_available());
    let next_for_link = next.clone();

    view! {
        <Title text="Sign in" />
        <div class="sign-in">
            <h1>"Sign in"</h1>
            {signed_out.then(|| view! { <p class="notice" role="status">"You are signed out."</p> })}
            {error.map(|text| view! { <p class="error" role="alert">{text}</p> })}
            <Suspense>
                {move || {
                    let next = next_for_link.clone();
                    Suspend::new(async move {
                        match available.await {
                            Ok((false, _)) => view! {
                                <p class="error" role="alert">
                                    "Sign-in is not configured: set cognito.user_pool_id and "
                                    "cognito.client_id, or run gatehouse demo, then restart."
                                </p>
                            }
                            .into_any(),
                            Ok((true, true)) => view! {
                                <p>
                                    <a class="button" href=format!("/auth/cognito?next={}", crate::url::encode(&next))>
                                        "Sign in with Cognito"
                                    </a>
                                </p>
                            }
                            .into_any(),
                            _ => ().into_any(),
                        }
                    })
                }}
            </Suspense>
            <form method="post" action="/auth/sign-in" class="stack">
                <input type="hidden" name="next" value=next />
                <label>
                    "Username"
                    <input name="username" autocomplete="username" required autofocus />
                </label>
                <label>
                    "Password"
                    <input name="password" type="password" autocomplete="current-password" required />
                </label>
                <button type="submit">"Sign in"</button>
            </form>
        </div>
    }
}

#[component]
pub fn NewPassword() -> impl IntoView {
    let query = use_query_map();
    let error = query
        .get_untracked()
        .get("error")
        .map(|e| message(&e, None));
    view! {
        <Title text="Choose a new password" />
        <div class="sign-in">
            <h1>"Choose a new password"</h1>
            <p>"Your administrator set a temporary password. Choose your own to continue."</p>
            {error.map(|text| view! { <p class="error" role="alert">{text}</p> })}
            <form method="post" action="/auth/new-password" class="stack">
                <label>
                    "New password"
                    <input name="new_password" type="password" autocomplete="new-password" required />
                </label>
                <label>
                    "New password again"
                    <input name="confirm" type="password" autocomplete="new-password" required />
                </label>
                <button type="submit">"Set password and sign in"</button>
            </form>
        </div>
    }
}
