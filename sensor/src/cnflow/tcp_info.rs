//! TCP metrics of a local socket, from the kernel's `struct tcp_info`
//! through sock_diag (`NETLINK_SOCK_DIAG`, `INET_DIAG_INFO`).
//!
//! A sock_diag socket answers for the network namespace it was created in,
//! and a pod's sockets live in the pod's namespace. So a socket is looked up
//! in the namespace of its owning process (`/proc/PID/ns/net`) through a
//! netlink socket made there by a short-lived thread ([`super::netns`]);
//! the socket is cached per namespace (by inode). Lookups block (a netlink
//! round trip, up to 200 ms when no reply comes), so they run on the
//! enrichment worker, never on the live loop. The lookup is exact: the
//! 4-tuple and the socket cookie the kernel programs saw. Replies are parsed
//! with every length checked; `tcp_info` fields are read at their fixed
//! offsets from `linux/tcp.h` (the struct only grows, so a field past the
//! end of an older kernel's struct is simply absent).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::OwnedFd;
use std::time::Duration;

use cipherlens_record::cnflow::{TcpMetrics, TcpState};
use rustix::net::netlink::{self, SocketAddrNetlink};
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

use super::netns::{NamespaceError, in_network_namespace};

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLMSG_HEADER_LEN: usize = 16;
const INET_DIAG_MSG_LEN: usize = 72;
const INET_DIAG_INFO: u16 = 2;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
use cipherlens_common::IPPROTO_TCP;
/// Namespaces with a cached sock_diag socket at most.
const MAX_NAMESPACES: usize = 256;
const REPLY_TIMEOUT: Duration = Duration::from_millis(200);

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

/// Parses `struct tcp_info` (offsets from `linux/tcp.h`).
pub fn parse_tcp_info(info: &[u8]) -> Option<TcpMetrics> {
    Some(TcpMetrics {
        state: TcpState::from_kernel(*info.first()?),
        lost_segments: u32_at(info, 32)?,
        rtt_us: u32_at(info, 68)?,
        rtt_var_us: u32_at(info, 72)?,
        send_congestion_window: u32_at(info, 80)?,
        retransmitted_segments: u32_at(info, 100)?,
        segments_out: u32_at(info, 136),
        segments_in: u32_at(info, 140),
        min_rtt_us: u32_at(info, 148),
        delivery_rate: u64_at(info, 160),
        retransmitted_bytes: u64_at(info, 208),
        out_of_order_packets: u32_at(info, 224),
        receive_window: u32_at(info, 232),
    })
}

/// An exact `inet_diag_req_v2` for one socket, with its netlink header.
pub fn encode_request(
    local: SocketAddr,
    remote: SocketAddr,
    cookie: u64,
    sequence: u32,
) -> Vec<u8> {
    let mut message = Vec::with_capacity(NLMSG_HEADER_LEN + 56);
    message.extend_from_slice(&((NLMSG_HEADER_LEN + 56) as u32).to_ne_bytes());
    message.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    message.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    message.extend_from_slice(&sequence.to_ne_bytes());
    message.extend_from_slice(&0u32.to_ne_bytes());
    let family = if local.is_ipv4() { AF_INET } else { AF_INET6 };
    message.extend_from_slice(&[family, IPPROTO_TCP, 1 << (INET_DIAG_INFO - 1), 0]);
    message.extend_from_slice(&u32::MAX.to_ne_bytes()); // every state
    message.extend_from_slice(&local.port().to_be_bytes());
    message.extend_from_slice(&remote.port().to_be_bytes());
    for address in [local.ip(), remote.ip()] {
        let mut field = [0u8; 16];
        match address {
            IpAddr::V4(v4) => field[..4].copy_from_slice(&v4.octets()),
            IpAddr::V6(v6) => field.copy_from_slice(&v6.octets()),
        }
        message.extend_from_slice(&field);
    }
    message.extend_from_slice(&0u32.to_ne_bytes()); // interface: any
    message.extend_from_slice(&(cookie as u32).to_ne_bytes());
    message.extend_from_slice(&((cookie >> 32) as u32).to_ne_bytes());
    message
}

