//! Value syntax and canonical forms: EPCIS date-time stamps (validation and UTC
//! millisecond form), time zone offsets, decimal numbers (validation and the form without
//! trailing zeros).

/// A parsed `xsd:dateTimeStamp` as EPCIS restricts it (offset required).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub unix_seconds: i64,
    /// Fraction of the second in nanoseconds (digits beyond are dropped).
    pub nanos: u32,
}

fn digits(s: &[u8], n: usize) -> Option<u32> {
    if s.len() < n || !s[..n].iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s[..n].iter().fold(0, |a, d| a * 10 + u32::from(d - b'0')))
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Parses an EPCIS date-time stamp: `YYYY-MM-DDThh:mm:ss(.s+)?(Z|±hh:mm)`, offset
/// required (EPCIS 2.0 XSD `DateTimeStamp`, JSON Schema `format: date-time`).
pub fn parse_datetime(s: &str) -> Result<DateTime, String> {
    let b = s.as_bytes();
    let bad = || {
        format!(
            "`{s}` is not a date-time with a time zone offset (YYYY-MM-DDThh:mm:ss[.fff](Z|±hh:mm))"
        )
    };
    if b.len() < 20 {
        return Err(bad());
    }
    let year = digits(b, 4).ok_or_else(bad)?;
    if b[4] != b'-' || b[7] != b'-' || (b[10] != b'T') || b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    let month = digits(&b[5..], 2).ok_or_else(bad)?;
    let day = digits(&b[8..], 2).ok_or_else(bad)?;
    let hour = digits(&b[11..], 2).ok_or_else(bad)?;
    let minute = digits(&b[14..], 2).ok_or_else(bad)?;
    let second = digits(&b[17..], 2).ok_or_else(bad)?;
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(i64::from(year), month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return Err(format!(
            "`{s}` is not a valid date-time (field out of range)"
        ));
    }
    let mut i = 19;
    let mut nanos: u64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            let d = u64::from(b[i] - b'0');
            let k = i - start;
            if k < 9 {
                nanos += d * 10u64.pow(8 - k as u32);
            }
            i += 1;
        }
        if i == start {
            return Err(bad());
        }
    }
    let offset_minutes: i64 = match &b[i..] {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), rest @ ..] if rest.len() == 5 && rest[2] == b':' => {
            let h = digits(rest, 2).ok_or_else(bad)?;
            let m = digits(&rest[3..], 2).ok_or_else(bad)?;
            if m > 59 || h > 14 || (h == 14 && m != 0) {
                return Err(format!(
                    "`{s}`: time zone offset out of range (-14:00…+14:00)"
                ));
            }
            let v = i64::from(h * 60 + m);
            if *sign == b'-' { -v } else { v }
        }
        _ => return Err(bad()),
    };
    let days = days_from_civil(i64::from(year), month, day);
    let unix = days * 86400 + i64::from(hour * 3600 + minute * 60 + second) - offset_minutes * 60;
    Ok(DateTime {
        unix_seconds: unix,
        nanos: nanos as u32,
    })
}

/// The canonical form of a date-time for the Event Hash ID: UTC, `Z`, exactly three
/// fraction digits, the third rounded up when the fourth is 5–9 (CBV 2.0 §8.9 rule 9).
pub fn canonical_datetime(s: &str) -> Option<String> {
    let mut out = String::with_capacity(24);
    write_canonical_datetime(&mut out, s).then_some(out)
}

fn push_digits(out: &mut String, v: i64, width: usize) {
    if v < 0 {
        use std::fmt::Write as _;
        let _ = write!(out, "{v:0width$}");
        return;
    }
    let mut buf = [b'0'; 20];
    let mut n = v.unsigned_abs();
    let mut i = buf.len();
    while n > 0 {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    let start = i.min(buf.len() - width.min(buf.len()));
    out.push_str(std::str::from_utf8(&buf[start..]).unwrap_or("0"));
}

/// [`canonical_datetime`] appended to `out`; `false` (nothing written) when `s` is not a
/// date-time stamp.
pub fn write_canonical_datetime(out: &mut String, s: &str) -> bool {
    let Ok(dt) = parse_datetime(s.trim()) else {
        return false;
    };
    // round to milliseconds: half up on the 4th digit
    let mut millis = i64::from(dt.nanos / 1_000_000);
    let rest = dt.nanos % 1_000_000;
    if rest >= 500_000 {
        millis += 1;
    }
    let mut secs = dt.unix_seconds;
    if millis >= 1000 {
        secs += 1;
        millis -= 1000;
    }
    let days = secs.div_euclid(86400);
    let sod = secs.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    push_digits(out, y, 4);
    out.push('-');
    push_digits(out, i64::from(m), 2);
    out.push('-');
    push_digits(out, i64::from(d), 2);
    out.push('T');
    push_digits(out, sod / 3600, 2);
    out.push(':');
    push_digits(out, (sod / 60) % 60, 2);
    out.push(':');
    push_digits(out, sod % 60, 2);
    out.push('.');
    push_digits(out, millis, 3);
    out.push('Z');
    true
}

/// Formats seconds since the Unix epoch as `YYYY-MM-DDThh:mm:ss.000Z`.
pub fn format_unix(secs: i64) -> String {
    let days = secs.div_euclid(86400);
    let sod = secs.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// Checks an `eventTimeZoneOffset`: `±hh:mm` between -14:00 and +14:00 (EPCIS 2.0 §7.3.6;
/// JSON Schema pattern `^([+]|[-])((0[0-9]|1[0-3]):([0-5][0-9])|14:00)$`).
pub fn check_tz_offset(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let ok = b.len() == 6
        && (b[0] == b'+' || b[0] == b'-')
        && b[3] == b':'
        && match (digits(&b[1..], 2), digits(&b[4..], 2)) {
            (Some(h), Some(m)) => (h <= 13 && m <= 59) || (h == 14 && m == 0),
            _ => false,
        };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "eventTimeZoneOffset `{s}` is not ±hh:mm between -14:00 and +14:00"
        ))
    }
}

