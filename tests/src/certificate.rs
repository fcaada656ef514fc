//! Certificates for test servers, made by `openssl` into PEM files: a
//! self-signed one (which is also a CA) and leaves that CA signs, with
//! whatever X.509v3 extensions a test needs.

use std::path::{Path, PathBuf};

use crate::process::run;

/// The key a certificate is made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    EcP256,
    Rsa2048,
    /// Too small for today's policies; servers need `@SECLEVEL=0`.
    Rsa1024,
}

impl KeyType {
    pub(crate) fn newkey_args(self) -> &'static [&'static str] {
        match self {
            KeyType::EcP256 => &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
            KeyType::Rsa2048 => &["-newkey", "rsa:2048"],
            KeyType::Rsa1024 => &["-newkey", "rsa:1024"],
        }
    }
}

/// A certificate and its private key, as PEM files.
#[derive(Debug, Clone)]
pub struct Certificate {
    /// The certificate's PEM file.
    pub cert: String,
    /// Its private key's PEM file.
    pub key: String,
}

/// Valid for two days: long enough for any test run.
const DAYS: u32 = 2;

impl Certificate {
    /// A self-signed P-256 certificate for `common_name`, in `dir`. OpenSSL
    /// marks it `CA:TRUE`, so it can sign leaves with [`Certificate::issue`].
    pub fn self_signed(dir: &Path, common_name: &str) -> Self {
        Self::self_signed_for_days(dir, common_name, DAYS)
    }

    /// [`Certificate::self_signed`] valid for `days` days from now.
    pub fn self_signed_for_days(dir: &Path, common_name: &str, days: u32) -> Self {
        let made = Self::paths(dir, common_name);
        let days = days.to_string();
        let mut args = vec!["req", "-x509"];
        args.extend_from_slice(KeyType::EcP256.newkey_args());
        let subject = format!("/CN={common_name}");
        args.extend([
            "-nodes", "-keyout", &made.key, "-out", &made.cert, "-subj", &subject, "-days", &days,
        ]);
        run("openssl", &args);
        made
    }

    /// A leaf for `common_name` with a `key` of its own, signed by this
    /// certificate; `extensions` is an OpenSSL extension file's text (e.g.
    /// `subjectAltName=IP:127.0.0.1`), empty for none.
    /// SHA-256 of the certificate's DER, lower-case hex, as openssl prints it.
    pub fn sha256(&self) -> String {
        let output = std::process::Command::new("openssl")
            .args([
                "x509",
                "-in",
                &self.cert,
                "-noout",
                "-fingerprint",
                "-sha256",
            ])
            .output()
            .expect("openssl x509");
        assert!(output.status.success(), "openssl x509 -fingerprint failed");
        let text = String::from_utf8_lossy(&output.stdout);
        text.trim()
            .rsplit('=')
            .next()
            .unwrap_or_default()
            .replace(':', "")
            .to_ascii_lowercase()
    }

    pub fn issue(&self, dir: &Path, common_name: &str, key: KeyType, extensions: &str) -> Self {
        let made = Self::paths(dir, common_name);
        let base = dir.join(file_stem(common_name));
        let csr = path_string(&base.with_extension("csr"));
        let extfile = base.with_extension("ext");
        std::fs::write(&extfile, format!("{extensions}\n")).expect("extension file");
        let mut args = vec!["req", "-new"];
        args.extend_from_slice(key.newkey_args());
        let subject = format!("/CN={common_name}");
        args.extend([
            "-nodes", "-keyout", &made.key, "-out", &csr, "-subj", &subject,
        ]);
        run("openssl", &args);
        run(
            "openssl",
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &self.cert,
                "-CAkey",
                &self.key,
                "-CAcreateserial",
                "-out",
                &made.cert,
                "-days",
                &DAYS.to_string(),
                "-extfile",
                &path_string(&extfile),
            ],
        );
        made
    }

    pub(crate) fn paths(dir: &Path, common_name: &str) -> Self {
        let base = dir.join(file_stem(common_name));
        Certificate {
            cert: path_string(&base.with_extension("pem")),
            key: path_string(&base.with_extension("key")),
        }
    }
}

/// A file name for a common name (which may hold spaces).
pub(crate) fn file_stem(common_name: &str) -> PathBuf {
    PathBuf::from(
        common_name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>(),
    )
}

pub(crate) fn path_string(path: &Path) -> String {
    path.to_str().expect("UTF-8 path").to_string()
}
