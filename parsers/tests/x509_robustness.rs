//! Untrusted input: truncated, extended, corrupted and random bytes must
//! give an error (or, for corruption that still decodes, a summary), never
//! a panic. A panic anywhere fails the test.

use std::fs;
use std::path::Path;

use cipherlens_parsers::x509::{CertificateError, summarize_certificate, summarize_chain};

const FIXTURES: &[&str] = &[
    "github-2017.der",
    "leaf-many-sans.der",
    "names-escaping.der",
    "v1-rsa2048.der",
    "leaf-dsa2048.der",
    "leaf-rsa-pss.der",
];

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/certs")
        .join(name);
    fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// xorshift64*: deterministic, so a failure reproduces.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: usize) -> usize {
        usize::try_from(self.next() % bound as u64).expect("bound fits usize")
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next().to_le_bytes()[0]).collect()
    }
}

#[test]
fn x509_every_truncation_is_an_error() {
    for name in FIXTURES {
        let der = fixture(name);
        assert!(summarize_certificate(&der).is_ok(), "{name} parses whole");
        for len in 0..der.len() {
            match summarize_certificate(&der[..len]) {
                Err(CertificateError::Empty) => assert_eq!(len, 0),
                Err(_) => {}
                Ok(summary) => panic!("{name} cut to {len} bytes parsed: {summary:?}"),
            }
        }
    }
}

#[test]
fn x509_truncation_inside_the_certificate_is_reported_as_truncated() {
    let der = fixture("github-2017.der");
    let half = der.len() / 2;
    assert_eq!(
        summarize_certificate(&der[..half]).unwrap_err(),
        CertificateError::Truncated
    );
}

#[test]
fn x509_trailing_bytes_are_an_error() {
    let mut der = fixture("leaf-many-sans.der");
    der.extend_from_slice(&[0, 0, 0]);
    assert_eq!(
        summarize_certificate(&der).unwrap_err(),
        CertificateError::TrailingData { trailing_bytes: 3 }
    );
}

#[test]
fn x509_random_garbage_is_an_error() {
    let mut random = Xorshift(0x5eed_cafe_f00d_0001);
    for round in 0..3000 {
        let len = random.below(2048);
        let mut garbage = random.bytes(len);
        // Every other round looks like a long SEQUENCE to get past the
        // first header check.
        if round % 2 == 0 && garbage.len() >= 4 {
            let body_len = u16::try_from(garbage.len() - 4).expect("below 2048");
            garbage[0] = 0x30;
            garbage[1] = 0x82;
            garbage[2..4].copy_from_slice(&body_len.to_be_bytes());
        }
        assert!(
            summarize_certificate(&garbage).is_err(),
            "round {round}: random bytes parsed as a certificate"
        );
    }
}

#[test]
fn x509_corrupted_bytes_never_panic() {
    let mut random = Xorshift(0x0bad_5eed_0000_0002);
    for name in FIXTURES {
        let der = fixture(name);
        for position in 0..der.len() {
            let flip = [0x01u8, 0x80, 0xff][position % 3];
            let mut corrupted = der.clone();
            corrupted[position] ^= flip;
            // Ok or Err are both fine; reaching the next line is the test.
            let _ = summarize_certificate(&corrupted);
        }
        for _ in 0..300 {
            let mut corrupted = der.clone();
            for _ in 0..1 + random.below(8) {
                let position = random.below(corrupted.len());
                corrupted[position] = random.bytes(1)[0];
            }
            let _ = summarize_certificate(&corrupted);
        }
    }
}

#[test]
fn x509_chain_results_stay_in_place_when_some_certificates_are_bad() {
    let good = fixture("leaf-ec-p256.der");
    let garbage = [0x30u8, 0x03, 0x02, 0x01];
    let results = summarize_chain(&[&garbage, &good, &[], &good[..good.len() - 1]]);
    assert_eq!(results.len(), 4);
    assert!(results[0].is_err());
    assert_eq!(
        results[1].as_ref().map(|s| s.subject_common_name.clone()),
        Ok(Some("ec.example".to_owned()))
    );
    assert_eq!(results[2].as_ref().unwrap_err(), &CertificateError::Empty);
    assert!(results[3].is_err());
    assert!(summarize_chain(&[]).is_empty());
}

#[test]
fn x509_error_messages_say_what_went_wrong() {
    let der = fixture("github-2017.der");
    let truncated = summarize_certificate(&der[..100]).unwrap_err().to_string();
    assert!(truncated.contains("truncated"), "{truncated}");
    let mut extended = der.clone();
    extended.push(0);
    let trailing = summarize_certificate(&extended).unwrap_err().to_string();
    assert!(trailing.contains("1 unexpected bytes"), "{trailing}");
    let malformed = summarize_certificate(&[0x04, 0x01, 0x00])
        .unwrap_err()
        .to_string();
    assert!(malformed.contains("malformed"), "{malformed}");
}
