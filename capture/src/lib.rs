//! Capture input for cipherlens (in progress).
#![forbid(unsafe_code)]
