//! Example plugin: drops duplicate events (same `source` + `id`) using key-value state,
//! and counts the events it passes per type.
//!
//! Config: `bucket` (default `dedupe`). The KV keys are `seen/<len(source)>:<source>/<id>`
//! (a counter of copies seen; the length prefix keeps `source` + `id` pairs from colliding, e.g. `a/b` +
//! `c` and `a` + `b/c`) and `count/<type>` (a counter). Delivery is at-least-once, so
//! duplicates do reach plugins; this is how a route drops them. Nothing is added to the
//! event.

use weft_sdk::kv::Bucket;
use weft_sdk::{Event, Failure, HandlerResult};

/// Passes the first occurrence of each `source` + `id`, drops the rest.
pub fn handle(event: Event) -> HandlerResult {
    let bucket_name = weft_sdk::config::get_or("bucket", "dedupe");
    let bucket = Bucket::open(&bucket_name).map_err(Failure::retry)?;
    let key = seen_key(&event.source, &event.id);
    // one atomic step (INCRBY on Redis, a write transaction embedded): two copies of an
    // event handled at the same moment cannot both see "not seen yet"
    let seen = bucket.increment(&key, 1).map_err(Failure::retry)?;
    if seen > 1 {
        weft_sdk::log::debug(&format!("dropping duplicate {key}"));
        return Ok(vec![]);
    }
    bucket
        .increment(&format!("count/{}", event.ty), 1)
        .map_err(Failure::retry)?;
    Ok(vec![event])
}

/// The key marking `source` + `id` as seen; unambiguous for any pair of strings.
fn seen_key(source: &str, id: &str) -> String {
    format!("seen/{}:{source}/{id}", source.len())
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
        assert_eq!(out[0], e, "passed on unchanged");
        assert!(host.call(handle, e).unwrap().is_empty());
        let out = host
            .call(handle, Event::new("2", "/erp", "order.created"))
            .unwrap();
        assert_eq!(out[0].id, "2");
        assert_eq!(
            host.kv("dedupe", "count/order.created"),
            Some(b"2".to_vec())
        );
    }

    #[test]
    fn sources_and_ids_with_slashes_do_not_collide() {
        let host = TestHost::new();
        let first = host.call(handle, Event::new("c", "a/b", "t")).unwrap();
        let second = host.call(handle, Event::new("b/c", "a", "t")).unwrap();
        assert_eq!((first.len(), second.len()), (1, 1));
        assert_ne!(seen_key("a/b", "c"), seen_key("a", "b/c"));
    }
}
