//! The client scope's security: `security.protocol` and the `ssl.*` and
//! `sasl.*` properties, onto [`TlsConfig`] and [`SaslConfig`], checked
//! against each other. Where librdkafka ignores a setting the protocol
//! does not use, kafkite refuses it: a TLS setting under PLAINTEXT is a
//! mistake worth hearing about before the connection goes out unencrypted.

use crate::security::{
    ClientIdentity, KeySource, PemSource, SaslConfig, ScramHash, Secret, SecurityProtocol,
    TlsConfig,
};

use super::keys::Prop;
use super::oauthbearer;
use super::value::Entry;
use super::{PropertyError, Resolved};

/// The TLS and SASL settings `security.protocol` asks for.
pub(super) fn tls_and_sasl(
    properties: &Resolved<'_>,
) -> Result<(Option<TlsConfig>, Option<SaslConfig>), PropertyError> {
    let first_tls = properties.iter().find(|e| e.prop.is_tls());
    let first_sasl = properties.iter().find(|e| e.prop.is_sasl());
    let protocol = match properties.get(Prop::SecurityProtocol) {
        Some(entry) => protocol(entry)?,
        None => {
            if let Some(entry) = first_tls.or(first_sasl) {
                return Err(entry.inconsistent(
                    "set, but security.protocol is not: set it to SSL, SASL_PLAINTEXT \
                     or SASL_SSL (kafkite does not guess it, and does not ignore this)",
                ));
            }
            SecurityProtocol::Plaintext
        }
    };
    if let Some(entry) = first_tls.filter(|_| !protocol.uses_tls()) {
        return Err(entry.inconsistent(format!(
            "a TLS setting, but security.protocol={} does not use TLS (SSL and SASL_SSL do)",
            protocol.name()
        )));
    }
    if let Some(entry) = first_sasl.filter(|_| !protocol.uses_sasl()) {
        return Err(entry.inconsistent(format!(
            "a SASL setting, but security.protocol={} does not log in with SASL \
             (SASL_PLAINTEXT and SASL_SSL do)",
            protocol.name()
        )));
    }
    let tls = match protocol.uses_tls() {
        true => Some(tls_config(properties)?),
        false => None,
    };
    let sasl = match protocol.uses_sasl() {
        true => Some(sasl_config(properties, protocol)?),
        false => None,
    };
    Ok((tls, sasl))
}

/// `security.protocol`, in any case as librdkafka takes it.
fn protocol(entry: Entry<'_>) -> Result<SecurityProtocol, PropertyError> {
    entry.choice(
        &[
            SecurityProtocol::Plaintext,
            SecurityProtocol::Ssl,
            SecurityProtocol::SaslPlaintext,
            SecurityProtocol::SaslSsl,
        ]
        .map(|p| (p.name(), p)),
    )
}

