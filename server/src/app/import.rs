//! Bulk import: a file of ratings or service events (history, or a new city's cut-over) read
//! in large batches, each recorded as one group commit, with a checkpoint after every batch
//! so that a killed import resumes where the last durable batch ended.
//!
//! Formats: JSON lines of the canonical API objects (`RatingInput`, `ServiceEventInput`), or
//! CSV of ratings under the provincial interface's field names (`projectNo`, `serviceNumber`,
//! `assessNumber`, `taskCode`, `deptCode`, `areaCode`, `serviceName`, `satisfaction`, `pf`,
//! `evalDetail`, `writingEvaluation`, `assessTime`, `userProp`, `userName`, `mobile`), with
//! the code tables named on the command line (the provinces number `satisfaction` and `pf` two
//! ways each; see `hcp_core::model::codes`).
//!
//! Parsing runs on its own thread beside the committer. A line that cannot be read or that
//! the domain refuses is reported (line number and reason, never the line's personal data) in
//! a refusals file beside the checkpoint; the import goes on. Repeats are answered as
//! duplicates by the store's idempotency (source and event id), so running an import twice,
//! or resuming one killed between a commit and its checkpoint, records nothing twice.
//!
//! History is not refused for its age (the ingest door's `max_age_days` is for live traffic);
//! the source's channel grants still hold. A 差评 imported opens its work order as one that
//! arrives live does, timed from when it was received.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use anyhow::Context as _;
use chrono::{DateTime, NaiveDateTime, TimeZone as _, Utc};
use hcp_core::model::codes::{self, PfVariant};
use hcp_core::model::{EvaluatorInput, Level, RatingInput, ServiceEventInput};
use hcp_core::store::{Command, Outcome};
use hcp_core::validate::{self, Reason, Trust};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::app::Platform;
use crate::app::redact::redact;

/// What the file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportKind {
    Ratings,
    ServiceEvents,
}

/// How the file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFormat {
    /// One canonical JSON object per line.
    Jsonl,
    /// Ratings with the provincial field names in a header row.
    Csv,
}

/// The `satisfaction` numbering of a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SatisfactionCodes {
    /// Provincial interfaces: 1 = 非常不满意 … 5 = 非常满意.
    Provincial,
    /// GB/T 39046-2020 table A.8: 1 = 非常满意 … 5 = 非常不满意.
    Gbt39046,
}

/// The `pf` numbering of a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PfCodes {
    /// 6 电话, 7 短信.
    National,
    /// 6 短信, 7 系统默认评价.
    Zhejiang,
}

#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The source the records are recorded as (it must exist).
    pub source: String,
    pub kind: ImportKind,
    pub format: ImportFormat,
    pub satisfaction: SatisfactionCodes,
    pub pf: PfCodes,
    /// Records per group commit.
    pub batch: usize,
    /// Where checkpoints and refusals are written.
    pub state_dir: PathBuf,
}

/// Where an import stands: written after every durable batch.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Checkpoint {
    /// Identifies the file: its length and the sha256 of its first 64 KiB.
    pub file_len: u64,
    pub file_head: String,
    /// Byte offset after the last record of the last durable batch.
    pub offset: u64,
    /// Records read up to `offset` (data lines; a CSV header is not counted).
    pub records: u64,
    pub recorded: u64,
    pub duplicates: u64,
    pub refused: u64,
    /// Length of the refusals file at `offset`: a resumed run cuts what a killed run wrote
    /// after it, so that no refusal is reported twice.
    #[serde(default)]
    pub refusals_len: u64,
    pub done: bool,
}

/// What an import did, and where its files are.
#[derive(Debug, Clone)]
pub struct Imported {
    pub totals: Checkpoint,
    /// Records skipped at the start because an earlier run had made them durable.
    pub resumed_from: u64,
    /// An earlier run had imported the whole file: nothing was done.
    pub already_done: bool,
    pub checkpoint: PathBuf,
    pub refusals: PathBuf,
}

/// Progress after a batch: bytes of the file behind, its length, records so far, and where
/// this run started (a resumed run starts at its checkpoint).
pub struct Progress {
    pub offset: u64,
    pub len: u64,
    pub records: u64,
    pub start_offset: u64,
    pub start_records: u64,
}

/// One record read from the file: its number (1-based, data records), the offset after it, and
/// the command or why there is none.
struct Parsed {
    number: u64,
    end: u64,
    command: Result<Command, Reason>,
}

