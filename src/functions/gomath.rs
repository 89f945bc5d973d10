//! Go's `math` package as Prometheus runs it on linux/amd64, so that PromQL's math functions and
//! operators give Prometheus's answers to the last bit.
//!
//! Prometheus evaluates `exp`, `ln`, `log2`, `log10`, the trigonometric and hyperbolic functions and
//! their inverses, `^` and `atan2` with Go's `math` package. Go does not call the C library: it has
//! its own implementations, which round differently from the platform libm (Rust's `f64` methods) in
//! the last bit for many inputs. This module follows Go's algorithms operation by operation:
//!
//! * [`exp`] and [`ln`] follow the amd64 assembly Go uses for `Exp` and `Log`. `Exp` there is a
//!   Taylor polynomial of `x/16` squared four times (after Shibata's SLEEF), and it has two variants:
//!   with fused multiply-adds when the CPU has AVX2 and FMA, and without. Like Go, [`exp`] picks the
//!   variant at run time on x86-64 (elsewhere it uses the fused one, which is what a current amd64
//!   server computes). `Log` is FreeBSD's `e_log.c` with Go's own bit-level reduction (which treats
//!   subnormal arguments as if they were normal and doubles the reduced argument at exactly `√2/2`).
//! * the others are Go's pure-Go code (Cephes and FreeBSD msun derived): Payne–Hanek reduction for
//!   trigonometric arguments of 2²⁹ and more, `asin`/`acos` via `atan`, `sinh`/`cosh`/`tanh` via
//!   [`exp`] (one call, `1/e^x` for `e^-x`), `asinh`/`acosh`/`atanh` via [`ln`] and [`log1p`], `log2` via [`frexp`] and [`ln`],
//!   `log10` as `ln(x) · (1/ln 10)`, and `pow` with its special cases and its [`frexp`]/[`ldexp`]
//!   squaring loop.
//!
//! Go's compiler never fuses a multiply and an add on amd64, so neither does this code (outside the
//! FMA variant of [`exp`]). Square roots, `floor`, `ceil`, `trunc` and `%` (`math.Mod`) are exact in
//! every implementation and need nothing here. The answers are checked against Go 1.19.8 (which built
//! the Debian Prometheus 2.42 used as the test oracle); the same algorithms are in Go's current sources
//! (Prometheus 3.x is built with Go 1.25+, for the default `GOAMD64=v1`, under which the compiler still
//! never fuses). Every function is allocation-free and branch-light: they run once per sample.

// The constants are written as the reference algorithms write them (more digits than a float64
// holds); the tests check that they give the same floats.
#![allow(clippy::excessive_precision)]

use std::f64::consts::{FRAC_1_SQRT_2, FRAC_PI_2, FRAC_PI_4, LN_2, LOG2_E, LOG10_E, PI};

const SIGN_BIT: u64 = 1 << 63;
const EXP_MASK: u64 = 0x7FF;
const FRAC_MASK: u64 = (1 << 52) - 1;
const BIAS: i64 = 1023;
const INF_BITS: u64 = 0x7FF0_0000_0000_0000;

/// `v << n` with Go's semantics: 0 once `n` reaches the width.
#[inline]
fn shl(v: u64, n: u32) -> u64 {
    v.checked_shl(n).unwrap_or(0)
}

/// `v >> n` with Go's semantics: 0 once `n` reaches the width.
#[inline]
fn shr(v: u64, n: u32) -> u64 {
    v.checked_shr(n).unwrap_or(0)
}

/// Scales a subnormal `x` up to a normal number: returns `(y, e)` with `x = y · 2^e`.
#[inline]
fn normalize(x: f64) -> (f64, i64) {
    if x.abs() < f64::MIN_POSITIVE { (x * (1u64 << 52) as f64, -52) } else { (x, 0) }
}

/// Go's `math.Frexp`: `f = frac · 2^exp` with `|frac|` in `[½, 1)`; `(f, 0)` for ±0, ±Inf and NaN.
#[inline]
pub fn frexp(f: f64) -> (f64, i64) {
    if f == 0.0 || !f.is_finite() {
        return (f, 0);
    }
    let (f, e) = normalize(f);
    let mut b = f.to_bits();
    let exp = e + ((b >> 52) & EXP_MASK) as i64 - BIAS + 1;
    b &= !(EXP_MASK << 52);
    b |= ((BIAS - 1) as u64) << 52;
    (f64::from_bits(b), exp)
}

