//! Where a store's credentials come from: the keys of its configuration, or the AWS chain as
//! boto3 walks it (environment variables, the shared `config`/`credentials` files with their
//! `credential_process`, SSO and role settings, a web identity token, the ECS container
//! endpoint, EC2 instance metadata), each source built by the AWS SDK with the store's HTTP
//! client, so that STS, SSO and IMDS requests use the store's TLS and proxy settings.
//!
//! The chain is walked here rather than inside the SDK so that every failure can name the
//! source it concerns (never the secret), each resolution is logged, and the store knows
//! which source its current credentials came from. The SDK's identity cache in front of it
//! asks again before the credentials expire.

use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use aws_config::ecs::EcsCredentialsProvider;
use aws_config::environment::credentials::EnvironmentVariableCredentialsProvider;
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::web_identity_token::WebIdentityTokenCredentialsProvider;
use aws_config::BehaviorVersion;
use aws_credential_types::credential_feature::AwsCredentialFeature;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{self, future, ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sdk_s3::config::Region;
use aws_smithy_runtime_api::client::http::SharedHttpClient;

use crate::config::Config;
use crate::error::error_chain;

/// One place credentials may come from.
struct Source {
    /// What it is, in words a user can check (variables, files, endpoints).
    name: String,
    provider: SharedCredentialsProvider,
}

/// The sources of a store, tried in order; shareable with the store to tell where its
/// credentials came from.
#[derive(Clone)]
pub struct Sources {
    sources: Arc<Vec<Source>>,
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    /// Where the credentials in use came from.
    current: Option<String>,
    /// How often the chain was asked.
    resolutions: u64,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.sources.iter().map(|s| &s.name))
            .finish()
    }
}

impl Sources {
    /// The sources `config` asks for: its keys if it has them, else the AWS chain.
    pub fn new(config: &Config, http_client: SharedHttpClient, region: Option<Region>) -> Self {
        let sources = match (&config.access_key_id, &config.secret_access_key) {
            (Some(id), Some(secret)) => vec![Source {
                name: if config.session_token.is_some() {
                    "the configuration (aws_access_key_id, aws_secret_access_key, aws_session_token)"
                } else {
                    "the configuration (aws_access_key_id, aws_secret_access_key)"
                }
                .to_string(),
                provider: SharedCredentialsProvider::new(Credentials::new(
                    id,
                    secret,
                    config.session_token.clone(),
                    None,
                    "s3os-config",
                )),
            }],
            _ => chain(config, http_client, region),
        };
        Sources {
            sources: Arc::new(sources),
            state: Arc::default(),
        }
    }

    /// Where the credentials in use came from, if any were found yet.
    pub fn current(&self) -> Option<String> {
        self.lock().current.clone()
    }

    /// The sources in the order they are tried.
    pub fn names(&self) -> Vec<&str> {
        self.sources.iter().map(|s| s.name.as_str()).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn resolve(self) -> provider::Result {
        let started = Instant::now();
        let resolution = {
            let mut state = self.lock();
            state.resolutions += 1;
            state.resolutions
        };
        let mut unavailable = Vec::new();
        for source in self.sources.iter() {
            match source.provider.provide_credentials().await {
                Ok(credentials) => {
                    crate::log::register_secret(credentials.secret_access_key());
                    if let Some(token) = credentials.session_token() {
                        crate::log::register_secret(token);
                    }
                    let from = match detail(&credentials) {
                        Some(detail) => format!("{} ({detail})", source.name),
                        None => source.name.clone(),
                    };
                    log_info!(
                        "credentials from {from}, {}; resolution {resolution}, {:.1} ms",
                        validity(credentials.expiry()),
                        started.elapsed().as_secs_f64() * 1e3
                    );
                    self.lock().current = Some(from);
                    return Ok(credentials);
                }
                Err(CredentialsError::CredentialsNotLoaded(reason)) => {
                    let reason = error_chain(&CredentialsError::CredentialsNotLoaded(reason))
                        .trim_start_matches("the credential provider was not enabled: ")
                        .to_string();
                    log_debug!("credentials: {}: none ({reason})", source.name);
                    unavailable.push(format!("{}: {reason}", source.name));
                }
                Err(failure) => {
                    let failure = format!(
                        "credentials from {}: {}",
                        source.name,
                        error_chain(&failure)
                    );
                    log_warn!("{failure}");
                    return Err(CredentialsError::provider_error(failure));
                }
            }
        }
        let message = format!("no credentials found; tried {}", unavailable.join("; "));
        log_warn!("{message}");
        Err(CredentialsError::not_loaded(message))
    }
}

impl ProvideCredentials for Sources {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.clone().resolve())
    }
}

