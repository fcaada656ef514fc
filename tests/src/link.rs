//! A client network namespace joined to the host by a veth pair (MTU 1500)
//! whose host end is what the sensor attaches to, like a pod's veth on a
//! node. Addresses are private test addresses on that link only; the guard
//! removes namespace and link when dropped, also when the test fails.

use std::process::{Command, Stdio};
use std::sync::Mutex;

use crate::process::{next_unique, run};

/// A client namespace joined to the host by a veth pair.
pub struct Link {
    /// Name of the namespace the client runs in.
    pub namespace: String,
    /// Host end of the veth pair (what the sensor attaches to).
    pub host_interface: String,
    pub host_v4: String,
    pub client_v4: String,
    pub host_v6: String,
    pub client_v6: String,
}

/// /24 subnets `10.<200..=255>.<0..=255>.0` the links choose from.
const SUBNETS: u32 = 56 * 256;

impl Link {
    /// Creates the namespace and the link, with segmentation offloads
    /// (TSO, GSO, GRO) off on both ends: TCP then crosses the veth in
    /// MSS-sized segments, as on a wire, so a record that spans segments
    /// really arrives as continuation segments. (With offloads on, a veth
    /// carries 64 KiB super-packets; [`Link::with_offloads`].)
    pub fn new() -> Self {
        let link = Self::with_offloads();
        let peer = link.peer_interface();
        run(
            "ethtool",
            &[
                "-K",
                &link.host_interface,
                "tso",
                "off",
                "gso",
                "off",
                "gro",
                "off",
            ],
        );
        link.exec_ok(&[
            "ethtool", "-K", &peer, "tso", "off", "gso", "off", "gro", "off",
        ]);
        link
    }

    /// The peer end's name inside the namespace.
    pub fn peer_interface(&self) -> String {
        self.host_interface.replacen("clv", "clp", 1)
    }

    /// [`Link::new`] with the kernel's default offloads left on.
    pub fn with_offloads() -> Self {
        // Unique among this process's links and, by the pid, among other
        // test processes on the machine; at most 10 characters after "clv".
        let id = std::process::id() % 100_000 * 100 + next_unique() % 100;
        // Choosing a subnet nobody on the host uses and taking it is one
        // step for the links of this process.
        static CHOOSING: Mutex<()> = Mutex::new(());
        let _choosing = CHOOSING
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let subnet = free_subnet(id);
        let (a, b) = (200 + subnet / 256, subnet % 256);
        let link = Link {
            namespace: format!("clns{id}"),
            host_interface: format!("clv{id}"),
            host_v4: format!("10.{a}.{b}.1"),
            client_v4: format!("10.{a}.{b}.2"),
            host_v6: format!("fd00:c1e5:{subnet:x}::1"),
            client_v6: format!("fd00:c1e5:{subnet:x}::2"),
        };
        let peer = link.peer_interface();
        // Leftovers of an earlier, killed run with the same id.
        let _ = Command::new("ip")
            .args(["netns", "del", &link.namespace])
            .output();
        let _ = Command::new("ip")
            .args(["link", "del", &link.host_interface])
            .output();
        run("ip", &["netns", "add", &link.namespace]);
        run(
            "ip",
            &[
                "link",
                "add",
                &link.host_interface,
                "mtu",
                "1500",
                "type",
                "veth",
                "peer",
                "name",
                &peer,
                "mtu",
                "1500",
            ],
        );
        run("ip", &["link", "set", &peer, "netns", &link.namespace]);
        run(
            "ip",
            &[
                "addr",
                "add",
                &format!("{}/24", link.host_v4),
                "dev",
                &link.host_interface,
            ],
        );
        run(
            "ip",
            &[
                "-6",
                "addr",
                "add",
                &format!("{}/64", link.host_v6),
                "dev",
                &link.host_interface,
                "nodad",
            ],
        );
        run("ip", &["link", "set", &link.host_interface, "up"]);
        link.exec_ok(&[
            "ip",
            "addr",
            "add",
            &format!("{}/24", link.client_v4),
            "dev",
            &peer,
        ]);
        link.exec_ok(&[
            "ip",
            "-6",
            "addr",
            "add",
            &format!("{}/64", link.client_v6),
            "dev",
            &peer,
            "nodad",
        ]);
        link.exec_ok(&["ip", "link", "set", &peer, "up"]);
        link.exec_ok(&["ip", "link", "set", "lo", "up"]);
        link
    }

    /// A command that runs inside the client namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.namespace, program]);
        command
    }

    /// Runs a client inside the namespace and requires success.
    pub fn client(&self, program: &str, args: &[&str]) {
        let output = self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| panic!("{program}: {error}"));
        assert!(
            output.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// `openssl s_client` to `connect` with `server_name`; requires that
    /// the server's certificate arrived.
    pub fn s_client(&self, connect: &str, server_name: &str, extra: &[&str]) {
        let mut args = vec!["s_client", "-connect", connect, "-servername", server_name];
        args.extend_from_slice(extra);
        let output = self
            .command("openssl")
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("openssl s_client");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            text.contains("BEGIN CERTIFICATE") || text.contains("Server certificate"),
            "s_client {args:?}: {text}"
        );
    }

    /// One Python TLS handshake to the host end (IPv4) with this server
    /// name, the certificate not checked; requires success.
    pub fn python_handshake(&self, port: u16, server_name: &str) {
        self.client(
            "python3",
            &[
                "-c",
                &format!(
                    "import socket, ssl\n\
                     ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
                     s = socket.create_connection(('{}', {port}))\n\
                     ctx.wrap_socket(s, server_hostname='{server_name}').close()",
                    self.host_v4
                ),
            ],
        );
    }

    fn exec_ok(&self, args: &[&str]) {
        let mut full = vec!["netns", "exec", self.namespace.as_str()];
        full.extend_from_slice(args);
        run("ip", &full);
    }
}

impl Default for Link {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_interface])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.namespace])
            .output();
    }
}

/// A subnet index (see [`SUBNETS`]) no address on the host is in, starting
/// from one derived from `id`.
fn free_subnet(id: u32) -> u32 {
    let addresses = run("ip", &["-o", "addr", "show"]);
    let start = id.wrapping_mul(7919) % SUBNETS;
    (0..SUBNETS)
        .map(|step| (start + step) % SUBNETS)
        .find(|subnet| {
            let (a, b) = (200 + subnet / 256, subnet % 256);
            !addresses.contains(&format!(" 10.{a}.{b}."))
                && !addresses.contains(&format!(" fd00:c1e5:{subnet:x}::"))
        })
        .expect("a free test subnet")
}