/// Go's `math.Ldexp`: `frac · 2^exp`, rounded once (to nearest even) when the result is subnormal.
#[inline]
pub fn ldexp(frac: f64, exp: i64) -> f64 {
    if frac == 0.0 || !frac.is_finite() {
        return frac;
    }
    let (frac, e) = normalize(frac);
    let mut b = frac.to_bits();
    let mut exp = exp.saturating_add(e).saturating_add(((b >> 52) & EXP_MASK) as i64 - BIAS);
    if exp < -1075 {
        return 0f64.copysign(frac);
    }
    if exp > 1023 {
        return f64::INFINITY.copysign(frac);
    }
    let mut m = 1.0;
    if exp < -1022 {
        exp += 53;
        m = 1.0 / (1u64 << 53) as f64;
    }
    b &= !(EXP_MASK << 52);
    b |= ((exp + BIAS) as u64) << 52;
    m * f64::from_bits(b)
}

/// Go's `math.Exp` on amd64 (`e^x`).
#[inline]
pub fn exp(x: f64) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        // Go's test: `useFMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA` (the detection result is cached).
        if std::arch::is_x86_feature_detected!("fma") && std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports FMA, checked just above.
            unsafe { exp_fma_x86(x) }
        } else {
            exp_amd64(x, false)
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        exp_amd64(x, true)
    }
}

/// [`exp_amd64`]'s fused variant compiled with FMA instructions (not calls into libm's `fma`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
fn exp_fma_x86(x: f64) -> f64 {
    exp_amd64(x, true)
}

/// Go's `Exp` on amd64 with the fused (CPU with AVX2 and FMA) or the plain SSE2 arithmetic, whatever
/// the CPU this runs on (`mul_add` is exact either way, only slower without FMA instructions).
pub fn exp_variant(x: f64, fused: bool) -> f64 {
    exp_amd64(x, fused)
}

/// The algorithm of Go's `exp_amd64.s`.
#[inline(always)]
fn exp_amd64(x: f64, fused: bool) -> f64 {
    const LN2U: f64 = 0.693_147_180_559_662_956_511_601_805_686_950_683_593_75;
    const LN2L: f64 = 0.282_352_905_630_315_771_225_884_481_750_134_360_255_254_120_68e-12;
    const OVERFLOW: f64 = 7.097_827_128_933_84e+02;
    // 1/8!, 1/7!, ..., 1/3! as Go writes them.
    const T8: f64 = 2.480_158_730_158_730_158_7e-5;
    const T7: f64 = 1.984_126_984_126_984_127_0e-4;
    const T6: f64 = 1.388_888_888_888_888_888_9e-3;
    const T5: f64 = 8.333_333_333_333_333_333_3e-3;
    const T4: f64 = 4.166_666_666_666_666_666_7e-2;
    const T3: f64 = 1.666_666_666_666_666_666_7e-1;

    let b = x.to_bits();
    if b & !SIGN_BIT >= INF_BITS {
        // -Inf gives 0, +Inf and NaN themselves.
        return if b == f64::NEG_INFINITY.to_bits() { 0.0 } else { x };
    }
    if x > OVERFLOW {
        return f64::INFINITY;
    }
    // CVTSD2SL: round to nearest even; out of range (only very negative x here) is i32::MIN, as the
    // saturating cast gives, and underflows to 0 below.
    let k = (LOG2_E * x).round_ties_even() as i32;
    let kf = f64::from(k);
    let mut y = if fused {
        let mut r = (-kf).mul_add(LN2U, x);
        r = (-kf).mul_add(LN2L, r);
        r *= 0.0625;
        let mut p = T8.mul_add(r, T7);
        p = p.mul_add(r, T6);
        p = p.mul_add(r, T5);
        p = p.mul_add(r, T4);
        p = p.mul_add(r, T3);
        p = p.mul_add(r, 0.5);
        p = p.mul_add(r, 1.0);
        let mut y = r * p;
        y *= y + 2.0;
        y *= y + 2.0;
        y *= y + 2.0;
        y.mul_add(y + 2.0, 1.0)
    } else {
        let mut r = x - kf * LN2U;
        r -= kf * LN2L;
        r *= 0.0625;
        let mut p = T8 * r + T7;
        p = p * r + T6;
        p = p * r + T5;
        p = p * r + T4;
        p = p * r + T3;
        p = p * r + 0.5;
        p = p * r + 1.0;
        let mut y = r * p;
        y *= y + 2.0;
        y *= y + 2.0;
        y *= y + 2.0;
        y *= y + 2.0;
        y + 1.0
    };
    let mut e = i64::from(k) + 0x3FF;
    if e <= 0 {
        if e < -52 {
            return 0.0;
        }
        y *= f64::from_bits(((e + 0x3FE) as u64) << 52);
        e = 1;
    } else if e >= 0x7FF {
        return f64::INFINITY;
    }
    y * f64::from_bits((e as u64) << 52)
}

