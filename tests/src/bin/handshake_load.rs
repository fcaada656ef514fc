//! `handshake-load`: a TLS handshake load generator for the live benchmark.
//!
//! Python's asyncio client topped out near 600 handshakes/s here, far below
//! what the sensor can take; this one does full TLS 1.3 handshakes (no
//! resumption, no tickets) with rustls and aws-lc-rs on blocking threads.
//!
//! - `handshake-load serve ADDRESS PORT CERT_PEM KEY_PEM [THREADS]`: accepts
//!   connections, completes each handshake, answers each request (a count
//!   of bytes, 8 bytes big endian) with that many bytes, and closes at the
//!   client's close_notify.
//! - `handshake-load connect HOST PORT TOTAL [THREADS [RESPONSE_BYTES]]`:
//!   makes TOTAL handshakes, each with its own server name
//!   `h<i>.bench.test`, and prints the rate (connections per second) on
//!   stdout. With RESPONSE_BYTES, each connection then asks for that many
//!   bytes and reads them before it closes, as an HTTPS request does. Fails
//!   if any connection failed.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use cipherlens_integration::insecure_tls::AcceptAnyCertificate;
use rustls::client::Resumption;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["serve", address, port, cert, key, rest @ ..] => {
            serve(address, port.parse()?, cert, key, threads(rest)?)
        }
        ["connect", host, port, total, threads, response_bytes] => connect(
            host,
            port.parse()?,
            total.parse()?,
            threads.parse()?,
            response_bytes.parse()?,
        ),
        ["connect", host, port, total, rest @ ..] => {
            connect(host, port.parse()?, total.parse()?, threads(rest)?, 0)
        }
        _ => Err(
            "usage: handshake-load serve ADDRESS PORT CERT KEY [THREADS] | \
                  connect HOST PORT TOTAL [THREADS [RESPONSE_BYTES]]"
                .into(),
        ),
    }
}

fn threads(rest: &[&str]) -> Result<usize, Error> {
    Ok(match rest {
        [] => 16,
        [count] => count.parse()?,
        _ => return Err("too many arguments".into()),
    })
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn serve(address: &str, port: u16, cert: &str, key: &str, threads: usize) -> Result<(), Error> {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(cert)?.collect::<Result<_, _>>()?;
    let key = PrivateKeyDer::from_pem_file(key)?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.send_tls13_tickets = 0;
    let config = Arc::new(config);
    let listener = Arc::new(TcpListener::bind((address, port))?);
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let listener = Arc::clone(&listener);
            let config = Arc::clone(&config);
            std::thread::spawn(move || {
                loop {
                    let Ok((socket, _)) = listener.accept() else {
                        continue;
                    };
                    // A client that goes away mid-handshake is its problem.
                    let _ = serve_one(&config, socket);
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
    Ok(())
}

fn serve_one(config: &Arc<ServerConfig>, mut socket: TcpStream) -> Result<(), Error> {
    let mut connection = ServerConnection::new(Arc::clone(config))?;
    while connection.is_handshaking() {
        connection.complete_io(&mut socket)?;
    }
    // Requests answered until the client's close_notify (or its close).
    let mut request = Vec::new();
    let mut sink = [0u8; 64];
    loop {
        loop {
            match connection.reader().read(&mut sink) {
                Ok(0) => return Ok(()),
                Ok(read) => request.extend_from_slice(&sink[..read]),
                Err(_) => break,
            }
        }
        while let Some(count) = request.first_chunk::<8>().copied() {
            request.drain(..8);
            respond(&mut connection, &mut socket, u64::from_be_bytes(count))?;
        }
        if connection.complete_io(&mut socket)? == (0, 0) {
            break;
        }
    }
    Ok(())
}

/// `count` bytes of plaintext, written out as they are made.
fn respond(
    connection: &mut ServerConnection,
    socket: &mut TcpStream,
    count: u64,
) -> Result<(), Error> {
    let chunk = [0u8; 16 * 1024];
    let mut left = count;
    while left > 0 {
        let part = left.min(chunk.len() as u64) as usize;
        connection.writer().write_all(&chunk[..part])?;
        while connection.wants_write() {
            connection.write_tls(socket)?;
        }
        left -= part as u64;
    }
    Ok(())
}

fn connect(
    host: &str,
    port: u16,
    total: usize,
    threads: usize,
    response_bytes: u64,
) -> Result<(), Error> {
    let provider = provider();
    let mut config = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
        .with_no_client_auth();
    config.resumption = Resumption::disabled();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let config = Arc::new(config);
    let next = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (config, next, failures) = (
                Arc::clone(&config),
                Arc::clone(&next),
                Arc::clone(&failures),
            );
            let host = host.to_string();
            std::thread::spawn(move || {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= total {
                        break;
                    }
                    if let Err(error) = handshake(&config, &host, port, index, response_bytes)
                        && failures.fetch_add(1, Ordering::Relaxed) < 5
                    {
                        eprintln!("handshake {index}: {error}");
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
    let seconds = started.elapsed().as_secs_f64();
    let failed = failures.load(Ordering::Relaxed);
    if failed > 0 {
        return Err(format!("{failed} of {total} handshakes failed").into());
    }
    println!("{:.0}", total as f64 / seconds);
    Ok(())
}

fn handshake(
    config: &Arc<ClientConfig>,
    host: &str,
    port: u16,
    index: usize,
    response_bytes: u64,
) -> Result<(), Error> {
    let name = ServerName::try_from(format!("h{index}.bench.test"))?;
    let mut connection = ClientConnection::new(Arc::clone(config), name)?;
    let mut socket = TcpStream::connect((host, port))?;
    socket.set_nodelay(true)?;
    while connection.is_handshaking() {
        connection.complete_io(&mut socket)?;
    }
    if response_bytes > 0 {
        connection
            .writer()
            .write_all(&response_bytes.to_be_bytes())?;
        let mut received = 0u64;
        let mut buffer = [0u8; 16 * 1024];
        while received < response_bytes {
            loop {
                match connection.reader().read(&mut buffer) {
                    Ok(0) => return Err("closed before the response".into()),
                    Ok(read) => received += read as u64,
                    Err(_) => break,
                }
            }
            if received < response_bytes && connection.complete_io(&mut socket)? == (0, 0) {
                return Err(format!("closed after {received} of {response_bytes} bytes").into());
            }
        }
    }
    connection.send_close_notify();
    while connection.wants_write() {
        connection.write_tls(&mut socket)?;
    }
    socket.flush()?;
    Ok(())
}
