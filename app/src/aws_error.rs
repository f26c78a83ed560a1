//! What went wrong with an AWS call, in a few words a person can act on:
//! AWS's error code when AWS answered with one; the HTTP status when the
//! endpoint answered with something that is not an AWS error (an emulator
//! or proxy that does not know the call answers 404 with a page of its own);
//! and "no answer" only when nothing came back (a timeout, a refused or
//! broken connection). AWS's whole message goes to the log, never to a
//! person, since it may name accounts and ARNs.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Describes a failed SDK call in a few words (see the module's docs).
pub fn describe<E: ProvideErrorMetadata>(error: &SdkError<E, Response>) -> String {
    match error {
        SdkError::ServiceError(service) => match service.err().code() {
            Some(code) => code.to_owned(),
            None => unparsed(service.raw()),
        },
        SdkError::ResponseError(response) => unparsed(response.raw()),
        SdkError::TimeoutError(_) => "no answer from AWS (timed out)".to_owned(),
        SdkError::DispatchFailure(failure) if failure.is_timeout() => {
            "no answer from AWS (timed out)".to_owned()
        }
        SdkError::DispatchFailure(failure) if failure.is_io() => {
            "no answer from AWS (connection failed)".to_owned()
        }
        SdkError::DispatchFailure(_) => "no answer from AWS (the request was not sent)".to_owned(),
        SdkError::ConstructionFailure(_) => "the request could not be built".to_owned(),
        _ => "an unexpected SDK error".to_owned(),
    }
}

/// An answer that is not an AWS error: its status, and whether it had a body.
fn unparsed(raw: &Response) -> String {
    let status = raw.status().as_u16();
    let body = raw.body().bytes().map_or(0, <[u8]>::len);
    if body == 0 {
        format!("the endpoint answered HTTP {status} with no AWS error in it")
    } else {
        format!("the endpoint answered HTTP {status} with a body that is not an AWS error")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_athena::operation::get_work_group::GetWorkGroupError;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    type Failed = SdkError<GetWorkGroupError, Response>;

    fn answer(status: u16, body: &'static str) -> Response {
        let status = StatusCode::try_from(status).unwrap();
        Response::new(status, SdkBody::from(body))
    }

    #[test]
    fn an_aws_error_is_named_by_its_code() {
        let error = GetWorkGroupError::generic(
            ErrorMetadata::builder()
                .code("InvalidRequestException")
                .message("WorkGroup primary2 is not found. arn:aws:athena:…")
                .build(),
        );
        let failed = Failed::service_error(error, answer(400, "{}"));
        assert_eq!(describe(&failed), "InvalidRequestException");
    }

    #[test]
    fn an_answer_that_is_not_an_aws_error_says_its_status() {
        // What moto 5.2.6 answers to Athena's JSON protocol.
        let unparsed = Failed::response_error(
            "not JSON",
            answer(404, "<!doctype html><title>404 Not Found</title>"),
        );
        assert_eq!(
            describe(&unparsed),
            "the endpoint answered HTTP 404 with a body that is not an AWS error"
        );
        let no_code = Failed::service_error(
            GetWorkGroupError::generic(ErrorMetadata::builder().build()),
            answer(502, ""),
        );
        assert_eq!(
            describe(&no_code),
            "the endpoint answered HTTP 502 with no AWS error in it"
        );
    }

    #[test]
    fn no_answer_is_told_apart_from_an_answer() {
        let timed_out = Failed::timeout_error("attempt timeout");
        assert_eq!(describe(&timed_out), "no answer from AWS (timed out)");
        let refused = Failed::dispatch_failure(ConnectorError::io("connection refused".into()));
        assert_eq!(describe(&refused), "no answer from AWS (connection failed)");
    }
}
