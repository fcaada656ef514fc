//! The privileged end-to-end tests: real kernel programs on a veth pair each
//! test makes (a [`cipherlens_integration::TestBed`]), real TLS and QUIC
//! peers, and expectations from outside the sensor: the clients'
//! configuration, tshark on a parallel tcpdump capture, `replay` of that
//! capture, `ss`, the kernel's own view of what is attached, and NATS.
//!
//! Root only. One module per feature; `cargo test -p cipherlens-integration
//! --test e2e -- nats::` runs one of them.

mod alerts;
mod attribution;
mod cnflow;
mod decryption;
mod deploy;
mod fidelity;
mod inventory;
mod lifecycle;
mod map_batch;
mod nats;
mod quic;
mod tunnels;
mod uprobes;
