//! PLAIN (RFC 4616): one message, `authzid NUL authcid NUL password`,
//! with no authorization identity, as Kafka's clients send it.

use crate::security::Secret;

pub(crate) fn initial_response(username: &str, password: &Secret) -> Vec<u8> {
    let mut message = Vec::with_capacity(username.len() + password.expose().len() + 2);
    message.push(0);
    message.extend_from_slice(username.as_bytes());
    message.push(0);
    message.extend_from_slice(password.expose().as_bytes());
    message
}

#[cfg(test)]
mod tests {
    #[test]
    fn message_is_nul_separated() {
        let m = super::initial_response("alice", &"alice-secret".into());
        assert_eq!(m, b"\0alice\0alice-secret");
    }
}
