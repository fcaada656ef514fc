//! Capture file reader: classic pcap and pcapng, one frame at a time.
//!
//! Why it exists: `cipherlens replay` feeds recorded traffic through the same pipeline as
//! the live kernel capture, so it needs every frame of a file with its link type and a
//! nanosecond timestamp, read with bounded memory, and an error that says exactly how far
//! the file could be read when it is damaged or cut short.
//!
//! How: this module finds record boundaries itself (a pcap record header or a pcapng block
//! length), buffers exactly one record, and hands that record to `pcap-parser`'s block
//! parsers. Finding the boundary first is what lets it tell a file cut short (`Truncated`,
//! after every complete frame before the cut was returned) from a malformed record
//! (`Malformed`), and refuse a record claiming more than [`MAX_RECORD_BYTES`] before
//! allocating anything for it.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use pcap_parser::pcapng::{
    EPB_MAGIC, IDB_MAGIC, SHB_MAGIC, SPB_MAGIC, parse_enhancedpacketblock_be,
    parse_enhancedpacketblock_le, parse_interfacedescriptionblock_be,
    parse_interfacedescriptionblock_le, parse_sectionheaderblock, parse_simplepacketblock_be,
    parse_simplepacketblock_le,
};
use pcap_parser::traits::PcapNGPacketBlock;
use pcap_parser::{
    OptionCode, PcapError, parse_pcap_frame, parse_pcap_frame_be, parse_pcap_header,
};
use tracing::{debug, trace};

use crate::link_type::LinkType;

/// The largest record (a pcap record header plus its data, or a whole pcapng block) the
/// reader accepts. A record claiming more is refused with [`CaptureError::RecordTooLarge`]
/// before any memory is allocated for it.
pub const MAX_RECORD_BYTES: u64 = 256 * 1024;

/// How much is asked of the underlying reader at a time.
const READ_CHUNK_BYTES: usize = 64 * 1024;

const PCAP_FILE_HEADER_LEN: usize = 24;
const PCAP_RECORD_HEADER_LEN: usize = 16;
const PCAPNG_BLOCK_MIN_LEN: u32 = 12;
/// The byte-order magic of a pcapng Section Header Block, as written by a big-endian host.
const PCAPNG_BOM_BIG_ENDIAN: [u8; 4] = [0x1a, 0x2b, 0x3c, 0x4d];
/// The same magic written by a little-endian host.
const PCAPNG_BOM_LITTLE_ENDIAN: [u8; 4] = [0x4d, 0x3c, 0x2b, 0x1a];

const NANOS_PER_SECOND: u64 = 1_000_000_000;
/// pcapng Decryption Secrets Block, and its TLS key log secrets type ("TLSK").
const DSB_MAGIC: u32 = 0x0000_000A;
const DSB_TLS_KEY_LOG: u32 = 0x544c_534b;
/// TLS key log bytes kept from Decryption Secrets Blocks until taken.
const MAX_TLS_SECRETS_BYTES: usize = 16 << 20;

/// One captured frame, with its link-layer header still in `data`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Position of the frame in the file, counting from 0 (tshark's frame number is
    /// `index + 1`). pcapng blocks that carry no packet are not counted.
    pub index: u64,
    /// Capture time in nanoseconds since the Unix epoch (UTC). pcapng Simple Packet Blocks
    /// carry no timestamp and get 0; a pcapng time before the epoch is clamped to 0.
    pub timestamp_ns: u64,
    /// How to decode `data`.
    pub link_type: LinkType,
    /// Number of bytes captured, equal to `data.len()`.
    pub captured_len: u32,
    /// Length of the packet on the wire; larger than `captured_len` when the capture
    /// was made with a snap length.
    pub original_len: u32,
    /// The captured bytes.
    pub data: Vec<u8>,
}

/// Which container format a [`CaptureReader`] is reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureFormat {
    /// Classic libpcap format: one link type for the whole file.
    Pcap {
        big_endian: bool,
        nanosecond_timestamps: bool,
        link_type: LinkType,
    },
    /// pcapng: link type and timestamp resolution per interface, possibly several sections.
    PcapNg,
}

/// Why a capture file could not be read (further).
///
/// Every variant raised after the file header says how many frames were returned before
/// it (`frames_read`) and where in the file the offending record starts (`byte_offset`).
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot open capture file {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("read error after {frames_read} frames at byte offset {byte_offset}: {source}")]
    Io {
        frames_read: u64,
        byte_offset: u64,
        #[source]
        source: io::Error,
    },
    #[error("not a pcap or pcapng capture file: {reason}")]
    NotACaptureFile { reason: String },
    #[error(
        "capture file cut short: {frames_read} complete frames were read, \
         the record starting at byte offset {byte_offset} is incomplete"
    )]
    Truncated { frames_read: u64, byte_offset: u64 },
    #[error(
        "record at byte offset {byte_offset} (after {frames_read} frames) claims \
         {claimed_len} bytes, more than the limit of {limit} bytes"
    )]
    RecordTooLarge {
        frames_read: u64,
        byte_offset: u64,
        claimed_len: u64,
        limit: u64,
    },
    #[error("malformed record at byte offset {byte_offset} (after {frames_read} frames): {reason}")]
    Malformed {
        frames_read: u64,
        byte_offset: u64,
        reason: String,
    },
}