/// Imports `path`. Blocking; run while the platform is stopped.
pub fn import(
    platform: &Platform,
    path: &Path,
    options: &ImportOptions,
    progress: &mut dyn FnMut(Progress),
) -> anyhow::Result<Imported> {
    if platform.store.source(&options.source)?.is_none() {
        anyhow::bail!(
            "source {} does not exist: create it first (POST /api/v1/admin/sources)",
            options.source
        );
    }
    let (file_len, file_head) = identify(path)?;
    std::fs::create_dir_all(&options.state_dir)
        .with_context(|| format!("creating {}", options.state_dir.display()))?;
    let stem = state_stem(path, options)?;
    let checkpoint_path = options.state_dir.join(format!("{stem}.checkpoint.json"));
    let refusals_path = options.state_dir.join(format!("{stem}.refused.jsonl"));
    let mut totals = match std::fs::read(&checkpoint_path) {
        Ok(bytes) => {
            let saved: Checkpoint = serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "{} is not a checkpoint; remove it to start over",
                    checkpoint_path.display()
                )
            })?;
            if saved.file_len != file_len || saved.file_head != file_head {
                anyhow::bail!(
                    "{} belongs to another version of {} (its length or first bytes changed); remove it to import the file from the start",
                    checkpoint_path.display(),
                    path.display()
                );
            }
            saved
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Checkpoint {
            file_len,
            file_head,
            ..Checkpoint::default()
        },
        Err(error) => return Err(error.into()),
    };
    let (resumed_from, resumed_at) = (totals.records, totals.offset);
    let imported = |totals: Checkpoint, already_done: bool| Imported {
        already_done,
        totals,
        resumed_from,
        checkpoint: checkpoint_path.clone(),
        refusals: refusals_path.clone(),
    };
    if totals.done {
        return Ok(imported(totals, true));
    }
    let mut refusals = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&refusals_path)
        .with_context(|| format!("opening {}", refusals_path.display()))?;
    refusals.set_len(totals.refusals_len)?;

    let (sender, receiver) = mpsc::sync_channel::<anyhow::Result<Vec<Parsed>>>(2);
    let reader = {
        let path = path.to_path_buf();
        let options = options.clone();
        let start = (totals.offset, totals.records);
        let granted = platform.ingest.trust(&options.source).granted.to_vec();
        let now = platform.clock.now();
        std::thread::spawn(move || {
            let result = read_file(&path, &options, start, (&granted, now), &sender);
            if let Err(error) = result {
                let _ = sender.send(Err(error));
            }
        })
    };
    for batch in receiver {
        let batch = batch?;
        let Some(last) = batch.last() else { continue };
        let (number, end) = (last.number, last.end);
        let mut commands = Vec::with_capacity(batch.len());
        let mut numbers = Vec::with_capacity(batch.len());
        for parsed in batch {
            match parsed.command {
                Ok(command) => {
                    commands.push(command);
                    numbers.push(parsed.number);
                }
                Err(reason) => {
                    refuse(&mut refusals, parsed.number, &reason)?;
                    totals.refused += 1;
                }
            }
        }
        let outcomes = platform.store.submit(commands)?;
        for (number, outcome) in numbers.into_iter().zip(outcomes) {
            match outcome {
                Outcome::Recorded { .. } => totals.recorded += 1,
                Outcome::Duplicate { .. } => totals.duplicates += 1,
                Outcome::Rejected(error) => {
                    refuse(&mut refusals, number, &error.reason())?;
                    totals.refused += 1;
                }
            }
        }
        refusals.flush()?;
        totals.refusals_len = refusals.metadata()?.len();
        totals.offset = end;
        totals.records = number;
        save(&checkpoint_path, &totals)?;
        progress(Progress {
            offset: end,
            len: file_len,
            records: number,
            start_offset: resumed_at,
            start_records: resumed_from,
        });
    }
    reader
        .join()
        .map_err(|_| anyhow::anyhow!("the reader of {} panicked", path.display()))?;
    totals.done = true;
    save(&checkpoint_path, &totals)?;
    Ok(imported(totals, false))
}

/// The file's length and the sha256 of its first 64 KiB.
fn identify(path: &Path) -> anyhow::Result<(u64, String)> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let len = file.metadata()?.len();
    let mut head = Vec::with_capacity(64 * 1024);
    (&mut file).take(64 * 1024).read_to_end(&mut head)?;
    Ok((len, hex::encode(sha2::Sha256::digest(&head))))
}

