#![allow(dead_code)] // each test binary uses part of the support code.
//! A fault-injecting HTTP/1.1 proxy on loopback, to put between s3os and [`super::LocalS3`].
//!
//! Every byte is forwarded unchanged (SigV4 signs the requests) unless the test planned a fault
//! for that exchange. To pick its victims the proxy parses each request line and its headers,
//! and it follows message framing (Content-Length, chunked, HEAD, 1xx) in both directions, so a
//! keep-alive connection that carries many exchanges is handled exchange by exchange.
//!
//! A test plans faults with [`Proxy::inject`]: the `skip`+1st to `skip`+`times`th requests for
//! which a predicate holds get the fault. The proxy counts how often each fault was actually
//! carried out ([`Proxy::fired`]) and every request it saw, by kind ([`Proxy::count`]).

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, oneshot};

/// The start of one request: what the proxy knows when it picks a victim.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The request target: path and query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
}

impl Request {
    fn parse(head: &[u8]) -> Option<Request> {
        let text = std::str::from_utf8(head).ok()?;
        let mut lines = text.split("\r\n");
        let mut first = lines.next()?.split(' ');
        let method = first.next()?.to_string();
        let target = first.next()?.to_string();
        let headers = parse_headers(lines);
        Some(Request {
            method,
            target,
            headers,
        })
    }

    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The value of query parameter `name` ("" for a bare flag such as `?uploads`).
    pub fn query(&self, name: &str) -> Option<&str> {
        let (_, query) = self.target.split_once('?')?;
        query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key == name).then_some(value)
        })
    }

    pub fn part_number(&self) -> Option<u32> {
        self.query("partNumber")?.parse().ok()
    }

    pub fn range(&self) -> Option<&str> {
        self.header("range")
    }

    /// The S3 operation, told from the method and the query (not from the SDK's `x-id`).
    pub fn operation(&self) -> &'static str {
        let has = |name| self.query(name).is_some();
        match self.method.as_str() {
            "HEAD" => "HeadObject",
            "GET" if has("list-type") => "ListObjectsV2",
            "GET" if has("uploadId") => "ListParts",
            "GET" => "GetObject",
            "PUT" if has("partNumber") => "UploadPart",
            "PUT" => "PutObject",
            "POST" if has("uploads") => "CreateMultipartUpload",
            "POST" if has("uploadId") => "CompleteMultipartUpload",
            "DELETE" if has("uploadId") => "AbortMultipartUpload",
            "DELETE" => "DeleteObject",
            _ => "Other",
        }
    }

    /// The kind of request, as [`Proxy::count`] counts them: the operation, with the part
    /// number of an UploadPart and the range of a ranged GetObject.
    pub fn label(&self) -> String {
        match (self.operation(), self.part_number(), self.range()) {
            ("UploadPart", Some(n), _) => format!("UploadPart {n}"),
            ("GetObject", _, Some(range)) => format!("GetObject {range}"),
            (operation, _, _) => operation.to_string(),
        }
    }
}

fn parse_headers<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<(String, String)> {
    lines
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_string(), value.trim().to_string()))
        })
        .collect()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Something that goes wrong with one exchange. Body positions are clipped to the middle of a
/// body whose length is announced, so a fault meant for "the middle" lands inside even a short
/// body; a request without a body is "stopped" right after its head.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Forwards the request head and `after` bytes of its body, then resets both connections.
    ResetRequest { after: u64 },
    /// Forwards the request head and `after` bytes of its body, then forwards nothing for
    /// `stall` and resets both connections.
    StallRequest { after: u64, stall: Duration },
    /// Forwards the request body `chunk` bytes at a time, `pause` apart.
    ThrottleRequest { chunk: usize, pause: Duration },
    /// Flips one bit of the request body byte at offset `at`.
    CorruptRequest { at: u64 },
    /// Changes the last 10 bytes of a request body whose length is announced, keeping its
    /// CRC32C: what a party on the path can do to bytes a CRC protects (see [`crc32c_keeping_change`]).
    ForgeRequestTail,
    /// Sends the request to the server with its Range header replaced by `to`, as a faulty
    /// proxy or cache might; the client's signature no longer matches, which moto does not check.
    RewriteRange { to: String },
    /// Holds back the last byte of the request body for `hold`, then delivers it and lets the
    /// exchange go on, even if the client has given up meanwhile: as a front end that buffers
    /// requests would, the server gets the whole request late.
    LateRequestEnd { hold: Duration },
    /// Answers with an S3 error instead of forwarding the request, and closes the connection.
    Respond { status: u16, code: &'static str },
    /// Lets the request reach the server, then resets both connections after forwarding
    /// `after` bytes of the response body (`None`: before the first byte of the response).
    ResetResponse { after: Option<u64> },
    /// Lets the request reach the server, then forwards nothing after `after` bytes of the
    /// response body (`None`: before its head) for `stall`, and resets both connections.
    StallResponse { after: Option<u64>, stall: Duration },
    /// Forwards the response body `chunk` bytes at a time, `pause` apart.
    ThrottleResponse { chunk: usize, pause: Duration },
    /// Flips one bit of the response body byte at offset `at`.
    CorruptResponse { at: u64 },
    /// Forwards the response head unchanged (its Content-Length still says N) and only `keep`
    /// bytes of the body, then closes the connection. A response without a body is cut off in
    /// the middle of its head instead.
    Truncate { keep: u64 },
    /// Announces `delta` more (or fewer) bytes than the response body has, forwards the whole
    /// body and closes the connection.
    WrongLength { delta: i64 },
    /// Reads the whole response body and sends what the function makes of it instead, with a
    /// Content-Length to match: a server that answers wrongly, but in well-formed messages.
    /// Counted as fired when the body changed.
    RewriteResponse(Rewrite),
}