/// Go's `math.Exp2` (`2^x`; pure Go on amd64).
pub fn exp2(x: f64) -> f64 {
    const LN2_HI: f64 = 6.931_471_803_691_238_164_90e-01;
    const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;
    const OVERFLOW: f64 = 1.023_999_999_999_999_9e+03;
    const UNDERFLOW: f64 = -1.0740e+03;
    if x.is_nan() || x == f64::INFINITY {
        return x;
    }
    if x == f64::NEG_INFINITY {
        return 0.0;
    }
    if x > OVERFLOW {
        return f64::INFINITY;
    }
    if x < UNDERFLOW {
        return 0.0;
    }
    // Go's int(): truncation toward zero.
    let k = if x > 0.0 {
        (x + 0.5) as i64
    } else if x < 0.0 {
        (x - 0.5) as i64
    } else {
        0
    };
    let t = x - k as f64;
    expmulti(t * LN2_HI, -t * LN2_LO, k)
}

/// `e^r · 2^k` with `r = hi - lo` and `|r| ≤ ln(2)/2` (FreeBSD's `e_exp.c` kernel, as Go has it).
#[inline]
fn expmulti(hi: f64, lo: f64, k: i64) -> f64 {
    const P1: f64 = 1.666_666_666_666_666_574_15e-01;
    const P2: f64 = -2.777_777_777_701_559_338_42e-03;
    const P3: f64 = 6.613_756_321_437_934_361_17e-05;
    const P4: f64 = -1.653_390_220_546_525_153_90e-06;
    const P5: f64 = 4.138_136_797_057_238_460_39e-08;
    let r = hi - lo;
    let t = r * r;
    let c = r - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
    let y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi);
    ldexp(y, k)
}

/// Go's `math.Log` on amd64 (natural logarithm; `log_amd64.s`).
#[inline]
pub fn ln(x: f64) -> f64 {
    const LN2_HI: f64 = 6.931_471_803_691_238_164_90e-01;
    const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;
    const L1: f64 = 6.666_666_666_666_735_130e-01;
    const L2: f64 = 3.999_999_999_940_941_908e-01;
    const L3: f64 = 2.857_142_874_366_239_149e-01;
    const L4: f64 = 2.222_219_843_214_978_396e-01;
    const L5: f64 = 1.818_357_216_161_805_012e-01;
    const L6: f64 = 1.531_383_769_920_937_332e-01;
    const L7: f64 = 1.479_819_860_511_658_591e-01;

    let b = x.to_bits();
    if b & !SIGN_BIT == 0 {
        return f64::NEG_INFINITY;
    }
    if b & SIGN_BIT != 0 {
        return f64::NAN;
    }
    if b >= INF_BITS {
        return x;
    }
    // Frexp by bits: the exponent field as is, the mantissa under the exponent of ½ (a subnormal x is
    // read as if it were normal, as the assembly does).
    let mut f1 = f64::from_bits((b & FRAC_MASK) | 0x3FE0_0000_0000_0000);
    let mut k = (((b >> 52) & EXP_MASK) as i64 - 0x3FE) as f64;
    // The assembly's "not less than" comparison: doubles also at exactly √2/2.
    if FRAC_1_SQRT_2 >= f1 {
        k -= 1.0;
        f1 *= 2.0;
    }
    let f = f1 - 1.0;
    let s = f / (2.0 + f);
    let s2 = s * s;
    let s4 = s2 * s2;
    let t1 = s2 * (L1 + s4 * (L3 + s4 * (L5 + s4 * L7)));
    let t2 = s4 * (L2 + s4 * (L4 + s4 * L6));
    let r = t1 + t2;
    let hfsq = 0.5 * f * f;
    k * LN2_HI - ((hfsq - (s * (hfsq + r) + k * LN2_LO)) - f)
}

/// Go's `math.Log2`: exact for powers of two, otherwise `ln(frac)/ln 2 + exp`.
#[inline]
pub fn log2(x: f64) -> f64 {
    let (frac, exp) = frexp(x);
    if frac == 0.5 {
        return (exp - 1) as f64;
    }
    ln(frac) * LOG2_E + exp as f64
}

/// Go's `math.Log10`: `ln(x) · (1/ln 10)`.
#[inline]
pub fn log10(x: f64) -> f64 {
    ln(x) * LOG10_E
}

