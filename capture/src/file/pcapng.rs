//! pcapng: sections of blocks; interfaces described in their own blocks, packets in
//! enhanced and simple packet blocks, TLS key logs in decryption secrets blocks.

use std::io::Read;

use pcap_parser::OptionCode;
use pcap_parser::pcapng::{
    EPB_MAGIC, IDB_MAGIC, SHB_MAGIC, SPB_MAGIC, parse_enhancedpacketblock_be,
    parse_enhancedpacketblock_le, parse_interfacedescriptionblock_be,
    parse_interfacedescriptionblock_le, parse_sectionheaderblock, parse_simplepacketblock_be,
    parse_simplepacketblock_le,
};
use pcap_parser::traits::PcapNGPacketBlock;
use tracing::{debug, trace};

use super::input::{BufferedInput, ReadContext};
use super::{
    CaptureError, Frame, MAX_RECORD_BYTES, NANOS_PER_SECOND, copy_into_spare, describe_parse_error,
    read_u32,
};
use crate::link_type::LinkType;

const PCAPNG_BLOCK_MIN_LEN: u32 = 12;
/// The byte-order magic of a pcapng Section Header Block, as written by a big-endian host.
const PCAPNG_BOM_BIG_ENDIAN: [u8; 4] = [0x1a, 0x2b, 0x3c, 0x4d];
/// The same magic written by a little-endian host.
const PCAPNG_BOM_LITTLE_ENDIAN: [u8; 4] = [0x4d, 0x3c, 0x2b, 0x1a];
/// pcapng Decryption Secrets Block, and its TLS key log secrets type ("TLSK").
const DSB_MAGIC: u32 = 0x0000_000A;
const DSB_TLS_KEY_LOG: u32 = 0x544c_534b;
/// TLS key log bytes kept from Decryption Secrets Blocks until taken.
const MAX_TLS_SECRETS_BYTES: usize = 16 << 20;

/// What the blocks read so far say about the ones to come.
pub(super) struct PcapNgState {
    /// Byte order of the current section.
    big_endian: bool,
    /// Interfaces described so far in the current section, indexed by interface id.
    interfaces: Vec<PcapNgInterface>,
    sections_seen: u64,
    /// TLS key log text from Decryption Secrets Blocks, not yet taken.
    pub(super) tls_secrets: Vec<u8>,
    /// Secrets bytes beyond the bound, dropped.
    pub(super) tls_secrets_dropped: u64,
}

/// Reads the first block, a section header (the file's magic number already identified):
/// a bad one is reported when the file is opened.
pub(super) fn read_first_section<R: Read>(
    input: &mut BufferedInput<R>,
    context: ReadContext,
) -> Result<PcapNgState, CaptureError> {
    let mut state = PcapNgState {
        big_endian: false,
        interfaces: Vec::new(),
        sections_seen: 0,
        tls_secrets: Vec::new(),
        tls_secrets_dropped: 0,
    };
    let first = read_pcapng_block(input, &mut state, context, &mut Vec::new())?;
    debug_assert!(first.is_none(), "a section header block carries no frame");
    Ok(state)
}

struct PcapNgInterface {
    link_type: LinkType,
    snap_len: u32,
    /// Timestamp units per second (`if_tsresol`).
    timestamp_units_per_second: u64,
    /// Seconds added to every timestamp (`if_tsoffset`).
    timestamp_offset_seconds: i64,
}

/// Reads pcapng blocks until one carries a packet.
pub(super) fn read_pcapng_frame<R: Read>(
    input: &mut BufferedInput<R>,
    state: &mut PcapNgState,
    context: ReadContext,
    spare_data: &mut Vec<u8>,
) -> Result<Option<Frame>, CaptureError> {
    loop {
        if input.available().is_empty() && !context.require_unless_end(input, 1)? {
            return Ok(None);
        }
        if let Some(frame) = read_pcapng_block(input, state, context, spare_data)? {
            return Ok(Some(frame));
        }
    }
}

