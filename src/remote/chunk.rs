//! TSDB chunk encodings as remote read streams them: the Gorilla-style `XOR` float chunk, decoded
//! into sample columns, and an encoder for it (used by tests, benchmarks and fake servers).
//!
//! An `XOR` chunk is a 2-byte big-endian sample count followed by a bit stream (most significant
//! bit first): the first sample as a signed varint timestamp and the 64 raw bits of its value, the
//! second timestamp as an unsigned varint delta, every later timestamp as a delta-of-delta in one
//! of five variable-width classes, and each value after the first as the XOR with the previous
//! value, written with a leading-zero count and significant-bit width that later values may reuse.
//! Other encodings (native histogram chunks, the start-timestamp variants) are not decoded here:
//! [`ChunkError::Unsupported`] names them.
//!
//! ```
//! use ferroprom::remote::chunk::{XorEncoder, decode_xor};
//!
//! let mut enc = XorEncoder::new();
//! for (t, v) in [(1_000, 1.0), (16_000, 2.5), (31_000, 2.5)] {
//!     enc.append(t, v)?;
//! }
//! let (mut ts, mut vs) = (Vec::new(), Vec::new());
//! decode_xor(&enc.finish(), &mut ts, &mut vs)?;
//! assert_eq!(ts, [1_000, 16_000, 31_000]);
//! assert_eq!(vs, [1.0, 2.5, 2.5]);
//! # Ok::<(), ferroprom::remote::chunk::ChunkError>(())
//! ```

/// Why a chunk could not be decoded or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// The chunk ended (or held an impossible bit width) before its declared samples were read.
    #[error("corrupt XOR chunk: cannot read sample {} of {total}", read + 1)]
    Truncated {
        /// Samples decoded before the data ended.
        read: usize,
        /// Samples the header declares.
        total: usize,
    },
    /// The chunk is shorter than its 2-byte header.
    #[error("corrupt XOR chunk: {0} bytes, shorter than the 2-byte header")]
    NoHeader(usize),
    /// The chunk uses an encoding this decoder does not handle.
    #[error("unsupported chunk encoding {0}")]
    Unsupported(String),
    /// An encoder holds the most samples a chunk header can count.
    #[error("XOR chunk full: at most 65535 samples")]
    Full,
}

/// Reads bits most significant first from a byte slice, through a 64-bit buffer.
struct BitReader<'a> {
    data: &'a [u8],
    next: usize,
    buf: u64,
    valid: u32,
}

impl<'a> BitReader<'a> {
    fn new(data: &'a [u8]) -> BitReader<'a> {
        BitReader { data, next: 0, buf: 0, valid: 0 }
    }

    #[inline]
    fn refill(&mut self) {
        // Whole bytes are shifted in while they fit; bits above `valid` are ignored by readers.
        if self.valid <= 56 && self.next + 8 <= self.data.len() {
            let take = ((64 - self.valid) / 8) as usize;
            for &b in &self.data[self.next..self.next + take] {
                self.buf = (self.buf << 8) | u64::from(b);
            }
            self.next += take;
            self.valid += 8 * take as u32;
            return;
        }
        while self.valid <= 56 && self.next < self.data.len() {
            self.buf = (self.buf << 8) | u64::from(self.data[self.next]);
            self.next += 1;
            self.valid += 8;
        }
    }

    /// Reads `n` bits (at most 32).
    #[inline]
    fn bits32(&mut self, n: u32) -> Option<u64> {
        if self.valid < n {
            self.refill();
            if self.valid < n {
                return None;
            }
        }
        self.valid -= n;
        Some((self.buf >> self.valid) & ((1u64 << n) - 1))
    }

    /// Reads `n` bits (at most 64).
    #[inline]
    fn bits(&mut self, n: u32) -> Option<u64> {
        if n <= 32 {
            return self.bits32(n);
        }
        let hi = self.bits32(n - 32)?;
        let lo = self.bits32(32)?;
        Some((hi << 32) | lo)
    }

    #[inline]
    fn bit(&mut self) -> Option<bool> {
        self.bits32(1).map(|b| b == 1)
    }

    fn uvarint(&mut self) -> Option<u64> {
        let mut x = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.bits32(8)?;
            if shift == 63 && b > 1 {
                return None;
            }
            x |= (b & 0x7f) << shift;
            if b < 0x80 {
                return Some(x);
            }
        }
        None
    }

    fn varint(&mut self) -> Option<i64> {
        let u = self.uvarint()?;
        Some(((u >> 1) as i64) ^ -((u & 1) as i64))
    }
}

