//! The bucket bounds of exponential native-histogram schemas, exactly as Prometheus computes them.
//!
//! The upper bound of bucket `index` in schema `s` is `2^(index / 2^s)`. Prometheus does not compute
//! the power: for `s >= 0` it takes the fraction in `[0.5, 1)` from a fixed table and scales it by a
//! power of two; for `s < 0` the bound is a power of two. The table's entries are not all the
//! correctly rounded powers, so ours ([`bounds_table::FRACTIONS`]) was measured from a running
//! Prometheus by `examples/histogram_bounds.rs`, which also wrote the cases of
//! `testdata/histogram-bounds/`.

#[path = "bounds_table.rs"]
mod bounds_table;

use bounds_table::FRACTIONS;

/// The finest schema of [`FRACTIONS`]: schema `s <= 8` uses every `2^(8 - s)`-th entry.
const TABLE_SCHEMA: i32 = 8;

/// The upper bound of bucket `index` in the exponential `schema`: `2^(index / 2^schema)` as
/// Prometheus's `getBound` gives it. The last bucket below `+Inf` ends at `f64::MAX` (its bound
/// `2^1024` is not a float), the bucket above it at `+Inf`; bounds below the smallest subnormal
/// are 0.
pub fn exponential_bound(index: i64, schema: i32) -> f64 {
    if schema < 0 {
        let shift = u32::try_from(-i64::from(schema)).unwrap_or(u32::MAX).min(63);
        let exp = index.checked_shl(shift).filter(|e| (e >> shift) == index).unwrap_or(if index < 0 {
            i64::MIN
        } else {
            i64::MAX
        });
        if exp == 1024 {
            return f64::MAX;
        }
        return ldexp(1.0, exp);
    }
    let schema_u = schema.min(62) as u32;
    let frac_index = index & ((1i64 << schema_u) - 1);
    let frac = if schema <= TABLE_SCHEMA {
        // frac_index < 2^schema, so the table index is below 256.
        FRACTIONS[(frac_index << (TABLE_SCHEMA - schema)) as usize]
    } else {
        // Finer schemas than Prometheus has: the power itself.
        (frac_index as f64 / (1u64 << schema_u) as f64).exp2() / 2.0
    };
    let exp = (index >> schema_u) + 1;
    if frac == 0.5 && exp == 1025 {
        return f64::MAX;
    }
    ldexp(frac, exp)
}

/// `frac · 2^exp`, rounding once (also into the subnormal range), as Go's `math.Ldexp`.
fn ldexp(frac: f64, exp: i64) -> f64 {
    let pow2 = |e: i64| f64::from_bits(((e + 1023) as u64) << 52);
    let mut v = frac;
    let mut e = exp.clamp(-2200, 2200);
    while e > 1023 {
        v *= pow2(1023);
        e -= 1023;
    }
    while e < -1022 {
        if e < -1022 - 52 {
            v *= pow2(-1022);
            e += 1022;
        } else {
            // Last step: scale into range in one multiplication so rounding happens once.
            return v * pow2(e + 52) * pow2(-52);
        }
    }
    v * pow2(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert_eq!(exponential_bound(0, 0), 1.0);
        assert_eq!(exponential_bound(1, 0), 2.0);
        assert_eq!(exponential_bound(-1, 0), 0.5);
        // Prometheus's √2 is one ulp below the correctly rounded one.
        assert_eq!(exponential_bound(1, 1), f64::from_bits(std::f64::consts::SQRT_2.to_bits() - 1));
        assert_eq!(exponential_bound(1, -1), 4.0);
        assert_eq!(exponential_bound(1024, 0), f64::MAX);
        assert_eq!(exponential_bound(1025, 0), f64::INFINITY);
        assert_eq!(ldexp(1.0, -1074), f64::from_bits(1));
    }

    #[test]
    fn table_is_increasing_in_half_open_unit_interval() {
        assert_eq!(FRACTIONS[0], 0.5);
        assert!(FRACTIONS.windows(2).all(|w| w[0] < w[1]));
        assert!(FRACTIONS.iter().all(|f| (0.5..1.0).contains(f)));
    }
}
