//! Example plugin: drops duplicate events (same `source` + `id`) using key-value state,
//! and counts the events it passes per type.
//!
//! Config: `bucket` (default `dedupe`); `window_secs` (default 0: forever): a copy that
//! arrives more than this long after the first one passes again, as a new event. The KV
//! keys are `seen/<len(source)>:<source>/<id>` (a counter of copies seen; the length prefix
//! keeps `source` + `id` pairs from colliding, e.g. `a/b` + `c` and `a` + `b/c`),
//! `seen-at/<same>` (when it was first passed, Unix seconds; only with a window) and
//! `count/<type>` (a counter). Nothing is added to the event.
//!
//! Delivery is at-least-once, so duplicates do reach plugins; this is how a route drops
//! them. The hub applies a plugin's writes only once the event was delivered (a retry, a
//! crash or a dead letter discards them), so an event is marked seen exactly when it got
//! through: a redelivery after a crash, a retry or a re-posted dead letter is not dropped.

use weft_sdk::kv::Bucket;
use weft_sdk::{Event, Failure, HandlerResult};

/// Passes the first occurrence of each `source` + `id` (within the window), drops the rest.
pub fn handle(event: Event) -> HandlerResult {
    let bucket_name = weft_sdk::config::get_or("bucket", "dedupe");
    let window: u64 = weft_sdk::config::get_or("window_secs", "0")
        .parse()
        .map_err(|e| Failure::reject(format!("dedupe: config `window_secs`: {e}")))?;
    let bucket = Bucket::open(&bucket_name).map_err(Failure::retry)?;
    let key = seen_key(&event.source, &event.id);
    let seen = bucket.increment(&key, 1).map_err(Failure::retry)?;
    let at_key = format!("seen-at/{}", &key["seen/".len()..]);
    if seen > 1 {
        let expired = window > 0
            && match bucket.get(&at_key).map_err(Failure::retry)? {
                Some(at) => {
                    let at: u64 = String::from_utf8_lossy(&at).parse().unwrap_or(0);
                    now_secs().saturating_sub(at) >= window
                }
                None => true,
            };
        if !expired {
            weft_sdk::log::debug(&format!("dropping duplicate {key}"));
            return Ok(vec![]);
        }
    }
    if window > 0 {
        bucket
            .set(&at_key, now_secs().to_string().as_bytes())
            .map_err(Failure::retry)?;
    }
    bucket
        .increment(&format!("count/{}", event.ty), 1)
        .map_err(Failure::retry)?;
    Ok(vec![event])
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
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
    fn a_copy_after_the_window_passes_again() {
        let host = TestHost::new().with_config("window_secs", "60");
        let e = Event::new("1", "/erp", "t");
        assert_eq!(host.call(handle, e.clone()).unwrap().len(), 1);
        assert!(host.call(handle, e.clone()).unwrap().is_empty());
        // first passed 61 s ago
        let at_key = "seen-at/4:/erp/1";
        let old = (now_secs() - 61).to_string();
        assert!(host.kv("dedupe", at_key).is_some());
        host.set_kv("dedupe", at_key, old.as_bytes());
        assert_eq!(host.call(handle, e.clone()).unwrap().len(), 1);
        assert!(host.call(handle, e).unwrap().is_empty());
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
