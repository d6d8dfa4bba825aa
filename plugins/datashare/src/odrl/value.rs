//! Operand values of ODRL constraints and their comparison: numbers, `xsd:dateTime`,
//! `xsd:date`, `xsd:duration`, booleans, strings and IRIs.

use std::cmp::Ordering;

use oxrdf::{Literal, NamedNode, Term};

use crate::rdf::XSD;

/// A comparable value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Any XSD numeric type.
    Number(f64),
    /// An instant, milliseconds since 1970-01-01T00:00:00Z (no time zone = UTC).
    DateTime(i64),
    /// A day, days since 1970-01-01.
    Date(i64),
    /// A duration: months and milliseconds (either may be negative).
    Duration(i64, i64),
    /// `xsd:boolean`.
    Bool(bool),
    /// Any other literal: its lexical form.
    Text(String),
    /// An IRI or blank node: compared for identity only.
    Node(Term),
}

impl Value {
    /// The value of an RDF term.
    pub fn of(term: &Term) -> Value {
        match term {
            Term::Literal(l) => Value::of_literal(l),
            other => Value::Node(other.clone()),
        }
    }

    /// The value of a literal, by datatype (a lexical form that does not fit its datatype
    /// stays text).
    pub fn of_literal(l: &Literal) -> Value {
        let dt = l.datatype().as_str();
        let v = l.value().trim();
        let local = dt.strip_prefix(XSD).unwrap_or("");
        let parsed = match local {
            "integer" | "decimal" | "double" | "float" | "int" | "long" | "short" | "byte"
            | "nonNegativeInteger" | "positiveInteger" | "nonPositiveInteger"
            | "negativeInteger" | "unsignedInt" | "unsignedLong" | "unsignedShort"
            | "unsignedByte" => parse_number(v).map(Value::Number),
            "dateTime" | "dateTimeStamp" => parse_datetime(v).map(Value::DateTime),
            "date" => parse_date(v).map(Value::Date),
            "duration" | "dayTimeDuration" | "yearMonthDuration" => {
                parse_duration(v).map(|(m, ms)| Value::Duration(m, ms))
            }
            "boolean" => match v {
                "true" | "1" => Some(Value::Bool(true)),
                "false" | "0" => Some(Value::Bool(false)),
                _ => None,
            },
            _ => None,
        };
        parsed.unwrap_or_else(|| Value::Text(l.value().to_string()))
    }

    /// Compares two values: `None` when they are of kinds that have no order between them.
    /// Plain text is compared as a number, date or duration when the other side is one and
    /// the text parses as such.
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        use Value::*;
        match (self, other) {
            (Number(a), Number(b)) => a.partial_cmp(b),
            (DateTime(a), DateTime(b)) => Some(a.cmp(b)),
            (Date(a), Date(b)) => Some(a.cmp(b)),
            (DateTime(a), Date(b)) => Some(a.div_euclid(DAY_MS).cmp(b)),
            (Date(a), DateTime(b)) => Some(a.cmp(&b.div_euclid(DAY_MS))),
            (Duration(m1, s1), Duration(m2, s2)) => {
                let (a, b) = (m1.cmp(m2), s1.cmp(s2));
                match (a, b) {
                    (x, Ordering::Equal) | (Ordering::Equal, x) => Some(x),
                    (x, y) if x == y => Some(x),
                    _ => None,
                }
            }
            (Bool(a), Bool(b)) => (a == b).then_some(Ordering::Equal),
            (Text(a), Text(b)) => Some(a.cmp(b)),
            (Node(a), Node(b)) => (a == b).then_some(Ordering::Equal),
            (Text(t), typed) => coerce(t, typed)?.compare(typed),
            (typed, Text(t)) => typed.compare(&coerce(t, typed)?),
            _ => None,
        }
    }

    /// The value as an RDF term (for the report's operands).
    pub fn to_term(&self) -> Term {
        let typed = |v: String, dt: &str| {
            Term::Literal(Literal::new_typed_literal(
                v,
                NamedNode::new_unchecked(format!("{XSD}{dt}")),
            ))
        };
        match self {
            Value::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => {
                typed(format!("{n}"), "integer")
            }
            Value::Number(n) => typed(format!("{n}"), "decimal"),
            Value::DateTime(ms) => typed(format_datetime(*ms), "dateTime"),
            Value::Date(d) => typed(format_date(*d), "date"),
            Value::Duration(m, ms) => typed(format_duration(*m, *ms), "duration"),
            Value::Bool(b) => typed(b.to_string(), "boolean"),
            Value::Text(t) => Term::Literal(Literal::new_simple_literal(t)),
            Value::Node(t) => t.clone(),
        }
    }
}

