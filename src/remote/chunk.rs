//! TSDB chunk encodings as remote read streams them: the Gorilla-style `XOR` float chunk, decoded
//! into sample columns, and an encoder for it (used by tests, benchmarks and fake servers).
//!
//! An `XOR` chunk is a 2-byte big-endian sample count followed by a bit stream (most significant
//! bit first): the first sample as a signed varint timestamp and the 64 raw bits of its value, the
//! second timestamp as an unsigned varint delta, every later timestamp as a delta-of-delta in one
//! of five variable-width classes, and each value after the first as the XOR with the previous
//! value, written with a leading-zero count and significant-bit width that later values may reuse.
//!
//! The native histogram chunks (`HISTOGRAM` with integer counts, `FLOAT_HISTOGRAM`) start with the
//! count, a byte whose top two bits are the chunk's counter-reset header, and the bucket layout
//! (zero threshold, schema, spans, custom bounds) shared by all samples. Integer counts and
//! timestamps are written as varbit delta-of-deltas, float counts and sums as XORs. The
//! start-timestamp variants are not decoded here: [`ChunkError::Unsupported`] names them.
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
    /// A histogram chunk holds something impossible (an unknown varbit prefix or schema).
    #[error("corrupt histogram chunk: {0}")]
    Corrupt(String),
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

/// Reads a varbit-encoded integer: a unary class prefix of up to 8 bits, then 0, 3, 6, 9, 12, 18,
/// 25, 56 or 64 value bits (two's complement within the width when `signed`).
fn read_varbit(r: &mut BitReader<'_>, signed: bool) -> Option<Result<i64, String>> {
    let mut class = 0;
    while class < 8 && r.bit()? {
        class += 1;
    }
    let width = match class {
        0 => return Some(Ok(0)),
        1 => 3,
        2 => 6,
        3 => 9,
        4 => 12,
        5 => 18,
        6 => 25,
        7 => 56,
        _ => return Some(Ok(r.bits(64)? as i64)),
    };
    let raw = r.bits(width)?;
    Some(Ok(if signed && raw > 1 << (width - 1) { raw as i64 - (1i64 << width) } else { raw as i64 }))
}

/// The bucket layout at the start of a histogram chunk.
struct Layout {
    schema: i32,
    zero_threshold: f64,
    positive: Vec<crate::model::BucketSpan>,
    negative: Vec<crate::model::BucketSpan>,
    custom_values: Vec<f64>,
}

fn read_layout(r: &mut BitReader<'_>) -> Option<Result<Layout, String>> {
    let zero_threshold = match r.bits32(8)? {
        0 => 0.0,
        255 => f64::from_bits(r.bits(64)?),
        b => 0.5 * 2f64.powi(b as i32 - 243),
    };
    let schema = match read_varbit(r, true)? {
        Ok(s) => s,
        Err(e) => return Some(Err(e)),
    };
    let known = (-4..=8).contains(&schema) || schema == i64::from(crate::model::CUSTOM_BUCKETS_SCHEMA);
    if !known {
        return Some(Err(format!("unknown schema {schema}")));
    }
    let mut spans = || -> Option<Vec<crate::model::BucketSpan>> {
        let n = read_varbit(r, false)?.ok()?;
        let mut out = Vec::new();
        for _ in 0..n.min(1 << 16) {
            let length = read_varbit(r, false)?.ok()?;
            let offset = read_varbit(r, true)?.ok()?;
            out.push(crate::model::BucketSpan::new(offset as i32, length as u32));
        }
        Some(out)
    };
    let positive = spans()?;
    let negative = spans()?;
    let mut custom_values = Vec::new();
    if schema == i64::from(crate::model::CUSTOM_BUCKETS_SCHEMA) {
        let n = read_varbit(r, false)?.ok()?;
        for _ in 0..n.min(1 << 16) {
            let v = match read_varbit(r, false)?.ok()? {
                0 => f64::from_bits(r.bits(64)?),
                b => (b - 1) as f64 / 1000.0,
            };
            custom_values.push(v);
        }
    }
    Some(Ok(Layout { schema: schema as i32, zero_threshold, positive, negative, custom_values }))
}

