//! `pq-server ADDRESS PORT CERT KEY`: a TLS 1.3 server with rustls and
//! aws-lc-rs that prefers X25519MLKEM768 (Debian's OpenSSL 3.0 has no
//! ML-KEM, so `openssl s_server` cannot negotiate it). It completes each
//! handshake, answers nothing and closes; it serves until killed. CERT is
//! a PEM chain (leaf first), KEY its PEM private key.

use std::net::TcpListener;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, address, port, cert, key] = args.as_slice() else {
        return Err("usage: pq-server ADDRESS PORT CERT KEY".into());
    };
    let chain = CertificateDer::pem_file_iter(cert)?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(key)?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = Arc::new(
        ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_no_client_auth()
            .with_single_cert(chain, key)?,
    );
    let listener = TcpListener::bind((address.as_str(), port.parse::<u16>()?))?;
    for socket in listener.incoming() {
        let Ok(mut socket) = socket else { continue };
        let Ok(mut connection) = ServerConnection::new(Arc::clone(&config)) else {
            continue;
        };
        // A client that gives up mid-handshake only ends its own connection.
        while connection.is_handshaking() {
            if connection.complete_io(&mut socket).is_err() {
                break;
            }
        }
        connection.send_close_notify();
        let _ = connection.complete_io(&mut socket);
    }
    Ok(())
}