/// The function of a [`Fault::RewriteResponse`]: a response body (as text) to the one sent.
#[derive(Clone)]
pub struct Rewrite(Arc<dyn Fn(&str) -> String + Send + Sync>);

impl Rewrite {
    pub fn new(rewrite: impl Fn(&str) -> String + Send + Sync + 'static) -> Rewrite {
        Rewrite(Arc::new(rewrite))
    }
}

impl std::fmt::Debug for Rewrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rewrite(..)")
    }
}

impl Fault {
    fn on_request(&self) -> bool {
        matches!(
            self,
            Fault::ResetRequest { .. }
                | Fault::StallRequest { .. }
                | Fault::ThrottleRequest { .. }
                | Fault::CorruptRequest { .. }
                | Fault::ForgeRequestTail
                | Fault::RewriteRange { .. }
                | Fault::LateRequestEnd { .. }
        )
    }

    fn on_response(&self) -> bool {
        !self.on_request() && !matches!(self, Fault::Respond { .. })
    }
}

type Predicate = Box<dyn Fn(&Request) -> bool + Send + Sync>;

struct Rule {
    when: Predicate,
    fault: Fault,
    skip: usize,
    times: usize,
    matched: usize,
    fired: usize,
}

#[derive(Default)]
struct Plan {
    rules: Vec<Rule>,
    counts: BTreeMap<String, usize>,
    /// Every request in arrival order, with the fault given to it.
    log: Vec<String>,
    /// Connections accepted.
    connections: usize,
    /// Messages (either way) whose body was chunked.
    chunked: usize,
    /// Answers from the server (not made up by the proxy) by kind of request.
    answered: BTreeMap<String, usize>,
}

/// The fault (and the rule it came from) chosen for one exchange.
#[derive(Debug, Clone)]
struct Chosen {
    rule: usize,
    fault: Fault,
}

/// Which rule [`Proxy::fired`] asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultId(usize);

/// A running proxy to `upstream`; stops (dropping every connection) when dropped.
pub struct Proxy {
    pub addr: SocketAddr,
    plan: Arc<Mutex<Plan>>,
    runtime: Option<Runtime>,
}

