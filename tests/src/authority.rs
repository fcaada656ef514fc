//! A test certificate authority run by `openssl ca`, for leaves that
//! `openssl x509 -req` (OpenSSL 3.0) cannot make: validity between chosen
//! dates (already expired, not yet valid), a chosen signature digest
//! (SHA-1), a chosen key, and subjectAltNames.

use std::path::{Path, PathBuf};

use crate::certificate::{Certificate, KeyType, file_stem, path_string};
use crate::process::run;

/// A root CA (self-signed P-256) with an `openssl ca` database of its own.
#[derive(Debug)]
pub struct Authority {
    /// The CA's certificate and key.
    pub root: Certificate,
    dir: PathBuf,
    config: PathBuf,
}

/// When a leaf is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity<'a> {
    /// From now for this many days.
    Days(u32),
    /// notBefore and notAfter as `YYYYMMDDHHMMSSZ`.
    Between(&'a str, &'a str),
}

/// What a leaf is made with.
#[derive(Debug, Clone, Copy)]
pub struct Leaf<'a> {
    pub common_name: &'a str,
    pub key: KeyType,
    /// dNSName subjectAltNames (none: no subjectAltName extension).
    pub dns_names: &'a [&'a str],
    pub validity: Validity<'a>,
    /// The signature's digest, as `openssl ca -md` takes it.
    pub digest: &'a str,
}

impl<'a> Leaf<'a> {
    /// A P-256 leaf for `common_name` with it as its one DNS name, valid for
    /// 90 days (not expiring soon, not too long), signed with SHA-256.
    pub fn new(common_name: &'a str, dns_names: &'a [&'a str]) -> Self {
        Leaf {
            common_name,
            key: KeyType::EcP256,
            dns_names,
            validity: Validity::Days(90),
            digest: "sha256",
        }
    }
}

impl Authority {
    /// A CA named `name` (its subject is `CN=<name>`), valid for ten years,
    /// with its files under `dir`.
    pub fn new(dir: &Path, name: &str) -> Self {
        let root = Certificate::self_signed_for_days(dir, name, 3650);
        let home = dir.join(file_stem(name)).with_extension("ca");
        std::fs::create_dir_all(home.join("issued")).expect("CA directory");
        std::fs::write(home.join("index.txt"), "").expect("CA database");
        std::fs::write(home.join("serial"), "1000\n").expect("CA serial");
        let config = home.join("ca.cnf");
        let home_text = path_string(&home);
        std::fs::write(
            &config,
            format!(
                "[ca]\n\
                 default_ca = test_ca\n\
                 [test_ca]\n\
                 database = {home_text}/index.txt\n\
                 new_certs_dir = {home_text}/issued\n\
                 serial = {home_text}/serial\n\
                 certificate = {cert}\n\
                 private_key = {key}\n\
                 default_md = sha256\n\
                 policy = any_name\n\
                 unique_subject = no\n\
                 copy_extensions = none\n\
                 email_in_dn = no\n\
                 [any_name]\n\
                 commonName = supplied\n",
                cert = root.cert,
                key = root.key,
            ),
        )
        .expect("CA configuration");
        Authority {
            root,
            dir: dir.to_path_buf(),
            config,
        }
    }

    /// A leaf this CA signs, in the directory the CA was made in (named by
    /// its common name).
    pub fn issue(&self, leaf: &Leaf<'_>) -> Certificate {
        let made = Certificate::paths(&self.dir, leaf.common_name);
        let base = self.dir.join(file_stem(leaf.common_name));
        let csr = path_string(&base.with_extension("csr"));
        let mut args = vec!["req", "-new"];
        args.extend_from_slice(leaf.key.newkey_args());
        let subject = format!("/CN={}", leaf.common_name);
        args.extend([
            "-nodes", "-keyout", &made.key, "-out", &csr, "-subj", &subject,
        ]);
        run("openssl", &args);
        let extfile = base.with_extension("ext");
        let extensions = if leaf.dns_names.is_empty() {
            String::from("basicConstraints=CA:FALSE\n")
        } else {
            let names: Vec<String> = leaf
                .dns_names
                .iter()
                .map(|name| format!("DNS:{name}"))
                .collect();
            format!(
                "basicConstraints=CA:FALSE\nsubjectAltName={}\n",
                names.join(",")
            )
        };
        std::fs::write(&extfile, extensions).expect("extension file");
        let config = path_string(&self.config);
        let extfile = path_string(&extfile);
        let days;
        let mut args = vec![
            "ca",
            "-batch",
            "-notext",
            "-config",
            &config,
            "-in",
            &csr,
            "-out",
            &made.cert,
            "-md",
            leaf.digest,
            "-extfile",
            &extfile,
        ];
        match leaf.validity {
            Validity::Days(count) => {
                days = count.to_string();
                args.extend(["-days", &days]);
            }
            Validity::Between(start, end) => args.extend(["-startdate", start, "-enddate", end]),
        }
        run("openssl", &args);
        made
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::Scratch;
    use crate::x509::CertificateFacts;

    #[test]
    fn leaves_have_the_dates_digest_key_and_names_asked_for() {
        let scratch = Scratch::new("authority");
        let authority = Authority::new(scratch.path(), "Unit CA");
        let leaf = authority.issue(&Leaf {
            key: KeyType::Rsa1024,
            validity: Validity::Between("20200101000000Z", "20200301120000Z"),
            digest: "sha1",
            ..Leaf::new("old.test", &["old.test", "other.test"])
        });
        let facts = CertificateFacts::read(&leaf.cert);
        assert_eq!(facts.subject, "CN=old.test");
        assert_eq!(facts.issuer, "CN=Unit CA");
        assert_eq!(facts.not_before, "2020-01-01T00:00:00Z");
        assert_eq!(facts.not_after, "2020-03-01T12:00:00Z");
        assert_eq!(facts.validity_days(), 60);
        assert_eq!(
            (facts.key_algorithm.as_str(), facts.key_bits),
            ("RSA", 1024)
        );
        assert_eq!(facts.signature_algorithm, "ecdsa-with-SHA1");
        let root = CertificateFacts::read(&authority.root.cert);
        assert_eq!((root.key_algorithm.as_str(), root.key_bits), ("EC", 256));
        // The leaf names its CA's key (the root's own AKI is its SKI).
        assert_eq!(facts.authority_key_id, root.authority_key_id);
        let text = run(
            "openssl",
            &[
                "x509",
                "-in",
                &leaf.cert,
                "-noout",
                "-ext",
                "subjectAltName",
            ],
        );
        assert!(text.contains("DNS:old.test, DNS:other.test"), "{text}");
    }
}
