//! Hello extensions: kept raw in wire order (fingerprints need the exact
//! order and code points) and decoded into the fields operators ask about.
//!
//! Decoding is lenient per extension: a malformed extension body is recorded
//! in `malformed_extensions` and the rest of the hello is still reported,
//! because one odd extension must not hide the SNI or the cipher list.

use serde::Serialize;

use super::reader::{Reader, Truncated};

pub const SERVER_NAME: u16 = 0;
pub const STATUS_REQUEST: u16 = 5;
pub const SUPPORTED_GROUPS: u16 = 10;
pub const EC_POINT_FORMATS: u16 = 11;
pub const SIGNATURE_ALGORITHMS: u16 = 13;
pub const ALPN: u16 = 16;
pub const SIGNED_CERTIFICATE_TIMESTAMP: u16 = 18;
pub const PADDING: u16 = 21;
pub const ENCRYPT_THEN_MAC: u16 = 22;
pub const EXTENDED_MASTER_SECRET: u16 = 23;
pub const COMPRESS_CERTIFICATE: u16 = 27;
pub const RECORD_SIZE_LIMIT: u16 = 28;
pub const SESSION_TICKET: u16 = 35;
pub const PRE_SHARED_KEY: u16 = 41;
pub const EARLY_DATA: u16 = 42;
pub const SUPPORTED_VERSIONS: u16 = 43;
pub const COOKIE: u16 = 44;
pub const PSK_KEY_EXCHANGE_MODES: u16 = 45;
pub const SIGNATURE_ALGORITHMS_CERT: u16 = 50;
pub const KEY_SHARE: u16 = 51;
pub const QUIC_TRANSPORT_PARAMETERS: u16 = 57;
pub const ENCRYPTED_CLIENT_HELLO: u16 = 0xFE0D;
pub const RENEGOTIATION_INFO: u16 = 0xFF01;

/// One extension as sent: its type and body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RawExtension {
    /// IANA extension type.
    #[serde(rename = "type")]
    pub extension_type: u16,
    /// Body length on the wire.
    pub length: u16,
}

/// Walks an extensions block (without its two-byte length), handing each
/// extension's type and borrowed body to `visit` in wire order, and returns
/// the extensions as sent. Bodies are not copied: they are decoded in place.
pub(crate) fn split_extensions(
    block: &[u8],
    mut visit: impl FnMut(u16, &[u8]),
) -> Result<Vec<RawExtension>, Truncated> {
    let mut reader = Reader::new(block);
    // Small, exact-ish capacity: a request of 1 KiB or more makes glibc
    // consolidate its free lists, which showed up as a third of the
    // per-hello cost when hellos are parsed and fingerprinted in turn.
    let mut extensions = Vec::with_capacity((block.len() / 8).min(32));
    while !reader.is_empty() {
        let extension_type = reader.u16("extension type")?;
        let body = reader.vec16("extension body")?;
        extensions.push(RawExtension {
            extension_type,
            length: u16::try_from(body.len()).unwrap_or(u16::MAX),
        });
        visit(extension_type, body);
    }
    Ok(extensions)
}

/// First `host_name` entry of a server_name extension (RFC 6066 section 3).
pub(crate) fn server_name(body: &[u8]) -> Result<Option<String>, Truncated> {
    let mut outer = Reader::new(body);
    let list = outer.vec16("server_name list")?;
    let mut reader = Reader::new(list);
    while !reader.is_empty() {
        let name_type = reader.u8("server_name type")?;
        let name = reader.vec16("server_name")?;
        if name_type == 0 {
            return Ok(Some(String::from_utf8_lossy(name).into_owned()));
        }
    }
    Ok(None)
}

/// Protocol names of an ALPN extension (RFC 7301 section 3.1), as sent.
pub(crate) fn alpn_protocols(body: &[u8]) -> Result<Vec<Vec<u8>>, Truncated> {
    let mut outer = Reader::new(body);
    let list = outer.vec16("ALPN list")?;
    let mut reader = Reader::new(list);
    let mut protocols = Vec::new();
    while !reader.is_empty() {
        protocols.push(reader.vec8("ALPN protocol")?.to_vec());
    }
    Ok(protocols)
}

/// A list of u16 values with a two-byte length prefix.
pub(crate) fn u16_list16<C: FromIterator<u16>>(
    body: &[u8],
    field: &'static str,
) -> Result<C, Truncated> {
    let mut reader = Reader::new(body);
    Reader::u16_list(reader.vec16(field)?, field)
}

/// A list of u16 values with a one-byte length prefix (client supported_versions).
pub(crate) fn u16_list8<C: FromIterator<u16>>(
    body: &[u8],
    field: &'static str,
) -> Result<C, Truncated> {
    let mut reader = Reader::new(body);
    Reader::u16_list(reader.vec8(field)?, field)
}

/// A list of u8 values with a one-byte length prefix.
pub(crate) fn u8_list8<'a>(body: &'a [u8], field: &'static str) -> Result<&'a [u8], Truncated> {
    let mut reader = Reader::new(body);
    reader.vec8(field)
}

/// Groups of the client's key_share entries (RFC 8446 section 4.2.8).
pub(crate) fn client_key_share_groups(
    body: &[u8],
) -> Result<smallvec::SmallVec<[KeyShareEntry; 4]>, Truncated> {
    let mut outer = Reader::new(body);
    let list = outer.vec16("key_share list")?;
    let mut reader = Reader::new(list);
    let mut entries = smallvec::SmallVec::new();
    while !reader.is_empty() {
        let group = reader.u16("key_share group")?;
        let key = reader.vec16("key_share key_exchange")?;
        entries.push(KeyShareEntry {
            group,
            key_exchange_length: key.len(),
        });
    }
    Ok(entries)
}

/// One offered key share: the group and the size of its public value (a
/// post-quantum hybrid share is over a kilobyte, which is why such hellos
/// span TCP segments).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KeyShareEntry {
    pub group: u16,
    pub key_exchange_length: usize,
}

/// Lowercase name-ish rendering of an ALPN protocol id: UTF-8 when it is,
/// else `0x` + hex.
pub fn alpn_display(protocol: &[u8]) -> String {
    match std::str::from_utf8(protocol) {
        Ok(text) if text.chars().all(|c| !c.is_control()) => text.to_string(),
        _ => format!("0x{}", hex::encode(protocol)),
    }
}