fn tls_config(properties: &Resolved<'_>) -> Result<TlsConfig, PropertyError> {
    let mut tls = TlsConfig::new();
    match one_of(properties, Prop::SslCaLocation, Prop::SslCaPem)? {
        // librdkafka's "probe" looks for the system's store: the default.
        Some(e) if e.prop == Prop::SslCaLocation && e.text().eq_ignore_ascii_case("probe") => {}
        Some(e) if e.prop == Prop::SslCaLocation => tls = tls.ca_file(e.non_empty()?),
        Some(e) => tls = tls.ca_pem(e.non_empty()?),
        None => {}
    }
    let certificate = one_of(
        properties,
        Prop::SslCertificateLocation,
        Prop::SslCertificatePem,
    )?
    .map(|e| {
        let text = e.non_empty()?.to_string();
        Ok(match e.prop {
            Prop::SslCertificateLocation => PemSource::File(text.into()),
            _ => PemSource::Text(text),
        })
    })
    .transpose()?;
    let key = one_of(properties, Prop::SslKeyLocation, Prop::SslKeyPem)?
        .map(|e| {
            let text = e.non_empty()?;
            Ok(match e.prop {
                Prop::SslKeyLocation => KeySource::File(text.into()),
                _ => KeySource::Text(Secret::new(text)),
            })
        })
        .transpose()?;
    let password = properties.get(Prop::SslKeyPassword);
    tls.client_identity = match (certificate, key) {
        (Some(certificate_chain), Some(key)) => Some(ClientIdentity {
            certificate_chain,
            key,
            key_password: password.map(|e| Secret::new(e.value)),
        }),
        (Some(_), None) => {
            return Err(PropertyError::Missing {
                key: "ssl.key.location",
                reason: "a client certificate needs its private key (ssl.key.location \
                         or ssl.key.pem)"
                    .into(),
            })
        }
        (None, Some(_)) => {
            return Err(PropertyError::Missing {
                key: "ssl.certificate.location",
                reason: "a client key needs its certificate (ssl.certificate.location \
                         or ssl.certificate.pem)"
                    .into(),
            })
        }
        (None, None) => {
            if let Some(e) = password {
                return Err(e.inconsistent(
                    "there is no client key to decrypt (ssl.key.location or ssl.key.pem)",
                ));
            }
            None
        }
    };
    if let Some(e) = properties.get(Prop::SslEndpointIdentification) {
        // Java turns the check off with an empty value, librdkafka with "none".
        tls.verify_hostname =
            !e.text().is_empty() && e.choice(&[("https", true), ("none", false)])?;
    }
    if let Some(e) = properties.get(Prop::SslCertificateVerification) {
        tls.dangerous_accept_any_certificate = !e.boolean()?;
    }
    Ok(tls)
}

