//! rtnetlink link notifications decoded from the bytes of one netlink datagram.
//!
//! The sensor learns that an interface appeared, was renamed or went away
//! from `RTM_NEWLINK` and `RTM_DELLINK` messages the kernel multicasts on a
//! netlink socket. Only the few fields needed are decoded (`nlmsghdr`,
//! `ifinfomsg`, `IFLA_IFNAME`, laid out as netlink(7) and rtnetlink(7)
//! describe them, in host byte order), with every length checked: a
//! malformed message is an error that the caller counts and skips, never
//! trusted and never a panic.

/// `nlmsg_type` of a new or changed link.
pub const RTM_NEWLINK: u16 = 16;
/// `nlmsg_type` of a deleted link.
pub const RTM_DELLINK: u16 = 17;
/// `NLMSG_ERROR`: an error report (never asked for on a notification socket).
const NLMSG_ERROR: u16 = 2;
/// `NLMSG_OVERRUN`: data was lost.
const NLMSG_OVERRUN: u16 = 4;
const NLMSG_HEADER_LEN: usize = 16;
const IFINFOMSG_LEN: usize = 16;
const RTATTR_HEADER_LEN: usize = 4;
const IFLA_IFNAME: u16 = 3;
/// Interface names are at most 15 bytes plus NUL (`IFNAMSIZ`).
const IFNAMSIZ: usize = 16;

/// One link notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkChange {
    /// A link appeared or changed (its name may be new).
    Present { index: u32, name: String },
    /// A link was deleted or left this network namespace.
    Gone { index: u32 },
}

/// One netlink message of a datagram, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkMessage {
    Change(LinkChange),
    /// `NLMSG_OVERRUN`: notifications were lost.
    Overrun,
    /// Any other message type; nothing to do.
    Other {
        kind: u16,
    },
}

/// Why a message could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkMessageError {
    #[error("netlink message length {length} does not fit the {available} bytes left")]
    MessageLength { length: usize, available: usize },
    #[error("netlink error message")]
    NetlinkError,
    #[error("link message body of {0} bytes is shorter than ifinfomsg")]
    ShortBody(usize),
    #[error("interface index {0} is negative")]
    NegativeIndex(i32),
    #[error("attribute length {length} does not fit the {available} bytes left")]
    AttributeLength { length: usize, available: usize },
    #[error("new link message without an interface name")]
    NoName,
    #[error("interface name is empty, longer than 15 bytes or not UTF-8")]
    BadName,
}

/// What the datagrams of one wake-up brought.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LinkNews {
    pub changes: Vec<LinkChange>,
    /// Notifications were lost (socket buffer overflow): re-list everything.
    pub overflowed: bool,
    /// Messages that did not decode, skipped.
    pub malformed: u64,
}

impl LinkNews {
    /// Adds what one datagram says.
    pub fn add_datagram(&mut self, datagram: &[u8]) {
        for message in messages(datagram) {
            match message {
                Ok(LinkMessage::Change(change)) => self.changes.push(change),
                Ok(LinkMessage::Overrun) => self.overflowed = true,
                Ok(LinkMessage::Other { .. }) => {}
                Err(_) => self.malformed += 1,
            }
        }
    }
}

/// The messages of one datagram, in order. A message whose length does not
/// fit ends the datagram (nothing after it can be found); bytes after the
/// last message too few for a header are ignored.
pub fn messages(datagram: &[u8]) -> Messages<'_> {
    Messages { rest: datagram }
}

/// Iterator returned by [`messages`].
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    rest: &'a [u8],
}

impl Iterator for Messages<'_> {
    type Item = Result<LinkMessage, LinkMessageError>;

    fn next(&mut self) -> Option<Self::Item> {
        let header = self.rest.first_chunk::<NLMSG_HEADER_LEN>()?;
        let length = u32::from_ne_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let available = self.rest.len();
        if length < NLMSG_HEADER_LEN || length > available {
            self.rest = &[];
            return Some(Err(LinkMessageError::MessageLength { length, available }));
        }
        let kind = u16::from_ne_bytes([header[4], header[5]]);
        let body = &self.rest[NLMSG_HEADER_LEN..length];
        // Messages are 4-byte aligned (NLMSG_ALIGN).
        self.rest = &self.rest[align4(length).min(available)..];
        Some(match kind {
            RTM_NEWLINK | RTM_DELLINK => decode_link(kind, body).map(LinkMessage::Change),
            NLMSG_OVERRUN => Ok(LinkMessage::Overrun),
            NLMSG_ERROR => Err(LinkMessageError::NetlinkError),
            kind => Ok(LinkMessage::Other { kind }),
        })
    }
}

