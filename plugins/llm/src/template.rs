//! The prompt template: `{data}`, `{subject}`, `{type}`, `{id}`, `{source}`, `{time}` and
//! `{ext.NAME}` are replaced from the event; any other text in braces (a JSON example in a
//! prompt, say) is left as it is.

use weft_sdk::Event;

/// Renders `template` for `event`. Fails only when `{data}` is used and the data is not
/// UTF-8 text.
pub fn render(template: &str, event: &Event) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after
            .find('}')
            .map(|close| (&after[..close], close))
            .and_then(|(name, close)| Some((placeholder(name, event)?, close)));
        match value {
            Some((value, close)) => {
                out.push_str(&value?);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The value of one placeholder, `None` when `name` is not a placeholder.
fn placeholder(name: &str, event: &Event) -> Option<Result<String, String>> {
    let value = match name {
        "data" => {
            return Some(match &event.data {
                None => Ok(String::new()),
                Some(_) => event
                    .data_text()
                    .map(str::to_string)
                    .map_err(|e| format!("cannot put the event data into the prompt: {e}")),
            });
        }
        "subject" => event.subject.clone().unwrap_or_default(),
        "type" => event.ty.clone(),
        "id" => event.id.clone(),
        "source" => event.source.clone(),
        "time" => event.time.clone().unwrap_or_default(),
        _ => {
            let ext = name.strip_prefix("ext.")?;
            if ext.is_empty()
                || !ext
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            {
                return None;
            }
            event.extension(ext).unwrap_or_default().to_string()
        }
    };
    Some(Ok(value))
}

#[cfg(test)]
mod tests {
    use super::render;
    use weft_sdk::Event;

    fn event() -> Event {
        let mut e = Event::new("e-1", "/mail", "com.example.mail.received")
            .with_subject("PO-7")
            .with_data("text/plain", "Please send 3 pallets");
        e.set_extension("customer", "acme");
        e
    }

    #[test]
    fn replaces_placeholders_and_keeps_other_braces() {
        let out = render(
            "[{id} {type} {source} {subject} {ext.customer}{ext.none}] {data} as {\"qty\": 1} {unknown} {",
            &event(),
        )
        .unwrap();
        assert_eq!(
            out,
            "[e-1 com.example.mail.received /mail PO-7 acme] Please send 3 pallets as {\"qty\": 1} {unknown} {"
        );
    }

    #[test]
    fn binary_data_is_an_error_naming_the_problem() {
        let e = Event::new("1", "/s", "t").with_data("application/octet-stream", vec![0xff, 0xfe]);
        let err = render("x {data}", &e).unwrap_err();
        assert!(err.contains("not UTF-8"), "{err}");
        // without {data} the data does not matter
        assert_eq!(render("x {id}", &e).unwrap(), "x 1");
    }
}
