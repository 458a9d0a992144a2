//! Emits one Rust file for one spec: the message struct, its nested
//! structs, and encode/decode for every version (plus a test-only generator
//! of random values valid for a version, for the round-trip properties).

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::naming::{field_ident, snake_case};
use crate::spec::{FieldSpec, FieldType, MessageSpec};
use crate::versions::Versions;

/// The structs of one file, in order of first appearance.
struct Structs {
    order: Vec<String>,
    fields: BTreeMap<String, Vec<FieldSpec>>,
}

impl Structs {
    fn collect(spec: &MessageSpec) -> Structs {
        let mut s = Structs {
            order: vec![spec.name.clone()],
            fields: BTreeMap::new(),
        };
        s.fields.insert(spec.name.clone(), spec.fields.clone());
        s.walk(&spec.fields);
        for common in &spec.common_structs {
            if !s.fields.contains_key(&common.name) {
                s.order.push(common.name.clone());
                s.fields.insert(common.name.clone(), common.fields.clone());
            }
            s.walk(&common.fields);
        }
        s
    }

    fn walk(&mut self, fields: &[FieldSpec]) {
        for f in fields {
            if let (Some(name), Some(inner)) = (f.ty.struct_name(), &f.fields) {
                if !self.fields.contains_key(name) {
                    self.order.push(name.to_string());
                    self.fields.insert(name.to_string(), inner.clone());
                }
                self.walk(inner);
            }
        }
    }
}

/// Everything the per-field emitters need to know about the file.
struct Ctx<'a> {
    spec: &'a MessageSpec,
    valid: Versions,
    /// Whether any version is flexible (so structs carry unknown tags).
    any_flexible: bool,
}

impl Ctx<'_> {
    fn cond(&self, v: &Versions) -> String {
        v.condition(&self.valid)
    }

    /// The expression for "this field uses compact encodings".
    fn compact(&self, f: &FieldSpec) -> String {
        match &f.flexible_versions {
            Some(v) => self.cond(v),
            None => "flexible".into(),
        }
    }
}

/// The versions in which a field is written in the regular (non-tagged) part.
fn regular_versions(f: &FieldSpec) -> Versions {
    if f.tagged_versions.is_empty() {
        f.versions
    } else if f.tagged_versions.lo <= f.versions.lo {
        Versions::NONE
    } else {
        Versions {
            lo: f.versions.lo,
            hi: f.tagged_versions.lo - 1,
        }
    }
}

fn is_option(f: &FieldSpec) -> bool {
    !f.nullable_versions.is_empty()
}

fn base_type(ty: &FieldType) -> String {
    match ty {
        FieldType::Bool => "bool".into(),
        FieldType::Int8 => "i8".into(),
        FieldType::Int16 => "i16".into(),
        FieldType::Uint16 => "u16".into(),
        FieldType::Int32 => "i32".into(),
        FieldType::Uint32 => "u32".into(),
        FieldType::Int64 => "i64".into(),
        FieldType::Float64 => "f64".into(),
        FieldType::String => "String".into(),
        FieldType::Uuid => "w::Uuid".into(),
        FieldType::Bytes | FieldType::Records => "Bytes".into(),
        FieldType::Struct(name) => name.clone(),
        FieldType::Array(inner) => format!("Vec<{}>", base_type(inner)),
    }
}

fn rust_type(f: &FieldSpec) -> String {
    if is_option(f) {
        format!("Option<{}>", base_type(&f.ty))
    } else {
        base_type(&f.ty)
    }
}

fn parse_int(s: &str) -> Result<i128, String> {
    let t = s.trim();
    let parsed = if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        i128::from_str_radix(hex, 16)
    } else {
        t.parse::<i128>()
    };
    parsed.map_err(|e| format!("bad integer default {s:?}: {e}"))
}

