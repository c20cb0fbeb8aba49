//! Turning commands into events (validation against what is stored) and events into projection
//! writes. `project` is the one function that shapes the sled state: the live commit path and
//! `rebuild` both call it, so a rebuilt store is the same store.

use chrono::{DateTime, Utc};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use super::keys::{self, Dim, bucket};
use super::postings;
use super::staged::Tx;
use super::{Command, MasterChange, StoreError, tree};
use crate::auth::Source;
use crate::calendar::local_date;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use std::cell::RefCell;
use std::collections::HashMap;

use crate::event::{Event, LogEntry, Origin, PolicyVersionRecord, RejectedPayload, WindowQr};
use crate::keyring::Class;
use crate::model::{
    Attribution, Case, Device, DeviceModel, DeviceState, HeartbeatInput, OrgKind, OrgUnit, Rating,
    RatingFacts, RatingInput, ServiceAct, ServiceEventInput, StoredEvaluator,
};
use crate::pii::{PiiKey, PiiKind, Scope};
use crate::validate::{self, DomainError};

/// The associated-data label that binds sealed rejected payloads.
pub(super) const REJECTED_PAYLOAD_FIELD: &str = "rejected.payload";

/// What a command becomes once checked against the stored state.
pub(super) enum Decision {
    Append {
        actor: String,
        origin: Option<Origin>,
        event: Box<Event>,
    },
    Duplicate(u64),
    Reject(DomainError),
}

/// Reads through the batch's transaction, so that every command sees the writes of the commands
/// before it in the same batch (a repeated event id, a second rating of the same act).
pub(super) struct Reader<'a> {
    pub trees: &'a [TransactionalTree],
    master: Option<&'a RefCell<MasterCache>>,
}

/// Master data decoded once per batch instead of once per command (a rating reads about ten
/// org units, its source and its device). Only [`project`] writes master data, and it empties
/// the cache whenever it does ([`Tx::forget_master`]), so a command sees the upserts before it
/// in its batch exactly as an uncached read would.
#[derive(Default)]
pub(super) struct MasterCache {
    orgs: HashMap<String, Option<OrgUnit>>,
    sources: HashMap<String, Option<Source>>,
    devices: HashMap<String, Option<Device>>,
    models: HashMap<String, Option<DeviceModel>>,
}

impl<'a> Reader<'a> {
    pub(super) fn new(trees: &'a [TransactionalTree]) -> Reader<'a> {
        Reader {
            trees,
            master: None,
        }
    }

    /// A reader of the batch behind `tx`, with its master-data cache.
    pub(super) fn cached(tx: &'a Tx<'a>) -> Reader<'a> {
        Reader {
            trees: tx,
            master: Some(tx.master()),
        }
    }

    /// The record at `id` of master tree `which`, decoded once per batch.
    fn master<T: serde::de::DeserializeOwned + Clone>(
        &self,
        which: usize,
        id: &str,
        map: fn(&mut MasterCache) -> &mut HashMap<String, Option<T>>,
    ) -> TxResult<Option<T>> {
        let Some(cache) = self.master else {
            return self.json(which, id.as_bytes());
        };
        if let Some(found) = map(&mut cache.borrow_mut()).get(id) {
            return Ok(found.clone());
        }
        let found: Option<T> = self.json(which, id.as_bytes())?;
        map(&mut cache.borrow_mut()).insert(id.to_string(), found.clone());
        Ok(found)
    }

    pub(super) fn json<T: serde::de::DeserializeOwned>(
        &self,
        which: usize,
        key: &[u8],
    ) -> TxResult<Option<T>> {
        match self.trees[which].get(key)? {
            Some(bytes) => Ok(Some(super::codec::decode(&bytes).map_err(abort)?)),
            None => Ok(None),
        }
    }

    /// The case of a project, with its service acts.
    pub fn case(&self, project_no: &str) -> TxResult<Option<Case>> {
        match self.trees[tree::CASES].get(project_no.as_bytes())? {
            Some(bytes) => Ok(Some(
                super::case_record::decode(project_no.as_bytes(), &bytes).map_err(abort)?,
            )),
            None => Ok(None),
        }
    }

    /// The current generation of a window's QR code; `None` before its first.
    pub fn window_qr_generation(&self, window: &str) -> TxResult<Option<u32>> {
        Ok(self.trees[tree::WINDOW_QR]
            .get(keys::window_qr_generation(window))?
            .and_then(|bytes| <[u8; 4]>::try_from(bytes.as_ref()).ok())
            .map(u32::from_be_bytes))
    }

    pub fn org(&self, id: &str) -> TxResult<Option<OrgUnit>> {
        self.master(tree::ORG, id, |cache| &mut cache.orgs)
    }

    fn device_model(&self, model: &str) -> TxResult<Option<DeviceModel>> {
        self.master(tree::DEVICE_MODELS, model, |cache| &mut cache.models)
    }

    /// The unit and its ancestors, nearest first.
    pub fn org_chain(&self, id: &str) -> TxResult<Vec<OrgUnit>> {
        let mut chain = Vec::new();
        let mut next = Some(id.to_string());
        while let Some(id) = next {
            // Upserts refuse cycles (see `decide_master`); the bound guards against damaged data.
            if chain.len() > 16 {
                break;
            }
            match self.org(&id)? {
                Some(unit) => {
                    next = unit.parent.clone();
                    chain.push(unit);
                }
                None => break,
            }
        }
        Ok(chain)
    }

    fn known(&self, which: usize, kind: &'static str, id: &str) -> Result<(), Reject> {
        let found = self.trees[which]
            .get(id.as_bytes())
            .map_err(|error| Reject::Store(error.into()))?;
        match found {
            Some(_) => Ok(()),
            None => Err(Reject::Domain(DomainError::Unknown {
                kind,
                id: id.to_string(),
            })),
        }
    }

    fn org_of_kind(
        &self,
        id: &str,
        kinds: &[OrgKind],
        kind: &'static str,
    ) -> Result<OrgUnit, Reject> {
        match self.org(id).map_err(Reject::Store)? {
            Some(unit) if kinds.contains(&unit.kind) => Ok(unit),
            _ => Err(Reject::Domain(DomainError::Unknown {
                kind,
                id: id.to_string(),
            })),
        }
    }