/// The name of an import's state files: the file's name and a hash of its absolute path, the
/// source and the kind, so that two imports never share a checkpoint.
fn state_stem(path: &Path, options: &ImportOptions) -> anyhow::Result<String> {
    let absolute = std::path::absolute(path)?;
    let key = format!(
        "{}\n{}\n{:?}",
        absolute.display(),
        options.source,
        options.kind
    );
    let hash = hex::encode(sha2::Sha256::digest(key.as_bytes()));
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().to_string())
        .unwrap_or_default();
    Ok(format!("{name}-{}", &hash[..12]))
}

fn save(path: &Path, checkpoint: &Checkpoint) -> anyhow::Result<()> {
    let partial = path.with_extension("json.partial");
    std::fs::write(&partial, serde_json::to_vec_pretty(checkpoint)?)?;
    std::fs::File::open(&partial)?.sync_all()?;
    std::fs::rename(&partial, path)?;
    Ok(())
}

fn refuse(out: &mut impl Write, number: u64, reason: &Reason) -> anyhow::Result<()> {
    let line = serde_json::json!({
        "record": number,
        "code": reason.code,
        "message": redact(&reason.message),
    });
    writeln!(out, "{line}")?;
    Ok(())
}

/// Reads the file from `start` (offset, records before it), sending batches of parsed records
/// checked against the source's channel grants as of `now`.
fn read_file(
    path: &Path,
    options: &ImportOptions,
    start: (u64, u64),
    (granted, now): (&[hcp_core::model::Channel], DateTime<Utc>),
    sender: &mpsc::SyncSender<anyhow::Result<Vec<Parsed>>>,
) -> anyhow::Result<()> {
    let file = std::fs::File::open(path)?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let (mut offset, mut number) = start;
    let trust = Trust {
        granted,
        max_age_days: None,
    };
    let header = match options.format {
        ImportFormat::Csv => {
            let (fields, header_end) = match read_csv_record(&mut reader)? {
                Some((fields, read)) => (fields, read),
                None => return Ok(()),
            };
            let header = CsvHeader::new(&fields)?;
            if offset < header_end {
                offset = header_end;
            }
            Some(header)
        }
        ImportFormat::Jsonl => None,
    };
    reader.seek(SeekFrom::Start(offset))?;
    let mut batch = Vec::with_capacity(options.batch);
    let mut line = Vec::new();
    loop {
        let (command, read) = match &header {
            Some(header) => match read_csv_record(&mut reader)? {
                Some((fields, read)) if fields.iter().all(|field| field.trim().is_empty()) => {
                    offset += read;
                    continue;
                }
                Some((fields, read)) => (header.rating(&fields, options), read),
                None => break,
            },
            None => {
                line.clear();
                let read = reader.read_until(b'\n', &mut line)? as u64;
                if read == 0 {
                    break;
                }
                if line.iter().all(u8::is_ascii_whitespace) {
                    offset += read;
                    continue;
                }
                (json_command(&line, options), read)
            }
        };
        offset += read;
        number += 1;
        let command = command.and_then(|command| {
            if let Command::Rating { input, .. } = &command {
                validate::outside_rating(input, trust, now).map_err(|error| error.reason())?;
            }
            Ok(command)
        });
        batch.push(Parsed {
            number,
            end: offset,
            command,
        });
        if batch.len() >= options.batch {
            if sender.send(Ok(std::mem::take(&mut batch))).is_err() {
                return Ok(());
            }
            batch.reserve(options.batch);
        }
    }
    if !batch.is_empty() {
        let _ = sender.send(Ok(batch));
    }
    Ok(())
}

fn json_command(line: &[u8], options: &ImportOptions) -> Result<Command, Reason> {
    // serde quotes the offending value, which may be a phone or an ID number: redacted when
    // the refusal is written.
    let invalid = |error: serde_json::Error| malformed(format!("not a canonical record: {error}"));
    let source = options.source.clone();
    Ok(match options.kind {
        ImportKind::Ratings => Command::Rating {
            source,
            input: serde_json::from_slice::<RatingInput>(line).map_err(invalid)?,
        },
        ImportKind::ServiceEvents => Command::Service {
            source,
            input: serde_json::from_slice::<ServiceEventInput>(line).map_err(invalid)?,
        },
    })
}

fn malformed(message: String) -> Reason {
    Reason {
        code: "malformed".into(),
        message,
    }
}

/// Provincial fields the import does not use; accepted in a header and ignored.
const IGNORED_FIELDS: [&str; 12] = [
    "taskHandleItem",
    "taskName",
    "taskType",
    "projectName",
    "proStatus",
    "acceptDate",
    "resultDate",
    "promiseDay",
    "promiseType",
    "certKey",
    "serviceTime",
    "appStatus",
];

