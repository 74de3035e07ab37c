//! Raw observations as the library writes them: one block per experiment
//! and flush, holding many observations in a compact binary record, instead
//! of one SQL row each.
//!
//! Why blocks: a row per observation costs SQLite about as much as the rest
//! of recording and folding together (a B-tree insert, a record of four
//! texts), so a recording process could not persist and fold observations
//! as fast as bare row inserts of the same data. A block costs one insert
//! for thousands of observations, and its unit ids, variants and metrics
//! are written once each. Blocks are folded in the transaction that writes
//! them; they are read again only for export and retention.
//!
//! The ids of the observations in a block are `first_id..=last_id`, drawn
//! from the sequence of the `observations` table, which keeps the rows
//! written other than by a flush (older versions, other tools): one id
//! space, one fold watermark, and an export merges both in id order.
//!
//! The record (version 1), all integers LEB128 varints, little-endian
//! doubles:
//!
//! ```text
//! version (1 byte = 1)
//! units:  count, then each: byte length, UTF-8 bytes
//! names:  count, then each: byte length, UTF-8 bytes   (variants, metrics)
//! rows:   count, then each: unit index, variant name index,
//!         metric name index, value (8 bytes), at_ms as a zigzag delta
//!         from the previous row's (the first from 0)
//! ```

use rusqlite::{Connection, Transaction, params};

use crate::error::{Error, Result};

const VERSION: u8 = 1;

/// Draws `n` (at least 1) new observation ids from the sequence of the
/// `observations` table, so that rows inserted there later (by another
/// tool) come after them. Returns the first.
pub(crate) fn allocate_ids(tx: &Transaction<'_>, n: usize) -> Result<i64> {
    let last: i64 = tx
        .prepare_cached(
            "UPDATE sqlite_sequence SET seq = seq + ?1 WHERE name = 'observations' RETURNING seq",
        )?
        .query_row([n as i64], |r| r.get(0))?;
    Ok(last - n as i64 + 1)
}

/// Writes `block` of `experiment`, whose observations have the ids from
/// `first_id` on. `bytes` is a reusable buffer.
pub(crate) fn insert(
    tx: &Transaction<'_>,
    first_id: i64,
    experiment: &str,
    block: &Block<'_>,
    bytes: &mut Vec<u8>,
) -> Result<()> {
    let n = block.rows.len() as i64;
    let (first_at, last_at) = block.rows.iter().fold((i64::MAX, i64::MIN), |(lo, hi), r| {
        (lo.min(r.at_ms), hi.max(r.at_ms))
    });
    bytes.clear();
    block.encode(bytes);
    tx.prepare_cached(
        "INSERT INTO observation_blocks
             (first_id, last_id, experiment, observations, first_at_ms, last_at_ms, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        first_id,
        first_id + n - 1,
        experiment,
        n,
        first_at,
        last_at,
        &bytes[..]
    ])?;
    Ok(())
}

/// Calls `f` with every block of `experiment` in id order, with the id of
/// its first observation.
pub(crate) fn for_each(
    conn: &Connection,
    experiment: &str,
    mut f: impl FnMut(i64, &Block<'_>) -> Result<()>,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT first_id, data FROM observation_blocks WHERE experiment = ?1 ORDER BY first_id",
    )?;
    let mut rows = stmt.query([experiment])?;
    while let Some(r) = rows.next()? {
        let first_id: i64 = r.get(0)?;
        let data = r
            .get_ref(1)?
            .as_blob()
            .map_err(|e| Error::storage(format!("observation block {first_id}: {e}")))?;
        let block = Block::decode(data).map_err(|e| {
            Error::storage(format!(
                "observation block {first_id} of `{experiment}` cannot be read {}",
                e.message()
            ))
        })?;
        f(first_id, &block)?;
    }
    Ok(())
}