/// The one of two properties given, or neither; both is an error.
fn one_of<'a>(
    properties: &Resolved<'a>,
    a: Prop,
    b: Prop,
) -> Result<Option<Entry<'a>>, PropertyError> {
    match (properties.get(a), properties.get(b)) {
        (Some(first), Some(second)) => {
            Err(second.inconsistent(format!("{} is set too: give one of them", first.key)))
        }
        (first, second) => Ok(first.or(second)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mechanism {
    Plain,
    Scram(ScramHash),
    OAuthBearer,
}

const OAUTHBEARER_PROPS: [Prop; 4] = [
    Prop::SaslOAuthBearerMethod,
    Prop::SaslOAuthBearerUnsecureJwt,
    Prop::SaslOAuthBearerConfig,
    Prop::SaslOAuthBearerExtensions,
];

fn sasl_config(
    properties: &Resolved<'_>,
    protocol: SecurityProtocol,
) -> Result<SaslConfig, PropertyError> {
    let entry = properties
        .get(Prop::SaslMechanism)
        .ok_or_else(|| PropertyError::Missing {
            key: "sasl.mechanism",
            reason: format!(
                "security.protocol={} logs in with SASL: say how (PLAIN, SCRAM-SHA-256, \
                 SCRAM-SHA-512 or OAUTHBEARER)",
                protocol.name()
            ),
        })?;
    if entry.text().eq_ignore_ascii_case("GSSAPI") {
        return Err(entry.unsupported("Kerberos (GSSAPI) is not supported"));
    }
    let mechanism = entry.choice(&[
        ("PLAIN", Mechanism::Plain),
        ("SCRAM-SHA-256", Mechanism::Scram(ScramHash::Sha256)),
        ("SCRAM-SHA-512", Mechanism::Scram(ScramHash::Sha512)),
        ("OAUTHBEARER", Mechanism::OAuthBearer),
    ])?;
    match mechanism {
        Mechanism::Plain | Mechanism::Scram(_) => {
            let name = entry.text().to_ascii_uppercase();
            if let Some(e) = OAUTHBEARER_PROPS.iter().find_map(|&p| properties.get(p)) {
                return Err(e.inconsistent(format!(
                    "an OAUTHBEARER setting, but sasl.mechanism is {name}"
                )));
            }
            let credential = |prop: Prop| {
                properties
                    .get(prop)
                    .map(|e| e.value)
                    .ok_or_else(|| PropertyError::Missing {
                        key: prop.name(),
                        reason: format!("{name} logs in with a username and a password"),
                    })
            };
            let (username, password) = (
                credential(Prop::SaslUsername)?,
                credential(Prop::SaslPassword)?,
            );
            Ok(match mechanism {
                Mechanism::Scram(ScramHash::Sha256) => {
                    SaslConfig::scram_sha_256(username, password)
                }
                Mechanism::Scram(ScramHash::Sha512) => {
                    SaslConfig::scram_sha_512(username, password)
                }
                _ => SaslConfig::plain(username, password),
            })
        }
        Mechanism::OAuthBearer => oauthbearer_config(properties, entry),
    }
}

fn oauthbearer_config(
    properties: &Resolved<'_>,
    mechanism: Entry<'_>,
) -> Result<SaslConfig, PropertyError> {
    for prop in [Prop::SaslUsername, Prop::SaslPassword] {
        if let Some(e) = properties.get(prop) {
            return Err(
                e.inconsistent("OAUTHBEARER logs in with a token, not a username and password")
            );
        }
    }
    if let Some(e) = properties.get(Prop::SaslOAuthBearerMethod) {
        if e.choice(&[("default", false), ("oidc", true)])? {
            return Err(e.unsupported(
                "OIDC token retrieval is not built in: give a token provider in code \
                 (SaslConfig::oauthbearer)",
            ));
        }
    }
    let unsecured = match properties.get(Prop::SaslOAuthBearerUnsecureJwt) {
        Some(e) => e.boolean()?,
        None => false,
    };
    if !unsecured {
        return Err(mechanism.inconsistent(
            "OAUTHBEARER needs tokens: set enable.sasl.oauthbearer.unsecure.jwt=true with \
             sasl.oauthbearer.config for unsecured development tokens, or leave SASL out \
             of the properties and give a token provider in code \
             (ClientConfig::with_sasl(SaslConfig::oauthbearer(provider)))",
        ));
    }
    let config =
        properties
            .get(Prop::SaslOAuthBearerConfig)
            .ok_or_else(|| PropertyError::Missing {
                key: "sasl.oauthbearer.config",
                reason: "unsecured tokens name their principal (principal=NAME ...)".into(),
            })?;
    let (jws, mut extensions) = oauthbearer::unsecured_jws(config)?;
    if let Some(e) = properties.get(Prop::SaslOAuthBearerExtensions) {
        for (key, value) in oauthbearer::extensions(e)? {
            if extensions.iter().any(|(k, _)| *k == key) {
                return Err(e.inconsistent(format!(
                    "the extension {key} is in sasl.oauthbearer.config too"
                )));
            }
            extensions.push((key, value));
        }
    }
    let mut sasl = SaslConfig::oauthbearer_unsecured(jws);
    if let SaslConfig::OAuthBearer(oauth) = &mut sasl {
        oauth.extensions = extensions;
    }
    Ok(sasl)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use crate::client::ClientConfig;
    use crate::properties::{Properties, PropertyError};
    use crate::security::{
        ClientIdentity, KeySource, OAuthBearerTokens, PemSource, SaslConfig, Secret,
        SecurityProtocol, TlsConfig, TrustRoots, UnsecuredJwsConfig,
    };

    fn client(pairs: &[(&str, &str)]) -> Result<ClientConfig, PropertyError> {
        let mut properties = Properties::new().with("bootstrap.servers", "a:9093");
        for (k, v) in pairs {
            properties.set(k, *v);
        }
        properties.client_config()
    }

    fn error(pairs: &[(&str, &str)]) -> String {
        client(pairs).unwrap_err().to_string()
    }

    #[test]
    fn security_protocol_is_case_insensitive() {
        for (name, protocol) in [
            ("plaintext", SecurityProtocol::Plaintext),
            ("Ssl", SecurityProtocol::Ssl),
            ("PLAINTEXT", SecurityProtocol::Plaintext),
        ] {
            let config = client(&[("security.protocol", name)]).unwrap();
            assert_eq!(config.security_protocol(), protocol);
        }
        let err = error(&[("security.protocol", "TLS")]);
        assert!(
            err.contains("PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
            "{err}"
        );
    }

    #[test]
    fn ssl_with_files() {
        let config = client(&[
            ("security.protocol", "SSL"),
            ("ssl.ca.location", "/etc/kafka/ca.pem"),
            ("ssl.certificate.location", "/etc/kafka/client.pem"),
            ("ssl.key.location", "/etc/kafka/client.key"),
            ("ssl.key.password", "key-secret"),
        ])
        .unwrap();
        let expected = TlsConfig {
            roots: TrustRoots::PemFile("/etc/kafka/ca.pem".into()),
            client_identity: Some(ClientIdentity {
                certificate_chain: PemSource::File(PathBuf::from("/etc/kafka/client.pem")),
                key: KeySource::File("/etc/kafka/client.key".into()),
                key_password: Some(Secret::new("key-secret")),
            }),
            ..TlsConfig::default()
        };
        assert_eq!(config.tls, Some(expected));
        assert_eq!(config.sasl, None);
        assert!(!format!("{config:?}").contains("key-secret"));
    }

    #[test]
    fn ssl_with_pem_text_and_checks_relaxed() {
        let config = client(&[
            ("security.protocol", "ssl"),
            ("ssl.ca.pem", "-----BEGIN CERTIFICATE-----ca"),
            ("ssl.certificate.pem", "-----BEGIN CERTIFICATE-----me"),
            ("ssl.key.pem", "-----BEGIN PRIVATE KEY-----very-secret-key"),
            ("ssl.endpoint.identification.algorithm", "none"),
            ("enable.ssl.certificate.verification", "false"),
        ])
        .unwrap();
        let tls = config.tls.clone().unwrap();
        assert_eq!(
            tls.roots,
            TrustRoots::Pem("-----BEGIN CERTIFICATE-----ca".into())
        );
        let identity = tls.client_identity.clone().unwrap();
        assert_eq!(
            identity.certificate_chain,
            PemSource::Text("-----BEGIN CERTIFICATE-----me".into())
        );
        assert_eq!(
            identity.key,
            KeySource::Text(Secret::new("-----BEGIN PRIVATE KEY-----very-secret-key"))
        );
        assert!(!tls.verify_hostname);
        assert!(tls.dangerous_accept_any_certificate);
        assert!(!format!("{config:?}").contains("very-secret-key"));
    }

    #[test]
    fn ssl_defaults_and_librdkafka_spellings() {
        let config = client(&[
            ("security.protocol", "SSL"),
            ("ssl.ca.location", "probe"),
            ("ssl.endpoint.identification.algorithm", "https"),
            ("enable.ssl.certificate.verification", "true"),
        ])
        .unwrap();
        assert_eq!(config.tls, Some(TlsConfig::new()));
        // Java's way to turn hostname checks off: an empty value.
        let config = client(&[
            ("security.protocol", "SSL"),
            ("ssl.endpoint.identification.algorithm", ""),
        ])
        .unwrap();
        assert!(!config.tls.unwrap().verify_hostname);
        let err = error(&[
            ("security.protocol", "SSL"),
            ("ssl.endpoint.identification.algorithm", "dns"),
        ]);
        assert!(err.contains("one of https, none"), "{err}");
    }

    #[test]
    fn tls_settings_that_do_not_fit_together_are_errors() {
        let ssl = ("security.protocol", "SSL");
        let err = error(&[ssl, ("ssl.ca.location", "/a"), ("ssl.ca.pem", "x")]);
        assert!(
            err.contains("ssl.ca.pem: ssl.ca.location is set too"),
            "{err}"
        );
        let err = error(&[ssl, ("ssl.certificate.location", "/c")]);
        assert!(err.starts_with("ssl.key.location is required"), "{err}");
        let err = error(&[ssl, ("ssl.key.pem", "k")]);
        assert!(
            err.starts_with("ssl.certificate.location is required"),
            "{err}"
        );
        let err = error(&[ssl, ("ssl.key.password", "pw-secret")]);
        assert!(err.contains("no client key"), "{err}");
        assert!(!err.contains("pw-secret"));
        let err = error(&[
            ssl,
            ("ssl.certificate.location", "/c"),
            ("ssl.certificate.pem", "x"),
        ]);
        assert!(err.contains("give one of them"), "{err}");
    }

    #[test]
    fn plaintext_refuses_tls_and_sasl_settings() {
        let err = error(&[
            ("security.protocol", "PLAINTEXT"),
            ("ssl.ca.location", "/a"),
        ]);
        assert!(err.contains("ssl.ca.location: a TLS setting"), "{err}");
        assert!(err.contains("PLAINTEXT"), "{err}");
        let err = error(&[("security.protocol", "PLAINTEXT"), ("sasl.username", "u")]);
        assert!(err.contains("sasl.username: a SASL setting"), "{err}");
        let err = error(&[("security.protocol", "SSL"), ("sasl.mechanism", "PLAIN")]);
        assert!(err.contains("SASL_SSL"), "{err}");
        let err = error(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.username", "u"),
            ("sasl.password", "p"),
            ("ssl.ca.location", "/a"),
        ]);
        assert!(err.contains("ssl.ca.location: a TLS setting"), "{err}");
    }

    #[test]
    fn tls_or_sasl_settings_without_a_protocol_are_errors() {
        let err = error(&[("ssl.ca.location", "/a")]);
        assert!(err.contains("security.protocol is not"), "{err}");
        let err = error(&[("sasl.password", "never-shown")]);
        assert!(
            err.starts_with("sasl.password: set, but security.protocol"),
            "{err}"
        );
        assert!(!err.contains("never-shown"));
    }

    #[test]
    fn sasl_plain_and_scram() {
        let login = [
            ("sasl.username", "alice"),
            ("sasl.password", "alice-secret"),
        ];
        for (mechanism, expected) in [
            ("PLAIN", SaslConfig::plain("alice", "alice-secret")),
            (
                "scram-sha-256",
                SaslConfig::scram_sha_256("alice", "alice-secret"),
            ),
            (
                "SCRAM-SHA-512",
                SaslConfig::scram_sha_512("alice", "alice-secret"),
            ),
        ] {
            for name in ["sasl.mechanism", "sasl.mechanisms"] {
                let mut pairs = vec![("security.protocol", "SASL_SSL"), (name, mechanism)];
                pairs.extend(login);
                let config = client(&pairs).unwrap();
                assert_eq!(config.sasl.as_ref(), Some(&expected));
                assert_eq!(config.tls, Some(TlsConfig::new()));
                assert!(!format!("{config:?}").contains("alice-secret"));
            }
        }
        // A password is kept as given, spaces and all.
        let config = client(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.username", "u"),
            ("sasl.password", " p "),
        ])
        .unwrap();
        assert_eq!(config.sasl, Some(SaslConfig::plain("u", " p ")));
        assert_eq!(config.security_protocol(), SecurityProtocol::SaslPlaintext);
    }

    #[test]
    fn sasl_needs_a_mechanism_and_its_credentials() {
        let sasl = ("security.protocol", "SASL_SSL");
        let err = error(&[sasl]);
        assert!(err.starts_with("sasl.mechanism is required"), "{err}");
        assert!(err.contains("SASL_SSL"), "{err}");
        let err = error(&[
            sasl,
            ("sasl.mechanism", "PLAIN"),
            ("sasl.password", "s3cr3t"),
        ]);
        assert!(err.starts_with("sasl.username is required"), "{err}");
        assert!(!err.contains("s3cr3t"));
        let err = error(&[
            sasl,
            ("sasl.mechanism", "SCRAM-SHA-256"),
            ("sasl.username", "u"),
        ]);
        assert!(err.starts_with("sasl.password is required"), "{err}");
        let err = error(&[sasl, ("sasl.mechanism", "GSSAPI")]);
        assert!(err.contains("Kerberos"), "{err}");
        assert!(err.contains("not supported"), "{err}");
        let err = error(&[sasl, ("sasl.mechanism", "DIGEST-MD5")]);
        assert!(
            err.contains("PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER"),
            "{err}"
        );
        let err = error(&[
            sasl,
            ("sasl.mechanism", "PLAIN"),
            ("sasl.username", "u"),
            ("sasl.password", "p"),
            ("sasl.oauthbearer.config", "principal=x"),
        ]);
        assert!(err.contains("an OAUTHBEARER setting"), "{err}");
    }

    #[test]
    fn unsecured_oauthbearer_from_librdkafkas_config_string() {
        let config = client(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "OAUTHBEARER"),
            ("sasl.oauthbearer.method", "default"),
            ("enable.sasl.oauthbearer.unsecure.jwt", "true"),
            (
                "sasl.oauthbearer.config",
                "principal=admin scope=a,b lifeSeconds=600 principalClaimName=azp \
                 scopeClaimName=roles extension_traceId=t1",
            ),
            (
                "sasl.oauthbearer.extensions",
                "logicalCluster=lkc-1, pool=p2",
            ),
        ])
        .unwrap();
        let Some(SaslConfig::OAuthBearer(oauth)) = config.sasl else {
            panic!("{:?}", config.sasl)
        };
        let expected = UnsecuredJwsConfig {
            principal: "admin".into(),
            principal_claim: "azp".into(),
            scope: vec!["a".into(), "b".into()],
            scope_claim: "roles".into(),
            lifetime: Duration::from_secs(600),
        };
        assert_eq!(oauth.tokens, OAuthBearerTokens::Unsecured(expected));
        assert_eq!(
            oauth.extensions,
            [
                ("traceId".to_string(), "t1".to_string()),
                ("logicalCluster".into(), "lkc-1".into()),
                ("pool".into(), "p2".into())
            ]
        );
    }

    #[test]
    fn oauthbearer_without_unsecured_tokens_says_where_tokens_come_from() {
        let base = [
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "OAUTHBEARER"),
        ];
        let err = error(&base);
        assert!(err.contains("SaslConfig::oauthbearer"), "{err}");
        let mut pairs = base.to_vec();
        pairs.push(("sasl.oauthbearer.method", "oidc"));
        let err = error(&pairs);
        assert!(err.contains("OIDC"), "{err}");
        assert!(err.contains("not supported"), "{err}");
        let mut pairs = base.to_vec();
        pairs.push(("enable.sasl.oauthbearer.unsecure.jwt", "true"));
        let err = error(&pairs);
        assert!(
            err.starts_with("sasl.oauthbearer.config is required"),
            "{err}"
        );
        let mut pairs = base.to_vec();
        pairs.push(("sasl.username", "u"));
        let err = error(&pairs);
        assert!(err.contains("token, not a username"), "{err}");
        let err = error(&[
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "OAUTHBEARER"),
            ("enable.sasl.oauthbearer.unsecure.jwt", "true"),
            ("sasl.oauthbearer.config", "principal=a extension_x=1"),
            ("sasl.oauthbearer.extensions", "x=2"),
        ]);
        assert!(
            err.contains("extension x is in sasl.oauthbearer.config too"),
            "{err}"
        );
    }
}