/// Fields the import reads: the provincial names, then this platform's own optional columns.
const USED_FIELDS: [&str; 19] = [
    "projectNo",
    "serviceNumber",
    "assessNumber",
    "taskCode",
    "deptCode",
    "areaCode",
    "serviceName",
    "satisfaction",
    "pf",
    "evalDetail",
    "writingEvaluation",
    "assessTime",
    "userProp",
    "userName",
    "mobile",
    "eventId",
    "window",
    "staff",
    "device",
];

const REQUIRED_FIELDS: [&str; 5] = ["projectNo", "taskCode", "satisfaction", "pf", "assessTime"];

/// Where each used field is in a CSV record.
struct CsvHeader {
    columns: std::collections::HashMap<&'static str, usize>,
}

impl CsvHeader {
    fn new(fields: &[String]) -> anyhow::Result<CsvHeader> {
        let mut columns = std::collections::HashMap::new();
        let mut unknown = Vec::new();
        for (index, field) in fields.iter().enumerate() {
            let field = field.trim();
            if let Some(used) = USED_FIELDS.iter().find(|used| **used == field) {
                columns.insert(*used, index);
            } else if !IGNORED_FIELDS.contains(&field) {
                unknown.push(field.to_string());
            }
        }
        if !unknown.is_empty() {
            anyhow::bail!(
                "the CSV header has fields this import does not know: {} (known: {}; ignored: {})",
                unknown.join(", "),
                USED_FIELDS.join(", "),
                IGNORED_FIELDS.join(", ")
            );
        }
        let missing: Vec<&str> = REQUIRED_FIELDS
            .into_iter()
            .filter(|field| !columns.contains_key(field))
            .collect();
        if !missing.is_empty() {
            anyhow::bail!("the CSV header lacks {}", missing.join(", "));
        }
        Ok(CsvHeader { columns })
    }

    fn get<'a>(&self, fields: &'a [String], name: &str) -> &'a str {
        self.columns
            .get(name)
            .and_then(|index| fields.get(*index))
            .map_or("", |value| value.trim())
    }

    fn optional(&self, fields: &[String], name: &str) -> Option<String> {
        Some(self.get(fields, name).to_string()).filter(|value| !value.is_empty())
    }

    fn rating(&self, fields: &[String], options: &ImportOptions) -> Result<Command, Reason> {
        let field = |name: &str| self.get(fields, name);
        let number = |name: &str, default: u8| -> Result<u8, Reason> {
            match field(name) {
                "" => Ok(default),
                text => text
                    .parse()
                    .map_err(|_| malformed(format!("{name} is not a number: {text}"))),
            }
        };
        let code = number("satisfaction", 0)?;
        let level: Option<Level> = match options.satisfaction {
            SatisfactionCodes::Provincial => codes::level_from_satisfaction(code),
            SatisfactionCodes::Gbt39046 => codes::level_from_gbt39046(code),
        };
        let level = level.ok_or_else(|| {
            malformed(format!(
                "satisfaction {} is not a code of the {} table",
                field("satisfaction"),
                match options.satisfaction {
                    SatisfactionCodes::Provincial => "provincial (5 = 非常满意)",
                    SatisfactionCodes::Gbt39046 => "GB/T 39046 (1 = 非常满意)",
                }
            ))
        })?;
        let variant = match options.pf {
            PfCodes::National => PfVariant::National,
            PfCodes::Zhejiang => PfVariant::Zhejiang,
        };
        let channel = codes::channel_from_pf(number("pf", 0)?, variant).ok_or_else(|| {
            malformed(format!(
                "pf {} is not a channel code of the {} table",
                field("pf"),
                match options.pf {
                    PfCodes::National => "national",
                    PfCodes::Zhejiang => "zhejiang",
                }
            ))
        })?;
        let applicant_type = match field("userProp") {
            "" => Default::default(),
            text => text
                .parse()
                .ok()
                .and_then(codes::applicant_type_from_code)
                .ok_or_else(|| malformed(format!("userProp {text} is not a known code")))?,
        };
        let (service_number, assess_number) =
            (number("serviceNumber", 1)?, number("assessNumber", 1)?);
        let project_no = field("projectNo").to_string();
        let name = self.optional(fields, "userName");
        let phone = self.optional(fields, "mobile");
        let event_id = self
            .optional(fields, "eventId")
            .unwrap_or_else(|| format!("{project_no}-{service_number}-{assess_number}"));
        Ok(Command::Rating {
            source: options.source.clone(),
            input: RatingInput {
                event_id,
                project_no,
                service_number,
                assess_number,
                task_code: field("taskCode").to_string(),
                department: field("deptCode").to_string(),
                area_code: field("areaCode").to_string(),
                service_name: self.optional(fields, "serviceName"),
                window: self.optional(fields, "window"),
                staff: self.optional(fields, "staff"),
                device: self.optional(fields, "device"),
                level,
                channel,
                indicators: field("evalDetail")
                    .split([',', ';', '|'])
                    .map(str::trim)
                    .filter(|code| !code.is_empty())
                    .map(String::from)
                    .collect(),
                text: self.optional(fields, "writingEvaluation"),
                evaluator: EvaluatorInput {
                    real_name: name.is_some() || phone.is_some(),
                    applicant_type,
                    name,
                    phone,
                    id_number: None,
                },
                rated_at: assess_time(field("assessTime"))?,
            },
        })
    }
}