impl Proxy {
    pub fn start(upstream: SocketAddr) -> Proxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fault-proxy")
            .enable_all()
            .build()
            .expect("proxy runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("binding the proxy port");
        let addr = listener.local_addr().expect("proxy address");
        let plan = Arc::new(Mutex::new(Plan::default()));
        let shared = plan.clone();
        runtime.spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                shared.lock().unwrap_or_else(|p| p.into_inner()).connections += 1;
                tokio::spawn(connection(client, upstream, shared.clone()));
            }
        });
        Proxy {
            addr,
            plan,
            runtime: Some(runtime),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn plan(&self) -> MutexGuard<'_, Plan> {
        self.plan.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Gives `fault` to the requests for which `when` holds, skipping the first `skip` of them
    /// and then hitting at most `times` (`usize::MAX`: all). Earlier rules win a request.
    pub fn inject(
        &self,
        when: impl Fn(&Request) -> bool + Send + Sync + 'static,
        fault: Fault,
        skip: usize,
        times: usize,
    ) -> FaultId {
        let mut plan = self.plan();
        plan.rules.push(Rule {
            when: Box::new(when),
            fault,
            skip,
            times,
            matched: 0,
            fired: 0,
        });
        FaultId(plan.rules.len() - 1)
    }

    /// How many times the fault was carried out (not merely planned).
    pub fn fired(&self, id: FaultId) -> usize {
        self.plan().rules[id.0].fired
    }

    /// How many requests of kind `label` (see [`Request::label`]) the proxy saw.
    pub fn count(&self, label: &str) -> usize {
        self.plan().counts.get(label).copied().unwrap_or(0)
    }

    /// Requests seen per kind.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.plan().counts.clone()
    }

    /// How many requests were seen in all.
    pub fn total(&self) -> usize {
        self.plan().counts.values().sum()
    }

    /// Every request seen, in order, with its fault: for failure messages.
    pub fn log(&self) -> Vec<String> {
        self.plan().log.clone()
    }

    /// How many answers to requests of kind `label` came from the server (whether or not they
    /// reached the client).
    pub fn answered(&self, label: &str) -> usize {
        self.plan().answered.get(label).copied().unwrap_or(0)
    }

    /// How many connections clients opened.
    pub fn connections(&self) -> usize {
        self.plan().connections
    }

    /// How many messages, requests or responses, came with a chunked body.
    pub fn chunked_messages(&self) -> usize {
        self.plan().chunked
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Plan {
    /// Counts `request` and picks its fault, if any.
    fn choose(&mut self, request: &Request) -> Option<Chosen> {
        let label = request.label();
        *self.counts.entry(label.clone()).or_default() += 1;
        let mut chosen = None;
        for (index, rule) in self.rules.iter_mut().enumerate() {
            if !(rule.when)(request) {
                continue;
            }
            rule.matched += 1;
            let nth = rule.matched - 1;
            if chosen.is_none() && nth >= rule.skip && nth - rule.skip < rule.times {
                chosen = Some(Chosen {
                    rule: index,
                    fault: rule.fault.clone(),
                });
            }
        }
        self.log.push(match &chosen {
            Some(c) => format!("{label} <- {:?}", c.fault),
            None => label,
        });
        chosen
    }
}

fn fired(plan: &Mutex<Plan>, chosen: &Chosen) {
    plan.lock().unwrap_or_else(|p| p.into_inner()).rules[chosen.rule].fired += 1;
}

/// How one direction of a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Its source closed; the close was passed on. The other direction may go on.
    Eof,
    /// Close the whole connection gracefully.
    Close,
    /// Reset both sides of the connection.
    Reset,
}

/// What the request direction tells the response direction about each request.
struct Exchange {
    label: String,
    head: bool,
    /// Close the connection after this exchange.
    last: bool,
    chosen: Option<Chosen>,
    /// For an answer made up by the proxy: resolves once the request body was read.
    synthetic: Option<(Vec<u8>, oneshot::Receiver<()>)>,
}

async fn connection(mut client: TcpStream, upstream: SocketAddr, plan: Arc<Mutex<Plan>>) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let end = {
        let (client_read, client_write) = client.split();
        let (server_read, server_write) = server.split();
        let (tx, rx) = mpsc::unbounded_channel();
        let requests = requests(Input::new(client_read), server_write, tx, plan.clone());
        let responses = responses(Input::new(server_read), client_write, rx, plan);
        tokio::pin!(requests, responses);
        let (mut requests_done, mut responses_done) = (false, false);
        loop {
            let end = tokio::select! {
                end = &mut requests, if !requests_done => { requests_done = true; end }
                end = &mut responses, if !responses_done => { responses_done = true; end }
            };
            match end {
                End::Eof if !(requests_done && responses_done) => continue,
                End::Eof => break End::Close,
                other => break other,
            }
        }
    };
    match end {
        End::Reset => {
            let _ = client.set_zero_linger();
            let _ = server.set_zero_linger();
        }
        _ => {
            // Close without a reset: stop sending, then read until the peers close, because
            // closing a socket with unread input would reset the connection.
            let _ = client.shutdown().await;
            let _ = server.shutdown().await;
            let drain = async {
                let mut sink = [0u8; 16 * 1024];
                while matches!(client.read(&mut sink).await, Ok(n) if n > 0) {}
            };
            let _ = tokio::time::timeout(Duration::from_secs(5), drain).await;
        }
    }
}

