//! Exact decimal arithmetic for `xs:decimal` (and for the `xs:double` values the rules
//! compute, which this plugin evaluates exactly too): a 128-bit mantissa and a decimal
//! scale. No floating point anywhere.

use std::cmp::Ordering;
use std::fmt;

/// A decimal number `m / 10^s`.
#[derive(Clone, Copy, Debug)]
pub struct Dec {
    m: i128,
    s: u32,
}

/// Digits kept after the point by `div` (Saxon's `xs:decimal` division precision).
const DIV_SCALE: u32 = 18;
/// Scales above this are reduced after multiplication to keep the mantissa in range.
const MAX_SCALE: u32 = 30;

/// Powers of ten that fit an `i128`.
const POW10: [i128; 39] = {
    let mut t = [1i128; 39];
    let mut i = 1;
    while i < 39 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

fn pow10(n: u32) -> Option<i128> {
    POW10.get(n as usize).copied()
}

impl Dec {
    /// Zero.
    pub const ZERO: Dec = Dec { m: 0, s: 0 };

    /// A decimal from mantissa and scale.
    pub const fn new(m: i128, s: u32) -> Dec {
        Dec { m, s }
    }

    /// An integer.
    pub const fn int(i: i64) -> Dec {
        Dec { m: i as i128, s: 0 }
    }

    /// Parses the `xs:decimal` lexical form (optional sign, digits, optional fraction;
    /// no exponent). Surrounding whitespace is not allowed: trim first.
    pub fn parse(text: &str) -> Option<Dec> {
        let b = text.as_bytes();
        let mut i = 0;
        let neg = match b.first() {
            Some(b'-') => {
                i = 1;
                true
            }
            Some(b'+') => {
                i = 1;
                false
            }
            _ => false,
        };
        if b.len() - i <= 19 {
            // at most 19 digits: a u64 cannot overflow (no 128-bit multiplications)
            let mut m: u64 = 0;
            let mut s: u32 = 0;
            let mut digits = 0;
            let mut seen_point = false;
            for &c in &b[i..] {
                if c == b'.' {
                    if seen_point {
                        return None;
                    }
                    seen_point = true;
                } else if c.is_ascii_digit() {
                    digits += 1;
                    m = m * 10 + (c - b'0') as u64;
                    if seen_point {
                        s += 1;
                    }
                } else {
                    return None;
                }
            }
            if digits == 0 {
                return None;
            }
            let m = m as i128;
            return Some(Dec {
                m: if neg { -m } else { m },
                s,
            });
        }
        let mut m: i128 = 0;
        let mut s: u32 = 0;
        let mut digits = 0;
        let mut seen_point = false;
        while i < b.len() {
            let c = b[i];
            if c == b'.' {
                if seen_point {
                    return None;
                }
                seen_point = true;
            } else if c.is_ascii_digit() {
                digits += 1;
                if m > i128::MAX / 100 {
                    // too many significant digits: drop further fraction digits, reject huge integers
                    if !seen_point {
                        return None;
                    }
                } else {
                    m = m * 10 + (c - b'0') as i128;
                    if seen_point {
                        s += 1;
                    }
                }
            } else {
                return None;
            }
            i += 1;
        }
        if digits == 0 {
            return None;
        }
        Some(Dec {
            m: if neg { -m } else { m },
            s,
        })
    }

    /// Parses the `xs:double` lexical form (decimal with optional exponent) exactly.
    /// `INF`, `-INF` and `NaN` give `None`.
    pub fn parse_double(text: &str) -> Option<Dec> {
        match text.find(['e', 'E']) {
            None => Dec::parse(text),
            Some(p) => {
                let base = Dec::parse(&text[..p])?;
                let exp: i32 = text[p + 1..].parse().ok()?;
                if exp.unsigned_abs() > 60 {
                    return None;
                }
                if exp >= 0 {
                    base.checked_mul(Dec::new(pow10(exp as u32)?, 0))
                } else {
                    Some(Dec {
                        m: base.m,
                        s: base.s + exp.unsigned_abs(),
                    })
                    .map(|d| d.reduce())
                }
            }
        }
    }

    /// The mantissa and scale.
    pub fn parts(self) -> (i128, u32) {
        (self.m, self.s)
    }

    /// Whether the value is zero.
    pub fn is_zero(self) -> bool {
        self.m == 0
    }

    /// Whether the value is negative.
    pub fn is_negative(self) -> bool {
        self.m < 0
    }

    /// Whether the value has no fractional part.
    pub fn is_integer(self) -> bool {
        self.s == 0 || self.m % pow10(self.s).unwrap_or(i128::MAX) == 0
    }

    /// The value as an `i64`, if it is an integer in range.
    pub fn to_i64(self) -> Option<i64> {
        let t = self.trunc();
        i64::try_from(t.m).ok()
    }

    /// Removes trailing zeros of the fraction.
    pub fn reduce(self) -> Dec {
        if self.s == 0 || self.m == 0 {
            return Dec { m: self.m, s: 0 };
        }
        if let Ok(mut m) = i64::try_from(self.m) {
            let mut s = self.s;
            while s > 0 && m % 10 == 0 {
                m /= 10;
                s -= 1;
            }
            return Dec { m: m as i128, s };
        }
        let mut d = self;
        while d.s > 0 && d.m % 10 == 0 {
            d.m /= 10;
            d.s -= 1;
        }
        d
    }

    fn rescale(self, s: u32) -> Option<Dec> {
        if s == self.s {
            Some(self)
        } else if s > self.s {
            Some(Dec {
                m: self.m.checked_mul(pow10(s - self.s)?)?,
                s,
            })
        } else {
            None
        }
    }

    fn align(a: Dec, b: Dec) -> Option<(i128, i128, u32)> {
        let s = a.s.max(b.s);
        Some((a.rescale(s)?.m, b.rescale(s)?.m, s))
    }

    /// `a + b`.
    pub fn checked_add(self, o: Dec) -> Option<Dec> {
        let (a, b, s) = Dec::align(self, o)?;
        Some(Dec {
            m: a.checked_add(b)?,
            s,
        })
    }

    /// `a - b`.
    pub fn checked_sub(self, o: Dec) -> Option<Dec> {
        let (a, b, s) = Dec::align(self, o)?;
        Some(Dec {
            m: a.checked_sub(b)?,
            s,
        })
    }

    /// `a * b`.
    pub fn checked_mul(self, o: Dec) -> Option<Dec> {
        let a = self.reduce();
        let b = o.reduce();
        let mut d = Dec {
            m: a.m.checked_mul(b.m)?,
            s: a.s + b.s,
        };
        if d.s > MAX_SCALE {
            d = d.round_to(MAX_SCALE);
        }
        Some(d)
    }

    /// `a div b`: at least 18 fraction digits, truncated (Saxon's decimal division).
    pub fn checked_div(self, o: Dec) -> Option<Dec> {
        if o.m == 0 {
            return None;
        }
        let a = self.reduce();
        let b = o.reduce();
        let mut scale = DIV_SCALE.max(a.s).max(b.s);
        loop {
            // result = a.m * 10^(scale - a.s + b.s) / b.m
            let shift = scale + b.s - a.s;
            if let Some(num) = pow10(shift).and_then(|p| a.m.checked_mul(p)) {
                return Some(
                    Dec {
                        m: num / b.m,
                        s: scale,
                    }
                    .reduce(),
                );
            }
            if scale == 0 {
                return None;
            }
            scale -= 1;
        }
    }

    /// `a idiv b`: the integer quotient, truncated towards zero.
    pub fn idiv(self, o: Dec) -> Option<Dec> {
        if o.m == 0 {
            return None;
        }
        let (a, b, _) = Dec::align(self, o)?;
        Some(Dec { m: a / b, s: 0 })
    }

    /// `a mod b`: the remainder with the sign of `a`.
    pub fn checked_rem(self, o: Dec) -> Option<Dec> {
        if o.m == 0 {
            return None;
        }
        let (a, b, s) = Dec::align(self, o)?;
        Some(Dec { m: a % b, s })
    }

    /// `abs(a)`.
    pub fn abs(self) -> Dec {
        Dec {
            m: self.m.abs(),
            s: self.s,
        }
    }

    /// Truncates towards zero.
    pub fn trunc(self) -> Dec {
        match pow10(self.s) {
            Some(p) => Dec {
                m: self.m / p,
                s: 0,
            },
            None => Dec::ZERO,
        }
    }

    /// `floor(a)`.
    pub fn floor(self) -> Dec {
        let t = self.trunc();
        if self.m < 0 && !self.is_integer() {
            Dec { m: t.m - 1, s: 0 }
        } else {
            t
        }
    }

    /// `ceiling(a)`.
    pub fn ceil(self) -> Dec {
        let t = self.trunc();
        if self.m > 0 && !self.is_integer() {
            Dec { m: t.m + 1, s: 0 }
        } else {
            t
        }
    }

    /// XPath `round(a)`: to the nearest integer, halves towards positive infinity
    /// (`round(2.5) = 3`, `round(-2.5) = -2`).
    pub fn round(self) -> Dec {
        match self.checked_add(Dec { m: 5, s: 1 }) {
            Some(d) => d.floor(),
            None => self.floor(),
        }
    }

    /// Rounds to `s` fraction digits, halves away from zero (used to bound scales).
    pub fn round_to(self, s: u32) -> Dec {
        if self.s <= s {
            return self;
        }
        let p = pow10(self.s - s).unwrap_or(i128::MAX);
        let q = self.m / p;
        let r = self.m % p;
        let q = if r.abs() * 2 >= p { q + r.signum() } else { q };
        Dec { m: q, s }
    }

    /// The number of fraction digits written in the canonical form.
    pub fn fraction_digits(self) -> u32 {
        self.reduce().s
    }
}

impl std::ops::Neg for Dec {
    type Output = Dec;
    /// `-a`.
    fn neg(self) -> Dec {
        Dec {
            m: -self.m,
            s: self.s,
        }
    }
}

impl PartialEq for Dec {
    fn eq(&self, o: &Dec) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}

impl Eq for Dec {}

impl PartialOrd for Dec {
    fn partial_cmp(&self, o: &Dec) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for Dec {
    fn cmp(&self, o: &Dec) -> Ordering {
        match Dec::align(*self, *o) {
            Some((a, b, _)) => a.cmp(&b),
            None => {
                // out of range when aligned: compare reduced forms by sign and magnitude
                let (a, b) = (self.reduce(), o.reduce());
                match Dec::align(a, b) {
                    Some((x, y, _)) => x.cmp(&y),
                    None => a.trunc().m.cmp(&b.trunc().m),
                }
            }
        }
    }
}

impl fmt::Display for Dec {
    /// The canonical `xs:decimal` form: no trailing fraction zeros, no point for integers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.reduce();
        if d.s == 0 {
            return write!(f, "{}", d.m);
        }
        let neg = d.m < 0;
        let digits = d.m.unsigned_abs().to_string();
        let s = d.s as usize;
        let (int, frac) = if digits.len() > s {
            (
                digits[..digits.len() - s].to_string(),
                digits[digits.len() - s..].to_string(),
            )
        } else {
            (
                "0".to_string(),
                format!("{}{}", "0".repeat(s - digits.len()), digits),
            )
        };
        write!(f, "{}{}.{}", if neg { "-" } else { "" }, int, frac)
    }
}

impl Dec {
    /// The value with at least `min` fraction digits (e.g. amounts as `"12.50"`).
    pub fn to_string_min_scale(self, min: u32) -> String {
        let d = self.reduce();
        if d.s >= min {
            return d.to_string();
        }
        match d.rescale(min) {
            Some(r) => {
                let neg = r.m < 0;
                let digits = r.m.unsigned_abs().to_string();
                let s = min as usize;
                let digits = if digits.len() <= s {
                    format!("{}{}", "0".repeat(s + 1 - digits.len()), digits)
                } else {
                    digits
                };
                format!(
                    "{}{}.{}",
                    if neg { "-" } else { "" },
                    &digits[..digits.len() - s],
                    &digits[digits.len() - s..]
                )
            }
            None => d.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Dec;

    fn d(s: &str) -> Dec {
        Dec::parse(s).unwrap()
    }

    #[test]
    fn parses_and_prints() {
        assert_eq!(d("12.50").to_string(), "12.5");
        assert_eq!(d("-0.05").to_string(), "-0.05");
        assert_eq!(d("+7").to_string(), "7");
        assert_eq!(d(".5").to_string(), "0.5");
        assert_eq!(d("5.").to_string(), "5");
        assert!(Dec::parse("").is_none());
        assert!(Dec::parse("1e3").is_none());
        assert!(Dec::parse("1.2.3").is_none());
        assert!(Dec::parse("abc").is_none());
        assert_eq!(Dec::parse_double("1.5E2").unwrap().to_string(), "150");
        assert_eq!(Dec::parse_double("25e-2").unwrap().to_string(), "0.25");
        assert_eq!(d("12.5").to_string_min_scale(2), "12.50");
        assert_eq!(d("-0.5").to_string_min_scale(2), "-0.50");
        assert_eq!(d("100").to_string_min_scale(2), "100.00");
        assert_eq!(d("1.2345").to_string_min_scale(2), "1.2345");
    }

    #[test]
    fn arithmetic_is_exact() {
        assert_eq!(d("0.1").checked_add(d("0.2")).unwrap(), d("0.3"));
        assert_eq!(d("19.90").checked_mul(d("3")).unwrap().to_string(), "59.7");
        assert_eq!(
            d("1").checked_div(d("3")).unwrap().to_string(),
            "0.333333333333333333"
        );
        assert_eq!(d("25").checked_div(d("100")).unwrap().to_string(), "0.25");
        assert_eq!(d("7").idiv(d("2")).unwrap().to_string(), "3");
        assert_eq!(d("-7").checked_rem(d("2")).unwrap().to_string(), "-1");
        assert!(d("1").checked_div(Dec::ZERO).is_none());
    }

    #[test]
    fn rounds_half_towards_positive_infinity() {
        assert_eq!(d("2.5").round().to_string(), "3");
        assert_eq!(d("-2.5").round().to_string(), "-2");
        assert_eq!(d("-2.51").round().to_string(), "-3");
        assert_eq!(d("100.5").round().to_string(), "101");
        assert_eq!(d("-0.5").round().to_string(), "0");
        // the Schematron idiom round(x * 10 * 10) div 100
        let x = d("1.005")
            .checked_mul(d("100"))
            .unwrap()
            .round()
            .checked_div(d("100"))
            .unwrap();
        assert_eq!(x.to_string(), "1.01");
        let y = d("-1.005")
            .checked_mul(d("100"))
            .unwrap()
            .round()
            .checked_div(d("100"))
            .unwrap();
        assert_eq!(y.to_string(), "-1");
    }

    #[test]
    fn compares_across_scales() {
        assert_eq!(d("1.50"), d("1.5"));
        assert!(d("1.49") < d("1.5"));
        assert!(d("-3") < d("-2.99"));
    }
}
