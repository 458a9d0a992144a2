//! Framing: the INT32 size prefix, request and response headers, and the
//! body, for both sides of a connection (clients write requests and read
//! responses; the simulated broker does the opposite).
//!
//! Header versions follow the API and version (see
//! [`ApiKey::request_header_version`]): request header v1 (INT16 client id)
//! or v2 (plus tagged fields) and response header v0 or v1 (tagged fields);
//! ApiVersions responses always use v0.

use bytes::{BufMut, Bytes, BytesMut};

use super::messages::{RequestHeader, ResponseHeader};
use super::{AnyRequest, ApiKey, DecodeError, DecodeErrorKind, EncodeError, Message, Reader};

/// The request header fields a client sets; the rest follow from the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext<'a> {
    /// The API being called.
    pub api_key: ApiKey,
    /// The version of the API the body is encoded at.
    pub api_version: i16,
    /// The id the broker echoes in its response header, to match the two.
    pub correlation_id: i32,
    /// The `client.id` sent in the header; `None` sends a null string.
    pub client_id: Option<&'a str>,
}

/// Appends one whole request frame: size, header, body.
pub fn encode_request<M: Message>(
    buf: &mut BytesMut,
    ctx: &RequestContext<'_>,
    body: &M,
) -> Result<(), EncodeError> {
    encode_request_with(buf, ctx, |buf| body.encode(buf, ctx.api_version))
}

/// Like [`encode_request`], with the body written by `write_body` (for a
/// body whose type is only known at run time, such as an `AnyRequest`).
pub fn encode_request_with(
    buf: &mut BytesMut,
    ctx: &RequestContext<'_>,
    write_body: impl FnOnce(&mut BytesMut) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    let start = buf.len();
    buf.put_i32(0); // size, filled in below
    let header = RequestHeader {
        request_api_key: ctx.api_key.key(),
        request_api_version: ctx.api_version,
        correlation_id: ctx.correlation_id,
        client_id: ctx.client_id.map(str::to_owned),
        unknown_tagged_fields: Default::default(),
    };
    header.encode(buf, ctx.api_key.request_header_version(ctx.api_version))?;
    write_body(buf)?;
    let size = (buf.len() - start - 4) as i32;
    buf[start..start + 4].copy_from_slice(&size.to_be_bytes());
    Ok(())
}

/// Appends one whole response frame: size, header, body.
pub fn encode_response<M: Message>(
    buf: &mut BytesMut,
    api_key: ApiKey,
    api_version: i16,
    correlation_id: i32,
    body: &M,
) -> Result<(), EncodeError> {
    encode_response_with(buf, api_key, api_version, correlation_id, |b| {
        body.encode(b, api_version)
    })
}

/// Like [`encode_response`], with the body written by `write_body`.
pub fn encode_response_with(
    buf: &mut BytesMut,
    api_key: ApiKey,
    api_version: i16,
    correlation_id: i32,
    write_body: impl FnOnce(&mut BytesMut) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    let start = buf.len();
    buf.put_i32(0);
    let header = ResponseHeader {
        correlation_id,
        unknown_tagged_fields: Default::default(),
    };
    header.encode(buf, api_key.response_header_version(api_version))?;
    write_body(buf)?;
    let size = (buf.len() - start - 4) as i32;
    buf[start..start + 4].copy_from_slice(&size.to_be_bytes());
    Ok(())
}

/// Reads the correlation id at the front of a response frame (after the
/// size prefix), before the caller knows which request it answers.
pub fn peek_correlation_id(frame: &[u8]) -> Result<i32, DecodeError> {
    match frame.get(..4) {
        Some(b) => Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(DecodeError::new(DecodeErrorKind::UnexpectedEof {
            needed: 4,
            remaining: frame.len(),
        })
        .in_message("ResponseHeader", 0)),
    }
}

/// Decodes a response frame (without its size prefix) for the request it
/// answers. Bytes after the body are ignored, as the Java client and
/// librdkafka ignore them (librdkafka's mock cluster sends one after its
/// Metadata v12 answers); [`decode_response_exact`] refuses them.
pub fn decode_response<M: Message>(
    frame: Bytes,
    api_key: ApiKey,
    api_version: i16,
) -> Result<(ResponseHeader, M), DecodeError> {
    let mut r = Reader::new(frame);
    let header = ResponseHeader::decode(&mut r, api_key.response_header_version(api_version))?;
    let body = M::decode(&mut r, api_version)?;
    Ok((header, body))
}

/// Like [`decode_response`], but the whole frame must be consumed: for
/// tests of our own encoders, where trailing bytes mean a bug.
pub fn decode_response_exact<M: Message>(
    frame: Bytes,
    api_key: ApiKey,
    api_version: i16,
) -> Result<(ResponseHeader, M), DecodeError> {
    let mut r = Reader::new(frame);
    let header = ResponseHeader::decode(&mut r, api_key.response_header_version(api_version))?;
    let body = M::decode(&mut r, api_version)?;
    r.expect_end()
        .map_err(|e| e.in_message(M::NAME, api_version))?;
    Ok((header, body))
}

