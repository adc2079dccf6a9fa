//! The one calendar and the one clock.
//!
//! Every `from`/`to` anywhere in Minqing — the event list, the models, the tiles, the
//! exports, Open311 — is read here, the same way: a date `YYYY-MM-DD` is a whole day in
//! China Standard Time (the district's own calendar, `Asia/Shanghai` from jiff's bundled
//! time-zone database), and both ends are inclusive; an RFC 3339 instant is that instant
//! (a `to` instant includes its own second). A [`Window`] is the half-open interval of
//! unix seconds that results, so `[from 00:00 CST, day after to 00:00 CST)`.
//!
//! Every "now" reads a [`Clock`]: the system's, shifted by an offset that tests move.

use crate::error::{Error, Result};
pub use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};

pub use minqing_analysis::efficiency::Window;

/// Seconds in a day.
pub const DAY: i64 = 86_400;

/// The district's time zone.
pub fn zone() -> &'static TimeZone {
    static ZONE: OnceLock<TimeZone> = OnceLock::new();
    // The bundled database always has it; the fixed +08:00 is what it says anyway.
    ZONE.get_or_init(|| {
        TimeZone::get("Asia/Shanghai").unwrap_or_else(|_| TimeZone::fixed(jiff::tz::offset(8)))
    })
}

/// A clock: the system time plus an offset (zero outside tests). Clones share the offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// Unix seconds now.
    pub fn now(&self) -> i64 {
        Timestamp::now().as_second() + self.offset.load(Ordering::Relaxed)
    }

    /// Move this clock (and every clone of it) `secs` forward (tests).
    pub fn advance(&self, secs: i64) {
        self.offset.fetch_add(secs, Ordering::Relaxed);
    }
}

/// Unix seconds now, on the system clock (for code that has no [`Clock`] at hand: the
/// CLI, the importer).
pub fn system_now() -> i64 {
    Timestamp::now().as_second()
}

fn zoned(unix: i64) -> Option<Zoned> {
    Some(Timestamp::from_second(unix).ok()?.to_zoned(zone().clone()))
}

/// The CST civil date of an instant.
pub fn local_date(unix: i64) -> Option<Date> {
    zoned(unix).map(|z| z.date())
}

/// `YYYY-MM-DD` (CST) of an instant.
pub fn format_date(unix: i64) -> String {
    local_date(unix).map_or_else(String::new, |d| d.to_string())
}

/// The CST calendar year of an instant.
pub fn local_year(unix: i64) -> i64 {
    local_date(unix).map_or(1970, |d| i64::from(d.year()))
}

/// `2024-03-05T08:09:10Z`.
pub fn format_utc(unix: i64) -> String {
    Timestamp::from_second(unix).map_or_else(|_| String::new(), |t| t.to_string())
}

/// `2024-03-05T16:09:10+08:00` (the district's local time, with its offset).
pub fn format_local(unix: i64) -> String {
    zoned(unix).map_or_else(String::new, |z| {
        z.timestamp().display_with_offset(z.offset()).to_string()
    })
}

/// 00:00 CST of a civil date, in unix seconds.
pub fn day_start(date: Date) -> Option<i64> {
    Some(date.to_zoned(zone().clone()).ok()?.timestamp().as_second())
}

/// A strict `YYYY-MM-DD` civil date.
pub fn parse_date(s: &str) -> Option<Date> {
    parse_day(s.trim())
}

/// The last second (unix) of a CST civil date: 23:59:59 CST.
pub fn day_end(date: Date) -> Option<i64> {
    Some(day_start(date.tomorrow().ok()?)? - 1)
}

/// Today's CST civil date at `now`, as `YYYY-MM-DD`.
pub fn today(now: i64) -> String {
    format_date(now)
}

/// A strict `YYYY-MM-DD`.
fn parse_day(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    s.parse::<Date>().ok()
}

/// Which end of a window a value bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    From,
    To,
}

