#![allow(dead_code)] // each test binary uses part of the support code.
//! An HTTP proxy on loopback, as companies run them: it opens CONNECT tunnels (for HTTPS)
//! and forwards plain-HTTP requests sent to it in absolute form, optionally only for clients
//! that give its credentials (`Proxy-Authorization: Basic`). It counts what passes through it
//! and remembers each request it forwards.
//!
//! Host names are resolved by the proxy's own table ([`ForwardProxy::route`]), so that names
//! such as `test-bucket.s3.test` (virtual-hosted addressing) reach a server on loopback;
//! anything else must be a loopback address. It never connects anywhere but loopback.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

type Body = BoxBody<Bytes, hyper::Error>;

/// A request the proxy forwarded: its method, the absolute URI it was sent with, and its
/// headers (names in lower case).
#[derive(Debug, Clone)]
pub struct Forwarded {
    pub method: String,
    pub uri: String,
    pub headers: Vec<(String, String)>,
}

impl Forwarded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Seen {
    /// Tunnels opened, by `host:port` asked for.
    tunnels: BTreeMap<String, usize>,
    /// Requests forwarded, by `host:port` asked for.
    forwarded: Vec<Forwarded>,
    /// Requests refused with 407 (missing or wrong credentials).
    refused: usize,
    /// Client connections accepted.
    connections: usize,
}

struct Shared {
    /// `user:password` a client must give, if any.
    credentials: Option<String>,
    /// Host names (and their subdomains) the proxy sends to a fixed address.
    routes: Mutex<Vec<(String, SocketAddr)>>,
    seen: Mutex<Seen>,
}

/// A running proxy; stops when dropped.
pub struct ForwardProxy {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    runtime: Option<Runtime>,
}

impl ForwardProxy {
    /// A proxy anyone may use.
    pub fn open() -> ForwardProxy {
        ForwardProxy::start(None)
    }

    /// A proxy that asks for `user` and `password` (407 otherwise).
    pub fn with_credentials(user: &str, password: &str) -> ForwardProxy {
        ForwardProxy::start(Some(format!("{user}:{password}")))
    }

    fn start(credentials: Option<String>) -> ForwardProxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("forward-proxy")
            .enable_all()
            .build()
            .expect("proxy runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("binding the proxy port");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            credentials,
            routes: Mutex::default(),
            seen: Mutex::default(),
        });
        let serving = shared.clone();
        runtime.spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                serving.seen.lock().unwrap().connections += 1;
                let shared = serving.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| handle(shared.clone(), request));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(client), service)
                        .with_upgrades()
                        .await;
                });
            }
        });
        ForwardProxy {
            addr,
            shared,
            runtime: Some(runtime),
        }
    }

    /// Sends requests for `domain` and its subdomains to `to`, whatever port they name.
    pub fn route(&self, domain: &str, to: SocketAddr) {
        self.shared
            .routes
            .lock()
            .unwrap()
            .push((domain.to_string(), to));
    }

    /// `http://127.0.0.1:PORT`, or with `user:password@` for `credentials`.
    pub fn url(&self, credentials: Option<(&str, &str)>) -> String {
        match credentials {
            Some((user, password)) => format!("http://{user}:{password}@{}", self.addr),
            None => format!("http://{}", self.addr),
        }
    }

    /// Tunnels opened so far, all destinations together.
    pub fn tunnels(&self) -> usize {
        self.shared.seen.lock().unwrap().tunnels.values().sum()
    }

    /// Tunnels opened to `host:port`.
    pub fn tunnels_to(&self, destination: &str) -> usize {
        let seen = self.shared.seen.lock().unwrap();
        seen.tunnels.get(destination).copied().unwrap_or(0)
    }

    /// The requests forwarded so far.
    pub fn forwarded(&self) -> Vec<Forwarded> {
        self.shared.seen.lock().unwrap().forwarded.clone()
    }

    /// Requests refused for lack of the right credentials.
    pub fn refused(&self) -> usize {
        self.shared.seen.lock().unwrap().refused
    }

    /// Client connections accepted.
    pub fn connections(&self) -> usize {
        self.shared.seen.lock().unwrap().connections
    }
}

