//! XPath values: nodes and atomic items.

use std::fmt;
use std::ops::Deref;
use std::rc::Rc;

use crate::decimal::Dec;

/// A node: a roxmltree node index, plus an attribute index (`attr = 0`: the node itself;
/// `attr = k`: its k-th attribute, 1-based). Ordering is document order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct N {
    /// Node index in the document.
    pub id: u32,
    /// 0 for the node itself, k for its k-th attribute.
    pub attr: u32,
}

impl N {
    /// Whether this is an attribute node.
    pub fn is_attr(self) -> bool {
        self.attr != 0
    }
}

/// A string, borrowed from the document or the rule tables, or owned.
#[derive(Clone, Debug)]
pub enum Txt<'a> {
    /// Borrowed.
    B(&'a str),
    /// Owned and shared.
    O(Rc<str>),
}

impl Deref for Txt<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            Txt::B(s) => s,
            Txt::O(s) => s,
        }
    }
}

impl<'a> Txt<'a> {
    /// An owned string.
    pub fn owned(s: String) -> Txt<'a> {
        Txt::O(Rc::from(s))
    }
}

/// An `xs:date` (timezone ignored).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    /// Year.
    pub y: i32,
    /// Month 1-12.
    pub m: u8,
    /// Day 1-31.
    pub d: u8,
}

impl Date {
    /// Parses `YYYY-MM-DD` with an optional timezone (`Z` or `±hh:mm`).
    pub fn parse(s: &str) -> Option<Date> {
        let s = s.trim();
        let (neg, s) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let b = s.as_bytes();
        // year has at least 4 digits
        let ydigits = b.iter().take_while(|c| c.is_ascii_digit()).count();
        if ydigits < 4 || b.len() < ydigits + 6 || b[ydigits] != b'-' || b[ydigits + 3] != b'-' {
            return None;
        }
        let y: i32 = s[..ydigits].parse().ok()?;
        let m: u8 = s.get(ydigits + 1..ydigits + 3)?.parse().ok()?;
        let d: u8 = s.get(ydigits + 4..ydigits + 6)?.parse().ok()?;
        let tz = &s[ydigits + 6..];
        let tz_ok = tz.is_empty()
            || tz == "Z"
            || (tz.len() == 6
                && (tz.starts_with('+') || tz.starts_with('-'))
                && tz.as_bytes()[3] == b':'
                && tz[1..3].parse::<u8>().is_ok_and(|h| h <= 14)
                && tz[4..6].parse::<u8>().is_ok_and(|mm| mm < 60));
        if !tz_ok || !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
            return None;
        }
        Some(Date {
            y: if neg { -y } else { y },
            m,
            d,
        })
    }
}

/// Days in a month of the proleptic Gregorian calendar.
pub fn days_in_month(y: i32, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 {
                29
            } else {
                28
            }
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.y, self.m, self.d)
    }
}

/// One item of a sequence.
#[derive(Clone, Debug)]
pub enum Item<'a> {
    /// A node.
    N(N),
    /// `xs:untypedAtomic` (an atomized node).
    U(Txt<'a>),
    /// `xs:string`.
    S(Txt<'a>),
    /// A number (`xs:decimal`, `xs:integer`, or an exactly computed `xs:double`).
    D(Dec),
    /// The `xs:double` NaN.
    NaN,
    /// `xs:boolean`.
    B(bool),
    /// `xs:date`.
    Date(Date),
}
