//! Reads of the packet: in place when the bytes are in the linear data
//! (headers nearly always are), else through `bpf_skb_load_bytes`, with
//! lengths in the forms the verifier can bound.

use aya_ebpf::{
    EbpfContext, bindings::__sk_buff, helpers::generated::bpf_skb_load_bytes, programs::TcContext,
};

/// `len` (1..=mask + 1) as `((len - 1) & mask) + 1`, the form the
/// verifier can bound. Through a volatile read the compiler cannot know
/// `len`'s range, so it keeps the mask (it removed it as a no-op).
#[inline(always)]
pub(super) fn bounded_len(len: usize, mask: usize) -> usize {
    // SAFETY: a read of a local.
    let opaque = unsafe { core::ptr::read_volatile(&len) };
    (opaque.wrapping_sub(1) & mask) + 1
}

/// `bpf_skb_load_bytes` of `len` bytes at `offset` into `dst`.
///
/// `len` must be at most `mask + 1` (a power of two) and `dst` must have
/// room for `mask + 1` bytes. The verifier needs a length it can prove is in
/// `1..=mask + 1`; a `min` and a zero check on another register copy do not
/// survive optimisation, so the bound is made arithmetic:
/// `((len - 1) & mask) + 1` on a value the compiler cannot see through.
#[inline(always)]
pub(super) fn load(ctx: &TcContext, offset: usize, dst: *mut u8, len: usize, mask: usize) -> bool {
    if len == 0 {
        return true;
    }
    let bounded = bounded_len(len, mask);
    // SAFETY: `dst` points at `mask + 1` writable bytes of a map value.
    let result = unsafe {
        bpf_skb_load_bytes(
            ctx.as_ptr().cast_const(),
            offset as u32,
            dst.cast(),
            bounded as u32,
        )
    };
    result == 0
}

/// Offsets read in place at most: every header the sensor follows starts
/// well before (a bound the verifier needs on a variable offset).
const DIRECT_READ_LIMIT: usize = 511;

/// The `T` at `offset` of the packet when it lies in the linear data the
/// program sees (headers nearly always do); `None` otherwise, and the
/// caller takes the helper path (`bpf_skb_load_bytes`, a call per field:
/// several times the cost of a direct read). No fallback in here: a
/// fallback per field would double the verifier's paths at every read.
#[inline(always)]
pub(super) fn read<T: Copy>(ctx: &TcContext, offset: usize) -> Option<T> {
    // At least two bytes are checked: the compiler turns a one-byte check
    // (`p + 1 <= end`) into `p < end`, from which the verifier grants no
    // range. A `u8` in the packet's last byte takes the helper path.
    let window = if core::mem::size_of::<T>() < 2 {
        2
    } else {
        core::mem::size_of::<T>()
    };
    let (start, end) = linear_data(ctx);
    if offset > DIRECT_READ_LIMIT || start + offset + window > end {
        return None;
    }
    // SAFETY: `start + offset .. + size_of::<T>()` is inside the packet's
    // linear data (checked just above, in the form the verifier tracks).
    Some(unsafe { core::ptr::read_unaligned((start + offset) as *const T) })
}

/// Start and end of the packet's linear data. Volatile reads of the
/// context: otherwise the compiler may hoist them into a caller and pass
/// them as 32-bit arguments, widening the end pointer with a shift the
/// verifier forbids on it.
#[inline(always)]
fn linear_data(ctx: &TcContext) -> (usize, usize) {
    let skb = ctx.as_ptr().cast::<__sk_buff>();
    // SAFETY: the context is a valid __sk_buff for the program's run.
    unsafe {
        (
            core::ptr::read_volatile(&raw const (*skb).data) as usize,
            core::ptr::read_volatile(&raw const (*skb).data_end) as usize,
        )
    }
}
