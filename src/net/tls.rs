//! Which servers a store trusts: the certificates of a CA bundle (`ca_bundle`,
//! `AWS_CA_BUNDLE`), the system's certificate authorities, or, with `verify_tls=false`, any
//! certificate at all.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::{CaBundle, Config};
use crate::error::{Error, Result};

/// A store's TLS client settings and a description of them for the log.
pub struct Trust {
    pub client: Arc<ClientConfig>,
    pub description: String,
}

/// The TLS settings `config` asks for. A CA bundle is read here, when the store is created,
/// so that a missing or malformed file is reported then rather than by every request.
pub fn trust(config: &Config) -> Result<Trust> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::invalid(format!("TLS settings: {e}")))?;
    let (mut client, description) = if !config.verify_tls {
        let client = builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth();
        (
            client,
            "server certificates are NOT verified (verify_tls=false: insecure)".to_string(),
        )
    } else {
        let (roots, description) = match &config.ca_bundle {
            Some(bundle) => (bundle_roots(bundle)?, bundle_description(bundle)),
            None => {
                let roots = system_roots();
                let description = format!(
                    "trusting the system's certificate authorities ({} found)",
                    roots.len()
                );
                (roots.clone(), description)
            }
        };
        (
            builder.with_root_certificates(roots).with_no_client_auth(),
            description,
        )
    };
    // S3 speaks HTTP/1.1; offering only that keeps every server on the same protocol.
    client.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Trust {
        client: Arc::new(client),
        description,
    })
}

fn bundle_description(bundle: &CaBundle) -> String {
    format!(
        "trusting only the certificates of {} ({})",
        bundle.path, bundle.origin
    )
}

/// The certificates of a PEM file, as trusted roots.
fn bundle_roots(bundle: &CaBundle) -> Result<RootCertStore> {
    let named = |problem: String| {
        Error::invalid(format!(
            "{} {:?}: {problem}; expected a PEM file of CA certificates",
            bundle.origin, bundle.path
        ))
    };
    let pem = std::fs::read(&bundle.path).map_err(|e| named(format!("cannot be read ({e})")))?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| named(format!("is not valid PEM ({e})")))?;
    if certificates.is_empty() {
        return Err(named("holds no certificate".to_string()));
    }
    let mut roots = RootCertStore::empty();
    for (at, certificate) in certificates.into_iter().enumerate() {
        roots.add(certificate).map_err(|e| {
            named(format!(
                "certificate {} cannot be a trusted root ({e})",
                at + 1
            ))
        })?;
    }
    Ok(roots)
}

/// The system's certificate authorities, read once per process.
fn system_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for error in &found.errors {
            log_warn!("reading the system's certificate authorities: {error}");
        }
        let mut roots = RootCertStore::empty();
        let (_, unusable) = roots.add_parsable_certificates(found.certs);
        if unusable > 0 {
            log_debug!("{unusable} of the system's certificates cannot be trusted roots; skipped");
        }
        if roots.is_empty() {
            log_warn!(
                "no certificate authorities found on this system: https:// endpoints need ca_bundle or AWS_CA_BUNDLE"
            );
        }
        roots
    })
}

/// Accepts any certificate for any name: what `verify_tls=false` asks for. The handshake's
/// signatures are still checked against the certificate presented, so that the connection
/// at least speaks TLS correctly.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Seeds the TLS library's random generator now, while a store that will speak TLS is created.
/// aws-lc seeds it on first use from CPU jitter entropy, which costs tens of milliseconds of
/// CPU once per process; left to the first handshake, that would delay the first request. A
/// failure here changes nothing: the first handshake would meet it again and report it.
pub fn warm_up_random(client: &ClientConfig) {
    let _ = client.crypto_provider().secure_random.fill(&mut [0u8; 32]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_with_bundle(path: &str) -> Config {
        let mut config = Config::new("b").unwrap();
        config.set("ca_bundle", path).unwrap();
        config
    }

    #[test]
    fn a_bundle_that_cannot_serve_is_named_with_its_problem() {
        let dir = std::env::temp_dir().join(format!("s3os-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.pem");
        let err = trust(&config_with_bundle(missing.to_str().unwrap()))
            .err()
            .unwrap();
        assert!(err.message().contains("cannot be read"), "{err}");
        assert!(err.message().starts_with("ca_bundle"), "{err}");

        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "no certificates here\n").unwrap();
        let err = trust(&config_with_bundle(empty.to_str().unwrap()))
            .err()
            .unwrap();
        assert!(err.message().contains("holds no certificate"), "{err}");

        let garbage = dir.join("garbage.pem");
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let err = trust(&config_with_bundle(garbage.to_str().unwrap()))
            .err()
            .unwrap();
        assert!(err.message().contains("not valid PEM"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unverified_tls_says_so() {
        let mut config = Config::new("b").unwrap();
        config.set("verify_tls", "false").unwrap();
        let trust = trust(&config).unwrap();
        assert!(trust.description.contains("NOT verified"));
        assert_eq!(trust.client.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }
}
