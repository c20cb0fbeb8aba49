//! Reads of the closed loop: work orders, problems, the schedule of invitations and default
//! ratings, the call list, outbound messages and the marks on ratings.

use chrono::{DateTime, Utc};

use super::keys;
use super::{Store, StoreError, tree};
use crate::event::PolicyDecision;
use crate::outreach::{Message, RatingMarks, ScheduledTask, ServiceCall};
use crate::pii::tracking_hash;
use crate::workflow::{Order, Problem};

/// One bounded walk of a list: the records kept, and where to go on when the walk stopped
/// before the end (at `limit` records kept, or at `scan` records looked at).
#[derive(Debug, Clone, PartialEq)]
pub struct Scanned<T> {
    pub items: Vec<T>,
    /// The id of the last record looked at: the next walk starts past it.
    pub resume: Option<u64>,
}

impl<T> Scanned<(u64, T)> {
    /// The records without their ids.
    fn records(self) -> Scanned<T> {
        Scanned {
            items: self.items.into_iter().map(|(_, record)| record).collect(),
            resume: self.resume,
        }
    }
}

/// Which way a [`Store::walk`] goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// Newest first, from before the id given.
    Back(Option<u64>),
    /// Oldest first, from after the id given.
    Forward(Option<u64>),
}

impl Store {
    /// Records of tree `which` keyed `prefix` ‖ id (BE), walked as `direction` says, that `keep`
    /// accepts: at most `limit` kept and at most `scan` looked at, so that a filter matching
    /// nothing never reads the whole tree in one request.
    fn walk<T: serde::de::DeserializeOwned>(
        &self,
        which: usize,
        prefix: &[u8],
        direction: Walk,
        limit: usize,
        scan: usize,
        mut keep: impl FnMut(&T) -> bool,
    ) -> Result<Scanned<(u64, T)>, StoreError> {
        let at = |id: u64| {
            let mut key = prefix.to_vec();
            key.extend_from_slice(&id.to_be_bytes());
            key
        };
        let tree = &self.trees()?[which];
        let range: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> =
            match direction {
                Walk::Back(before) => {
                    let end = before.map_or_else(|| keys::prefix_end(prefix), at);
                    Box::new(tree.range(prefix.to_vec()..end).rev())
                }
                Walk::Forward(after) => {
                    let start =
                        after.map_or_else(|| prefix.to_vec(), |id| at(id.saturating_add(1)));
                    Box::new(tree.range(start..keys::prefix_end(prefix)))
                }
            };
        let mut items = Vec::new();
        let mut scanned = 0;
        for item in range {
            let (key, value) = item?;
            let id = keys::u64_value(key.get(prefix.len()..).unwrap_or_default());
            let record: T = super::codec::decode(&value)?;
            scanned += 1;
            if keep(&record) {
                items.push((id, record));
            }
            if items.len() >= limit.max(1) || scanned >= scan.max(1) {
                return Ok(Scanned {
                    items,
                    resume: Some(id),
                });
            }
        }
        Ok(Scanned {
            items,
            resume: None,
        })
    }

    pub fn order(&self, id: u64) -> Result<Option<Order>, StoreError> {
        self.json(tree::ORDERS, &id.to_be_bytes())
    }

    /// The order of a 差评.
    pub fn order_of_rating(&self, rating_id: u64) -> Result<Option<Order>, StoreError> {
        match self.trees()?[tree::ORDER_INDEX].get(keys::order_by_rating(rating_id))? {
            Some(id) => self.order(keys::u64_value(&id)),
            None => Ok(None),
        }
    }

    /// The order a citizen's tracking token opens.
    pub fn order_of_token(&self, token: &str) -> Result<Option<Order>, StoreError> {
        match self.trees()?[tree::ORDER_INDEX].get(keys::order_by_token(&tracking_hash(token)))? {
            Some(id) => self.order(keys::u64_value(&id)),
            None => Ok(None),
        }
    }

    /// Every open order, oldest first.
    pub fn open_orders(&self) -> Result<Vec<Order>, StoreError> {
        let mut orders = Vec::new();
        for item in self.trees()?[tree::ORDER_INDEX].scan_prefix(b"o") {
            let (key, _) = item?;
            if let Some(order) = self.order(keys::u64_value(&key[1..]))? {
                orders.push(order);
            }
        }
        Ok(orders)
    }