/// `ifinfomsg` then attributes; the name is `IFLA_IFNAME`.
fn decode_link(kind: u16, body: &[u8]) -> Result<LinkChange, LinkMessageError> {
    let Some(ifinfomsg) = body.first_chunk::<IFINFOMSG_LEN>() else {
        return Err(LinkMessageError::ShortBody(body.len()));
    };
    // family, pad, type (u16), index (i32), flags, change.
    let index = i32::from_ne_bytes([ifinfomsg[4], ifinfomsg[5], ifinfomsg[6], ifinfomsg[7]]);
    let index = u32::try_from(index).map_err(|_| LinkMessageError::NegativeIndex(index))?;
    if kind == RTM_DELLINK {
        return Ok(LinkChange::Gone { index });
    }
    let mut attributes = &body[IFINFOMSG_LEN..];
    while let Some(header) = attributes.first_chunk::<RTATTR_HEADER_LEN>() {
        let length = usize::from(u16::from_ne_bytes([header[0], header[1]]));
        let available = attributes.len();
        if length < RTATTR_HEADER_LEN || length > available {
            return Err(LinkMessageError::AttributeLength { length, available });
        }
        if u16::from_ne_bytes([header[2], header[3]]) == IFLA_IFNAME {
            let value = &attributes[RTATTR_HEADER_LEN..length];
            let name = value.split(|byte| *byte == 0).next().unwrap_or_default();
            if name.is_empty() || name.len() >= IFNAMSIZ {
                return Err(LinkMessageError::BadName);
            }
            let name = std::str::from_utf8(name).map_err(|_| LinkMessageError::BadName)?;
            return Ok(LinkChange::Present {
                index,
                name: name.to_owned(),
            });
        }
        attributes = &attributes[align4(length).min(available)..];
    }
    Err(LinkMessageError::NoName)
}

fn align4(length: usize) -> usize {
    (length + 3) & !3
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
            let length = (4 + value.len()) as u16;
            body.extend_from_slice(&length.to_ne_bytes());
            body.extend_from_slice(&kind.to_ne_bytes());
            body.extend_from_slice(value);
            body.resize(body.len().next_multiple_of(4), 0);
        }
        let mut out = Vec::new();
        out.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(&0u16.to_ne_bytes());
        out.extend_from_slice(&0u32.to_ne_bytes());
        out.extend_from_slice(&0u32.to_ne_bytes());
        out.extend_from_slice(&body);
        out
    }

    fn errors(datagram: &[u8]) -> Vec<LinkMessageError> {
        messages(datagram).filter_map(Result::err).collect()
    }

    #[test]
    fn new_and_deleted_links_in_one_datagram() {
        let mut datagram = message(16, 7, &[(13, &[1, 2, 3, 4, 5]), (3, b"veth1a2b\0")]);
        datagram.extend(message(17, 5, &[(3, b"old\0")]));
        let mut news = LinkNews::default();
        news.add_datagram(&datagram);
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
        assert!(!news.overflowed);
    }

    #[test]
    fn overrun_and_other_messages() {
        let mut datagram = message(4, 0, &[]); // NLMSG_OVERRUN
        datagram.extend(message(3, 0, &[])); // NLMSG_DONE
        let mut news = LinkNews::default();
        news.add_datagram(&datagram);
        assert!(news.overflowed);
        assert!(news.changes.is_empty());
        assert_eq!(news.malformed, 0);
        assert_eq!(
            messages(&datagram).nth(1),
            Some(Ok(LinkMessage::Other { kind: 3 }))
        );
    }

    #[test]
    fn hostile_lengths_are_errors_not_trusted() {
        // Attribute length beyond the message.
        let mut bad = message(16, 3, &[(3, b"eth0\0")]);
        bad[32..34].copy_from_slice(&200u16.to_ne_bytes());
        assert_eq!(
            errors(&bad),
            [LinkMessageError::AttributeLength {
                length: 200,
                available: 12
            }]
        );
        let mut news = LinkNews::default();
        news.add_datagram(&bad);
        assert!(news.changes.is_empty());
        assert_eq!(news.malformed, 1);

        // Message length shorter than a header, or longer than the datagram;
        // a valid message after it is not looked for.
        for length in [3u32, 10_000] {
            let mut bad = message(16, 3, &[(3, b"eth0\0")]);
            bad[..4].copy_from_slice(&length.to_ne_bytes());
            bad.extend(message(17, 4, &[]));
            assert_eq!(
                errors(&bad),
                [LinkMessageError::MessageLength {
                    length: length as usize,
                    available: bad.len()
                }],
                "length {length}"
            );
            assert_eq!(messages(&bad).count(), 1);
        }
    }

    #[test]
    fn bad_bodies_and_names_are_errors() {
        let cases: [(Vec<u8>, LinkMessageError); 6] = [
            (
                message(16, 3, &[(3, b"a-name-far-too-long-for-linux\0")]),
                LinkMessageError::BadName,
            ),
            (message(16, 3, &[(3, b"\0")]), LinkMessageError::BadName),
            (
                message(16, 3, &[(3, b"et\xffh0\0")]),
                LinkMessageError::BadName,
            ),
            (
                message(16, -1, &[(3, b"eth0\0")]),
                LinkMessageError::NegativeIndex(-1),
            ),
            (
                message(16, 3, &[(13, &[1, 2, 3, 4])]),
                LinkMessageError::NoName,
            ),
            (message(2, 0, &[]), LinkMessageError::NetlinkError),
        ];
        for (datagram, expected) in cases {
            assert_eq!(errors(&datagram), [expected]);
        }
        // A body cut to 8 bytes, with the message length saying so.
        let mut short = message(16, 3, &[])[..24].to_vec();
        short[..4].copy_from_slice(&24u32.to_ne_bytes());
        assert_eq!(errors(&short), [LinkMessageError::ShortBody(8)]);
    }

    #[test]
    fn every_truncation_of_a_message_is_safe() {
        let datagram = message(16, 9, &[(3, b"lxc12345\0")]);
        for end in 0..datagram.len() {
            let mut news = LinkNews::default();
            news.add_datagram(&datagram[..end]);
            assert!(news.changes.is_empty(), "cut at {end}");
        }
    }
}
