//! The HTTP client the AWS SDK sends a store's requests with: hyper's pooled client over the
//! store's [`Connector`], with the SDK's connect and read timeouts, its connection poisoning,
//! and failures sorted the way its retry rules expect.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connection::{CaptureSmithyConnection, ConnectionMetadata};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind as RetryKind;
use http::header::PROXY_AUTHORIZATION;
use hyper_util::client::legacy::connect::{capture_connection, CaptureConnection};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::ClientConfig;

use super::connector::{ConnectError, ConnectStep, Connector, ProxyRefused};
use super::proxy::Proxies;
use crate::error::find_cause;

/// One store's HTTP client: every request of the store, its credential sources' included,
/// goes through it. It keeps one connection pool per pair of timeouts asked for (the store's
/// own and, for instance, the instance metadata client's shorter ones).
#[derive(Debug)]
pub struct StoreHttpClient {
    tls: Arc<ClientConfig>,
    proxies: Arc<Proxies>,
    pools: Mutex<HashMap<Timeouts, SharedHttpConnector>>,
}

/// A connect timeout and a read timeout.
type Timeouts = (Option<Duration>, Option<Duration>);

impl StoreHttpClient {
    pub fn new(tls: Arc<ClientConfig>, proxies: Arc<Proxies>) -> Self {
        StoreHttpClient {
            tls,
            proxies,
            pools: Mutex::default(),
        }
    }
}

impl HttpClient for StoreHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        pools
            .entry(key)
            .or_insert_with(|| {
                let connector =
                    Connector::new(self.tls.clone(), self.proxies.clone(), key.0, key.1);
                let client = Client::builder(TokioExecutor::new())
                    .pool_timer(TokioTimer::new())
                    .build(connector);
                SharedHttpConnector::new(Pool {
                    client,
                    proxies: self.proxies.clone(),
                    read_timeout: key.1,
                })
            })
            .clone()
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        Some(ConnectorMetadata::new("hyper", Some(Cow::Borrowed("1.x"))))
    }
}

/// Connections for one pair of timeouts.
struct Pool {
    client: Client<Connector, SdkBody>,
    proxies: Arc<Proxies>,
    read_timeout: Option<Duration>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("read_timeout", &self.read_timeout)
            .finish()
    }
}

impl HttpConnector for Pool {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let mut request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(err) => return HttpConnectorFuture::ready(Err(ConnectorError::user(err.into()))),
        };
        // A forwarding proxy sees each plain-HTTP request and its credentials; a tunnel's
        // credentials went with the CONNECT request.
        if request.uri().scheme() == Some(&http::uri::Scheme::HTTP) {
            if let Some(authorization) = self
                .proxies
                .route(request.uri())
                .and_then(|proxy| proxy.basic_auth().cloned())
            {
                request
                    .headers_mut()
                    .entry(PROXY_AUTHORIZATION)
                    .or_insert(authorization);
            }
        }
        let capture = capture_connection(&mut request);
        if let Some(smithy) = request.extensions().get::<CaptureSmithyConnection>() {
            smithy.set_connection_retriever(move || metadata(&capture));
        }
        let response = self.client.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let response = match read_timeout {
                Some(limit) => match tokio::time::timeout(limit, response).await {
                    Ok(response) => response,
                    Err(_) => {
                        return Err(ConnectorError::timeout(
                            format!("no answer within read_timeout ({limit:?})").into(),
                        ))
                    }
                },
                None => response.await,
            };
            match response {
                Ok(response) => HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                    .map_err(|err| ConnectorError::other(err.into(), None)),
                Err(err) => Err(sort(err.into())),
            }
        })
    }
}

/// What the SDK needs of a connection to retire it after a failure.
fn metadata(capture: &CaptureConnection) -> Option<ConnectionMetadata> {
    let proxied = capture.connection_metadata().as_ref()?.is_proxied();
    let capture = capture.clone();
    Some(
        ConnectionMetadata::builder()
            .proxied(proxied)
            .poison_fn(move || {
                if let Some(connected) = capture.connection_metadata().as_ref() {
                    connected.poison();
                }
            })
            .build(),
    )
}

/// Sorts a failed request the way the SDK's retry rules expect: timeouts, I/O failures
/// (retried), errors of the request itself (not retried), and others.
fn sort(err: BoxError) -> ConnectorError {
    if let Some(connect) = find_cause::<ConnectError>(err.as_ref()) {
        return match connect.step {
            ConnectStep::TimedOut => ConnectorError::timeout(err),
            _ => ConnectorError::io(err),
        };
    }
    if find_cause::<ProxyRefused>(err.as_ref()).is_some() {
        return ConnectorError::other(err, None);
    }
    let Some(hyper) = find_cause::<hyper::Error>(err.as_ref()) else {
        return match find_cause::<hyper_util::client::legacy::Error>(err.as_ref()) {
            Some(legacy) if legacy.is_connect() => ConnectorError::io(err),
            _ => ConnectorError::other(err, None),
        };
    };
    if hyper.is_timeout() {
        ConnectorError::timeout(err)
    } else if hyper.is_user() {
        ConnectorError::user(err)
    } else if hyper.is_incomplete_message() {
        // The server closed the connection before a whole answer: S3 does this now and then.
        ConnectorError::other(err, Some(RetryKind::TransientError))
    } else {
        ConnectorError::io(err)
    }
}
