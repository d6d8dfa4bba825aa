//! Reads the model's answer: the JSON that must match the schema, the text, or the tool
//! calls, each checked before anything is emitted.

use serde_json::{Value, json};

use crate::api::Choice;
use crate::schema::Schema;

/// A checked answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// JSON that matches the configured schema.
    Json(Value),
    /// Text (no schema configured).
    Text(String),
    /// Function calls, each with arguments that match the function's parameters.
    ToolCalls(Vec<ToolCallOut>),
}

/// One checked tool call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCallOut {
    /// The call's id (empty when the server gave none).
    pub id: String,
    /// The function's name.
    pub name: String,
    /// The parsed arguments.
    pub arguments: Value,
}

impl ToolCallOut {
    /// The event data of a tool call: `{"id", "name", "arguments"}`.
    pub fn to_json(&self) -> Value {
        json!({"id": self.id, "name": self.name, "arguments": self.arguments})
    }
}

/// An answer that cannot be emitted, and what to tell the model when asking again.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    /// Why (for the model, the log and the final rejection).
    pub reason: String,
    /// The assistant's content to repeat in the conversation, if it was text.
    pub content: Option<String>,
    /// Whether the invalid part was a tool call.
    pub tool_call: bool,
}

/// What the answer is checked against.
pub struct Expect<'a> {
    /// The output schema, if any.
    pub schema: Option<&'a Schema>,
    /// Whether a schema was configured (then the answer must be JSON).
    pub structured: bool,
    /// The configured functions and their compiled parameter schemas.
    pub tools: &'a [(String, Option<Schema>)],
}

/// Checks the first choice of a completion.
pub fn read(choice: &Choice, expect: &Expect<'_>) -> Result<Answer, Invalid> {
    let message = &choice.message;
    let cut_off = choice.finish_reason.as_deref() == Some("length");
    if let Some(calls) = message.tool_calls.as_ref().filter(|c| !c.is_empty()) {
        let mut out = Vec::with_capacity(calls.len());
        for call in calls {
            let name = &call.function.name;
            let invalid = |reason: String| Invalid {
                reason,
                content: None,
                tool_call: true,
            };
            let Some((_, parameters)) = expect.tools.iter().find(|(n, _)| n == name) else {
                return Err(invalid(format!(
                    "the model called `{name}`, which is not one of the configured tools"
                )));
            };
            let arguments: Value = if call.function.arguments.trim().is_empty() {
                json!({})
            } else {
                serde_json::from_str(&call.function.arguments).map_err(|e| {
                    invalid(format!(
                        "the arguments of `{name}` are not JSON ({e}): {}",
                        excerpt(&call.function.arguments)
                    ))
                })?
            };
            if let Some(parameters) = parameters {
                parameters.check(&arguments).map_err(|e| {
                    invalid(format!(
                        "the arguments of `{name}` do not match its parameters: {e}"
                    ))
                })?;
            }
            out.push(ToolCallOut {
                id: call.id.clone().unwrap_or_default(),
                name: name.clone(),
                arguments,
            });
        }
        return Ok(Answer::ToolCalls(out));
    }
    let content = message.content.clone().unwrap_or_default();
    let invalid = |reason: String| Invalid {
        reason: if cut_off {
            format!("{reason} (the answer was cut off at the token limit)")
        } else {
            reason
        },
        content: Some(content.clone()).filter(|c| !c.is_empty()),
        tool_call: false,
    };
    if !expect.structured {
        if content.is_empty() {
            return Err(invalid("the answer is empty".into()));
        }
        return Ok(Answer::Text(content));
    }
    let text = strip_code_fence(&content);
    if text.is_empty() {
        return Err(invalid("the answer is empty, not JSON".into()));
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| invalid(format!("the answer is not JSON ({e}): {}", excerpt(text))))?;
    if let Some(schema) = expect.schema {
        schema
            .check(&value)
            .map_err(|e| invalid(format!("the answer does not match the schema: {e}")))?;
    }
    Ok(Answer::Json(value))
}

/// The text inside a Markdown code fence (```json … ```), which models without
/// constrained decoding like to add; otherwise the trimmed text.
fn strip_code_fence(text: &str) -> &str {
    let t = text.trim();
    let Some(inner) = t.strip_prefix("```") else {
        return t;
    };
    let Some(inner) = inner.strip_suffix("```") else {
        return t;
    };
    // drop the info string (`json`) up to the first line break
    match inner.split_once('\n') {
        Some((info, body)) if !info.trim_start().starts_with(['{', '[']) => body.trim(),
        _ => inner.trim(),
    }
}

/// The first 200 characters of an answer, for messages.
fn excerpt(text: &str) -> String {
    let mut out: String = text.chars().take(200).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    format!("{out:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_code_fences_only_around_the_whole_answer() {
        assert_eq!(strip_code_fence("```json\n{\"a\":1}\n```"), "{\"a\":1}");
        assert_eq!(strip_code_fence(" ```{\"a\":1}``` "), "{\"a\":1}");
        assert_eq!(strip_code_fence(" {\"a\":\"```\"} "), "{\"a\":\"```\"}");
    }
}
