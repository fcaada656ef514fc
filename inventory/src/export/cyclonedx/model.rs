//! The parts of the CycloneDX 1.6 JSON model a CBOM from live traffic
//! uses, as serde types. Field names are the schema's (`bom-1.6.schema.json`);
//! only fields 1.6 allows inside `cryptoProperties` exist here, so a 1.7-only
//! field cannot slip in.

use serde::Serialize;

/// The BOM's top-level fields before `components` and `dependencies`,
/// which are written one by one after it.
#[derive(Debug, Serialize)]
pub(super) struct Header {
    #[serde(rename = "bomFormat")]
    pub bom_format: &'static str,
    #[serde(rename = "specVersion")]
    pub spec_version: &'static str,
    #[serde(rename = "serialNumber", skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    pub version: u32,
    pub metadata: Metadata,
}

#[derive(Debug, Serialize)]
pub(super) struct Metadata {
    pub timestamp: String,
    pub lifecycles: Vec<Lifecycle>,
    pub tools: Tools,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
}

#[derive(Debug, Serialize)]
pub(super) struct Lifecycle {
    pub phase: &'static str,
}

#[derive(Debug, Serialize)]
pub(super) struct Tools {
    pub components: Vec<Tool>,
}

#[derive(Debug, Serialize)]
pub(super) struct Tool {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub name: &'static str,
    pub version: String,
}

#[derive(Debug, Serialize)]
pub(super) struct Component {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(rename = "bom-ref")]
    pub bom_ref: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(rename = "cryptoProperties", skip_serializing_if = "Option::is_none")]
    pub crypto_properties: Option<CryptoProperties>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
}

#[derive(Debug, Serialize)]
pub(super) struct Property {
    pub name: String,
    pub value: String,
}

impl Property {
    /// A `cipherlens:` property.
    pub fn new(name: &str, value: impl Into<String>) -> Property {
        Property {
            name: format!("cipherlens:{name}"),
            value: value.into(),
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct Evidence {
    pub occurrences: Vec<Occurrence>,
}

#[derive(Debug, Serialize)]
pub(super) struct Occurrence {
    pub location: String,
    #[serde(rename = "additionalContext")]
    pub additional_context: String,
}

#[derive(Debug, Serialize)]
pub(super) struct CryptoProperties {
    #[serde(rename = "assetType")]
    pub asset_type: &'static str,
    #[serde(
        rename = "algorithmProperties",
        skip_serializing_if = "Option::is_none"
    )]
    pub algorithm: Option<AlgorithmProperties>,
    #[serde(
        rename = "certificateProperties",
        skip_serializing_if = "Option::is_none"
    )]
    pub certificate: Option<CertificateProperties>,
    #[serde(
        rename = "relatedCryptoMaterialProperties",
        skip_serializing_if = "Option::is_none"
    )]
    pub related_material: Option<RelatedMaterialProperties>,
    #[serde(rename = "protocolProperties", skip_serializing_if = "Option::is_none")]
    pub protocol: Option<ProtocolProperties>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oid: Option<String>,
}

impl CryptoProperties {
    pub fn new(asset_type: &'static str) -> CryptoProperties {
        CryptoProperties {
            asset_type,
            algorithm: None,
            certificate: None,
            related_material: None,
            protocol: None,
            oid: None,
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct AlgorithmProperties {
    pub primitive: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<&'static str>,
    #[serde(
        rename = "parameterSetIdentifier",
        skip_serializing_if = "Option::is_none"
    )]
    pub parameter_set: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub curve: Option<String>,
    #[serde(rename = "cryptoFunctions", skip_serializing_if = "Vec::is_empty")]
    pub crypto_functions: Vec<&'static str>,
    #[serde(
        rename = "classicalSecurityLevel",
        skip_serializing_if = "Option::is_none"
    )]
    pub classical: Option<u32>,
    #[serde(rename = "nistQuantumSecurityLevel")]
    pub quantum: u8,
}

#[derive(Debug, Serialize)]
pub(super) struct CertificateProperties {
    #[serde(rename = "subjectName")]
    pub subject: String,
    #[serde(rename = "issuerName")]
    pub issuer: String,
    #[serde(rename = "notValidBefore")]
    pub not_before: String,
    #[serde(rename = "notValidAfter")]
    pub not_after: String,
    #[serde(rename = "signatureAlgorithmRef")]
    pub signature_algorithm: String,
    #[serde(rename = "subjectPublicKeyRef")]
    pub public_key: String,
    #[serde(rename = "certificateFormat")]
    pub format: &'static str,
}

#[derive(Debug, Serialize)]
pub(super) struct RelatedMaterialProperties {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "algorithmRef")]
    pub algorithm: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u32>,
    pub format: &'static str,
}

#[derive(Debug, Serialize)]
pub(super) struct ProtocolProperties {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub version: String,
    #[serde(rename = "cipherSuites")]
    pub cipher_suites: Vec<CipherSuite>,
    #[serde(rename = "cryptoRefArray", skip_serializing_if = "Vec::is_empty")]
    pub crypto_refs: Vec<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct CipherSuite {
    pub name: String,
    pub algorithms: Vec<String>,
    pub identifiers: Vec<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct Dependency {
    #[serde(rename = "ref")]
    pub bom_ref: String,
    #[serde(rename = "dependsOn", skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}