/// Reads one pcapng block: updates the section or interface state, returns the frame of a
/// packet block, and skips every other block type.
fn read_pcapng_block<R: Read>(
    input: &mut BufferedInput<R>,
    state: &mut PcapNgState,
    context: ReadContext,
    spare_data: &mut Vec<u8>,
) -> Result<Option<Frame>, CaptureError> {
    let block_start = input.consumed_offset;
    context.require(input, 8)?;
    let is_section_header = input.available()[..4] == SHB_MAGIC.to_le_bytes();
    let big_endian = if is_section_header {
        // A section header's byte order is given by its own byte-order magic.
        context.require(input, 12)?;
        let byte_order_magic = &input.available()[8..12];
        if byte_order_magic == PCAPNG_BOM_BIG_ENDIAN {
            true
        } else if byte_order_magic == PCAPNG_BOM_LITTLE_ENDIAN {
            false
        } else {
            return Err(context.malformed(
                block_start,
                "section header block has no valid byte-order magic",
            ));
        }
    } else {
        state.big_endian
    };
    let header = input.available();
    let block_type = read_u32(&header[..4], big_endian);
    let block_len = read_u32(&header[4..8], big_endian);
    if block_len < PCAPNG_BLOCK_MIN_LEN || !block_len.is_multiple_of(4) {
        return Err(context.malformed(
            block_start,
            format!(
                "pcapng block of type {block_type:#010x} has invalid total length {block_len} \
                 (must be a multiple of 4, at least 12)"
            ),
        ));
    }
    if u64::from(block_len) > MAX_RECORD_BYTES {
        return Err(context.too_large(block_start, u64::from(block_len)));
    }
    let block_len = block_len as usize;
    context.require(input, block_len)?;
    let block = &input.available()[..block_len];
    let trailing_len = read_u32(&block[block_len - 4..], big_endian);
    if trailing_len as usize != block_len {
        return Err(context.malformed(
            block_start,
            format!(
                "pcapng block of type {block_type:#010x}: leading length {block_len} and \
                 trailing length {trailing_len} differ"
            ),
        ));
    }

    let frame = match block_type {
        SHB_MAGIC => {
            start_section(block, block_start, state, context)?;
            None
        }
        IDB_MAGIC => {
            add_interface(block, block_start, state, context)?;
            None
        }
        EPB_MAGIC => Some(enhanced_packet_frame(
            block,
            block_start,
            state,
            context,
            spare_data,
        )?),
        SPB_MAGIC => Some(simple_packet_frame(
            block,
            block_start,
            state,
            context,
            spare_data,
        )?),
        DSB_MAGIC => {
            keep_decryption_secrets(block, block_start, state, context)?;
            None
        }
        other => {
            trace!(
                block_type = other,
                byte_offset = block_start,
                block_len,
                "skipping pcapng block"
            );
            None
        }
    };
    input.consume(block_len);
    Ok(frame)
}

/// A Decryption Secrets Block: secrets type, secrets length, the secrets
/// (padded to 4 bytes), options. TLS key log text is kept for the reader's
/// user ([`CaptureReader::take_tls_secrets`](super::CaptureReader::take_tls_secrets));
/// other types are skipped.
fn keep_decryption_secrets(
    block: &[u8],
    block_start: u64,
    state: &mut PcapNgState,
    context: ReadContext,
) -> Result<(), CaptureError> {
    if block.len() < 20 {
        return Err(context.malformed(block_start, "pcapng Decryption Secrets Block too short"));
    }
    let secrets_type = read_u32(&block[8..12], state.big_endian);
    let secrets_len = read_u32(&block[12..16], state.big_endian) as usize;
    let Some(secrets) = block.get(16..).and_then(|rest| rest.get(..secrets_len)) else {
        return Err(context.malformed(
            block_start,
            format!("pcapng Decryption Secrets Block: {secrets_len} bytes of secrets do not fit the block"),
        ));
    };
    if secrets_type != DSB_TLS_KEY_LOG {
        trace!(secrets_type, "skipping decryption secrets of another type");
        return Ok(());
    }
    if state.tls_secrets.len() + secrets.len() + 1 > MAX_TLS_SECRETS_BYTES {
        state.tls_secrets_dropped += secrets.len() as u64;
        debug!(
            bytes = secrets.len(),
            "TLS secrets beyond the bound dropped"
        );
        return Ok(());
    }
    state.tls_secrets.extend_from_slice(secrets);
    state.tls_secrets.push(b'\n');
    Ok(())
}