    /// Resolves where an input sits: regions from its area up, hall from its window. Checks that
    /// every reference exists and that the window lies within the area and the source's scope.
    fn attribute(
        &self,
        source: &Source,
        area_code: &str,
        department: &str,
        task_code: &str,
        window: Option<&str>,
        staff: Option<&str>,
    ) -> Result<Attribution, Reject> {
        self.org_of_kind(
            area_code,
            &[
                OrgKind::City,
                OrgKind::County,
                OrgKind::Township,
                OrgKind::Village,
            ],
            "region",
        )?;
        let area_chain = self.org_chain(area_code).map_err(Reject::Store)?;
        if !area_chain.iter().any(|unit| unit.id == source.scope) {
            return Err(Reject::Domain(DomainError::OutOfScope {
                source_id: source.id.clone(),
                scope: source.scope.clone(),
                area: area_code.to_string(),
            }));
        }
        self.org_of_kind(department, &[OrgKind::Department], "department")?;
        self.known(tree::ITEMS, "service item", task_code)?;
        let mut hall = None;
        if let Some(window) = window {
            let unit = self.org_of_kind(window, &[OrgKind::Window], "window")?;
            let chain = self.org_chain(&unit.id).map_err(Reject::Store)?;
            if !chain.iter().any(|unit| unit.id == area_code) {
                return Err(Reject::Domain(DomainError::OutsideArea {
                    kind: "window",
                    id: window.to_string(),
                    area: area_code.to_string(),
                }));
            }
            hall = unit.parent.clone();
        }
        if let Some(staff) = staff {
            self.known(tree::STAFF, "staff", staff)?;
        }
        Ok(Attribution {
            regions: area_chain
                .iter()
                .filter(|unit| unit.kind.is_region())
                .map(|unit| unit.id.clone())
                .collect(),
            hall,
            window: window.map(String::from),
            department: department.to_string(),
            staff: staff.map(String::from),
            task_code: task_code.to_string(),
        })
    }

    fn device(&self, id: &str) -> Result<Device, Reject> {
        self.master(tree::DEVICES, id, |cache| &mut cache.devices)
            .map_err(Reject::Store)?
            .ok_or_else(|| {
                Reject::Domain(DomainError::Unknown {
                    kind: "device",
                    id: id.to_string(),
                })
            })
    }

    fn source(&self, id: &str) -> Result<Source, Reject> {
        match self
            .master(tree::SOURCES, id, |cache| &mut cache.sources)
            .map_err(Reject::Store)?
        {
            Some(source) if !source.disabled => Ok(source),
            _ => Err(Reject::Domain(DomainError::Unknown {
                kind: "source",
                id: id.to_string(),
            })),
        }
    }

    fn dedup(&self, source: &str, event_id: &str) -> TxResult<Option<u64>> {
        Ok(self.trees[tree::DEDUP]
            .get(keys::dedup(source, event_id))?
            .map(|seq| keys::u64_value(&seq)))
    }
}

pub(super) enum Reject {
    Domain(DomainError),
    Store(TxError),
}

impl From<DomainError> for Reject {
    fn from(error: DomainError) -> Reject {
        Reject::Domain(error)
    }
}

/// The ids of the ring's keys deciding `command` at `now` seals under: prepared before the
/// batch's transaction (see [`crate::keyring::within_transaction`]). Mirrors the sealing of
/// [`decide`]; a key it misses fails the batch rather than waiting on the store's lock.
pub(super) fn keys_needed(pii: &PiiKey, command: &Command, now: DateTime<Utc>) -> Vec<String> {
    fn scope(class: Class, subject: Option<&str>, at: DateTime<Utc>) -> Scope<'_> {
        Scope { class, subject, at }
    }
    match command {
        Command::Rating { input, .. } => {
            let evaluator = &input.evaluator;
            let subject = rating_subject(evaluator).filter(|_| evaluator.real_name);
            let personal = [
                (Class::EvaluatorName, &evaluator.name),
                (Class::EvaluatorPhone, &evaluator.phone),
                (Class::EvaluatorIdNumber, &evaluator.id_number),
            ]
            .into_iter()
            .filter(|_| evaluator.real_name);
            personal
                .chain([(Class::FreeText, &input.text)])
                .filter(|(_, value)| present(value).is_some())
                .flat_map(|(class, _)| pii.key_ids(&scope(class, subject.as_deref(), now)))
                .collect()
        }
        Command::Service { input, .. } => present(&input.applicant_phone)
            .map(|phone| pii.key_ids(&scope(Class::ApplicantPhone, Some(&phone), now)))
            .unwrap_or_default(),
        Command::KeepRejected { .. } => pii.key_ids(&scope(Class::RejectedPayload, None, now)),
        Command::Uplink(super::uplink::UplinkCommand::Prepare { body, .. }) if !body.is_empty() => {
            pii.key_ids(&scope(Class::UplinkBody, None, now))
        }
        _ => Vec::new(),
    }
}

/// A personal value given: trimmed, not empty.
fn present(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
}

/// Whom a real-name rating's personal values are about: their phone, or their ID number
/// without one (their erasure reaches every value under it).
fn rating_subject(evaluator: &crate::model::EvaluatorInput) -> Option<String> {
    present(&evaluator.phone).or_else(|| present(&evaluator.id_number))
}