/// Go's `math.Log1p` (`ln(1 + x)`, accurate near 0; FreeBSD's `s_log1p.c`).
pub fn log1p(x: f64) -> f64 {
    const SQRT2_M1: f64 = 4.142_135_623_730_950_488_017e-01;
    const SQRT2_HALF_M1: f64 = -2.928_932_188_134_524_755_992e-01;
    const SMALL: f64 = 1.0 / (1u64 << 29) as f64;
    const TINY: f64 = 1.0 / (1u64 << 54) as f64;
    const TWO53: f64 = (1u64 << 53) as f64;
    const LN2_HI: f64 = 6.931_471_803_691_238_164_90e-01;
    const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;
    const LP1: f64 = 6.666_666_666_666_735_130e-01;
    const LP2: f64 = 3.999_999_999_940_941_908e-01;
    const LP3: f64 = 2.857_142_874_366_239_149e-01;
    const LP4: f64 = 2.222_219_843_214_978_396e-01;
    const LP5: f64 = 1.818_357_216_161_805_012e-01;
    const LP6: f64 = 1.531_383_769_920_937_332e-01;
    const LP7: f64 = 1.479_819_860_511_658_591e-01;

    if x < -1.0 || x.is_nan() {
        return f64::NAN;
    }
    if x == -1.0 {
        return f64::NEG_INFINITY;
    }
    if x == f64::INFINITY {
        return f64::INFINITY;
    }
    let absx = x.abs();
    let mut f = 0.0;
    let mut iu: u64 = 0;
    let mut k: i64 = 1;
    if absx < SQRT2_M1 {
        if absx < SMALL {
            if absx < TINY {
                return x;
            }
            return x - x * x * 0.5;
        }
        if x > SQRT2_HALF_M1 {
            k = 0;
            f = x;
            iu = 1;
        }
    }
    let mut c = 0.0;
    if k != 0 {
        let mut u;
        if absx < TWO53 {
            u = 1.0 + x;
            iu = u.to_bits();
            k = (iu >> 52) as i64 - 1023;
            c = if k > 0 { 1.0 - (u - x) } else { x - (u - 1.0) };
            c /= u;
        } else {
            u = x;
            iu = u.to_bits();
            k = (iu >> 52) as i64 - 1023;
            c = 0.0;
        }
        iu &= FRAC_MASK;
        if iu < 0x0006_a09e_667f_3bcd {
            u = f64::from_bits(iu | 0x3ff0_0000_0000_0000);
        } else {
            k += 1;
            u = f64::from_bits(iu | 0x3fe0_0000_0000_0000);
            iu = (0x0010_0000_0000_0000 - iu) >> 2;
        }
        f = u - 1.0;
    }
    let hfsq = 0.5 * f * f;
    let kf = k as f64;
    if iu == 0 {
        if f == 0.0 {
            if k == 0 {
                return 0.0;
            }
            c += kf * LN2_LO;
            return kf * LN2_HI + c;
        }
        let r = hfsq * (1.0 - 0.666_666_666_666_666_66 * f);
        if k == 0 {
            return f - r;
        }
        return kf * LN2_HI - ((r - (kf * LN2_LO + c)) - f);
    }
    let s = f / (2.0 + f);
    let z = s * s;
    let r = z * (LP1 + z * (LP2 + z * (LP3 + z * (LP4 + z * (LP5 + z * (LP6 + z * LP7))))));
    if k == 0 {
        return f - (hfsq - s * (hfsq + r));
    }
    kf * LN2_HI - ((hfsq - (s * (hfsq + r) + (kf * LN2_LO + c))) - f)
}

// Cephes' π/4 in three parts (the first two with many trailing zero bits) for the reduction.
const PI4A: f64 = 7.853_981_256_484_985_351_56e-1;
const PI4B: f64 = 3.774_894_707_930_798_176_68e-8;
const PI4C: f64 = 2.695_151_429_079_059_526_45e-15;
/// Go's constant `4 / Pi`, rounded once.
const FOUR_OVER_PI: f64 = 1.273_239_544_735_162_8;
/// Above this, Payne–Hanek reduction replaces the three-part one.
const REDUCE_THRESHOLD: f64 = (1u64 << 29) as f64;

const SIN: [f64; 6] = [
    1.589_623_015_765_465_680_60e-10,
    -2.505_074_776_285_780_728_66e-8,
    2.755_731_362_138_572_452_13e-6,
    -1.984_126_982_958_953_859_96e-4,
    8.333_333_333_322_118_588_78e-3,
    -1.666_666_666_666_663_072_95e-1,
];
const COS: [f64; 6] = [
    -1.135_853_652_138_768_173_00e-11,
    2.087_570_084_197_473_167_78e-9,
    -2.755_731_417_929_673_881_12e-7,
    2.480_158_728_885_170_453_48e-5,
    -1.388_888_888_887_305_641_16e-3,
    4.166_666_666_666_659_292_18e-2,
];

/// The sine polynomial on the reduced argument.
#[inline]
fn sin_poly(z: f64, zz: f64) -> f64 {
    z + z * zz * ((((((SIN[0] * zz) + SIN[1]) * zz + SIN[2]) * zz + SIN[3]) * zz + SIN[4]) * zz + SIN[5])
}

/// The cosine polynomial on the reduced argument.
#[inline]
fn cos_poly(zz: f64) -> f64 {
    1.0 - 0.5 * zz
        + zz * zz * ((((((COS[0] * zz) + COS[1]) * zz + COS[2]) * zz + COS[3]) * zz + COS[4]) * zz + COS[5])
}