/// Client to server: one request after another.
async fn requests<R, W>(
    mut input: Input<R>,
    mut server: W,
    tx: mpsc::UnboundedSender<Exchange>,
    plan: Arc<Mutex<Plan>>,
) -> End
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    loop {
        let head = match input.head().await {
            Ok(Some(head)) => head,
            Ok(None) => {
                let _ = server.shutdown().await;
                return End::Eof;
            }
            Err(_) => return End::Reset,
        };
        let Some(request) = Request::parse(&head) else {
            return End::Reset;
        };
        let framing = request_framing(&request.headers);
        let chosen = {
            let mut plan = plan.lock().unwrap_or_else(|p| p.into_inner());
            plan.chunked += usize::from(framing == Framing::Chunked);
            plan.choose(&request)
        };
        let is_head = request.method == "HEAD";

        if let Some(
            chosen @ Chosen {
                fault: Fault::Respond { status, code },
                ..
            },
        ) = &chosen
        {
            let (ready_tx, ready_rx) = oneshot::channel();
            let answer = s3_error(*status, code, is_head);
            let _ = tx.send(Exchange {
                label: request.label(),
                head: is_head,
                last: true,
                chosen: Some(chosen.clone()),
                synthetic: Some((answer, ready_rx)),
            });
            // Read the request body so that closing the connection afterwards does not reset it.
            let mut discard = tokio::io::sink();
            if forward_body(&mut input, &mut discard, framing, &mut Body::default())
                .await
                .is_err()
            {
                return End::Reset;
            }
            let _ = ready_tx.send(());
            // The answer closes the connection; nothing more is read from the client.
            return End::Eof;
        }

        let request_fault = chosen.as_ref().filter(|c| c.fault.on_request()).cloned();
        let _ = tx.send(Exchange {
            label: request.label(),
            head: is_head,
            last: matches!(
                request_fault,
                Some(Chosen {
                    fault: Fault::LateRequestEnd { .. },
                    ..
                })
            ),
            chosen: chosen.filter(|c| c.fault.on_response()),
            synthetic: None,
        });
        let head = match &request_fault {
            Some(
                chosen @ Chosen {
                    fault: Fault::RewriteRange { to },
                    ..
                },
            ) => {
                fired(&plan, chosen);
                with_header(&head, "range", to)
            }
            _ => head,
        };
        if server.write_all(&head).await.is_err() {
            return End::Reset;
        }
        let mut body = Body::default();
        if let Some(chosen) = &request_fault {
            match &chosen.fault {
                Fault::ResetRequest { after } | Fault::StallRequest { after, .. } => {
                    body.stop_at = Some(middle(*after, framing))
                }
                Fault::ThrottleRequest { chunk, pause } => {
                    body.pace = Some(((*chunk).max(1), *pause))
                }
                Fault::CorruptRequest { at } => {
                    if let Framing::Length(n) = framing {
                        body.change = (n > 0).then(|| ((*at).min(n / 2), vec![0x20]));
                    }
                }
                Fault::ForgeRequestTail => {
                    if let Framing::Length(n) = framing {
                        let change = crc32c_keeping_change();
                        let len = change.len() as u64;
                        body.change = (n >= len).then(|| (n - len, change.to_vec()));
                    }
                }
                Fault::LateRequestEnd { .. } => {
                    if let Framing::Length(n) = framing {
                        body.stop_at = (n > 0).then(|| n - 1);
                    }
                }
                Fault::RewriteRange { .. } => {}
                _ => unreachable!("not a request fault"),
            }
            let (plan, chosen) = (plan.clone(), chosen.clone());
            if !matches!(chosen.fault, Fault::RewriteRange { .. }) {
                body.fire = Some(Box::new(move || fired(&plan, &chosen)));
            }
        }
        match forward_body(&mut input, &mut server, framing, &mut body).await {
            Ok(Pumped::Done) => {}
            Ok(Pumped::Stopped) => {
                let chosen = request_fault.expect("only a fault stops a body");
                fired(&plan, &chosen);
                let _ = server.flush().await;
                match chosen.fault {
                    Fault::StallRequest { stall, .. } => tokio::time::sleep(stall).await,
                    Fault::LateRequestEnd { hold } => {
                        tokio::time::sleep(hold).await;
                        let Framing::Length(n) = framing else {
                            unreachable!("only a known length is held back")
                        };
                        body.stop_at = None;
                        let rest = n - body.offset;
                        if body.pump(&mut input, &mut server, rest).await.is_err() {
                            return End::Reset;
                        }
                        let _ = server.flush().await;
                        // Read nothing more from the client: its end of the connection, if
                        // it has given up, must not cut the request short at the server.
                        return End::Eof;
                    }
                    _ => {}
                }
                return End::Reset;
            }
            Err(_) => return End::Reset,
        }
        let _ = server.flush().await;
    }
}

