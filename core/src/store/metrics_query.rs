//! Metrics of many units at once: one roll-up range scan per unit, one pass over the open
//! orders for all of them.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::keys::Dim;
use super::{RollupGroup, RollupQuery, Store, StoreError};
use crate::calendar::local_date;
use crate::hooks::PhaseKind;
use crate::metrics::{MetricSettings, Overdue, UnitMetrics};
use crate::workflow::OrderKind;

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
        for order in self.open_orders()? {
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
            if !late {
                continue;
            }
            for (dim, unit) in super::closed_loop::order_units(&order) {
                if let Some(index) = wanted.get(&dim).and_then(|units| units.get(unit)) {
                    counts[*index].orders += 1;
                    counts[*index].real_name_orders += u64::from(order.real_name);
                }
            }
        }
        Ok(counts)
    }
}
