//! [`TlsConnector`]: [`TlsConfig`] loaded into a rustls client config:
//! CA certificates, the client's certificate and key (decrypted if need
//! be) and the verifier, read once per session and shared by every
//! connection.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use pkcs8::der::Decode;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::{PemObject, SectionKind};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::config::{ClientIdentity, KeySource, PemSource, TlsConfig, TrustRoots};
use super::error::TlsError;

/// TLS settings made ready for connections: cheap to clone (one shared
/// rustls config).
#[derive(Clone)]
pub struct TlsConnector {
    config: Arc<rustls::ClientConfig>,
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConnector").finish_non_exhaustive()
    }
}

impl TlsConnector {
    /// Reads and checks everything `config` names: the CA certificates,
    /// the client certificate chain and key. Errors here are settings
    /// errors, reported before any connection is tried.
    pub fn new(config: &TlsConfig) -> Result<TlsConnector, TlsError> {
        // ring: it builds with a C compiler alone (aws-lc-rs wants cmake),
        // and its AES-GCM is as fast. rustls deprecates it only for its
        // lack of post-quantum key exchange, which Kafka's JVM brokers do
        // not offer either.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Protocol {
                reason: e.to_string(),
            })?;
        let verifier: Arc<dyn ServerCertVerifier> = if config.dangerous_accept_any_certificate {
            Arc::new(RelaxedVerifier {
                chain: None,
                provider,
            })
        } else {
            let roots = Arc::new(load_roots(&config.roots)?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| TlsError::BadCaCertificate {
                    reason: e.to_string(),
                })?;
            if config.verify_hostname {
                webpki
            } else {
                Arc::new(RelaxedVerifier {
                    chain: Some(webpki),
                    provider,
                })
            }
        };
        let builder = builder
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let client = match &config.client_identity {
            None => builder.with_no_client_auth(),
            Some(identity) => {
                let (chain, key) = load_identity(identity)?;
                builder.with_client_auth_cert(chain, key).map_err(|e| {
                    TlsError::BadClientIdentity {
                        reason: e.to_string(),
                    }
                })?
            }
        };
        Ok(TlsConnector {
            config: Arc::new(client),
        })
    }

    /// The rustls config, for an async adapter that makes its own
    /// connections from it (`futures-rustls`, `tokio-rustls`).
    pub fn rustls_config(&self) -> Arc<rustls::ClientConfig> {
        Arc::clone(&self.config)
    }

    /// The name a broker reached at `host` must carry in its certificate
    /// (an IP address or a DNS name), also sent as SNI for DNS names.
    pub fn server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        ServerName::try_from(host.to_string()).map_err(|_| TlsError::InvalidServerName {
            name: host.to_string(),
        })
    }

    /// A sans-IO TLS client connection to a broker at `host`: feed it what
    /// the socket reads (`read_tls`, `process_new_packets`), write what it
    /// has for the socket (`write_tls`), and move plaintext through its
    /// `reader()` and `writer()`.
    pub fn client_connection(&self, host: &str) -> Result<rustls::ClientConnection, TlsError> {
        let name = TlsConnector::server_name(host)?;
        rustls::ClientConnection::new(self.rustls_config(), name)
            .map_err(|e| TlsError::from_rustls(&e, host))
    }
}

fn read_file(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::Read {
        what,
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

fn pem_bytes(what: &'static str, source: &PemSource) -> Result<Vec<u8>, TlsError> {
    match source {
        PemSource::File(path) => read_file(what, path),
        PemSource::Text(text) => Ok(text.as_bytes().to_vec()),
    }
}

/// Every certificate in a PEM document; at least one.
fn certificates(what: &'static str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadPem {
            what,
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoPem {
            what,
            expected: "certificate",
        });
    }
    Ok(certs)
}

