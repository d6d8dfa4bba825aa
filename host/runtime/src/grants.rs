//! The outbound-HTTP grant: which `scheme://host:port` a plugin may reach. Deny by default.

use std::fmt;

/// One allowed destination pattern, parsed from `scheme://host[:port]`.
///
/// - scheme: `http`, `https` or `*`;
/// - host: exact (`api.example.com`), a subdomain wildcard (`*.example.com`, which does not
///   match `example.com` itself) or `*`;
/// - port: a number, `*`, or absent (the scheme's default port: 80 / 443).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpGrant {
    scheme: Option<String>,
    host: HostPattern,
    port: Option<u16>,
    any_port: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    Exact(String),
    Suffix(String),
}

/// A grant pattern that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid allow_http pattern `{pattern}`: {reason}")]
pub struct GrantError {
    /// The pattern as written.
    pub pattern: String,
    /// What is wrong.
    pub reason: String,
}

impl HttpGrant {
    /// Parses a pattern.
    pub fn parse(pattern: &str) -> Result<HttpGrant, GrantError> {
        let err = |reason: &str| GrantError {
            pattern: pattern.to_string(),
            reason: reason.to_string(),
        };
        let (scheme, rest) = pattern
            .split_once("://")
            .ok_or_else(|| err("expected scheme://host[:port], e.g. https://api.example.com"))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "*" => None,
            s @ ("http" | "https") => Some(s.to_string()),
            _ => return Err(err("scheme must be http, https or *")),
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') {
            return Err(err("a grant names a host, not a path"));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p))
                if !h.ends_with(']') || p.chars().all(|c| c.is_ascii_digit() || c == '*') =>
            {
                (h, Some(p))
            }
            _ => (rest, None),
        };
        if host.is_empty() {
            return Err(err("missing host"));
        }
        let host = host.to_ascii_lowercase();
        let host = if host == "*" {
            HostPattern::Any
        } else if let Some(suffix) = host.strip_prefix("*.") {
            HostPattern::Suffix(format!(".{suffix}"))
        } else if host.contains('*') {
            return Err(err(
                "`*` is only allowed as the whole host or as a leading `*.`",
            ));
        } else {
            HostPattern::Exact(host)
        };
        let (port, any_port) = match port {
            None => (None, false),
            Some("*") => (None, true),
            Some(p) => (
                Some(
                    p.parse::<u16>()
                        .map_err(|_| err("port must be a number or *"))?,
                ),
                false,
            ),
        };
        Ok(HttpGrant {
            scheme,
            host,
            port,
            any_port,
        })
    }

    /// Whether a request to `scheme://host:port` is allowed by this grant.
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let scheme = scheme.to_ascii_lowercase();
        if let Some(s) = &self.scheme
            && *s != scheme
        {
            return false;
        }
        let host = host.to_ascii_lowercase();
        let host_ok = match &self.host {
            HostPattern::Any => true,
            HostPattern::Exact(h) => *h == host,
            HostPattern::Suffix(s) => host.ends_with(s.as_str()),
        };
        if !host_ok {
            return false;
        }
        if self.any_port {
            return true;
        }
        let default_port = |s: &str| match s {
            "http" => Some(80),
            "https" => Some(443),
            _ => None,
        };
        let actual = port.or_else(|| default_port(&scheme));
        let wanted = self
            .port
            .or_else(|| self.scheme.as_deref().and_then(default_port))
            .or_else(|| default_port(&scheme));
        actual == wanted
    }
}

impl fmt::Display for HttpGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = match &self.host {
            HostPattern::Any => "*".to_string(),
            HostPattern::Exact(h) => h.clone(),
            HostPattern::Suffix(s) => format!("*{s}"),
        };
        write!(f, "{}://{host}", self.scheme.as_deref().unwrap_or("*"))?;
        if self.any_port {
            write!(f, ":*")?;
        } else if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

/// Whether any grant in `grants` allows the destination.
pub fn allowed(grants: &[HttpGrant], scheme: &str, host: &str, port: Option<u16>) -> bool {
    grants.iter().any(|g| g.allows(scheme, host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_host_with_default_port() {
        let g = HttpGrant::parse("https://api.example.com").unwrap();
        assert!(g.allows("https", "api.example.com", None));
        assert!(g.allows("https", "API.example.com", Some(443)));
        assert!(!g.allows("https", "api.example.com", Some(8443)));
        assert!(!g.allows("http", "api.example.com", None));
        assert!(!g.allows("https", "evil.com", None));
        assert!(!g.allows("https", "api.example.com.evil.com", None));
    }

    #[test]
    fn wildcards() {
        let g = HttpGrant::parse("http://127.0.0.1:*").unwrap();
        assert!(g.allows("http", "127.0.0.1", Some(9999)));
        assert!(!g.allows("http", "127.0.0.2", Some(9999)));
        let g = HttpGrant::parse("https://*.example.com").unwrap();
        assert!(g.allows("https", "a.example.com", None));
        assert!(!g.allows("https", "example.com", None));
        let g = HttpGrant::parse("*://localhost:8080").unwrap();
        assert!(g.allows("http", "localhost", Some(8080)));
        assert!(!g.allows("http", "localhost", None));
    }

    #[test]
    fn bad_patterns_are_named() {
        for p in [
            "api.example.com",
            "ftp://x",
            "https://a/b",
            "https://a*b.com",
            "https://h:port",
        ] {
            let e = HttpGrant::parse(p).unwrap_err();
            assert_eq!(e.pattern, p);
        }
    }
}
