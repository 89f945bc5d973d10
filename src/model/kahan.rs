//! Kahan–Neumaier compensated summation, step for step as Prometheus's `kahansum.Inc`.

/// Adds `inc` to the running sum `sum` with compensation `c`; returns the new sum and
/// compensation. When the sum becomes infinite the compensation is reset to 0.
#[inline(never)]
pub fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}
