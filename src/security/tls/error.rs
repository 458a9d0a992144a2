//! [`TlsError`]: why TLS settings could not be loaded, or why a broker's
//! TLS handshake was refused.

use std::path::PathBuf;

/// A TLS failure: loading the settings (at session start, before any
/// connection), or a handshake with a broker. None of these is cured by
/// retrying: each needs a change of settings or of the broker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file could not be read.
    #[error("cannot read the {what} {path}: {reason}")]
    Read {
        /// Which setting the file is for, e.g. `CA file (ssl.ca.location)`.
        what: &'static str,
        /// The file's path.
        path: PathBuf,
        /// The IO error.
        reason: String,
    },
    /// A PEM source holds none of the sections it should.
    #[error("the {what} holds no {expected} in PEM form")]
    NoPem {
        /// Which setting the PEM is for.
        what: &'static str,
        /// What it should hold, e.g. `certificate`.
        expected: &'static str,
    },
    /// A PEM source could not be parsed.
    #[error("the {what} is not valid PEM: {reason}")]
    BadPem {
        /// Which setting the PEM is for.
        what: &'static str,
        /// The parser's error.
        reason: String,
    },
    /// The client key is encrypted PKCS#8 and no password was set.
    #[error("the client key is encrypted and no ssl.key.password was given")]
    KeyPasswordNeeded,
    /// The client key could not be decrypted.
    #[error("cannot decrypt the client key: wrong ssl.key.password, or an encryption scheme other than PBES2 ({reason})")]
    KeyDecrypt {
        /// The decryption error.
        reason: String,
    },
    /// The client key uses OpenSSL's legacy PEM encryption, which is not
    /// supported.
    #[error("the client key is in OpenSSL's legacy encrypted PEM format (Proc-Type: 4,ENCRYPTED); convert it to encrypted PKCS#8 with `openssl pkcs8 -topk8 -v2 aes-256-cbc`")]
    LegacyEncryptedKey,
    /// The operating system's CA store gave no usable certificate.
    #[error("the system's CA store has no usable certificates ({reason}); set ssl.ca.location")]
    NoSystemRoots {
        /// Why the store could not be used.
        reason: String,
    },
    /// A configured CA certificate could not be used.
    #[error("a CA certificate was refused: {reason}")]
    BadCaCertificate {
        /// The TLS library's error.
        reason: String,
    },
    /// The client certificate or key could not be used.
    #[error("the client certificate or key was refused: {reason}")]
    BadClientIdentity {
        /// The TLS library's error.
        reason: String,
    },
    /// The broker's host cannot be sent as a TLS server name (SNI).
    #[error("{name:?} is not a valid TLS server name")]
    InvalidServerName {
        /// The host name.
        name: String,
    },
    /// The broker's certificate chain does not lead to a trusted CA.
    #[error("the broker's certificate is not signed by a trusted CA (check ssl.ca.location)")]
    UnknownIssuer,
    /// The broker's certificate is outside its validity period.
    #[error("the broker's certificate has expired or is not valid yet")]
    CertificateExpired,
    /// The broker's certificate does not name the host connected to.
    #[error("the broker's certificate is not valid for the name {name:?} (ssl.endpoint.identification.algorithm=none turns the name check off)")]
    CertificateNameMismatch {
        /// The host name the client connected to.
        name: String,
    },
    /// The broker's certificate was rejected for another reason.
    #[error("the broker's certificate is invalid: {reason}")]
    InvalidCertificate {
        /// The TLS library's reason.
        reason: String,
    },
    /// The broker sent a TLS alert, often about the client certificate.
    #[error("the broker refused the TLS session: {alert} (a client certificate it does not accept, or none where one is required?)")]
    AlertReceived {
        /// The alert's description.
        alert: String,
    },
    /// The connection closed during the handshake, as a plaintext listener
    /// does when it receives TLS.
    #[error("the broker closed the connection during the TLS handshake: is this a TLS listener?")]
    ClosedDuringHandshake,
    /// A plaintext connection got a TLS record back: the listener expects TLS.
    #[error("the broker answered in TLS: its listener expects security.protocol SSL or SASL_SSL")]
    PlaintextToTlsListener,
    /// Any other TLS failure.
    #[error("TLS failed: {reason}")]
    Protocol {
        /// The TLS library's error.
        reason: String,
    },
}

impl TlsError {
    /// The error for a rustls failure during or after the handshake with a
    /// broker reached as `name`.
    pub fn from_rustls(error: &rustls::Error, name: &str) -> TlsError {
        use rustls::{AlertDescription, CertificateError, Error};
        match error {
            Error::InvalidCertificate(cert) => match cert {
                CertificateError::UnknownIssuer => TlsError::UnknownIssuer,
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. } => TlsError::CertificateExpired,
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => {
                    TlsError::CertificateNameMismatch {
                        name: name.to_string(),
                    }
                }
                other => TlsError::InvalidCertificate {
                    reason: format!("{other:?}"),
                },
            },
            Error::AlertReceived(alert) => TlsError::AlertReceived {
                alert: match alert {
                    AlertDescription::CertificateRequired => "certificate required".into(),
                    AlertDescription::BadCertificate => "bad certificate".into(),
                    AlertDescription::UnknownCA => "unknown CA".into(),
                    AlertDescription::HandshakeFailure => "handshake failure".into(),
                    other => format!("{other:?}"),
                },
            },
            other => TlsError::Protocol {
                reason: other.to_string(),
            },
        }
    }

    /// The error for an IO failure of a TLS stream: a rustls error carried
    /// inside it (as rustls's async adapters do), an end of stream during
    /// the handshake, or `None` when it is a plain IO error.
    pub fn from_io(error: &std::io::Error, name: &str, handshaking: bool) -> Option<TlsError> {
        if let Some(inner) = error
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>())
        {
            return Some(TlsError::from_rustls(inner, name));
        }
        let closed = matches!(
            error.kind(),
            std::io::ErrorKind::UnexpectedEof
                | std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::BrokenPipe
        );
        (handshaking && closed).then_some(TlsError::ClosedDuringHandshake)
    }
}
