//! Discovery on the real TLS libraries of this machine (installed by
//! scripts/setup.sh): Debian's OpenSSL 3 (libssl.so.3, libcrypto.so.3),
//! BoringSSL (android-libboringssl), and node, which carries OpenSSL 3
//! statically. Every expected value comes from outside the crate: symbol
//! addresses from `nm`, load segments and build-ids from `readelf`, version
//! texts from `openssl version` and node itself.

use std::path::Path;
use std::process::Command;

use cipherlens_uprobes::{
    ElfImage, Flavour, Limits, Role, TlsFunction, Verdict, source::FileSource,
};

const LIBSSL: &str = "/usr/lib/x86_64-linux-gnu/libssl.so.3";
const LIBCRYPTO: &str = "/usr/lib/x86_64-linux-gnu/libcrypto.so.3";
const BORING_SSL: &str = "/usr/lib/x86_64-linux-gnu/android/libssl.so.0";
const BORING_CRYPTO: &str = "/usr/lib/x86_64-linux-gnu/android/libcrypto.so.0";
const NODE: &str = "/usr/bin/node";

fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("{program}: {error}"));
    assert!(output.status.success(), "{program} {args:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn read(path: &str) -> ElfImage {
    let file = std::fs::File::open(path)
        .unwrap_or_else(|e| panic!("{path}: {e} (scripts/setup.sh installs it)"));
    ElfImage::read(&FileSource::new(file).unwrap(), &Limits::default())
        .unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// `nm --defined-only` (dynamic or full table): symbol name to address.
fn nm_address(path: &str, dynamic: bool, symbol: &str) -> Option<u64> {
    let mut args = vec!["--defined-only"];
    if dynamic {
        args.push("-D");
    }
    args.push(path);
    run("nm", &args).lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let address = fields.next()?;
        let kind = fields.next()?;
        let name = fields.next()?;
        let name = name.split('@').next()?;
        (name == symbol && matches!(kind, "T" | "t" | "i"))
            .then(|| u64::from_str_radix(address, 16).ok())?
    })
}

/// `readelf -lW`'s executable LOAD segments: (offset, vaddr, file size).
fn readelf_exec_loads(path: &str) -> Vec<(u64, u64, u64)> {
    run("readelf", &["-lW", path])
        .lines()
        .filter(|line| line.trim_start().starts_with("LOAD") && line.contains('E'))
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
            (hex(fields[1]), hex(fields[2]), hex(fields[4]))
        })
        .collect()
}

/// The file offset readelf's segments give an address.
fn expected_offset(path: &str, vaddr: u64) -> u64 {
    readelf_exec_loads(path)
        .into_iter()
        .find(|(_, start, size)| vaddr >= *start && vaddr < start + size)
        .map(|(offset, start, _)| vaddr - start + offset)
        .unwrap_or_else(|| panic!("{vaddr:#x} in no executable segment of {path}"))
}

