//! TLS servers the tests run in the host namespace, on the host end of a
//! [`crate::Link`]; clients run in the link's namespace (see `Link`).

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::certificate::Certificate;
use crate::process::{Background, run};

/// `openssl s_server -www` on `address:port`, returned once it listens.
pub fn s_server(address: &str, port: u16, certificate: &Certificate, extra: &[&str]) -> Background {
    let accept = if address.contains(':') {
        format!("[{address}]:{port}")
    } else {
        format!("{address}:{port}")
    };
    let child = Command::new("openssl")
        .args([
            "s_server",
            "-accept",
            &accept,
            "-cert",
            &certificate.cert,
            "-key",
            &certificate.key,
            "-www",
            "-quiet",
        ])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server");
    wait_listening(port);
    Background(child)
}

/// A Python asyncio TLS server on `address:port` that completes each
/// handshake and closes: many concurrent handshakes without waiting.
/// Returned once it listens.
pub fn python_tls_server(address: &str, port: u16, certificate: &Certificate) -> Background {
    let Certificate { cert, key } = certificate;
    let server = Command::new("python3")
        .args([
            "-c",
            &format!(
                "import asyncio, ssl\n\
                 ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain('{cert}', '{key}')\n\
                 async def handle(r, w):\n\
                 \x20   try:\n\
                 \x20       await r.read(1)\n\
                 \x20   finally:\n\
                 \x20       w.close()\n\
                 async def main():\n\
                 \x20   s = await asyncio.start_server(handle, '{address}', {port}, ssl=ctx, backlog=512)\n\
                 \x20   await s.serve_forever()\n\
                 asyncio.run(main())"
            ),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python server");
    let server = Background(server);
    wait_listening(port);
    server
}

/// Waits until something in the host namespace listens on TCP `port`
/// (as `ss` sees it).
pub fn wait_listening(port: u16) {
    for _ in 0..200 {
        let listening = run("ss", &["-Hltn", &format!("sport = :{port}")]);
        if !listening.trim().is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on port {port}");
}
