//! Opening connections: TCP to the server, or to a proxy that forwards plain-HTTP requests or
//! opens a CONNECT tunnel for HTTPS ones; then TLS, with the store's trust, where the server
//! speaks HTTPS (and to a proxy addressed as `https://`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use http::{HeaderValue, Uri};
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::proxy::Proxies;
use super::stall::WriteStallGuard;

/// Any byte stream a connection can run over: TCP, TLS over TCP, TLS inside a tunnel.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static> Io for T {}

/// Opens connections for the HTTP client of one store.
#[derive(Clone)]
pub struct Connector {
    tcp: HttpConnector,
    tls: Arc<ClientConfig>,
    proxies: Arc<Proxies>,
    /// Bounds all of opening a connection: TCP, proxy tunnel and TLS handshake.
    timeout: Option<Duration>,
    /// How long a connection may take none of the bytes written to it (see [`WriteStallGuard`]).
    write_stall: Option<Duration>,
}

impl Connector {
    pub fn new(
        tls: Arc<ClientConfig>,
        proxies: Arc<Proxies>,
        timeout: Option<Duration>,
        write_stall: Option<Duration>,
    ) -> Self {
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        // Small requests (a HEAD, the end of a part) must not wait for an acknowledgement.
        tcp.set_nodelay(true);
        Connector {
            tcp,
            tls,
            proxies,
            timeout,
            write_stall,
        }
    }

    async fn connect(self, destination: Uri) -> Result<Conn, BoxError> {
        let started = Instant::now();
        let target = Target::of(&destination)?;
        let opening = async {
            match self.proxies.route(&destination) {
                None => {
                    let stream = self.tcp(&destination, &target).await?;
                    let (stream, security) = self.secure(stream, &target).await?;
                    Ok::<_, BoxError>((stream, Path::Direct, security))
                }
                Some(proxy) => {
                    let proxy_target = Target::of(proxy.uri())?;
                    let as_proxy_error =
                        |e| ConnectError::boxed(ConnectStep::Proxy, proxy_target.shown(), e);
                    let stream = self
                        .tcp(proxy.uri(), &proxy_target)
                        .await
                        .map_err(as_proxy_error)?;
                    let (stream, _) = self
                        .secure(stream, &proxy_target)
                        .await
                        .map_err(as_proxy_error)?;
                    if target.secure {
                        let stream =
                            tunnel(stream, &target, &proxy_target, proxy.basic_auth()).await?;
                        let (stream, security) = self.secure(stream, &target).await?;
                        Ok((stream, Path::Tunnel(proxy_target.shown()), security))
                    } else {
                        Ok((stream, Path::Forward(proxy_target.shown()), None))
                    }
                }
            }
        };
        let (stream, path, security) = match self.timeout {
            Some(limit) => tokio::time::timeout(limit, opening)
                .await
                .map_err(|_| ConnectError::timed_out(&target, limit))??,
            None => opening.await?,
        };
        log_debug!(
            "connected to {} {}{} in {:.1} ms",
            target.shown(),
            path,
            security.map(|s| format!(", {s}")).unwrap_or_default(),
            started.elapsed().as_secs_f64() * 1e3
        );
        let stream: Box<dyn Io> = match self.write_stall {
            Some(limit) => Box::new(WriteStallGuard::new(stream, limit)),
            None => stream,
        };
        Ok(Conn {
            io: TokioIo::new(stream),
            forward_proxy: matches!(path, Path::Forward(_)),
        })
    }

    /// A TCP connection to `uri`.
    async fn tcp(&self, uri: &Uri, target: &Target) -> Result<Box<dyn Io>, BoxError> {
        use tower_service::Service;
        let mut tcp = self.tcp.clone();
        let stream = tcp
            .call(uri.clone())
            .await
            .map_err(|e| ConnectError::boxed(ConnectStep::Tcp, target.shown(), e.into()))?
            .into_inner();
        Ok(Box::new(stream))
    }

    /// `stream` with TLS if `target` speaks HTTPS, and the session's parameters for the log.
    async fn secure(
        &self,
        stream: Box<dyn Io>,
        target: &Target,
    ) -> Result<(Box<dyn Io>, Option<String>), BoxError> {
        if !target.secure {
            return Ok((stream, None));
        }
        let name = ServerName::try_from(target.host.clone())
            .map_err(|e| ConnectError::boxed(ConnectStep::Tls, target.shown(), e.into()))?;
        let started = Instant::now();
        let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
            .connect(name, stream)
            .await
            .map_err(|e| ConnectError::boxed(ConnectStep::Tls, target.shown(), e.into()))?;
        let session = tls.get_ref().1;
        let version = session
            .protocol_version()
            .map_or_else(|| "TLS".to_string(), |v| format!("{v:?}"));
        let suite = session
            .negotiated_cipher_suite()
            .map_or_else(String::new, |s| format!(" {:?}", s.suite()));
        let security = format!(
            "{version}{suite} (handshake {:.1} ms)",
            started.elapsed().as_secs_f64() * 1e3
        );
        Ok((Box::new(tls), Some(security)))
    }
}

impl tower_service::Service<Uri> for Connector {
    type Response = Conn;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Conn, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, destination: Uri) -> Self::Future {
        Box::pin(self.clone().connect(destination))
    }
}

/// Where a connection leads, as the URI names it.
struct Target {
    host: String,
    port: u16,
    secure: bool,
}