/// The default value of a non-null field, as a Rust expression.
fn base_default(f: &FieldSpec) -> Result<String, String> {
    let given = f.default.as_deref().filter(|d| *d != "null");
    Ok(match &f.ty {
        FieldType::Bool => match given.map(str::to_ascii_lowercase).as_deref() {
            Some("true") => "true".into(),
            None | Some("false") => "false".into(),
            Some(other) => return Err(format!("bad bool default {other}")),
        },
        FieldType::Int8
        | FieldType::Int16
        | FieldType::Uint16
        | FieldType::Int32
        | FieldType::Uint32
        | FieldType::Int64 => match given {
            Some(d) => parse_int(d)?.to_string(),
            None => "0".into(),
        },
        FieldType::Float64 => match given {
            Some(d) => {
                let v: f64 = d.parse().map_err(|e| format!("bad float default: {e}"))?;
                format!("{v:?}")
            }
            None => "0.0".into(),
        },
        FieldType::String => match given {
            Some(d) if !d.is_empty() => format!("String::from({d:?})"),
            _ => "String::new()".into(),
        },
        FieldType::Uuid => "w::Uuid::ZERO".into(),
        FieldType::Bytes | FieldType::Records => "Bytes::new()".into(),
        FieldType::Struct(name) => format!("{name}::default()"),
        FieldType::Array(_) => "Vec::new()".into(),
    })
}

fn default_expr(f: &FieldSpec) -> Result<String, String> {
    if is_option(f) {
        if f.default.as_deref() == Some("null") {
            Ok("None".into())
        } else {
            Ok(format!("Some({})", base_default(f)?))
        }
    } else {
        base_default(f)
    }
}

/// "self.x differs from its default", for the absent-version and tagged checks.
fn differs_from_default(f: &FieldSpec, access: &str) -> Result<String, String> {
    let default = default_expr(f)?;
    Ok(match default.as_str() {
        "None" => format!("{access}.is_some()"),
        "Vec::new()" | "String::new()" | "Bytes::new()" => format!("!{access}.is_empty()"),
        "false" => access.to_string(),
        _ => format!("{access} != {default}"),
    })
}

/// Code that writes the non-null value `v` (an expression of type `&T`).
fn write_value(ty: &FieldType, v: &str, compact: &str, field: &str, depth: usize) -> String {
    match ty {
        FieldType::Bool => format!("buf.put_u8(u8::from(*{v}));"),
        FieldType::Int8 => format!("buf.put_i8(*{v});"),
        FieldType::Int16 => format!("buf.put_i16(*{v});"),
        FieldType::Uint16 => format!("buf.put_u16(*{v});"),
        FieldType::Int32 => format!("buf.put_i32(*{v});"),
        FieldType::Uint32 => format!("buf.put_u32(*{v});"),
        FieldType::Int64 => format!("buf.put_i64(*{v});"),
        FieldType::Float64 => format!("buf.put_f64(*{v});"),
        FieldType::Uuid => format!("w::put_uuid(buf, {v});"),
        FieldType::String => format!("w::put_string(buf, {v}, {compact}, {field:?})?;"),
        FieldType::Bytes | FieldType::Records => {
            format!("w::put_bytes(buf, {v}, {compact}, {field:?})?;")
        }
        FieldType::Struct(_) => format!("({v}).encode_body(buf, version)?;"),
        FieldType::Array(inner) => {
            let item = format!("item{depth}");
            format!(
                "w::put_array_length(buf, Some(({v}).len()), {compact}, {field:?})?; for {item} in ({v}).iter() {{ {} }}",
                write_value(inner, &item, compact, field, depth + 1)
            )
        }
    }
}

/// Code that writes null for a nullable field.
fn write_null(ty: &FieldType, compact: &str) -> String {
    match ty {
        FieldType::String => format!("w::put_null(buf, {compact}, true);"),
        FieldType::Struct(_) => "buf.put_i8(-1);".into(),
        _ => format!("w::put_null(buf, {compact}, false);"),
    }
}

