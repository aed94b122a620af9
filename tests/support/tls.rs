//! HTTPS for the test servers: a certificate authority made when the tests run, and a front
//! that terminates TLS with a certificate it issued and passes the bytes on to a plain-HTTP
//! server on loopback (or, without TLS, only relays and counts connections).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio_rustls::TlsAcceptor;

/// A private certificate authority, as a company CA would be.
pub struct TestCa {
    params: CertificateParams,
    key: KeyPair,
    /// Its certificate, PEM-encoded: what a client must be told to trust.
    pub pem: String,
}

/// A certificate and its private key, ready for a TLS server.
pub struct ServerCertificate {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl TestCa {
    pub fn new() -> TestCa {
        let key = KeyPair::generate().expect("a CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        // A name of its own: a client that trusts another test CA must not mistake this one
        // for it (same name, other key: a bad signature rather than an unknown issuer).
        static MADE: AtomicUsize = AtomicUsize::new(0);
        params.distinguished_name.push(
            DnType::CommonName,
            format!(
                "s3os test CA {}-{}",
                std::process::id(),
                MADE.fetch_add(1, Ordering::Relaxed)
            ),
        );
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let pem = params.self_signed(&key).expect("the CA certificate").pem();
        TestCa { params, key, pem }
    }

    /// Writes the CA's certificate to `path`: a CA bundle a client can be pointed at.
    pub fn write_bundle(&self, path: &std::path::Path) -> std::path::PathBuf {
        std::fs::write(path, &self.pem).expect("writing the CA bundle");
        path.to_path_buf()
    }

    /// A server certificate for `names` (host names, `*.domain` wildcards or IP addresses),
    /// valid from yesterday for a year, or expired since yesterday.
    pub fn issue(&self, names: &[&str], expired: bool) -> ServerCertificate {
        let key = KeyPair::generate().expect("a server key");
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("server certificate parameters");
        let day = time::Duration::days(1);
        let now = time::OffsetDateTime::now_utc();
        (params.not_before, params.not_after) = if expired {
            (now - 30 * day, now - day)
        } else {
            (now - day, now + 365 * day)
        };
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).expect("signing");
        ServerCertificate {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    }
}

/// A front to a plain-HTTP `upstream`, with or without TLS; stops when dropped.
pub struct Front {
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    runtime: Option<Runtime>,
}

impl Front {
    /// Terminates TLS with `certificate`.
    pub fn tls(upstream: SocketAddr, certificate: ServerCertificate) -> Front {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(certificate.chain, certificate.key)
            .expect("the server certificate");
        Front::start(upstream, Some(TlsAcceptor::from(Arc::new(config))))
    }

    /// Relays bytes as they are.
    pub fn plain(upstream: SocketAddr) -> Front {
        Front::start(upstream, None)
    }

    fn start(upstream: SocketAddr, acceptor: Option<TlsAcceptor>) -> Front {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tls-front")
            .enable_all()
            .build()
            .expect("TLS front runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("binding the TLS port");
        let addr = listener.local_addr().expect("TLS front address");
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        runtime.spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                counted.fetch_add(1, Ordering::Relaxed);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let mut client = client;
                    match acceptor {
                        Some(acceptor) => {
                            if let Ok(mut tls) = acceptor.accept(client).await {
                                let _ = tokio::io::copy_bidirectional(&mut tls, &mut server).await;
                            }
                        }
                        None => {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    }
                });
            }
        });
        Front {
            addr,
            connections,
            runtime: Some(runtime),
        }
    }

    /// `https://<host>:<port>`: `host` must resolve to loopback (`localhost`, `127.0.0.1`).
    pub fn endpoint(&self, host: &str) -> String {
        format!("https://{host}:{}", self.addr.port())
    }

    /// TCP connections clients opened, handshakes that failed included.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}
