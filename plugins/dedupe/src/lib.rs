//! Example plugin: drops duplicate events (same `source` + `id`) using key-value state,
//! and counts the events it passes per type.
//!
//! Config: `bucket` (default `dedupe`). The KV keys are `seen/<source>/<id>` (value: `1`)
//! and `count/<type>` (a counter). Delivery is at-least-once, so duplicates do reach
//! plugins; this is how a route drops them.

use weft_sdk::kv::Bucket;
use weft_sdk::{Event, Failure, HandlerResult};

/// Passes the first occurrence of each `source` + `id`, drops the rest.
pub fn handle(mut event: Event) -> HandlerResult {
    let bucket_name = weft_sdk::config::get_or("bucket", "dedupe");
    let bucket = Bucket::open(&bucket_name).map_err(Failure::retry)?;
    let key = format!("seen/{}/{}", event.source, event.id);
    if bucket.exists(&key).map_err(Failure::retry)? {
        weft_sdk::log::debug(&format!("dropping duplicate {key}"));
        return Ok(vec![]);
    }
    bucket.set(&key, b"1").map_err(Failure::retry)?;
    let n = bucket
        .increment(&format!("count/{}", event.ty), 1)
        .map_err(Failure::retry)?;
    event.set_extension("weftseq", n.to_string());
    Ok(vec![event])
}

weft_sdk::export_handler!(handle);

#[cfg(test)]
mod tests {
    use super::*;
    use weft_sdk::testing::TestHost;

    #[test]
    fn second_occurrence_is_dropped_and_counts_grow() {
        let host = TestHost::new();
        let e = Event::new("1", "/erp", "order.created");
        let out = host.call(handle, e.clone()).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].extension("weftseq"), Some("1"));
        assert!(host.call(handle, e).unwrap().is_empty());
        let out = host
            .call(handle, Event::new("2", "/erp", "order.created"))
            .unwrap();
        assert_eq!(out[0].extension("weftseq"), Some("2"));
        assert_eq!(
            host.kv("dedupe", "count/order.created"),
            Some(b"2".to_vec())
        );
    }
}