/// Code that writes field `f` from `access` (e.g. `self.topics`).
fn write_field(ctx: &Ctx, owner: &str, f: &FieldSpec, access: &str, compact: &str) -> String {
    let name = format!("{owner}.{}", f.name);
    if is_option(f) {
        let marker = if f.ty.is_struct() {
            "buf.put_i8(1); "
        } else {
            ""
        };
        format!(
            "match &{access} {{ Some(v) => {{ {marker}{} }} None => {{ if {} {{ {} }} else {{ return Err(EncodeError::NullNotAllowed {{ message: MESSAGE, field: {name:?}, version }}); }} }} }}",
            write_value(&f.ty, "v", compact, &name, 0),
            ctx.cond(&f.nullable_versions),
            write_null(&f.ty, compact),
        )
    } else {
        write_value(&f.ty, &format!("&{access}"), compact, &name, 0)
    }
}

/// An expression of type `Result<T, DecodeError>` reading a non-null `T`.
fn read_value(ty: &FieldType, compact: &str) -> String {
    match ty {
        FieldType::Bool => "r.read_bool()".into(),
        FieldType::Int8 => "r.read_i8()".into(),
        FieldType::Int16 => "r.read_i16()".into(),
        FieldType::Uint16 => "r.read_u16()".into(),
        FieldType::Int32 => "r.read_i32()".into(),
        FieldType::Uint32 => "r.read_u32()".into(),
        FieldType::Int64 => "r.read_i64()".into(),
        FieldType::Float64 => "r.read_f64()".into(),
        FieldType::Uuid => "r.read_uuid()".into(),
        FieldType::String => format!("r.read_string({compact})"),
        FieldType::Bytes | FieldType::Records => format!("r.read_bytes({compact})"),
        FieldType::Struct(name) => format!("{name}::decode_body(r, version)"),
        FieldType::Array(inner) => format!(
            "w::read_array(r, {compact}, |r| {})",
            read_value(inner, compact)
        ),
    }
}

/// An expression of type `Result<Option<T>, DecodeError>` reading a nullable `T`.
fn read_nullable(ty: &FieldType, compact: &str) -> String {
    match ty {
        FieldType::String => format!("r.read_nullable_string({compact})"),
        FieldType::Bytes | FieldType::Records => format!("r.read_nullable_bytes({compact})"),
        FieldType::Struct(name) => {
            format!("w::read_nullable_struct(r, |r| {name}::decode_body(r, version))")
        }
        FieldType::Array(inner) => format!(
            "w::read_nullable_array(r, {compact}, |r| {})",
            read_value(inner, compact)
        ),
        other => format!("{}.map(Some)", read_value(other, compact)),
    }
}

/// An expression of type `Result<FieldType, DecodeError>` for field `f`.
fn read_field(ctx: &Ctx, f: &FieldSpec, compact: &str) -> String {
    if is_option(f) {
        let nullable = ctx.cond(&f.nullable_versions);
        match nullable.as_str() {
            "true" => read_nullable(&f.ty, compact),
            "false" => format!("{}.map(Some)", read_value(&f.ty, compact)),
            cond => format!(
                "if {cond} {{ {} }} else {{ {}.map(Some) }}",
                read_nullable(&f.ty, compact),
                read_value(&f.ty, compact)
            ),
        }
    } else {
        read_value(&f.ty, compact)
    }
}

/// A test-only expression producing a random `T` valid at `version`.
fn arbitrary_value(ty: &FieldType) -> String {
    match ty {
        FieldType::Bool => "bool::arbitrary(g)".into(),
        FieldType::Int8 => "i8::arbitrary(g)".into(),
        FieldType::Int16 => "i16::arbitrary(g)".into(),
        FieldType::Uint16 => "u16::arbitrary(g)".into(),
        FieldType::Int32 => "i32::arbitrary(g)".into(),
        FieldType::Uint32 => "u32::arbitrary(g)".into(),
        FieldType::Int64 => "i64::arbitrary(g)".into(),
        FieldType::Float64 => "ts::arb_f64(g)".into(),
        FieldType::Uuid => "ts::arb_uuid(g)".into(),
        FieldType::String => "ts::arb_string(g)".into(),
        FieldType::Bytes | FieldType::Records => "ts::arb_bytes(g)".into(),
        FieldType::Struct(name) => format!("{name}::arbitrary_for_version(g, version)"),
        FieldType::Array(inner) => format!("ts::arb_vec(g, |g| {})", arbitrary_value(inner)),
    }
}

