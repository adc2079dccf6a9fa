//! Unix seconds ↔ RFC 3339 / ISO 8601 without a calendar dependency (proleptic
//! Gregorian, Howard Hinnant's civil-date algorithms).

/// Days since 1970-01-01 of a civil date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// `2024-03-05T08:09:10Z`.
pub fn format_utc(unix: i64) -> String {
    let (y, m, d) = civil_from_days(unix.div_euclid(86_400));
    let s = unix.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// The calendar year (UTC+8, the district's local time) of an instant.
pub fn local_year(unix: i64) -> i64 {
    civil_from_days((unix + 8 * 3600).div_euclid(86_400)).0
}

/// Parse unix seconds, a date `YYYY-MM-DD` (midnight UTC) or an RFC 3339 / ISO 8601
/// date-time with `Z` or a `±HH:MM` offset (fractional seconds ignored).
pub fn parse(s: &str) -> Option<i64> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'-') && !s.contains('-') {
        return s.parse().ok();
    }
    let num = |t: &str| -> Option<i64> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (date, rest) = match s.find(['T', 't', ' ']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut parts = date.split('-');
    let (y, m, d) = (
        num(parts.next()?)?,
        num(parts.next()?)?,
        num(parts.next()?)?,
    );
    if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut t = days_from_civil(y, m, d) * 86_400;
    if let Some(rest) = rest {
        let (clock, offset) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
            (c, 0)
        } else if let Some(i) = rest.rfind(['+', '-']) {
            let (c, o) = rest.split_at(i);
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let (oh, om) = o[1..].split_once(':').unwrap_or((&o[1..], "0"));
            (c, sign * (num(oh)? * 3600 + num(om)? * 60))
        } else {
            (rest, 0)
        };
        let clock = clock.split('.').next()?;
        let mut f = clock.split(':');
        let h = num(f.next()?)?;
        let mi = num(f.next()?)?;
        let sec = f.next().map(num).unwrap_or(Some(0))?;
        if h > 23 || mi > 59 || sec > 60 {
            return None;
        }
        t += h * 3600 + mi * 60 + sec - offset;
    }
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_offsets() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(1_704_038_400), "2023-12-31T16:00:00Z");
        assert_eq!(parse("2023-12-31T16:00:00Z"), Some(1_704_038_400));
        assert_eq!(parse("2024-01-01T00:00:00+08:00"), Some(1_704_038_400));
        assert_eq!(parse("2010-04-14T06:37:38-08:00"), Some(1_271_255_858));
        assert_eq!(parse("1704038400"), Some(1_704_038_400));
        assert_eq!(parse("2024-01-01"), Some(1_704_067_200));
        assert_eq!(parse("2024-13-01"), None);
        assert_eq!(parse("yesterday"), None);
        assert_eq!(local_year(1_704_038_400), 2024);
        for t in [0, 951_782_400, 1_709_164_800, 4_102_444_799] {
            assert_eq!(parse(&format_utc(t)), Some(t));
        }
    }
}
