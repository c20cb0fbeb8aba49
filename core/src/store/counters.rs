//! Roll-up counters packed per unit and day: one value under `dim | unit \0 | day` holds every
//! counter of that unit-day as `(bucket, channel, count)` triples, sorted by bucket and channel,
//! the count a varint. A rating touches one value per unit instead of one or two sled keys per
//! unit (measured on a city-year of the demo's mix: 2.1 roll-up keys per rating, each costing
//! far more disk than its 33 bytes).
//!
//! A value depends only on the counts, never on the order they were added in, so a rebuild
//! writes the same bytes.

use sled::transaction::TransactionalTree;

use super::StoreError;
use super::apply::{TxResult, abort};

/// One counter of a unit-day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Counter {
    pub bucket: u8,
    pub channel: u8,
    pub count: u64,
}

/// Adds `count` to the counter `bucket`/`channel` of `counters`, kept sorted.
pub(super) fn add(counters: &mut Vec<Counter>, bucket: u8, channel: u8, count: u64) {
    match counters.binary_search_by_key(&(bucket, channel), |counter| {
        (counter.bucket, counter.channel)
    }) {
        Ok(at) => counters[at].count += count,
        Err(at) => counters.insert(
            at,
            Counter {
                bucket,
                channel,
                count,
            },
        ),
    }
}

/// Adds `deltas` (sorted, as [`add`] keeps them) to the unit-day value at `key`: one read and
/// one write however many ratings of a batch they sum.
pub(super) fn merge(tree: &TransactionalTree, key: Vec<u8>, deltas: &[Counter]) -> TxResult<()> {
    let mut counters = match tree.get(&key)? {
        Some(value) => decode(&value).map_err(abort)?,
        None => Vec::new(),
    };
    for delta in deltas {
        add(&mut counters, delta.bucket, delta.channel, delta.count);
    }
    tree.insert(key, encode(&counters))?;
    Ok(())
}

fn encode(counters: &[Counter]) -> Vec<u8> {
    let mut value = Vec::with_capacity(counters.len() * 4);
    for counter in counters {
        value.push(counter.bucket);
        value.push(counter.channel);
        let mut count = counter.count;
        while count >= 0x80 {
            value.push((count as u8) | 0x80);
            count >>= 7;
        }
        value.push(count as u8);
    }
    value
}

pub fn decode(value: &[u8]) -> Result<Vec<Counter>, StoreError> {
    let damaged = || StoreError::Damaged("a roll-up value".into());
    let mut counters = Vec::new();
    let mut at = 0;
    while at < value.len() {
        let (&bucket, &channel) = (
            value.get(at).ok_or_else(damaged)?,
            value.get(at + 1).ok_or_else(damaged)?,
        );
        at += 2;
        let mut count: u64 = 0;
        let mut shift = 0;
        loop {
            let byte = *value.get(at).ok_or_else(damaged)?;
            at += 1;
            count |= u64::from(byte & 0x7f)
                .checked_shl(shift)
                .ok_or_else(damaged)?;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift >= 64 {
                return Err(damaged());
            }
        }
        counters.push(Counter {
            bucket,
            channel,
            count,
        });
    }
    Ok(counters)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::keys::{self, Dim};

    #[test]
    fn counters_round_trip_sorted_whatever_the_order_of_increments() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let a = db.open_tree("a").unwrap();
        let b = db.open_tree("b").unwrap();
        let adds = [(0, 3), (5, 0xff), (0, 3), (40, 0xff), (0, 1)];
        let key = keys::unit_day(Dim::Window, "W1", 20261206);
        // One by one into `a`; summed in memory in the reverse order, then merged, into `b`.
        for (bucket, channel) in adds {
            let mut delta = Vec::new();
            add(&mut delta, bucket, channel, 1);
            a.transaction(|tx| merge(tx, key.clone(), &delta)).unwrap();
        }
        let mut deltas = Vec::new();
        for (bucket, channel) in adds.iter().rev() {
            add(&mut deltas, *bucket, *channel, 1);
        }
        b.transaction(|tx| merge(tx, key.clone(), &deltas)).unwrap();
        let (_, value) = a.first().unwrap().unwrap();
        assert_eq!(value, b.first().unwrap().unwrap().1);
        let counters = decode(&value).unwrap();
        let triples: Vec<_> = counters
            .iter()
            .map(|counter| (counter.bucket, counter.channel, counter.count))
            .collect();
        assert_eq!(triples, [(0, 1, 1), (0, 3, 2), (5, 0xff, 1), (40, 0xff, 1)]);
        let big = [Counter {
            bucket: 1,
            channel: 2,
            count: 300_000_000_000,
        }];
        assert_eq!(decode(&encode(&big)).unwrap(), big);
        assert!(decode(&[1, 2, 0x80]).is_err());
    }
}
