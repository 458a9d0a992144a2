//! Spec names (PascalCase) to Rust names.

/// "ThrottleTimeMs" -> "throttle_time_ms", "ISRNodes" -> "isr_nodes".
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = if i > 0 { Some(chars[i - 1]) } else { None };
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                None => false,
                Some(p) if p.is_ascii_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_ascii_uppercase() => next.is_some_and(|n| n.is_ascii_lowercase()),
                _ => false,
            };
            if boundary {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A field name that is safe as a Rust identifier.
pub fn field_ident(name: &str) -> String {
    let snake = snake_case(name);
    match snake.as_str() {
        "type" | "match" | "ref" | "self" | "struct" | "enum" | "fn" | "impl" | "mod" | "use"
        | "where" | "loop" | "move" | "box" | "async" | "await" | "dyn" | "final" | "override"
        | "priv" | "yield" | "abstract" | "become" | "do" | "macro" | "try" | "typeof"
        | "unsized" | "virtual" | "in" | "as" | "for" | "if" | "else" | "let" | "mut" | "pub"
        | "return" | "static" | "super" | "trait" | "true" | "false" | "unsafe" | "while"
        | "const" | "continue" | "crate" | "extern" | "break" => format!("r#{snake}"),
        _ => snake,
    }
}

/// "ProduceRequest" -> "Produce": the API's name from its request or response.
pub fn api_name(message: &str) -> &str {
    message
        .strip_suffix("Request")
        .or_else(|| message.strip_suffix("Response"))
        .unwrap_or(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_cases_acronyms_and_digits() {
        assert_eq!(snake_case("ThrottleTimeMs"), "throttle_time_ms");
        assert_eq!(snake_case("ISRNodes"), "isr_nodes");
        assert_eq!(snake_case("TopicId"), "topic_id");
        assert_eq!(snake_case("V3AndBelowTopics"), "v3_and_below_topics");
        assert_eq!(field_ident("Type"), "r#type");
    }
}