/// The leading and trailing zero counts of the last XOR written or read, reused by the next one.
#[derive(Clone, Copy)]
struct XorWidth {
    leading: u32,
    trailing: u32,
}

/// Decodes an `XOR` chunk, appending its samples to `t` and `f` (values keep their exact bits,
/// so staleness markers survive). Returns the number of samples decoded.
pub fn decode_xor(data: &[u8], t: &mut Vec<i64>, f: &mut Vec<f64>) -> Result<usize, ChunkError> {
    let [hi, lo, rest @ ..] = data else { return Err(ChunkError::NoHeader(data.len())) };
    let total = usize::from(u16::from_be_bytes([*hi, *lo]));
    t.reserve(total);
    f.reserve(total);
    let mut r = BitReader::new(rest);
    let mut read = 0;
    let truncated = |read| ChunkError::Truncated { read, total };
    if total == 0 {
        return Ok(0);
    }
    let mut ts = r.varint().ok_or(truncated(0))?;
    let mut bits = r.bits(64).ok_or(truncated(0))?;
    t.push(ts);
    f.push(f64::from_bits(bits));
    read += 1;
    if total == 1 {
        return Ok(1);
    }
    let mut delta = r.uvarint().ok_or(truncated(read))? as i64;
    let mut width: Option<XorWidth> = None;
    loop {
        ts = ts.wrapping_add(delta);
        bits = read_xor(&mut r, bits, &mut width).ok_or(truncated(read))?;
        t.push(ts);
        f.push(f64::from_bits(bits));
        read += 1;
        if read == total {
            return Ok(read);
        }
        let dod = read_dod(&mut r).ok_or(truncated(read))?;
        delta = delta.wrapping_add(dod);
    }
}

/// Reads a delta-of-delta: `0`, or a class prefix `10`/`110`/`1110`/`1111` followed by 14, 17,
/// 20 or 64 bits (two's complement within the width).
#[inline]
fn read_dod(r: &mut BitReader<'_>) -> Option<i64> {
    let mut class = 0;
    while class < 4 && r.bit()? {
        class += 1;
    }
    let width = match class {
        0 => return Some(0),
        1 => 14,
        2 => 17,
        3 => 20,
        _ => return Some(r.bits(64)? as i64),
    };
    let raw = r.bits32(width)?;
    // Values above half the range are negative (the writer's range is -(2^(w-1)-1)..=2^(w-1)).
    Some(if raw > 1 << (width - 1) { raw as i64 - (1i64 << width) } else { raw as i64 })
}

/// Reads one XOR-encoded value following `prev`'s bits.
#[inline]
fn read_xor(r: &mut BitReader<'_>, prev: u64, width: &mut Option<XorWidth>) -> Option<u64> {
    if !r.bit()? {
        return Some(prev);
    }
    let w = if r.bit()? {
        let leading = r.bits32(5)? as u32;
        let mut significant = r.bits32(6)? as u32;
        if significant == 0 {
            significant = 64;
        }
        let trailing = 64u32.checked_sub(leading + significant)?;
        let w = XorWidth { leading, trailing };
        *width = Some(w);
        w
    } else {
        (*width)?
    };
    let significant = 64 - w.leading - w.trailing;
    let xor = r.bits(significant)?;
    Some(prev ^ (xor << w.trailing))
}

/// Writes bits most significant first.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    /// Bits used in the last byte (0 = start a new byte).
    used: u32,
}

impl BitWriter {
    fn write(&mut self, value: u64, n: u32) {
        for i in (0..n).rev() {
            if self.used == 0 {
                self.bytes.push(0);
            }
            let bit = ((value >> i) & 1) as u8;
            if let Some(last) = self.bytes.last_mut() {
                *last |= bit << (7 - self.used);
            }
            self.used = (self.used + 1) % 8;
        }
    }

    fn uvarint(&mut self, mut x: u64) {
        while x >= 0x80 {
            self.write((x as u8 | 0x80).into(), 8);
            x >>= 7;
        }
        self.write(x, 8);
    }
}

/// Builds an `XOR` chunk sample by sample, bit-compatible with the TSDB's encoder.
#[derive(Default)]
pub struct XorEncoder {
    w: BitWriter,
    count: u16,
    t: i64,
    delta: i64,
    bits: u64,
    width: Option<XorWidth>,
}

impl std::fmt::Debug for XorEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XorEncoder").field("samples", &self.count).finish_non_exhaustive()
    }
}

impl XorEncoder {
    /// An empty chunk.
    pub fn new() -> XorEncoder {
        XorEncoder::default()
    }

