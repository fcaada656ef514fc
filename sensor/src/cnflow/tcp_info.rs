//! TCP metrics of a local socket, from the kernel's `struct tcp_info`
//! through sock_diag (`NETLINK_SOCK_DIAG`, `INET_DIAG_INFO`).
//!
//! A sock_diag socket answers for the network namespace it was created in,
//! and a pod's sockets live in the pod's namespace. So a socket is looked up
//! in the namespace of its owning process (`/proc/PID/ns/net`): the calling
//! thread enters that namespace just long enough to create a netlink socket
//! there, then returns; the socket is cached per namespace (by inode). The
//! lookup is exact: the 4-tuple and the socket cookie the kernel programs
//! saw. Replies are parsed with every length checked; `tcp_info` fields are
//! read at their fixed offsets from `linux/tcp.h` (the struct only grows, so
//! a field past the end of an older kernel's struct is simply absent).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use cipherlens_record::cnflow::{TcpMetrics, TcpState};
use rustix::net::netlink::{self, SocketAddrNetlink};
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

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

/// sock_diag sockets per network namespace.
pub struct SockDiag {
    host_namespace: OwnedFd,
    host_inode: u64,
    sockets: HashMap<u64, OwnedFd>,
    sequence: u32,
    buffer: Vec<u8>,
    /// Lookups that found no metrics (socket gone, or an error).
    pub misses: u64,
}

impl SockDiag {
    /// Remembers this thread's namespace to come back to.
    pub fn new() -> std::io::Result<Self> {
        let host_namespace = rustix::fs::open(
            "/proc/thread-self/ns/net",
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )?;
        let host_inode = rustix::fs::fstat(&host_namespace)?.st_ino;
        Ok(Self {
            host_namespace,
            host_inode,
            sockets: HashMap::new(),
            sequence: 0,
            buffer: vec![0; 8192],
            misses: 0,
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
    ) -> Option<TcpMetrics> {
        let result = self.lookup(pid, local, remote, cookie);
        if result.is_none() {
            self.misses += 1;
        }
        result
    }

    fn lookup(
        &mut self,
        pid: u32,
        local: SocketAddr,
        remote: SocketAddr,
        cookie: u64,
    ) -> Option<TcpMetrics> {
        let namespace = rustix::fs::open(
            format!("/proc/{pid}/ns/net").as_str(),
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .ok()?;
        let inode = rustix::fs::fstat(&namespace).ok()?.st_ino;
        if !self.sockets.contains_key(&inode) {
            if self.sockets.len() >= MAX_NAMESPACES {
                self.sockets.clear();
            }
            let socket = self.socket_in(&namespace, inode)?;
            self.sockets.insert(inode, socket);
        }
        let socket = self.sockets.get(&inode)?;
        self.sequence = self.sequence.wrapping_add(1);
        let request = encode_request(local, remote, cookie, self.sequence);
        rustix::net::sendto(
            socket,
            &request,
            SendFlags::empty(),
            &SocketAddrNetlink::new(0, 0),
        )
        .ok()?;
        let (_, received) =
            rustix::net::recv(socket, &mut self.buffer[..], RecvFlags::empty()).ok()?;
        decode_reply(&self.buffer[..received.min(self.buffer.len())])
    }

    /// A sock_diag socket created inside `namespace`.
    fn socket_in(&self, namespace: &OwnedFd, inode: u64) -> Option<OwnedFd> {
        let entered = inode != self.host_inode;
        if entered {
            rustix::thread::move_into_link_name_space(
                namespace.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .ok()?;
        }
        let socket = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::RAW,
            SocketFlags::CLOEXEC,
            Some(netlink::SOCK_DIAG),
        );
        if entered
            && let Err(error) = rustix::thread::move_into_link_name_space(
                self.host_namespace.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
        {
            // Never seen; would leave this thread in a pod's namespace.
            tracing::error!(%error, "could not return to the sensor's network namespace");
        }
        let socket = socket.ok()?;
        let _ = rustix::net::sockopt::set_socket_timeout(
            &socket,
            rustix::net::sockopt::Timeout::Recv,
            Some(REPLY_TIMEOUT),
        );
        Some(socket)
    }
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
        assert!(
            diag.metrics(std::process::id(), local, server, cookie ^ 1)
                .is_none()
        );
    }
}