impl Drop for ForwardProxy {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut response = Response::new(
        Full::new(Bytes::from(body.to_string()))
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    response
}

impl Shared {
    /// Where a request for `host:port` goes: the routing table, or loopback as named.
    fn resolve(&self, host: &str, port: u16) -> Option<SocketAddr> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        for (domain, to) in self.routes.lock().unwrap().iter() {
            if host == domain || host.ends_with(&format!(".{domain}")) {
                return Some(*to);
            }
        }
        let ip: IpAddr = if host == "localhost" {
            IpAddr::from([127, 0, 0, 1])
        } else {
            host.parse().ok()?
        };
        ip.is_loopback().then_some(SocketAddr::new(ip, port))
    }

    fn authorized(&self, request: &Request<Incoming>) -> bool {
        let Some(expected) = &self.credentials else {
            return true;
        };
        let expected = format!(
            "Basic {}",
            aws_smithy_types::base64::encode(expected.as_bytes())
        );
        request
            .headers()
            .get("proxy-authorization")
            .is_some_and(|given| given.as_bytes() == expected.as_bytes())
    }
}

async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    if !shared.authorized(&request) {
        shared.seen.lock().unwrap().refused += 1;
        let mut response = text(
            StatusCode::PROXY_AUTHENTICATION_REQUIRED,
            "proxy credentials required\n",
        );
        response.headers_mut().insert(
            "proxy-authenticate",
            "Basic realm=\"s3os test proxy\"".parse().unwrap(),
        );
        return Ok(response);
    }
    if request.method() == Method::CONNECT {
        Ok(tunnel(shared, request).await)
    } else {
        Ok(forward(shared, request).await)
    }
}

async fn tunnel(shared: Arc<Shared>, request: Request<Incoming>) -> Response<Body> {
    let Some(authority) = request.uri().authority().cloned() else {
        return text(StatusCode::BAD_REQUEST, "CONNECT needs host:port\n");
    };
    let Some(to) = shared.resolve(authority.host(), authority.port_u16().unwrap_or(443)) else {
        return text(StatusCode::BAD_GATEWAY, "not a loopback destination\n");
    };
    let Ok(mut server) = TcpStream::connect(to).await else {
        return text(StatusCode::BAD_GATEWAY, "destination unreachable\n");
    };
    *shared
        .seen
        .lock()
        .unwrap()
        .tunnels
        .entry(authority.to_string())
        .or_default() += 1;
    tokio::spawn(async move {
        if let Ok(upgraded) = hyper::upgrade::on(request).await {
            let mut client = TokioIo::new(upgraded);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        }
    });
    Response::new(empty())
}

async fn forward(shared: Arc<Shared>, request: Request<Incoming>) -> Response<Body> {
    let uri = request.uri().clone();
    let (Some(host), Some("http")) = (uri.host(), uri.scheme_str()) else {
        return text(
            StatusCode::BAD_REQUEST,
            "a proxy needs absolute http:// URIs\n",
        );
    };
    let Some(to) = shared.resolve(host, uri.port_u16().unwrap_or(80)) else {
        return text(StatusCode::BAD_GATEWAY, "not a loopback destination\n");
    };
    shared.seen.lock().unwrap().forwarded.push(Forwarded {
        method: request.method().to_string(),
        uri: uri.to_string(),
        headers: request
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
    });
    let Ok(server) = TcpStream::connect(to).await else {
        return text(StatusCode::BAD_GATEWAY, "destination unreachable\n");
    };
    let Ok((mut sender, connection)) =
        hyper::client::conn::http1::handshake(TokioIo::new(server)).await
    else {
        return text(StatusCode::BAD_GATEWAY, "handshake failed\n");
    };
    tokio::spawn(connection);
    let (mut parts, body) = request.into_parts();
    parts.uri = uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .expect("an origin-form target");
    parts.headers.remove("proxy-authorization");
    parts.headers.remove("proxy-connection");
    match sender.send_request(Request::from_parts(parts, body)).await {
        Ok(response) => response.map(|body| body.boxed()),
        Err(_) => text(StatusCode::BAD_GATEWAY, "the server did not answer\n"),
    }
}