    /// Every order opened after the order (or any log entry) `after`, oldest first.
    pub fn orders_after(&self, after: u64) -> Result<Vec<Order>, StoreError> {
        let mut orders = Vec::new();
        for item in self.trees()?[tree::ORDERS].range(after.saturating_add(1).to_be_bytes()..) {
            let (_, value) = item?;
            orders.push(super::codec::decode(&value)?);
        }
        Ok(orders)
    }

    /// Every order, open or closed, with phases counted on a provisional year or waiting for a
    /// holiday table, oldest first.
    pub fn provisional_orders(&self) -> Result<Vec<Order>, StoreError> {
        let mut orders = Vec::new();
        for item in self.trees()?[tree::ORDER_INDEX].scan_prefix(b"p") {
            let (key, _) = item?;
            if let Some(order) = self.order(keys::u64_value(&key[1..]))? {
                orders.push(order);
            }
        }
        Ok(orders)
    }

    /// Orders, newest first, that `keep` accepts, after the id `before` when given; at most
    /// `limit`.
    pub fn orders(
        &self,
        before: Option<u64>,
        limit: usize,
        mut keep: impl FnMut(&Order) -> bool,
    ) -> Result<Vec<Order>, StoreError> {
        let tree = &self.trees()?[tree::ORDERS];
        let iter = match before {
            Some(before) => tree.range(..before.to_be_bytes()),
            None => tree.iter(),
        };
        let mut orders = Vec::new();
        for item in iter.rev() {
            let (_, value) = item?;
            let order: Order = super::codec::decode(&value)?;
            if keep(&order) {
                orders.push(order);
                if orders.len() >= limit {
                    break;
                }
            }
        }
        Ok(orders)
    }

    /// A page of orders, newest first from before the id `before`, that `keep` accepts: at
    /// most `limit`, looking at at most `scan` orders.
    pub fn orders_page(
        &self,
        before: Option<u64>,
        limit: usize,
        scan: usize,
        keep: impl FnMut(&Order) -> bool,
    ) -> Result<Scanned<Order>, StoreError> {
        Ok(self
            .walk(tree::ORDERS, b"", Walk::Back(before), limit, scan, keep)?
            .records())
    }

    /// A page of problems, newest first from before the id `before`, that `keep` accepts.
    pub fn problems_page(
        &self,
        before: Option<u64>,
        limit: usize,
        scan: usize,
        keep: impl FnMut(&Problem) -> bool,
    ) -> Result<Scanned<Problem>, StoreError> {
        Ok(self
            .walk(tree::PROBLEMS, b"", Walk::Back(before), limit, scan, keep)?
            .records())
    }

    /// A page of outbound messages, newest first from before the id `before`, that `keep`
    /// accepts.
    pub fn messages_page(
        &self,
        before: Option<u64>,
        limit: usize,
        scan: usize,
        keep: impl FnMut(&Message) -> bool,
    ) -> Result<Scanned<Message>, StoreError> {
        Ok(self
            .walk(tree::MESSAGES, b"m", Walk::Back(before), limit, scan, keep)?
            .records())
    }

    /// A page of frozen assessment runs with their seqs, oldest first from after the seq
    /// `after`, that `keep` accepts.
    pub fn frozen_assessments_page(
        &self,
        after: Option<u64>,
        limit: usize,
        scan: usize,
        keep: impl FnMut(&crate::assessment::AssessmentRun) -> bool,
    ) -> Result<Scanned<(u64, crate::assessment::AssessmentRun)>, StoreError> {
        self.walk(
            tree::ASSESSMENTS,
            b"",
            Walk::Forward(after),
            limit,
            scan,
            keep,
        )
    }

    pub fn problem(&self, id: u64) -> Result<Option<Problem>, StoreError> {
        self.json(tree::PROBLEMS, &id.to_be_bytes())
    }

    pub fn problems(&self) -> Result<Vec<Problem>, StoreError> {
        self.all(tree::PROBLEMS)
    }