/// One end of a window, as unix seconds of the half-open interval: a date's 00:00 CST
/// (`From`) or the next day's (`To`, so the day is included); an RFC 3339 instant as it
/// is (`To`: plus one second, so that second is included). `None` if `s` is neither.
pub fn parse_bound(s: &str, end: End) -> Option<i64> {
    let s = s.trim();
    if let Some(date) = parse_day(s) {
        let date = match end {
            End::From => date,
            End::To => date.tomorrow().ok()?,
        };
        return day_start(date);
    }
    let t: Timestamp = s.parse().ok()?;
    Some(match end {
        End::From => t.as_second(),
        End::To => t.as_second() + 1,
    })
}

/// The window of optional `from`/`to` parameters (see the module doc); `None` when both
/// are absent or empty. An unreadable value or `from` after `to` is [`Error::Invalid`],
/// naming the parameter.
pub fn parse_window(from: Option<&str>, to: Option<&str>) -> Result<Option<Window>> {
    let read = |name: &str, v: Option<&str>, end: End| -> Result<Option<i64>> {
        match v.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => parse_bound(s, end).map(Some).ok_or_else(|| {
                Error::Invalid(format!(
                    "{name} must be a date YYYY-MM-DD (whole days in China Standard Time, both ends inclusive) or an RFC 3339 instant, got {s:?}"
                ))
            }),
        }
    };
    let from = read("from", from, End::From)?;
    let to = read("to", to, End::To)?;
    match (from, to) {
        (None, None) => Ok(None),
        (f, t) => {
            let w = Window::new(f.unwrap_or(i64::MIN / 4), t.unwrap_or(i64::MAX / 4));
            if w.from >= w.to {
                return Err(Error::Invalid("from must not be after to".into()));
            }
            Ok(Some(w))
        }
    }
}

/// An instant: an RFC 3339 date-time, or a date (its 00:00 CST).
pub fn parse_instant(s: &str) -> Option<i64> {
    parse_bound(s, End::From)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_whole_cst_days_both_ends_inclusive() {
        // 2024-03-01 00:00 CST = 2024-02-29T16:00:00Z.
        let w = parse_window(Some("2024-03-01"), Some("2024-03-31"))
            .unwrap()
            .unwrap();
        assert_eq!(format_utc(w.from), "2024-02-29T16:00:00Z");
        assert_eq!(format_utc(w.to), "2024-03-31T16:00:00Z");
        assert!(w.contains(parse_instant("2024-03-31T23:59:59+08:00").unwrap()));
        assert!(!w.contains(parse_instant("2024-04-01T00:00:00+08:00").unwrap()));
        assert!(w.contains(parse_instant("2024-02-29T16:00:00Z").unwrap()));
        assert!(!w.contains(parse_instant("2024-02-29T15:59:59Z").unwrap()));
        // One day, from = to.
        let d = parse_window(Some("2024-02-29"), Some("2024-02-29"))
            .unwrap()
            .unwrap();
        assert_eq!(d.to - d.from, DAY);
    }

    #[test]
    fn instants_and_errors() {
        let w = parse_window(Some("2024-01-01T00:00:00Z"), Some("2024-01-01T00:00:10Z"))
            .unwrap()
            .unwrap();
        assert_eq!(w.to - w.from, 11);
        assert_eq!(parse_window(None, Some("")).unwrap(), None);
        for bad in [
            "2024-13-01",
            "2024-02-30",
            "yesterday",
            "1704038400",
            "2024-1-1",
        ] {
            assert!(parse_window(Some(bad), None).is_err(), "{bad}");
        }
        assert!(parse_window(Some("2024-03-02"), Some("2024-03-01")).is_err());
    }

    #[test]
    fn formats_and_years() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_date(1_704_038_400), "2024-01-01");
        assert_eq!(local_year(1_704_038_399), 2023);
        assert_eq!(local_year(1_704_038_400), 2024);
        assert_eq!(format_local(1_704_038_400), "2024-01-01T00:00:00+08:00");
    }

    #[test]
    fn the_clock_moves_with_its_clones() {
        let c = Clock::system();
        let d = c.clone();
        let before = d.now();
        c.advance(3600);
        assert!(d.now() >= before + 3600);
    }
}
