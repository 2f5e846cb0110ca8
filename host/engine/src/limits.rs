//! Per-step resource limits: wall time and linear memory.
//!
//! Every step runs under both. The defaults are deliberately generous for a
//! document transform and tight for anything else; a pipeline can set either
//! per step (`limits: {timeout: 30s, memory: 512Mi}`).

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// Default wall-time limit for one step.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default linear-memory limit for one step.
pub const DEFAULT_MEMORY: u64 = 256 << 20;

/// The limits one step runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Wall-time limit, as a duration such as `500ms`, `10s` or `2m`.
    #[serde(deserialize_with = "de_duration")]
    pub timeout: Duration,
    /// Memory limit, as a Kubernetes quantity such as `64Mi`, `1Gi` or bytes.
    #[serde(deserialize_with = "de_memory")]
    pub memory: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: DEFAULT_TIMEOUT,
            memory: DEFAULT_MEMORY,
        }
    }
}

impl fmt::Display for Limits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "timeout {}, memory {}",
            DisplayDuration(self.timeout),
            DisplayBytes(self.memory)
        )
    }
}

/// Formats a duration the way it is written in a pipeline (`10s`, `250ms`).
pub struct DisplayDuration(pub Duration);

impl fmt::Display for DisplayDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

/// Formats a byte count the way it is written in a pipeline (`256Mi`).
pub struct DisplayBytes(pub u64);

impl fmt::Display for DisplayBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (suffix, shift) in [("Gi", 30), ("Mi", 20), ("Ki", 10)] {
            if self.0 >= 1 << shift && self.0.is_multiple_of(1 << shift) {
                return write!(f, "{}{suffix}", self.0 >> shift);
            }
        }
        write!(f, "{}", self.0)
    }
}

/// Parses `500ms`, `10s`, `2m` or `1h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| {
        format!("invalid duration {text:?}: expected a number and a unit such as 10s")
    })?;
    let duration = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => {
            return Err(format!(
                "invalid duration {text:?}: the unit must be ms, s, m or h"
            ));
        }
    };
    if duration.is_zero() {
        return Err(format!("invalid duration {text:?}: must be more than zero"));
    }
    Ok(duration)
}

/// Parses a Kubernetes binary quantity: `1048576`, `512Ki`, `64Mi`, `1Gi`.
pub fn parse_memory(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, shift) = match text.get(text.len().saturating_sub(2)..) {
        Some("Ki") => (&text[..text.len() - 2], 10),
        Some("Mi") => (&text[..text.len() - 2], 20),
        Some("Gi") => (&text[..text.len() - 2], 30),
        _ => (text, 0),
    };
    let n: u64 = number.parse().map_err(|_| {
        format!("invalid memory quantity {text:?}: expected bytes or a number with Ki, Mi or Gi")
    })?;
    let bytes = n
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("invalid memory quantity {text:?}: too large"))?;
    if bytes < 1 << 20 {
        return Err(format!(
            "invalid memory quantity {text:?}: at least 1Mi is needed to run a guest"
        ));
    }
    Ok(bytes)
}

fn de_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    parse_duration(&String::deserialize(d)?).map_err(serde::de::Error::custom)
}

fn de_memory<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    // Accept both `memory: 64Mi` and `memory: 67108864`.
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Quantity {
        Bytes(u64),
        Text(String),
    }
    match Quantity::deserialize(d)? {
        Quantity::Bytes(n) => parse_memory(&n.to_string()),
        Quantity::Text(text) => parse_memory(&text),
    }
    .map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_display_round_trip() {
        for text in ["250ms", "10s", "120s"] {
            assert_eq!(
                DisplayDuration(parse_duration(text).unwrap()).to_string(),
                text
            );
        }
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("10").unwrap_err().contains("unit"));
        assert!(parse_duration("0s").unwrap_err().contains("more than zero"));
        assert!(parse_duration("fast").is_err());
    }

    #[test]
    fn memory_quantities_parse_and_display_round_trip() {
        for text in ["64Mi", "1Gi", "1536Ki"] {
            assert_eq!(DisplayBytes(parse_memory(text).unwrap()).to_string(), text);
        }
        assert_eq!(parse_memory("2097152").unwrap(), 2 << 20);
        assert!(parse_memory("12Ki").unwrap_err().contains("at least 1Mi"));
        assert!(parse_memory("1Ti").is_err());
        assert!(
            parse_memory("99999999999Gi")
                .unwrap_err()
                .contains("too large")
        );
    }
}