/// Decides what a command becomes. `next_seq` is the sequence number the event would get.
pub(super) fn decide(
    reader: &Reader<'_>,
    pii: &PiiKey,
    command: Command,
    next_seq: u64,
    now: DateTime<Utc>,
) -> TxResult<Decision> {
    let result = match command {
        Command::Rating { source, input } => {
            decide_rating(reader, pii, &source, input, next_seq, now)
        }
        Command::Service { source, input } => decide_service(reader, pii, &source, input, now),
        Command::Loop(command) => super::closed_loop::decide(reader, pii, command, next_seq, now),
        Command::Uplink(command) => super::uplink::decide(reader, pii, command, now),
        Command::Heartbeat { source, input } => decide_heartbeat(reader, &source, input, now),
        Command::Master { actor, change } => decide_master(reader, pii, actor, change),
        Command::Audit { entry } => Ok(Decision::Append {
            actor: entry.actor.clone(),
            origin: None,
            event: Box::new(Event::AuditRecorded { entry }),
        }),
        Command::KeepRejected {
            source,
            content_type,
            payload,
            reason,
        } => {
            let scope = Scope {
                class: Class::RejectedPayload,
                subject: None,
                at: now,
            };
            let sealed_payload = pii
                .seal_in(REJECTED_PAYLOAD_FIELD, &BASE64.encode(payload), &scope)
                .map_err(abort)?;
            Ok(Decision::Append {
                actor: format!("source:{source}"),
                origin: None,
                event: Box::new(Event::PayloadRejected {
                    rejected: RejectedPayload {
                        source,
                        content_type,
                        sealed_payload,
                        reason,
                    },
                }),
            })
        }
        Command::ActivatePolicy { actor, activation } => Ok(Decision::Append {
            actor,
            origin: None,
            event: Box::new(Event::PolicyActivated { activation }),
        }),
        Command::DestroyKeys { actor, destruction } => Ok(Decision::Append {
            actor,
            origin: None,
            event: Box::new(Event::KeysDestroyed { destruction }),
        }),
        Command::ActivateCalendar { actor, activation } => Ok(Decision::Append {
            actor,
            origin: None,
            event: Box::new(Event::CalendarActivated { activation }),
        }),
        Command::InstallAdapter { actor, adapter } => Ok(Decision::Append {
            actor,
            origin: None,
            event: Box::new(Event::AdapterInstalled { adapter }),
        }),
        Command::RemoveAdapter { actor, file } => Ok(Decision::Append {
            actor,
            origin: None,
            event: Box::new(Event::AdapterRemoved { file }),
        }),
        Command::ResolveRejected {
            actor,
            rejected_seq,
            resolution,
        } => {
            let open = reader.trees[tree::REJECTS].get(rejected_seq.to_be_bytes())?;
            if open.is_some() {
                Ok(Decision::Append {
                    actor,
                    origin: None,
                    event: Box::new(Event::RejectionResolved {
                        rejected_seq,
                        resolution,
                    }),
                })
            } else {
                Err(Reject::Domain(DomainError::Unknown {
                    kind: "open rejection",
                    id: rejected_seq.to_string(),
                }))
            }
        }
    };
    match result {
        Ok(decision) => Ok(decision),
        Err(Reject::Domain(error)) => Ok(Decision::Reject(error)),
        Err(Reject::Store(error)) => Err(error),
    }
}

/// Fills the department, area and window of a device's rating that left them out, from the
/// device's window as registered now; the filled values are stored in the event.
fn complete_from_device(reader: &Reader<'_>, input: &mut RatingInput) -> Result<(), Reject> {
    let Some(device_id) = input.device.as_deref() else {
        return Ok(());
    };
    if !input.department.is_empty() && !input.area_code.is_empty() {
        return Ok(());
    }
    let device = reader.device(device_id)?;
    let window = reader.org_of_kind(&device.window, &[OrgKind::Window], "window")?;
    if input.window.is_none() {
        input.window = Some(window.id.clone());
    }
    if input.department.is_empty() {
        input.department = window.department.clone().unwrap_or_default();
    }
    if input.area_code.is_empty() {
        input.area_code = reader
            .org_chain(&window.id)
            .map_err(Reject::Store)?
            .into_iter()
            .find(|unit| unit.kind.is_region())
            .map(|unit| unit.id)
            .unwrap_or_default();
    }
    Ok(())
}

fn decide_rating(
    reader: &Reader<'_>,
    pii: &PiiKey,
    source_id: &str,
    mut input: RatingInput,
    next_seq: u64,
    now: DateTime<Utc>,
) -> Result<Decision, Reject> {
    if let Some(seq) = reader
        .dedup(source_id, &input.event_id)
        .map_err(Reject::Store)?
    {
        return Ok(Decision::Duplicate(seq));
    }
    validate::rating_shape(&input, now)?;
    let source = reader.source(source_id)?;
    complete_from_device(reader, &mut input)?;
    let slot = |assess| keys::rating_slot(&input.project_no, input.service_number, assess);
    let taken = |assess| -> Result<Option<u64>, Reject> {
        Ok(reader.trees[tree::RATING_SLOTS]
            .get(slot(assess))
            .map_err(|error| Reject::Store(error.into()))?
            .map(|id| keys::u64_value(&id)))
    };
    if let Some(existing) = taken(input.assess_number)? {
        return Err(DomainError::DuplicateRating {
            project_no: input.project_no.clone(),
            service_number: input.service_number,
            assess_number: input.assess_number,
            existing,
        }
        .into());
    }
    if input.assess_number == 2 && taken(1)?.is_none() {
        return Err(DomainError::FollowUpWithoutFirst {
            project_no: input.project_no.clone(),
            service_number: input.service_number,
        }
        .into());
    }
    let attribution = reader.attribute(
        &source,
        &input.area_code,
        &input.department,
        &input.task_code,
        input.window.as_deref(),
        input.staff.as_deref(),
    )?;
    if let Some(device) = input.device.as_deref() {
        reader.known(tree::DEVICES, "device", device)?;
    }
    check_press_interval(reader, &input)?;
    // An anonymous rating keeps nothing of its evaluator, whatever the source sent: there is
    // nothing to reveal, call back or leak.
    let real_name = input.evaluator.real_name;
    // Every value of the evaluator is sealed under their subject key (their phone, or their ID
    // number without one), so that their erasure reaches all of them.
    let subject = rating_subject(&input.evaluator);
    let seal = |kind, class, value: &Option<String>| {
        present(value)
            .filter(|_| real_name)
            .map(|value| {
                let scope = Scope {
                    class,
                    subject: subject.as_deref(),
                    at: now,
                };
                pii.seal_field_in(kind, &value, &scope)
            })
            .transpose()
            .map_err(|error| Reject::Store(abort(error)))
    };
    let evaluator = StoredEvaluator {
        real_name: input.evaluator.real_name,
        applicant_type: input.evaluator.applicant_type,
        name: seal(PiiKind::Name, Class::EvaluatorName, &input.evaluator.name)?,
        phone: seal(
            PiiKind::Phone,
            Class::EvaluatorPhone,
            &input.evaluator.phone,
        )?,
        id_number: seal(
            PiiKind::IdNumber,
            Class::EvaluatorIdNumber,
            &input.evaluator.id_number,
        )?,
    };
    // The comment goes under the same subject key (a real-name evaluator's erasure reaches it)
    // and its own period key; an anonymous one has its evaluator struck and no subject.
    let text = input
        .text
        .filter(|text| !text.trim().is_empty())
        .map(|text| {
            let text = if real_name {
                text
            } else {
                strike_evaluator(text, &input.evaluator)
            };
            let scope = Scope {
                class: Class::FreeText,
                subject: subject.as_deref().filter(|_| real_name),
                at: now,
            };
            pii.seal_text(&text, &scope)
        })
        .transpose()
        .map_err(|error| Reject::Store(abort(error)))?;
    let rating = Rating {
        id: next_seq,
        source: source.id.clone(),
        event_id: input.event_id.clone(),
        project_no: input.project_no,
        service_number: input.service_number,
        assess_number: input.assess_number,
        service_name: input.service_name,
        device: input.device,
        level: input.level,
        channel: input.channel,
        indicators: input.indicators,
        text,
        evaluator,
        attribution,
        area_code: input.area_code,
        rated_at: input.rated_at,
        received_at: now,
    };
    Ok(Decision::Append {
        actor: format!("source:{}", source.id),
        origin: Some(Origin {
            source: source.id,
            event_id: input.event_id,
        }),
        event: Box::new(Event::RatingRecorded { rating }),
    })
}

