//! Virtual time: integer picoseconds.
//!
//! Picoseconds because a 64-byte frame at 400 Gb/s serializes in 1.28 ns, which whole
//! nanoseconds would round by up to 10%; a `u64` of picoseconds still spans about 213 days,
//! enough for a 72-hour soak. Floating point appears only at the edges (reports, plots).

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// Picoseconds per unit, for the constructors and the parser.
pub const PS_PER_NS: u64 = 1_000;
/// Picoseconds per microsecond.
pub const PS_PER_US: u64 = 1_000_000;
/// Picoseconds per millisecond.
pub const PS_PER_MS: u64 = 1_000_000_000;
/// Picoseconds per second.
pub const PS_PER_S: u64 = 1_000_000_000_000;

/// An instant of virtual time, in picoseconds since the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

/// A span of virtual time, in picoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(pub u64);

impl SimTime {
    /// The start of the run.
    pub const ZERO: SimTime = SimTime(0);
    /// The latest representable instant (about 213 days).
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// The instant `ps` picoseconds after the start.
    pub const fn from_ps(ps: u64) -> Self {
        SimTime(ps)
    }
    /// Picoseconds since the start of the run.
    pub const fn as_ps(self) -> u64 {
        self.0
    }
    /// Seconds as f64, for reports and plots only.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / PS_PER_S as f64
    }
    /// Time elapsed since `earlier`; saturates at zero rather than wrapping.
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    /// The empty span.
    pub const ZERO: SimDuration = SimDuration(0);

    /// A span of `ps` picoseconds.
    pub const fn from_ps(ps: u64) -> Self {
        SimDuration(ps)
    }
    /// A span of `ns` nanoseconds.
    pub const fn from_nanos(ns: u64) -> Self {
        SimDuration(ns * PS_PER_NS)
    }
    /// A span of `us` microseconds.
    pub const fn from_micros(us: u64) -> Self {
        SimDuration(us * PS_PER_US)
    }
    /// A span of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms * PS_PER_MS)
    }
    /// A span of `s` seconds.
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * PS_PER_S)
    }
    /// The span in picoseconds.
    pub const fn as_ps(self) -> u64 {
        self.0
    }
    /// Seconds as f64, for reports and plots only.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / PS_PER_S as f64
    }
    /// Parses `"5us"`, `"1.5ms"`, `"2s"`, `"300ps"`, `"10ns"`, `"0"`; decimal fractions are
    /// exact down to one picosecond (no f64 involved).
    pub fn parse(text: &str) -> Result<SimDuration, String> {
        let t = text.trim();
        if t.starts_with('-') {
            return Err(format!("`{text}` is not a duration: it is negative"));
        }
        let (num, unit) = split_number_unit(t);
        let scale = match unit {
            "ps" => 1,
            "ns" => PS_PER_NS,
            "us" | "µs" => PS_PER_US,
            "ms" => PS_PER_MS,
            "s" => PS_PER_S,
            "min" => 60 * PS_PER_S,
            "h" => 3600 * PS_PER_S,
            "" if num.chars().all(|c| c == '0' || c == '.') && !num.is_empty() => 1,
            _ => {
                return Err(format!(
                    "`{text}` is not a duration: expected a number and a unit (ps, ns, us, ms, s, min, h), e.g. \"5us\""
                ))
            }
        };
        match parse_scaled_decimal(num, scale) {
            Ok(ps) => Ok(SimDuration(ps)),
            Err(DecimalError::TooFine) => Err(format!(
                "`{text}` is not a duration: it is finer than the 1 ps resolution of virtual time"
            )),
            Err(DecimalError::TooLarge) => Err(format!(
                "`{text}` is not a duration: it exceeds the range of virtual time (u64 picoseconds, about 213 days)"
            )),
            Err(DecimalError::Malformed) => Err(format!("`{text}` is not a duration: `{num}` is not a number")),
        }
    }
}

/// Splits `"1.5ms"` into `("1.5", "ms")` (unit trimmed).
pub(crate) fn split_number_unit(t: &str) -> (&str, &str) {
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    (num, unit.trim())
}