/// Server to client: one response after another, each matched with its request.
async fn responses<R, W>(
    mut input: Input<R>,
    mut client: W,
    mut rx: mpsc::UnboundedReceiver<Exchange>,
    plan: Arc<Mutex<Plan>>,
) -> End
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    loop {
        // Wait for the next request, passing on the server closing an idle connection.
        let exchange = loop {
            tokio::select! {
                // A request already announced comes first, even if the server closed meanwhile.
                biased;
                exchange = rx.recv() => break exchange,
                filled = input.fill() => match filled {
                    Ok(0) | Err(_) => {
                        let _ = client.shutdown().await;
                        return End::Eof;
                    }
                    Ok(_) => {}
                }
            }
        };
        let Some(exchange) = exchange else {
            // The client closed; forward whatever the server still sends.
            let mut body = Body::default();
            let _ = forward_body(&mut input, &mut client, Framing::UntilClose, &mut body).await;
            let _ = client.shutdown().await;
            return End::Eof;
        };

        if let Some((answer, ready)) = exchange.synthetic {
            let _ = ready.await;
            if let Some(chosen) = &exchange.chosen {
                fired(&plan, chosen);
            }
            let _ = client.write_all(&answer).await;
            let _ = client.flush().await;
            return End::Close;
        }

        // Interim (1xx) responses come before the final one.
        let (head, status, headers) = loop {
            let head = match input.head().await {
                Ok(Some(head)) => head,
                Ok(None) => {
                    let _ = client.shutdown().await;
                    return End::Eof;
                }
                Err(_) => return End::Reset,
            };
            let Some((status, headers)) = parse_response_head(&head) else {
                return End::Reset;
            };
            if (100..200).contains(&status) && status != 101 {
                if client.write_all(&head).await.is_err() {
                    return End::Reset;
                }
                continue;
            }
            break (head, status, headers);
        };
        let framing = response_framing(exchange.head, status, &headers);
        {
            let mut plan = plan.lock().unwrap_or_else(|p| p.into_inner());
            plan.chunked += usize::from(framing == Framing::Chunked);
            *plan.answered.entry(exchange.label.clone()).or_default() += 1;
        }
        let length = match framing {
            Framing::Length(n) => Some(n),
            _ => None,
        };
        if let Some(
            chosen @ Chosen {
                fault: Fault::RewriteResponse(rewrite),
                ..
            },
        ) = &exchange.chosen
        {
            if framing != Framing::None {
                let Ok(body) = read_body(&mut input, framing).await else {
                    return End::Reset;
                };
                let body = String::from_utf8_lossy(&body);
                let rewritten = (rewrite.0)(&body);
                if rewritten != body {
                    fired(&plan, chosen);
                }
                let head = with_body_length(&head, rewritten.len());
                if client.write_all(&head).await.is_err()
                    || client.write_all(rewritten.as_bytes()).await.is_err()
                {
                    return End::Reset;
                }
                let _ = client.flush().await;
                if exchange.last || framing == Framing::UntilClose {
                    return End::Close;
                }
                continue;
            }
        }
        let mut body = Body::default();
        let mut head = head;
        let mut after_body = End::Eof;
        if let Some(chosen) = &exchange.chosen {
            match chosen.fault {
                Fault::ResetResponse { after: None } => {
                    fired(&plan, chosen);
                    return End::Reset;
                }
                Fault::StallResponse { after: None, stall } => {
                    fired(&plan, chosen);
                    tokio::time::sleep(stall).await;
                    return End::Reset;
                }
                Fault::ResetResponse { after: Some(after) }
                | Fault::StallResponse {
                    after: Some(after), ..
                } => body.stop_at = Some(middle(after, framing)),
                Fault::Truncate { keep } => match length {
                    Some(n) if n > 0 => body.stop_at = Some(keep.min(n / 2)),
                    _ => {
                        fired(&plan, chosen);
                        let _ = client.write_all(&head[..head.len() / 2]).await;
                        let _ = client.flush().await;
                        return End::Close;
                    }
                },
                Fault::WrongLength { delta } => {
                    if let Some(announced) = length
                        .and_then(|n| n.checked_add_signed(delta))
                        .filter(|_| delta != 0)
                    {
                        head = with_content_length(&head, announced);
                        fired(&plan, chosen);
                        after_body = End::Close;
                    }
                }
                Fault::CorruptResponse { at } => {
                    if let Some(n) = length.filter(|n| *n > 0) {
                        body.change = Some((at.min(n / 2), vec![0x20]));
                    }
                }
                Fault::ThrottleResponse { chunk, pause } => body.pace = Some((chunk.max(1), pause)),
                _ => unreachable!("not a response fault"),
            }
            let (plan, chosen) = (plan.clone(), chosen.clone());
            body.fire = Some(Box::new(move || fired(&plan, &chosen)));
        }
        if client.write_all(&head).await.is_err() {
            return End::Reset;
        }
        let pumped = forward_body(&mut input, &mut client, framing, &mut body).await;
        let _ = client.flush().await;
        let chosen = exchange.chosen.as_ref();
        match pumped {
            Err(_) => return End::Reset,
            Ok(Pumped::Stopped) => {
                let chosen = chosen.expect("only a fault stops a body");
                fired(&plan, chosen);
                match chosen.fault {
                    Fault::StallResponse { stall, .. } => {
                        tokio::time::sleep(stall).await;
                        return End::Reset;
                    }
                    Fault::Truncate { .. } => return End::Close,
                    _ => return End::Reset,
                }
            }
            Ok(Pumped::Done) => {}
        }
        if exchange.last || after_body == End::Close || framing == Framing::UntilClose {
            return End::Close;
        }
    }
}

