//! The bindings of each supported contract major, generated from its WIT folder, and the
//! conversions between the generated types and the host's own (`crate::types`,
//! `hcp_core::model`). Generated types never leave this module: supporting a new major is a new
//! submodule here, and nothing else changes.

/// The two worlds of the contract; the same in every major so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum World {
    Inbound,
    Uplink,
}

impl World {
    pub(crate) fn name(self) -> &'static str {
        match self {
            World::Inbound => "inbound",
            World::Uplink => "uplink",
        }
    }
}

/// Contract `haochaping:adapter@1.x` (`plugins/wit/adapter@1.0.0` and `adapter@1.1.0`). One
/// module per major: 1.1.0 only grew the uplink interface, so its bindings live here beside
/// 1.0.0's, share their types, and serve every uplink component that exports 1.1 or later;
/// inbound components of any 1.x are served by the 1.0.0 bindings (wasmtime finds exports by
/// semver-compatible name, and the inbound world did not change).
pub(crate) mod v1 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use hcp_core::model::{
        ApplicantType, CaseStatus, Channel, EvaluatorInput, Level, RatingInput, ServiceEventInput,
    };
    use wasmtime::Store;
    use wasmtime::component::InstancePre;

    use super::World;
    use crate::host::Limits;
    use crate::plugin::{CallState, Failure};
    use crate::types::{
        Ack, DayCount, Decoded, Heartbeat, PluginInfo, PluginKind, Sample, UplinkBatch,
        UplinkRating, UplinkRecord, UplinkRecords, UplinkRectification, UplinkRequest,
    };
    use hcp_core::uplink::{CountKey, DispositionKind, RecordKind, RectificationOutcome};
    use hcp_core::workflow::{CallbackResult, RectificationLevel};

    /// The major version these bindings speak.
    pub(crate) const MAJOR: u64 = 1;

    /// Reasons a plugin gives are passed on to senders and logs; they are cut here so a plugin
    /// cannot fill either with megabytes.
    const MAX_REASON_BYTES: usize = 2048;

    // bindgen's typed function accessors call `TypedFunc::new_unchecked` on functions whose
    // types were checked when the instance was loaded; that is the only unsafe code in them.
    #[allow(unsafe_code, missing_docs, clippy::all)]
    mod inbound {
        wasmtime::component::bindgen!({ path: "../wit/adapter@1.0.0", world: "inbound" });
    }

    // `with` makes the uplink world reuse the inbound world's `types`, so there is one set of
    // shared records (rating, info, sample) and one set of conversions.
    #[allow(unsafe_code, missing_docs, clippy::all, dead_code)]
    mod uplink {
        wasmtime::component::bindgen!({
            path: "../wit/adapter@1.0.0",
            world: "uplink",
            with: {
                "haochaping:adapter/types": super::inbound::exports::haochaping::adapter::types,
            },
        });
    }

    // Contract 1.1.0's uplink world, with the same `types` as 1.0.0 (their shapes are equal).
    #[allow(unsafe_code, missing_docs, clippy::all, dead_code)]
    mod uplink_1_1 {
        wasmtime::component::bindgen!({
            path: "../wit/adapter@1.1.0",
            world: "uplink",
            with: {
                "haochaping:adapter/types": super::inbound::exports::haochaping::adapter::types,
            },
        });
    }

    use inbound::exports::haochaping::adapter::types as wit;
    use uplink::exports::haochaping::adapter::uplink_adapter as wit_uplink;
    use uplink_1_1::exports::haochaping::adapter::uplink_adapter as wit_uplink_1_1;

    /// A component checked against one world, ready to instantiate once per call.
    pub(crate) enum Adapter {
        Inbound(inbound::InboundPre<CallState>),
        Uplink(uplink::UplinkPre<CallState>),
        /// An uplink component of contract 1.1 or later: rectifications and reconciliation.
        Uplink11(uplink_1_1::UplinkPre<CallState>),
    }

    impl Adapter {
        /// Fails when the component lacks an export of the world. `minor` is the minor version
        /// of the contract the component's exports carry.
        pub(crate) fn new(
            instance_pre: InstancePre<CallState>,
            world: World,
            minor: u64,
        ) -> wasmtime::Result<Adapter> {
            Ok(match world {
                World::Inbound => Adapter::Inbound(inbound::InboundPre::new(instance_pre)?),
                World::Uplink if minor >= 1 => {
                    Adapter::Uplink11(uplink_1_1::UplinkPre::new(instance_pre)?)
                }
                World::Uplink => Adapter::Uplink(uplink::UplinkPre::new(instance_pre)?),
            })
        }

        /// The contract version the host speaks to this component with.
        pub(crate) fn contract(&self) -> &'static str {
            match self {
                Adapter::Inbound(_) | Adapter::Uplink(_) => "1.0.0",
                Adapter::Uplink11(_) => "1.1.0",
            }
        }

        /// `describe` and `samples`, from one instance.
        pub(crate) fn describe(
            &self,
            store: &mut Store<CallState>,
            limits: &Limits,
        ) -> Result<(PluginInfo, Vec<Sample>), Failure> {
            let (info, samples) = match self {
                Adapter::Inbound(pre) => {
                    let instance = pre.instantiate(&mut *store).map_err(Failure::Instantiate)?;
                    let guest = instance.haochaping_adapter_inbound_adapter();
                    let info = guest.call_describe(&mut *store).map_err(Failure::Call)?;
                    (
                        info,
                        guest.call_samples(&mut *store).map_err(Failure::Call)?,
                    )
                }
                Adapter::Uplink(pre) => {
                    let instance = pre.instantiate(&mut *store).map_err(Failure::Instantiate)?;
                    let guest = instance.haochaping_adapter_uplink_adapter();
                    let info = guest.call_describe(&mut *store).map_err(Failure::Call)?;
                    (
                        info,
                        guest.call_samples(&mut *store).map_err(Failure::Call)?,
                    )
                }
                Adapter::Uplink11(pre) => {
                    let instance = pre.instantiate(&mut *store).map_err(Failure::Instantiate)?;
                    let guest = instance.haochaping_adapter_uplink_adapter();
                    let info = guest.call_describe(&mut *store).map_err(Failure::Call)?;
                    (
                        info,
                        guest.call_samples(&mut *store).map_err(Failure::Call)?,
                    )
                }
            };
            let info_bytes = info.id.len()
                + info.version.len()
                + info.vendor.len()
                + info.abi.len()
                + info.description.len()
                + info.models.iter().map(String::len).sum::<usize>();
            let sample_bytes = samples
                .iter()
                .map(|sample| sample.content_type.len() + sample.payload.len())
                .sum::<usize>();
            check_output("samples", samples.len(), info_bytes + sample_bytes, limits)?;
            let info = PluginInfo {
                id: info.id,
                version: info.version,
                vendor: info.vendor,
                kind: match info.kind {
                    wit::AdapterKind::HallDevice => PluginKind::HallDevice,
                    wit::AdapterKind::BusinessSystem => PluginKind::BusinessSystem,
                    wit::AdapterKind::Uplink => PluginKind::Uplink,
                },
                models: info.models,
                abi: info.abi,
                description: info.description,
            };
            let samples = samples
                .into_iter()
                .map(|sample| Sample {
                    content_type: sample.content_type,
                    payload: sample.payload,
                })
                .collect();
            Ok((info, samples))
        }

        pub(crate) fn decode(
            &self,
            store: &mut Store<CallState>,
            content_type: &str,
            payload: &[u8],
            limits: &Limits,
        ) -> Result<Vec<Decoded>, Failure> {
            let Adapter::Inbound(pre) = self else {
                return Err(Failure::WrongWorld("decode"));
            };
            let instance = pre.instantiate(&mut *store).map_err(Failure::Instantiate)?;
            let answer = instance
                .haochaping_adapter_inbound_adapter()
                .call_decode(&mut *store, content_type, payload)
                .map_err(Failure::Call)?;
            let items = answer.map_err(decode_error)?;
            let bytes = items.iter().map(inbound_bytes).sum();
            check_output("records", items.len(), bytes, limits)?;
            items
                .into_iter()
                .enumerate()
                .map(|(index, item)| {
                    decoded(item).map_err(|reason| {
                        Failure::InvalidOutput(format!("record {index}: {reason}"))
                    })
                })
                .collect()
        }

        pub(crate) fn encode(
            &self,
            store: &mut Store<CallState>,
            batch: &UplinkBatch,
            limits: &Limits,
        ) -> Result<UplinkRequest, Failure> {
            let input_bytes: usize = batch.ratings.iter().map(uplink_rating_bytes).sum();
            if input_bytes > limits.max_input_bytes {
                return Err(Failure::InputTooLarge);
            }
            let (content_type, body) = match self {
                Adapter::Uplink(pre) => {
                    let batch = wit_uplink::UplinkBatch {
                        number: batch.number,
                        ratings: batch.ratings.iter().map(wit_uplink_rating).collect(),
                    };
                    let instance = pre.instantiate(&mut *store).map_err(Failure::Instantiate)?;
                    let answer = instance
                        .haochaping_adapter_uplink_adapter()
                        .call_encode(&mut *store, &batch)
                        .map_err(Failure::Call)?;
                    let request = answer.map_err(|reason| Failure::Unsupported(cut(reason)))?;
                    (request.content_type, request.body)
                }
                Adapter::Uplink11(pre) => {
                    let batch = wit_uplink_1_1::UplinkBatch {
                        number: batch.number,
                        ratings: batch.ratings.iter().map(wit_uplink_rating_1_1).collect(),
                    };
                    let instance = pre.instantiate(&mut *store).map_err(Failure::Instantiate)?;
                    let answer = instance
                        .haochaping_adapter_uplink_adapter()
                        .call_encode(&mut *store, &batch)
                        .map_err(Failure::Call)?;
                    let request = answer.map_err(|reason| Failure::Unsupported(cut(reason)))?;
                    (request.content_type, request.body)
                }
                Adapter::Inbound(_) => return Err(Failure::WrongWorld("encode")),
            };
            request(content_type, body, limits)
        }

        /// Encodes ratings and rectifications. A 1.0 component has no rectification records:
        /// a batch of ratings only goes through its `encode`, anything else is unsupported.
        pub(crate) fn encode_records(
            &self,
            store: &mut Store<CallState>,
            batch: &UplinkRecords,
            limits: &Limits,
        ) -> Result<UplinkRequest, Failure> {
            let input_bytes: usize = batch
                .records
                .iter()
                .map(|record| match record {
                    UplinkRecord::Rating(item) => uplink_rating_bytes(item),
                    UplinkRecord::Rectification(item) => rectification_bytes(item),
                })
                .sum();
            if input_bytes > limits.max_input_bytes {
                return Err(Failure::InputTooLarge);
            }
            match self {
                Adapter::Uplink11(pre) => {
                    let batch = wit_uplink_1_1::RecordBatch {
                        number: batch.number,
                        records: batch
                            .records
                            .iter()
                            .map(|record| match record {
                                UplinkRecord::Rating(item) => wit_uplink_1_1::UplinkRecord::Rating(
                                    wit_uplink_rating_1_1(item),
                                ),
                                UplinkRecord::Rectification(item) => {
                                    wit_uplink_1_1::UplinkRecord::Rectification(wit_rectification(
                                        item,
                                    ))
                                }
                            })
                            .collect(),
                    };
                    let instance = pre.instantiate(&mut *store).map_err(Failure::Instantiate)?;
                    let answer = instance
                        .haochaping_adapter_uplink_adapter()
                        .call_encode_records(&mut *store, &batch)
                        .map_err(Failure::Call)?;
                    let encoded = answer.map_err(|reason| Failure::Unsupported(cut(reason)))?;
                    request(encoded.content_type, encoded.body, limits)
                }
                Adapter::Uplink(_) => {
                    let ratings = batch
                        .records
                        .iter()
                        .map(|record| match record {
                            UplinkRecord::Rating(item) => Ok(item.clone()),
                            UplinkRecord::Rectification(item) => {
                                Err(Failure::Unsupported(format!(
                                    "rectification {}: contract 1.0.0 carries ratings only",
                                    item.id
                                )))
                            }
                        })
                        .collect::<Result<Vec<UplinkRating>, Failure>>()?;
                    self.encode(
                        store,
                        &UplinkBatch {
                            number: batch.number,
                            ratings,
                        },
                        limits,
                    )
                }
                Adapter::Inbound(_) => Err(Failure::WrongWorld("encode")),
            }
        }

        /// The request asking the province for its counts of `day` (China date).
        pub(crate) fn count_query(
            &self,
            store: &mut Store<CallState>,
            day: chrono::NaiveDate,
            limits: &Limits,
        ) -> Result<UplinkRequest, Failure> {
            let Adapter::Uplink11(pre) = self else {
                return Err(Failure::Unsupported(
                    "reconciliation needs an uplink adapter of contract 1.1.0 or later".into(),
                ));
            };
            let instance = pre.instantiate(&mut *store).map_err(Failure::Instantiate)?;
            let answer = instance
                .haochaping_adapter_uplink_adapter()
                .call_count_query(&mut *store, &day.format("%Y-%m-%d").to_string())
                .map_err(Failure::Call)?;
            let encoded = answer.map_err(|reason| Failure::Unsupported(cut(reason)))?;
            request(encoded.content_type, encoded.body, limits)
        }

        /// Reads the province's answer to a count query.
        pub(crate) fn parse_counts(
            &self,
            store: &mut Store<CallState>,
            status: u16,
            body: &[u8],
            limits: &Limits,
        ) -> Result<Vec<DayCount>, Failure> {
            let Adapter::Uplink11(pre) = self else {
                return Err(Failure::Unsupported(
                    "reconciliation needs an uplink adapter of contract 1.1.0 or later".into(),
                ));
            };
            let instance = pre.instantiate(&mut *store).map_err(Failure::Instantiate)?;
            let answer = instance
                .haochaping_adapter_uplink_adapter()
                .call_parse_counts(&mut *store, status, body)
                .map_err(Failure::Call)?;
            let counts = answer.map_err(decode_error)?;
            let bytes = counts.iter().map(|count| count.area_code.len()).sum();
            check_output("counts", counts.len(), bytes, limits)?;
            Ok(counts
                .into_iter()
                .map(|count| DayCount {
                    key: CountKey {
                        kind: match count.kind {
                            wit_uplink_1_1::RecordKind::Rating => RecordKind::Rating,
                            wit_uplink_1_1::RecordKind::Rectification => RecordKind::Rectification,
                        },
                        area_code: count.area_code,
                        channel: count.channel.map(channel),
                        level: count.level.map(level),
                    },
                    count: count.count,
                })
                .collect())
        }

        pub(crate) fn parse_ack(
            &self,
            store: &mut Store<CallState>,
            status: u16,
            body: &[u8],
            limits: &Limits,
        ) -> Result<Ack, Failure> {
            let ack = match self {
                Adapter::Uplink(pre) => {
                    let instance = pre.instantiate(&mut *store).map_err(Failure::Instantiate)?;
                    let answer = instance
                        .haochaping_adapter_uplink_adapter()
                        .call_parse_ack(&mut *store, status, body)
                        .map_err(Failure::Call)?;
                    answer.map_err(decode_error)?
                }
                Adapter::Uplink11(pre) => {
                    let instance = pre.instantiate(&mut *store).map_err(Failure::Instantiate)?;
                    let answer = instance
                        .haochaping_adapter_uplink_adapter()
                        .call_parse_ack(&mut *store, status, body)
                        .map_err(Failure::Call)?;
                    let ack = answer.map_err(decode_error)?;
                    wit_uplink::Ack {
                        accepted: ack.accepted,
                        refused: ack.refused,
                    }
                }
                Adapter::Inbound(_) => return Err(Failure::WrongWorld("parse acknowledgements")),
            };
            let bytes = ack.refused.iter().map(|(_, reason)| reason.len()).sum();
            check_output(
                "acknowledged ids",
                ack.accepted.len() + ack.refused.len(),
                bytes,
                limits,
            )?;
            Ok(Ack {
                accepted: ack.accepted,
                refused: ack.refused,
            })
        }
    }

    /// An encoded request, within the output limits.
    fn request(
        content_type: String,
        body: Vec<u8>,
        limits: &Limits,
    ) -> Result<UplinkRequest, Failure> {
        check_output("request bytes", 1, content_type.len() + body.len(), limits)?;
        Ok(UplinkRequest { content_type, body })
    }

    fn uplink_rating_bytes(item: &UplinkRating) -> usize {
        let rating = &item.rating;
        let optional = |text: &Option<String>| text.as_ref().map_or(0, String::len);
        rating.event_id.len()
            + rating.project_no.len()
            + rating.task_code.len()
            + rating.department.len()
            + rating.area_code.len()
            + optional(&rating.window)
            + optional(&rating.staff)
            + optional(&rating.device)
            + optional(&rating.service_name)
            + rating.indicators.iter().map(String::len).sum::<usize>()
            + optional(&rating.text)
            + optional(&rating.evaluator.name)
            + optional(&rating.evaluator.phone)
            + optional(&rating.evaluator.id_number)
            // Two RFC 3339 instants.
            + 64
    }

    fn rectification_bytes(item: &UplinkRectification) -> usize {
        let record = &item.rectification;
        record.project_no.len()
            + record.task_code.len()
            + record.department.len()
            + record.area_code.len()
            + record.unit.len()
            + record.action.len()
            // Up to four RFC 3339 instants.
            + 128
    }

    fn wit_uplink_rating(item: &UplinkRating) -> wit_uplink::UplinkRating {
        wit_uplink::UplinkRating {
            id: item.id,
            rating: wit_rating(&item.rating),
            received_at: china_rfc3339(item.received_at),
        }
    }

    fn wit_uplink_rating_1_1(item: &UplinkRating) -> wit_uplink_1_1::UplinkRating {
        wit_uplink_1_1::UplinkRating {
            id: item.id,
            rating: wit_rating(&item.rating),
            received_at: china_rfc3339(item.received_at),
        }
    }

    fn wit_rectification(item: &UplinkRectification) -> wit_uplink_1_1::UplinkRectification {
        use wit_uplink_1_1 as wit11;
        let record = &item.rectification;
        wit11::UplinkRectification {
            id: item.id,
            rating_id: item.rating_id,
            rectification: wit11::Rectification {
                project_no: record.project_no.clone(),
                service_number: record.service_number,
                assess_number: record.assess_number,
                task_code: record.task_code.clone(),
                department: record.department.clone(),
                area_code: record.area_code.clone(),
                order_id: record.order_id,
                unit: record.unit.clone(),
                outcome: match record.outcome {
                    RectificationOutcome::Resolved => wit11::RectificationOutcome::Resolved,
                    RectificationOutcome::AppealUpheld => wit11::RectificationOutcome::AppealUpheld,
                },
                disposition: record.disposition.map(|kind| match kind {
                    DispositionKind::Immediate => wit11::DispositionKind::Immediate,
                    DispositionKind::Scheduled => wit11::DispositionKind::Scheduled,
                    DispositionKind::Explained => wit11::DispositionKind::Explained,
                    DispositionKind::Systemic => wit11::DispositionKind::Systemic,
                }),
                action: record.action.clone(),
                rectify_due: record.rectify_due.map(china_rfc3339),
                rectified_at: record.rectified_at.map(china_rfc3339),
                feedback_at: record.feedback_at.map(china_rfc3339),
                satisfaction: record.satisfaction.map(|level| match level {
                    RectificationLevel::Satisfied => wit11::RectificationLevel::Satisfied,
                    RectificationLevel::BasicallySatisfied => {
                        wit11::RectificationLevel::BasicallySatisfied
                    }
                    RectificationLevel::Dissatisfied => wit11::RectificationLevel::Dissatisfied,
                }),
                callback: record.callback.map(|result| match result {
                    CallbackResult::Reached => wit11::CallbackResult::Reached,
                    CallbackResult::SmsAfterUnreachable => {
                        wit11::CallbackResult::SmsAfterUnreachable
                    }
                }),
                reopened: record.reopened,
                closed_at: china_rfc3339(record.closed_at),
            },
        }
    }

    fn check_output(
        what: &str,
        items: usize,
        bytes: usize,
        limits: &Limits,
    ) -> Result<(), Failure> {
        if items > limits.max_output_items {
            return Err(Failure::OutputTooLarge(format!(
                "{items} {what}; the limit is {}",
                limits.max_output_items
            )));
        }
        if bytes > limits.max_output_bytes {
            return Err(Failure::OutputTooLarge(format!(
                "{bytes} bytes of data; the limit is {}",
                limits.max_output_bytes
            )));
        }
        Ok(())
    }

    fn decode_error(error: wit::DecodeError) -> Failure {
        match error {
            wit::DecodeError::Malformed(reason) => Failure::Malformed(cut(reason)),
            wit::DecodeError::Unsupported(reason) => Failure::Unsupported(cut(reason)),
        }
    }

    /// Cuts a plugin's reason to [`MAX_REASON_BYTES`] at a character boundary.
    fn cut(mut reason: String) -> String {
        if reason.len() > MAX_REASON_BYTES {
            let mut end = MAX_REASON_BYTES;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
            reason.push('…');
        }
        reason
    }

    fn optional_bytes(text: &Option<String>) -> usize {
        text.as_ref().map_or(0, String::len)
    }

    /// Bytes of text in a rating, the measure of output (and of an uplink batch).
    fn rating_bytes(rating: &wit::Rating) -> usize {
        let evaluator = &rating.evaluator;
        rating.event_id.len()
            + rating.project_no.len()
            + rating.task_code.len()
            + optional_bytes(&rating.department)
            + optional_bytes(&rating.area_code)
            + optional_bytes(&rating.window)
            + optional_bytes(&rating.staff)
            + optional_bytes(&rating.device)
            + optional_bytes(&rating.service_name)
            + rating.indicators.iter().map(String::len).sum::<usize>()
            + optional_bytes(&rating.text)
            + optional_bytes(&evaluator.name)
            + optional_bytes(&evaluator.phone)
            + optional_bytes(&evaluator.id_number)
            + rating.rated_at.len()
    }

    fn inbound_bytes(item: &wit::Inbound) -> usize {
        match item {
            wit::Inbound::Rating(rating) => rating_bytes(rating),
            wit::Inbound::Service(service) => {
                service.event_id.len()
                    + service.project_no.len()
                    + service.project_name.len()
                    + service.task_code.len()
                    + service.department.len()
                    + service.area_code.len()
                    + service.service_name.len()
                    + service.occurred_at.len()
                    + optional_bytes(&service.window)
                    + optional_bytes(&service.staff)
            }
            wit::Inbound::Heartbeat(heartbeat) => {
                heartbeat.device.len()
                    + heartbeat.sent_at.len()
                    + optional_bytes(&heartbeat.firmware)
            }
        }
    }

    fn decoded(item: wit::Inbound) -> Result<Decoded, String> {
        Ok(match item {
            wit::Inbound::Rating(rating) => Decoded::Rating(rating_input(rating)?),
            wit::Inbound::Service(service) => Decoded::Service(ServiceEventInput {
                occurred_at: instant(&service.occurred_at, "occurred-at")?,
                event_id: service.event_id,
                project_no: service.project_no,
                project_name: service.project_name,
                task_code: service.task_code,
                department: service.department,
                area_code: service.area_code,
                service_number: service.service_number,
                service_name: service.service_name,
                status: case_status(service.status),
                window: service.window,
                staff: service.staff,
                applicant_type: applicant_type(service.applicant_type),
                // Contract 1.0 carries no applicant contact; canonical JSON ingest does.
                applicant_phone: None,
                online: false,
            }),
            wit::Inbound::Heartbeat(heartbeat) => Decoded::Heartbeat(Heartbeat {
                sent_at: instant(&heartbeat.sent_at, "sent-at")?,
                device: heartbeat.device,
                sequence: heartbeat.sequence,
                ratings_total: heartbeat.ratings_total,
                firmware: heartbeat.firmware,
            }),
        })
    }

    fn rating_input(rating: wit::Rating) -> Result<RatingInput, String> {
        Ok(RatingInput {
            rated_at: instant(&rating.rated_at, "rated-at")?,
            event_id: rating.event_id,
            project_no: rating.project_no,
            service_number: rating.service_number,
            assess_number: rating.assess_number,
            task_code: rating.task_code,
            // The engine fills both from the device registry when a device is named.
            department: rating.department.unwrap_or_default(),
            area_code: rating.area_code.unwrap_or_default(),
            service_name: rating.service_name,
            window: rating.window,
            staff: rating.staff,
            device: rating.device,
            level: level(rating.level),
            channel: channel(rating.channel),
            indicators: rating.indicators,
            text: rating.text,
            evaluator: EvaluatorInput {
                real_name: rating.evaluator.real_name,
                applicant_type: applicant_type(rating.evaluator.applicant_type),
                name: rating.evaluator.name,
                phone: rating.evaluator.phone,
                id_number: rating.evaluator.id_number,
            },
        })
    }

    fn instant(text: &str, field: &str) -> Result<DateTime<Utc>, String> {
        DateTime::parse_from_rfc3339(text)
            .map(|instant| instant.with_timezone(&Utc))
            .map_err(|error| {
                format!(
                    "{field} {:?} is not an RFC 3339 instant with an offset ({error})",
                    cut(text.to_owned())
                )
            })
    }

    /// Instants go to plugins in China time, as the contract's examples and the province use.
    fn china_rfc3339(instant: DateTime<Utc>) -> String {
        instant
            .with_timezone(&hcp_core::calendar::china_tz())
            .to_rfc3339_opts(SecondsFormat::AutoSi, false)
    }

    fn non_empty(text: &str) -> Option<String> {
        (!text.is_empty()).then(|| text.to_owned())
    }

    fn wit_rating(rating: &RatingInput) -> wit::Rating {
        wit::Rating {
            event_id: rating.event_id.clone(),
            project_no: rating.project_no.clone(),
            service_number: rating.service_number,
            assess_number: rating.assess_number,
            task_code: rating.task_code.clone(),
            department: non_empty(&rating.department),
            area_code: non_empty(&rating.area_code),
            window: rating.window.clone(),
            staff: rating.staff.clone(),
            device: rating.device.clone(),
            service_name: rating.service_name.clone(),
            level: wit_level(rating.level),
            channel: wit_channel(rating.channel),
            indicators: rating.indicators.clone(),
            text: rating.text.clone(),
            evaluator: wit::Evaluator {
                real_name: rating.evaluator.real_name,
                applicant_type: wit_applicant_type(rating.evaluator.applicant_type),
                name: rating.evaluator.name.clone(),
                phone: rating.evaluator.phone.clone(),
                id_number: rating.evaluator.id_number.clone(),
            },
            rated_at: china_rfc3339(rating.rated_at),
        }
    }

    // The enums map one to one; a match in each direction keeps the compiler checking that.

    fn level(level: wit::Level) -> Level {
        match level {
            wit::Level::VerySatisfied => Level::VerySatisfied,
            wit::Level::Satisfied => Level::Satisfied,
            wit::Level::BasicallySatisfied => Level::BasicallySatisfied,
            wit::Level::Dissatisfied => Level::Dissatisfied,
            wit::Level::VeryDissatisfied => Level::VeryDissatisfied,
        }
    }

    fn wit_level(level: Level) -> wit::Level {
        match level {
            Level::VerySatisfied => wit::Level::VerySatisfied,
            Level::Satisfied => wit::Level::Satisfied,
            Level::BasicallySatisfied => wit::Level::BasicallySatisfied,
            Level::Dissatisfied => wit::Level::Dissatisfied,
            Level::VeryDissatisfied => wit::Level::VeryDissatisfied,
        }
    }

    fn channel(channel: wit::Channel) -> Channel {
        match channel {
            wit::Channel::Pc => Channel::Pc,
            wit::Channel::Mobile => Channel::Mobile,
            wit::Channel::QrCode => Channel::QrCode,
            wit::Channel::HallDevice => Channel::HallDevice,
            wit::Channel::HallTerminal => Channel::HallTerminal,
            wit::Channel::Phone => Channel::Phone,
            wit::Channel::Sms => Channel::Sms,
            wit::Channel::SystemDefault => Channel::SystemDefault,
        }
    }

    fn wit_channel(channel: Channel) -> wit::Channel {
        match channel {
            Channel::Pc => wit::Channel::Pc,
            Channel::Mobile => wit::Channel::Mobile,
            Channel::QrCode => wit::Channel::QrCode,
            Channel::HallDevice => wit::Channel::HallDevice,
            Channel::HallTerminal => wit::Channel::HallTerminal,
            Channel::Phone => wit::Channel::Phone,
            Channel::Sms => wit::Channel::Sms,
            Channel::SystemDefault => wit::Channel::SystemDefault,
        }
    }

    fn applicant_type(applicant: wit::ApplicantType) -> ApplicantType {
        match applicant {
            wit::ApplicantType::NaturalPerson => ApplicantType::NaturalPerson,
            wit::ApplicantType::EnterpriseLegalPerson => ApplicantType::EnterpriseLegalPerson,
            wit::ApplicantType::InstitutionLegalPerson => ApplicantType::InstitutionLegalPerson,
            wit::ApplicantType::SocialOrganisationLegalPerson => {
                ApplicantType::SocialOrganisationLegalPerson
            }
            wit::ApplicantType::NonLegalPersonEnterprise => ApplicantType::NonLegalPersonEnterprise,
            wit::ApplicantType::AdministrativeOrgan => ApplicantType::AdministrativeOrgan,
            wit::ApplicantType::OtherOrganisation => ApplicantType::OtherOrganisation,
        }
    }

    fn wit_applicant_type(applicant: ApplicantType) -> wit::ApplicantType {
        match applicant {
            ApplicantType::NaturalPerson => wit::ApplicantType::NaturalPerson,
            ApplicantType::EnterpriseLegalPerson => wit::ApplicantType::EnterpriseLegalPerson,
            ApplicantType::InstitutionLegalPerson => wit::ApplicantType::InstitutionLegalPerson,
            ApplicantType::SocialOrganisationLegalPerson => {
                wit::ApplicantType::SocialOrganisationLegalPerson
            }
            ApplicantType::NonLegalPersonEnterprise => wit::ApplicantType::NonLegalPersonEnterprise,
            ApplicantType::AdministrativeOrgan => wit::ApplicantType::AdministrativeOrgan,
            ApplicantType::OtherOrganisation => wit::ApplicantType::OtherOrganisation,
        }
    }

    fn case_status(status: wit::CaseStatus) -> CaseStatus {
        match status {
            wit::CaseStatus::Submitted => CaseStatus::Submitted,
            wit::CaseStatus::Accepted => CaseStatus::Accepted,
            wit::CaseStatus::Completed => CaseStatus::Completed,
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn instants_go_out_in_china_time_and_come_back_equal() {
            let Ok(moment) = instant("2026-03-10T02:00:00Z", "rated-at") else {
                panic!("test instant does not parse");
            };
            let text = china_rfc3339(moment);
            assert_eq!(text, "2026-03-10T10:00:00+08:00");
            assert_eq!(instant(&text, "rated-at"), Ok(moment));
        }

        #[test]
        fn instants_without_offset_are_refused() {
            let error = instant("2026-03-10 10:00:00", "rated-at").err();
            assert!(
                error
                    .as_deref()
                    .is_some_and(|error| error.starts_with("rated-at \"2026-03-10 10:00:00\"")),
                "{error:?}"
            );
        }

        #[test]
        fn reasons_are_cut_at_a_character_boundary() {
            let long = "差".repeat(1000);
            let cut = cut(long);
            assert!(cut.len() <= MAX_REASON_BYTES + '…'.len_utf8());
            assert!(cut.ends_with('…'));
        }

        #[test]
        fn enums_round_trip() {
            for level_value in Level::ALL {
                assert_eq!(level(wit_level(level_value)), level_value);
            }
            for channel_value in Channel::ALL {
                assert_eq!(channel(wit_channel(channel_value)), channel_value);
            }
        }
    }
}
