//! Routing key templates of the AMQP sink: literal text and `{attribute}` placeholders
//! filled from each event (e.g. `shipments.{type}`).

use weft_event::Event;

/// A parsed routing key template: literal text and `{attribute}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingKeyTemplate {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Attribute(String),
}

/// A template that does not parse, or an event it cannot be rendered for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{` without a matching `}`.
    #[error("unclosed `{{` at byte {0} (write `{{{{` for a literal brace)")]
    Unclosed(usize),
    /// `}` without a preceding `{`.
    #[error("unmatched `}}` at byte {0} (write `}}}}` for a literal brace)")]
    Unmatched(usize),
    /// `{}` or a placeholder that is not an attribute name.
    #[error("`{{{0}}}` is not an attribute name (lower-case letters and digits)")]
    BadName(String),
    /// The event lacks an attribute the template uses.
    #[error("the routing key template needs attribute `{0}`, which the event does not have")]
    MissingAttribute(String),
    /// The rendered key is longer than AMQP allows.
    #[error("the routing key is {0} bytes long; AMQP allows at most 255")]
    TooLong(usize),
}

impl RoutingKeyTemplate {
    /// Parses `orders.{type}`-style templates; `{{` and `}}` are literal braces.
    pub fn parse(template: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = template.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|(_, c)| *c) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|(_, c)| *c) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    let mut closed = false;
                    for (_, c) in chars.by_ref() {
                        if c == '}' {
                            closed = true;
                            break;
                        }
                        name.push(c);
                    }
                    if !closed {
                        return Err(TemplateError::Unclosed(i));
                    }
                    if !weft_event::is_valid_attribute_name(&name) {
                        return Err(TemplateError::BadName(name));
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Attribute(name));
                }
                '}' => return Err(TemplateError::Unmatched(i)),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(RoutingKeyTemplate { parts })
    }

    /// Renders the template for an event.
    pub fn render(&self, event: &Event) -> Result<String, TemplateError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Attribute(name) => out.push_str(
                    event
                        .attribute(name)
                        .ok_or_else(|| TemplateError::MissingAttribute(name.clone()))?,
                ),
            }
        }
        if out.len() > 255 {
            return Err(TemplateError::TooLong(out.len()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_attributes() {
        let t = RoutingKeyTemplate::parse("orders.{type}.{subject}").unwrap();
        let mut e = Event::new("1", "/erp", "created");
        assert_eq!(
            t.render(&e),
            Err(TemplateError::MissingAttribute("subject".into()))
        );
        e.subject = Some("eu".into());
        assert_eq!(t.render(&e).unwrap(), "orders.created.eu");
        e.extensions.insert("tenant".into(), "acme".into());
        let t = RoutingKeyTemplate::parse("{tenant}.{source}{{x}}").unwrap();
        assert_eq!(t.render(&e).unwrap(), "acme./erp{x}");
        let t = RoutingKeyTemplate::parse("static").unwrap();
        assert_eq!(t.render(&e).unwrap(), "static");
        let t = RoutingKeyTemplate::parse("{id}").unwrap();
        e.id = "x".repeat(300);
        assert_eq!(t.render(&e), Err(TemplateError::TooLong(300)));
    }

    #[test]
    fn bad_templates_are_rejected() {
        assert_eq!(
            RoutingKeyTemplate::parse("a.{type"),
            Err(TemplateError::Unclosed(2))
        );
        assert_eq!(
            RoutingKeyTemplate::parse("a}"),
            Err(TemplateError::Unmatched(1))
        );
        assert_eq!(
            RoutingKeyTemplate::parse("{}"),
            Err(TemplateError::BadName(String::new()))
        );
        assert_eq!(
            RoutingKeyTemplate::parse("{Type}"),
            Err(TemplateError::BadName("Type".into()))
        );
    }
}
