//! `pq-client HOST PORT SERVER_NAME`: one TLS 1.3 handshake with rustls and
//! aws-lc-rs, which offers X25519MLKEM768 first (its key share alone is
//! 1,216 bytes; with ALPN and a long server name the ClientHello spans two
//! 1,500-byte segments, as browsers' do). The
//! server certificate is not verified: the end-to-end tests only need the
//! handshake on the wire.

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;

use cipherlens_integration::insecure_tls::AcceptAnyCertificate;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, host, port, server_name] = args.as_slice() else {
        return Err("usage: pq-client HOST PORT SERVER_NAME".into());
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let name = ServerName::try_from(server_name.clone())?;
    let connection = ClientConnection::new(Arc::new(config), name)?;
    let socket = TcpStream::connect((host.as_str(), port.parse::<u16>()?))?;
    let mut stream = StreamOwned::new(connection, socket);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    stream.conn.send_close_notify();
    stream.flush()?;
    Ok(())
}