/// Where a fault "after `after` body bytes" lands: no later than the middle of a known body.
fn middle(after: u64, framing: Framing) -> u64 {
    match framing {
        Framing::None => 0,
        Framing::Length(n) => after.min(n / 2),
        Framing::Chunked | Framing::UntilClose => after,
    }
}

/// An S3 error document as a complete response that closes the connection.
fn s3_error(status: u16, code: &str, head_request: bool) -> Vec<u8> {
    let reason = match status {
        400 => "Bad Request",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>Injected by the test proxy.</Message><RequestId>fault-proxy</RequestId></Error>"
    );
    let length = if head_request { 0 } else { body.len() };
    let mut answer = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/xml\r\n\
         content-length: {length}\r\nx-amz-request-id: fault-proxy\r\nconnection: close\r\n\r\n"
    )
    .into_bytes();
    if !head_request {
        answer.extend_from_slice(body.as_bytes());
    }
    answer
}

fn parse_response_head(head: &[u8]) -> Option<(u16, Vec<(String, String)>)> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    Some((status, parse_headers(lines)))
}

/// The head with its Content-Length replaced by `length`.
fn with_content_length(head: &[u8], length: u64) -> Vec<u8> {
    with_header(head, "content-length", &length.to_string())
}

/// `head` framed for a body of `length` bytes: its Content-Length or chunked coding replaced.
fn with_body_length(head: &[u8], length: usize) -> Vec<u8> {
    let text = std::str::from_utf8(head).expect("a parsed head is text");
    let mut out = String::with_capacity(text.len() + 32);
    for line in text.split_inclusive("\r\n") {
        let framing = line.split_once(':').is_some_and(|(name, _)| {
            let name = name.trim();
            name.eq_ignore_ascii_case("content-length")
                || name.eq_ignore_ascii_case("transfer-encoding")
        });
        if line == "\r\n" {
            out.push_str(&format!("content-length: {length}\r\n"));
        }
        if !framing {
            out.push_str(line);
        }
    }
    out.into_bytes()
}

/// The whole body of a message framed as `framing`, without its chunked coding.
async fn read_body<R: AsyncRead + Unpin>(
    input: &mut Input<R>,
    framing: Framing,
) -> io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    forward_body(input, &mut raw, framing, &mut Body::default()).await?;
    if framing != Framing::Chunked {
        return Ok(raw);
    }
    let mut body = Vec::with_capacity(raw.len());
    let mut rest = &raw[..];
    loop {
        let bad = || io::Error::new(io::ErrorKind::InvalidData, "bad chunk");
        let end = find(rest, b"\r\n").ok_or_else(bad)?;
        let size = std::str::from_utf8(&rest[..end])
            .ok()
            .and_then(|l| usize::from_str_radix(l.split(';').next()?.trim(), 16).ok())
            .ok_or_else(bad)?;
        rest = &rest[end + 2..];
        if size == 0 {
            return Ok(body);
        }
        body.extend_from_slice(rest.get(..size).ok_or_else(bad)?);
        rest = rest.get(size + 2..).ok_or_else(bad)?;
    }
}