/// Reads frames from a pcap or pcapng file.
///
/// Memory use is bounded by one record ([`MAX_RECORD_BYTES`]) plus one read chunk.
/// After an error, or at the end of the input, [`CaptureReader::next_frame`] returns
/// `Ok(None)`.
pub struct CaptureReader<R = File> {
    input: BufferedInput<R>,
    format: FormatState,
    frames_read: u64,
    total_bytes: Option<u64>,
    finished: bool,
    /// A buffer handed back with [`CaptureReader::recycle`], reused for the
    /// next frame's bytes (one allocation per frame was a tenth of replay).
    spare_data: Vec<u8>,
}

impl CaptureReader<File> {
    /// Opens a capture file and reads its file header (pcap) or first section header (pcapng).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CaptureError> {
        let path = path.as_ref();
        let open_error = |source| CaptureError::Open {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(open_error)?;
        let total_bytes = file.metadata().map_err(open_error)?.len();
        let mut reader = Self::new(file)?;
        reader.total_bytes = Some(total_bytes);
        debug!(path = %path.display(), total_bytes, "opened capture file");
        Ok(reader)
    }
}

impl<R: Read> CaptureReader<R> {
    /// Starts reading a capture from any byte source; reads the file header right away so
    /// that a file of the wrong kind is reported here.
    pub fn new(source: R) -> Result<Self, CaptureError> {
        let mut input = BufferedInput::new(source);
        let format = read_file_start(&mut input)?;
        debug!(format = ?format.public(), "recognised capture format");
        Ok(CaptureReader {
            input,
            format,
            frames_read: 0,
            total_bytes: None,
            finished: false,
            spare_data: Vec::new(),
        })
    }

    /// The container format, and for classic pcap the file's link type.
    pub fn format(&self) -> CaptureFormat {
        self.format.public()
    }

    /// Bytes of the file fully processed so far: the offset just past the last record read.
    pub fn bytes_read(&self) -> u64 {
        self.input.consumed_offset
    }

    /// Size of the file when it was opened with [`CaptureReader::open`]; `None` for a
    /// reader given to [`CaptureReader::new`].
    pub fn total_bytes(&self) -> Option<u64> {
        self.total_bytes
    }

    /// Hands a frame's buffer back for the next frame to reuse: a reader
    /// that recycles each frame after use reads without allocating.
    pub fn recycle(&mut self, frame: Frame) {
        if frame.data.capacity() > self.spare_data.capacity() {
            self.spare_data = frame.data;
        }
    }

    /// TLS key log text the file's Decryption Secrets Blocks carried since
    /// the last call (pcapng; they come before the packets they open).
    pub fn take_tls_secrets(&mut self) -> Option<Vec<u8>> {
        match &mut self.format {
            FormatState::PcapNg(pcapng) if !pcapng.tls_secrets.is_empty() => {
                Some(std::mem::take(&mut pcapng.tls_secrets))
            }
            _ => None,
        }
    }

    /// TLS secrets bytes dropped for the bound on what is kept.
    pub fn tls_secrets_dropped(&self) -> u64 {
        match &self.format {
            FormatState::PcapNg(pcapng) => pcapng.tls_secrets_dropped,
            FormatState::Pcap(_) => 0,
        }
    }

    /// Number of frames returned so far.
    pub fn frames_read(&self) -> u64 {
        self.frames_read
    }

    /// The next frame, `Ok(None)` at the end of the file, or why the file cannot be read
    /// further. Every complete frame before a damaged record is returned before its error.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
        if self.finished {
            return Ok(None);
        }
        let context = ReadContext {
            frames_read: self.frames_read,
        };
        let result = match &mut self.format {
            FormatState::Pcap(pcap) => {
                read_pcap_record(&mut self.input, pcap, context, &mut self.spare_data)
            }
            FormatState::PcapNg(pcapng) => {
                read_pcapng_frame(&mut self.input, pcapng, context, &mut self.spare_data)
            }
        };
        match &result {
            Ok(Some(frame)) => {
                self.frames_read += 1;
                trace!(
                    index = frame.index,
                    captured_len = frame.captured_len,
                    original_len = frame.original_len,
                    link_type = frame.link_type.0,
                    timestamp_ns = frame.timestamp_ns,
                    "read frame"
                );
            }
            Ok(None) => {
                self.finished = true;
                debug!(
                    frames_read = self.frames_read,
                    bytes_read = self.bytes_read(),
                    "end of capture"
                );
            }
            Err(error) => {
                self.finished = true;
                debug!(frames_read = self.frames_read, %error, "capture reading stopped");
            }
        }
        result
    }
}