/// Deletes the blocks of `experiment` whose observations are all older
/// than `before_ms` and folded (ids up to `folded_to`). Returns how many
/// observations went. A block is kept whole until its latest observation
/// is old enough: retention works at the grain of a flush.
pub(crate) fn prune(
    tx: &Transaction<'_>,
    experiment: &str,
    before_ms: i64,
    folded_to: i64,
) -> Result<usize> {
    let n: i64 = tx
        .prepare_cached(
            "DELETE FROM observation_blocks
             WHERE experiment = ?1 AND last_at_ms < ?2 AND last_id <= ?3
             RETURNING observations",
        )?
        .query_map(params![experiment, before_ms, folded_to], |r| {
            r.get::<_, i64>(0)
        })?
        .sum::<rusqlite::Result<i64>>()?;
    Ok(n as usize)
}

/// One observation of a block, by index into its tables.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BlockRow {
    pub unit: u32,
    pub variant: u32,
    pub metric: u32,
    pub value: f64,
    pub at_ms: i64,
}

/// A block's contents: its tables of unit ids and names, and its rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Block<'a> {
    pub units: Vec<&'a str>,
    /// Variant and metric names.
    pub names: Vec<&'a str>,
    pub rows: Vec<BlockRow>,
}

impl<'a> Block<'a> {
    /// Appends the binary record of this block to `out`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.reserve(self.rows.len() * 14 + self.units.len() * 12);
        out.push(VERSION);
        for table in [&self.units, &self.names] {
            put_varint(out, table.len() as u64);
            for s in table.iter() {
                put_varint(out, s.len() as u64);
                out.extend_from_slice(s.as_bytes());
            }
        }
        put_varint(out, self.rows.len() as u64);
        let mut at = 0i64;
        for r in &self.rows {
            put_varint(out, u64::from(r.unit));
            put_varint(out, u64::from(r.variant));
            put_varint(out, u64::from(r.metric));
            out.extend_from_slice(&r.value.to_le_bytes());
            put_varint(out, zigzag(r.at_ms.wrapping_sub(at)));
            at = r.at_ms;
        }
    }

    /// Reads a block back, checking every length and index: a damaged
    /// record is an error that says where and what is wrong ("at byte 12
    /// of 40: it ends early"), never a panic.
    pub(crate) fn decode(bytes: &'a [u8]) -> Result<Block<'a>> {
        let mut r = Reader { bytes, at: 0 };
        let version = r.byte()?;
        if version != VERSION {
            return Err(r.error(&format!(
                "version {version}, not {VERSION} (written by a newer cha-deploy?)"
            )));
        }
        let units = r.strings("unit ids")?;
        let names = r.strings("names")?;
        let count = r.count("rows", 4 + 8)?;
        let mut rows = Vec::with_capacity(count);
        let mut at = 0i64;
        for _ in 0..count {
            let unit = r.index(units.len(), "unit")?;
            let variant = r.index(names.len(), "variant")?;
            let metric = r.index(names.len(), "metric")?;
            let value = f64::from_le_bytes(r.take(8)?.try_into().expect("8 bytes"));
            at = at.wrapping_add(unzigzag(r.varint()?));
            rows.push(BlockRow {
                unit,
                variant,
                metric,
                value,
                at_ms: at,
            });
        }
        if r.at != bytes.len() {
            return Err(r.error("bytes left after the last row"));
        }
        Ok(Block { units, names, rows })
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn error(&self, what: &str) -> Error {
        Error::storage(format!(
            "at byte {} of {}: {what}",
            self.at,
            self.bytes.len()
        ))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.bytes.len() - self.at < n {
            return Err(self.error("it ends early"));
        }
        let head = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.error("a number longer than 64 bits"))
    }

    /// A count of items of at least `min_bytes` each: never more than the
    /// bytes left could hold, so a damaged count cannot ask for a huge
    /// allocation.
    fn count(&mut self, what: &str, min_bytes: usize) -> Result<usize> {
        let n = self.varint()?;
        let left = (self.bytes.len() - self.at) as u64;
        if n > left / min_bytes as u64 {
            return Err(self.error(&format!("{n} {what} cannot fit in {left} bytes")));
        }
        Ok(n as usize)
    }

    fn strings(&mut self, what: &str) -> Result<Vec<&'a str>> {
        let n = self.count(what, 1)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let len = self.varint()?;
            let len = usize::try_from(len).map_err(|_| self.error("a text too long"))?;
            let bytes = self.take(len)?;
            out.push(
                std::str::from_utf8(bytes)
                    .map_err(|_| self.error(&format!("one of its {what} is not UTF-8")))?,
            );
        }
        Ok(out)
    }

    fn index(&mut self, len: usize, what: &str) -> Result<u32> {
        let i = self.varint()?;
        if i >= len as u64 {
            return Err(self.error(&format!("{what} index {i} of {len}")));
        }
        Ok(i as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Block<'static> {
        Block {
            units: vec!["engineer-000001", "é-unit", ""],
            names: vec!["control", "treatment", "cost"],
            rows: vec![
                BlockRow {
                    unit: 0,
                    variant: 0,
                    metric: 2,
                    value: 1e9 + 0.5,
                    at_ms: 1_764_000_000_000,
                },
                BlockRow {
                    unit: 1,
                    variant: 1,
                    metric: 2,
                    value: -0.0,
                    at_ms: 1_763_999_999_000,
                },
                BlockRow {
                    unit: 2,
                    variant: 1,
                    metric: 2,
                    value: f64::NAN,
                    at_ms: i64::MIN,
                },
                BlockRow {
                    unit: 0,
                    variant: 0,
                    metric: 2,
                    value: f64::MIN_POSITIVE,
                    at_ms: i64::MAX,
                },
            ],
        }
    }

    #[test]
    fn a_block_reads_back_bit_for_bit() {
        let block = sample();
        let mut bytes = Vec::new();
        block.encode(&mut bytes);
        let back = Block::decode(&bytes).unwrap();
        assert_eq!(back.units, block.units);
        assert_eq!(back.names, block.names);
        for (a, b) in back.rows.iter().zip(&block.rows) {
            assert_eq!(
                (a.unit, a.variant, a.metric, a.at_ms),
                (b.unit, b.variant, b.metric, b.at_ms)
            );
            assert_eq!(a.value.to_bits(), b.value.to_bits());
        }
        assert_eq!(back.rows.len(), 4);
        // An empty block too.
        let mut empty = Vec::new();
        Block::default().encode(&mut empty);
        assert_eq!(Block::decode(&empty).unwrap(), Block::default());
    }

    #[test]
    fn a_damaged_block_is_an_error_never_a_panic() {
        let mut bytes = Vec::new();
        sample().encode(&mut bytes);
        // Every truncation.
        for len in 0..bytes.len() {
            let e = Block::decode(&bytes[..len]).unwrap_err();
            assert!(e.message().starts_with("at byte "), "{e}");
        }
        // Every single-byte change either reads or fails cleanly.
        for at in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut damaged = bytes.clone();
                damaged[at] ^= flip;
                let _ = Block::decode(&damaged);
            }
        }
        // A trailing byte, a newer version, an index out of range, a count
        // too large for the bytes, text that is not UTF-8.
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(
            Block::decode(&longer)
                .unwrap_err()
                .message()
                .contains("left after")
        );
        let mut newer = bytes.clone();
        newer[0] = 2;
        assert!(
            Block::decode(&newer)
                .unwrap_err()
                .message()
                .contains("version 2")
        );
        let bad_index = [
            1u8, 1, 1, b'u', 1, 1, b'n', 1, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert!(
            Block::decode(&bad_index)
                .unwrap_err()
                .message()
                .contains("unit index 5 of 1")
        );
        let huge = [1u8, 0xff, 0xff, 0xff, 0xff, 0x0f];
        assert!(
            Block::decode(&huge)
                .unwrap_err()
                .message()
                .contains("cannot fit")
        );
        let not_utf8 = [1u8, 1, 1, 0xff, 0, 0];
        assert!(
            Block::decode(&not_utf8)
                .unwrap_err()
                .message()
                .contains("not UTF-8")
        );
    }

    #[test]
    fn zigzag_round_trips_the_extremes() {
        for v in [0, 1, -1, i64::MAX, i64::MIN, 123_456_789, -987_654_321] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }
}
