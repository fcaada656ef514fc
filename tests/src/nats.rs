//! A real nats-server for the tests (and benchmarks) that publish, with
//! JetStream stream set-up and read-back.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A nats-server on a free loopback port, stopped (and its own store
/// removed) on drop.
pub struct NatsServer {
    child: Child,
    pub port: u16,
    /// A store directory this guard made and removes.
    own_store: Option<PathBuf>,
}

impl NatsServer {
    /// With its own store directory, removed on drop.
    pub fn start(port: u16, extra: &[&str]) -> Self {
        let store =
            std::env::temp_dir().join(format!("cipherlens-nats-{}-{port}", std::process::id()));
        let mut server = Self::start_in(port, &store, extra);
        server.own_store = Some(store);
        server
    }

    /// With a store directory that outlives it (a restarted server keeps
    /// its JetStream streams).
    pub fn start_in(port: u16, store: &std::path::Path, extra: &[&str]) -> Self {
        std::fs::create_dir_all(store).expect("store dir");
        let mut child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(store)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server (scripts/setup.sh installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !greets_as_nats(port) {
            // A server that could not bind its ports has exited.
            if let Ok(Some(status)) = child.try_wait() {
                panic!("nats-server on port {port} exited at start ({status}): a port taken?");
            }
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            port,
            own_store: None,
        }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

/// Whether a NATS server answers on `port`: it sends `INFO` first. A bare
/// TCP connect is not enough: it also succeeds against another test's
/// passing listener or as a loopback self-connect, before the server
/// (slow to start with JetStream) listens.
fn greets_as_nats(port: u16) -> bool {
    use std::io::Read;
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut greeting = [0u8; 5];
    stream.read_exact(&mut greeting).is_ok() && &greeting == b"INFO "
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
        if let Some(store) = &self.own_store {
            let _ = std::fs::remove_dir_all(store);
        }
    }
}

/// The JetStream stream the tests and benchmarks publish into.
pub const STREAM: &str = "CIPHERLENS";

/// A current-thread runtime for the tests' NATS clients.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

impl NatsServer {
    /// Creates [`STREAM`] over `cipherlens.>` (a server started with `-js`).
    pub fn create_stream(&self) {
        runtime().block_on(async {
            let client = async_nats::connect(self.url()).await.expect("client");
            async_nats::jetstream::new(client)
                .create_stream(async_nats::jetstream::stream::Config {
                    name: STREAM.to_string(),
                    subjects: vec!["cipherlens.>".to_string()],
                    ..Default::default()
                })
                .await
                .expect("create stream");
        });
    }

    /// Messages in [`STREAM`] at most (its message count).
    pub fn stream_len(&self) -> u64 {
        runtime().block_on(async {
            let client = async_nats::connect(self.url()).await.expect("client");
            let mut stream = async_nats::jetstream::new(client)
                .get_stream(STREAM)
                .await
                .expect("stream");
            stream.info().await.expect("info").state.messages
        })
    }

    /// Every message of [`STREAM`], in stream order: subject and JSON.
    pub fn stream_messages(&self) -> Vec<(String, Value)> {
        let count = self.stream_len();
        runtime().block_on(async {
            let client = async_nats::connect(self.url()).await.expect("client");
            let stream = async_nats::jetstream::new(client)
                .get_stream(STREAM)
                .await
                .expect("stream");
            let mut messages = Vec::new();
            for sequence in 1..=count {
                let message = stream.get_raw_message(sequence).await.expect("message");
                messages.push((
                    message.subject.to_string(),
                    serde_json::from_slice(&message.payload).expect("JSON"),
                ));
            }
            messages
        })
    }

    /// Stops the server now (an outage); the store stays.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
