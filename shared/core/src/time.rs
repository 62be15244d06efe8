//! Timestamps: UTC, ISO-8601 with a `Z` suffix and millisecond precision, as the contract shows them.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};

pub type Timestamp = DateTime<Utc>;

/// Now, at the millisecond precision records are written with, so a record read back equals what was saved.
pub fn now() -> Timestamp {
    Utc::now().trunc_subsecs(3)
}

/// Whole days from the day `day` (`YYYY-MM-DD`, UTC) to `now`; `None` when `day` is not such a date.
pub fn days_since(day: &str, now: &Timestamp) -> Option<i64> {
    let day = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
    Some((now.date_naive() - day).num_days())
}

/// Now and `lease` from now, in Unix milliseconds: the window an upload lease is held for in a store.
pub fn lease_window(lease: std::time::Duration) -> (i64, i64) {
    let now = now().timestamp_millis();
    let millis = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    (now, now.saturating_add(millis))
}

pub fn format(ts: &Timestamp) -> String {
    ts.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Serde helpers so every timestamp in records and events is written the same way.
pub mod serde_z {
    use super::{format, Timestamp};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(ts))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let raw = String::deserialize(d)?;
        chrono::DateTime::parse_from_rfc3339(&raw)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(serde::de::Error::custom)
    }

    pub mod option {
        use super::super::{format, Timestamp};
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(ts: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
            match ts {
                Some(t) => s.serialize_str(&format(t)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|raw| {
                    chrono::DateTime::parse_from_rfc3339(&raw)
                        .map(|t| t.with_timezone(&chrono::Utc))
                        .map_err(serde::de::Error::custom)
                })
                .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn formats_with_z_suffix() {
        let t = Utc.with_ymd_and_hms(2026, 11, 28, 22, 40, 5).unwrap();
        assert_eq!(format(&t), "2026-11-28T22:40:05.000Z");
    }
}
