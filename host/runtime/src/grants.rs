//! The outbound-HTTP grant: which `scheme://host:port` a plugin may reach. Deny by default.
//! A granted *name* must also resolve to an address outside the internal ranges
//! ([`is_internal`]) unless the grant names the IP itself or the plugin has
//! `allow_private = true` ([`resolve_checked`]).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

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

/// Whether a request to `ip` reaches something internal: loopback, unspecified, RFC 1918
/// private, link-local (`169.254.0.0/16` incl. the cloud metadata address, `fe80::/10`),
/// CGNAT (`100.64.0.0/10`), multicast, broadcast, `0.0.0.0/8`, IPv6 unique-local
/// (`fc00::/7`); IPv4-mapped and NAT64 (`64:ff9b::/96`) IPv6 addresses are judged by
/// their IPv4 address.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let s = v6.segments();
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = s[6].to_be_bytes();
                let [c, d] = s[7].to_be_bytes();
                return is_internal(IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d)));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
        }
    }
}

/// Whether a grant names `host` exactly and `host` is an IP address (`http://10.0.0.5:*`
/// names `10.0.0.5`): the operator chose that address, internal or not.
pub fn names_literally(grants: &[HttpGrant], host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok()
        && grants.iter().any(|g| match &g.host {
            HostPattern::Exact(h) => h.trim_start_matches('[').trim_end_matches(']') == bare,
            _ => false,
        })
}

/// Resolves `host:port` and returns the first address a plugin may connect to: any
/// address when `internal_ok`, else the first that is not [`is_internal`]. Errors as the
/// plugin sees them: `DestinationIpProhibited` when every address is internal,
/// `DnsTimeout` / `DnsError` when the name does not resolve within `timeout`.
pub async fn resolve_checked(
    host: &str,
    port: u16,
    internal_ok: bool,
    timeout: Duration,
) -> Result<SocketAddr, wasmtime_wasi_http::Error> {
    use wasmtime_wasi_http::Error;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => {
            match tokio::time::timeout(timeout, tokio::net::lookup_host((bare, port))).await {
                Err(_) => return Err(Error::DnsTimeout),
                Ok(Err(e)) => {
                    return Err(Error::DnsError {
                        rcode: Some(e.to_string()),
                        info_code: None,
                    });
                }
                Ok(Ok(addrs)) => addrs.collect(),
            }
        }
    };
    if addrs.is_empty() {
        return Err(Error::DnsError {
            rcode: Some("no addresses".into()),
            info_code: None,
        });
    }
    addrs
        .into_iter()
        .find(|a| internal_ok || !is_internal(a.ip()))
        .ok_or(Error::DestinationIpProhibited)
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
    fn internal_addresses() {
        for ip in [
            "127.0.0.1",
            "127.1.2.3",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn literal_ip_grants() {
        let grants = [
            HttpGrant::parse("http://127.0.0.1:*").unwrap(),
            HttpGrant::parse("http://[::1]:8080").unwrap(),
            HttpGrant::parse("http://localhost:*").unwrap(),
            HttpGrant::parse("https://*.0.0.1").unwrap(),
        ];
        assert!(names_literally(&grants, "127.0.0.1"));
        assert!(names_literally(&grants, "[::1]"));
        assert!(!names_literally(&grants, "localhost"));
        assert!(!names_literally(&grants, "10.0.0.1"));
        assert!(!names_literally(
            &[HttpGrant::parse("*://*").unwrap()],
            "127.0.0.1"
        ));
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused() {
        let t = Duration::from_secs(5);
        assert!(matches!(
            resolve_checked("localhost", 80, false, t).await,
            Err(wasmtime_wasi_http::Error::DestinationIpProhibited)
        ));
        let ok = resolve_checked("localhost", 80, true, t).await.unwrap();
        assert!(ok.ip().is_loopback());
        assert_eq!(
            resolve_checked("127.0.0.1", 81, true, t).await.unwrap(),
            "127.0.0.1:81".parse().unwrap()
        );
        assert!(resolve_checked("[::1]", 81, false, t).await.is_err());
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
