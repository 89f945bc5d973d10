//! The framing of streamed remote-read responses (`STREAMED_XOR_CHUNKS`): each message is preceded
//! by its length as an unsigned varint and the big-endian CRC32C (Castagnoli) of its bytes.
//!
//! ```
//! use ferroprom::remote::frame::{FrameReader, write_frame};
//!
//! let mut stream = Vec::new();
//! write_frame(&mut stream, b"first");
//! write_frame(&mut stream, b"second");
//! let mut frames = FrameReader::new(&stream[..], 1024);
//! assert_eq!(frames.next_frame()?.as_deref(), Some(&b"first"[..]));
//! assert_eq!(frames.next_frame()?.as_deref(), Some(&b"second"[..]));
//! assert_eq!(frames.next_frame()?, None);
//! # Ok::<(), ferroprom::remote::frame::FrameError>(())
//! ```

use std::io::Read;

const CASTAGNOLI: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// Reading the stream failed.
    #[error("reading frame {frame}: {source}")]
    Io {
        /// The 0-based frame number.
        frame: usize,
        /// The failure.
        source: std::io::Error,
    },
    /// The stream ended inside a frame.
    #[error("frame {frame}: stream ends inside the frame")]
    Truncated {
        /// The 0-based frame number.
        frame: usize,
    },
    /// The length prefix is not a valid varint.
    #[error("frame {frame}: invalid length prefix")]
    BadLength {
        /// The 0-based frame number.
        frame: usize,
    },
    /// A frame is larger than the limit.
    #[error("frame {frame}: {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The 0-based frame number.
        frame: usize,
        /// Its declared size.
        size: u64,
        /// The limit.
        limit: usize,
    },
    /// The checksum does not match the data.
    #[error("frame {frame}: CRC32C mismatch (header {expected:08x}, data {actual:08x})")]
    Checksum {
        /// The 0-based frame number.
        frame: usize,
        /// The checksum in the frame header.
        expected: u32,
        /// The checksum of the data.
        actual: u32,
    },
}

/// Reads length- and checksum-prefixed frames from a byte stream.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    limit: usize,
    frame: usize,
}

impl<R: Read> FrameReader<R> {
    /// A reader rejecting frames larger than `limit` bytes.
    pub fn new(inner: R, limit: usize) -> FrameReader<R> {
        FrameReader { inner, limit, frame: 0 }
    }

    /// The next frame's data, or `None` at a clean end of the stream.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let frame = self.frame;
        let Some(size) = self.length()? else { return Ok(None) };
        if size > self.limit as u64 {
            return Err(FrameError::TooLarge { frame, size, limit: self.limit });
        }
        let mut crc = [0u8; 4];
        self.fill(&mut crc)?;
        let mut data = vec![0u8; size as usize];
        self.fill(&mut data)?;
        let expected = u32::from_be_bytes(crc);
        let actual = CASTAGNOLI.checksum(&data);
        if expected != actual {
            return Err(FrameError::Checksum { frame, expected, actual });
        }
        self.frame += 1;
        Ok(Some(data))
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<(), FrameError> {
        let frame = self.frame;
        self.inner.read_exact(buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => FrameError::Truncated { frame },
            _ => FrameError::Io { frame, source: e },
        })
    }

    /// The varint length prefix; `None` when the stream ends before its first byte.
    fn length(&mut self) -> Result<Option<u64>, FrameError> {
        let frame = self.frame;
        let mut x = 0u64;
        for (i, shift) in (0..64).step_by(7).enumerate() {
            let mut b = [0u8; 1];
            let n = loop {
                match self.inner.read(&mut b) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(FrameError::Io { frame, source: e }),
                }
            };
            if n == 0 {
                return if i == 0 { Ok(None) } else { Err(FrameError::Truncated { frame }) };
            }
            x |= u64::from(b[0] & 0x7f) << shift;
            if b[0] < 0x80 {
                return Ok(Some(x));
            }
        }
        Err(FrameError::BadLength { frame })
    }
}

/// Appends one frame holding `data` to `out`.
pub fn write_frame(out: &mut Vec<u8>, data: &[u8]) {
    let mut n = data.len() as u64;
    while n >= 0x80 {
        out.push(n as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(&CASTAGNOLI.checksum(data).to_be_bytes());
    out.extend_from_slice(data);
}