/// `head` with the value of header `name` replaced by `value`.
fn with_header(head: &[u8], name: &str, value: &str) -> Vec<u8> {
    let text = std::str::from_utf8(head).expect("a parsed head is text");
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive("\r\n") {
        match line.split_once(':') {
            Some((found, _)) if found.trim().eq_ignore_ascii_case(name) => {
                out.push_str(&format!("{found}: {value}\r\n"))
            }
            _ => out.push_str(line),
        }
    }
    out.into_bytes()
}

/// Ten bytes to XOR into the end of any message without changing its CRC32C. A CRC is linear:
/// changing a message by `d` changes its CRC by the CRC (zero start, no final XOR) of `d`, which
/// for a change confined to the last bytes depends on those bytes only. Six bytes are changed
/// at will; the four after them are solved for, so that the change's CRC is zero.
pub fn crc32c_keeping_change() -> [u8; 10] {
    fn raw_crc32c(bytes: &[u8]) -> u32 {
        let mut crc = 0u32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0x82F6_3B78
                } else {
                    crc >> 1
                };
            }
        }
        crc
    }
    let mut change = [0x55u8, 0xaa, 0x0f, 0xf0, 0x33, 0xcc, 0, 0, 0, 0];
    // A basis of the CRCs of the single bits of the last four bytes, each kept with the bits it
    // is made of and indexed by its highest bit; then the CRC of the six changed bytes is
    // spelled out in it. The map is invertible, so every CRC can be.
    let mut basis: [Option<(u32, u32)>; 32] = [None; 32];
    for bit in 0..32 {
        let mut unit = [0u8; 10];
        unit[6 + bit / 8] = 1 << (bit % 8);
        let (mut crc, mut made_of) = (raw_crc32c(&unit), 1u32 << bit);
        for high in (0..32).rev() {
            if crc >> high & 1 == 0 {
                continue;
            }
            match basis[high] {
                Some((other, other_made_of)) => {
                    crc ^= other;
                    made_of ^= other_made_of;
                }
                None => {
                    basis[high] = Some((crc, made_of));
                    break;
                }
            }
        }
    }
    let (mut left, mut solution) = (raw_crc32c(&change), 0u32);
    for high in (0..32).rev() {
        if left >> high & 1 == 1 {
            let (crc, made_of) = basis[high].expect("the last four bytes reach every CRC");
            left ^= crc;
            solution ^= made_of;
        }
    }
    change[6..].copy_from_slice(&solution.to_le_bytes());
    assert_eq!(raw_crc32c(&change), 0, "the change would alter the CRC32C");
    change
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

fn is_chunked(headers: &[(String, String)]) -> bool {
    header(headers, "transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
}

fn content_length(headers: &[(String, String)]) -> Option<u64> {
    header(headers, "content-length").and_then(|v| v.parse().ok())
}

fn request_framing(headers: &[(String, String)]) -> Framing {
    if is_chunked(headers) {
        Framing::Chunked
    } else {
        content_length(headers).map_or(Framing::None, Framing::Length)
    }
}

fn response_framing(head_request: bool, status: u16, headers: &[(String, String)]) -> Framing {
    if head_request || status == 204 || status == 304 || status < 200 {
        Framing::None
    } else if is_chunked(headers) {
        Framing::Chunked
    } else {
        content_length(headers).map_or(Framing::UntilClose, Framing::Length)
    }
}

/// Buffered reading from one socket half.
struct Input<R> {
    io: R,
    buf: Vec<u8>,
    pos: usize,
}

const READ_SIZE: usize = 64 * 1024;

impl<R: AsyncRead + Unpin> Input<R> {
    fn new(io: R) -> Self {
        Input {
            io,
            buf: Vec::with_capacity(READ_SIZE),
            pos: 0,
        }
    }

    fn pending(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
    }

    /// Reads more bytes; 0 at the end of the stream. Cancel-safe.
    async fn fill(&mut self) -> io::Result<usize> {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.reserve(READ_SIZE);
        self.io.read_buf(&mut self.buf).await
    }

    /// The next message head, up to and including its blank line; `None` if the stream ended
    /// before a byte of it.
    async fn head(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(end) = find(self.pending(), b"\r\n\r\n") {
                let head = self.pending()[..end + 4].to_vec();
                self.consume(end + 4);
                return Ok(Some(head));
            }
            if self.pending().len() > READ_SIZE {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "head too long"));
            }
            if self.fill().await? == 0 {
                return if self.pending().is_empty() {
                    Ok(None)
                } else {
                    Err(io::ErrorKind::UnexpectedEof.into())
                };
            }
        }
    }

    /// One line, with its CRLF.
    async fn line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(end) = find(self.pending(), b"\r\n") {
                let line = self.pending()[..end + 2].to_vec();
                self.consume(end + 2);
                return Ok(line);
            }
            if self.fill().await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pumped {
    Done,
    /// Stopped at [`Body::stop_at`].
    Stopped,
}

