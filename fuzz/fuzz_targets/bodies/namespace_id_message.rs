//! Fuzz body `namespace_id_message`: the input as one datagram from an
//! rtnetlink socket answering `RTM_GETNSID`/`RTM_NEWNSID` (`nlmsghdr`,
//! `rtgenmsg`, `NETNSA_*` attributes, host byte order).
//!
//! Why: message and attribute lengths come from the datagram; a malformed
//! reply must be said so, whatever it claims.

use cipherlens_capture::namespace_id_message::{Reply, parse_reply};

/// Parses `data` as the reply to request 1 and to request 0.
pub fn run(data: &[u8]) {
    for sequence in [0, 1] {
        let reply = parse_reply(data, sequence);
        if data.len() < 16 {
            assert_eq!(reply, Reply::Malformed, "no header, no reply");
        }
    }
}
