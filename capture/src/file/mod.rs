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
//!
//! One module per part: `input` buffers the source and says where reading stopped,
//! `pcap` and `pcapng` read their formats' records; this module identifies the format
//! and hands out the frames.

mod input;
mod pcap;
mod pcapng;

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use pcap_parser::PcapError;
use pcap_parser::pcapng::SHB_MAGIC;
use tracing::{debug, trace};

use self::input::{BufferedInput, ReadContext};
use self::pcap::{PcapState, read_pcap_header, read_pcap_record};
use self::pcapng::{PcapNgState, read_first_section, read_pcapng_frame};
use crate::link_type::LinkType;

/// The largest record (a pcap record header plus its data, or a whole pcapng block) the
/// reader accepts. A record claiming more is refused with [`CaptureError::RecordTooLarge`]
/// before any memory is allocated for it.
pub const MAX_RECORD_BYTES: u64 = 256 * 1024;

const NANOS_PER_SECOND: u64 = 1_000_000_000;

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
        SHB_MAGIC => Ok(FormatState::PcapNg(read_first_section(input, context)?)),
        0xa1b2_c3d4 | 0xa1b2_3c4d | 0xd4c3_b2a1 | 0x4d3c_b2a1 => {
            Ok(FormatState::Pcap(read_pcap_header(input, context)?))
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
