//! Every attempt of every S3 request in the log: what was sent where, how it ended and how
//! long it took (debug), and each retry with the outcome that caused it (warn).

use std::time::Instant;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, Metadata};
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_smithy_types::retry::RetryConfig;

use crate::error::error_chain;
use crate::log::{enabled, Level};

/// The interceptor that logs attempts. It does nothing while the log is off.
#[derive(Debug)]
pub struct LogAttempts;

/// The attempt under way: when it was sent and what it asked for.
#[derive(Debug, Clone)]
struct Sent {
    at: Instant,
    request: String,
}

impl Storable for Sent {
    type Storer = StoreReplace<Self>;
}

/// How the previous attempt ended, for the line announcing a retry.
#[derive(Debug, Clone)]
struct Outcome(String);

impl Storable for Outcome {
    type Storer = StoreReplace<Self>;
}

impl Intercept for LogAttempts {
    fn name(&self) -> &'static str {
        "s3os: log attempts"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !enabled(Level::Warn) {
            return Ok(());
        }
        let request = context.request();
        let described = format!(
            "{} {} {}",
            operation(cfg),
            request.method(),
            shown_uri(request.uri())
        );
        let attempt = attempt(cfg);
        if attempt > 1 {
            let cause = cfg
                .load::<Outcome>()
                .map_or("an unknown outcome", |o| o.0.as_str())
                .to_string();
            let of = cfg
                .load::<RetryConfig>()
                .map(|retry| format!(" of {}", retry.max_attempts()))
                .unwrap_or_default();
            log_warn!("retrying {described} (attempt {attempt}{of}) after {cause}");
        }
        cfg.interceptor_state().store_put(Sent {
            at: Instant::now(),
            request: described,
        });
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !enabled(Level::Warn) {
            return Ok(());
        }
        let outcome = match context.output_or_error() {
            Some(Ok(_)) => match context.response() {
                Some(response) => format!("HTTP {}", response.status().as_u16()),
                None => "success".to_string(),
            },
            Some(Err(err)) => match (err.as_connector_error(), context.response()) {
                (Some(connector), _) => {
                    format!("{}: {}", failure_kind(connector), error_chain(connector))
                }
                (None, Some(response)) => answer(response),
                (None, None) => error_chain(err),
            },
            None => "no outcome".to_string(),
        };
        if let Some(sent) = cfg.load::<Sent>() {
            log_debug!(
                "{} attempt {}: {outcome} in {:.1} ms",
                sent.request,
                attempt(cfg),
                sent.at.elapsed().as_secs_f64() * 1e3
            );
        }
        cfg.interceptor_state().store_put(Outcome(outcome));
        Ok(())
    }
}

fn operation(cfg: &ConfigBag) -> String {
    cfg.load::<Metadata>()
        .map_or_else(|| "request".to_string(), |m| m.name().to_string())
}

fn attempt(cfg: &ConfigBag) -> u32 {
    cfg.load::<RequestAttempts>().map_or(1, |a| a.attempts())
}

fn failure_kind(err: &aws_smithy_runtime_api::client::result::ConnectorError) -> &'static str {
    if err.is_timeout() {
        "timeout"
    } else if err.is_io() {
        "connection failure"
    } else if err.is_user() {
        "request error"
    } else {
        "failure"
    }
}

/// An error answer: its status and, when the body names one, S3's error code.
fn answer(response: &HttpResponse) -> String {
    let status = response.status().as_u16();
    let code = response
        .body()
        .bytes()
        .and_then(|body| std::str::from_utf8(body).ok())
        .and_then(|body| {
            let start = body.find("<Code>")? + "<Code>".len();
            let end = start + body[start..].find("</Code>")?;
            Some(body[start..end].to_string())
        });
    match code {
        Some(code) => format!("HTTP {status} {code}"),
        None => format!("HTTP {status}"),
    }
}

/// A request URI for the log: presigned-URL parameters (signatures, credentials, tokens)
/// are left out, as is the SDK's `x-id` marker.
fn shown_uri(uri: &str) -> String {
    let Some((base, query)) = uri.split_once('?') else {
        return uri.to_string();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let name = pair
                .split('=')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            !(name.starts_with("x-amz-") || name == "x-id" || name == "signature")
        })
        .collect();
    if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_lose_signing_parameters() {
        assert_eq!(
            shown_uri("https://h/b/k?partNumber=2&uploadId=u&x-id=UploadPart"),
            "https://h/b/k?partNumber=2&uploadId=u"
        );
        assert_eq!(
            shown_uri("https://h/b/k?X-Amz-Signature=abc&X-Amz-Security-Token=t&x-id=GetObject"),
            "https://h/b/k"
        );
        assert_eq!(
            shown_uri("http://h/b?list-type=2"),
            "http://h/b?list-type=2"
        );
    }
}
