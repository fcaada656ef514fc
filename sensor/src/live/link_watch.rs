//! Interface appearance, renaming and removal as rtnetlink reports them.
//!
//! A new pod's veth must be attached within a second of its creation. Polling
//! `/sys/class/net` would need a short period and cost work on every tick of
//! every node; an rtnetlink socket subscribed to `RTMGRP_LINK` is woken by the
//! kernel when a link is created, changed or deleted, so the sensor attaches in
//! milliseconds and does nothing otherwise. Netlink multicast is not reliable
//! (a full socket buffer drops notifications and reports `ENOBUFS`), so an
//! overflow asks for a full re-listing, and the caller also re-lists on a slow
//! timer as a safety net.
//!
//! Only the few fields needed are decoded here (`nlmsghdr`, `ifinfomsg`,
//! `IFLA_IFNAME`), with every length checked: a malformed message is skipped
//! and counted, never trusted.

use std::io;
use std::os::fd::OwnedFd;

use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{AddressFamily, RecvFlags, SocketFlags, SocketType};
use tokio::io::unix::AsyncFd;

/// `RTMGRP_LINK`: the multicast group of link notifications.
const RTMGRP_LINK: u32 = 1;
const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
/// `NLMSG_ERROR`, `NLMSG_DONE`, `NLMSG_OVERRUN`.
const NLMSG_ERROR: u16 = 2;
const NLMSG_OVERRUN: u16 = 4;
const NLMSG_HEADER_LEN: usize = 16;
const IFINFOMSG_LEN: usize = 16;
const RTATTR_HEADER_LEN: usize = 4;
const IFLA_IFNAME: u16 = 3;
/// Interface names are at most 15 bytes plus NUL (`IFNAMSIZ`).
const IFNAMSIZ: usize = 16;
/// Socket receive buffer asked for: a burst of pod creations fits.
const RECEIVE_BUFFER: usize = 1 << 20;

/// One link notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkChange {
    /// A link appeared or changed (its name may be new).
    Present { index: u32, name: String },
    /// A link was deleted or left this network namespace.
    Gone { index: u32 },
}

/// What one wake-up brought.
#[derive(Debug, Default)]
pub struct LinkNews {
    pub changes: Vec<LinkChange>,
    /// Notifications were lost (socket buffer overflow): re-list everything.
    pub overflowed: bool,
    /// Messages that did not decode, skipped.
    pub malformed: u64,
}

/// An rtnetlink socket subscribed to link notifications.
pub struct LinkWatcher {
    socket: AsyncFd<OwnedFd>,
    buffer: Vec<u8>,
}

impl LinkWatcher {
    /// Opens the socket. Needs no privileges beyond those of live capture.
    pub fn open() -> io::Result<Self> {
        let socket = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::RAW,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            None, // NETLINK_ROUTE
        )?;
        rustix::net::bind(&socket, &SocketAddrNetlink::new(0, RTMGRP_LINK))?;
        if let Err(error) =
            rustix::net::sockopt::set_socket_recv_buffer_size(&socket, RECEIVE_BUFFER)
        {
            tracing::debug!(%error, "netlink receive buffer stays at the default size");
        }
        // `AsyncFd::new` is deprecated because a registered fd could be
        // closed behind tokio's back; this AsyncFd owns the fd.
        #[allow(deprecated)]
        let socket = AsyncFd::new(socket)?;
        Ok(Self {
            socket,
            buffer: vec![0; 64 * 1024],
        })
    }

    /// Waits for notifications and returns all that are queued.
    pub async fn next(&mut self) -> io::Result<LinkNews> {
        let mut news = LinkNews::default();
        let mut guard = self.socket.readable().await?;
        loop {
            match rustix::net::recv(guard.get_inner(), &mut self.buffer[..], RecvFlags::empty()) {
                Ok((_, received)) => {
                    let received = received.min(self.buffer.len());
                    decode_messages(&self.buffer[..received], &mut news);
                }
                Err(rustix::io::Errno::AGAIN) => {
                    guard.clear_ready();
                    return Ok(news);
                }
                Err(rustix::io::Errno::NOBUFS) => news.overflowed = true,
                Err(rustix::io::Errno::INTR) => {}
                Err(error) => return Err(error.into()),
            }
        }
    }
}

/// Decodes the netlink messages of one datagram into `news`.
fn decode_messages(mut datagram: &[u8], news: &mut LinkNews) {
    while datagram.len() >= NLMSG_HEADER_LEN {
        let length = u32_at(datagram, 0) as usize;
        if length < NLMSG_HEADER_LEN || length > datagram.len() {
            news.malformed += 1;
            return;
        }
        let kind = u16_at(datagram, 4);
        let body = &datagram[NLMSG_HEADER_LEN..length];
        match kind {
            RTM_NEWLINK | RTM_DELLINK => match decode_link(kind, body) {
                Some(change) => news.changes.push(change),
                None => news.malformed += 1,
            },
            NLMSG_OVERRUN => news.overflowed = true,
            NLMSG_ERROR => news.malformed += 1,
            _ => {}
        }
        // Messages are 4-byte aligned (NLMSG_ALIGN).
        let advance = align4(length).min(datagram.len());
        datagram = &datagram[advance..];
    }
}

