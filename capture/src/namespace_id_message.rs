//! rtnetlink namespace id messages: `RTM_GETNSID` and `RTM_NEWNSID`
//! requests naming a process's network namespace, and the kernel's replies.
//!
//! The sensor asks how its namespace names a pod's (`ip netns list-id`) to
//! look the pod's sockets up without entering it. Replies are parsed with
//! every length checked; the layout is `rtnl_net_fill` in
//! `net/core/net_namespace.c` (an `nlmsghdr`, a 4-byte `rtgenmsg`, then
//! `NETNSA_*` attributes, host byte order).

pub const RTM_NEWNSID: u16 = 88;
pub const RTM_GETNSID: u16 = 90;
const NLMSG_ERROR: u16 = 2;
pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_ACK: u16 = 0x4;
const NLMSG_HEADER_LEN: usize = 16;
/// `struct rtgenmsg`, padded to 4 bytes.
const RTGENMSG_LEN: usize = 4;
const NETNSA_NSID: u16 = 1;
const NETNSA_PID: u16 = 2;
/// `NETNSA_NSID_NOT_ASSIGNED`: the namespace has no id here (or, in a
/// request, "any free id").
pub const NOT_ASSIGNED: i32 = -1;

/// An `RTM_GETNSID` or `RTM_NEWNSID` request naming the namespace of `pid`
/// (with `nsid`, the id wanted: [`NOT_ASSIGNED`] for any).
pub fn encode_request(
    kind: u16,
    flags: u16,
    sequence: u32,
    pid: u32,
    nsid: Option<i32>,
) -> Vec<u8> {
    let length = NLMSG_HEADER_LEN + RTGENMSG_LEN + 8 + if nsid.is_some() { 8 } else { 0 };
    let mut message = Vec::with_capacity(length);
    message.extend_from_slice(&(length as u32).to_ne_bytes());
    message.extend_from_slice(&kind.to_ne_bytes());
    message.extend_from_slice(&flags.to_ne_bytes());
    message.extend_from_slice(&sequence.to_ne_bytes());
    message.extend_from_slice(&0u32.to_ne_bytes());
    // rtgenmsg: AF_UNSPEC and padding.
    message.extend_from_slice(&[0; RTGENMSG_LEN]);
    message.extend_from_slice(&8u16.to_ne_bytes());
    message.extend_from_slice(&NETNSA_PID.to_ne_bytes());
    message.extend_from_slice(&pid.to_ne_bytes());
    if let Some(nsid) = nsid {
        message.extend_from_slice(&8u16.to_ne_bytes());
        message.extend_from_slice(&NETNSA_NSID.to_ne_bytes());
        message.extend_from_slice(&nsid.to_ne_bytes());
    }
    message
}

/// What a reply to request `sequence` said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// `NETNSA_NSID` (possibly [`NOT_ASSIGNED`]).
    Id(i32),
    /// `NLMSG_ERROR` with this errno (0: an acknowledgement).
    Error(i32),
    /// A message for an earlier request.
    Stale,
    Malformed,
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// Parses the first message of a reply datagram; reads nothing past the
/// message's own length or the datagram's.
pub fn parse_reply(datagram: &[u8], sequence: u32) -> Reply {
    parse(datagram, sequence).unwrap_or(Reply::Malformed)
}

fn parse(datagram: &[u8], sequence: u32) -> Option<Reply> {
    let length = u32_at(datagram, 0)? as usize;
    if length < NLMSG_HEADER_LEN {
        return None;
    }
    let message = datagram.get(..length)?;
    if u32_at(message, 8)? != sequence {
        return Some(Reply::Stale);
    }
    match u16_at(message, 4)? {
        NLMSG_ERROR => {
            let errno = u32_at(message, NLMSG_HEADER_LEN)? as i32;
            Some(Reply::Error(errno.checked_neg()?))
        }
        RTM_NEWNSID => {
            let mut attributes = message.get(NLMSG_HEADER_LEN + RTGENMSG_LEN..)?;
            while attributes.len() >= 4 {
                let attribute_length = usize::from(u16_at(attributes, 0)?);
                if attribute_length < 4 || attribute_length > attributes.len() {
                    return None;
                }
                if u16_at(attributes, 2)? & 0x3fff == NETNSA_NSID {
                    return Some(Reply::Id(u32_at(attributes, 4)? as i32));
                }
                let advance = ((attribute_length + 3) & !3).min(attributes.len());
                attributes = &attributes[advance..];
            }
            None
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply as `rtnl_net_fill` builds it: header, rtgenmsg, NETNSA_NSID.
    fn reply(sequence: u32, nsid: i32) -> Vec<u8> {
        let mut message = Vec::new();
        message.extend_from_slice(&28u32.to_ne_bytes());
        message.extend_from_slice(&RTM_NEWNSID.to_ne_bytes());
        message.extend_from_slice(&0u16.to_ne_bytes());
        message.extend_from_slice(&sequence.to_ne_bytes());
        message.extend_from_slice(&0u32.to_ne_bytes());
        message.extend_from_slice(&[0; 4]);
        message.extend_from_slice(&8u16.to_ne_bytes());
        message.extend_from_slice(&NETNSA_NSID.to_ne_bytes());
        message.extend_from_slice(&nsid.to_ne_bytes());
        message
    }

    #[test]
    fn replies_give_the_id_an_error_or_nothing_without_reading_past_the_end() {
        assert_eq!(parse_reply(&reply(7, 3), 7), Reply::Id(3));
        assert_eq!(parse_reply(&reply(7, -1), 7), Reply::Id(NOT_ASSIGNED));
        assert_eq!(parse_reply(&reply(6, 3), 7), Reply::Stale);
        let whole = reply(7, 3);
        for cut in 0..whole.len() {
            assert_eq!(parse_reply(&whole[..cut], 7), Reply::Malformed, "{cut}");
        }
        let mut error = Vec::new();
        error.extend_from_slice(&36u32.to_ne_bytes());
        error.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        error.extend_from_slice(&0u16.to_ne_bytes());
        error.extend_from_slice(&7u32.to_ne_bytes());
        error.extend_from_slice(&0u32.to_ne_bytes());
        // -EPERM, then the request's header.
        error.extend_from_slice(&(-1i32).to_ne_bytes());
        error.extend_from_slice(&[0; 16]);
        assert_eq!(parse_reply(&error, 7), Reply::Error(1));
    }

    #[test]
    fn requests_carry_the_pid_and_the_wanted_id() {
        let request = encode_request(RTM_NEWNSID, NLM_F_REQUEST | NLM_F_ACK, 9, 4242, Some(-1));
        assert_eq!(request.len(), 36);
        assert_eq!(u32_at(&request, 0), Some(36));
        assert_eq!(u16_at(&request, 4), Some(RTM_NEWNSID));
        assert_eq!(u16_at(&request, 6), Some(NLM_F_REQUEST | NLM_F_ACK));
        assert_eq!(u32_at(&request, 8), Some(9));
        assert_eq!(u16_at(&request, 20), Some(8));
        assert_eq!(u16_at(&request, 22), Some(NETNSA_PID));
        assert_eq!(u32_at(&request, 24), Some(4242));
        assert_eq!(u16_at(&request, 30), Some(NETNSA_NSID));
        assert_eq!(u32_at(&request, 32), Some(u32::MAX));
        assert_eq!(
            encode_request(RTM_GETNSID, NLM_F_REQUEST, 1, 1, None).len(),
            28
        );
    }
}
