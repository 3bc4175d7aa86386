//! Quantities with units as they appear in configuration files: rates (`"25Gbps"`),
//! durations (`"5us"`) and sizes (`"64KiB"`). Rates are SI bits per second throughout
//! (1 Gbps = 10^9 bit/s); sizes accept SI (kB = 1000 B) and IEC (KiB = 1024 B) prefixes.
//! Parsing is exact decimal arithmetic, never f64.

#![warn(missing_docs)]

use crate::engine::time::{parse_scaled_decimal, split_number_unit, DecimalError};
use crate::engine::SimDuration;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// A link or application rate in bits per second.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rate(pub u64);

/// A duration in a config file, e.g. `"5us"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub SimDuration);

/// A size in bytes, e.g. `1500` or `"64KiB"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bytes(pub u64);

impl Rate {
    /// The rate in bits per second.
    pub fn bps(self) -> u64 {
        self.0
    }

    /// Parses `"25Gbps"`, `"1.5Mbps"`, `"800kbps"`, `"10bps"`, or a size per second such as
    /// `"128MiB/s"` (how QEMU and hypervisors state migration bandwidth; the slash keeps it
    /// apart from the ambiguous `"MBps"`).
    pub fn parse(text: &str) -> Result<Rate, String> {
        let t = text.trim();
        if let Some(size) = t.strip_suffix("/s") {
            let b = Bytes::parse(size).map_err(|e| format!("`{text}` is not a rate: {e}"))?;
            return match b.0.checked_mul(8) {
                Some(0) => Err(format!(
                    "`{text}` is not a rate: it must be greater than zero"
                )),
                Some(bits) => Ok(Rate(bits)),
                None => Err(format!("`{text}` is not a rate: it is too large")),
            };
        }
        if t.starts_with('-') {
            return Err(format!(
                "`{text}` is not a rate: it must be a positive number, e.g. \"25Gbps\""
            ));
        }
        let (num, unit) = split_number_unit(t);
        let scale: u64 = match unit {
            "bps" => 1,
            "kbps" | "Kbps" => 1_000,
            "Mbps" => 1_000_000,
            "Gbps" => 1_000_000_000,
            "Tbps" => 1_000_000_000_000,
            _ => {
                return Err(format!(
                    "`{text}` is not a rate: expected a number and one of bps, kbps, Mbps, Gbps, Tbps (SI bits per second), e.g. \"25Gbps\", or a size per second, e.g. \"128MiB/s\""
                ))
            }
        };
        match parse_scaled_decimal(num, scale) {
            Ok(0) => Err(format!(
                "`{text}` is not a rate: it must be greater than zero"
            )),
            Ok(v) => Ok(Rate(v)),
            Err(DecimalError::TooFine) => Err(format!(
                "`{text}` is not a rate: it must be a whole number of bits per second"
            )),
            Err(DecimalError::TooLarge) => Err(format!("`{text}` is not a rate: it is too large")),
            Err(DecimalError::Malformed) => {
                Err(format!("`{text}` is not a rate: `{num}` is not a number"))
            }
        }
    }
}

impl Bytes {
    /// Parses `1500`, `"1500B"`, `"64KiB"`, `"1MB"`, `"16GiB"`.
    pub fn parse(text: &str) -> Result<Bytes, String> {
        let t = text.trim();
        if t.starts_with('-') {
            return Err(format!("`{text}` is not a size: it is negative"));
        }
        let (num, unit) = split_number_unit(t);
        let scale: u64 = match unit {
            "" | "B" => 1,
            "kB" | "KB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            _ => {
                return Err(format!(
                    "`{text}` is not a size: expected a number of bytes with an optional unit B, kB, MB, GB, KiB, MiB, GiB"
                ))
            }
        };
        parse_scaled_decimal(num, scale).map(Bytes).map_err(|_| {
            format!("`{text}` is not a size: `{num}` must be a non-negative whole number of bytes")
        })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        for (scale, unit) in [
            (1_000_000_000_000, "Tbps"),
            (1_000_000_000, "Gbps"),
            (1_000_000, "Mbps"),
            (1_000, "kbps"),
        ] {
            if v >= scale && v.is_multiple_of(scale / 1000) {
                let whole = v / scale;
                let frac = (v % scale) / (scale / 1000);
                return if frac == 0 {
                    write!(f, "{whole}{unit}")
                } else {
                    let s = format!("{frac:03}");
                    write!(f, "{whole}.{}{unit}", s.trim_end_matches('0'))
                };
            }
        }
        write!(f, "{v}bps")
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Deserializes from a string with the given parser, or from an integer for `Bytes`.
struct UnitVisitor<T> {
    expecting: &'static str,
    parse: fn(&str) -> Result<T, String>,
    from_int: Option<fn(u64) -> T>,
}

impl<'de, T> Visitor<'de> for UnitVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.expecting)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.parse)(v).map_err(E::custom)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        match (self.from_int, u64::try_from(v)) {
            (Some(f), Ok(u)) => Ok(f(u)),
            (Some(_), Err(_)) => Err(E::custom(format!("{v} is negative; {}", self.expecting))),
            (None, _) => Err(E::custom(format!("{v} has no unit; {}", self.expecting))),
        }
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        match self.from_int {
            Some(f) => Ok(f(v)),
            None => Err(E::custom(format!("{v} has no unit; {}", self.expecting))),
        }
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        Err(E::custom(format!("{v} has no unit; {}", self.expecting)))
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UnitVisitor {
            expecting: "a rate string such as \"25Gbps\" (bps, kbps, Mbps, Gbps, Tbps)",
            parse: Rate::parse,
            from_int: None,
        })
    }
}
impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UnitVisitor {
            expecting: "a duration string such as \"5us\" (ps, ns, us, ms, s, min, h)",
            parse: |s| SimDuration::parse(s).map(Duration),
            from_int: None,
        })
    }
}
impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UnitVisitor {
            expecting: "a size in bytes such as 1500 or \"64KiB\"",
            parse: Bytes::parse,
            from_int: Some(Bytes),
        })
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}
impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}
impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_si_bits_exact() {
        assert_eq!(Rate::parse("25Gbps").unwrap(), Rate(25_000_000_000));
        assert_eq!(Rate::parse("1.5Mbps").unwrap(), Rate(1_500_000));
        assert!(Rate::parse("-5Gbps").is_err());
        assert!(Rate::parse("0Gbps").is_err());
        assert!(
            Rate::parse("5GBps").is_err(),
            "bytes per second is ambiguous and rejected"
        );
        assert_eq!(Rate(2_500_000_000).to_string(), "2.5Gbps");
        // QEMU's default max-bandwidth, 128 MiB/s = 134 217 728 B/s × 8.
        assert_eq!(Rate::parse("128MiB/s").unwrap(), Rate(1_073_741_824));
        assert!(Rate::parse("0MiB/s").is_err());
        assert!(Rate::parse("fastMiB/s").is_err());
    }

    #[test]
    fn sizes_accept_si_and_iec() {
        assert_eq!(Bytes::parse("64KiB").unwrap(), Bytes(65_536));
        assert_eq!(Bytes::parse("1MB").unwrap(), Bytes(1_000_000));
        assert_eq!(Bytes::parse("1500").unwrap(), Bytes(1500));
        assert!(Bytes::parse("1.5B").is_err());
    }
}
