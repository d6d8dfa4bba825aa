//! Helpers shared by the connectors: reply parsing, error classification, backoff.

use std::time::Duration;

use redis::{RedisError, RetryMethod, Value};
use weft_connector::Backoff;

/// One stream entry as Redis returned it. `fields` is `None` for an entry that is still
/// in a pending list but was deleted from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawEntry {
    pub id: String,
    pub fields: Option<Vec<(Vec<u8>, Vec<u8>)>>,
}

/// Why a reply did not have the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected reply from redis: {0}")]
pub(crate) struct ReplyError(pub String);

fn unexpected(what: &str, value: &Value) -> ReplyError {
    let mut shown = format!("{value:?}");
    if shown.len() > 200 {
        let mut cut = 200;
        while !shown.is_char_boundary(cut) {
            cut -= 1;
        }
        shown.truncate(cut);
        shown.push('…');
    }
    ReplyError(format!("expected {what}, got {shown}"))
}

/// The bytes of a scalar reply.
pub(crate) fn bytes(value: Value) -> Result<Vec<u8>, ReplyError> {
    match value {
        Value::BulkString(b) => Ok(b),
        Value::SimpleString(s) => Ok(s.into_bytes()),
        Value::VerbatimString { text, .. } => Ok(text.into_bytes()),
        Value::Int(i) => Ok(i.to_string().into_bytes()),
        Value::Okay => Ok(b"OK".to_vec()),
        Value::Double(d) => Ok(d.to_string().into_bytes()),
        Value::Boolean(b) => Ok(b.to_string().into_bytes()),
        other => Err(unexpected("a string", &other)),
    }
}

/// A scalar reply as text.
pub(crate) fn text(value: Value) -> Result<String, ReplyError> {
    let b = bytes(value)?;
    String::from_utf8(b).map_err(|e| ReplyError(format!("expected UTF-8 text: {e}")))
}

/// An integer reply (integers may arrive as strings).
pub(crate) fn int(value: Value) -> Result<i64, ReplyError> {
    match value {
        Value::Int(i) => Ok(i),
        other => {
            let t = text(other)?;
            t.parse()
                .map_err(|_| ReplyError(format!("expected an integer, got `{t}`")))
        }
    }
}

fn items(value: Value) -> Result<Vec<Value>, ReplyError> {
    match value {
        Value::Array(items) | Value::Set(items) => Ok(items),
        Value::Attribute { data, .. } => items(*data),
        other => Err(unexpected("an array", &other)),
    }
}

fn pairs(value: Value) -> Result<Vec<(Value, Value)>, ReplyError> {
    match value {
        Value::Map(pairs) => Ok(pairs),
        Value::Attribute { data, .. } => pairs(*data),
        other => {
            let flat = items(other)?;
            if flat.len() % 2 != 0 {
                return Err(ReplyError("odd number of field/value items".into()));
            }
            let mut out = Vec::with_capacity(flat.len() / 2);
            let mut it = flat.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                out.push((k, v));
            }
            Ok(out)
        }
    }
}

/// Parses a list of entries: `[[id, [field, value, …] | nil], …]`.
pub(crate) fn entries(value: Value) -> Result<Vec<RawEntry>, ReplyError> {
    if value == Value::Nil {
        return Ok(Vec::new());
    }
    items(value)?
        .into_iter()
        .filter(|v| *v != Value::Nil)
        .map(|entry| {
            let mut parts = items(entry)?.into_iter();
            let id = text(
                parts
                    .next()
                    .ok_or_else(|| ReplyError("entry without id".into()))?,
            )?;
            let fields = match parts.next() {
                None | Some(Value::Nil) => None,
                Some(v) => Some(
                    pairs(v)?
                        .into_iter()
                        .map(|(k, v)| Ok((bytes(k)?, bytes(v)?)))
                        .collect::<Result<Vec<_>, ReplyError>>()?,
                ),
            };
            Ok(RawEntry { id, fields })
        })
        .collect()
}