/// `bytes` in the spare buffer (taken, so the next frame allocates only if
/// the caller does not hand this one back).
fn copy_into_spare(spare_data: &mut Vec<u8>, bytes: &[u8]) -> Vec<u8> {
    let mut data = std::mem::take(spare_data);
    data.clear();
    data.extend_from_slice(bytes);
    data
}

impl<R: Read> Iterator for CaptureReader<R> {
    type Item = Result<Frame, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_frame().transpose()
    }
}

/// Per-format reading state.
enum FormatState {
    Pcap(PcapState),
    PcapNg(PcapNgState),
}

impl FormatState {
    fn public(&self) -> CaptureFormat {
        match self {
            FormatState::Pcap(pcap) => CaptureFormat::Pcap {
                big_endian: pcap.big_endian,
                nanosecond_timestamps: pcap.nanosecond_timestamps,
                link_type: pcap.link_type,
            },
            FormatState::PcapNg(_) => CaptureFormat::PcapNg,
        }
    }
}

struct PcapState {
    big_endian: bool,
    nanosecond_timestamps: bool,
    link_type: LinkType,
}

struct PcapNgState {
    /// Byte order of the current section.
    big_endian: bool,
    /// Interfaces described so far in the current section, indexed by interface id.
    interfaces: Vec<PcapNgInterface>,
    sections_seen: u64,
    /// TLS key log text from Decryption Secrets Blocks, not yet taken.
    tls_secrets: Vec<u8>,
    /// Secrets bytes beyond the bound, dropped.
    tls_secrets_dropped: u64,
}

struct PcapNgInterface {
    link_type: LinkType,
    snap_len: u32,
    /// Timestamp units per second (`if_tsresol`).
    timestamp_units_per_second: u64,
    /// Seconds added to every timestamp (`if_tsoffset`).
    timestamp_offset_seconds: i64,
}

/// What an error needs to say how far reading got.
#[derive(Clone, Copy)]
struct ReadContext {
    frames_read: u64,
}

impl ReadContext {
    fn truncated(self, byte_offset: u64) -> CaptureError {
        CaptureError::Truncated {
            frames_read: self.frames_read,
            byte_offset,
        }
    }

    fn malformed(self, byte_offset: u64, reason: impl Into<String>) -> CaptureError {
        CaptureError::Malformed {
            frames_read: self.frames_read,
            byte_offset,
            reason: reason.into(),
        }
    }

    fn io(self, byte_offset: u64, source: io::Error) -> CaptureError {
        CaptureError::Io {
            frames_read: self.frames_read,
            byte_offset,
            source,
        }
    }

    fn too_large(self, byte_offset: u64, claimed_len: u64) -> CaptureError {
        CaptureError::RecordTooLarge {
            frames_read: self.frames_read,
            byte_offset,
            claimed_len,
            limit: MAX_RECORD_BYTES,
        }
    }

    /// Makes sure the `record_len` bytes of the record at the read position are buffered.
    fn require<R: Read>(
        self,
        input: &mut BufferedInput<R>,
        record_len: usize,
    ) -> Result<(), CaptureError> {
        let record_start = input.consumed_offset;
        match input.fill_to(record_len) {
            Ok(true) => Ok(()),
            Ok(false) => Err(self.truncated(record_start)),
            Err(source) => Err(self.io(record_start + input.available().len() as u64, source)),
        }
    }

    /// Like [`ReadContext::require`], but a clean end of input before the record is `Ok(false)`.
    fn require_unless_end<R: Read>(
        self,
        input: &mut BufferedInput<R>,
        record_len: usize,
    ) -> Result<bool, CaptureError> {
        let record_start = input.consumed_offset;
        match input.fill_to(record_len) {
            Ok(true) => Ok(true),
            Ok(false) if input.available().is_empty() => Ok(false),
            Ok(false) => Err(self.truncated(record_start)),
            Err(source) => Err(self.io(record_start + input.available().len() as u64, source)),
        }
    }
}

