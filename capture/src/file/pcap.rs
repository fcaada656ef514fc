//! Classic pcap: a file header, then records of a 16-byte header and the frame.

use std::io::Read;

use pcap_parser::{parse_pcap_frame, parse_pcap_frame_be, parse_pcap_header};
use tracing::debug;

use super::input::{BufferedInput, ReadContext};
use super::{
    CaptureError, Frame, MAX_RECORD_BYTES, NANOS_PER_SECOND, copy_into_spare, describe_parse_error,
    read_u32,
};
use crate::link_type::LinkType;

const PCAP_FILE_HEADER_LEN: usize = 24;
const PCAP_RECORD_HEADER_LEN: usize = 16;

/// What the file header says about every record.
pub(super) struct PcapState {
    pub(super) big_endian: bool,
    pub(super) nanosecond_timestamps: bool,
    pub(super) link_type: LinkType,
}

/// Reads the file header (its magic number already identified).
pub(super) fn read_pcap_header<R: Read>(
    input: &mut BufferedInput<R>,
    context: ReadContext,
) -> Result<PcapState, CaptureError> {
    context.require(input, PCAP_FILE_HEADER_LEN)?;
    let header = match parse_pcap_header(&input.available()[..PCAP_FILE_HEADER_LEN]) {
        Ok((_, header)) => header,
        Err(error) => {
            return Err(context.malformed(0, describe_parse_error("pcap file header", error)));
        }
    };
    input.consume(PCAP_FILE_HEADER_LEN);
    // The low 16 bits are the link type; the upper bits may carry FCS information.
    let link_type = LinkType((header.network.0 as u32 & 0xffff) as u16);
    debug!(
        version_major = header.version_major,
        version_minor = header.version_minor,
        snap_len = header.snaplen,
        %link_type,
        "read pcap file header"
    );
    Ok(PcapState {
        big_endian: header.is_bigendian(),
        nanosecond_timestamps: header.is_nanosecond_precision(),
        link_type,
    })
}

/// Reads one classic pcap record.
pub(super) fn read_pcap_record<R: Read>(
    input: &mut BufferedInput<R>,
    pcap: &PcapState,
    context: ReadContext,
    spare_data: &mut Vec<u8>,
) -> Result<Option<Frame>, CaptureError> {
    let record_start = input.consumed_offset;
    if !context.require_unless_end(input, PCAP_RECORD_HEADER_LEN)? {
        return Ok(None);
    }
    let captured_len_field = read_u32(&input.available()[8..12], pcap.big_endian);
    let record_len = PCAP_RECORD_HEADER_LEN as u64 + u64::from(captured_len_field);
    if record_len > MAX_RECORD_BYTES {
        return Err(context.too_large(record_start, record_len));
    }
    let record_len = record_len as usize;
    context.require(input, record_len)?;
    let record = &input.available()[..record_len];
    let parsed = if pcap.big_endian {
        parse_pcap_frame_be(record)
    } else {
        parse_pcap_frame(record)
    };
    let block = match parsed {
        Ok((_, block)) => block,
        Err(error) => {
            return Err(context.malformed(record_start, describe_parse_error("pcap record", error)));
        }
    };
    let fraction_nanos = if pcap.nanosecond_timestamps {
        u64::from(block.ts_usec)
    } else {
        u64::from(block.ts_usec) * 1_000
    };
    let frame = Frame {
        index: context.frames_read,
        timestamp_ns: u64::from(block.ts_sec) * NANOS_PER_SECOND + fraction_nanos,
        link_type: pcap.link_type,
        captured_len: block.caplen,
        original_len: block.origlen,
        data: copy_into_spare(spare_data, block.data),
    };
    input.consume(record_len);
    Ok(Some(frame))
}
