//! Subject and issuer names as strings people and tools compare.
//!
//! Two renderings are produced from one walk over the name:
//! - the RFC 4514 string, which is the interoperable identifier (escaped,
//!   last RDN first). Within a multi-valued RDN the attributes are also
//!   reversed, so the string equals `openssl x509 -nameopt RFC2253,-esc_msb`
//!   output exactly; RFC 4514 leaves that order open.
//! - the RDN list in DER order with unescaped values, the shape Suricata and
//!   most dashboards show (`C=US, O=GitHub, Inc.`).

use x509_parser::x509::{AttributeTypeAndValue, X509Name};

use super::attribute_value::{attribute_text, hex_der_form};

/// Both renderings of one name plus its common name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RenderedName {
    pub(crate) rfc4514: String,
    pub(crate) rdns: Vec<String>,
    pub(crate) common_name: Option<String>,
}

const COMMON_NAME_OID: &str = "2.5.4.3";

pub(crate) fn render_name(name: &X509Name<'_>) -> RenderedName {
    let mut rdns = Vec::new();
    let mut escaped_rdns = Vec::new();
    let mut common_name = None;
    for rdn in name.iter_rdn() {
        let mut readable = Vec::new();
        let mut escaped = Vec::new();
        for attribute in rdn.iter() {
            let oid = attribute.attr_type().to_id_string();
            let text = attribute_text(attribute.attr_value());
            let readable_value = text
                .clone()
                .unwrap_or_else(|| hex_der_form(attribute.attr_value()));
            if oid == COMMON_NAME_OID {
                common_name = Some(readable_value.clone());
            }
            let label = short_name(&oid).map_or_else(|| oid.clone(), str::to_owned);
            readable.push(format!("{label}={readable_value}"));
            escaped.push(format!("{label}={}", rfc4514_value(&oid, attribute, text)));
        }
        rdns.push(readable.join("+"));
        escaped.reverse();
        escaped_rdns.push(escaped.join("+"));
    }
    escaped_rdns.reverse();
    RenderedName {
        rfc4514: escaped_rdns.join(","),
        rdns,
        common_name,
    }
}

/// RFC 4514 2.4: text values of known attribute types are escaped strings;
/// values of types written as dotted OIDs, and values that are not text,
/// are `#` plus the hex of their DER.
fn rfc4514_value(oid: &str, attribute: &AttributeTypeAndValue<'_>, text: Option<String>) -> String {
    match (short_name(oid), text) {
        (Some(_), Some(text)) => escape_rfc4514(&text),
        _ => hex_der_form(attribute.attr_value()),
    }
}

/// RFC 4514 2.4 escaping: the specials `"+,;<>\` always, `#` and space at
/// the start, space at the end, and control characters as `\XX`. Other
/// characters (including non-ASCII) are written as themselves.
pub(crate) fn escape_rfc4514(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len() + 4);
    let last_index = value.chars().count().saturating_sub(1);
    for (index, character) in value.chars().enumerate() {
        match character {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                escaped.push('\\');
                escaped.push(character);
            }
            '#' if index == 0 => escaped.push_str("\\#"),
            ' ' if index == 0 || index == last_index => escaped.push_str("\\ "),
            control if control.is_ascii_control() => {
                escaped.push_str(&format!("\\{:02X}", u32::from(control)));
            }
            other => escaped.push(other),
        }
    }
    escaped
}

/// Short names for attribute types, as OpenSSL and RFC 4519 spell them.
fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "street",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "title",
        "2.5.4.13" => "description",
        "2.5.4.15" => "businessCategory",
        "2.5.4.16" => "postalAddress",
        "2.5.4.17" => "postalCode",
        "2.5.4.18" => "postOfficeBox",
        "2.5.4.20" => "telephoneNumber",
        "2.5.4.41" => "name",
        "2.5.4.42" => "GN",
        "2.5.4.43" => "initials",
        "2.5.4.44" => "generationQualifier",
        "2.5.4.45" => "x500UniqueIdentifier",
        "2.5.4.46" => "dnQualifier",
        "2.5.4.65" => "pseudonym",
        "2.5.4.72" => "role",
        "2.5.4.97" => "organizationIdentifier",
        "1.2.840.113549.1.9.1" => "emailAddress",
        "0.9.2342.19200300.100.1.1" => "UID",
        "0.9.2342.19200300.100.1.25" => "DC",
        "1.3.6.1.4.1.311.60.2.1.1" => "jurisdictionL",
        "1.3.6.1.4.1.311.60.2.1.2" => "jurisdictionST",
        "1.3.6.1.4.1.311.60.2.1.3" => "jurisdictionC",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specials_are_escaped_everywhere() {
        assert_eq!(escape_rfc4514("GitHub, Inc."), "GitHub\\, Inc.");
        assert_eq!(
            escape_rfc4514("a+b;c<d>e\"f\\g"),
            "a\\+b\\;c\\<d\\>e\\\"f\\\\g"
        );
    }

    #[test]
    fn hash_and_spaces_are_escaped_only_at_the_ends() {
        assert_eq!(escape_rfc4514("#1 a#b "), "\\#1 a#b\\ ");
        assert_eq!(escape_rfc4514(" x"), "\\ x");
        assert_eq!(escape_rfc4514(" "), "\\ ");
        assert_eq!(escape_rfc4514(""), "");
    }

    #[test]
    fn control_characters_become_hex_pairs_and_unicode_stays() {
        assert_eq!(escape_rfc4514("a\u{0}b\nc"), "a\\00b\\0Ac");
        assert_eq!(escape_rfc4514("Orl\u{e9}ans"), "Orl\u{e9}ans");
    }

    #[test]
    fn unknown_attribute_types_have_no_short_name() {
        assert_eq!(short_name("1.2.3.4"), None);
        assert_eq!(short_name("2.5.4.3"), Some("CN"));
    }
}
