//! Times as people type and read them: `--since`/`--until` values (`24h`,
//! `7d`, `2026-12-01`, `2026-12-01T08:00`), `--window` lengths, and times
//! shown in the user's local time zone.
//!
//! The zone and the current time are arguments, never read here, so every
//! form is tested with a fixed zone and clock; the commands pass
//! [`local_zone`] (the `TZ` variable, else `/etc/localtime`) and now.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::error::UsageError;

/// The user's time zone: `TZ` when set, else the system's (`/etc/localtime`),
/// else UTC.
pub fn local_zone() -> TimeZone {
    TimeZone::system()
}

/// A length of time as typed: a whole number and a unit, `30m`, `24h`, `7d`,
/// `2w` (also `90s`). `None` when `s` is not one.
pub fn parse_span(s: &str) -> Option<SignedDuration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = s.split_at(split);
    if digits.is_empty() || digits.len() > 9 {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    let unit_secs = match unit {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    Some(SignedDuration::from_secs(n.checked_mul(unit_secs)?))
}

/// A `--since`/`--until` value as an instant: a span back from `now`
/// ([`parse_span`]), a date (midnight in `tz`), a date and time in `tz`
/// (`2026-12-01T08:00`, `2026-12-01 08:00:30`), or an RFC 3339 time with
/// its offset (`2026-12-01T08:00:00Z`). `flag` names the option in the error.
pub fn parse_when(
    flag: &'static str,
    s: &str,
    now: Timestamp,
    tz: &TimeZone,
) -> Result<Timestamp, UsageError> {
    let bad = || UsageError::When {
        flag,
        given: s.to_owned(),
    };
    let t = s.trim();
    if t.is_empty() {
        return Err(bad());
    }
    if let Some(span) = parse_span(t) {
        return now.checked_sub(span).map_err(|_| bad());
    }
    // A date: exactly YYYY-MM-DD (jiff would also read other spellings).
    if t.len() == 10 {
        let date: Date = t.parse().map_err(|_| bad())?;
        return date
            .to_zoned_datetime(tz.clone())
            .map(|z| z.timestamp())
            .map_err(|_| bad());
    }
    let has_offset = t.ends_with(['Z', 'z'])
        || t.get(16..)
            .is_some_and(|rest| rest.contains('+') || rest.contains('-'));
    if has_offset {
        return t.parse::<Timestamp>().map_err(|_| bad());
    }
    let dt: DateTime = t.replacen(' ', "T", 1).parse().map_err(|_| bad())?;
    dt.to_zoned_datetime(tz.clone())
        .map(|z| z.timestamp())
        .map_err(|_| bad())
}

/// The longest `--window` the daemon accepts.
pub const MAX_WINDOW_DAYS: i64 = 400;

/// A `--window` value: a [`parse_span`] from one minute to
/// [`MAX_WINDOW_DAYS`].
pub fn parse_window(s: &str) -> Result<SignedDuration, UsageError> {
    match parse_span(s) {
        Some(d) if d.as_secs() >= 60 && d.as_secs() <= MAX_WINDOW_DAYS * 86_400 => Ok(d),
        _ => Err(UsageError::Window(s.to_owned())),
    }
}

/// A proto timestamp as a jiff one; `None` when unset or out of range.
pub fn from_proto(ts: Option<&prost_types::Timestamp>) -> Option<Timestamp> {
    let ts = ts?;
    Timestamp::new(ts.seconds, ts.nanos).ok()
}

/// A jiff timestamp as a proto one.
pub fn to_proto(ts: Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ts.as_second(),
        nanos: ts.subsec_nanosecond(),
    }
}

/// A proto duration as whole seconds (negative ones as 0); `None` when unset.
pub fn duration_secs(d: Option<&prost_types::Duration>) -> Option<u64> {
    d.map(|d| u64::try_from(d.seconds).unwrap_or(0))
}

