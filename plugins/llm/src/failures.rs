//! What an unsuccessful exchange with the API means for the event: `retry` (the hub tries
//! again later) or `reject` (dead letter), and how long the server asked to wait.
//!
//! **Retry delay.** The WIT `failure.retry` carries only a message, so a server's
//! `Retry-After` travels in it, in one parseable form at the start of the message:
//!
//! ```text
//! retry-after-ms=<decimal milliseconds>: <reason>
//! ```
//!
//! e.g. `retry-after-ms=20000: rate limited: https://api.example.com/v1/chat/completions
//! answered 429: …`. A host that understands it waits at least that long before the next
//! attempt; one that does not still shows a readable message. See [`retry_after_prefix`].

use weft_sdk::Failure;
use weft_sdk::http::Response;

use crate::api;
use crate::transport::TransportError;

/// The prefix of a retry message that carries a minimum delay.
pub const RETRY_AFTER_PREFIX: &str = "retry-after-ms=";

/// The longest delay passed on (a day): a larger or absurd value is clamped.
const MAX_RETRY_AFTER_MS: u64 = 24 * 60 * 60 * 1000;

/// Formats the delay prefix of a retry message: `retry-after-ms=<ms>: `.
pub fn retry_after_prefix(ms: u64) -> String {
    format!("{RETRY_AFTER_PREFIX}{ms}: ")
}

/// Reads the minimum delay back from a retry message (what a host would do).
pub fn parse_retry_after(message: &str) -> Option<u64> {
    let rest = message.strip_prefix(RETRY_AFTER_PREFIX)?;
    let (digits, _) = rest.split_once(": ")?;
    digits.parse().ok()
}

/// The failure for a non-2xx answer.
pub fn from_status(endpoint: &str, response: &Response, now_unix_ms: u64) -> Failure {
    let status = response.status;
    let detail = api::error_message(&response.body).unwrap_or_else(|| body_excerpt(&response.body));
    let what = format!(
        "{endpoint} answered {status}{}",
        if detail.is_empty() {
            String::new()
        } else {
            format!(": {detail}")
        }
    );
    let transient = matches!(status, 408 | 409 | 429) || status >= 500;
    if !transient {
        return Failure::Reject(format!("llm: {what}"));
    }
    let reason = if status == 429 {
        "rate limited"
    } else {
        "the API is unavailable"
    };
    let prefix = retry_after_ms(&response.headers, now_unix_ms)
        .map(retry_after_prefix)
        .unwrap_or_default();
    Failure::Retry(format!("{prefix}llm: {reason}: {what}"))
}

/// The failure for a request that got no answer.
pub fn from_transport(endpoint: &str, error: &TransportError, timeout_ms: u64) -> Failure {
    match error {
        TransportError::Denied(_) => Failure::Reject(format!(
            "llm: the request to {endpoint} was refused by the host: grant it in the plugin's allow_http (or --allow-http)"
        )),
        TransportError::Timeout(e) => Failure::Retry(format!(
            "llm: no answer from {endpoint} within timeout_ms={timeout_ms} ({e})"
        )),
        TransportError::Failed(e) => {
            Failure::Retry(format!("llm: request to {endpoint} failed: {e}"))
        }
    }
}

/// A short, printable excerpt of a body that is not an error object.
fn body_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let mut out: String = text.chars().take(300).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// The delay a `429`/`503` answer asks for: `retry-after-ms` (milliseconds, as OpenAI and
/// Azure OpenAI send), else `Retry-After` as delta-seconds or an HTTP-date (RFC 9110
/// §10.2.3).
pub fn retry_after_ms(headers: &[(String, String)], now_unix_ms: u64) -> Option<u64> {
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    };
    let ms = if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        ms
    } else {
        let value = header("retry-after")?;
        match value.parse::<f64>() {
            Ok(seconds) => seconds * 1000.0,
            Err(_) => http_date_unix_ms(value)?.saturating_sub(now_unix_ms) as f64,
        }
    };
    if !ms.is_finite() || ms < 0.0 {
        return None;
    }
    Some((ms.ceil() as u64).min(MAX_RETRY_AFTER_MS))
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) to Unix milliseconds.
fn http_date_unix_ms(value: &str) -> Option<u64> {
    let mut parts = value.split_whitespace();
    let _weekday = parts.next()?.strip_suffix(',')?;
    let day: u32 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if parts.next()? != "GMT" || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days.checked_mul(86_400)? + (h * 3600 + m * 60 + s) as i64;
    u64::try_from(secs).ok().map(|s| s * 1000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Now, in Unix milliseconds (0 when the clock is unavailable).
pub fn now_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_retry_after_in_every_form() {
        assert_eq!(
            retry_after_ms(&headers(&[("Retry-After", "20")]), 0),
            Some(20_000)
        );
        assert_eq!(
            retry_after_ms(
                &headers(&[("retry-after-ms", "1500.2"), ("retry-after", "2")]),
                0
            ),
            Some(1501)
        );
        // 1994-11-06T08:49:37Z is 784111777 s after the epoch
        let date = headers(&[("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")]);
        assert_eq!(retry_after_ms(&date, 784_111_777_000 - 5_000), Some(5_000));
        assert_eq!(retry_after_ms(&date, 784_111_777_000 + 5_000), Some(0));
        assert_eq!(
            retry_after_ms(&headers(&[("retry-after", "soon")]), 0),
            None
        );
        assert_eq!(retry_after_ms(&headers(&[("retry-after", "-3")]), 0), None);
        assert_eq!(retry_after_ms(&headers(&[]), 0), None);
        assert_eq!(
            retry_after_ms(&headers(&[("retry-after", "99999999")]), 0),
            Some(MAX_RETRY_AFTER_MS)
        );
    }

    #[test]
    fn the_delay_round_trips_through_the_message() {
        let mut r = Response::new(
            429,
            r#"{"error":{"message":"Rate limit reached","code":"rate_limit_exceeded"}}"#,
        );
        r.headers = headers(&[("retry-after", "7")]);
        let Failure::Retry(m) = from_status("https://a.example/v1/chat/completions", &r, 0) else {
            panic!("429 must retry")
        };
        assert_eq!(parse_retry_after(&m), Some(7000), "{m}");
        assert!(
            m.ends_with("answered 429: Rate limit reached (rate_limit_exceeded)"),
            "{m}"
        );
        assert_eq!(parse_retry_after("llm: the API is unavailable"), None);
    }

    #[test]
    fn status_codes_map_to_retry_or_reject() {
        for (status, retry) in [
            (400, false),
            (401, false),
            (403, false),
            (404, false),
            (422, false),
            (408, true),
            (409, true),
            (429, true),
            (500, true),
            (503, true),
        ] {
            let f = from_status("u", &Response::new(status, "oops"), 0);
            assert_eq!(matches!(f, Failure::Retry(_)), retry, "{status}: {f}");
        }
    }
}
