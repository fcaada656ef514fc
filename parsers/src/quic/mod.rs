//! QUIC Initial packets (in progress).
