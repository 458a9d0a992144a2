//! Apache Kafka's JSON message specs, parsed into plain Rust values.
//!
//! The spec files are JSON with `//` line comments; comments are stripped
//! outside string literals before parsing.

use std::path::Path;

use serde::Deserialize;

use crate::versions::Versions;

/// One JSON spec file: a request, response, header or data message.
#[derive(Debug, Clone)]
pub struct MessageSpec {
    pub name: String,
    /// "request", "response", "header" or "data".
    pub kind: String,
    pub api_key: Option<i16>,
    pub valid_versions: Versions,
    pub flexible_versions: Versions,
    pub fields: Vec<FieldSpec>,
    pub common_structs: Vec<StructSpec>,
    pub listeners: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct StructSpec {
    pub name: String,
    pub fields: Vec<FieldSpec>,
}

#[derive(Debug, Clone)]
pub struct FieldSpec {
    pub name: String,
    pub ty: FieldType,
    pub versions: Versions,
    pub nullable_versions: Versions,
    pub tagged_versions: Versions,
    pub tag: Option<u32>,
    pub ignorable: bool,
    pub default: Option<String>,
    /// Overrides the message's flexible versions for this field's encoding
    /// (RequestHeader.ClientId keeps its INT16 length forever).
    pub flexible_versions: Option<Versions>,
    pub about: Option<String>,
    /// Inline struct definition, for struct and struct-array types.
    pub fields: Option<Vec<FieldSpec>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    Bool,
    Int8,
    Int16,
    Uint16,
    Int32,
    Uint32,
    Int64,
    Float64,
    String,
    Uuid,
    Bytes,
    Records,
    Struct(String),
    Array(Box<FieldType>),
}

impl FieldType {
    fn parse(s: &str) -> FieldType {
        if let Some(inner) = s.strip_prefix("[]") {
            return FieldType::Array(Box::new(FieldType::parse(inner)));
        }
        match s {
            "bool" => FieldType::Bool,
            "int8" => FieldType::Int8,
            "int16" => FieldType::Int16,
            "uint16" => FieldType::Uint16,
            "int32" => FieldType::Int32,
            "uint32" => FieldType::Uint32,
            "int64" => FieldType::Int64,
            "float64" => FieldType::Float64,
            "string" => FieldType::String,
            "uuid" => FieldType::Uuid,
            "bytes" => FieldType::Bytes,
            "records" => FieldType::Records,
            other => FieldType::Struct(other.to_string()),
        }
    }

    pub fn is_struct(&self) -> bool {
        matches!(self, FieldType::Struct(_))
    }

    pub fn struct_name(&self) -> Option<&str> {
        match self {
            FieldType::Struct(n) => Some(n),
            FieldType::Array(inner) => inner.struct_name(),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMessage {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    api_key: Option<i16>,
    valid_versions: String,
    flexible_versions: Option<String>,
    #[serde(default)]
    fields: Vec<RawField>,
    #[serde(default)]
    common_structs: Vec<RawStruct>,
    #[serde(default)]
    listeners: Vec<String>,
}

#[derive(Deserialize)]
struct RawStruct {
    name: String,
    #[serde(default)]
    fields: Vec<RawField>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawField {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    versions: String,
    nullable_versions: Option<String>,
    tagged_versions: Option<String>,
    /// A number, or a string holding one in a few specs.
    tag: Option<serde_json::Value>,
    #[serde(default)]
    ignorable: bool,
    default: Option<serde_json::Value>,
    flexible_versions: Option<String>,
    about: Option<String>,
    fields: Option<Vec<RawField>>,
}

fn convert_field(raw: RawField) -> Result<FieldSpec, String> {
    let parse = |s: &str| Versions::parse(s).map_err(|e| format!("field {}: {e}", raw.name));
    let default = match raw.default {
        None => None,
        Some(serde_json::Value::String(s)) => Some(s),
        Some(other) => Some(other.to_string()),
    };
    Ok(FieldSpec {
        versions: parse(&raw.versions)?,
        nullable_versions: match &raw.nullable_versions {
            Some(v) => parse(v)?,
            None => Versions::NONE,
        },
        tagged_versions: match &raw.tagged_versions {
            Some(v) => parse(v)?,
            None => Versions::NONE,
        },
        flexible_versions: match &raw.flexible_versions {
            Some(v) => Some(parse(v)?),
            None => None,
        },
        ty: FieldType::parse(&raw.ty),
        tag: match &raw.tag {
            None => None,
            Some(serde_json::Value::Number(n)) => n.as_u64().map(|t| t as u32),
            Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
            Some(_) => None,
        },
        ignorable: raw.ignorable,
        default,
        about: raw.about,
        fields: match raw.fields {
            Some(fs) => Some(
                fs.into_iter()
                    .map(convert_field)
                    .collect::<Result<_, _>>()?,
            ),
            None => None,
        },
        name: raw.name,
    })
}

/// Removes `//` comments that are outside string literals.
pub fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut in_string = false;
        let mut escaped = false;
        let mut cut = line.len();
        let bytes = line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            if in_string {
                if escaped {
                    escaped = false;
                } else if c == b'\\' {
                    escaped = true;
                } else if c == b'"' {
                    in_string = false;
                }
            } else if c == b'"' {
                in_string = true;
            } else if c == b'/' && bytes.get(i + 1) == Some(&b'/') {
                cut = i;
                break;
            }
            i += 1;
        }
        out.push_str(&line[..cut]);
        out.push('\n');
    }
    out
}

/// Parses one spec file.
pub fn parse_message(path: &Path) -> Result<MessageSpec, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // Through a `Value` first: a few specs repeat a key in one object, which
    // Kafka's own (Jackson) parser accepts, last one winning.
    let value: serde_json::Value = serde_json::from_str(&strip_comments(&text))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let raw: RawMessage =
        serde_json::from_value(value).map_err(|e| format!("{}: {e}", path.display()))?;
    let ctx = |e: String| format!("{}: {e}", path.display());
    Ok(MessageSpec {
        valid_versions: Versions::parse(&raw.valid_versions).map_err(ctx)?,
        flexible_versions: match &raw.flexible_versions {
            Some(v) => Versions::parse(v).map_err(ctx)?,
            None => Versions::NONE,
        },
        fields: raw
            .fields
            .into_iter()
            .map(convert_field)
            .collect::<Result<_, _>>()
            .map_err(ctx)?,
        common_structs: raw
            .common_structs
            .into_iter()
            .map(|s| {
                Ok(StructSpec {
                    name: s.name,
                    fields: s
                        .fields
                        .into_iter()
                        .map(convert_field)
                        .collect::<Result<_, String>>()?,
                })
            })
            .collect::<Result<_, String>>()
            .map_err(ctx)?,
        name: raw.name,
        kind: raw.kind,
        api_key: raw.api_key,
        listeners: raw.listeners,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_inside_strings_survive() {
        let text = "{ \"about\": \"see http://x\" } // gone\n// all gone\n";
        assert_eq!(strip_comments(text), "{ \"about\": \"see http://x\" } \n\n");
    }
}