/// Reduces a non-negative finite `x` to its octant `j` (even, mod 8) and the remainder `z` in
/// `[-π/4, π/4]`, as Go's sin, cos and tan do.
#[inline]
fn reduce(x: f64) -> (u64, f64) {
    if x >= REDUCE_THRESHOLD {
        return trig_reduce(x);
    }
    let mut j = (x * FOUR_OVER_PI) as u64;
    let mut y = j as f64;
    if j & 1 == 1 {
        j += 1;
        y += 1.0;
    }
    j &= 7;
    (j, ((x - y * PI4A) - y * PI4B) - y * PI4C)
}

/// The bits of 4/π: `4/π = Σ M_PI4[i] · 2^(-64·i)`, enough for the largest float64 exponent.
const M_PI4: [u64; 20] = [
    0x0000_0000_0000_0001,
    0x45f3_06dc_9c88_2a53,
    0xf84e_afa3_ea69_bb81,
    0xb6c5_2b32_7887_2083,
    0xfca2_c757_bd77_8ac3,
    0x6e48_dc74_849b_a5c0,
    0x0c92_5dd4_13a3_2439,
    0xfc3b_d639_6253_4e7d,
    0xd104_6bea_5d76_8909,
    0xd338_e04d_68be_fc82,
    0x7323_ac73_06a6_73e9,
    0x3908_bf17_7bf2_5076,
    0x3ff1_2fff_bc0b_301f,
    0xde5e_2316_b414_da3e,
    0xda6c_fd9e_4f96_136e,
    0x9e8c_7ecd_3cbf_d45a,
    0xea4f_758f_d7cb_e2f6,
    0x7a0e_73ef_14a5_25d4,
    0xd7f6_bf62_3f1a_ba10,
    0xac06_608d_f8f6_d757,
];

/// Payne–Hanek reduction of a finite `x ≥ 2²⁹` by π/4 with 64-bit integer arithmetic (Go's
/// `trigReduce`, after Ng's "Argument reduction for huge arguments: good to the last bit").
fn trig_reduce(x: f64) -> (u64, f64) {
    if x < FRAC_PI_4 {
        return (0, x);
    }
    let mut ix = x.to_bits();
    let exp = ((ix >> 52) & EXP_MASK) as i64 - BIAS - 52;
    ix &= !(EXP_MASK << 52);
    ix |= 1 << 52;
    // Three 64-bit digits of 4/π such that the product's leading digit has exponent -61.
    let pos = (exp + 61) as u64;
    let digit = (pos / 64) as usize;
    let bitshift = (pos % 64) as u32;
    let (Some(&d0), Some(&d1), Some(&d2), Some(&d3)) =
        (M_PI4.get(digit), M_PI4.get(digit + 1), M_PI4.get(digit + 2), M_PI4.get(digit + 3))
    else {
        // Unreachable for finite x (exp ≤ 971); Go would index out of range.
        return (0, f64::NAN);
    };
    let z0 = shl(d0, bitshift) | shr(d1, 64 - bitshift);
    let z1 = shl(d1, bitshift) | shr(d2, 64 - bitshift);
    let z2 = shl(d2, bitshift) | shr(d3, 64 - bitshift);
    let z2hi = ((u128::from(z2) * u128::from(ix)) >> 64) as u64;
    let z1p = u128::from(z1) * u128::from(ix);
    let (z1hi, z1lo) = ((z1p >> 64) as u64, z1p as u64);
    let z0lo = z0.wrapping_mul(ix);
    let (lo, carry) = z1lo.overflowing_add(z2hi);
    let hi = z0lo.wrapping_add(z1hi).wrapping_add(u64::from(carry));
    let mut j = hi >> 61;
    let mut hi = (hi << 3) | (lo >> 61);
    let lz = hi.leading_zeros();
    let e = 1023u64.wrapping_sub(u64::from(lz + 1));
    hi = shl(hi, lz + 1) | shr(lo, 64u32.wrapping_sub(lz + 1));
    hi >>= 64 - 52;
    hi |= e << 52;
    let mut z = f64::from_bits(hi);
    if j & 1 == 1 {
        j += 1;
        j &= 7;
        z -= 1.0;
    }
    (j, z * FRAC_PI_4)
}

/// Go's `math.Sin`.
pub fn sin(x: f64) -> f64 {
    if x == 0.0 || x.is_nan() {
        return x;
    }
    if x.is_infinite() {
        return f64::NAN;
    }
    let mut sign = x < 0.0;
    let (mut j, z) = reduce(x.abs());
    if j > 3 {
        sign = !sign;
        j -= 4;
    }
    let zz = z * z;
    let y = if j == 1 || j == 2 { cos_poly(zz) } else { sin_poly(z, zz) };
    if sign { -y } else { y }
}

/// Go's `math.Cos`.
pub fn cos(x: f64) -> f64 {
    if !x.is_finite() {
        return f64::NAN;
    }
    let mut sign = false;
    let (mut j, z) = reduce(x.abs());
    if j > 3 {
        j -= 4;
        sign = !sign;
    }
    if j > 1 {
        sign = !sign;
    }
    let zz = z * z;
    let y = if j == 1 || j == 2 { sin_poly(z, zz) } else { cos_poly(zz) };
    if sign { -y } else { y }
}