/// The state of one body in flight, and the faults to apply to it. Offsets count the bytes
/// after the head (for a chunked body, with its framing).
#[derive(Default)]
struct Body {
    offset: u64,
    stop_at: Option<u64>,
    /// XORs these bytes into the body from this offset on.
    change: Option<(u64, Vec<u8>)>,
    pace: Option<(usize, Duration)>,
    /// Counts the fault as fired; called once, before the client can see its effect.
    fire: Option<Box<dyn FnOnce() + Send>>,
}

impl Body {
    /// Forwards at most `n` bytes that are already buffered or arrive next; returns how many.
    async fn step<R, W>(&mut self, input: &mut Input<R>, out: &mut W, n: u64) -> io::Result<u64>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        if let Some((chunk, _)) = self.pace {
            // Gather a whole chunk (a read returns at most [`READ_SIZE`]).
            let want = (chunk as u64).min(n) as usize;
            while input.pending().len() < want && input.fill().await? > 0 {}
        }
        if input.pending().is_empty() && input.fill().await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let mut take = (input.pending().len() as u64).min(n);
        if let Some(stop) = self.stop_at {
            take = take.min(stop.saturating_sub(self.offset));
        }
        if let Some((chunk, _)) = self.pace {
            take = take.min(chunk as u64);
        }
        let mut bytes = input.pending()[..take as usize].to_vec();
        if let Some((at, mask)) = &self.change {
            let mut changed = false;
            for (i, m) in mask.iter().enumerate() {
                let at = at + i as u64;
                if (self.offset..self.offset + take).contains(&at) {
                    bytes[(at - self.offset) as usize] ^= m;
                    changed = true;
                }
            }
            if changed {
                self.fire();
            }
        }
        out.write_all(&bytes).await?;
        input.consume(take as usize);
        self.offset += take;
        if let Some((_, pause)) = self.pace {
            out.flush().await?;
            if take < n {
                // More is to come, later than it could: the body is being slowed down.
                self.fire();
                tokio::time::sleep(pause).await;
            }
        }
        Ok(take)
    }

    fn fire(&mut self) {
        if let Some(fire) = self.fire.take() {
            fire();
        }
    }

    fn stopped(&self) -> bool {
        self.stop_at.is_some_and(|stop| self.offset >= stop)
    }

    /// Forwards exactly `n` bytes, unless the body reaches its stop first.
    async fn pump<R, W>(
        &mut self,
        input: &mut Input<R>,
        out: &mut W,
        mut n: u64,
    ) -> io::Result<Pumped>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        while n > 0 {
            if self.stopped() {
                return Ok(Pumped::Stopped);
            }
            n -= self.step(input, out, n).await?;
        }
        Ok(Pumped::Done)
    }
}

/// Forwards one message body framed as `framing`.
async fn forward_body<R, W>(
    input: &mut Input<R>,
    out: &mut W,
    framing: Framing,
    body: &mut Body,
) -> io::Result<Pumped>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    if body.stopped() {
        return Ok(Pumped::Stopped);
    }
    match framing {
        Framing::None => Ok(Pumped::Done),
        Framing::Length(n) => body.pump(input, out, n).await,
        Framing::UntilClose => loop {
            if body.stopped() {
                return Ok(Pumped::Stopped);
            }
            match body.step(input, out, u64::MAX).await {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(Pumped::Done),
                Err(e) => return Err(e),
            }
        },
        Framing::Chunked => loop {
            if body.stopped() {
                return Ok(Pumped::Stopped);
            }
            let line = input.line().await?;
            out.write_all(&line).await?;
            body.offset += line.len() as u64;
            let size = std::str::from_utf8(&line)
                .ok()
                .and_then(|l| u64::from_str_radix(l.split(';').next()?.trim(), 16).ok())
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
            if size == 0 {
                // Trailers, up to the blank line.
                loop {
                    let line = input.line().await?;
                    out.write_all(&line).await?;
                    body.offset += line.len() as u64;
                    if line == b"\r\n" {
                        return Ok(Pumped::Done);
                    }
                }
            }
            if body.pump(input, out, size + 2).await? == Pumped::Stopped {
                return Ok(Pumped::Stopped);
            }
        },
    }
}