fn decide_service(
    reader: &Reader<'_>,
    pii: &PiiKey,
    source_id: &str,
    mut input: ServiceEventInput,
    now: DateTime<Utc>,
) -> Result<Decision, Reject> {
    if let Some(seq) = reader
        .dedup(source_id, &input.event_id)
        .map_err(Reject::Store)?
    {
        return Ok(Decision::Duplicate(seq));
    }
    validate::service_shape(&input, now)?;
    let source = reader.source(source_id)?;
    let attribution = reader.attribute(
        &source,
        &input.area_code,
        &input.department,
        &input.task_code,
        input.window.as_deref(),
        input.staff.as_deref(),
    )?;
    // The number leaves the input here: only the sealed field is stored.
    let contact = input
        .applicant_phone
        .take()
        .filter(|phone| !phone.trim().is_empty())
        .map(|phone| {
            let phone = phone.trim();
            let scope = Scope {
                class: Class::ApplicantPhone,
                subject: Some(phone),
                at: now,
            };
            pii.seal_field_in(PiiKind::Phone, phone, &scope)
        })
        .transpose()
        .map_err(|error| Reject::Store(abort(error)))?;
    Ok(Decision::Append {
        actor: format!("source:{}", source.id),
        origin: Some(Origin {
            source: source.id,
            event_id: input.event_id.clone(),
        }),
        event: Box::new(Event::ServiceRecorded {
            service: input,
            attribution,
            contact,
        }),
    })
}

fn decide_heartbeat(
    reader: &Reader<'_>,
    source_id: &str,
    input: HeartbeatInput,
    now: DateTime<Utc>,
) -> Result<Decision, Reject> {
    let event_id = format!("heartbeat-{}-{}", input.device, input.sequence);
    if let Some(seq) = reader.dedup(source_id, &event_id).map_err(Reject::Store)? {
        return Ok(Decision::Duplicate(seq));
    }
    validate::heartbeat_shape(&input, now)?;
    let source = reader.source(source_id)?;
    let device = reader.device(&input.device)?;
    let chain = reader.org_chain(&device.window).map_err(Reject::Store)?;
    if !chain.iter().any(|unit| unit.id == source.scope) {
        return Err(DomainError::OutOfScope {
            source_id: source.id.clone(),
            scope: source.scope.clone(),
            area: device.window,
        }
        .into());
    }
    Ok(Decision::Append {
        actor: format!("source:{}", source.id),
        origin: Some(Origin {
            source: source.id,
            event_id,
        }),
        event: Box::new(Event::HeartbeatRecorded { heartbeat: input }),
    })
}

/// Refuses a device's rating pressed sooner after its previous one than the model allows.
fn check_press_interval(reader: &Reader<'_>, input: &RatingInput) -> Result<(), Reject> {
    let Some(device_id) = input.device.as_deref() else {
        return Ok(());
    };
    let device = reader.device(device_id)?;
    let interval = reader
        .device_model(&device.model)
        .map_err(Reject::Store)?
        .map(|model| model.min_press_interval_secs)
        .unwrap_or(0);
    if interval == 0 {
        return Ok(());
    }
    let state: Option<DeviceState> = reader
        .json(tree::DEVICE_STATE, device_id.as_bytes())
        .map_err(Reject::Store)?;
    if let Some(previous) = state.and_then(|state| state.last_press) {
        let gap = input.rated_at.signed_duration_since(previous);
        if gap >= chrono::Duration::zero() && gap < chrono::Duration::seconds(i64::from(interval)) {
            return Err(DomainError::TooSoon {
                device: device_id.to_string(),
                seconds: gap.num_seconds(),
                minimum: interval,
            }
            .into());
        }
    }
    Ok(())
}

/// The QR code of `window` at `generation`, as the log records it.
fn window_qr(pii: &PiiKey, window: &str, generation: u32) -> WindowQr {
    WindowQr {
        generation,
        token_hash: crate::pii::tracking_hash(&pii.window_token(window, generation)),
    }
}