fn coerce(text: &str, like: &Value) -> Option<Value> {
    let t = text.trim();
    match like {
        Value::Number(_) => parse_number(t).map(Value::Number),
        Value::DateTime(_) | Value::Date(_) => parse_datetime(t)
            .map(Value::DateTime)
            .or_else(|| parse_date(t).map(Value::Date)),
        Value::Duration(..) => parse_duration(t).map(|(m, s)| Value::Duration(m, s)),
        Value::Bool(_) => match t {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        Value::Node(Term::NamedNode(_)) => Some(Value::Node(crate::rdf::iri(t))),
        _ => None,
    }
}

const DAY_MS: i64 = 86_400_000;

fn parse_number(s: &str) -> Option<f64> {
    match s {
        "INF" => Some(f64::INFINITY),
        "-INF" => Some(f64::NEG_INFINITY),
        _ if s.is_empty() || s.contains(['e', 'E']) && !s.chars().any(|c| c.is_ascii_digit()) => {
            None
        }
        _ => s.parse::<f64>().ok().filter(|n| !n.is_nan()),
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn digits(s: &str) -> Option<i64> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// Splits a trailing `Z` or `±hh:mm` zone off; returns (rest, offset in minutes).
fn split_zone(s: &str) -> Option<(&str, i64)> {
    if let Some(rest) = s.strip_suffix('Z') {
        return Some((rest, 0));
    }
    if s.len() > 6 {
        let (rest, zone) = s.split_at(s.len() - 6);
        let zb = zone.as_bytes();
        if (zb[0] == b'+' || zb[0] == b'-') && zb[3] == b':' {
            let h = digits(&zone[1..3])?;
            let m = digits(&zone[4..6])?;
            let off = h * 60 + m;
            return Some((rest, if zb[0] == b'-' { -off } else { off }));
        }
    }
    Some((s, 0))
}

fn parse_ymd(s: &str) -> Option<i64> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let mut parts = s.splitn(3, '-');
    let y = digits(parts.next()?)?;
    let m = digits(parts.next()?)? as u32;
    let d = digits(parts.next()?)? as u32;
    if !(1..=12).contains(&m) || d == 0 || d > 31 {
        return None;
    }
    Some(days_from_civil(if neg { -y } else { y }, m, d))
}

/// Parses `xsd:dateTime` into milliseconds since the epoch (UTC; no zone = UTC).
pub fn parse_datetime(s: &str) -> Option<i64> {
    let (rest, offset) = split_zone(s.trim())?;
    let (date, time) = rest.split_once('T')?;
    let days = parse_ymd(date)?;
    let mut tp = time.splitn(3, ':');
    let h = digits(tp.next()?)?;
    let mi = digits(tp.next()?)?;
    let sec = tp.next()?;
    let (whole, frac) = sec.split_once('.').unwrap_or((sec, ""));
    let sec = digits(whole)?;
    if h > 24 || mi > 59 || sec > 60 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let ms = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0, |n, b| n * 10 + i64::from(b - b'0'));
    Some(days * DAY_MS + ((h * 60 + mi - offset) * 60 + sec) * 1000 + ms)
}

/// Parses `xsd:date` into days since the epoch (the zone is ignored).
pub fn parse_date(s: &str) -> Option<i64> {
    let (rest, _) = split_zone(s.trim())?;
    parse_ymd(rest)
}

/// Parses `xsd:duration` (`-P1Y2M3DT4H5M6.5S`) into (months, milliseconds).
pub fn parse_duration(s: &str) -> Option<(i64, i64)> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let s = s.strip_prefix('P')?;
    let (date, time) = match s.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, t),
        Some(_) => return None,
        None => (s, ""),
    };
    let (mut months, mut ms) = (0i64, 0f64);
    let mut any = false;
    let mut num = String::new();
    for c in date.chars() {
        match c {
            '0'..='9' => num.push(c),
            'Y' | 'M' | 'D' => {
                let n: i64 = num.parse().ok()?;
                num.clear();
                any = true;
                match c {
                    'Y' => months += n * 12,
                    'M' => months += n,
                    _ => ms += n as f64 * DAY_MS as f64,
                }
            }
            _ => return None,
        }
    }
    for c in time.chars() {
        match c {
            '0'..='9' | '.' => num.push(c),
            'H' | 'M' | 'S' => {
                let n: f64 = num.parse().ok()?;
                num.clear();
                any = true;
                ms += n * match c {
                    'H' => 3_600_000.0,
                    'M' => 60_000.0,
                    _ => 1000.0,
                };
            }
            _ => return None,
        }
    }
    if !any || !num.is_empty() {
        return None;
    }
    let ms = ms.round() as i64;
    Some(if neg { (-months, -ms) } else { (months, ms) })
}

/// Formats milliseconds since the epoch as `xsd:dateTime` in UTC with milliseconds.
pub fn format_datetime(ms: i64) -> String {
    let days = ms.div_euclid(DAY_MS);
    let rem = ms.rem_euclid(DAY_MS);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

fn format_duration(months: i64, ms: i64) -> String {
    let neg = months < 0 || ms < 0;
    let (months, ms) = (months.abs(), ms.abs());
    let mut s = String::from(if neg { "-P" } else { "P" });
    if months > 0 {
        s.push_str(&format!("{months}M"));
    }
    if ms > 0 || months == 0 {
        let secs = ms as f64 / 1000.0;
        s.push_str(&format!("T{secs}S"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_dates_and_durations() {
        let a = parse_datetime("2024-02-12T11:20:10.999Z").unwrap();
        assert_eq!(format_datetime(a), "2024-02-12T11:20:10.999Z");
        assert_eq!(parse_datetime("2024-02-12T12:20:10.999+01:00"), Some(a));
        assert_eq!(parse_datetime("2024-02-12"), None);
        assert_eq!(parse_date("2024-02-12"), Some(a.div_euclid(DAY_MS)));
        assert_eq!(
            Value::DateTime(a).compare(&Value::Date(parse_date("2024-02-12").unwrap())),
            Some(Ordering::Equal)
        );
        assert_eq!(parse_duration("P1Y2M"), Some((14, 0)));
        assert_eq!(parse_duration("PT1H30M"), Some((0, 5_400_000)));
        assert_eq!(parse_duration("P"), None);
        assert_eq!(
            Value::Duration(1, 0).compare(&Value::Duration(0, 30 * DAY_MS)),
            None,
            "a month and 30 days have no defined order"
        );
        assert_eq!(
            Value::Number(2.0).compare(&Value::Text("10".into())),
            Some(Ordering::Less)
        );
    }
}