/// Parses an `XREAD`/`XREADGROUP` reply (RESP2 array or RESP3 map of stream → entries).
pub(crate) fn read_reply(value: Value) -> Result<Vec<RawEntry>, ReplyError> {
    if value == Value::Nil {
        return Ok(Vec::new());
    }
    let streams = match value {
        Value::Map(pairs) => pairs,
        other => items(other)?
            .into_iter()
            .map(|s| {
                let mut kv = items(s)?.into_iter();
                match (kv.next(), kv.next()) {
                    (Some(k), Some(v)) => Ok((k, v)),
                    _ => Err(ReplyError("stream reply without entries".into())),
                }
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    let mut out = Vec::new();
    for (_, list) in streams {
        out.extend(entries(list)?);
    }
    Ok(out)
}

/// Parses an `XAUTOCLAIM` reply: (next cursor, claimed entries, ids deleted from the
/// stream and dropped from the pending list).
pub(crate) fn autoclaim_reply(
    value: Value,
) -> Result<(String, Vec<RawEntry>, Vec<String>), ReplyError> {
    let mut parts = items(value)?.into_iter();
    let cursor = text(parts.next().ok_or_else(|| ReplyError("no cursor".into()))?)?;
    let claimed = entries(parts.next().unwrap_or(Value::Nil))?;
    let deleted = match parts.next() {
        None | Some(Value::Nil) => Vec::new(),
        Some(v) => items(v)?.into_iter().map(text).collect::<Result<_, _>>()?,
    };
    Ok((cursor, claimed, deleted))
}

/// Parses an extended `XPENDING` reply: `[[id, consumer, idle ms, delivery count], …]`.
pub(crate) fn pending_reply(value: Value) -> Result<Vec<(String, String, u64)>, ReplyError> {
    if value == Value::Nil {
        return Ok(Vec::new());
    }
    items(value)?
        .into_iter()
        .map(|row| {
            let mut f = items(row)?.into_iter();
            let (Some(id), Some(consumer), Some(_idle), Some(count)) =
                (f.next(), f.next(), f.next(), f.next())
            else {
                return Err(ReplyError("short XPENDING row".into()));
            };
            Ok((text(id)?, text(consumer)?, int(count)?.max(0) as u64))
        })
        .collect()
}

/// Parses a stream id `ms-seq` for ordering.
pub(crate) fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

/// Whether retrying the same command later may succeed (connection loss, timeouts,
/// loading, out of memory, failover) as opposed to a permanent refusal.
pub(crate) fn is_transient(error: &RedisError) -> bool {
    if matches!(
        error.code(),
        Some("OOM" | "LOADING" | "BUSY" | "MASTERDOWN" | "TRYAGAIN" | "CLUSTERDOWN")
    ) {
        return true;
    }
    error.is_io_error()
        || error.is_timeout()
        || !matches!(error.retry_method(), RetryMethod::NoRetry)
}

/// The error says the consumer group (or the stream) does not exist.
pub(crate) fn is_no_group(error: &RedisError) -> bool {
    error.code() == Some("NOGROUP")
}

/// Reconnect backoff of the Redis connectors: from 100 ms, doubling, up to `max`.
pub(crate) fn reconnect_backoff(max: Duration) -> Backoff {
    Backoff::new(Duration::from_millis(100), max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn parses_resp2_read_reply() {
        let reply = Value::Array(vec![Value::Array(vec![
            bulk("s"),
            Value::Array(vec![
                Value::Array(vec![
                    bulk("1-0"),
                    Value::Array(vec![bulk("ce_id"), bulk("a")]),
                ]),
                Value::Array(vec![bulk("2-0"), Value::Nil]),
            ]),
        ])]);
        let got = read_reply(reply).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].id, "1-0");
        assert_eq!(
            got[0].fields,
            Some(vec![(b"ce_id".to_vec(), b"a".to_vec())])
        );
        assert_eq!(got[1].fields, None);
        assert!(read_reply(Value::Nil).unwrap().is_empty());
    }

    #[test]
    fn parses_resp3_read_reply() {
        let reply = Value::Map(vec![(
            bulk("s"),
            Value::Array(vec![Value::Array(vec![
                bulk("1-0"),
                Value::Map(vec![(bulk("k"), bulk("v"))]),
            ])]),
        )]);
        let got = read_reply(reply).unwrap();
        assert_eq!(got[0].fields, Some(vec![(b"k".to_vec(), b"v".to_vec())]));
    }

    #[test]
    fn parses_autoclaim_and_pending() {
        let reply = Value::Array(vec![
            bulk("0-0"),
            Value::Array(vec![Value::Array(vec![
                bulk("5-1"),
                Value::Array(vec![bulk("event"), bulk("{}")]),
            ])]),
            Value::Array(vec![bulk("4-0")]),
        ]);
        let (cursor, claimed, deleted) = autoclaim_reply(reply).unwrap();
        assert_eq!(cursor, "0-0");
        assert_eq!(claimed[0].id, "5-1");
        assert_eq!(deleted, vec!["4-0".to_string()]);
        let pending = Value::Array(vec![Value::Array(vec![
            bulk("5-1"),
            bulk("c1"),
            Value::Int(10),
            Value::Int(3),
        ])]);
        assert_eq!(
            pending_reply(pending).unwrap(),
            vec![("5-1".into(), "c1".into(), 3)]
        );
    }

    #[test]
    fn ids_order_numerically() {
        assert!(parse_id("10-0").unwrap() > parse_id("9-5").unwrap());
        assert_eq!(parse_id("7"), Some((7, 0)));
        assert_eq!(parse_id("x-1"), None);
    }

    #[test]
    fn backoff_grows_to_cap() {
        let mut b = reconnect_backoff(Duration::from_millis(1000));
        let first = b.next_delay();
        assert!(first <= Duration::from_millis(100));
        for _ in 0..10 {
            b.next_delay();
        }
        assert!(b.next_delay() <= Duration::from_millis(1000));
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}
