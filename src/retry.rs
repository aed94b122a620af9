//! What the SDK retries beyond its own rules.

use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority,
};

use crate::net::ProxyRefused;

/// Treats every HTTP 429 as throttling. The SDK only recognises 429s whose body carries a
/// throttling code it knows; proxies, gateways and some S3-compatible stores answer 429 with
/// other codes or none, and giving up on those would fail a transfer a moment's wait saves.
#[derive(Debug)]
pub struct TooManyRequests;

impl ClassifyRetry for TooManyRequests {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        match ctx.response().map(|response| response.status().as_u16()) {
            Some(429) => RetryAction::throttling_error(),
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "s3os: HTTP 429 is throttling"
    }

    fn priority(&self) -> RetryClassifierPriority {
        // The SDK's own classifiers run after this one and keep their say where they have one.
        RetryClassifierPriority::run_before(RetryClassifierPriority::http_status_code_classifier())
    }
}

/// Stops retries of a connection whose TLS setup failed for a reason another attempt cannot
/// change: a certificate that does not verify, or an endpoint that does not speak TLS; and of
/// one a proxy refused to open (it wants credentials, or will not go there). The SDK would
/// otherwise treat them as transient I/O errors and try again.
#[derive(Debug)]
pub struct ConnectRefusalsAreFinal;

impl ClassifyRetry for ConnectRefusalsAreFinal {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let connector = match ctx.output_or_error() {
            Some(Err(err)) => err.as_connector_error(),
            _ => None,
        };
        match connector {
            Some(err) if crate::error::tls_problem(err).is_some() => RetryAction::RetryForbidden,
            Some(err)
                if crate::error::find_cause::<ProxyRefused>(err)
                    .is_some_and(ProxyRefused::is_final) =>
            {
                RetryAction::RetryForbidden
            }
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "s3os: refused connections are final"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_before(RetryClassifierPriority::transient_error_classifier())
    }
}