/// Go's `math.Tan`.
pub fn tan(x: f64) -> f64 {
    const P: [f64; 3] =
        [-1.309_369_391_813_837_776_46e4, 1.153_516_648_385_874_161_40e6, -1.795_652_519_764_848_779_88e7];
    const Q: [f64; 4] = [
        1.368_129_634_706_929_546_78e4,
        -1.320_892_344_402_109_674_47e6,
        2.500_838_018_233_579_158_39e7,
        -5.386_957_559_294_546_298_81e7,
    ];
    if x == 0.0 || x.is_nan() {
        return x;
    }
    if x.is_infinite() {
        return f64::NAN;
    }
    let (j, z) = reduce(x.abs());
    let zz = z * z;
    let mut y = if zz > 1e-14 {
        z + z
            * (zz * (((P[0] * zz) + P[1]) * zz + P[2])
                / ((((zz + Q[0]) * zz + Q[1]) * zz + Q[2]) * zz + Q[3]))
    } else {
        z
    };
    if j & 2 == 2 {
        y = -1.0 / y;
    }
    if x < 0.0 { -y } else { y }
}

/// Cephes' arctangent series on `[0, 0.66]`.
#[inline]
fn xatan(x: f64) -> f64 {
    const P0: f64 = -8.750_608_600_031_904_122_785e-01;
    const P1: f64 = -1.615_753_718_733_365_076_637e+01;
    const P2: f64 = -7.500_855_792_314_704_667_340e+01;
    const P3: f64 = -1.228_866_684_490_136_173_410e+02;
    const P4: f64 = -6.485_021_904_942_025_371_773e+01;
    const Q0: f64 = 2.485_846_490_142_306_297_962e+01;
    const Q1: f64 = 1.650_270_098_316_988_542_046e+02;
    const Q2: f64 = 4.328_810_604_912_902_668_951e+02;
    const Q3: f64 = 4.853_903_996_359_136_964_868e+02;
    const Q4: f64 = 1.945_506_571_482_613_964_425e+02;
    let z = x * x;
    let z = z * ((((P0 * z + P1) * z + P2) * z + P3) * z + P4)
        / (((((z + Q0) * z + Q1) * z + Q2) * z + Q3) * z + Q4);
    x * z + x
}

/// Arctangent of a non-negative `x`, reduced to `[0, 0.66]`.
#[inline]
fn satan(x: f64) -> f64 {
    const MOREBITS: f64 = 6.123_233_995_736_765_886_130e-17;
    const TAN3PIO8: f64 = 2.414_213_562_373_095_048_80;
    if x <= 0.66 {
        return xatan(x);
    }
    if x > TAN3PIO8 {
        return FRAC_PI_2 - xatan(1.0 / x) + MOREBITS;
    }
    FRAC_PI_4 + xatan((x - 1.0) / (x + 1.0)) + 0.5 * MOREBITS
}

/// Go's `math.Atan`.
pub fn atan(x: f64) -> f64 {
    if x == 0.0 {
        return x;
    }
    if x > 0.0 { satan(x) } else { -satan(-x) }
}

/// Go's `math.Asin`.
pub fn asin(x: f64) -> f64 {
    if x == 0.0 {
        return x;
    }
    let sign = x < 0.0;
    let x = x.abs();
    if x > 1.0 {
        return f64::NAN;
    }
    let temp = (1.0 - x * x).sqrt();
    let temp = if x > 0.7 { FRAC_PI_2 - satan(temp / x) } else { satan(x / temp) };
    if sign { -temp } else { temp }
}

/// Go's `math.Acos`: `π/2 - asin(x)`.
pub fn acos(x: f64) -> f64 {
    FRAC_PI_2 - asin(x)
}

/// Go's `math.Atan2(y, x)`: the angle of the point `(x, y)`.
pub fn atan2(y: f64, x: f64) -> f64 {
    /// Go's constant `3 * Pi / 4`, rounded once.
    const THREE_PI_4: f64 = 2.356_194_490_192_345;
    if y.is_nan() || x.is_nan() {
        return f64::NAN;
    }
    if y == 0.0 {
        return if x >= 0.0 && !x.is_sign_negative() { 0f64.copysign(y) } else { PI.copysign(y) };
    }
    if x == 0.0 {
        return FRAC_PI_2.copysign(y);
    }
    if x.is_infinite() {
        return if x > 0.0 {
            if y.is_infinite() { FRAC_PI_4.copysign(y) } else { 0f64.copysign(y) }
        } else if y.is_infinite() {
            THREE_PI_4.copysign(y)
        } else {
            PI.copysign(y)
        };
    }
    if y.is_infinite() {
        return FRAC_PI_2.copysign(y);
    }
    let q = atan(y / x);
    if x < 0.0 {
        if q <= 0.0 {
            return q + PI;
        }
        return q - PI;
    }
    q
}