fn readelf_build_id(path: &str) -> Vec<u8> {
    let notes = run("readelf", &["-n", path]);
    let hex = notes
        .lines()
        .find_map(|line| line.trim().strip_prefix("Build ID: "))
        .expect("a build id");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn library(image: &ElfImage) -> cipherlens_uprobes::TlsLibrary {
    match image.verdict() {
        Verdict::Hookable(library) => library,
        other => panic!("not hookable: {other:?}"),
    }
}

/// Every function discovery found is where nm and readelf put it, and
/// every function nm lists is found.
fn check_offsets(path: &str, image: &ElfImage, dynamic: bool) {
    for function in TlsFunction::ALL {
        let expected = nm_address(path, dynamic, function.symbol());
        let found = image.functions.get(&function);
        match (expected, found) {
            (Some(vaddr), Some(symbol)) => {
                assert_eq!(symbol.vaddr, vaddr, "{path} {}", function.symbol());
                assert_eq!(
                    symbol.file_offset,
                    expected_offset(path, vaddr),
                    "{path} {} file offset",
                    function.symbol()
                );
            }
            (None, None) => {}
            (expected, found) => panic!(
                "{path} {}: nm says {expected:?}, discovery {found:?}",
                function.symbol()
            ),
        }
    }
}

#[test]
fn openssl_3_libssl_and_libcrypto() {
    let openssl = run("openssl", &["version"]);
    let version = openssl.split(" (Library").next().unwrap().trim();

    let ssl = read(LIBSSL);
    check_offsets(LIBSSL, &ssl, true);
    assert_eq!(ssl.build_id, Some(readelf_build_id(LIBSSL)));
    let ssl_library = library(&ssl);
    assert_eq!(ssl_library.flavour, Flavour::OpenSsl3);
    assert_eq!(ssl_library.role, Role::Ssl);
    for function in [
        TlsFunction::SslRead,
        TlsFunction::SslWrite,
        TlsFunction::SslReadEx,
        TlsFunction::SslWriteEx,
        TlsFunction::SslDoHandshake,
        TlsFunction::SslSetFd,
    ] {
        assert!(ssl.functions.contains_key(&function), "{function:?}");
    }

    let crypto = read(LIBCRYPTO);
    check_offsets(LIBCRYPTO, &crypto, true);
    let crypto_library = library(&crypto);
    assert_eq!(crypto_library.flavour, Flavour::OpenSsl3);
    assert_eq!(crypto_library.role, Role::Crypto);
    assert_eq!(crypto_library.version_text.as_deref(), Some(version));
    assert_eq!(
        crypto_library
            .functions
            .iter()
            .map(|(f, _)| *f)
            .collect::<Vec<_>>(),
        [TlsFunction::D2iX509]
    );
}

#[test]
fn boringssl_from_android_libboringssl() {
    let crypto = read(BORING_CRYPTO);
    check_offsets(BORING_CRYPTO, &crypto, true);
    let crypto_library = library(&crypto);
    assert_eq!(crypto_library.flavour, Flavour::BoringSsl);
    assert_eq!(crypto_library.role, Role::Crypto);
    let ssl = read(BORING_SSL);
    check_offsets(BORING_SSL, &ssl, true);
    assert_eq!(library(&ssl).role, Role::Ssl);
    assert!(
        !ssl.functions.contains_key(&TlsFunction::SslReadEx)
            || nm_address(BORING_SSL, true, "SSL_read_ex").is_some()
    );
}

#[test]
fn node_carries_openssl_3_statically() {
    let node = read(NODE);
    // node exports its OpenSSL through .dynsym; .symtab agrees.
    check_offsets(NODE, &node, true);
    assert_eq!(node.build_id, Some(readelf_build_id(NODE)));
    let library = library(&node);
    assert_eq!(library.flavour, Flavour::OpenSsl3);
    assert_eq!(library.role, Role::Static);
    let version = run("node", &["-p", "process.versions.openssl"]);
    let text = library.version_text.expect("version text");
    assert!(
        text.starts_with(&format!("OpenSSL {}", version.trim())),
        "{text} vs node's {version}"
    );
}

#[test]
fn libc_is_not_tls() {
    let libc = Path::new("/usr/lib/x86_64-linux-gnu/libc.so.6");
    let image = read(libc.to_str().unwrap());
    assert_eq!(image.verdict(), Verdict::NotTls);
    assert!(image.build_id.is_some());
}

/// Python's `_ssl` module calls libssl and carries OpenSSL's version text
/// (the version it was built against): a user of the library, not a copy
/// of it.
#[test]
fn pythons_ssl_module_uses_libssl_and_is_not_a_copy_of_it() {
    let dir = std::fs::read_dir("/usr/lib")
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("lib-dynload"))
        .find(|dir| dir.is_dir())
        .expect("python3's lib-dynload");
    let module = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with("_ssl.") && name.ends_with(".so"))
        })
        .expect("_ssl module");
    let image = read(module.to_str().unwrap());
    assert!(image.imports_tls);
    assert!(image.functions.is_empty());
    assert_eq!(image.verdict(), Verdict::NotTls);
}

/// Callers of the certificate decoder are told apart from the call alone
/// (return address and function address in one process), for a made-up
/// load address: nm gives where the functions are.
#[test]
fn callers_of_the_certificate_decoder_are_classified() {
    use cipherlens_uprobes::Caller;
    let bias = 0x5555_0000_0000u64;
    // node: libssl and libcrypto in one executable.
    let node = library(&read(NODE));
    let d2i = nm_address(NODE, true, "d2i_X509").expect("d2i_X509 in node");
    let d2i_offset = expected_offset(NODE, d2i);
    let ssl_read = nm_address(NODE, true, "SSL_read").expect("SSL_read in node");
    let aux = nm_address(NODE, true, "d2i_X509_AUX").expect("d2i_X509_AUX in node");
    let call = |caller_vaddr: u64| node.caller(d2i_offset, bias + d2i, bias + caller_vaddr);
    assert_eq!(call(ssl_read + 9), Caller::HandshakeCode);
    assert_eq!(call(aux + 9), Caller::OtherCode);
    assert_eq!(call(0x10), Caller::OutsideFile);
    // Shared libcrypto: every caller inside it is libcrypto's own code;
    // libssl's calls come from outside the file.
    let crypto_path = "/usr/lib/x86_64-linux-gnu/libcrypto.so.3";
    let crypto = library(&read(crypto_path));
    let d2i = nm_address(crypto_path, true, "d2i_X509").expect("d2i_X509");
    let aux = nm_address(crypto_path, true, "d2i_X509_AUX").expect("d2i_X509_AUX");
    let offset = expected_offset(crypto_path, d2i);
    assert_eq!(
        crypto.caller(offset, bias + d2i, bias + aux + 9),
        Caller::OtherCode
    );
    assert_eq!(
        crypto.caller(offset, bias + d2i, bias + 0x4000_0000_0000),
        Caller::OutsideFile
    );
}
