//! How each condition is made: the certificates and DH groups (`Pki`),
//! a server of its own, and a client from the link's namespace. Apart from
//! its condition, each session has nothing a default rule looks at (CA
//! signed P-256 leaves valid for 90 days, the name asked for, AEAD suites
//! with ECDHE), so the rules that must not fire on it are all but those
//! [`super::expected`] names.
//!
//! Debian's OpenSSL 3.0 offers no 3DES suite even at security level 0
//! (`openssl ciphers 3DES:@SECLEVEL=0` matches nothing), so the insecure
//! suite is an anonymous one. It has no ML-KEM either: the post-quantum
//! server is rustls (`pq-server`).

use std::path::Path;
use std::process::{Command, Stdio};

use cipherlens_integration::{
    Authority, Background, Certificate, KeyType, Leaf, Server, TestBed, Validity, free_port, run,
    wait_listening,
};

/// A condition a session is made to have (or, `Clean` and `Modern`, none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Condition {
    Clean,
    WeakKey,
    Sha1Signature,
    Expired,
    NotYetValid,
    Expiring,
    TooLong,
    SelfSigned,
    Untrusted,
    NameMismatch,
    Anonymous,
    RsaCbc,
    Tls10,
    Dh1024,
    NoSni,
    DeniedJa3,
    Tls13Classical,
    PqRefused,
    OfferedTls10,
    Modern,
}

pub const CONDITIONS: [Condition; 20] = [
    Condition::Clean,
    Condition::WeakKey,
    Condition::Sha1Signature,
    Condition::Expired,
    Condition::NotYetValid,
    Condition::Expiring,
    Condition::TooLong,
    Condition::SelfSigned,
    Condition::Untrusted,
    Condition::NameMismatch,
    Condition::Anonymous,
    Condition::RsaCbc,
    Condition::Tls10,
    Condition::Dh1024,
    Condition::NoSni,
    Condition::DeniedJa3,
    Condition::Tls13Classical,
    Condition::PqRefused,
    Condition::OfferedTls10,
    Condition::Modern,
];

/// Level 0 lets OpenSSL use what it refuses by default (1024-bit keys and
/// groups, SHA-1 signatures, TLS 1.0, anonymous suites).
const LEVEL_0: &str = "ALL:@SECLEVEL=0";

/// The certificates and DH groups the servers are given.
pub struct Pki {
    pub ca: Authority,
    clean: Certificate,
    rsa: Certificate,
    weak_key: Certificate,
    sha1: Certificate,
    expired: Certificate,
    not_yet_valid: Certificate,
    expiring: Certificate,
    too_long: Certificate,
    self_signed: Certificate,
    untrusted: Certificate,
    mismatch: Certificate,
    ffdhe2048: String,
    dh1024: String,
}

impl Pki {
    pub fn new(dir: &Path) -> Self {
        let ca = Authority::new(dir, "cipherlens alerts CA");
        let rogue = Authority::new(dir, "cipherlens rogue CA");
        let issue = |leaf: Leaf<'_>| ca.issue(&leaf);
        let params = |name: &str, option: &str| {
            let path = dir.join(name).display().to_string();
            run(
                "openssl",
                &[
                    "genpkey",
                    "-genparam",
                    "-algorithm",
                    "DH",
                    "-pkeyopt",
                    option,
                    "-out",
                    &path,
                ],
            );
            path
        };
        Pki {
            clean: issue(Leaf::new("clean.test", &["clean.test"])),
            rsa: issue(Leaf {
                key: KeyType::Rsa2048,
                ..Leaf::new("rsa.test", &["rsa.test"])
            }),
            weak_key: issue(Leaf {
                key: KeyType::Rsa1024,
                ..Leaf::new("weak-key.test", &["weak-key.test"])
            }),
            sha1: issue(Leaf {
                digest: "sha1",
                ..Leaf::new("sha1.test", &["sha1.test"])
            }),
            expired: issue(Leaf {
                validity: Validity::Between("20200101000000Z", "20200301000000Z"),
                ..Leaf::new("expired.test", &["expired.test"])
            }),
            not_yet_valid: issue(Leaf {
                validity: Validity::Between("20991201000000Z", "20991231000000Z"),
                ..Leaf::new("future.test", &["future.test"])
            }),
            expiring: issue(Leaf {
                validity: Validity::Days(10),
                ..Leaf::new("expiring.test", &["expiring.test"])
            }),
            too_long: issue(Leaf {
                validity: Validity::Days(800),
                ..Leaf::new("long.test", &["long.test"])
            }),
            self_signed: Certificate::self_signed_for_days(dir, "self.test", 90),
            untrusted: rogue.issue(&Leaf::new("rogue.test", &["rogue.test"])),
            mismatch: issue(Leaf::new("right.test", &["right.test"])),
            ffdhe2048: params("ffdhe2048.pem", "group:ffdhe2048"),
            // RFC 5114's 1024-bit MODP group with a 160-bit subgroup.
            dh1024: params("dh1024.pem", "dh_rfc5114:1"),
            ca,
        }
    }
}