/// `ifinfomsg` then attributes; the name is `IFLA_IFNAME`.
fn decode_link(kind: u16, body: &[u8]) -> Option<LinkChange> {
    if body.len() < IFINFOMSG_LEN {
        return None;
    }
    let index = u32::try_from(i32::from_ne_bytes(body[4..8].try_into().ok()?)).ok()?;
    if kind == RTM_DELLINK {
        return Some(LinkChange::Gone { index });
    }
    let mut attributes = &body[IFINFOMSG_LEN..];
    while attributes.len() >= RTATTR_HEADER_LEN {
        let length = usize::from(u16_at(attributes, 0));
        if length < RTATTR_HEADER_LEN || length > attributes.len() {
            return None;
        }
        if u16_at(attributes, 2) == IFLA_IFNAME {
            let value = &attributes[RTATTR_HEADER_LEN..length];
            let name = value.split(|byte| *byte == 0).next().unwrap_or_default();
            if name.is_empty() || name.len() >= IFNAMSIZ {
                return None;
            }
            let name = std::str::from_utf8(name).ok()?.to_owned();
            return Some(LinkChange::Present { index, name });
        }
        let advance = align4(length).min(attributes.len());
        attributes = &attributes[advance..];
    }
    None
}

fn align4(length: usize) -> usize {
    (length + 3) & !3
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([bytes[at], bytes[at + 1]])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message laid out as rtnetlink(7) and netlink(7) describe it.
    fn message(kind: u16, index: i32, attributes: &[(u16, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&[0, 0]); // family, pad
        body.extend_from_slice(&1u16.to_ne_bytes()); // ARPHRD_ETHER
        body.extend_from_slice(&index.to_ne_bytes());
        body.extend_from_slice(&0u32.to_ne_bytes()); // flags
        body.extend_from_slice(&0u32.to_ne_bytes()); // change
        for (kind, value) in attributes {
            let length = (RTATTR_HEADER_LEN + value.len()) as u16;
            body.extend_from_slice(&length.to_ne_bytes());
            body.extend_from_slice(&kind.to_ne_bytes());
            body.extend_from_slice(value);
            body.resize(align4(body.len()), 0);
        }
        let mut out = Vec::new();
        out.extend_from_slice(&((NLMSG_HEADER_LEN + body.len()) as u32).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(&0u16.to_ne_bytes());
        out.extend_from_slice(&0u32.to_ne_bytes());
        out.extend_from_slice(&0u32.to_ne_bytes());
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn new_and_deleted_links_in_one_datagram() {
        let mut datagram = message(
            RTM_NEWLINK,
            7,
            &[(13, &[1, 2, 3, 4, 5]), (IFLA_IFNAME, b"veth1a2b\0")],
        );
        datagram.extend(message(RTM_DELLINK, 5, &[(IFLA_IFNAME, b"old\0")]));
        let mut news = LinkNews::default();
        decode_messages(&datagram, &mut news);
        assert_eq!(
            news.changes,
            vec![
                LinkChange::Present {
                    index: 7,
                    name: "veth1a2b".into()
                },
                LinkChange::Gone { index: 5 },
            ]
        );
        assert_eq!(news.malformed, 0);
    }

    #[test]
    fn hostile_lengths_are_counted_not_trusted() {
        // Attribute length beyond the message.
        let mut bad = message(RTM_NEWLINK, 3, &[(IFLA_IFNAME, b"eth0\0")]);
        let at = NLMSG_HEADER_LEN + IFINFOMSG_LEN;
        bad[at..at + 2].copy_from_slice(&200u16.to_ne_bytes());
        let mut news = LinkNews::default();
        decode_messages(&bad, &mut news);
        assert!(news.changes.is_empty());
        assert_eq!(news.malformed, 1);

        // Message length shorter than a header, or longer than the datagram.
        for length in [3u32, 10_000] {
            let mut bad = message(RTM_NEWLINK, 3, &[(IFLA_IFNAME, b"eth0\0")]);
            bad[..4].copy_from_slice(&length.to_ne_bytes());
            let mut news = LinkNews::default();
            decode_messages(&bad, &mut news);
            assert_eq!(news.malformed, 1, "length {length}");
        }

        // A name longer than IFNAMSIZ allows, a negative index, a truncated body.
        for datagram in [
            message(
                RTM_NEWLINK,
                3,
                &[(IFLA_IFNAME, b"a-name-far-too-long-for-linux\0")],
            ),
            message(RTM_NEWLINK, -1, &[(IFLA_IFNAME, b"eth0\0")]),
            message(RTM_NEWLINK, 3, &[])[..NLMSG_HEADER_LEN + 8].to_vec(),
        ] {
            let mut datagram = datagram;
            let length = datagram.len() as u32;
            datagram[..4].copy_from_slice(&length.to_ne_bytes());
            let mut news = LinkNews::default();
            decode_messages(&datagram, &mut news);
            assert!(news.changes.is_empty());
            assert_eq!(news.malformed, 1);
        }
    }

    #[test]
    fn every_truncation_of_a_message_is_safe() {
        let datagram = message(RTM_NEWLINK, 9, &[(IFLA_IFNAME, b"lxc12345\0")]);
        for end in 0..datagram.len() {
            let mut news = LinkNews::default();
            decode_messages(&datagram[..end], &mut news);
            assert!(news.changes.is_empty(), "cut at {end}");
        }
    }
}
