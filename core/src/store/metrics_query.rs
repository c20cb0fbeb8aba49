//! Metrics of many units at once: one roll-up range scan per unit, one pass over the open
//! orders for all of them.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::keys::{self, Dim};
use super::{RollupGroup, RollupQuery, Store, StoreError, tree};
use crate::calendar::local_date;
use crate::hooks::PhaseKind;
use crate::metrics::{MetricSettings, Overdue, RollupRow, UnitMetrics};
use crate::workflow::{Order, OrderKind};

impl Store {
    /// The metrics of each unit over `from..=to` (China dates), with what became of the
    /// period's orders by `as_of`.
    pub fn unit_metrics(
        &self,
        units: &[(Dim, String)],
        from: NaiveDate,
        to: NaiveDate,
        as_of: DateTime<Utc>,
        settings: &MetricSettings,
    ) -> Result<Vec<UnitMetrics>, StoreError> {
        let overdue = self.overdue_by_unit(units, from, to, as_of)?;
        units
            .iter()
            .zip(overdue)
            .map(|((dim, unit), overdue)| {
                let row = self
                    .rollup(&RollupQuery {
                        dim: *dim,
                        unit: unit.clone(),
                        from,
                        to,
                        group: RollupGroup::Total,
                    })?
                    .pop()
                    .unwrap_or_default();
                Ok(UnitMetrics::compute(&row, overdue, settings))
            })
            .collect()
    }

    /// One unit's metrics for each day of `from..=to` (the daily view): the roll-up read once,
    /// by day, and the open orders once, where asking [`Store::unit_metrics`] day by day reads
    /// every open order once per day.
    pub fn unit_metrics_by_day(
        &self,
        dim: Dim,
        unit: &str,
        from: NaiveDate,
        to: NaiveDate,
        as_of: DateTime<Utc>,
        settings: &MetricSettings,
    ) -> Result<Vec<(NaiveDate, UnitMetrics)>, StoreError> {
        let mut overdue: HashMap<NaiveDate, Overdue> = HashMap::new();
        self.late_orders(from, to, as_of, &mut |order, day| {
            if super::closed_loop::order_filed_under(order, dim, unit) {
                let counts = overdue.entry(day).or_default();
                counts.orders += 1;
                counts.real_name_orders += u64::from(order.real_name);
            }
        })?;
        let mut rows: HashMap<String, RollupRow> = self
            .rollup(&RollupQuery {
                dim,
                unit: unit.to_string(),
                from,
                to,
                group: RollupGroup::Day,
            })?
            .into_iter()
            .map(|row| (row.group.clone(), row))
            .collect();
        Ok(from
            .iter_days()
            .take_while(|day| *day <= to)
            .map(|day| {
                let row = rows.remove(&day.to_string()).unwrap_or_default();
                let overdue = overdue.remove(&day).unwrap_or_default();
                (day, UnitMetrics::compute(&row, overdue, settings))
            })
            .collect())
    }

    /// Open bad-review orders received in the period and still not rectified after their
    /// deadline, counted under each asked unit they are filed under (by the unit's index).
    fn overdue_by_unit(
        &self,
        units: &[(Dim, String)],
        from: NaiveDate,
        to: NaiveDate,
        as_of: DateTime<Utc>,
    ) -> Result<Vec<Overdue>, StoreError> {
        let mut wanted: HashMap<Dim, HashMap<&str, usize>> = HashMap::new();
        for (index, (dim, unit)) in units.iter().enumerate() {
            wanted.entry(*dim).or_default().insert(unit.as_str(), index);
        }
        let mut counts = vec![Overdue::default(); units.len()];
        self.late_orders(from, to, as_of, &mut |order, _| {
            for (dim, unit) in super::closed_loop::order_units(order) {
                if let Some(index) = wanted.get(&dim).and_then(|units| units.get(unit)) {
                    counts[*index].orders += 1;
                    counts[*index].real_name_orders += u64::from(order.real_name);
                }
            }
        })?;
        Ok(counts)
    }

    /// Calls `visit` with each open bad-review order received in `from..=to` (and its China
    /// day) whose rectification deadline passed unmet by `as_of`.
    fn late_orders(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        as_of: DateTime<Utc>,
        visit: &mut dyn FnMut(&Order, NaiveDate),
    ) -> Result<(), StoreError> {
        let (first, last) = (keys::day_number(from), keys::day_number(to));
        for item in self.trees()?[tree::ORDER_INDEX].scan_prefix(b"o") {
            let (key, summary) = item?;
            if !super::closed_loop::may_be_late(&summary, first, last, as_of) {
                continue;
            }
            let Some(order) = self.order(keys::u64_value(&key[1..]))? else {
                continue;
            };
            if order.kind != OrderKind::BadReview {
                continue;
            }
            let day = local_date(order.received_at);
            if day < from || day > to {
                continue;
            }
            let late = order
                .deadline(PhaseKind::Rectify)
                .is_some_and(|d| d.done_at.is_none() && as_of >= d.due);
            if late {
                visit(&order, day);
            }
        }
        Ok(())
    }
}