/// Go's `math.Sinh`.
pub fn sinh(x: f64) -> f64 {
    // Hart & Cheney #2029.
    const P0: f64 = -0.630_767_364_049_771_699_118_478_725_1e+6;
    const P1: f64 = -0.899_127_202_203_950_935_539_801_351_1e+5;
    const P2: f64 = -0.289_421_135_598_956_380_728_466_036_6e+4;
    const P3: f64 = -0.263_056_321_339_749_706_281_948_9e+2;
    const Q0: f64 = -0.630_767_364_049_771_699_121_207_727_7e+6;
    const Q1: f64 = 0.152_151_737_879_001_907_069_648_517_6e+5;
    const Q2: f64 = -0.173_678_953_558_233_699_533_450_911e+3;
    let sign = x < 0.0;
    let x = if sign { -x } else { x };
    let temp = if x > 21.0 {
        exp(x) * 0.5
    } else if x > 0.5 {
        let ex = exp(x);
        (ex - 1.0 / ex) * 0.5
    } else {
        let sq = x * x;
        let t = (((P3 * sq + P2) * sq + P1) * sq + P0) * x;
        t / (((sq + Q2) * sq + Q1) * sq + Q0)
    };
    if sign { -temp } else { temp }
}

/// Go's `math.Cosh`.
pub fn cosh(x: f64) -> f64 {
    let x = x.abs();
    if x > 21.0 {
        return exp(x) * 0.5;
    }
    let ex = exp(x);
    (ex + 1.0 / ex) * 0.5
}

/// Go's `math.Tanh`.
pub fn tanh(x: f64) -> f64 {
    const MAXLOG: f64 = 8.802_969_193_111_305_429_598_8e+01;
    const P: [f64; 3] =
        [-9.643_991_794_250_522_386_28e-1, -9.928_772_310_019_185_865_64e1, -1.614_687_684_417_084_479_52e3];
    const Q: [f64; 3] =
        [1.128_116_784_916_329_314_02e2, 2.235_488_390_601_004_485_83e3, 4.844_063_053_251_254_860_48e3];
    let z = x.abs();
    if z > 0.5 * MAXLOG {
        return if x < 0.0 { -1.0 } else { 1.0 };
    }
    if z >= 0.625 {
        let s = exp(2.0 * z);
        let z = 1.0 - 2.0 / (s + 1.0);
        return if x < 0.0 { -z } else { z };
    }
    if x == 0.0 {
        return x;
    }
    let s = x * x;
    x + x * s * ((P[0] * s + P[1]) * s + P[2]) / (((s + Q[0]) * s + Q[1]) * s + Q[2])
}

const NEAR_ZERO: f64 = 1.0 / (1u64 << 28) as f64;
const LARGE: f64 = (1u64 << 28) as f64;

/// Go's `math.Asinh`.
pub fn asinh(x: f64) -> f64 {
    if x.is_nan() || x.is_infinite() {
        return x;
    }
    let sign = x < 0.0;
    let x = if sign { -x } else { x }; // keeps -0
    let temp = if x > LARGE {
        ln(x) + LN_2
    } else if x > 2.0 {
        ln(2.0 * x + 1.0 / ((x * x + 1.0).sqrt() + x))
    } else if x < NEAR_ZERO {
        x
    } else {
        log1p(x + x * x / (1.0 + (1.0 + x * x).sqrt()))
    };
    if sign { -temp } else { temp }
}

/// Go's `math.Acosh`.
pub fn acosh(x: f64) -> f64 {
    if x < 1.0 || x.is_nan() {
        return f64::NAN;
    }
    if x == 1.0 {
        return 0.0;
    }
    if x >= LARGE {
        return ln(x) + LN_2;
    }
    if x > 2.0 {
        return ln(2.0 * x - 1.0 / (x + (x * x - 1.0).sqrt()));
    }
    let t = x - 1.0;
    log1p(t + (2.0 * t + t * t).sqrt())
}

/// Go's `math.Atanh`.
pub fn atanh(x: f64) -> f64 {
    if !(-1.0..=1.0).contains(&x) {
        return f64::NAN; // also NaN itself
    }
    if x == 1.0 {
        return f64::INFINITY;
    }
    if x == -1.0 {
        return f64::NEG_INFINITY;
    }
    let sign = x < 0.0;
    let x = if sign { -x } else { x }; // keeps -0
    let temp = if x < NEAR_ZERO {
        x
    } else if x < 0.5 {
        let t = x + x;
        0.5 * log1p(t + t * x / (1.0 - x))
    } else {
        0.5 * log1p((x + x) / (1.0 - x))
    };
    if sign { -temp } else { temp }
}

/// Go's `isOddInt`: whether `x` is an odd integer (|x| ≥ 2⁵³ are all even).
#[inline]
fn is_odd_int(x: f64) -> bool {
    if x.abs() >= (1u64 << 53) as f64 {
        return false;
    }
    let xi = x.trunc();
    x - xi == 0.0 && (xi as i64) & 1 == 1
}

