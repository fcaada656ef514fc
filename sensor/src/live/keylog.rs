//! Following a TLS key log file (`--keylog-file`) while it grows.
//!
//! Why: a client or server that writes its TLS secrets (SSLKEYLOGFILE)
//! appends a connection's handshake secrets as soon as it has them, before
//! it sends its Finished; reading what was appended before each batch of
//! events means the secrets are there when the session's record is built.
//! A file that is truncated or replaced (rotation) is read again from its
//! start; a line still being written waits for its newline.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use cipherlens_parsers::tls::keylog::KeyLog;

/// Bytes read per poll at most (the rest waits for the next one).
const READ_PER_POLL: u64 = 1 << 20;
/// An unterminated line longer than this is not a key log line: dropped.
const MAX_PARTIAL_LINE: usize = 1024;

pub struct KeyLogFollower {
    path: PathBuf,
    file: Option<File>,
    /// Device and inode of the open file.
    identity: (u64, u64),
    offset: u64,
    partial: Vec<u8>,
}

impl KeyLogFollower {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            file: None,
            identity: (0, 0),
            offset: 0,
            partial: Vec::new(),
        }
    }

    /// Adds what was appended since the last poll to `key_log`. A file
    /// that does not exist yet is not an error (the client creates it).
    pub fn poll(&mut self, key_log: &mut KeyLog) -> io::Result<()> {
        let metadata = match std::fs::metadata(&self.path) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(error),
        };
        let identity = (metadata.dev(), metadata.ino());
        if self.file.is_none() || identity != self.identity || metadata.len() < self.offset {
            self.file = Some(File::open(&self.path)?);
            self.identity = identity;
            self.offset = 0;
            self.partial.clear();
        }
        if metadata.len() == self.offset {
            return Ok(());
        }
        let Some(file) = &mut self.file else {
            return Ok(());
        };
        file.seek(SeekFrom::Start(self.offset))?;
        let want = (metadata.len() - self.offset).min(READ_PER_POLL);
        let mut appended = Vec::with_capacity(want as usize);
        file.take(want).read_to_end(&mut appended)?;
        self.offset += appended.len() as u64;
        let complete = appended.iter().rposition(|byte| *byte == b'\n');
        match complete {
            Some(end) => {
                self.partial.extend_from_slice(&appended[..=end]);
                key_log.add_text(&self.partial);
                self.partial.clear();
                self.partial.extend_from_slice(&appended[end + 1..]);
            }
            None => self.partial.extend_from_slice(&appended),
        }
        if self.partial.len() > MAX_PARTIAL_LINE {
            // Counted as one malformed line.
            key_log.add_line(&self.partial);
            self.partial.clear();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_lines_are_taken_once_and_a_replaced_file_is_read_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys.log");
        let mut follower = KeyLogFollower::new(path.clone());
        let mut log = KeyLog::default();
        follower.poll(&mut log).expect("missing file is fine");
        let line = |byte: u8| {
            format!(
                "SERVER_HANDSHAKE_TRAFFIC_SECRET {} {}\n",
                hex::encode([byte; 32]),
                hex::encode([byte; 32])
            )
        };
        std::fs::write(&path, format!("{}{}", line(1), &line(2)[..20])).unwrap();
        follower.poll(&mut log).unwrap();
        assert_eq!(log.len(), 1);
        // The rest of the second line arrives.
        let mut whole = line(1);
        whole.push_str(&line(2));
        std::fs::write(&path, &whole).unwrap();
        follower.poll(&mut log).unwrap();
        assert_eq!(log.len(), 2);
        follower.poll(&mut log).unwrap();
        assert_eq!(log.counts().kept, 2);
        // Rotated: a new file in its place is read from its start.
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, line(3)).unwrap();
        follower.poll(&mut log).unwrap();
        assert!(log.get(&[3; 32]).is_some());
    }
}