/// Decodes a request frame (without its size prefix): the broker side.
pub fn decode_request(frame: Bytes) -> Result<(RequestHeader, AnyRequest), DecodeError> {
    let mut r = Reader::new(frame);
    // The key and version lead every header version, so peek them first to
    // learn which header version follows.
    let mut peek = r.clone();
    let api_key = peek.read_i16()?;
    let api_version = peek.read_i16()?;
    let key = ApiKey::from_i16(api_key)
        .ok_or_else(|| DecodeError::new(DecodeErrorKind::UnknownApiKey(api_key)))?;
    let header = RequestHeader::decode(&mut r, key.request_header_version(api_version))?;
    let body = AnyRequest::decode(api_key, api_version, &mut r)?;
    r.expect_end()?;
    Ok((header, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::messages::{ApiVersionsRequest, ApiVersionsResponse, MetadataRequest};

    #[test]
    fn api_versions_v3_request_matches_kafkas_wire_layout() {
        let mut buf = BytesMut::new();
        let body = ApiVersionsRequest {
            client_software_name: "kafkite".into(),
            client_software_version: "0.1.0".into(),
            ..Default::default()
        };
        let ctx = RequestContext {
            api_key: ApiKey::ApiVersions,
            api_version: 3,
            correlation_id: 1,
            client_id: Some("kafkite"),
        };
        encode_request(&mut buf, &ctx, &body).unwrap();
        let mut expected: Vec<u8> = vec![];
        expected.extend([0, 18, 0, 3, 0, 0, 0, 1]); // key, version, correlation id
        expected.extend([0, 7]); // client id keeps its INT16 length in header v2
        expected.extend(b"kafkite");
        expected.push(0); // header tagged fields
        expected.push(8); // compact string: length + 1
        expected.extend(b"kafkite");
        expected.push(6);
        expected.extend(b"0.1.0");
        expected.push(0); // body tagged fields
        let mut framed = (expected.len() as i32).to_be_bytes().to_vec();
        framed.extend(expected);
        assert_eq!(&buf[..], &framed[..]);
    }

    #[test]
    fn metadata_v0_request_matches_kafka_0_8_layout() {
        let mut buf = BytesMut::new();
        let body = MetadataRequest {
            topics: Some(vec![
                crate::protocol::messages::metadata_request::MetadataRequestTopic {
                    name: Some("t".into()),
                    ..Default::default()
                },
            ]),
            ..Default::default()
        };
        let ctx = RequestContext {
            api_key: ApiKey::Metadata,
            api_version: 0,
            correlation_id: 7,
            client_id: None,
        };
        encode_request(&mut buf, &ctx, &body).unwrap();
        let expected: Vec<u8> = vec![
            0, 0, 0, 17, // size
            0, 3, 0, 0, 0, 0, 0, 7, // key 3, v0, correlation 7
            0xff, 0xff, // null client id
            0, 0, 0, 1, 0, 1, b't', // one topic "t"
        ];
        assert_eq!(&buf[..], &expected[..]);
    }

    #[test]
    fn api_versions_response_header_is_v0_even_when_the_body_is_flexible() {
        let body = ApiVersionsResponse::default();
        let mut buf = BytesMut::new();
        encode_response(&mut buf, ApiKey::ApiVersions, 3, 42, &body).unwrap();
        // size, then correlation id, then straight into the body: no header tags.
        assert_eq!(&buf[4..8], &42i32.to_be_bytes());
        assert_eq!(&buf[8..10], &[0, 0]); // error code
        let frame = buf.freeze().slice(4..);
        let (header, decoded): (_, ApiVersionsResponse) =
            decode_response(frame, ApiKey::ApiVersions, 3).unwrap();
        assert_eq!(header.correlation_id, 42);
        assert_eq!(decoded, body);
    }

    #[test]
    fn request_frames_decode_on_the_broker_side() {
        let mut buf = BytesMut::new();
        let ctx = RequestContext {
            api_key: ApiKey::Metadata,
            api_version: 12,
            correlation_id: 9,
            client_id: Some("c"),
        };
        let body = MetadataRequest::default();
        encode_request(&mut buf, &ctx, &body).unwrap();
        let (header, decoded) = decode_request(buf.freeze().slice(4..)).unwrap();
        assert_eq!(header.correlation_id, 9);
        assert_eq!(header.client_id.as_deref(), Some("c"));
        assert_eq!(decoded, AnyRequest::Metadata(body));
    }

    #[test]
    fn trailing_bytes_after_a_response_are_ignored_unless_exact() {
        let mut buf = BytesMut::new();
        encode_response(
            &mut buf,
            ApiKey::ApiVersions,
            0,
            1,
            &ApiVersionsResponse::default(),
        )
        .unwrap();
        buf.put_u8(0xaa);
        let frame = buf.freeze().slice(4..);
        let (header, _): (_, ApiVersionsResponse) =
            decode_response(frame.clone(), ApiKey::ApiVersions, 0).unwrap();
        assert_eq!(header.correlation_id, 1);
        let err = decode_response_exact::<ApiVersionsResponse>(frame, ApiKey::ApiVersions, 0)
            .unwrap_err();
        assert_eq!(err.kind(), &DecodeErrorKind::TrailingBytes(1));
        assert_eq!(err.message(), Some(("ApiVersionsResponse", 0)));
    }
}