/// The AWS chain, in the order boto3 and the AWS SDKs walk it. As in boto3, a profile named in
/// the configuration (`profile_name`) takes precedence over the environment's keys.
fn chain(config: &Config, http_client: SharedHttpClient, region: Option<Region>) -> Vec<Source> {
    let conf = ProviderConfig::without_region()
        .with_http_client(http_client)
        .with_region(region)
        .with_behavior_version(Some(BehaviorVersion::latest()));
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut sources = Vec::new();
    if config.profile_name.is_none() {
        sources.push(Source {
            name: "environment variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)".into(),
            provider: SharedCredentialsProvider::new(EnvironmentVariableCredentialsProvider::new()),
        });
    }
    let (profile, profile_origin) = match (&config.profile_name, env("AWS_PROFILE")) {
        (Some(name), _) => (name.clone(), "profile_name"),
        (None, Some(name)) => (name, "AWS_PROFILE"),
        (None, None) => ("default".to_string(), "the default"),
    };
    let home_file =
        |variable: &str, file: &str| env(variable).unwrap_or_else(|| format!("~/.aws/{file}"));
    let mut profile_provider = ProfileFileCredentialsProvider::builder().configure(&conf);
    if let Some(name) = &config.profile_name {
        profile_provider = profile_provider.profile_name(name);
    }
    sources.push(Source {
        name: format!(
            "profile {profile:?} ({profile_origin}) of {} and {}",
            home_file("AWS_CONFIG_FILE", "config"),
            home_file("AWS_SHARED_CREDENTIALS_FILE", "credentials")
        ),
        provider: SharedCredentialsProvider::new(profile_provider.build()),
    });
    sources.push(Source {
        name: match env("AWS_ENDPOINT_URL_STS") {
            Some(sts) => format!(
                "web identity token (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN) exchanged at STS {sts}"
            ),
            None => "web identity token (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN) exchanged at STS".into(),
        },
        provider: SharedCredentialsProvider::new(
            WebIdentityTokenCredentialsProvider::builder()
                .configure(&conf)
                .build(),
        ),
    });
    sources.push(Source {
        name: "ECS container endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI)".into(),
        provider: SharedCredentialsProvider::new(
            EcsCredentialsProvider::builder().configure(&conf).build(),
        ),
    });
    sources.push(Source {
        name: match env("AWS_EC2_METADATA_SERVICE_ENDPOINT") {
            Some(endpoint) => format!("EC2 instance metadata (IMDSv2 at {endpoint})"),
            None => "EC2 instance metadata (IMDSv2)".into(),
        },
        provider: SharedCredentialsProvider::new(
            ImdsCredentialsProvider::builder().configure(&conf).build(),
        ),
    });
    sources
}

/// What kind of credentials a profile gave, as the SDK marks them.
fn detail(credentials: &Credentials) -> Option<&'static str> {
    use AwsCredentialFeature as F;
    let features = credentials.get_property::<Vec<AwsCredentialFeature>>()?;
    features.iter().rev().find_map(|feature| match feature {
        F::CredentialsProfileProcess | F::CredentialsProcess => Some("credential_process"),
        F::CredentialsProfileSso | F::CredentialsSso => Some("SSO"),
        F::CredentialsProfileStsWebIdToken | F::CredentialsStsAssumeRoleWebId => {
            Some("web identity")
        }
        F::CredentialsStsAssumeRole | F::CredentialsProfileSourceProfile => Some("assumed role"),
        F::CredentialsProfile => Some("static keys"),
        _ => None,
    })
}

fn validity(expiry: Option<SystemTime>) -> String {
    match expiry.map(|at| at.duration_since(SystemTime::now())) {
        None => "without expiry".to_string(),
        Some(Ok(left)) => format!("valid for {:.0} s", left.as_secs_f64()),
        Some(Err(_)) => "already expired".to_string(),
    }
}