fn doc_comment(out: &mut String, indent: &str, text: Option<&str>) {
    if let Some(text) = text {
        let text = text.trim();
        if !text.is_empty() {
            for line in text.lines() {
                // Brackets in Kafka's prose ("Array[0]") are not doc links.
                let line = line.trim().replace('[', "\\[").replace(']', "\\]");
                let _ = writeln!(out, "{indent}/// {line}");
            }
        }
    }
}

/// Emits the whole file for one spec.
pub fn emit(spec: &MessageSpec, source_file: &str) -> Result<String, String> {
    let ctx = Ctx {
        spec,
        valid: spec.valid_versions,
        any_flexible: !spec
            .flexible_versions
            .intersect(&spec.valid_versions)
            .is_empty(),
    };
    let structs = Structs::collect(spec);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// @generated by kafkite-codegen from Apache Kafka's {source_file} (Apache-2.0).\n// Do not edit: change the generator (codegen/) and run `cargo run -p kafkite-codegen`.\n"
    );
    out.push_str("#![allow(clippy::all, unused_imports, unused_variables, unused_mut)]\n\n");
    out.push_str("use bytes::{BufMut, Bytes, BytesMut};\n\n");
    out.push_str("use crate::protocol::wire as w;\n");
    out.push_str("use crate::protocol::{DecodeError, EncodeError};\n\n");
    let _ = writeln!(out, "const MESSAGE: &str = {:?};\n", spec.name);
    let _ = writeln!(
        out,
        "/// Whether `version` uses the flexible (KIP-482) encoding.\n#[inline]\nfn is_flexible(version: i16) -> bool {{\n    {}\n}}\n",
        ctx.cond(&spec.flexible_versions)
    );

    for name in &structs.order {
        let fields = &structs.fields[name];
        emit_struct(&mut out, &ctx, name, fields, name == &spec.name)?;
    }

    emit_message_impl(&mut out, spec);
    emit_arbitrary(&mut out, &ctx, &structs)?;
    Ok(out)
}

fn emit_struct(
    out: &mut String,
    ctx: &Ctx,
    name: &str,
    fields: &[FieldSpec],
    is_top: bool,
) -> Result<(), String> {
    if is_top {
        let _ = writeln!(
            out,
            "/// {}: versions {}-{}{}.",
            ctx.spec.name,
            ctx.valid.lo,
            ctx.valid.hi,
            if ctx.any_flexible {
                format!(", flexible from v{}", ctx.spec.flexible_versions.lo)
            } else {
                String::new()
            }
        );
    } else {
        let _ = writeln!(out, "/// Part of {}.", ctx.spec.name);
    }
    out.push_str("#[derive(Debug, Clone, PartialEq)]\n");
    let _ = writeln!(out, "pub struct {name} {{");
    for f in fields {
        doc_comment(out, "    ", f.about.as_deref());
        let vs = if f.versions.is_empty() {
            "no version".to_string()
        } else if f.versions.hi == i16::MAX {
            format!("v{}+", f.versions.lo)
        } else {
            format!("v{}-{}", f.versions.lo, f.versions.hi)
        };
        let tagged = match f.tag {
            Some(t) => format!(", tagged field {t}"),
            None => String::new(),
        };
        let _ = writeln!(out, "    ///\n    /// Wire: {vs}{tagged}.");
        let _ = writeln!(out, "    pub {}: {},", field_ident(&f.name), rust_type(f));
    }
    if ctx.any_flexible {
        out.push_str(
            "    /// Tagged fields this build does not know; re-encoded unchanged.\n    pub unknown_tagged_fields: w::UnknownTaggedFields,\n",
        );
    }
    out.push_str("}\n\n");

    // Default
    let _ = writeln!(
        out,
        "impl Default for {name} {{\n    fn default() -> Self {{\n        {name} {{"
    );
    for f in fields {
        let _ = writeln!(
            out,
            "            {}: {},",
            field_ident(&f.name),
            default_expr(f)?
        );
    }
    if ctx.any_flexible {
        out.push_str("            unknown_tagged_fields: w::UnknownTaggedFields::default(),\n");
    }
    out.push_str("        }\n    }\n}\n\n");

    let _ = writeln!(out, "impl {name} {{");
    emit_encode(out, ctx, name, fields)?;
    emit_decode(out, ctx, name, fields);
    out.push_str("}\n\n");
    Ok(())
}

