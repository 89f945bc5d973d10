//! Staleness markers: the special NaN that ends a series.
//!
//! Prometheus writes a sample with this exact bit pattern when a series disappears; queries treat
//! the series as absent from that point on. It is a signalling NaN, so it never arises from
//! arithmetic and must be compared by bits, never with `==` or `is_nan` alone.

/// The bit pattern of the staleness marker.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The bit pattern of the ordinary NaN Prometheus produces (Go's `math.NaN()`).
pub const NORMAL_NAN_BITS: u64 = 0x7ff8_0000_0000_0001;

/// The staleness marker as a float.
pub const STALE_NAN: f64 = f64::from_bits(STALE_NAN_BITS);

/// Whether `v` is the staleness marker (compared by bits).
///
/// ```
/// use ferroprom::model::{STALE_NAN, is_stale_nan};
/// assert!(is_stale_nan(STALE_NAN));
/// assert!(!is_stale_nan(f64::NAN));
/// ```
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}