impl Target {
    fn of(uri: &Uri) -> Result<Target, BoxError> {
        let secure = uri.scheme_str() == Some("https");
        let host = uri
            .host()
            .ok_or_else(|| format!("no host in {uri}"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        Ok(Target { host, port, secure })
    }

    /// `host:port`, as a CONNECT request and messages name it.
    fn shown(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

enum Path {
    Direct,
    /// Plain-HTTP requests sent to the proxy, which forwards them.
    Forward(String),
    /// A CONNECT tunnel through the proxy.
    Tunnel(String),
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Direct => f.write_str("directly"),
            Path::Forward(proxy) => write!(f, "through the proxy {proxy} (forwarding)"),
            Path::Tunnel(proxy) => write!(f, "through a tunnel of the proxy {proxy}"),
        }
    }
}

/// Longest CONNECT answer head accepted from a proxy.
const MAX_PROXY_ANSWER: usize = 16 * 1024;

/// Asks the proxy on `stream` for a tunnel to `target` and returns the stream once the proxy
/// has agreed.
async fn tunnel(
    mut stream: Box<dyn Io>,
    target: &Target,
    proxy: &Target,
    authorization: Option<&HeaderValue>,
) -> Result<Box<dyn Io>, BoxError> {
    let started = Instant::now();
    let to = target.shown();
    let failed =
        |e: std::io::Error| ConnectError::boxed(ConnectStep::Proxy, proxy.shown(), e.into());
    let mut request = format!("CONNECT {to} HTTP/1.1\r\nHost: {to}\r\n").into_bytes();
    if let Some(authorization) = authorization {
        request.extend_from_slice(b"Proxy-Authorization: ");
        request.extend_from_slice(authorization.as_bytes());
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"\r\n");
    stream.write_all(&request).await.map_err(failed)?;
    stream.flush().await.map_err(failed)?;
    // Byte by byte up to the end of the head: nothing after it may be consumed, since it
    // belongs to the TLS session that follows.
    let mut head = Vec::with_capacity(256);
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_PROXY_ANSWER {
            return Err(ProxyRefused::new(proxy, &to, "an answer head over 16 KiB".into()).into());
        }
        let byte = stream.read_u8().await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                failed(std::io::Error::new(
                    e.kind(),
                    "the proxy closed the connection instead of answering CONNECT",
                ))
            } else {
                failed(e)
            }
        })?;
        head.push(byte);
    }
    let head = String::from_utf8_lossy(&head);
    let status_line = head.lines().next().unwrap_or_default().trim();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok());
    log_trace!(
        "proxy {} answered CONNECT {to}: {status_line} ({:.1} ms)",
        proxy.shown(),
        started.elapsed().as_secs_f64() * 1e3
    );
    match status {
        Some(200..=299) => Ok(stream),
        _ => Err(ProxyRefused::new(proxy, &to, status_line.to_string()).into()),
    }
}

/// Which step of opening a connection failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectStep {
    Tcp,
    Proxy,
    Tls,
    TimedOut,
}

/// Opening a connection failed at `step`; `target` is `host:port` (never credentials).
#[derive(Debug)]
pub struct ConnectError {
    pub step: ConnectStep,
    target: String,
    source: BoxError,
}

impl ConnectError {
    fn boxed(step: ConnectStep, target: String, source: BoxError) -> BoxError {
        // An error of an inner step (TCP to the proxy) keeps its own description.
        match source.downcast::<ConnectError>() {
            Ok(inner) if step == ConnectStep::Proxy => Box::new(ConnectError { step, ..*inner }),
            Ok(inner) => inner,
            Err(source) => Box::new(ConnectError {
                step,
                target,
                source,
            }),
        }
    }

    fn timed_out(target: &Target, limit: Duration) -> BoxError {
        Box::new(ConnectError {
            step: ConnectStep::TimedOut,
            target: target.shown(),
            source: format!("no connection within connect_timeout ({limit:?})").into(),
        })
    }
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.step {
            ConnectStep::Tcp => write!(f, "could not connect to {}", self.target),
            ConnectStep::Proxy => write!(f, "could not use the proxy {}", self.target),
            ConnectStep::Tls => write!(f, "TLS with {} failed", self.target),
            ConnectStep::TimedOut => write!(f, "connecting to {} timed out", self.target),
        }
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.source.as_ref())
    }
}

/// A proxy answered a CONNECT request with something other than success: retrying cannot
/// change that (407: it wants other credentials; 403: it refuses the destination).
#[derive(Debug)]
pub struct ProxyRefused {
    proxy: String,
    destination: String,
    /// The proxy's status line, such as `HTTP/1.1 407 Proxy Authentication Required`.
    answer: String,
}

impl ProxyRefused {
    fn new(proxy: &Target, destination: &str, answer: String) -> ProxyRefused {
        ProxyRefused {
            proxy: proxy.shown(),
            destination: destination.to_string(),
            answer,
        }
    }

    /// The proxy's status code, if its answer had one.
    pub fn status(&self) -> Option<u16> {
        self.answer.split_whitespace().nth(1)?.parse().ok()
    }

    /// Whether the proxy asked for (other) credentials.
    pub fn wants_credentials(&self) -> bool {
        self.status() == Some(407)
    }

    /// Whether the refusal is the proxy's decision rather than trouble reaching the server:
    /// asking again cannot change it.
    pub fn is_final(&self) -> bool {
        !matches!(self.status(), Some(500..=599))
    }
}

impl std::fmt::Display for ProxyRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the proxy {} refused a tunnel to {}: {}",
            self.proxy, self.destination, self.answer
        )?;
        if self.wants_credentials() {
            f.write_str(" (give the proxy's credentials as http://user:password@host:port in proxy_url or HTTPS_PROXY)")?;
        }
        Ok(())
    }
}

impl std::error::Error for ProxyRefused {}

/// An open connection, as hyper's client pool holds it.
pub struct Conn {
    io: TokioIo<Box<dyn Io>>,
    /// Requests on it go to a forwarding proxy, in absolute form.
    forward_proxy: bool,
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        Connected::new().proxy(self.forward_proxy)
    }
}

impl Read for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl Write for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