fn decide_master(
    reader: &Reader<'_>,
    pii: &PiiKey,
    actor: String,
    change: MasterChange,
) -> Result<Decision, Reject> {
    let event = match change {
        MasterChange::OrgUnit(unit) => {
            let parent = match &unit.parent {
                Some(id) => reader.org(id).map_err(Reject::Store)?,
                None => None,
            };
            validate::org_unit(&unit, parent.as_ref())?;
            if let Some(existing) = reader.org(&unit.id).map_err(Reject::Store)?
                && existing.kind != unit.kind
            {
                return Err(DomainError::Invalid {
                    field: "kind",
                    reason: format!(
                        "{} is a {:?} and cannot become a {:?}",
                        unit.id, existing.kind, unit.kind
                    ),
                }
                .into());
            }
            if let Some(parent) = &unit.parent
                && reader
                    .org_chain(parent)
                    .map_err(Reject::Store)?
                    .iter()
                    .any(|ancestor| ancestor.id == unit.id)
            {
                return Err(DomainError::Invalid {
                    field: "parent",
                    reason: format!("{} cannot sit below itself", unit.id),
                }
                .into());
            }
            if let Some(department) = &unit.department {
                reader.org_of_kind(department, &[OrgKind::Department], "department")?;
            }
            // A window gets its QR code when it is first recorded.
            let qr = if unit.kind == OrgKind::Window
                && reader
                    .window_qr_generation(&unit.id)
                    .map_err(Reject::Store)?
                    .is_none()
            {
                Some(window_qr(pii, &unit.id, 1))
            } else {
                None
            };
            Event::OrgUnitUpserted { unit, qr }
        }
        MasterChange::RotateWindowQr { window } => {
            reader.org_of_kind(&window, &[OrgKind::Window], "window")?;
            let generation = reader
                .window_qr_generation(&window)
                .map_err(Reject::Store)?
                .unwrap_or(0)
                .saturating_add(1);
            Event::WindowQrIssued {
                qr: window_qr(pii, &window, generation),
                window,
            }
        }
        MasterChange::Staff(staff) => {
            reader.org_of_kind(&staff.department, &[OrgKind::Department], "department")?;
            if let Some(window) = &staff.window {
                reader.org_of_kind(window, &[OrgKind::Window], "window")?;
            }
            Event::StaffUpserted { staff }
        }
        MasterChange::Item(item) => {
            reader.org_of_kind(&item.department, &[OrgKind::Department], "department")?;
            Event::ItemUpserted { item }
        }
        MasterChange::Device(device) => {
            reader.org_of_kind(&device.window, &[OrgKind::Window], "window")?;
            validate::identifier("id", &device.id)?;
            Event::DeviceUpserted { device }
        }
        MasterChange::DeviceModel(model) => {
            validate::identifier("model", &model.model)?;
            Event::DeviceModelUpserted { model }
        }
        MasterChange::User(user) => {
            if reader.org(&user.scope).map_err(Reject::Store)?.is_none() {
                return Err(DomainError::Unknown {
                    kind: "scope",
                    id: user.scope,
                }
                .into());
            }
            Event::UserUpserted { user }
        }
        MasterChange::Source(source) => {
            if reader.org(&source.scope).map_err(Reject::Store)?.is_none() {
                return Err(DomainError::Unknown {
                    kind: "scope",
                    id: source.scope,
                }
                .into());
            }
            Event::SourceUpserted { source }
        }
    };
    Ok(Decision::Append {
        actor,
        origin: None,
        event: Box::new(event),
    })
}

pub(super) type TxError = ConflictableTransactionError<StoreError>;
pub(super) type TxResult<T> = Result<T, TxError>;

pub(super) fn abort(error: impl Into<StoreError>) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(error.into())
}

/// Stores a case in its compact format ([`super::case_record`]).
pub(super) fn put_case(trees: &[TransactionalTree], case: &Case) -> TxResult<()> {
    let bytes = super::case_record::encode(case).map_err(abort)?;
    trees[tree::CASES].insert(case.project_no.as_bytes(), bytes)?;
    Ok(())
}

/// Stores `value` as JSON text: the small records read on every command (master data,
/// counters' companions), where a decompression per read costs more than the bytes saved.
pub(super) fn put_json<T: serde::Serialize>(
    tree: &TransactionalTree,
    key: &[u8],
    value: &T,
) -> TxResult<()> {
    tree.insert(key, serde_json::to_vec(value).map_err(abort)?)?;
    Ok(())
}

/// Stores `value` compressed (see `codec`): the large records written once or changed rarely
/// (decisions, orders, assessments, rules versions).
pub(super) fn put_packed<T: serde::Serialize>(
    tree: &TransactionalTree,
    key: &[u8],
    value: &T,
) -> TxResult<()> {
    tree.insert(key, super::codec::encode(value).map_err(abort)?)?;
    Ok(())
}

/// Which source an entry counts for (应接尽接), and as what.
fn source_activity(entry: &LogEntry) -> Option<(&str, u8)> {
    use keys::activity;
    let kind = match &entry.event {
        Event::RatingRecorded { .. } => activity::RATING,
        Event::ServiceRecorded { .. } => activity::SERVICE,
        Event::HeartbeatRecorded { .. } => activity::HEARTBEAT,
        Event::PayloadRejected { rejected } => return Some((&rejected.source, activity::REFUSED)),
        _ => return None,
    };
    entry
        .origin
        .as_ref()
        .map(|origin| (origin.source.as_str(), kind))
}

/// The resolution of a kept payload evicted because its source kept more than its cap.
pub const EVICTED: &str = "evicted";

/// Most payloads one refusal evicts (a cap lowered a long way is reached over several).
pub(super) const MAX_EVICTIONS: usize = 256;

fn read_u64(tree: &TransactionalTree, key: &[u8]) -> TxResult<u64> {
    Ok(tree
        .get(key)?
        .map(|bytes| keys::u64_value(&bytes))
        .unwrap_or(0))
}

/// A refused payload kept: counted for its source and queued at the end of its source's queue.
fn keep_rejected(trees: &[TransactionalTree], seq: u64, source: &str) -> TxResult<()> {
    use keys::kept;
    let activity = &trees[tree::SOURCE_ACTIVITY];
    increment(activity, kept::count(source))?;
    let tail = read_u64(activity, &kept::tail(source))?;
    activity.insert(kept::queued(source, tail), &seq.to_be_bytes())?;
    activity.insert(kept::tail(source), &(tail + 1).to_be_bytes())?;
    activity.insert(kept::owner(seq), source.as_bytes())?;
    Ok(())
}