/// Why a decimal could not be scaled to a whole number of base units.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DecimalError {
    Malformed,
    /// It has digits below the base unit (e.g. 1.5 ps).
    TooFine,
    TooLarge,
}

/// `digits` (like "1.25") times `scale`, exactly, when the product is a whole number that fits.
pub(crate) fn parse_scaled_decimal(digits: &str, scale: u64) -> Result<u64, DecimalError> {
    use DecimalError::*;
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty())
        || !all_digits(int_part)
        || !all_digits(frac_part)
    {
        return Err(Malformed);
    }
    if frac_part.len() > 30 {
        return Err(TooFine);
    }
    let int: u128 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().map_err(|_| TooLarge)?
    };
    let value = int.checked_mul(scale as u128).ok_or(TooLarge)?;
    let divisor = 10u128.pow(frac_part.len() as u32);
    let frac: u128 = if frac_part.is_empty() {
        0
    } else {
        frac_part.parse().map_err(|_| TooFine)?
    };
    let scaled_frac = frac.checked_mul(scale as u128).ok_or(TooFine)?;
    if scaled_frac % divisor != 0 {
        return Err(TooFine);
    }
    let total = value.checked_add(scaled_frac / divisor).ok_or(TooLarge)?;
    u64::try_from(total).map_err(|_| TooLarge)
}

/// Saturates at [`SimTime::MAX`], which lies beyond the end of any run: an event scheduled
/// that far out simply never happens, instead of wrapping around to the past.
impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    #[inline]
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}
impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}
impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    fn sub(self, other: SimTime) -> SimDuration {
        SimDuration(
            self.0
                .checked_sub(other.0)
                .expect("negative virtual duration"),
        )
    }
}
impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(d.0))
    }
}

fn fmt_ps(ps: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let (scale, unit) = if ps >= PS_PER_S {
        (PS_PER_S, "s")
    } else if ps >= PS_PER_MS {
        (PS_PER_MS, "ms")
    } else if ps >= PS_PER_US {
        (PS_PER_US, "us")
    } else if ps >= PS_PER_NS {
        (PS_PER_NS, "ns")
    } else {
        return write!(f, "{ps}ps");
    };
    let whole = ps / scale;
    let frac = ps % scale;
    if frac == 0 {
        write!(f, "{whole}{unit}")
    } else {
        let width = scale.ilog10() as usize;
        let s = format!("{frac:0width$}");
        write!(f, "{whole}.{}{unit}", s.trim_end_matches('0'))
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_ps(self.0, f)
    }
}
impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_ps(self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_exactly() {
        assert_eq!(
            SimDuration::parse("5us").unwrap(),
            SimDuration::from_micros(5)
        );
        assert_eq!(
            SimDuration::parse("1.5ms").unwrap(),
            SimDuration(1_500_000_000)
        );
        assert_eq!(SimDuration::parse("0.001ns").unwrap(), SimDuration(1));
        assert_eq!(SimDuration::parse("0").unwrap(), SimDuration::ZERO);
        assert!(
            SimDuration::parse("0.0001ns").is_err(),
            "finer than 1 ps must be rejected"
        );
        assert!(SimDuration::parse("-5us").is_err());
        assert!(SimDuration::parse("5 parsecs").is_err());
        assert!(
            SimDuration::parse("5").is_err(),
            "a bare non-zero number has no unit"
        );
    }

    #[test]
    fn displays_readably() {
        assert_eq!(SimDuration::from_micros(5).to_string(), "5us");
        assert_eq!(SimDuration(1_500_000_000).to_string(), "1.5ms");
        assert_eq!(SimTime(12).to_string(), "12ps");
    }
}

#[cfg(test)]
mod overflow_tests {
    use super::*;

    #[test]
    fn adding_past_the_range_saturates_instead_of_wrapping() {
        // 4000 h + 4000 h exceeds u64 picoseconds (~5124 h): the result is "never", not a
        // time in the past.
        let t = SimTime::ZERO + SimDuration::parse("4000h").unwrap();
        assert_eq!(t + SimDuration::parse("4000h").unwrap(), SimTime::MAX);
    }
}