fn load_roots(roots: &TrustRoots) -> Result<RootCertStore, TlsError> {
    const WHAT: &str = "CA file (ssl.ca.location)";
    let mut store = RootCertStore::empty();
    match roots {
        TrustRoots::System => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _ignored) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                let reason = match found.errors.first() {
                    Some(e) => e.to_string(),
                    None => "no certificates found".into(),
                };
                return Err(TlsError::NoSystemRoots { reason });
            }
        }
        TrustRoots::PemFile(path) => {
            let pem = read_file(WHAT, path)?;
            add_roots(&mut store, &pem)?;
        }
        TrustRoots::Pem(text) => add_roots(&mut store, text.as_bytes())?,
    }
    Ok(store)
}

fn add_roots(store: &mut RootCertStore, pem: &[u8]) -> Result<(), TlsError> {
    for cert in certificates("CA certificates", pem)? {
        store.add(cert).map_err(|e| TlsError::BadCaCertificate {
            reason: e.to_string(),
        })?;
    }
    Ok(())
}

type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn load_identity(identity: &ClientIdentity) -> Result<Identity, TlsError> {
    let chain = certificates(
        "client certificate (ssl.certificate.location)",
        &pem_bytes(
            "client certificate (ssl.certificate.location)",
            &identity.certificate_chain,
        )?,
    )?;
    let pem = match &identity.key {
        KeySource::File(path) => read_file("client key (ssl.key.location)", path)?,
        KeySource::Text(secret) => secret.expose().as_bytes().to_vec(),
    };
    let password = identity.key_password.as_ref().map(|p| p.expose());
    Ok((chain, private_key(&pem, password)?))
}

/// The first private key in `pem`: PKCS#8 (encrypted ones decrypted with
/// `password`), PKCS#1 RSA or SEC1 EC.
fn private_key(pem: &[u8], password: Option<&str>) -> Result<PrivateKeyDer<'static>, TlsError> {
    const WHAT: &str = "client key (ssl.key.location)";
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem) {
        let (kind, der) = section.map_err(|e| TlsError::BadPem {
            what: WHAT,
            reason: e.to_string(),
        })?;
        match kind {
            SectionKind::PrivateKey => {
                return Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der)));
            }
            SectionKind::RsaPrivateKey => return Ok(PrivateKeyDer::Pkcs1(der.into())),
            SectionKind::EcPrivateKey => return Ok(PrivateKeyDer::Sec1(der.into())),
            _ => {}
        }
    }
    // rustls's PEM reader passes over sections it has no kind for, among
    // them encrypted PKCS#8.
    let text = String::from_utf8_lossy(pem);
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(TlsError::LegacyEncryptedKey);
    }
    if let Ok((label, document)) = pkcs8::der::SecretDocument::from_pem(&text) {
        if label == "ENCRYPTED PRIVATE KEY" {
            let password = password.ok_or(TlsError::KeyPasswordNeeded)?;
            let info =
                pkcs8::EncryptedPrivateKeyInfo::from_der(document.as_bytes()).map_err(|e| {
                    TlsError::KeyDecrypt {
                        reason: e.to_string(),
                    }
                })?;
            let decrypted = info.decrypt(password).map_err(|e| TlsError::KeyDecrypt {
                reason: e.to_string(),
            })?;
            return Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                decrypted.as_bytes().to_vec(),
            )));
        }
    }
    Err(TlsError::NoPem {
        what: WHAT,
        expected: "private key",
    })
}

/// The verifier when the defaults do not hold: the chain and validity
/// checked as usual but not the name
/// (`ssl.endpoint.identification.algorithm=none`), or, with no chain
/// verifier, any certificate accepted. The handshake's signatures are
/// checked against the certificate presented either way (so the session
/// is at least with whoever holds that certificate's key).
#[derive(Debug)]
struct RelaxedVerifier {
    /// `None`: any certificate (`dangerous_accept_any_certificate`).
    chain: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for RelaxedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        // webpki checks the name last, once the chain and dates hold.
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