/// A kept payload leaves (replayed, dismissed or evicted): no longer counted; an evicted one,
/// the oldest of its source, leaves the head of the queue with the holes before it.
fn release_rejected(trees: &[TransactionalTree], seq: u64, resolution: &str) -> TxResult<()> {
    use keys::kept;
    let activity = &trees[tree::SOURCE_ACTIVITY];
    // Kept before the queue existed (a data folder not rebuilt since): nothing to release.
    let Some(source) = activity.get(kept::owner(seq))? else {
        return Ok(());
    };
    let source = String::from_utf8_lossy(&source).into_owned();
    activity.remove(kept::owner(seq))?;
    let count = read_u64(activity, &kept::count(&source))?;
    activity.insert(kept::count(&source), &count.saturating_sub(1).to_be_bytes())?;
    if resolution != EVICTED {
        return Ok(());
    }
    increment(activity, kept::evicted(&source))?;
    let tail = read_u64(activity, &kept::tail(&source))?;
    let mut head = read_u64(activity, &kept::head(&source))?;
    while head < tail {
        let at = kept::queued(&source, head);
        let queued = activity.get(&at)?.map(|bytes| keys::u64_value(&bytes));
        activity.remove(at)?;
        head += 1;
        if queued == Some(seq) {
            break;
        }
    }
    activity.insert(kept::head(&source), &head.to_be_bytes())?;
    Ok(())
}

/// The eviction of the oldest payload `source` keeps, while it keeps more than `cap` (0: no
/// cap). Read inside the batch's transaction, so each eviction sees the ones before it.
pub(super) fn next_eviction(
    trees: &[TransactionalTree],
    source: &str,
    cap: usize,
) -> TxResult<Option<Event>> {
    use keys::kept;
    if cap == 0 {
        return Ok(None);
    }
    let activity = &trees[tree::SOURCE_ACTIVITY];
    let count = read_u64(activity, &kept::count(source))?;
    if count <= u64::try_from(cap).unwrap_or(u64::MAX) {
        return Ok(None);
    }
    let tail = read_u64(activity, &kept::tail(source))?;
    let mut position = read_u64(activity, &kept::head(source))?;
    while position < tail {
        if let Some(bytes) = activity.get(kept::queued(source, position))? {
            let seq = keys::u64_value(&bytes);
            if activity.get(kept::owner(seq))?.is_some() {
                return Ok(Some(Event::RejectionResolved {
                    rejected_seq: seq,
                    resolution: EVICTED.into(),
                }));
            }
        }
        position += 1;
    }
    Ok(None)
}

pub(super) fn increment(tree: &TransactionalTree, key: Vec<u8>) -> TxResult<()> {
    let current = tree
        .get(&key)?
        .map(|bytes| keys::u64_value(&bytes))
        .unwrap_or(0);
    tree.insert(key, &(current + 1).to_be_bytes())?;
    Ok(())
}

/// The units a fact is filed under: every region up the tree, the hall, department, window,
/// staff and item.
pub(super) fn units(attribution: &Attribution) -> Vec<(Dim, &str)> {
    let mut units: Vec<(Dim, &str)> = attribution
        .regions
        .iter()
        .map(|region| (Dim::Region, region.as_str()))
        .collect();
    units.push((Dim::Department, &attribution.department));
    units.push((Dim::Item, &attribution.task_code));
    if let Some(hall) = &attribution.hall {
        units.push((Dim::Hall, hall));
    }
    if let Some(window) = &attribution.window {
        units.push((Dim::Window, window));
    }
    if let Some(staff) = &attribution.staff {
        units.push((Dim::Staff, staff));
    }
    units
}

/// A rating's entry in the rating index: its id, and the level, channel and flags that list
/// filters need without reading the rating.
pub(super) fn index_record(rating: &Rating) -> Vec<u8> {
    let flags = u8::from(rating.evaluator.real_name) | (u8::from(rating.assess_number == 2) << 1);
    postings::rating_record(
        rating.id,
        rating.level.index(),
        rating.channel.index(),
        flags,
    )
}