fn start_section(
    block: &[u8],
    block_start: u64,
    state: &mut PcapNgState,
    context: ReadContext,
) -> Result<(), CaptureError> {
    let header = match parse_sectionheaderblock(block) {
        Ok((_, header)) => header,
        Err(error) => {
            return Err(context.malformed(
                block_start,
                describe_parse_error("pcapng section header block", error),
            ));
        }
    };
    if header.major_version != 1 {
        return Err(context.malformed(
            block_start,
            format!(
                "pcapng section version {}.{} is not supported (only 1.x)",
                header.major_version, header.minor_version
            ),
        ));
    }
    state.big_endian = header.big_endian();
    state.interfaces.clear();
    state.sections_seen += 1;
    debug!(
        section = state.sections_seen,
        byte_offset = block_start,
        big_endian = state.big_endian,
        "pcapng section starts"
    );
    Ok(())
}

fn add_interface(
    block: &[u8],
    block_start: u64,
    state: &mut PcapNgState,
    context: ReadContext,
) -> Result<(), CaptureError> {
    let parsed = if state.big_endian {
        parse_interfacedescriptionblock_be(block)
    } else {
        parse_interfacedescriptionblock_le(block)
    };
    let description = match parsed {
        Ok((_, description)) => description,
        Err(error) => {
            return Err(context.malformed(
                block_start,
                describe_parse_error("pcapng interface description block", error),
            ));
        }
    };
    let timestamp_units_per_second = timestamp_units_per_second(description.if_tsresol)
        .ok_or_else(|| {
            context.malformed(
                block_start,
                format!(
                    "interface has unusable timestamp resolution if_tsresol={:#04x}",
                    description.if_tsresol
                ),
            )
        })?;
    // if_tsoffset is read here rather than taken from pcap-parser, which always reads it
    // as little-endian.
    let timestamp_offset_seconds = description
        .options
        .iter()
        .find(|option| option.code == OptionCode::IfTsoffset)
        .and_then(|option| option.as_bytes().ok())
        .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
        .map(|bytes| {
            if state.big_endian {
                i64::from_be_bytes(bytes)
            } else {
                i64::from_le_bytes(bytes)
            }
        })
        .unwrap_or(0);
    let interface = PcapNgInterface {
        link_type: LinkType(description.linktype.0 as u16),
        snap_len: description.snaplen,
        timestamp_units_per_second,
        timestamp_offset_seconds,
    };
    debug!(
        interface_id = state.interfaces.len(),
        link_type = %interface.link_type,
        snap_len = interface.snap_len,
        timestamp_units_per_second,
        timestamp_offset_seconds,
        "pcapng interface described"
    );
    state.interfaces.push(interface);
    Ok(())
}

fn enhanced_packet_frame(
    block: &[u8],
    block_start: u64,
    state: &PcapNgState,
    context: ReadContext,
    spare_data: &mut Vec<u8>,
) -> Result<Frame, CaptureError> {
    let parsed = if state.big_endian {
        parse_enhancedpacketblock_be(block)
    } else {
        parse_enhancedpacketblock_le(block)
    };
    let packet = match parsed {
        Ok((_, packet)) => packet,
        Err(error) => {
            return Err(context.malformed(
                block_start,
                describe_parse_error("pcapng enhanced packet block", error),
            ));
        }
    };
    let interface = interface(state, packet.if_id, block_start, context)?;
    let data = packet.packet_data();
    let timestamp_ticks = (u64::from(packet.ts_high) << 32) | u64::from(packet.ts_low);
    Ok(Frame {
        index: context.frames_read,
        timestamp_ns: pcapng_timestamp_ns(timestamp_ticks, interface),
        link_type: interface.link_type,
        captured_len: data.len() as u32,
        original_len: packet.origlen,
        data: copy_into_spare(spare_data, data),
    })
}

