//! Which proxy a request goes through: `proxy_url`, or the environment's `HTTPS_PROXY`,
//! `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (and their lowercase forms), read as curl reads
//! them; `no_proxy` and `NO_PROXY` name the hosts reached directly.
//!
//! Proxy credentials (`user:password@`) travel only in the `Proxy-Authorization` header;
//! addresses shown in messages and the log never carry them.

use std::fmt;

use http::Uri;
use hyper_util::client::proxy::matcher::{Intercept, Matcher};

use crate::config::{Config, ProxySetting, ProxyUrl};
use crate::error::Result;

/// The proxy rules of a store.
pub struct Proxies {
    matcher: Option<Matcher>,
    /// The rules in words, without credentials.
    pub description: String,
    /// Passwords and credentials of the proxies, for scrubbing.
    pub secrets: Vec<String>,
}

/// The environment variables that name proxies, by the scheme of the requests they serve,
/// in the order curl consults them (the uppercase form first).
const HTTPS_VARIABLES: [&str; 2] = ["HTTPS_PROXY", "https_proxy"];
const HTTP_VARIABLES: [&str; 2] = ["HTTP_PROXY", "http_proxy"];
const ALL_VARIABLES: [&str; 2] = ["ALL_PROXY", "all_proxy"];
const NO_PROXY_VARIABLES: [&str; 2] = ["NO_PROXY", "no_proxy"];

impl Proxies {
    /// The rules `config` asks for, reading the environment through `env`.
    pub fn new(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> Result<Proxies> {
        let first_set = |names: &[&'static str]| {
            names.iter().find_map(|name| {
                env(name)
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| (*name, v))
            })
        };
        let no_proxy = match &config.no_proxy {
            Some(list) => Some(("no_proxy", list.clone())),
            None => first_set(&NO_PROXY_VARIABLES),
        };
        // curl's `*` sends every request directly; the matcher applies it to host names only
        // and would still proxy endpoints given as IP addresses.
        let everything_direct = no_proxy.as_ref().is_some_and(|(_, list)| {
            list.split(|c: char| c == ',' || c.is_whitespace())
                .any(|entry| entry == "*")
        });
        let (http, https) = match &config.proxy {
            ProxySetting::FromEnvironment | ProxySetting::Url(_) if everything_direct => {
                let (origin, _) = no_proxy.as_ref().expect("checked above");
                return Ok(Proxies {
                    matcher: None,
                    description: format!("no proxy ({origin}=*)"),
                    secrets: Vec::new(),
                });
            }
            ProxySetting::Disabled => {
                return Ok(Proxies {
                    matcher: None,
                    description: "no proxy (proxy_url=none)".into(),
                    secrets: Vec::new(),
                })
            }
            ProxySetting::Url(url) => (
                Some(("proxy_url", url.clone())),
                Some(("proxy_url", url.clone())),
            ),
            ProxySetting::FromEnvironment => {
                let all = first_set(&ALL_VARIABLES).and_then(usable);
                (
                    first_set(&HTTP_VARIABLES).and_then(usable).or(all.clone()),
                    first_set(&HTTPS_VARIABLES).and_then(usable).or(all),
                )
            }
        };
        if http.is_none() && https.is_none() {
            return Ok(Proxies {
                matcher: None,
                description: "no proxy".into(),
                secrets: Vec::new(),
            });
        }
        let mut builder = Matcher::builder();
        let mut parts = Vec::new();
        let mut secrets = Vec::new();
        if let Some((origin, url)) = &https {
            builder = builder.https(url.with_credentials());
            parts.push(format!("https:// through {} ({origin})", shown(url)));
            secrets.extend(url.secrets());
        }
        if let Some((origin, url)) = &http {
            builder = builder.http(url.with_credentials());
            parts.push(format!("http:// through {} ({origin})", shown(url)));
            secrets.extend(url.secrets());
        }
        if let Some((origin, list)) = &no_proxy {
            builder = builder.no(list.as_str());
            parts.push(format!("directly to {list} ({origin})"));
        }
        Ok(Proxies {
            matcher: Some(builder.build()),
            description: parts.join(", "),
            secrets,
        })
    }

    /// The proxy for a request to `destination`, if any.
    pub fn route(&self, destination: &Uri) -> Option<Intercept> {
        self.matcher.as_ref()?.intercept(destination)
    }
}

impl fmt::Debug for Proxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description)
    }
}

/// A proxy address as the log shows it: without credentials, saying whether it has some.
fn shown(url: &ProxyUrl) -> String {
    match url.credentials {
        Some(_) => format!("{} (with credentials)", url.address),
        None => url.address.clone(),
    }
}

