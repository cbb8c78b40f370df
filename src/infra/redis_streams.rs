//! Reading Redis streams: blocking multi-stream reads, ranges, the last entry id.

use redis::aio::MultiplexedConnection;
use redis::streams::{StreamRangeReply, StreamReadReply};
use std::collections::HashMap;

/// One stream entry with its fields decoded as UTF-8 (lossily).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: String,
    pub fields: HashMap<String, String>,
}

fn text(v: &redis::Value) -> String {
    match v {
        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        redis::Value::SimpleString(s) => s.clone(),
        redis::Value::Int(i) => i.to_string(),
        redis::Value::Double(d) => d.to_string(),
        redis::Value::Boolean(b) => b.to_string(),
        _ => String::new(),
    }
}

fn entry(id: redis::streams::StreamId) -> Entry {
    let fields = id.map.iter().map(|(k, v)| (k.clone(), text(v))).collect();
    Entry { id: id.id, fields }
}

/// Entries after `ids[i]` in `streams[i]`, at most `count` per stream, waiting up to
/// `block_ms` for the first one. Returns (stream, entries) for streams with entries.
pub async fn read(
    conn: &mut MultiplexedConnection,
    streams: &[String],
    ids: &[String],
    count: usize,
    block_ms: u64,
) -> redis::RedisResult<Vec<(String, Vec<Entry>)>> {
    let reply: Option<StreamReadReply> = redis::cmd("XREAD")
        .arg("COUNT")
        .arg(count)
        .arg("BLOCK")
        .arg(block_ms)
        .arg("STREAMS")
        .arg(streams)
        .arg(ids)
        .query_async(conn)
        .await?;
    Ok(reply
        .map(|r| {
            r.keys
                .into_iter()
                .map(|k| (k.key, k.ids.into_iter().map(entry).collect()))
                .collect()
        })
        .unwrap_or_default())
}

/// Entries of `stream` from `start` (inclusive; `(id` for exclusive) to `end`, at most `count`.
pub async fn range(
    conn: &mut MultiplexedConnection,
    stream: &str,
    start: &str,
    end: &str,
    count: usize,
) -> redis::RedisResult<Vec<Entry>> {
    let reply: StreamRangeReply = redis::cmd("XRANGE")
        .arg(stream)
        .arg(start)
        .arg(end)
        .arg("COUNT")
        .arg(count)
        .query_async(conn)
        .await?;
    Ok(reply.ids.into_iter().map(entry).collect())
}

/// Id of the newest entry of `stream`, or `0-0` if it is empty or absent.
pub async fn last_id(conn: &mut MultiplexedConnection, stream: &str) -> redis::RedisResult<String> {
    let reply: StreamRangeReply = redis::cmd("XREVRANGE")
        .arg(stream)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(conn)
        .await?;
    Ok(reply
        .ids
        .into_iter()
        .next()
        .map(|e| e.id)
        .unwrap_or_else(|| "0-0".to_string()))
}