/// Go's `math.Pow` (`x^y`), with its special cases in its order and its exact-squaring loop for the
/// integer part of `y`.
pub fn pow(x: f64, y: f64) -> f64 {
    if y == 0.0 || x == 1.0 {
        return 1.0;
    }
    if y == 1.0 {
        return x;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 {
        return if y < 0.0 {
            if is_odd_int(y) { f64::INFINITY.copysign(x) } else { f64::INFINITY }
        } else if is_odd_int(y) {
            x
        } else {
            0.0
        };
    }
    if y.is_infinite() {
        return if x == -1.0 {
            1.0
        } else if (x.abs() < 1.0) == (y > 0.0) {
            0.0
        } else {
            f64::INFINITY
        };
    }
    if x.is_infinite() {
        if x < 0.0 {
            return pow(1.0 / x, -y); // pow(-0, -y)
        }
        return if y < 0.0 { 0.0 } else { f64::INFINITY };
    }
    if y == 0.5 {
        return x.sqrt();
    }
    if y == -0.5 {
        return 1.0 / x.sqrt();
    }

    let ay = y.abs();
    let mut yi = ay.trunc();
    let mut yf = ay - yi;
    if yf != 0.0 && x < 0.0 {
        return f64::NAN;
    }
    if yi >= 9.223_372_036_854_775_808e18 {
        // A huge even integer: overflow or underflow for every x but -1 (x = 1 returned above).
        return if x == -1.0 {
            1.0
        } else if (x.abs() < 1.0) == (y > 0.0) {
            0.0
        } else {
            f64::INFINITY
        };
    }

    // The answer is a1 · 2^ae.
    let mut a1 = 1.0;
    let mut ae: i64 = 0;
    if yf != 0.0 {
        if yf > 0.5 {
            yf -= 1.0;
            yi += 1.0;
        }
        a1 = exp(yf * ln(x));
    }
    // x^yi by successive squarings of x, collecting the powers of two in xe.
    let (mut x1, mut xe) = frexp(x);
    let mut i = yi as i64;
    while i != 0 {
        if !(-(1 << 12)..=(1 << 12)).contains(&xe) {
            // xe would overflow the shift below; ae already exceeds any float64 exponent, so the
            // final ldexp under- or overflows.
            ae += xe;
            break;
        }
        if i & 1 == 1 {
            a1 *= x1;
            ae += xe;
        }
        x1 *= x1;
        xe <<= 1;
        if x1 < 0.5 {
            x1 += x1;
            xe -= 1;
        }
        i >>= 1;
    }
    if y < 0.0 {
        a1 = 1.0 / a1;
        ae = -ae;
    }
    ldexp(a1, ae)
}

/// Go's `math.Mod`: the remainder of `x / y` with the sign of `x`. Go's shift-and-subtract loop is
/// exact, as is the C library's `fmod` behind Rust's `%`, so both give the same float.
#[inline]
pub fn fmod(x: f64, y: f64) -> f64 {
    x % y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_constants_are_rounded_once() {
        assert_eq!(FOUR_OVER_PI.to_bits(), 0x3ff4_5f30_6dc9_c883);
        assert_eq!(FOUR_OVER_PI, std::f64::consts::FRAC_2_PI * 2.0);
        assert_eq!(PI4A.to_bits(), 0x3fe9_21fb_4000_0000);
        assert_eq!(PI4B.to_bits(), 0x3e64_442d_0000_0000);
        assert_eq!(PI4C.to_bits(), 0x3ce8_4698_98cc_5170);
    }

    #[test]
    fn frexp_ldexp_round_trip() {
        for &x in &[1.0, -3.5, 5e-324, 2.2250738585072009e-308, 1.7976931348622157e308, 0.1] {
            let (f, e) = frexp(x);
            assert!((0.5..1.0).contains(&f.abs()), "{x}");
            assert_eq!(ldexp(f, e).to_bits(), f64::to_bits(x), "{x}");
        }
        assert_eq!(ldexp(1.0, -1075), 0.0);
        assert_eq!(ldexp(1.5, -1074), 1e-323); // 1.5 · 2^-1074 rounds to even: 2^-1073
        assert_eq!(ldexp(1.0, 1024), f64::INFINITY);
    }

    #[test]
    fn exp_variants_agree_on_exact_cases() {
        for fused in [false, true] {
            assert_eq!(exp_variant(0.0, fused), 1.0);
            assert_eq!(exp_variant(f64::NEG_INFINITY, fused), 0.0);
            assert!(exp_variant(f64::NAN, fused).is_nan());
            assert_eq!(exp_variant(710.0, fused), f64::INFINITY);
            assert_eq!(exp_variant(-1e300, fused), 0.0);
        }
    }
}