    /// Invitations and default ratings due at `as_of`, earliest first, at most `limit`.
    pub fn due_tasks(
        &self,
        as_of: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ScheduledTask>, StoreError> {
        self.trees()?[tree::SCHEDULE]
            .range(..keys::schedule_until(as_of))
            .take(limit)
            .map(|item| Ok(super::codec::decode(&item?.1)?))
            .collect()
    }

    /// Planned tasks of one service act (for its page and for tests).
    pub fn tasks_of(
        &self,
        project_no: &str,
        service_number: u8,
    ) -> Result<Vec<ScheduledTask>, StoreError> {
        let mut tasks = Vec::new();
        for item in self.trees()?[tree::SCHEDULE].iter() {
            let task: ScheduledTask = super::codec::decode(&item?.1)?;
            if task.project_no == project_no && task.service_number == service_number {
                tasks.push(task);
            }
        }
        Ok(tasks)
    }

    pub fn service_call(
        &self,
        project_no: &str,
        service_number: u8,
    ) -> Result<Option<ServiceCall>, StoreError> {
        self.json(
            tree::CALLS,
            &keys::rating_slot(project_no, service_number, 0),
        )
    }

    /// Every service call, open or done.
    pub fn service_calls(&self) -> Result<Vec<ServiceCall>, StoreError> {
        self.trees()?[tree::CALLS]
            .range(..[0xff].as_slice())
            .map(|item| Ok(super::codec::decode(&item?.1)?))
            .collect()
    }

    /// The open service calls (the call list's), oldest project number first, that `keep`
    /// accepts; at most `limit`. Read through their index: done calls, however many, are not
    /// looked at.
    pub fn open_service_calls(
        &self,
        limit: usize,
        mut keep: impl FnMut(&ServiceCall) -> bool,
    ) -> Result<Vec<ServiceCall>, StoreError> {
        let tree = &self.trees()?[tree::CALLS];
        let mut calls = Vec::new();
        for item in tree.scan_prefix([0xff]) {
            let (key, _) = item?;
            let Some(call) = tree.get(&key[1..])? else {
                continue;
            };
            let call: ServiceCall = super::codec::decode(&call)?;
            if keep(&call) {
                calls.push(call);
                if calls.len() >= limit {
                    break;
                }
            }
        }
        Ok(calls)
    }

    pub fn message(&self, id: u64) -> Result<Option<Message>, StoreError> {
        self.json(tree::MESSAGES, &keys::message(id))
    }

    /// Messages still to deliver, oldest first.
    pub fn pending_messages(&self) -> Result<Vec<Message>, StoreError> {
        let mut messages = Vec::new();
        for item in self.trees()?[tree::MESSAGES].scan_prefix(b"q") {
            let (key, _) = item?;
            if let Some(message) = self.message(keys::u64_value(&key[1..]))? {
                messages.push(message);
            }
        }
        Ok(messages)
    }

    /// Messages, newest first, at most `limit`.
    pub fn messages(&self, limit: usize) -> Result<Vec<Message>, StoreError> {
        self.trees()?[tree::MESSAGES]
            .scan_prefix(b"m")
            .rev()
            .take(limit)
            .map(|item| Ok(super::codec::decode(&item?.1)?))
            .collect()
    }

    pub fn rating_marks(&self, rating_id: u64) -> Result<RatingMarks, StoreError> {
        Ok(self
            .json(tree::RATING_MARKS, &rating_id.to_be_bytes())?
            .unwrap_or_default())
    }

    /// A frozen assessment run.
    pub fn frozen_assessment(
        &self,
        seq: u64,
    ) -> Result<Option<crate::assessment::AssessmentRun>, StoreError> {
        self.json(tree::ASSESSMENTS, &seq.to_be_bytes())
    }

    /// Every frozen run, oldest first, with its seq.
    pub fn frozen_assessments(
        &self,
    ) -> Result<Vec<(u64, crate::assessment::AssessmentRun)>, StoreError> {
        self.trees()?[tree::ASSESSMENTS]
            .iter()
            .map(|item| {
                let (key, value) = item?;
                Ok((keys::u64_value(&key), super::codec::decode(&value)?))
            })
            .collect()
    }

    /// Decisions recorded about a subject (`service:…`, `order:…`), by hook.
    pub fn subject_decisions(&self, subject: &str) -> Result<Vec<PolicyDecision>, StoreError> {
        self.trees()?[tree::DECISIONS]
            .scan_prefix(keys::subject_decisions(subject))
            .map(|item| self.decision_at(&item?.1))
            .collect()
    }
}
