//! Which product shard owns a barcode: Robotoff's high-priority queue rule.

use md5::{Digest, Md5};

/// Shard index in `0..shards` for `barcode`: the last 4 bytes of `md5(barcode)` read as
/// a little-endian `i32`, then Euclidean modulo (spec pipeline §1.3). The server type
/// is not hashed, so a barcode lands on the same shard on every flavor.
pub fn shard_of(barcode: &str, shards: u32) -> u32 {
    shard_for_key(shard_key(barcode), shards)
}

/// The hash behind [`shard_of`]: last 4 bytes of `md5(barcode)`, little-endian, signed.
pub fn shard_key(barcode: &str) -> i32 {
    let digest = Md5::digest(barcode.as_bytes());
    i32::from_le_bytes([digest[12], digest[13], digest[14], digest[15]])
}

/// Euclidean modulo of a shard key by the number of shards.
pub fn shard_for_key(key: i32, shards: u32) -> u32 {
    let shards = i64::from(shards.max(1));
    // rem_euclid of a value in i32 range by a positive u32 fits in u32.
    i64::from(key).rem_euclid(shards) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Worked values of spec pipeline §1.3 / §10.1 (Robotoff's
    /// `tests/unit/workers/test_queues.py::test_get_high_queue`), with 6 queues;
    /// Robotoff's queue names are 1-based.
    #[test]
    fn robotoff_worked_values() {
        let cases = [
            ("3456300016208", 1),
            ("3456300016210", 4),
            ("3456300016214", 5),
            ("3456300016212", 6),
            ("prefix_3456300016210", 5),
        ];
        for (barcode, queue) in cases {
            assert_eq!(shard_of(barcode, 6) + 1, queue, "barcode {barcode}");
        }
    }

    #[test]
    fn signed_little_endian_tail() {
        // md5("3456300016208") ends with c4 15 b3 cd → -843 901 500 (spec table).
        assert_eq!(shard_key("3456300016208"), -843_901_500);
        assert_eq!(shard_key("3456300016214"), 99_000_706);
        assert_eq!(shard_of("3456300016208", 1), 0);
    }
}