fn emit_encode(
    out: &mut String,
    ctx: &Ctx,
    name: &str,
    fields: &[FieldSpec],
) -> Result<(), String> {
    out.push_str(
        "    /// Writes this struct at `version` (the enclosing message's version).\n    pub(crate) fn encode_body(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {\n",
    );
    out.push_str("        let flexible = is_flexible(version);\n");
    for f in fields {
        let access = format!("self.{}", field_ident(&f.name));
        let regular = ctx.cond(&regular_versions(f));
        let present = ctx.cond(&f.versions);
        let compact = ctx.compact(f);
        let write = write_field(ctx, name, f, &access, &compact);
        let absent_check = if f.ignorable || present == "true" {
            String::new()
        } else {
            format!(
                "if !({present}) && {} {{ return Err(EncodeError::FieldNotInVersion {{ message: MESSAGE, field: \"{name}.{}\", version }}); }}",
                differs_from_default(f, &access)?,
                f.name
            )
        };
        match regular.as_str() {
            "false" => {}
            "true" => {
                let _ = writeln!(out, "        {write}");
            }
            cond => {
                let _ = writeln!(out, "        if {cond} {{ {write} }}");
            }
        }
        if !absent_check.is_empty() {
            let _ = writeln!(out, "        {absent_check}");
        }
    }
    if ctx.any_flexible {
        let tagged: Vec<&FieldSpec> = fields.iter().filter(|f| f.tag.is_some()).collect();
        out.push_str("        if flexible {\n");
        if tagged.is_empty() {
            out.push_str(
                "            w::put_tagged_fields(buf, Vec::new(), &self.unknown_tagged_fields);\n",
            );
        } else {
            out.push_str("            let mut tagged: Vec<(u32, Bytes)> = Vec::new();\n");
            for f in tagged {
                let access = format!("self.{}", field_ident(&f.name));
                let cond = ctx.cond(&f.tagged_versions);
                let write = write_field(ctx, name, f, &access, "true");
                let _ = writeln!(
                    out,
                    "            if {cond} && {} {{ let mut field = BytesMut::new(); {{ let buf = &mut field; {write} }} tagged.push(({}, field.freeze())); }}",
                    differs_from_default(f, &access)?,
                    f.tag.unwrap_or_default()
                );
            }
            out.push_str(
                "            w::put_tagged_fields(buf, tagged, &self.unknown_tagged_fields);\n",
            );
        }
        out.push_str("        }\n");
    }
    out.push_str("        Ok(())\n    }\n\n");
    Ok(())
}