/// Whether `s` is an `xsd:decimal`/`xsd:double` lexical number (sign, digits, fraction,
/// exponent).
pub fn is_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut n_digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        n_digits += i - f;
    }
    if n_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let e = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return false;
        }
    }
    i == b.len()
}

/// The canonical decimal form of a number (CBV 2.0 §8.9 rule 6): no sign `+`, no leading
/// or trailing zeros, no trailing `.`, exponents expanded (`1.50` → `1.5`, `+007` → `7`,
/// `2.5E2` → `250`, `-0.0` → `0`). `None` when `s` is not a number.
pub fn canonical_number(s: &str) -> Option<String> {
    if !is_number(s) {
        return None;
    }
    let (neg, body) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(p) => (&body[..p], body[p + 1..].parse::<i64>().ok()?),
        None => (body, 0),
    };
    let (int, frac) = match mantissa.find('.') {
        Some(p) => (&mantissa[..p], &mantissa[p + 1..]),
        None => (mantissa, ""),
    };
    let mut all: Vec<u8> = int.bytes().chain(frac.bytes()).collect();
    // position of the decimal point within `all`
    let mut point = int.len() as i64 + exp;
    if exp.abs() > 400 {
        return None;
    }
    while point < 0 {
        all.insert(0, b'0');
        point += 1;
    }
    while point as usize > all.len() {
        all.push(b'0');
    }
    let point = point as usize;
    let (i, f) = all.split_at(point);
    let i = std::str::from_utf8(i).ok()?.trim_start_matches('0');
    let f = std::str::from_utf8(f).ok()?.trim_end_matches('0');
    let mut out = String::new();
    let zero = i.is_empty() && f.is_empty();
    if neg && !zero {
        out.push('-');
    }
    out.push_str(if i.is_empty() { "0" } else { i });
    if !f.is_empty() {
        out.push('.');
        out.push_str(f);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes() {
        assert_eq!(
            canonical_datetime("2005-04-03T20:33:31.116000-06:00").unwrap(),
            "2005-04-04T02:33:31.116Z"
        );
        assert_eq!(
            canonical_datetime("2020-03-04T11:00:30+01:00").unwrap(),
            "2020-03-04T10:00:30.000Z"
        );
        assert_eq!(
            canonical_datetime("2023-01-18T11:04:03.1415Z").unwrap(),
            "2023-01-18T11:04:03.142Z"
        );
        assert_eq!(
            canonical_datetime("2023-12-31T23:59:59.9996Z").unwrap(),
            "2024-01-01T00:00:00.000Z"
        );
        assert_eq!(
            canonical_datetime("2024-02-29T00:30:00.1234+14:00").unwrap(),
            "2024-02-28T10:30:00.123Z"
        );
        for bad in [
            "2020-03-04T11:00:30",
            "2020-13-04T11:00:30Z",
            "2021-02-29T11:00:30Z",
            "2020-03-04 11:00:30Z",
            "2020-03-04T11:00:30.Z",
            "2020-03-04T11:00:30+15:00",
            "yesterday",
        ] {
            assert!(parse_datetime(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn offsets() {
        for ok in ["+01:00", "-06:00", "+14:00", "-13:59", "+00:00"] {
            assert!(check_tz_offset(ok).is_ok(), "{ok}");
        }
        for bad in ["+14:30", "01:00", "+1:00", "+01:60", "Z", "+0100"] {
            assert!(check_tz_offset(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers() {
        let c = |s| canonical_number(s).unwrap();
        assert_eq!(c("1.0"), "1");
        assert_eq!(c("0.3434"), "0.3434");
        assert_eq!(c("+007.50"), "7.5");
        assert_eq!(c("2.5E2"), "250");
        assert_eq!(c("1e-3"), "0.001");
        assert_eq!(c("-0.0"), "0");
        assert_eq!(c("-12.10"), "-12.1");
        assert_eq!(c(".5"), "0.5");
        assert_eq!(c("100"), "100");
        assert!(canonical_number("1.2.3").is_none());
        assert!(canonical_number("abc").is_none());
        assert!(canonical_number("").is_none());
        assert!(canonical_number("1e").is_none());
    }
}