/// Identifies the format from the magic number and reads the pcap file header or the
/// first pcapng section header.
fn read_file_start<R: Read>(input: &mut BufferedInput<R>) -> Result<FormatState, CaptureError> {
    let context = ReadContext { frames_read: 0 };
    let complete = input.fill_to(4).map_err(|source| context.io(0, source))?;
    let leading = input.available();
    if !complete {
        let reason = if leading.is_empty() {
            "the file is empty".to_string()
        } else {
            format!("the file is only {} bytes long", leading.len())
        };
        return Err(CaptureError::NotACaptureFile { reason });
    }
    let magic = [leading[0], leading[1], leading[2], leading[3]];
    match u32::from_le_bytes(magic) {
        SHB_MAGIC => {
            let mut state = PcapNgState {
                big_endian: false,
                interfaces: Vec::new(),
                sections_seen: 0,
                tls_secrets: Vec::new(),
                tls_secrets_dropped: 0,
            };
            // The first block is a section header; reading it now reports a bad one early.
            let first = read_pcapng_block(input, &mut state, context, &mut Vec::new())?;
            debug_assert!(first.is_none(), "a section header block carries no frame");
            Ok(FormatState::PcapNg(state))
        }
        0xa1b2_c3d4 | 0xa1b2_3c4d | 0xd4c3_b2a1 | 0x4d3c_b2a1 => {
            context.require(input, PCAP_FILE_HEADER_LEN)?;
            let header = match parse_pcap_header(&input.available()[..PCAP_FILE_HEADER_LEN]) {
                Ok((_, header)) => header,
                Err(error) => {
                    return Err(
                        context.malformed(0, describe_parse_error("pcap file header", error))
                    );
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
            Ok(FormatState::Pcap(PcapState {
                big_endian: header.is_bigendian(),
                nanosecond_timestamps: header.is_nanosecond_precision(),
                link_type,
            }))
        }
        0xa1b2_cd34 | 0x34cd_b2a1 => Err(CaptureError::NotACaptureFile {
            reason: "the \"modified\" (Kuznetsov) pcap format is not supported".to_string(),
        }),
        _ => Err(CaptureError::NotACaptureFile {
            reason: format!(
                "the file starts with {:02x} {:02x} {:02x} {:02x}, which is neither a pcap \
                 nor a pcapng magic number",
                magic[0], magic[1], magic[2], magic[3]
            ),
        }),
    }
}

/// Reads one classic pcap record.
fn read_pcap_record<R: Read>(
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

/// Reads pcapng blocks until one carries a packet.
fn read_pcapng_frame<R: Read>(
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
/// user ([`CaptureReader::take_tls_secrets`]); other types are skipped.
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

fn read_u32(bytes: &[u8], big_endian: bool) -> u32 {
    let array = [bytes[0], bytes[1], bytes[2], bytes[3]];
    if big_endian {
        u32::from_be_bytes(array)
    } else {
        u32::from_le_bytes(array)
    }
}

fn describe_parse_error(what: &str, error: pcap_parser::nom::Err<PcapError<&[u8]>>) -> String {
    match error {
        pcap_parser::nom::Err::Incomplete(_) => {
            format!("{what} is shorter than its own fields say")
        }
        pcap_parser::nom::Err::Error(inner) | pcap_parser::nom::Err::Failure(inner) => {
            match inner {
                PcapError::NomError(_, kind) => {
                    format!("{what} could not be parsed ({})", kind.description())
                }
                other => format!("{what} could not be parsed ({other})"),
            }
        }
    }
}

/// A read buffer over the source that holds at most one record plus one read chunk.
struct BufferedInput<R> {
    source: R,
    /// Allocated (and zeroed) once per size; `start..end` holds the unconsumed bytes.
    buffer: Vec<u8>,
    start: usize,
    end: usize,
    /// File offset of `buffer[start]`.
    consumed_offset: u64,
    at_end: bool,
}

impl<R: Read> BufferedInput<R> {
    fn new(source: R) -> Self {
        BufferedInput {
            source,
            buffer: Vec::new(),
            start: 0,
            end: 0,
            consumed_offset: 0,
            at_end: false,
        }
    }

    fn available(&self) -> &[u8] {
        &self.buffer[self.start..self.end]
    }

    /// Reads until at least `wanted` unconsumed bytes are buffered; `Ok(false)` when the
    /// source ends first.
    fn fill_to(&mut self, wanted: usize) -> io::Result<bool> {
        while self.end - self.start < wanted {
            if self.at_end {
                return Ok(false);
            }
            if self.buffer.len() - self.start < wanted || self.end == self.buffer.len() {
                // Move the unconsumed bytes to the front, then grow if still too small.
                self.buffer.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
                let needed = wanted.max(self.end + READ_CHUNK_BYTES);
                if self.buffer.len() < needed {
                    self.buffer.resize(needed, 0);
                }
            }
            match self.source.read(&mut self.buffer[self.end..]) {
                Ok(0) => self.at_end = true,
                Ok(received) => self.end += received,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        Ok(true)
    }

    fn consume(&mut self, len: usize) {
        debug_assert!(len <= self.end - self.start);
        self.start += len;
        self.consumed_offset += len as u64;
    }
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