    /// The number of samples appended.
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    /// Whether no sample was appended.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends a sample; timestamps should ascend (the format stores any signed deltas).
    pub fn append(&mut self, t: i64, v: f64) -> Result<(), ChunkError> {
        if self.count == u16::MAX {
            return Err(ChunkError::Full);
        }
        let bits = v.to_bits();
        match self.count {
            0 => {
                let zigzag = ((t << 1) ^ (t >> 63)) as u64;
                self.w.uvarint(zigzag);
                self.w.write(bits, 64);
            }
            1 => {
                let delta = t.wrapping_sub(self.t);
                self.w.uvarint(delta as u64);
                self.write_xor(bits);
                self.delta = delta;
            }
            _ => {
                let delta = t.wrapping_sub(self.t);
                let dod = delta.wrapping_sub(self.delta);
                let fits = |w: u32| -((1i64 << (w - 1)) - 1) <= dod && dod <= 1i64 << (w - 1);
                if dod == 0 {
                    self.w.write(0, 1);
                } else if fits(14) {
                    self.w.write(0b10, 2);
                    self.w.write(dod as u64 & ((1 << 14) - 1), 14);
                } else if fits(17) {
                    self.w.write(0b110, 3);
                    self.w.write(dod as u64 & ((1 << 17) - 1), 17);
                } else if fits(20) {
                    self.w.write(0b1110, 4);
                    self.w.write(dod as u64 & ((1 << 20) - 1), 20);
                } else {
                    self.w.write(0b1111, 4);
                    self.w.write(dod as u64, 64);
                }
                self.write_xor(bits);
                self.delta = delta;
            }
        }
        self.t = t;
        self.bits = bits;
        self.count += 1;
        Ok(())
    }

    fn write_xor(&mut self, bits: u64) {
        let xor = bits ^ self.bits;
        if xor == 0 {
            self.w.write(0, 1);
            return;
        }
        self.w.write(1, 1);
        // Five bits hold the leading-zero count, so it is capped at 31.
        let leading = xor.leading_zeros().min(31);
        let trailing = xor.trailing_zeros();
        if let Some(w) = self.width
            && leading >= w.leading
            && trailing >= w.trailing
        {
            self.w.write(0, 1);
            self.w.write(xor >> w.trailing, 64 - w.leading - w.trailing);
            return;
        }
        self.w.write(1, 1);
        self.w.write(u64::from(leading), 5);
        let significant = 64 - leading - trailing;
        // 64 significant bits do not fit in six bits; 0 stands for them.
        self.w.write(u64::from(significant % 64), 6);
        self.w.write(xor >> trailing, significant);
        self.width = Some(XorWidth { leading, trailing });
    }

    /// The encoded chunk: header and bit stream.
    pub fn finish(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + self.w.bytes.len());
        out.extend_from_slice(&self.count.to_be_bytes());
        out.extend_from_slice(&self.w.bytes);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn roundtrip(samples: &[(i64, f64)]) -> Vec<(i64, u64)> {
        let mut enc = XorEncoder::new();
        for &(t, v) in samples {
            enc.append(t, v).unwrap_or_default();
        }
        let (mut t, mut f) = (Vec::new(), Vec::new());
        let n = decode_xor(&enc.finish(), &mut t, &mut f).unwrap_or_default();
        assert_eq!(n, samples.len());
        t.into_iter().zip(f.into_iter().map(f64::to_bits)).collect()
    }

    proptest! {
        #[test]
        fn xor_roundtrip(start in -1_000_000_000_000i64..1_000_000_000_000,
                         steps in proptest::collection::vec((0i64..10_000_000, any::<u64>(), 0u8..4), 0..200)) {
            let mut t = start;
            let mut v = 0.0f64;
            let mut samples = Vec::new();
            for (dt, bits, kind) in steps {
                t += dt;
                v = match kind { 0 => v, 1 => f64::from_bits(bits), 2 => v + 1.0, _ => (bits % 1000) as f64 };
                samples.push((t, v));
            }
            let want: Vec<(i64, u64)> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
            prop_assert_eq!(roundtrip(&samples), want);
        }
    }

    #[test]
    fn truncated_chunks_are_errors() {
        let mut enc = XorEncoder::new();
        for i in 0..10 {
            enc.append(i * 15_000, i as f64 * 1.5).unwrap_or_default();
        }
        let data = enc.finish();
        for cut in 0..data.len() - 1 {
            let (mut t, mut f) = (Vec::new(), Vec::new());
            assert!(decode_xor(&data[..cut], &mut t, &mut f).is_err(), "cut at {cut}");
        }
    }
}