/// The server of a condition and the certificate it sends in clear (TLS
/// 1.2 and older), and the server name its client asks for.
pub fn server<'p>(
    bed: &TestBed,
    pki: &'p Pki,
    condition: Condition,
) -> (Server, Option<&'p Certificate>) {
    use Condition::*;
    let s_server = |certificate: &Certificate, extra: &[&str]| bed.s_server(certificate, extra);
    match condition {
        Clean | NoSni | DeniedJa3 => (s_server(&pki.clean, &[]), Some(&pki.clean)),
        WeakKey => (
            s_server(&pki.weak_key, &["-cipher", LEVEL_0]),
            Some(&pki.weak_key),
        ),
        Sha1Signature => (s_server(&pki.sha1, &["-cipher", LEVEL_0]), Some(&pki.sha1)),
        Expired => (s_server(&pki.expired, &[]), Some(&pki.expired)),
        NotYetValid => (s_server(&pki.not_yet_valid, &[]), Some(&pki.not_yet_valid)),
        Expiring => (s_server(&pki.expiring, &[]), Some(&pki.expiring)),
        TooLong => (s_server(&pki.too_long, &[]), Some(&pki.too_long)),
        SelfSigned => (s_server(&pki.self_signed, &[]), Some(&pki.self_signed)),
        Untrusted => (s_server(&pki.untrusted, &[]), Some(&pki.untrusted)),
        NameMismatch => (s_server(&pki.mismatch, &[]), Some(&pki.mismatch)),
        Anonymous => {
            let cipher = "ADH-AES128-GCM-SHA256:@SECLEVEL=0";
            let extra = ["-cipher", cipher, "-dhparam", &pki.ffdhe2048];
            (s_server(&pki.clean, &extra), None)
        }
        RsaCbc => (
            s_server(&pki.rsa, &["-cipher", "AES128-SHA:@SECLEVEL=0"]),
            Some(&pki.rsa),
        ),
        Tls10 => (
            s_server(&pki.clean, &["-tls1", "-cipher", LEVEL_0]),
            Some(&pki.clean),
        ),
        Dh1024 => {
            let cipher = "DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0";
            let extra = ["-cipher", cipher, "-dhparam", &pki.dh1024];
            (s_server(&pki.rsa, &extra), Some(&pki.rsa))
        }
        // TLS 1.3 sends the certificate encrypted.
        Tls13Classical | PqRefused => (s_server(&pki.clean, &[]), None),
        OfferedTls10 => (s_server(&pki.clean, &[]), None),
        Modern => (pq_server(bed, &pki.clean), None),
    }
}

/// `pq-server` on the host end of the link.
fn pq_server(bed: &TestBed, certificate: &Certificate) -> Server {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_pq-server"))
        .args([
            &bed.link.host_v4,
            &port.to_string(),
            &certificate.cert,
            &certificate.key,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pq-server");
    let process = Background(child);
    wait_listening(port);
    Server { process, port }
}

/// The client of a condition: one handshake from the link's namespace.
/// Its outcome is judged from the capture, not from its exit status
/// (`OfferedTls10` is refused by design).
pub fn connect(bed: &TestBed, condition: Condition, port: u16) {
    use Condition::*;
    let link = &bed.link;
    if matches!(condition, PqRefused | Modern) {
        let port = port.to_string();
        link.client(
            env!("CARGO_BIN_EXE_pq-client"),
            &[&link.host_v4, &port, "clean.test"],
        );
        return;
    }
    let (server_name, extra): (Option<&str>, &[&str]) = match condition {
        Clean => (Some("clean.test"), &["-tls1_2"]),
        WeakKey => (Some("weak-key.test"), &["-tls1_2", "-cipher", LEVEL_0]),
        Sha1Signature => (Some("sha1.test"), &["-tls1_2", "-cipher", LEVEL_0]),
        Expired => (Some("expired.test"), &["-tls1_2"]),
        NotYetValid => (Some("future.test"), &["-tls1_2"]),
        Expiring => (Some("expiring.test"), &["-tls1_2"]),
        TooLong => (Some("long.test"), &["-tls1_2"]),
        SelfSigned => (Some("self.test"), &["-tls1_2"]),
        Untrusted => (Some("rogue.test"), &["-tls1_2"]),
        NameMismatch => (Some("wrong.test"), &["-tls1_2"]),
        Anonymous => (
            Some("clean.test"),
            &["-tls1_2", "-cipher", "ADH-AES128-GCM-SHA256:@SECLEVEL=0"],
        ),
        RsaCbc => (
            Some("rsa.test"),
            &["-tls1_2", "-cipher", "AES128-SHA:@SECLEVEL=0"],
        ),
        Tls10 => (
            Some("clean.test"),
            &["-tls1", "-cipher", "ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0"],
        ),
        Dh1024 => (
            Some("rsa.test"),
            &[
                "-tls1_2",
                "-cipher",
                "DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0",
            ],
        ),
        NoSni => (None, &["-tls1_2"]),
        // Its own group list makes its JA3 unlike every other client's here.
        DeniedJa3 => (Some("clean.test"), &["-tls1_2", "-groups", "P-384:P-256"]),
        Tls13Classical => (Some("clean.test"), &["-tls1_3"]),
        OfferedTls10 => (Some("clean.test"), &["-tls1", "-cipher", LEVEL_0]),
        PqRefused | Modern => unreachable!(),
    };
    let connect = format!("{}:{port}", link.host_v4);
    let mut args = vec!["s_client", "-connect", &connect];
    match server_name {
        Some(name) => args.extend(["-servername", name]),
        None => args.push("-noservername"),
    }
    args.extend_from_slice(extra);
    link.command("openssl")
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .expect("openssl s_client");
}
