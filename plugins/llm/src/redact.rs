//! Keeps secrets (the API key, configured header values) out of everything the plugin
//! hands back: failure messages, logs and events.

/// Replaces every occurrence of the configured secrets with `[redacted]`.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// A redactor for these secret values (empty ones are ignored).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| !s.is_empty()).collect();
        // longest first, so a secret that contains another is replaced whole
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Redactor { secrets }
    }

    /// `text` with every secret replaced.
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "[redacted]");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Redactor;

    #[test]
    fn replaces_every_secret_longest_first() {
        let r = Redactor::new(["sk-abc".to_string(), "sk-abcdef".to_string(), String::new()]);
        assert_eq!(
            r.apply("key sk-abcdef and sk-abc, again sk-abcdef"),
            "key [redacted] and [redacted], again [redacted]"
        );
        assert_eq!(r.apply("nothing here"), "nothing here");
    }
}