/// An environment variable's proxy, if s3os can use it (curl reads a value without a scheme
/// as `http://`). Others are ignored, as curl and boto3 ignore them, with a warning.
fn usable((name, value): (&'static str, String)) -> Option<(&'static str, ProxyUrl)> {
    let value = value.trim();
    let url = if value.contains("://") {
        value.to_string()
    } else {
        format!("http://{value}")
    };
    match ProxyUrl::parse(&url) {
        Ok(url) => Some((name, url)),
        Err(_) => {
            // The value may hold a password: only its scheme is shown.
            let scheme = value.split_once("://").map_or("http", |(scheme, _)| scheme);
            log_warn!(
                "{name} is set to a {scheme}:// value s3os cannot use as a proxy (expected http://host:port or https://host:port); ignored"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(settings: &[(&str, &str)], env: &[(&str, &str)]) -> Proxies {
        let mut config = Config::new("b").unwrap();
        for (key, value) in settings {
            config.set(key, value).unwrap();
        }
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Proxies::new(&config, &move |name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
        .unwrap()
    }

    fn via(proxies: &Proxies, url: &str) -> Option<String> {
        proxies
            .route(&url.parse().unwrap())
            .map(|intercept| intercept.uri().to_string())
    }

    #[test]
    fn a_no_proxy_star_sends_every_request_directly_ip_addresses_included() {
        for list in ["*", " * ", "internal.example, *"] {
            for (settings, env) in [
                (
                    vec![],
                    vec![("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", list)],
                ),
                (
                    vec![],
                    vec![("http_proxy", "http://p:1"), ("no_proxy", list)],
                ),
                (
                    vec![("proxy_url", "http://p:1"), ("no_proxy", list)],
                    vec![],
                ),
            ] {
                let p = proxies(&settings, &env);
                for url in [
                    "http://127.0.0.1:9000/b",
                    "https://[::1]:9000/b",
                    "https://10.1.2.3/b",
                    "https://s3.amazonaws.com/b",
                ] {
                    assert_eq!(via(&p, url), None, "{list:?} {settings:?} {env:?} {url}");
                }
                assert!(p.description.contains("=*"), "{}", p.description);
            }
        }
    }

    #[test]
    fn the_environment_is_read_as_curl_reads_it() {
        let p = proxies(
            &[],
            &[
                ("https_proxy", "http://tls-proxy:3128"),
                ("HTTP_PROXY", "plain-proxy:8080"),
                ("NO_PROXY", "internal.example, 10.0.0.0/8"),
            ],
        );
        assert_eq!(
            via(&p, "https://s3.amazonaws.com/b"),
            Some("http://tls-proxy:3128/".into())
        );
        assert_eq!(
            via(&p, "http://s3.amazonaws.com/b"),
            Some("http://plain-proxy:8080/".into())
        );
        assert_eq!(via(&p, "https://minio.internal.example/b"), None);
        assert_eq!(via(&p, "http://10.1.2.3:9000/b"), None);
        assert!(p.description.contains("HTTPS_PROXY") || p.description.contains("https_proxy"));

        let p = proxies(
            &[],
            &[
                ("ALL_PROXY", "http://all:1"),
                ("HTTPS_PROXY", "socks5://s:1"),
            ],
        );
        assert_eq!(
            via(&p, "https://s3.amazonaws.com/b"),
            Some("http://all:1/".into())
        );
        assert_eq!(
            via(&p, "http://s3.amazonaws.com/b"),
            Some("http://all:1/".into())
        );
        assert!(proxies(&[], &[])
            .route(&"https://x/".parse().unwrap())
            .is_none());
    }

    #[test]
    fn proxy_url_overrides_the_environment_and_none_disables() {
        let env = [
            ("HTTPS_PROXY", "http://env-proxy:3128"),
            ("NO_PROXY", "localhost"),
        ];
        let p = proxies(&[("proxy_url", "http://user:pw%21@mine:3128")], &env);
        assert_eq!(
            via(&p, "https://s3.amazonaws.com/b"),
            Some("http://mine:3128/".into())
        );
        assert_eq!(via(&p, "http://localhost:9000/b"), None);
        let intercept = p
            .route(&"http://s3.amazonaws.com/".parse().unwrap())
            .unwrap();
        // user:pw! in base64.
        assert_eq!(intercept.basic_auth().unwrap(), "Basic dXNlcjpwdyE=");
        assert!(!p.description.contains("pw"), "{}", p.description);
        assert!(p.secrets.contains(&"pw!".to_string()));

        let p = proxies(&[("proxy_url", "http://mine:3128"), ("no_proxy", "")], &env);
        assert_eq!(
            via(&p, "http://localhost:9000/b"),
            Some("http://mine:3128/".into())
        );
        let p = proxies(&[("proxy_url", "none")], &env);
        assert_eq!(via(&p, "https://s3.amazonaws.com/b"), None);
    }
}