/// `assessTime`: "yyyy-MM-dd HH:mm:ss" in China time, or RFC 3339.
fn assess_time(text: &str) -> Result<DateTime<Utc>, Reason> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .ok()
        .and_then(|local| {
            chrono::FixedOffset::east_opt(8 * 3600)?
                .from_local_datetime(&local)
                .single()
        })
        .map(|at| at.with_timezone(&Utc))
        .ok_or_else(|| {
            malformed(format!(
                "assessTime {text} is not \"yyyy-MM-dd HH:mm:ss\" (China time) nor RFC 3339"
            ))
        })
}

/// One CSV record (RFC 4180: quoted fields may hold commas, doubled quotes and line breaks)
/// and the bytes it took; `None` at the end of the file. A UTF-8 byte order mark is skipped.
fn read_csv_record(reader: &mut impl BufRead) -> anyhow::Result<Option<(Vec<String>, u64)>> {
    let mut record = Vec::new();
    let mut read = 0u64;
    loop {
        let mut line = Vec::new();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        read += n as u64;
        record.extend_from_slice(&line);
        // A record ends at a line break outside quotes: an even number of quotes so far.
        if record.iter().filter(|byte| **byte == b'"').count() % 2 == 0 {
            break;
        }
    }
    if read == 0 {
        return Ok(None);
    }
    let text = String::from_utf8(record).context("a CSV record is not UTF-8")?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let text = text.trim_end_matches(['\r', '\n']);
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    Ok(Some((fields, read)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn csv_records_may_quote_commas_quotes_and_line_breaks() {
        let text = "\u{feff}a,b,c\r\n1,\"x, \"\"y\"\"\nz\",3\n\n";
        let mut reader = std::io::Cursor::new(text.as_bytes());
        let (header, read) = read_csv_record(&mut reader).unwrap().unwrap();
        assert_eq!(header, ["a", "b", "c"]);
        assert_eq!(read, 10);
        let (record, _) = read_csv_record(&mut reader).unwrap().unwrap();
        assert_eq!(record, ["1", "x, \"y\"\nz", "3"]);
        let (blank, _) = read_csv_record(&mut reader).unwrap().unwrap();
        assert_eq!(blank, [""]);
        assert!(read_csv_record(&mut reader).unwrap().is_none());
    }

    #[test]
    fn assess_time_is_china_time_or_rfc3339() {
        assert_eq!(
            assess_time("2026-03-02 09:30:00").unwrap().to_rfc3339(),
            "2026-03-02T01:30:00+00:00"
        );
        assert_eq!(
            assess_time("2026-03-02T09:30:00+08:00")
                .unwrap()
                .to_rfc3339(),
            "2026-03-02T01:30:00+00:00"
        );
        assert_eq!(assess_time("02/03/2026").unwrap_err().code, "malformed");
    }

    #[test]
    fn a_header_with_unknown_or_missing_fields_is_refused_before_anything_is_read() {
        let header = |names: &[&str]| {
            CsvHeader::new(
                &names
                    .iter()
                    .map(|name| name.to_string())
                    .collect::<Vec<_>>(),
            )
        };
        let error = header(&["projectNo", "taskCode", "satisfaction", "pf", "assesTime"])
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("assesTime"), "{error}");
        let error = header(&["projectNo", "taskCode", "satisfaction", "pf", "taskName"])
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("lacks assessTime"), "{error}");
    }
}
