//! The one error type of Gatehouse.
//!
//! Server functions return it, axum handlers turn it into a response, and the
//! browser receives it through the server-function codec. What it carries is
//! written for the person at the console: internal causes (sqlx, the AWS SDK)
//! are logged on the server with their context and never serialised.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum AppError {
    #[error("Not found.")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error("Sign in to continue.")]
    Unauthorized,
    #[error("Your role does not allow this.")]
    Forbidden,
    /// Refused for who is asking, whatever their role (e.g. approving one's
    /// own change request); says why.
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Conflict(String),
    /// A dependency (PostgreSQL, AWS) did not answer; the message names which.
    #[error("{0}")]
    Unavailable(String),
    /// Something failed inside the server; the cause is in the server log.
    #[error("Something went wrong on the server. It has been logged.")]
    Internal,
    /// The request itself failed between browser and server (network,
    /// encoding); raised by the server-function machinery.
    #[error("The request did not complete: {0}")]
    Request(String),
}

impl leptos::server_fn::error::FromServerFnError for AppError {
    type Encoder = crate::codec::JsonText;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        AppError::Request(value.to_string())
    }
}

#[cfg(feature = "ssr")]
mod server {
    use super::AppError;
    use axum::response::{IntoResponse, Response};
    use http::StatusCode;

    impl AppError {
        /// Logs `cause` with `context` and returns the opaque `Internal` error.
        pub fn internal(context: &str, cause: impl std::fmt::Display) -> Self {
            tracing::error!(context, %cause, "internal error");
            AppError::Internal
        }

        /// Logs `cause` and names the unavailable dependency to the user;
        /// says so when it was AWS throttling the account's calls.
        pub fn unavailable(what: &str, cause: impl std::fmt::Display) -> Self {
            let cause = cause.to_string();
            tracing::warn!(dependency = what, %cause, "dependency unavailable");
            if crate::aws_budget::throttled(&cause) {
                return AppError::Unavailable(format!(
                    "{what} is throttling this account's API calls (its request quota). \
                     Try again in a few seconds."
                ));
            }
            AppError::Unavailable(format!("{what} did not answer. Try again shortly."))
        }

        pub fn status(&self) -> StatusCode {
            match self {
                AppError::NotFound => StatusCode::NOT_FOUND,
                AppError::BadRequest(_) => StatusCode::UNPROCESSABLE_ENTITY,
                AppError::Unauthorized => StatusCode::UNAUTHORIZED,
                AppError::Forbidden | AppError::Refused(_) => StatusCode::FORBIDDEN,
                AppError::Conflict(_) => StatusCode::CONFLICT,
                AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                AppError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
                AppError::Request(_) => StatusCode::BAD_REQUEST,
            }
        }
    }

    impl From<sqlx::Error> for AppError {
        fn from(err: sqlx::Error) -> Self {
            match err {
                sqlx::Error::RowNotFound => AppError::NotFound,
                sqlx::Error::Database(db) if db.is_unique_violation() => {
                    AppError::Conflict("That already exists.".into())
                }
                sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::WorkerCrashed => AppError::unavailable("PostgreSQL", err),
                // Connection exceptions (08) and operator intervention (57:
                // the server shutting down or starting up): a restart, not a
                // fault of the request.
                sqlx::Error::Database(ref db)
                    if db
                        .code()
                        .is_some_and(|code| code.starts_with("08") || code.starts_with("57")) =>
                {
                    AppError::unavailable("PostgreSQL", err)
                }
                other => AppError::internal("database", other),
            }
        }
    }

    impl IntoResponse for AppError {
        fn into_response(self) -> Response {
            let body = serde_json::json!({ "error": self.to_string() });
            (self.status(), axum::Json(body)).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_error_text_says_nothing_about_the_cause() {
        let shown = AppError::Internal.to_string();
        assert!(!shown.to_lowercase().contains("sql"));
        assert!(shown.contains("logged"));
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn throttling_is_named_as_such() {
        let shown = AppError::unavailable(
            "AWS WAF",
            "service error: ThrottlingException: Rate exceeded",
        )
        .to_string();
        assert!(shown.contains("throttling"), "{shown}");
        let shown = AppError::unavailable("AWS WAF", "connection refused").to_string();
        assert!(shown.contains("did not answer"), "{shown}");
    }

    #[test]
    fn errors_survive_the_server_function_codec() {
        use leptos::server_fn::error::FromServerFnError;
        let err = AppError::Conflict("Rule name BlanketRule is taken.".into());
        let back = AppError::de(err.ser());
        assert_eq!(back, err);
    }
}
