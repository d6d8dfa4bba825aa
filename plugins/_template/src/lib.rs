//! A weft plugin. `weft plugin new NAME` copies this crate; `weft plugin build` turns it
//! into `NAME.wasm`.
//!
//! This template tags every JSON event with a greeting from its configuration and passes
//! it on with the type suffix `.greeted`.

use weft_sdk::{Event, Failure, HandlerResult};

/// Handles one event: adds `"greeting"` to the JSON data and renames the type.
pub fn handle(event: Event) -> HandlerResult {
    let mut data: serde_json::Value = event.data_json().map_err(Failure::reject)?;
    let greeting = weft_sdk::config::get_or("greeting", "hello");
    data["greeting"] = greeting.into();
    let ty = format!("{}.greeted", event.ty);
    Ok(vec![event.with_json(&data).with_type(ty)])
}

weft_sdk::export_handler!(handle);

#[cfg(test)]
mod tests {
    use super::*;
    use weft_sdk::testing::{TestHost, json_event};

    #[test]
    fn adds_the_configured_greeting() {
        let host = TestHost::new().with_config("greeting", "hej");
        let out = host
            .call(
                handle,
                json_event("order.created", serde_json::json!({"id": 7})),
            )
            .unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].ty, "order.created.greeted");
        let data: serde_json::Value = out[0].data_json().unwrap();
        assert_eq!(data, serde_json::json!({"id": 7, "greeting": "hej"}));
    }

    #[test]
    fn rejects_non_json() {
        let host = TestHost::new();
        let event = Event::new("1", "/s", "t").with_data("text/plain", "nope");
        assert!(matches!(host.call(handle, event), Err(Failure::Reject(_))));
    }
}
