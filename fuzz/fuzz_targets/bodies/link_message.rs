//! Fuzz body `link_message`: the input as one datagram from an rtnetlink
//! socket subscribed to link notifications (`nlmsghdr`s, each followed by
//! an `ifinfomsg` and its attributes, in host byte order).
//!
//! Why: message, attribute and name lengths all come from the datagram; a
//! malformed message must be counted and skipped, whatever it says.

use cipherlens_capture::link_message::{LinkChange, LinkNews, messages};

/// Decodes `data` as one datagram.
pub fn run(data: &[u8]) {
    let mut news = LinkNews::default();
    news.add_datagram(data);
    // Every message, decoded or not, takes a 16-byte header of the datagram.
    let counted = news.changes.len() as u64 + news.malformed;
    assert!(
        counted <= (data.len() / 16) as u64,
        "more messages than headers"
    );
    assert!(messages(data).count() <= data.len() / 16);
    for change in &news.changes {
        if let LinkChange::Present { name, .. } = change {
            // IFNAMSIZ is 16 with the NUL.
            assert!(!name.is_empty() && name.len() < 16, "name {name:?}");
            assert!(!name.contains('\0'), "name {name:?}");
        }
    }
}