/// Decodes a `HISTOGRAM` (integer counts, `float == false`) or `FLOAT_HISTOGRAM` chunk. Histogram
/// samples are appended to `ht`/`h`; staleness markers, which the TSDB stores as histograms with a
/// stale sum, become float staleness markers in `ft`/`ff`, as the engine expects them. Counter-reset
/// hints follow the TSDB's iterator: the first sample's is unknown, later ones "no reset" (gauge
/// histograms: gauge throughout).
pub fn decode_histogram(
    data: &[u8],
    float: bool,
    ht: &mut Vec<i64>,
    h: &mut Vec<std::sync::Arc<crate::model::FloatHistogram>>,
    ft: &mut Vec<i64>,
    ff: &mut Vec<f64>,
) -> Result<usize, ChunkError> {
    use crate::model::{CounterResetHint, FloatHistogram};
    let [hi, lo, flags, rest @ ..] = data else { return Err(ChunkError::NoHeader(data.len())) };
    let total = usize::from(u16::from_be_bytes([*hi, *lo]));
    if total == 0 {
        return Ok(0);
    }
    let gauge = flags & 0b1100_0000 == 0b1100_0000;
    let mut r = BitReader::new(rest);
    let truncated = |read| ChunkError::Truncated { read, total };
    let layout = read_layout(&mut r).ok_or(truncated(0))?.map_err(ChunkError::Corrupt)?;
    let np = layout.positive.iter().map(|s| s.length as usize).sum::<usize>();
    let nn = layout.negative.iter().map(|s| s.length as usize).sum::<usize>();
    // Every bucket costs at least one bit per sample; a layout claiming more buckets than the
    // chunk has bits is corrupt (and must not size the buffers below).
    if np + nn > 8 * data.len() {
        return Err(ChunkError::Corrupt(format!("{} buckets in a {}-byte chunk", np + nn, data.len())));
    }
    let varint = |r: &mut BitReader<'_>, read| match read_varbit(r, true) {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(ChunkError::Corrupt(e)),
        None => Err(truncated(read)),
    };
    // Running state: timestamp and its delta; integer counts with deltas; float values with their
    // XOR widths.
    let (mut t, mut t_delta) = (0i64, 0i64);
    let mut ints = vec![0i64; 2 + np + nn];
    let mut int_deltas = vec![0i64; 2 + np + nn];
    let mut floats = vec![0u64; 3 + np + nn];
    let mut widths: Vec<Option<XorWidth>> = vec![None; 3 + np + nn];
    let mut sum_width: Option<XorWidth> = None;
    let mut sum = 0u64;
    for read in 0..total {
        if read == 0 {
            t = varint(&mut r, read)?;
            if float {
                for v in floats.iter_mut().take(3) {
                    *v = r.bits(64).ok_or(truncated(read))?;
                }
                sum = floats[2];
                for v in floats.iter_mut().skip(3) {
                    *v = r.bits(64).ok_or(truncated(read))?;
                }
            } else {
                for v in ints.iter_mut().take(2) {
                    *v = match read_varbit(&mut r, false) {
                        Some(Ok(v)) => v,
                        Some(Err(e)) => return Err(ChunkError::Corrupt(e)),
                        None => return Err(truncated(read)),
                    };
                }
                sum = r.bits(64).ok_or(truncated(read))?;
                for v in ints.iter_mut().skip(2) {
                    *v = varint(&mut r, read)?;
                }
            }
        } else {
            t_delta = t_delta.wrapping_add(varint(&mut r, read)?);
            t = t.wrapping_add(t_delta);
            if float {
                for i in 0..3 {
                    floats[i] = read_xor(&mut r, floats[i], &mut widths[i]).ok_or(truncated(read))?;
                }
                sum = floats[2];
            } else {
                for i in 0..2 {
                    int_deltas[i] = int_deltas[i].wrapping_add(varint(&mut r, read)?);
                    ints[i] = ints[i].wrapping_add(int_deltas[i]);
                }
                sum = read_xor(&mut r, sum, &mut sum_width).ok_or(truncated(read))?;
            }
            if sum != crate::model::STALE_NAN_BITS {
                if float {
                    for i in 3..floats.len() {
                        floats[i] = read_xor(&mut r, floats[i], &mut widths[i]).ok_or(truncated(read))?;
                    }
                } else {
                    for i in 2..ints.len() {
                        int_deltas[i] = int_deltas[i].wrapping_add(varint(&mut r, read)?);
                        ints[i] = ints[i].wrapping_add(int_deltas[i]);
                    }
                }
            }
        }
        if sum == crate::model::STALE_NAN_BITS {
            ft.push(t);
            ff.push(crate::model::STALE_NAN);
            continue;
        }
        // Integer bucket values are deltas from the previous bucket of the same sign.
        let absolute = |from: usize, n: usize| -> Vec<f64> {
            let mut acc = 0i64;
            ints[from..from + n]
                .iter()
                .map(|d| {
                    acc = acc.wrapping_add(*d);
                    acc as f64
                })
                .collect()
        };
        let (count, zero_count, positive_buckets, negative_buckets) = if float {
            let f = |i: usize| f64::from_bits(floats[i]);
            let p = (3..3 + np).map(f).collect();
            let n = (3 + np..3 + np + nn).map(f).collect();
            (f(0), f(1), p, n)
        } else {
            (ints[0] as u64 as f64, ints[1] as u64 as f64, absolute(2, np), absolute(2 + np, nn))
        };
        ht.push(t);
        h.push(std::sync::Arc::new(FloatHistogram {
            counter_reset_hint: if gauge {
                CounterResetHint::Gauge
            } else if read == 0 {
                CounterResetHint::Unknown
            } else {
                CounterResetHint::NotCounterReset
            },
            schema: layout.schema,
            zero_threshold: layout.zero_threshold,
            zero_count,
            count,
            sum: f64::from_bits(sum),
            positive_spans: layout.positive.clone(),
            negative_spans: layout.negative.clone(),
            positive_buckets,
            negative_buckets,
            custom_values: layout.custom_values.clone(),
        }));
    }
    Ok(total)
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

    proptest! {
        #[test]
        fn histogram_decoding_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300), float: bool) {
            let (mut ht, mut h, mut ft, mut ff) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            let _ = decode_histogram(&data, float, &mut ht, &mut h, &mut ft, &mut ff);
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
