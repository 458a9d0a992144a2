//! [`TlsConfig`]: what a TLS connection to the brokers checks and presents,
//! as plain settings (paths or PEM text), loaded once per session into a
//! [`TlsConnector`](super::TlsConnector).

use std::path::PathBuf;

use crate::security::Secret;

/// Where the certificates of the CAs trusted to sign broker certificates
/// come from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TrustRoots {
    /// The operating system's store (`/etc/ssl/certs` and the like): what
    /// managed services' certificates are signed by. The default.
    #[default]
    System,
    /// A PEM file of one or more CA certificates (`ssl.ca.location`).
    PemFile(PathBuf),
    /// PEM text of one or more CA certificates (`ssl.ca.pem`).
    Pem(String),
}

/// A PEM document: a file to read, or the text itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PemSource {
    /// A path to a PEM file.
    File(PathBuf),
    /// The PEM text.
    Text(String),
}

/// A private key's PEM: a file to read, or the text itself (a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A path to a PEM key file.
    File(PathBuf),
    /// The key's PEM text.
    Text(Secret),
}

/// A client certificate for mutual TLS: the certificate chain (the
/// client's own first), its private key (PKCS#8, PKCS#1 RSA or SEC1 EC,
/// PEM; PKCS#8 may be encrypted) and the key's password if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// The client's certificate, then its intermediates
    /// (`ssl.certificate.location` or `ssl.certificate.pem`).
    pub certificate_chain: PemSource,
    /// The certificate's private key (`ssl.key.location` or `ssl.key.pem`).
    pub key: KeySource,
    /// `ssl.key.password`.
    pub key_password: Option<Secret>,
}

/// TLS settings, named after librdkafka's and the Java client's `ssl.*`
/// properties. The defaults are the safe ones: the system's CAs, the
/// broker's certificate checked for the name the client connected to
/// (with SNI), TLS 1.2 or 1.3.
///
/// ```
/// use kafkite::security::TlsConfig;
///
/// let tls = TlsConfig::new()
///     .ca_file("/etc/kafka/ca.pem")
///     .client_certificate_files("/etc/kafka/client.pem", "/etc/kafka/client.key");
/// assert!(tls.verifies_hostname());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// The CAs trusted to sign broker certificates.
    pub roots: TrustRoots,
    /// The certificate to present for mutual TLS; `None` presents none.
    pub client_identity: Option<ClientIdentity>,
    /// Whether the broker's certificate must name the host connected to
    /// (`ssl.endpoint.identification.algorithm=https`, the default; `none`
    /// turns it off). The chain is checked either way.
    pub verify_hostname: bool,
    /// Accept any certificate from the broker, signed or not, expired or
    /// not (`enable.ssl.certificate.verification=false`). Anyone between
    /// the client and the broker can then read and change the traffic:
    /// for tests only, hence the name of the method that sets it.
    pub dangerous_accept_any_certificate: bool,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            roots: TrustRoots::System,
            client_identity: None,
            verify_hostname: true,
            dangerous_accept_any_certificate: false,
        }
    }
}

impl TlsConfig {
    /// The defaults: the system's CAs, hostnames verified, no client
    /// certificate.
    pub fn new() -> Self {
        TlsConfig::default()
    }

    /// Trust the CA certificates in this PEM file instead of the system's
    /// (`ssl.ca.location`).
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.roots = TrustRoots::PemFile(path.into());
        self
    }

    /// Trust the CA certificates in this PEM text (`ssl.ca.pem`).
    pub fn ca_pem(mut self, pem: impl Into<String>) -> Self {
        self.roots = TrustRoots::Pem(pem.into());
        self
    }

    /// Present this certificate chain and key for mutual TLS
    /// (`ssl.certificate.location`, `ssl.key.location`).
    pub fn client_certificate_files(
        mut self,
        certificate_chain: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.client_identity = Some(ClientIdentity {
            certificate_chain: PemSource::File(certificate_chain.into()),
            key: KeySource::File(key.into()),
            key_password: None,
        });
        self
    }

    /// Present this certificate chain and key, given as PEM text
    /// (`ssl.certificate.pem`, `ssl.key.pem`).
    pub fn client_certificate_pem(
        mut self,
        certificate_chain: impl Into<String>,
        key: impl Into<Secret>,
    ) -> Self {
        self.client_identity = Some(ClientIdentity {
            certificate_chain: PemSource::Text(certificate_chain.into()),
            key: KeySource::Text(key.into()),
            key_password: None,
        });
        self
    }

    /// The password of an encrypted client key (`ssl.key.password`).
    /// Set it after the certificate; without a certificate it has nothing
    /// to apply to and is ignored.
    pub fn key_password(mut self, password: impl Into<Secret>) -> Self {
        if let Some(identity) = &mut self.client_identity {
            identity.key_password = Some(password.into());
        }
        self
    }

    /// Check the chain but not that the certificate names the host
    /// (`ssl.endpoint.identification.algorithm=none`): for brokers
    /// reached by an address their certificates do not carry.
    pub fn without_hostname_verification(mut self) -> Self {
        self.verify_hostname = false;
        self
    }

    /// Accept any certificate at all: no encryption worth the name, since
    /// anyone on the path can pose as the broker. For tests against
    /// throwaway brokers only.
    pub fn dangerous_accept_any_certificate(mut self) -> Self {
        self.dangerous_accept_any_certificate = true;
        self
    }

    /// Whether the broker's certificate is checked for the host name: set,
    /// and not overridden by accepting any certificate.
    pub fn verifies_hostname(&self) -> bool {
        self.verify_hostname && !self.dangerous_accept_any_certificate
    }
}