/// Writes every projection of a log entry, inside the caller's transaction. The entry itself is
/// appended by the committer (live) or already in the log (rebuild).
pub(super) fn project(trees: &Tx<'_>, entry: &LogEntry) -> TxResult<()> {
    let seq = entry.seq.to_be_bytes();
    if let Some(origin) = &entry.origin {
        trees[tree::DEDUP].insert(keys::dedup(&origin.source, &origin.event_id), &seq)?;
    }
    if let Some((source, kind)) = source_activity(entry) {
        let day = keys::day_number(local_date(entry.at));
        trees.add_one(tree::SOURCE_ACTIVITY, keys::source_day(source, day, kind));
        let at = u64::try_from(entry.at.timestamp_millis()).unwrap_or(0);
        trees[tree::SOURCE_ACTIVITY].insert(keys::source_last(source, kind), &at.to_be_bytes())?;
    }
    super::uplink::project(trees, entry)?;
    if super::closed_loop::project(trees, entry)? {
        return Ok(());
    }
    if matches!(
        entry.event,
        Event::OrgUnitUpserted { .. }
            | Event::DeviceUpserted { .. }
            | Event::DeviceModelUpserted { .. }
            | Event::SourceUpserted { .. }
    ) {
        trees.forget_master();
    }
    match &entry.event {
        Event::WindowQrIssued { window, qr } => index_window_qr(trees, window, qr)?,
        Event::OrgUnitUpserted { unit, qr } => {
            if let Some(qr) = qr {
                index_window_qr(trees, &unit.id, qr)?;
            }
            // A unit that moves leaves its old parent's list of children.
            if let Some(bytes) = trees[tree::ORG].get(unit.id.as_bytes())? {
                let previous: OrgUnit = super::codec::decode(&bytes).map_err(abort)?;
                if let Some(old_parent) = previous
                    .parent
                    .filter(|old| Some(old) != unit.parent.as_ref())
                {
                    trees[tree::ORG_CHILDREN].remove(keys::child(&old_parent, &unit.id))?;
                }
            }
            put_json(&trees[tree::ORG], unit.id.as_bytes(), unit)?;
            if let Some(parent) = &unit.parent {
                trees[tree::ORG_CHILDREN].insert(keys::child(parent, &unit.id), &[])?;
            }
        }
        Event::StaffUpserted { staff } => {
            put_json(&trees[tree::STAFF], staff.id.as_bytes(), staff)?
        }
        Event::ItemUpserted { item } => {
            put_json(&trees[tree::ITEMS], item.task_code.as_bytes(), item)?
        }
        Event::DeviceUpserted { device } => {
            put_json(&trees[tree::DEVICES], device.id.as_bytes(), device)?
        }
        Event::DeviceModelUpserted { model } => {
            put_json(&trees[tree::DEVICE_MODELS], model.model.as_bytes(), model)?
        }
        Event::HeartbeatRecorded { heartbeat } => {
            update_device(trees, &heartbeat.device, |state| {
                state.last_seen = Some(entry.at);
                state.last_heartbeat = Some(heartbeat.sent_at);
                state.last_sequence = Some(heartbeat.sequence);
                if heartbeat.firmware.is_some() {
                    state.firmware = heartbeat.firmware.clone();
                }
                // First report, or a device whose counter went back (reset, replaced board):
                // count from here.
                if state.baseline.is_none() || heartbeat.ratings_total < state.ratings_reported {
                    state.baseline =
                        Some(heartbeat.ratings_total.saturating_sub(state.ratings_stored));
                }
                state.ratings_reported = heartbeat.ratings_total;
            })?;
        }
        Event::UserUpserted { user } => {
            put_json(&trees[tree::USERS], user.username.as_bytes(), user)?
        }
        Event::SourceUpserted { source } => {
            put_json(&trees[tree::SOURCES], source.id.as_bytes(), source)?
        }
        Event::AuditRecorded { entry: audit } => put_json(&trees[tree::AUDIT], &seq, audit)?,
        Event::PayloadRejected { rejected } => {
            put_json(&trees[tree::REJECTS], &seq, rejected)?;
            keep_rejected(trees, entry.seq, &rejected.source)?;
        }
        Event::PolicyActivated { activation } => {
            let record = PolicyVersionRecord {
                version: activation.version.clone(),
                seq: entry.seq,
                at: entry.at,
                actor: entry.actor.clone(),
                reason: activation.reason.clone(),
            };
            // Files are kept once per version; every activation is kept in order.
            if trees[tree::POLICY_VERSIONS]
                .get(keys::policy_files(&activation.version))?
                .is_none()
            {
                put_packed(
                    &trees[tree::POLICY_VERSIONS],
                    &keys::policy_files(&activation.version),
                    &activation.files,
                )?;
            }
            put_packed(
                &trees[tree::POLICY_VERSIONS],
                &keys::policy_activation(entry.seq),
                &record,
            )?;
        }
        Event::CalendarActivated { activation } => put_packed(
            &trees[tree::POLICY_VERSIONS],
            &keys::calendar_activation(entry.seq),
            &crate::event::CalendarActivationRecord {
                activation: activation.clone(),
                seq: entry.seq,
                at: entry.at,
                actor: entry.actor.clone(),
            },
        )?,
        Event::KeysDestroyed { destruction } => put_packed(
            &trees[tree::POLICY_VERSIONS],
            &keys::key_destruction(entry.seq),
            &crate::event::KeyDestructionRecord {
                destruction: destruction.clone(),
                seq: entry.seq,
                at: entry.at,
                actor: entry.actor.clone(),
            },
        )?,
        Event::AdapterInstalled { adapter } => put_packed(
            &trees[tree::POLICY_VERSIONS],
            &keys::adapter_file(&adapter.file),
            &crate::event::AdapterFileRecord {
                file: adapter.file.clone(),
                adapter: Some(adapter.clone()),
                seq: entry.seq,
                at: entry.at,
                actor: entry.actor.clone(),
            },
        )?,
        Event::AdapterRemoved { file } => put_packed(
            &trees[tree::POLICY_VERSIONS],
            &keys::adapter_file(file),
            &crate::event::AdapterFileRecord {
                file: file.clone(),
                adapter: None,
                seq: entry.seq,
                at: entry.at,
                actor: entry.actor.clone(),
            },
        )?,
        Event::DecisionRecorded { .. } => {}
        Event::RejectionResolved {
            rejected_seq,
            resolution,
        } => {
            trees[tree::REJECTS].remove(&rejected_seq.to_be_bytes())?;
            release_rejected(trees, *rejected_seq, resolution)?;
        }
        Event::RatingRecorded { rating } => project_rating(trees, rating)?,
        Event::ServiceRecorded {
            service,
            attribution,
            contact,
        } => project_service(trees, service, attribution, contact, entry.at)?,
        // Projected by the closed loop above.
        Event::OrderOpened { .. }
        | Event::OrderChanged { .. }
        | Event::ProblemOpened { .. }
        | Event::ProblemResolved { .. }
        | Event::TaskDone { .. }
        | Event::ServiceCallListed { .. }
        | Event::ServiceCallAttempted { .. }
        | Event::MessageQueued { .. }
        | Event::MessageAttempted { .. }
        | Event::CommentModerated { .. }
        | Event::AssessmentFrozen { .. } => {}
        // Projected by the uplink above.
        Event::Uplink { .. } => {}
    }
    Ok(())
}

/// A window's QR code becomes its current one; the tokens of earlier generations stay indexed,
/// so that an old poster is told it was replaced rather than that it never existed.
fn index_window_qr(trees: &[TransactionalTree], window: &str, qr: &WindowQr) -> TxResult<()> {
    let tree = &trees[tree::WINDOW_QR];
    tree.insert(
        keys::window_qr_generation(window),
        &qr.generation.to_be_bytes(),
    )?;
    let mut value = qr.generation.to_be_bytes().to_vec();
    value.extend_from_slice(window.as_bytes());
    tree.insert(keys::window_qr_token(&qr.token_hash), value)?;
    Ok(())
}

fn update_device(
    trees: &[TransactionalTree],
    device: &str,
    change: impl FnOnce(&mut DeviceState),
) -> TxResult<()> {
    let mut state: DeviceState = match trees[tree::DEVICE_STATE].get(device.as_bytes())? {
        Some(bytes) => super::codec::decode(&bytes).map_err(abort)?,
        None => DeviceState {
            device: device.to_string(),
            ..DeviceState::default()
        },
    };
    change(&mut state);
    put_json(&trees[tree::DEVICE_STATE], device.as_bytes(), &state)
}