fn simple_packet_frame(
    block: &[u8],
    block_start: u64,
    state: &PcapNgState,
    context: ReadContext,
    spare_data: &mut Vec<u8>,
) -> Result<Frame, CaptureError> {
    let parsed = if state.big_endian {
        parse_simplepacketblock_be(block)
    } else {
        parse_simplepacketblock_le(block)
    };
    let packet = match parsed {
        Ok((_, packet)) => packet,
        Err(error) => {
            return Err(context.malformed(
                block_start,
                describe_parse_error("pcapng simple packet block", error),
            ));
        }
    };
    // A simple packet block always belongs to the section's first interface.
    let interface = interface(state, 0, block_start, context)?;
    let mut data = packet.packet_data();
    if interface.snap_len != 0 && data.len() > interface.snap_len as usize {
        data = &data[..interface.snap_len as usize];
    }
    Ok(Frame {
        index: context.frames_read,
        timestamp_ns: 0,
        link_type: interface.link_type,
        captured_len: data.len() as u32,
        original_len: packet.origlen,
        data: copy_into_spare(spare_data, data),
    })
}

fn interface(
    state: &PcapNgState,
    interface_id: u32,
    block_start: u64,
    context: ReadContext,
) -> Result<&PcapNgInterface, CaptureError> {
    state.interfaces.get(interface_id as usize).ok_or_else(|| {
        context.malformed(
            block_start,
            format!(
                "packet refers to interface {interface_id}, but the section describes {} \
                 interfaces",
                state.interfaces.len()
            ),
        )
    })
}

/// Units per second from an `if_tsresol` value (pcapng spec: the high bit selects a
/// power of two, otherwise a power of ten; the default 6 means microseconds).
fn timestamp_units_per_second(if_tsresol: u8) -> Option<u64> {
    let exponent = u32::from(if_tsresol & 0x7f);
    if if_tsresol & 0x80 == 0 {
        10u64.checked_pow(exponent)
    } else {
        1u64.checked_shl(exponent)
    }
}

fn pcapng_timestamp_ns(ticks: u64, interface: &PcapNgInterface) -> u64 {
    let nanos = u128::from(ticks) * u128::from(NANOS_PER_SECOND)
        / u128::from(interface.timestamp_units_per_second);
    let offset_nanos =
        i128::from(interface.timestamp_offset_seconds) * i128::from(NANOS_PER_SECOND);
    let total = nanos as i128 + offset_nanos;
    total.clamp(0, i128::from(u64::MAX)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_resolution_follows_the_pcapng_spec() {
        assert_eq!(timestamp_units_per_second(6), Some(1_000_000));
        assert_eq!(timestamp_units_per_second(9), Some(1_000_000_000));
        assert_eq!(timestamp_units_per_second(0), Some(1));
        assert_eq!(timestamp_units_per_second(0x80 | 10), Some(1024));
        assert_eq!(timestamp_units_per_second(0x80 | 63), Some(1 << 63));
        assert_eq!(timestamp_units_per_second(0x80 | 64), None);
        assert_eq!(timestamp_units_per_second(20), None);
    }

    #[test]
    fn pcapng_timestamp_applies_resolution_and_offset() {
        let interface = |units, offset| PcapNgInterface {
            link_type: LinkType::ETHERNET,
            snap_len: 0,
            timestamp_units_per_second: units,
            timestamp_offset_seconds: offset,
        };
        assert_eq!(
            pcapng_timestamp_ns(1_500_000, &interface(1_000_000, 0)),
            1_500_000_000
        );
        assert_eq!(pcapng_timestamp_ns(3, &interface(2, 10)), 11_500_000_000);
        assert_eq!(
            pcapng_timestamp_ns(1, &interface(1, -5)),
            0,
            "clamped at the epoch"
        );
    }
}