/// `ts` in `tz` to the second: `2026-12-01 08:00:05`.
pub fn local_time(ts: Timestamp, tz: &TimeZone) -> String {
    ts.to_zoned_datetime(tz.clone())
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// `ts` in `tz` to the minute: `2026-12-01 08:00`.
pub fn local_minute(ts: Timestamp, tz: &TimeZone) -> String {
    ts.to_zoned_datetime(tz.clone())
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

/// `ts` in `tz` without the year: `12-01 08:00` (a timeline axis in hours).
pub fn local_hour(ts: Timestamp, tz: &TimeZone) -> String {
    ts.to_zoned_datetime(tz.clone())
        .strftime("%m-%d %H:%M")
        .to_string()
}

/// The date of `ts` in `tz`: `2026-12-01`.
pub fn local_date(ts: Timestamp, tz: &TimeZone) -> String {
    ts.to_zoned_datetime(tz.clone())
        .strftime("%Y-%m-%d")
        .to_string()
}

/// A proto timestamp in local time to the second, `-` when unset.
pub fn local_cell(ts: Option<&prost_types::Timestamp>, tz: &TimeZone) -> String {
    from_proto(ts).map_or_else(|| "-".to_owned(), |t| local_time(t, tz))
}

/// `ts` as RFC 3339 in UTC (`2026-12-01T07:00:05Z`, fractions only when
/// there are any), as exports write it.
pub fn rfc3339_utc(ts: Option<&prost_types::Timestamp>) -> String {
    from_proto(ts).map_or_else(String::new, |t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-12-06T04:00:00Z".parse().expect("now")
    }

    fn shanghai() -> TimeZone {
        TimeZone::fixed(jiff::tz::offset(8))
    }

    fn when(s: &str) -> Result<String, UsageError> {
        parse_when("--since", s, now(), &shanghai()).map(|t| t.to_string())
    }

    #[test]
    fn every_accepted_since_form() {
        let cases = [
            ("24h", "2026-12-05T04:00:00Z"),
            ("7d", "2026-11-29T04:00:00Z"),
            ("30m", "2026-12-06T03:30:00Z"),
            ("90s", "2026-12-06T03:58:30Z"),
            ("2w", "2026-11-22T04:00:00Z"),
            // Dates and times without an offset are the user's local time.
            ("2026-12-01", "2026-11-30T16:00:00Z"),
            ("2026-12-01T08:00", "2026-12-01T00:00:00Z"),
            ("2026-12-01 08:00:30", "2026-12-01T00:00:30Z"),
            ("2026-12-01T08:00:00Z", "2026-12-01T08:00:00Z"),
            ("2026-12-01T08:00:00+01:00", "2026-12-01T07:00:00Z"),
            (" 1d ", "2026-12-05T04:00:00Z"),
        ];
        for (input, want) in cases {
            assert_eq!(when(input).as_deref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn bad_since_values_name_the_accepted_forms() {
        for bad in [
            "",
            "yesterday",
            "24",
            "h",
            "-1d",
            "1.5h",
            "24 hours",
            "7y",
            "2026-13-01",
            "2026-12-32",
            "12/01/2026",
            "2026-12-01T25:00",
            "99999999999d",
        ] {
            let err = when(bad).expect_err(bad);
            assert_eq!(
                err,
                UsageError::When {
                    flag: "--since",
                    given: bad.to_owned()
                }
            );
            let msg = crate::error::CliError::Usage(err).message(posdiag_core::Lang::En);
            assert!(
                msg.contains("24h") && msg.contains("2026-12-01T08:00"),
                "{msg}"
            );
        }
    }

    #[test]
    fn windows_are_spans_up_to_400_days() {
        assert_eq!(parse_window("7d").map(|d| d.as_secs()), Ok(7 * 86_400));
        assert_eq!(parse_window("400d").map(|d| d.as_secs()), Ok(400 * 86_400));
        for bad in ["0d", "30s", "401d", "2026-12-01", "week"] {
            assert_eq!(
                parse_window(bad),
                Err(UsageError::Window(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn times_are_shown_in_the_local_zone() {
        let ts = to_proto("2026-12-01T00:00:05Z".parse().expect("ts"));
        assert_eq!(local_cell(Some(&ts), &shanghai()), "2026-12-01 08:00:05");
        assert_eq!(local_cell(Some(&ts), &TimeZone::UTC), "2026-12-01 00:00:05");
        assert_eq!(local_cell(None, &TimeZone::UTC), "-");
        assert_eq!(rfc3339_utc(Some(&ts)), "2026-12-01T00:00:05Z");
    }
}
