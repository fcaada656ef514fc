//! Library target so that `sensor` can name this crate as a build
//! dependency: cargo then rebuilds the sensor when the kernel programs change.
#![no_std]
