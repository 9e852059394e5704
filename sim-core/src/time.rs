//! Virtual time: instants and spans in nanoseconds of simulated time.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An instant of virtual time, in nanoseconds since the simulation started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Time(u64);

/// A span of virtual time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(u64);

impl Time {
    /// The instant the simulation starts.
    pub const ZERO: Time = Time(0);
    /// The latest representable instant; used as "never".
    pub const MAX: Time = Time(u64::MAX);

    /// The instant `nanos` nanoseconds after the start.
    pub const fn from_nanos(nanos: u64) -> Time {
        Time(nanos)
    }

    /// Nanoseconds since the start.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// The span from `earlier` to `self`, or zero if `earlier` is later.
    pub fn since(self, earlier: Time) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }

    /// This instant moved by a signed number of nanoseconds, clamped at zero.
    pub fn shifted(self, nanos: i64) -> Time {
        Time(self.0.saturating_add_signed(nanos))
    }
}

impl Duration {
    /// No time at all.
    pub const ZERO: Duration = Duration(0);
    /// The longest representable span.
    pub const MAX: Duration = Duration(u64::MAX);

    /// A span of `n` nanoseconds.
    pub const fn from_nanos(n: u64) -> Duration {
        Duration(n)
    }
    /// A span of `n` microseconds.
    pub const fn from_micros(n: u64) -> Duration {
        Duration(n * 1_000)
    }
    /// A span of `n` milliseconds.
    pub const fn from_millis(n: u64) -> Duration {
        Duration(n * 1_000_000)
    }
    /// A span of `n` seconds.
    pub const fn from_secs(n: u64) -> Duration {
        Duration(n * 1_000_000_000)
    }

    /// The span in nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// The span in (fractional) milliseconds, for reports.
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// The span in (fractional) seconds, for reports.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// The span multiplied by `factor`, saturating.
    pub fn saturating_mul(self, factor: u64) -> Duration {
        Duration(self.0.saturating_mul(factor))
    }
}

impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, d: Duration) -> Time {
        Time(self.0.saturating_add(d.0))
    }
}

impl AddAssign<Duration> for Time {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Time> for Time {
    type Output = Duration;
    fn sub(self, earlier: Time) -> Duration {
        self.since(earlier)
    }
}

impl Add for Duration {
    type Output = Duration;
    fn add(self, other: Duration) -> Duration {
        Duration(self.0.saturating_add(other.0))
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Duration(self.0))
    }
}

impl fmt::Display for Duration {
    /// Shortest exact-enough human form: `0s`, `250ms`, `1.5s`, `12.345s`, `2m30s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        if n == 0 {
            return write!(f, "0s");
        }
        let (value, unit) = if n < 1_000 {
            return write!(f, "{n}ns");
        } else if n < 1_000_000 {
            (n as f64 / 1e3, "us")
        } else if n < 1_000_000_000 {
            (n as f64 / 1e6, "ms")
        } else {
            (n as f64 / 1e9, "s")
        };
        let text = format!("{value:.3}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        write!(f, "{text}{unit}")
    }
}

/// Why a duration string could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Nothing was given.
    #[error("empty duration: expected a number with a unit, like \"250ms\"")]
    Empty,
    /// The number part is not a non-negative decimal.
    #[error("invalid number {0:?} in duration: expected a non-negative decimal, like \"1.5s\"")]
    Number(String),
    /// The unit is missing or unknown.
    #[error("unknown unit {0:?} in duration: expected one of ns, us, ms, s, m, h")]
    Unit(String),
    /// The value does not fit in 64-bit nanoseconds (about 584 years).
    #[error("duration too large")]
    Overflow,
}

impl FromStr for Duration {
    type Err = DurationError;

    /// Reads "250ms", "3s", "1.5m", "10us", "100ns", "2h"; spaces around the
    /// number are allowed. Fractions are exact to the nanosecond.
    fn from_str(text: &str) -> Result<Duration, DurationError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(DurationError::Empty);
        }
        let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
        let (number, unit) = (text[..split].trim(), text[split..].trim());
        let unit_nanos: u64 = match unit {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" | "min" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(DurationError::Unit(unit.to_string())),
        };
        parse_scaled(number, unit_nanos).map(Duration)
    }
}

/// `number * scale` computed exactly in integers: "1.5" with scale 1000 is 1500.
fn parse_scaled(number: &str, scale: u64) -> Result<u64, DurationError> {
    let bad = || DurationError::Number(number.to_string());
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return Err(bad());
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let whole: u64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| DurationError::Overflow)? };
    let mut total = whole.checked_mul(scale).ok_or(DurationError::Overflow)?;
    let mut place = scale;
    for digit in fraction.bytes() {
        place /= 10;
        total = total.checked_add(u64::from(digit - b'0') * place).ok_or(DurationError::Overflow)?;
    }
    Ok(total)
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Duration {
    /// Accepts a human string ("250ms") or an integer number of nanoseconds.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"250ms\", \"3s\" or \"1.5m\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Duration, E> {
                Ok(Duration(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Duration, E> {
                u64::try_from(v).map(Duration).map_err(|_| E::custom("a duration cannot be negative"))
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_human_durations() {
        let cases = [
            ("250ms", 250_000_000),
            ("3s", 3_000_000_000),
            ("1.5m", 90_000_000_000),
            ("10us", 10_000),
            ("100ns", 100),
            ("2h", 7_200_000_000_000),
            (" 0.25 s ", 250_000_000),
            (".5s", 500_000_000),
            ("1.0000000005s", 1_000_000_000),
        ];
        for (text, nanos) in cases {
            assert_eq!(text.parse::<Duration>(), Ok(Duration(nanos)), "text={text}");
        }
    }

    #[test]
    fn rejects_bad_durations() {
        assert_eq!("".parse::<Duration>(), Err(DurationError::Empty));
        assert_eq!("5".parse::<Duration>(), Err(DurationError::Unit(String::new())));
        assert_eq!("5 parsecs".parse::<Duration>(), Err(DurationError::Unit("parsecs".into())));
        assert_eq!("1.2.3s".parse::<Duration>(), Err(DurationError::Number("1.2.3".into())));
        assert!("-1s".parse::<Duration>().is_err());
        assert_eq!("99999999999h".parse::<Duration>(), Err(DurationError::Overflow));
    }

    #[test]
    fn displays_round_trip() {
        for text in ["0s", "250ms", "1.5s", "12.345s", "10us", "999ns"] {
            let d: Duration = text.parse().unwrap();
            assert_eq!(d.to_string(), text);
        }
    }

    #[test]
    fn time_arithmetic_saturates() {
        assert_eq!(Time::MAX + Duration::from_secs(1), Time::MAX);
        assert_eq!(Time::ZERO.since(Time::from_nanos(5)), Duration::ZERO);
        assert_eq!(Time::from_nanos(10).shifted(-20), Time::ZERO);
    }
}
