//! The one redaction helper: URLs, tokens and secrets shown in logs, errors, dead-letter
//! reasons and `weft validate` never carry the secret part.

/// What replaces a secret.
pub const MASK: &str = "***";

/// A URL with its password and every query value replaced by `***`:
/// `redis://user:pw@h:6379/0` → `redis://user:***@h:6379/0`,
/// `https://h/hook?token=abc&x=1` → `https://h/hook?token=***&x=***`. The fragment is
/// dropped. Text that is not a URL (no `scheme://`) is returned unchanged.
///
/// ```
/// use weft_connector::redact::redact_url;
/// assert_eq!(redact_url("amqp://weft:s3cr3t@rabbit:5672/%2f"), "amqp://weft:***@rabbit:5672/%2f");
/// assert_eq!(redact_url("https://h/x?sig=abc"), "https://h/x?sig=***");
/// ```
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:{MASK}@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let masked: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) => format!("{key}={MASK}"),
                    None => pair.to_string(),
                })
                .collect();
            format!("{path}?{}", masked.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// Replaces every occurrence of each non-empty secret in `text` with `***` (for messages
/// that may quote a secret, e.g. an error echoing a request).
///
/// ```
/// use weft_connector::redact::redact_secrets;
/// assert_eq!(redact_secrets("bad key sk-123 given", &["sk-123"]), "bad key *** given");
/// ```
pub fn redact_secrets(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(secret, MASK);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked_users_and_hosts_kept() {
        assert_eq!(
            redact_url("rediss://user:secret@h:6380/0"),
            "rediss://user:***@h:6380/0"
        );
        assert_eq!(redact_url("redis://:secret@h"), "redis://:***@h");
        assert_eq!(
            redact_url("amqps://user@rabbit/vh"),
            "amqps://user@rabbit/vh"
        );
        assert_eq!(redact_url("amqp://a:b:c@h"), "amqp://a:***@h");
        assert_eq!(redact_url("amqp://rabbit"), "amqp://rabbit");
        assert_eq!(redact_url("redis://h:6379"), "redis://h:6379");
        // an @ in the path is not userinfo
        assert_eq!(redact_url("http://h/a@b"), "http://h/a@b");
    }

    #[test]
    fn query_values_are_masked_and_fragments_dropped() {
        assert_eq!(
            redact_url("https://hooks.example.com/t/1?token=abc&mode&x=1#frag"),
            "https://hooks.example.com/t/1?token=***&mode&x=***"
        );
        assert_eq!(redact_url("https://u:p@h?k=v"), "https://u:***@h?k=***");
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn secrets_in_text_are_masked() {
        assert_eq!(
            redact_secrets("a whsec_x b whsec_x", &["whsec_x", ""]),
            "a *** b ***"
        );
    }
}