fn project_rating(trees: &Tx<'_>, rating: &Rating) -> TxResult<()> {
    if let Some(device) = &rating.device {
        update_device(trees, device, |state| {
            state.last_seen = Some(rating.received_at);
            state.last_upload = Some(rating.received_at);
            state.last_press = Some(
                state
                    .last_press
                    .map_or(rating.rated_at, |last| last.max(rating.rated_at)),
            );
            state.top_streak = if rating.level == crate::model::Level::VerySatisfied {
                state.top_streak + 1
            } else {
                0
            };
            state.ratings_stored += 1;
        })?;
    }
    trees.add_one(tree::ROLLUP, keys::RATINGS_STORED.to_vec());
    let id = rating.id.to_be_bytes();
    trees[tree::RATING_SLOTS].insert(
        keys::rating_slot(
            &rating.project_no,
            rating.service_number,
            rating.assess_number,
        ),
        &id,
    )?;
    let day = keys::day_number(local_date(rating.rated_at));
    let record = index_record(rating);
    let level_bucket = if rating.assess_number == 2 {
        bucket::FOLLOW_UP_BASE + rating.level.index()
    } else {
        rating.level.index()
    };
    let channel = rating.channel.index();
    for (dim, unit) in units(&rating.attribution) {
        trees.post(
            tree::RATING_INDEX,
            keys::unit_day(dim, unit, day),
            &record,
            false,
        );
        trees.count(dim, unit, day, level_bucket, channel);
        if rating.assess_number == 1 && rating.is_bad() && rating.evaluator.real_name {
            trees.count(dim, unit, day, bucket::REAL_NAME_BAD, channel);
        }
    }
    if let Some(mut case) = Reader::new(trees).case(&rating.project_no)?
        && let Some(act) = case
            .services
            .iter_mut()
            .find(|act| act.service_number == rating.service_number)
    {
        act.ratings.push(rating.id);
        // Rated: what was planned to get it rated is no longer needed.
        for task in act.planned.drain(..) {
            trees[tree::SCHEDULE].remove(keys::schedule(&task))?;
        }
        put_case(trees, &case)?;
    }
    Ok(())
}

fn project_service(
    trees: &Tx<'_>,
    service: &ServiceEventInput,
    attribution: &Attribution,
    contact: &Option<crate::model::SealedField>,
    recorded_at: DateTime<Utc>,
) -> TxResult<()> {
    let existing = Reader::new(trees).case(&service.project_no)?;
    let is_new_case = existing.is_none();
    let mut case = existing.unwrap_or_else(|| Case {
        project_no: service.project_no.clone(),
        project_name: service.project_name.clone(),
        task_code: service.task_code.clone(),
        department: service.department.clone(),
        area_code: service.area_code.clone(),
        status: service.status,
        applicant_type: service.applicant_type,
        first_seen: service.occurred_at,
        updated_at: recorded_at,
        services: Vec::new(),
    });
    case.status = service.status;
    case.updated_at = recorded_at;
    if case.project_name.is_empty() {
        case.project_name = service.project_name.clone();
    }
    let is_new_act = !case
        .services
        .iter()
        .any(|act| act.service_number == service.service_number);
    if is_new_act {
        // The first rating of an act may have arrived before the act itself.
        let mut ratings = Vec::new();
        for assess in [1, 2] {
            if let Some(id) = trees[tree::RATING_SLOTS].get(keys::rating_slot(
                &service.project_no,
                service.service_number,
                assess,
            ))? {
                ratings.push(keys::u64_value(&id));
            }
        }
        case.services.push(ServiceAct {
            service_number: service.service_number,
            service_name: service.service_name.clone(),
            occurred_at: service.occurred_at,
            window: service.window.clone(),
            staff: service.staff.clone(),
            ratings,
            contact: contact.clone(),
            planned: Vec::new(),
        });
        case.services.sort_by_key(|act| act.service_number);
    }
    put_case(trees, &case)?;
    let day = keys::day_number(local_date(service.occurred_at));
    let case_day = keys::day_number(local_date(case.first_seen));
    for (dim, unit) in units(attribution) {
        if is_new_act {
            trees.count(dim, unit, day, bucket::SERVICES, bucket::NO_CHANNEL);
        }
        if is_new_case && matches!(dim, Dim::Region | Dim::Department | Dim::Item) {
            trees.post(
                tree::CASE_INDEX,
                keys::unit_day(dim, unit, case_day),
                case.project_no.as_bytes(),
                true,
            );
        }
        // A window's cases by the day of each act there: what its QR page offers to rate.
        if is_new_act && dim == Dim::Window {
            trees.post(
                tree::CASE_INDEX,
                keys::unit_day(dim, unit, day),
                case.project_no.as_bytes(),
                true,
            );
        }
    }
    Ok(())
}

/// The facts the integrity rules see about a rating, read before it is projected.
pub(super) fn rating_facts(reader: &Reader<'_>, rating: &Rating) -> TxResult<RatingFacts> {
    let mut facts = RatingFacts::default();
    if let Some(device_id) = &rating.device {
        if let Some(state) = reader.json::<DeviceState>(tree::DEVICE_STATE, device_id.as_bytes())? {
            facts.previous_press_at = state.last_press;
            facts.top_streak_before = state.top_streak;
        }
        if let Some(device) = reader.master(tree::DEVICES, device_id, |cache| &mut cache.devices)? {
            facts.min_interval_secs = reader
                .device_model(&device.model)?
                .map(|model| u64::from(model.min_press_interval_secs))
                .unwrap_or(0);
        }
    }
    facts.open_service = reader.case(&rating.project_no)?.is_some_and(|case| {
        case.services
            .iter()
            .any(|act| act.service_number == rating.service_number)
    });
    Ok(facts)
}

/// An anonymous rating's comment with what its source said of the evaluator (name, phone, ID
/// number) struck, since none of it is kept to strike it later.
fn strike_evaluator(text: String, evaluator: &crate::model::EvaluatorInput) -> String {
    let mut terms: Vec<&str> = [&evaluator.name, &evaluator.phone, &evaluator.id_number]
        .into_iter()
        .filter_map(|term| term.as_deref().map(str::trim))
        .filter(|term| term.chars().count() >= 2)
        .collect();
    terms.sort_by_key(|term| std::cmp::Reverse(term.len()));
    terms
        .into_iter()
        .fold(text, |text, term| text.replace(term, "**"))
}
