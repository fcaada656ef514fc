//! Scratch TLS 1.3 peer with rustls + aws-lc-rs (offers and accepts X25519MLKEM768).
//! `pqpeer server ADDR CERT.pem KEY.pem COUNT` / `pqpeer client HOST PORT SNI [classic]`.
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, ServerConfig, ServerConnection,
    SignatureScheme, StreamOwned,
};

#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);
impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    match args.get(1).map(String::as_str) {
        Some("server") => {
            let certs: Vec<CertificateDer<'static>> =
                CertificateDer::pem_file_iter(&args[3])?.collect::<Result<_, _>>()?;
            let key = PrivateKeyDer::from_pem_file(&args[4])?;
            let count: usize = args[5].parse()?;
            let mut config = ServerConfig::builder_with_provider(Arc::clone(&provider))
                .with_protocol_versions(&[&rustls::version::TLS13])?
                .with_no_client_auth()
                .with_single_cert(certs, key)?;
            config.alpn_protocols = vec![b"h2".to_vec()];
            let config = Arc::new(config);
            let listener = TcpListener::bind(&args[2])?;
            for _ in 0..count {
                let (socket, _) = listener.accept()?;
                let mut stream =
                    StreamOwned::new(ServerConnection::new(Arc::clone(&config))?, socket);
                let mut buf = [0u8; 64];
                let _ = stream.read(&mut buf);
                let _ = stream.write_all(b"ok\n");
                stream.conn.send_close_notify();
                let _ = stream.flush();
            }
        }
        Some("client") => {
            let mut p = rustls::crypto::aws_lc_rs::default_provider();
            if args.get(5).map(String::as_str) == Some("classic") {
                p.kx_groups
                    .retain(|g| g.name() != rustls::NamedGroup::X25519MLKEM768);
            }
            let p = Arc::new(p);
            let mut config = ClientConfig::builder_with_provider(Arc::clone(&p))
                .with_protocol_versions(&[&rustls::version::TLS13])?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCert(Arc::clone(&p))))
                .with_no_client_auth();
            config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            let name = ServerName::try_from(args[4].clone())?;
            let socket = TcpStream::connect((args[2].as_str(), args[3].parse::<u16>()?))?;
            socket.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
            let mut stream =
                StreamOwned::new(ClientConnection::new(Arc::new(config), name)?, socket);
            stream.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
            let mut out = Vec::new();
            let _ = stream.read_to_end(&mut out);
        }
        _ => return Err("usage".into()),
    }
    Ok(())
}
