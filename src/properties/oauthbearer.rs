//! librdkafka's OAUTHBEARER strings: `sasl.oauthbearer.config` for
//! unsecured tokens (`principal=admin scope=a,b lifeSeconds=600
//! principalClaimName=sub scopeClaimName=scope extension_NAME=value`) and
//! `sasl.oauthbearer.extensions` (`key=value,key=value`).
//!
//! `sasl.oauthbearer.config` is treated as a secret, as librdkafka does:
//! messages about it name an attribute, never a value.

use std::time::Duration;

use crate::security::UnsecuredJwsConfig;

use super::value::Entry;
use super::PropertyError;

const CONFIG_FORM: &str = "space-separated name=value attributes: principal=NAME \
     (required), principalClaimName=, scope=a,b, scopeClaimName=, lifeSeconds=, \
     extension_NAME=";

/// The unsecured token settings and the extensions of `sasl.oauthbearer.config`.
pub(super) fn unsecured_jws(
    entry: Entry<'_>,
) -> Result<(UnsecuredJwsConfig, Vec<(String, String)>), PropertyError> {
    let bad = |problem: String| entry.bad(format!("{CONFIG_FORM}; {problem}"));
    let mut config = UnsecuredJwsConfig::new("");
    let mut extensions: Vec<(String, String)> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for attribute in entry.value.split_whitespace() {
        let Some((name, value)) = attribute.split_once('=') else {
            return Err(bad("an attribute has no =".into()));
        };
        if seen.contains(&name) {
            return Err(bad(format!("{name} is given twice")));
        }
        seen.push(name);
        if value.is_empty() {
            return Err(bad(format!("{name} has no value")));
        }
        match name {
            "principal" => config.principal = value.into(),
            "principalClaimName" => config.principal_claim = value.into(),
            "scopeClaimName" => config.scope_claim = value.into(),
            "scope" => {
                config.scope = value
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            }
            "lifeSeconds" => {
                let seconds: u64 = value
                    .parse()
                    .ok()
                    .filter(|&s| s > 0)
                    .ok_or_else(|| bad("lifeSeconds is not a positive whole number".into()))?;
                config.lifetime = Duration::from_secs(seconds);
            }
            _ => match name.strip_prefix("extension_") {
                Some(key) => {
                    check_extension(key, value)
                        .map_err(|problem| bad(format!("extension_{key}: {problem}")))?;
                    extensions.push((key.into(), value.into()));
                }
                None => return Err(bad(format!("{name:?} is not one of them"))),
            },
        }
    }
    if config.principal.is_empty() {
        return Err(bad("principal is missing".into()));
    }
    Ok((config, extensions))
}

/// `sasl.oauthbearer.extensions`: `key=value` pairs, comma-separated.
pub(super) fn extensions(entry: Entry<'_>) -> Result<Vec<(String, String)>, PropertyError> {
    let mut extensions: Vec<(String, String)> = Vec::new();
    for pair in entry
        .text()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| entry.bad("comma-separated key=value pairs"))?;
        let (key, value) = (key.trim(), value.trim());
        check_extension(key, value).map_err(|problem| {
            entry.bad(format!(
                "comma-separated key=value pairs; {key:?}: {problem}"
            ))
        })?;
        if extensions.iter().any(|(k, _)| k == key) {
            return Err(entry.bad(format!(
                "comma-separated key=value pairs; {key:?} is given twice"
            )));
        }
        extensions.push((key.into(), value.into()));
    }
    Ok(extensions)
}

/// RFC 7628 section 3.1: a key of letters other than `auth`, a value of
/// printable ASCII and spaces. (Checked again when the message is made;
/// here it is an error before anything connects.)
fn check_extension(key: &str, value: &str) -> Result<(), &'static str> {
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err("an extension's name is letters only");
    }
    if key == "auth" {
        return Err("auth is the token's own name");
    }
    if !value
        .bytes()
        .all(|b| (0x21..=0x7e).contains(&b) || b" \t\r\n".contains(&b))
    {
        return Err("an extension's value is printable ASCII");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::properties::keys::Prop;

    fn config(value: &str) -> Result<(UnsecuredJwsConfig, Vec<(String, String)>), String> {
        let entry = Entry {
            prop: Prop::SaslOAuthBearerConfig,
            key: "sasl.oauthbearer.config",
            value,
        };
        unsecured_jws(entry).map_err(|e| e.to_string())
    }

    #[test]
    fn librdkafkas_defaults_apply() {
        let (jws, extensions) = config("principal=admin").unwrap();
        assert_eq!(jws, UnsecuredJwsConfig::new("admin"));
        assert!(extensions.is_empty());
    }

    #[test]
    fn bad_config_strings_name_the_attribute_never_a_value() {
        for (value, problem) in [
            ("scope=a", "principal is missing"),
            ("principal=a principal=b", "principal is given twice"),
            ("principal=a hunter2", "no ="),
            ("principal=a lifeSeconds=0", "lifeSeconds"),
            ("principal=a lifeSeconds=soon", "lifeSeconds"),
            (
                "principal=a colour=hunter2",
                "\"colour\" is not one of them",
            ),
            ("principal=a extension_a1=hunter2", "letters only"),
            ("principal=a extension_auth=hunter2", "auth"),
            ("principal=", "principal has no value"),
        ] {
            let err = config(value).unwrap_err();
            assert!(err.contains(problem), "{value}: {err}");
            assert!(
                err.starts_with("sasl.oauthbearer.config is invalid"),
                "{err}"
            );
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn extensions_are_comma_separated_pairs() {
        let entry = |value| Entry {
            prop: Prop::SaslOAuthBearerExtensions,
            key: "sasl.oauthbearer.extensions",
            value,
        };
        assert_eq!(
            extensions(entry(" a=1 ,b = two words,")).unwrap(),
            [
                ("a".to_string(), "1".to_string()),
                ("b".into(), "two words".into())
            ]
        );
        assert!(extensions(entry("a")).is_err());
        assert!(extensions(entry("a=1,a=2")).is_err());
        assert!(extensions(entry("k9=1")).is_err());
        assert!(extensions(entry("a=\u{1}")).is_err());
    }
}
