//! The test bed every end-to-end test starts from: root checked, a scratch
//! directory, a client namespace on a veth link, and a turn on the machine.
//! Tests that keep the two cores busy (tshark, tcpdump, bursts of
//! handshakes) or whose expectations depend on timely enrichment (process,
//! cgroup) have the machine to themselves; tests that mostly wait share
//! their turn with each other only. Certificates, servers, a parallel
//! capture and the sensor come from the bed's methods, all on that link and
//! in that directory.

use std::path::Path;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::certificate::Certificate;
use crate::link::Link;
use crate::oracle::Tcpdump;
use crate::peers::{python_tls_server, s_server};
use crate::process::{Background, Scratch, free_port, require_root};
use crate::sensor::Sensor;

/// Turns on the machine: one heavy test, or any number of light ones.
static TURNS: RwLock<()> = RwLock::new(());

/// A test's turn, alone or shared, held until its bed drops.
struct Turn {
    _alone: Option<RwLockWriteGuard<'static, ()>>,
    _shared: Option<RwLockReadGuard<'static, ()>>,
}

/// A TLS server on the host end of the link.
pub struct Server {
    pub process: Background,
    pub port: u16,
}

impl Server {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}

/// Scratch directory, link and turn of one test; all released on drop,
/// the turn last.
pub struct TestBed {
    pub link: Link,
    scratch: Scratch,
    _turn: Turn,
}

impl TestBed {
    /// A bed for a test that needs the machine to itself.
    pub fn new(name: &str) -> Self {
        require_root();
        let turn = TURNS
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Self::with_turn(
            name,
            Turn {
                _alone: Some(turn),
                _shared: None,
            },
        )
    }

    /// A bed for a light test (mostly waiting), which shares its turn with
    /// the other light tests.
    pub fn light(name: &str) -> Self {
        require_root();
        let turn = TURNS
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Self::with_turn(
            name,
            Turn {
                _alone: None,
                _shared: Some(turn),
            },
        )
    }

    fn with_turn(name: &str, turn: Turn) -> Self {
        let scratch = Scratch::new(name);
        TestBed {
            link: Link::new(),
            scratch,
            _turn: turn,
        }
    }

    /// The scratch directory.
    pub fn dir(&self) -> &Path {
        self.scratch.path()
    }

    /// The host end of the link: what the sensor attaches to.
    pub fn interface(&self) -> &str {
        &self.link.host_interface
    }

    /// A self-signed certificate for `common_name` in the scratch directory.
    pub fn certificate(&self, common_name: &str) -> Certificate {
        Certificate::self_signed(self.dir(), common_name)
    }

    /// `openssl s_server` on the host end's IPv4 address and a free port.
    pub fn s_server(&self, certificate: &Certificate, extra: &[&str]) -> Server {
        self.s_server_on(&self.link.host_v4, certificate, extra)
    }

    /// `openssl s_server` on `address` (the host end's IPv4 or IPv6).
    pub fn s_server_on(&self, address: &str, certificate: &Certificate, extra: &[&str]) -> Server {
        let port = free_port();
        Server {
            process: s_server(address, port, certificate, extra),
            port,
        }
    }

    /// A Python TLS server for many concurrent handshakes on the host end's
    /// IPv4 address, with a self-signed certificate for `common_name`.
    pub fn python_tls_server(&self, common_name: &str) -> Server {
        let certificate = self.certificate(common_name);
        let port = free_port();
        Server {
            process: python_tls_server(&self.link.host_v4, port, &certificate),
            port,
        }
    }

    /// A tcpdump on the host end into `file` in the scratch directory.
    pub fn tcpdump(&self, file: &str) -> Tcpdump {
        Tcpdump::start(self.interface(), &self.dir().join(file))
    }

    /// The sensor on the host end only (records into the scratch
    /// directory), ready: healthy and attached at ingress and egress.
    pub fn sensor(&self, extra: &[&str]) -> Sensor {
        Sensor::start(self.dir(), &[self.interface()], self.interface(), extra)
    }

    /// [`TestBed::sensor`] without the given capabilities
    /// ([`Sensor::start_without`]).
    pub fn sensor_without(&self, capabilities: &[&str], extra: &[&str]) -> Sensor {
        let interface = self.interface();
        Sensor::start_without(capabilities, self.dir(), &[interface], interface, extra)
    }
}