fn emit_decode(out: &mut String, ctx: &Ctx, name: &str, fields: &[FieldSpec]) {
    out.push_str(
        "    /// Reads this struct at `version` (the enclosing message's version).\n    pub(crate) fn decode_body(r: &mut w::Reader, version: i16) -> Result<Self, DecodeError> {\n",
    );
    out.push_str("        let flexible = is_flexible(version);\n");
    let _ = writeln!(out, "        let mut this = {name}::default();");
    for f in fields {
        let regular = ctx.cond(&regular_versions(f));
        if regular == "false" {
            continue;
        }
        let read = read_field(ctx, f, &ctx.compact(f));
        let stmt = format!(
            "this.{} = {read}.map_err(|e| e.in_field({:?}))?;",
            field_ident(&f.name),
            f.name
        );
        if regular == "true" {
            let _ = writeln!(out, "        {stmt}");
        } else {
            let _ = writeln!(out, "        if {regular} {{ {stmt} }}");
        }
    }
    if ctx.any_flexible {
        let tagged: Vec<&FieldSpec> = fields.iter().filter(|f| f.tag.is_some()).collect();
        out.push_str("        if flexible {\n");
        out.push_str("            let unknown = r.read_tagged_fields(|tag, r| match tag {\n");
        for f in tagged {
            let cond = ctx.cond(&f.tagged_versions);
            let _ = writeln!(
                out,
                "                {} if {cond} => {{ this.{} = {}.map_err(|e| e.in_field({:?}))?; Ok(true) }}",
                f.tag.unwrap_or_default(),
                field_ident(&f.name),
                read_field(ctx, f, "true"),
                f.name
            );
        }
        out.push_str("                _ => Ok(false),\n            })?;\n");
        out.push_str("            this.unknown_tagged_fields = unknown;\n        }\n");
    }
    out.push_str("        Ok(this)\n    }\n");
}

fn emit_message_impl(out: &mut String, spec: &MessageSpec) {
    let name = &spec.name;
    let _ = writeln!(
        out,
        "impl crate::protocol::Message for {name} {{
    const NAME: &'static str = MESSAGE;
    const VERSIONS: crate::protocol::VersionRange = crate::protocol::VersionRange {{ min: {}, max: {} }};

    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {{
        if !Self::VERSIONS.contains(version) {{
            return Err(EncodeError::UnsupportedVersion {{ message: MESSAGE, version }});
        }}
        self.encode_body(buf, version)
    }}

    fn decode(r: &mut w::Reader, version: i16) -> Result<Self, DecodeError> {{
        if !Self::VERSIONS.contains(version) {{
            return Err(DecodeError::new(crate::protocol::DecodeErrorKind::UnsupportedVersion(version)).in_message(MESSAGE, version));
        }}
        Self::decode_body(r, version).map_err(|e| e.in_message(MESSAGE, version))
    }}

    fn is_flexible(version: i16) -> bool {{
        is_flexible(version)
    }}
}}
",
        spec.valid_versions.lo, spec.valid_versions.hi
    );
}

fn emit_arbitrary(out: &mut String, ctx: &Ctx, structs: &Structs) -> Result<(), String> {
    out.push_str("#[cfg(test)]\nmod arbitrary {\n    use super::*;\n    use crate::protocol::test_support as ts;\n    use quickcheck::{Arbitrary, Gen};\n\n");
    for name in &structs.order {
        let fields = &structs.fields[name];
        let _ = writeln!(
            out,
            "    impl {name} {{\n        /// A random value that version `version` can carry.\n        pub(crate) fn arbitrary_for_version(g: &mut Gen, version: i16) -> Self {{\n            let flexible = is_flexible(version);\n            let mut this = {name}::default();"
        );
        for f in fields {
            let present = ctx.cond(&f.versions);
            if present == "false" {
                continue;
            }
            let value = arbitrary_value(&f.ty);
            let expr = if is_option(f) {
                let nullable = ctx.cond(&f.nullable_versions);
                format!("if {nullable} && ts::arb_is_null(g) {{ None }} else {{ Some({value}) }}")
            } else {
                value
            };
            let stmt = format!("this.{} = {expr};", field_ident(&f.name));
            if present == "true" {
                let _ = writeln!(out, "            {stmt}");
            } else {
                let _ = writeln!(out, "            if {present} {{ {stmt} }}");
            }
        }
        if ctx.any_flexible {
            out.push_str(
                "            if flexible { this.unknown_tagged_fields = ts::arb_unknown_tagged_fields(g); }\n",
            );
        }
        out.push_str("            this\n        }\n    }\n\n");
    }
    out.push_str("}\n");
    Ok(())
}

/// The Rust module name for a spec.
pub fn module_name(spec: &MessageSpec) -> String {
    snake_case(&spec.name)
}
