//! Flow identity: what every record about one flow carries, so records
//! from this sensor and from other tools can be joined.

pub mod community_id;

pub use community_id::community_id_v1;