/// The metrics in a sock_diag reply, if it has them.
pub fn decode_reply(mut reply: &[u8]) -> Option<TcpMetrics> {
    while reply.len() >= NLMSG_HEADER_LEN {
        let length = u32_at(reply, 0)? as usize;
        if length < NLMSG_HEADER_LEN || length > reply.len() {
            return None;
        }
        let kind = u16::from_ne_bytes([reply[4], reply[5]]);
        let body = &reply[NLMSG_HEADER_LEN..length];
        match kind {
            SOCK_DIAG_BY_FAMILY if body.len() >= INET_DIAG_MSG_LEN => {
                let state = body[1];
                let mut attributes = &body[INET_DIAG_MSG_LEN..];
                while attributes.len() >= 4 {
                    let attribute_length =
                        usize::from(u16::from_ne_bytes([attributes[0], attributes[1]]));
                    let attribute_type = u16::from_ne_bytes([attributes[2], attributes[3]]);
                    if attribute_length < 4 || attribute_length > attributes.len() {
                        return None;
                    }
                    if attribute_type == INET_DIAG_INFO {
                        let mut metrics = parse_tcp_info(&attributes[4..attribute_length])?;
                        metrics.state = TcpState::from_kernel(state);
                        return Some(metrics);
                    }
                    let advance = ((attribute_length + 3) & !3).min(attributes.len());
                    attributes = &attributes[advance..];
                }
                return None;
            }
            NLMSG_ERROR => return None,
            _ => {}
        }
        let advance = ((length + 3) & !3).min(reply.len());
        reply = &reply[advance..];
    }
    None
}

/// Why a lookup gave no metrics.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// The owning process is gone (its namespace with it, as far as we can
    /// tell).
    #[error("opening the network namespace of process {pid}: {source}")]
    NoProcess { pid: u32, source: std::io::Error },
    #[error("making a sock_diag socket in the network namespace of process {pid}: {source}")]
    Namespace { pid: u32, source: NamespaceError },
    #[error("sock_diag round trip: {0}")]
    RoundTrip(std::io::Error),
    /// No such socket, or one without `tcp_info` (e.g. in `time_wait`).
    #[error("no open socket with these addresses and cookie")]
    NotFound,
}

impl LookupError {
    /// A stable label for counters and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            LookupError::NoProcess { .. } => "no_process",
            LookupError::Namespace { source, .. } => source.reason(),
            LookupError::RoundTrip(_) => "round_trip",
            LookupError::NotFound => "not_found",
        }
    }
}

/// sock_diag sockets per network namespace.
pub struct SockDiag {
    /// The namespace this process runs in: sockets for it are made here.
    own_inode: u64,
    sockets: HashMap<u64, OwnedFd>,
    sequence: u32,
    buffer: Vec<u8>,
}

impl SockDiag {
    pub fn new() -> std::io::Result<Self> {
        let own_inode = rustix::fs::stat("/proc/self/ns/net")?.st_ino;
        Ok(Self {
            own_inode,
            sockets: HashMap::new(),
            sequence: 0,
            buffer: vec![0; 8192],
        })
    }

    /// The metrics of the socket `local` -> `remote` with this cookie, owned
    /// by `pid` (whose network namespace holds it).
    pub fn metrics(
        &mut self,
        pid: u32,
        local: SocketAddr,
        remote: SocketAddr,
        cookie: u64,
    ) -> Result<TcpMetrics, LookupError> {
        let namespace = rustix::fs::open(
            format!("/proc/{pid}/ns/net").as_str(),
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|error| LookupError::NoProcess {
            pid,
            source: error.into(),
        })?;
        let inode = rustix::fs::fstat(&namespace)
            .map_err(|error| LookupError::NoProcess {
                pid,
                source: error.into(),
            })?
            .st_ino;
        let socket = match self.sockets.remove(&inode) {
            Some(known) => known,
            None if inode == self.own_inode => {
                sock_diag_socket().map_err(|error| LookupError::Namespace {
                    pid,
                    source: NamespaceError::Work(error),
                })?
            }
            None => in_network_namespace(namespace, sock_diag_socket)
                .map_err(|source| LookupError::Namespace { pid, source })?,
        };
        let metrics = self.round_trip(&socket, local, remote, cookie);
        if self.sockets.len() >= MAX_NAMESPACES {
            self.sockets.clear();
        }
        self.sockets.insert(inode, socket);
        metrics
    }

