//! The network a store talks over: TLS trust, proxies, and the HTTP client that carries
//! every request of the store (its credential sources' too), built once per store so that
//! connections are reused.

mod client;
mod connector;
mod proxy;
mod stall;
mod tls;

use std::sync::Arc;

use aws_smithy_runtime_api::client::http::SharedHttpClient;

pub use connector::ProxyRefused;

use crate::config::Config;
use crate::error::Result;

/// A store's HTTP client and its settings in words.
pub struct Network {
    pub client: SharedHttpClient,
    /// Trust and proxies, without credentials.
    pub description: String,
    /// Proxy passwords, for scrubbing them out of messages.
    pub secrets: Vec<String>,
}

/// The HTTP client for a store with `config`, reading proxy variables from the environment.
pub fn for_store(config: &Config) -> Result<Network> {
    let trust = tls::trust(config)?;
    let speaks_tls = config
        .endpoint_url
        .as_deref()
        .is_none_or(|endpoint| endpoint.to_ascii_lowercase().starts_with("https://"));
    if speaks_tls {
        tls::warm_up_random(&trust.client);
    }
    let proxies = proxy::Proxies::new(config, &|name| std::env::var(name).ok())?;
    let description = format!("TLS {}; proxy: {}", trust.description, proxies.description);
    let secrets = proxies.secrets.clone();
    Ok(Network {
        client: SharedHttpClient::new(client::StoreHttpClient::new(
            trust.client,
            Arc::new(proxies),
        )),
        description,
        secrets,
    })
}
