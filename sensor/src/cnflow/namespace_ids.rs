//! Network namespace ids: how this namespace names another.
//!
//! The kernel's socket lookup (`bpf_sk_lookup_tcp`) finds a socket in
//! another namespace by that namespace's id relative to the caller's
//! (`ip netns list-id`), so a pod's socket is read without entering the
//! pod (no `setns`, no CAP_SYS_ADMIN). A namespace is named by a process in
//! it: `RTM_GETNSID` with the pid asks for its id; one without an id gets
//! one (`RTM_NEWNSID`, CAP_NET_ADMIN, as `ip netns set` does; CNIs already
//! give every pod namespace behind a veth one). Ids are cached by the
//! namespace's inode, so a namespace costs one round trip while it lives.
//!
//! The messages are encoded and parsed by
//! `cipherlens_capture::namespace_id_message`; this module does the I/O.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::time::Duration;

use cipherlens_capture::namespace_id_message::{
    NLM_F_ACK, NLM_F_REQUEST, NOT_ASSIGNED, RTM_GETNSID, RTM_NEWNSID, Reply, encode_request,
    parse_reply,
};
use cipherlens_common::tcp_metrics::CURRENT_NETNS;
use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

/// Namespaces remembered at most.
const MAX_CACHED: usize = 4096;
const REPLY_TIMEOUT: Duration = Duration::from_millis(200);

/// Why a process's namespace has no id to look sockets up by.
#[derive(Debug, thiserror::Error)]
pub enum NamespaceIdError {
    /// The process is gone (its namespace with it, as far as we can tell).
    #[error("reading the network namespace of process {pid}: {source}")]
    NoProcess { pid: u32, source: std::io::Error },
    #[error("rtnetlink round trip: {0}")]
    RoundTrip(std::io::Error),
    /// The kernel refused to name the namespace (without CAP_NET_ADMIN).
    #[error("assigning an id to the network namespace of process {pid}: {source}")]
    Assign { pid: u32, source: std::io::Error },
    #[error("a reply without a namespace id")]
    BadReply,
}

impl NamespaceIdError {
    /// A stable label for counters and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            NamespaceIdError::NoProcess { .. } => "no_process",
            NamespaceIdError::RoundTrip(_) => "round_trip",
            NamespaceIdError::Assign { .. } => "assign",
            NamespaceIdError::BadReply => "bad_reply",
        }
    }
}

/// Namespace ids by namespace inode, over one rtnetlink socket.
pub struct NamespaceIds {
    own_inode: u64,
    socket: OwnedFd,
    ids: HashMap<u64, i32>,
    sequence: u32,
    buffer: Vec<u8>,
}

impl NamespaceIds {
    pub fn new() -> std::io::Result<Self> {
        let own_inode = rustix::fs::stat("/proc/self/ns/net")?.st_ino;
        let socket = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::RAW,
            SocketFlags::CLOEXEC,
            None, // NETLINK_ROUTE
        )?;
        rustix::net::sockopt::set_socket_timeout(
            &socket,
            rustix::net::sockopt::Timeout::Recv,
            Some(REPLY_TIMEOUT),
        )?;
        Ok(Self {
            own_inode,
            socket,
            ids: HashMap::new(),
            sequence: 0,
            buffer: vec![0; 4096],
        })
    }

    /// The id of the network namespace of `pid` ([`CURRENT_NETNS`] for this
    /// process's own), with the namespace's inode (for [`Self::forget`]).
    pub fn of_process(&mut self, pid: u32) -> Result<(i32, u64), NamespaceIdError> {
        let inode = rustix::fs::stat(format!("/proc/{pid}/ns/net").as_str())
            .map_err(|error| NamespaceIdError::NoProcess {
                pid,
                source: error.into(),
            })?
            .st_ino;
        if inode == self.own_inode {
            return Ok((CURRENT_NETNS, inode));
        }
        if let Some(&id) = self.ids.get(&inode) {
            return Ok((id, inode));
        }
        let mut id = self.round_trip(RTM_GETNSID, NLM_F_REQUEST, pid, None)?;
        if id == NOT_ASSIGNED {
            self.round_trip(
                RTM_NEWNSID,
                NLM_F_REQUEST | NLM_F_ACK,
                pid,
                Some(NOT_ASSIGNED),
            )
            .map_err(|error| match error {
                NamespaceIdError::RoundTrip(source) => NamespaceIdError::Assign { pid, source },
                other => other,
            })?;
            id = self.round_trip(RTM_GETNSID, NLM_F_REQUEST, pid, None)?;
        }
        if id < 0 {
            return Err(NamespaceIdError::BadReply);
        }
        if self.ids.len() >= MAX_CACHED {
            self.ids.clear();
        }
        self.ids.insert(inode, id);
        Ok((id, inode))
    }

    /// Forgets the id of the namespace with this inode (a lookup with it
    /// found nothing: the namespace may be gone, and its inode reused).
    pub fn forget(&mut self, inode: u64) {
        self.ids.remove(&inode);
    }

    /// One request; the namespace id of the answer (for `RTM_NEWNSID`, the
    /// acknowledgement's 0).
    fn round_trip(
        &mut self,
        kind: u16,
        flags: u16,
        pid: u32,
        nsid: Option<i32>,
    ) -> Result<i32, NamespaceIdError> {
        self.sequence = self.sequence.wrapping_add(1);
        let request = encode_request(kind, flags, self.sequence, pid, nsid);
        rustix::net::sendto(
            &self.socket,
            &request,
            SendFlags::empty(),
            &SocketAddrNetlink::new(0, 0),
        )
        .map_err(|error| NamespaceIdError::RoundTrip(error.into()))?;
        loop {
            let (_, received) =
                rustix::net::recv(&self.socket, &mut self.buffer[..], RecvFlags::empty())
                    .map_err(|error| NamespaceIdError::RoundTrip(error.into()))?;
            let reply = &self.buffer[..received.min(self.buffer.len())];
            match parse_reply(reply, self.sequence) {
                Reply::Stale => continue,
                Reply::Id(id) => return Ok(id),
                Reply::Error(0) if kind == RTM_NEWNSID => return Ok(0),
                Reply::Error(errno) => {
                    return Err(NamespaceIdError::RoundTrip(
                        std::io::Error::from_raw_os_error(errno),
                    ));
                }
                Reply::Malformed => return Err(NamespaceIdError::BadReply),
            }
        }
    }
}
