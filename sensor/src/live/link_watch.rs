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
//! The messages are decoded by `cipherlens_capture::link_message`; this module
//! owns the socket.

use std::io;
use std::os::fd::OwnedFd;

use cipherlens_capture::link_message::LinkNews;
use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{AddressFamily, RecvFlags, SocketFlags, SocketType};
use tokio::io::unix::AsyncFd;

/// `RTMGRP_LINK`: the multicast group of link notifications.
const RTMGRP_LINK: u32 = 1;
/// Socket receive buffer asked for: a burst of pod creations fits.
const RECEIVE_BUFFER: usize = 1 << 20;

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
                    news.add_datagram(&self.buffer[..received]);
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
