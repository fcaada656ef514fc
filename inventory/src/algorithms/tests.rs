use std::collections::BTreeSet;

use super::*;

#[test]
fn names_are_unique_and_parts_resolve() {
    let mut names = BTreeSet::new();
    for row in TABLE {
        assert!(names.insert(row.name), "{} twice", row.name);
        assert!(row.quantum <= 5, "{}", row.name);
        for part in row.parts {
            assert!(
                lookup(part).is_some(),
                "{} depends on unknown {part}",
                row.name
            );
        }
    }
}

// The brief's and FIPS 203's numbers: ML-KEM-512/768/1024 are categories
// 1/3/5; the hybrid is a KEM at level 3 built on ML-KEM-768 and X25519.
#[test]
fn ml_kem_and_the_hybrid_carry_their_fips_203_category() {
    let levels: Vec<u8> = ["ML-KEM-512", "ML-KEM-768", "ML-KEM-1024"]
        .iter()
        .map(|name| lookup(name).unwrap().quantum)
        .collect();
    assert_eq!(levels, [1, 3, 5]);
    let hybrid = lookup("X25519MLKEM768").unwrap();
    assert_eq!(hybrid.primitive, Primitive::Kem);
    assert_eq!(hybrid.quantum, 3);
    assert_eq!(hybrid.parts, ["ML-KEM-768", "x25519"]);
    assert_eq!(lookup("x25519").unwrap().quantum, 0);
}

// SP 800-57 Part 1 Rev. 5, Table 2.
#[test]
fn key_sizes_map_to_sp_800_57_strengths() {
    let rsa: Vec<u32> = [512, 1024, 2048, 3072, 4096, 7680, 15360]
        .into_iter()
        .map(rsa_like_strength)
        .collect();
    assert_eq!(rsa, [0, 80, 112, 128, 128, 192, 256]);
    let ecc: Vec<u32> = [112, 160, 224, 256, 384, 521]
        .into_iter()
        .map(elliptic_curve_strength)
        .collect();
    assert_eq!(ecc, [0, 80, 112, 128, 192, 256]);
    let p384 = elliptic_curve("ECDHE", Primitive::KeyAgree, "secp384r1").unwrap();
    assert_eq!(
        (p384.name.as_str(), p384.curve.as_deref(), p384.classical),
        ("ECDHE-P-384", Some("nist/P-384"), Some(192))
    );
    assert_eq!(lookup("ECDHE-P-256").unwrap().classical, Some(128));
}

// NIST categories: symmetric keys against AES key search (128 -> 1,
// 256 -> 5), hashes against SHA-256 (2) and SHA-384 (4) collisions.
#[test]
fn symmetric_levels_follow_the_nist_categories() {
    let level = |name: &str| lookup(name).unwrap().quantum;
    assert_eq!(level("AES-128-GCM"), 1);
    assert_eq!(level("AES-256-GCM"), 5);
    assert_eq!(level("SHA-256"), 2);
    assert_eq!(level("SHA-384"), 4);
    assert_eq!(level("SHA-1"), 0);
    assert_eq!(level("3DES-168-CBC"), 0);
}

/// The row of `docs/inventory.md`'s algorithm table for `row`.
fn doc_row(row: &Row) -> String {
    let or_dash = |text: Option<String>| text.unwrap_or_else(|| "-".to_owned());
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
        row.name,
        row.primitive.as_str(),
        or_dash(row.mode.map(|mode| mode.as_str().to_owned())),
        or_dash(row.parameter_set.map(str::to_owned)),
        or_dash(row.curve.map(str::to_owned)),
        or_dash(row.classical.map(|bits| bits.to_string())),
        row.quantum,
        if row.parts.is_empty() {
            "-".to_owned()
        } else {
            row.parts.join(", ")
        },
        row.source,
    )
}

/// The documented table and [`TABLE`] say the same, row for row.
#[test]
fn the_documented_table_is_the_table() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/inventory.md");
    let text = std::fs::read_to_string(&path).expect("docs/inventory.md");
    let start = text
        .find("<!-- algorithm-table:start -->")
        .expect("start marker");
    let end = text
        .find("<!-- algorithm-table:end -->")
        .expect("end marker");
    let documented: Vec<&str> = text[start..end]
        .lines()
        .filter(|line| {
            line.starts_with("| ") && !line.starts_with("| name ") && !line.starts_with("| ---")
        })
        .collect();
    let expected: Vec<String> = TABLE.iter().map(doc_row).collect();
    if documented != expected {
        panic!(
            "docs/inventory.md's algorithm table differs from TABLE; it should read:\n{}",
            expected.join("\n")
        );
    }
}