    fn round_trip(
        &mut self,
        socket: &OwnedFd,
        local: SocketAddr,
        remote: SocketAddr,
        cookie: u64,
    ) -> Result<TcpMetrics, LookupError> {
        self.sequence = self.sequence.wrapping_add(1);
        let request = encode_request(local, remote, cookie, self.sequence);
        rustix::net::sendto(
            socket,
            &request,
            SendFlags::empty(),
            &SocketAddrNetlink::new(0, 0),
        )
        .map_err(|error| LookupError::RoundTrip(error.into()))?;
        let (_, received) = rustix::net::recv(socket, &mut self.buffer[..], RecvFlags::empty())
            .map_err(|error| LookupError::RoundTrip(error.into()))?;
        decode_reply(&self.buffer[..received.min(self.buffer.len())]).ok_or(LookupError::NotFound)
    }
}

/// A sock_diag socket in the calling thread's network namespace.
fn sock_diag_socket() -> std::io::Result<OwnedFd> {
    let socket = rustix::net::socket_with(
        AddressFamily::NETLINK,
        SocketType::RAW,
        SocketFlags::CLOEXEC,
        Some(netlink::SOCK_DIAG),
    )?;
    rustix::net::sockopt::set_socket_timeout(
        &socket,
        rustix::net::sockopt::Timeout::Recv,
        Some(REPLY_TIMEOUT),
    )?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_info_fields_at_their_offsets() {
        let mut info = vec![0u8; 240];
        info[0] = 1;
        info[32..36].copy_from_slice(&3u32.to_ne_bytes());
        info[68..72].copy_from_slice(&52u32.to_ne_bytes());
        info[72..76].copy_from_slice(&26u32.to_ne_bytes());
        info[80..84].copy_from_slice(&10u32.to_ne_bytes());
        info[100..104].copy_from_slice(&2u32.to_ne_bytes());
        info[136..140].copy_from_slice(&8u32.to_ne_bytes());
        info[140..144].copy_from_slice(&7u32.to_ne_bytes());
        info[232..236].copy_from_slice(&65535u32.to_ne_bytes());
        let metrics = parse_tcp_info(&info).expect("metrics");
        assert_eq!(
            (
                metrics.state,
                metrics.rtt_us,
                metrics.rtt_var_us,
                metrics.segments_out,
                metrics.segments_in
            ),
            (TcpState::Established, 52, 26, Some(8), Some(7))
        );
        assert_eq!(
            (metrics.lost_segments, metrics.retransmitted_segments),
            (3, 2)
        );
        assert_eq!(metrics.receive_window, Some(65535));
        // An older kernel's shorter struct: later fields absent, not garbage.
        let short = parse_tcp_info(&info[..104]).expect("short");
        assert_eq!((short.segments_in, short.receive_window), (None, None));
        assert!(parse_tcp_info(&info[..50]).is_none());
    }

    #[test]
    fn hostile_replies_give_nothing() {
        for reply in [
            &[][..],
            &[1, 2, 3],
            &[0xFF; 20],
            &[16, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ] {
            assert!(decode_reply(reply).is_none());
        }
        for cut in 0..90 {
            let mut reply = [0u8; 90];
            reply[..4].copy_from_slice(&(cut as u32).to_ne_bytes());
            reply[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
            assert!(decode_reply(&reply[..cut]).is_none(), "cut {cut}");
        }
    }

    /// A real socket of this process, looked up like the sensor does: by
    /// tuple and the cookie `SO_COOKIE` gives (the end-to-end test compares
    /// the values with `ss`).
    #[test]
    fn a_socket_of_this_process_is_found_in_its_own_namespace() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
        let server = listener.local_addr().expect("address");
        let client = std::net::TcpStream::connect(server).expect("connect");
        let (_accepted, _) = listener.accept().expect("accept");
        let local = client.local_addr().expect("local");
        let cookie = rustix::net::sockopt::socket_cookie(&client).expect("SO_COOKIE");
        let mut diag = SockDiag::new().expect("sock_diag");
        let metrics = diag
            .metrics(std::process::id(), local, server, cookie)
            .expect("the connected socket's tcp_info");
        assert_eq!(metrics.state, TcpState::Established);
        assert!(metrics.segments_out >= Some(1), "{metrics:?}");
        // The wrong cookie finds nothing: the lookup is exact.
        assert!(matches!(
            diag.metrics(std::process::id(), local, server, cookie ^ 1),
            Err(LookupError::NotFound)
        ));
    }
}
