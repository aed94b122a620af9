#![allow(dead_code)] // shared by several test binaries and an example; each uses a part.
//! A real S3 server (s3s-fs over hyper) on loopback with SigV4 authentication, for tests and
//! the demo. Runs on its own thread and runtime, independent of the library's.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::{S3Auth, SecretKey, SimpleAuth};
use s3s::host::{S3Host, VirtualHost};
use s3s::service::S3ServiceBuilder;
use s3s::S3Result;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub const ACCESS_KEY: &str = "s3os-test-access-key";
pub const SECRET_KEY: &str = "s3os-test-secret-key-0123456789";
pub const BUCKET: &str = "test-bucket";

/// A running server; stops when dropped.
pub struct LocalS3 {
    pub addr: SocketAddr,
    pub root: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// How a server differs from the default one (path-style addressing, the key [`ACCESS_KEY`]).
#[derive(Default, Clone)]
pub struct ServerOptions {
    /// Also serves virtual-hosted requests for buckets under this domain
    /// (`<bucket>.<domain>[:port]`); requests to other hosts are path-style.
    pub virtual_host_domain: Option<String>,
    /// Authenticates with this instead of the single test key.
    pub auth: Option<Arc<dyn S3Auth>>,
}

impl LocalS3 {
    /// Serves the directory `root` (created if missing, with an empty bucket [`BUCKET`]) on
    /// `127.0.0.1:port` (0 picks a free port).
    pub fn start(root: &Path, port: u16) -> LocalS3 {
        LocalS3::start_with(root, port, ServerOptions::default())
    }

    /// [`LocalS3::start`] with `options`.
    pub fn start_with(root: &Path, port: u16, options: ServerOptions) -> LocalS3 {
        std::fs::create_dir_all(root.join(BUCKET)).expect("creating the server's data directory");
        let root = root.canonicalize().expect("canonical data directory");
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop, stop_rx) = oneshot::channel();
        let served = root.clone();
        let thread = std::thread::Builder::new()
            .name("local-s3".into())
            .spawn(move || serve(served, port, options, ready_tx, stop_rx))
            .expect("spawning the server thread");
        let addr = ready_rx.recv().expect("the server failed to start");
        LocalS3 {
            addr,
            root,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Multipart uploads the server still holds (created, neither completed nor aborted).
    pub fn unfinished_uploads(&self) -> Vec<String> {
        std::fs::read_dir(&self.root)
            .expect("reading the server's data directory")
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|name| name.starts_with(".upload"))
            .collect()
    }
}

impl Drop for LocalS3 {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Virtual-hosted addressing under one domain, whatever the port; path-style elsewhere.
struct VirtualHosts(String);

impl S3Host for VirtualHosts {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
        match name
            .strip_suffix(self.0.as_str())
            .and_then(|rest| rest.strip_suffix('.'))
        {
            Some(bucket) if !bucket.is_empty() => Ok(VirtualHost::new(host).with_bucket(bucket)),
            _ => Ok(VirtualHost::new(host)),
        }
    }
}

/// An authentication shared with the test that made it (which may change its keys).
struct SharedAuth(Arc<dyn S3Auth>);

#[async_trait::async_trait]
impl S3Auth for SharedAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        self.0.get_secret_key(access_key).await
    }
}

fn serve(
    root: PathBuf,
    port: u16,
    options: ServerOptions,
    ready: mpsc::Sender<SocketAddr>,
    stop: oneshot::Receiver<()>,
) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("server runtime");
    runtime.block_on(async move {
        let fs = s3s_fs::FileSystem::new(&root).expect("s3s-fs over the data directory");
        let mut builder = S3ServiceBuilder::new(fs);
        match options.auth {
            Some(auth) => builder.set_auth(SharedAuth(auth)),
            None => builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY)),
        }
        if let Some(domain) = options.virtual_host_domain {
            builder.set_host(VirtualHosts(domain));
        }
        let service = builder.build();
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("binding the server port");
        ready
            .send(listener.local_addr().expect("local address"))
            .expect("announcing the address");
        let http = ConnBuilder::new(TokioExecutor::new());
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut stop = std::pin::pin!(stop);
        loop {
            let socket = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((socket, _)) => socket,
                    Err(_) => continue,
                },
                _ = stop.as_mut() => break,
            };
            let connection = http.serve_connection(TokioIo::new(socket), service.clone());
            let connection = graceful.watch(connection.into_owned());
            tokio::spawn(async move {
                let _ = connection.await;
            });
        }
        drop(listener);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), graceful.shutdown()).await;
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
}
