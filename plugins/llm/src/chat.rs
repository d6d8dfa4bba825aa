//! One event through the model: render the prompt, send the request, check the answer,
//! ask again when it is invalid (up to `invalid_output_retries` times), and build the
//! output events with the model and token usage as extension attributes.

use weft_sdk::{Event, Failure, HandlerResult};

use crate::Prepared;
use crate::answer::{self, Answer, Expect};
use crate::api::{self, ChatCompletion, Usage};
use crate::{failures, template, transport};

/// The media type of a text answer.
pub const TEXT_PLAIN: &str = "text/plain";

/// Runs the completion for `event`.
pub fn complete(prepared: &Prepared, event: &Event) -> HandlerResult {
    let settings = &prepared.settings;
    let prompt = template::render(&settings.prompt, event)
        .map_err(|e| Failure::reject(format!("llm: {e}")))?;
    if let Some(max) = settings.max_input_chars {
        let chars =
            prompt.chars().count() + settings.system.as_deref().map_or(0, |s| s.chars().count());
        if chars > max {
            return Err(Failure::reject(format!(
                "llm: the prompt (system message and rendered prompt) has {chars} characters, above max_input_chars={max}"
            )));
        }
    }
    let mut messages = Vec::with_capacity(4);
    if let Some(system) = &settings.system {
        messages.push(api::message("system", system));
    }
    messages.push(api::message("user", &prompt));

    let mut headers = Vec::with_capacity(settings.headers.len() + 1);
    if let Some(key) = &settings.api_key {
        let value = if settings.auth_header == "authorization" {
            format!("Bearer {key}")
        } else {
            key.clone()
        };
        headers.push((settings.auth_header.clone(), value));
    }
    headers.extend(settings.headers.iter().cloned());

    let expect = Expect {
        schema: prepared.schema.as_ref(),
        structured: settings.schema.is_some(),
        tools: &prepared.tools,
    };
    let attempts = 1 + settings.invalid_output_retries;
    let mut usage = Usage::default();
    for attempt in 1..=attempts {
        let body = serde_json::to_vec(&api::request_body(settings, &messages))
            .map_err(|e| Failure::reject(format!("llm: cannot encode the request: {e}")))?;
        let response =
            transport::post_json(&settings.endpoint, &headers, body, settings.timeout_ms).map_err(
                |e| failures::from_transport(&settings.endpoint, &e, settings.timeout_ms),
            )?;
        if !response.is_success() {
            return Err(failures::from_status(
                &settings.endpoint,
                &response,
                failures::now_unix_ms(),
            ));
        }
        let completion: ChatCompletion = serde_json::from_slice(&response.body).map_err(|e| {
            Failure::reject(format!(
                "llm: {} did not answer with a chat completion: {e}",
                settings.endpoint
            ))
        })?;
        if let Some(u) = completion.usage {
            usage.add(u);
        }
        let model = completion
            .model
            .clone()
            .unwrap_or_else(|| settings.model.clone());
        let choice = completion.choices.into_iter().next().ok_or_else(|| {
            Failure::reject(format!(
                "llm: {} answered with no choices",
                settings.endpoint
            ))
        })?;
        if let Some(refusal) = choice
            .message
            .refusal
            .as_deref()
            .filter(|r| !r.trim().is_empty())
        {
            return Err(Failure::reject(format!(
                "llm: the model refused: {refusal}"
            )));
        }
        match answer::read(&choice, &expect) {
            Ok(answer) => {
                let meta = Meta {
                    model,
                    usage,
                    attempts: attempt,
                    finish_reason: choice.finish_reason.clone(),
                };
                weft_sdk::log::info(&prepared.redactor.apply(&format!(
                    "llm: {} answered (attempts {attempt}, tokens prompt {} completion {} total {})",
                    meta.model, usage.prompt_tokens, usage.completion_tokens, usage.total_tokens
                )));
                return Ok(events(prepared, event, answer, &meta));
            }
            Err(invalid) if attempt < attempts => {
                weft_sdk::log::warn(&prepared.redactor.apply(&format!(
                    "llm: answer {attempt} of {attempts} is invalid, asking again: {}",
                    invalid.reason
                )));
                if let Some(content) = &invalid.content {
                    messages.push(api::message("assistant", content));
                }
                messages.push(api::message("user", &correction(&invalid)));
            }
            Err(invalid) => {
                return Err(Failure::reject(format!(
                    "llm: the model's answer is invalid after {attempt} attempt(s), nothing emitted: {}",
                    invalid.reason
                )));
            }
        }
    }
    unreachable!("the loop returns on its last attempt")
}

/// What the model is told after an invalid answer.
fn correction(invalid: &answer::Invalid) -> String {
    if invalid.tool_call {
        format!(
            "Your tool call was rejected: {}. Call one of the given tools again, with arguments that match its parameters exactly.",
            invalid.reason
        )
    } else {
        format!(
            "Your answer was rejected: {}. Answer again with only a JSON value that matches the required JSON Schema exactly, without any other text.",
            invalid.reason
        )
    }
}

/// What the output events carry besides the answer.
struct Meta {
    model: String,
    usage: Usage,
    attempts: u32,
    finish_reason: Option<String>,
}

/// The output events: one per answer, one per tool call.
fn events(prepared: &Prepared, input: &Event, answer: Answer, meta: &Meta) -> Vec<Event> {
    let settings = &prepared.settings;
    let mut out = match answer {
        Answer::Json(value) => vec![input.derive(&settings.output_type).with_json(&value)],
        Answer::Text(text) => vec![
            input
                .derive(&settings.output_type)
                .with_data(TEXT_PLAIN, text),
        ],
        Answer::ToolCalls(calls) => {
            let many = calls.len() > 1;
            calls
                .iter()
                .enumerate()
                .map(|(i, call)| {
                    let mut e = input
                        .derive(&settings.tool_call_type)
                        .with_json(&call.to_json());
                    if many {
                        e.id = format!("{}.{i}", e.id);
                    }
                    e.set_extension("llmtool", call.name.clone());
                    e
                })
                .collect()
        }
    };
    for e in &mut out {
        e.set_extension("llmmodel", meta.model.clone());
        e.set_extension("llmprompttokens", meta.usage.prompt_tokens.to_string());
        e.set_extension(
            "llmcompletiontokens",
            meta.usage.completion_tokens.to_string(),
        );
        e.set_extension("llmtotaltokens", meta.usage.total_tokens.to_string());
        e.set_extension("llmattempts", meta.attempts.to_string());
        if let Some(reason) = &meta.finish_reason {
            e.set_extension("llmfinishreason", reason.clone());
        }
    }
    out
}
