//! Example plugin: returns each event unchanged. `weft bench` uses it to measure the cost
//! of the sandbox itself, next to calling this same function natively.

use weft_sdk::{Event, HandlerResult};

/// Passes the event on unchanged.
pub fn handle(event: Event) -> HandlerResult {
    Ok(vec![event])
}

weft_sdk::export_handler!(handle);

#[cfg(test)]
mod tests {
    #[test]
    fn passes_through() {
        let e = weft_sdk::Event::new("1", "/s", "t");
        assert_eq!(super::handle(e.clone()).unwrap(), vec![e]);
    }
}
