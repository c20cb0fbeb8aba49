//! The HX-PJ200 frame protocol (see README.md): frames are read in two passes, first their
//! structure (lengths, so the CRC can be checked over exactly the frame's bytes), then their
//! content (codes, text), so a damaged frame reports a bad CRC rather than a strange field.

use hcp_adapter_sdk::types::{
    ApplicantType, Channel, DecodeError, Evaluator, Heartbeat, Inbound, Level, Rating,
};
use hcp_adapter_sdk::{crc16_ccitt, malformed, unix_to_rfc3339_china};

pub const MAGIC: [u8; 2] = [0xA5, 0x5A];
pub const VERSION: u8 = 1;
pub const FRAME_RATING: u8 = 1;
pub const FRAME_HEARTBEAT: u8 = 2;

/// Decodes every frame of a payload, all or nothing.
pub fn decode_payload(payload: &[u8]) -> Result<Vec<Inbound>, DecodeError> {
    if payload.is_empty() {
        return Err(malformed("payload is empty"));
    }
    let mut reader = Reader {
        bytes: payload,
        offset: 0,
    };
    let mut items = Vec::new();
    let mut number = 1;
    while reader.offset < payload.len() {
        let start = reader.offset;
        let item = read_frame(&mut reader).map_err(|error| match error {
            DecodeError::Malformed(reason) => {
                malformed(format!("frame {number} at byte {start}: {reason}"))
            }
            DecodeError::Unsupported(reason) => {
                DecodeError::Unsupported(format!("frame {number} at byte {start}: {reason}"))
            }
        })?;
        items.push(item);
        number += 1;
    }
    Ok(items)
}

/// A length-prefixed field as it sits in the frame, with its offset for error messages.
#[derive(Clone, Copy)]
struct Field<'a> {
    offset: usize,
    bytes: &'a [u8],
}

enum RawBody<'a> {
    Rating {
        unix_time: u32,
        level_code: (usize, u8),
        indicators: Vec<Field<'a>>,
        comment: Field<'a>,
        project_no: Field<'a>,
        task_code: Field<'a>,
        service_number: u8,
        staff: Field<'a>,
        real_name_flag: (usize, u8),
        phone: Field<'a>,
    },
    Heartbeat {
        unix_time: u32,
        ratings_total: u32,
        firmware: Field<'a>,
    },
}

fn read_frame(reader: &mut Reader<'_>) -> Result<Inbound, DecodeError> {
    let frame_start = reader.offset;
    let magic = reader.take(2, "magic")?;
    if magic != MAGIC {
        return Err(malformed(format!(
            "wrong magic 0x{:02x}{:02x}, expected 0xa55a",
            magic[0], magic[1]
        )));
    }
    let version = reader.u8("version")?;
    if version != VERSION {
        return Err(malformed(format!(
            "unsupported version {version} (this adapter reads version {VERSION})"
        )));
    }
    let frame_type = reader.u8("frame type")?;
    let sequence = reader.u32("sequence")?;
    let device = reader.short_field("device id")?;
    let body = match frame_type {
        FRAME_RATING => RawBody::Rating {
            unix_time: reader.u32("rating time")?,
            level_code: (reader.offset, reader.u8("level code")?),
            indicators: {
                let count = reader.u8("indicator count")?;
                (0..count)
                    .map(|_| reader.short_field("indicator code"))
                    .collect::<Result<_, _>>()?
            },
            comment: reader.long_field("comment")?,
            project_no: reader.short_field("project number")?,
            task_code: reader.short_field("task code")?,
            service_number: reader.u8("service number")?,
            staff: reader.short_field("staff id")?,
            real_name_flag: (reader.offset, reader.u8("real-name flag")?),
            phone: reader.short_field("phone")?,
        },
        FRAME_HEARTBEAT => RawBody::Heartbeat {
            unix_time: reader.u32("heartbeat time")?,
            ratings_total: reader.u32("ratings total")?,
            firmware: reader.short_field("firmware")?,
        },
        other => {
            return Err(DecodeError::Unsupported(format!(
                "unknown frame type {other} (expected {FRAME_RATING} rating or {FRAME_HEARTBEAT} heartbeat)"
            )));
        }
    };

    // The CRC covers the version byte up to the end of the body.
    let covered = frame_start + MAGIC.len()..reader.offset;
    let computed = crc16_ccitt(&reader.bytes[covered.clone()]);
    let carried = reader.u16("crc")?;
    if computed != carried {
        return Err(malformed(format!(
            "bad crc: expected 0x{computed:04x} (computed over bytes {}..{}), actual 0x{carried:04x}",
            covered.start, covered.end
        )));
    }

    if device.bytes.is_empty() {
        return Err(malformed(format!(
            "device id is empty at byte offset {}",
            device.offset - 1
        )));
    }
    let device = printable_ascii(device, "device id")?;
    match body {
        RawBody::Rating {
            unix_time,
            level_code: (level_offset, level_code),
            indicators,
            comment,
            project_no,
            task_code,
            service_number,
            staff,
            real_name_flag: (flag_offset, real_name_flag),
            phone,
        } => {
            let level = Level::from_gbt39046(level_code).ok_or_else(|| {
                malformed(format!(
                    "invalid level code {level_code} at byte offset {level_offset} (expected {})",
                    Level::GBT39046_CODES
                ))
            })?;
            let real_name = match real_name_flag {
                0 => false,
                1 => true,
                other => {
                    return Err(malformed(format!(
                        "invalid real-name flag {other} at byte offset {flag_offset} (expected 0 or 1)"
                    )));
                }
            };
            let phone = optional(ascii_digits(phone, "phone")?);
            let text = std::str::from_utf8(comment.bytes).map_err(|error| {
                malformed(format!(
                    "comment is not valid utf-8 at byte offset {}",
                    comment.offset + error.valid_up_to()
                ))
            })?;
            Ok(Inbound::Rating(Rating {
                event_id: format!("{device}-{sequence}"),
                project_no: printable_ascii(project_no, "project number")?,
                service_number,
                assess_number: 1,
                task_code: printable_ascii(task_code, "task code")?,
                department: None,
                area_code: None,
                window: None,
                staff: optional(printable_ascii(staff, "staff id")?),
                device: Some(device),
                service_name: None,
                level,
                channel: Channel::HallDevice,
                indicators: indicators
                    .into_iter()
                    .map(|indicator| printable_ascii(indicator, "indicator code"))
                    .collect::<Result<_, _>>()?,
                text: optional(text.to_owned()),
                evaluator: Evaluator {
                    real_name,
                    applicant_type: ApplicantType::NaturalPerson,
                    name: None,
                    phone,
                    id_number: None,
                },
                rated_at: unix_to_rfc3339_china(unix_time),
            }))
        }
        RawBody::Heartbeat {
            unix_time,
            ratings_total,
            firmware,
        } => Ok(Inbound::Heartbeat(Heartbeat {
            device,
            sent_at: unix_to_rfc3339_china(unix_time),
            sequence: u64::from(sequence),
            ratings_total: u64::from(ratings_total),
            firmware: optional(printable_ascii(firmware, "firmware")?),
        })),
    }
}

/// Phone numbers are ASCII digits only.
fn ascii_digits(field: Field<'_>, what: &str) -> Result<String, DecodeError> {
    match field.bytes.iter().position(|byte| !byte.is_ascii_digit()) {
        Some(position) => Err(malformed(format!(
            "{what} has a byte 0x{:02x} that is not an ascii digit at byte offset {}",
            field.bytes[position],
            field.offset + position
        ))),
        None => Ok(field.bytes.iter().map(|&byte| char::from(byte)).collect()),
    }
}

/// Identifiers on the wire are printable ASCII (0x20..=0x7e).
fn printable_ascii(field: Field<'_>, what: &str) -> Result<String, DecodeError> {
    match field
        .bytes
        .iter()
        .position(|byte| !(0x20..=0x7e).contains(byte))
    {
        Some(position) => Err(malformed(format!(
            "{what} has a byte 0x{:02x} that is not printable ascii at byte offset {}",
            field.bytes[position],
            field.offset + position
        ))),
        None => Ok(field.bytes.iter().map(|&byte| char::from(byte)).collect()),
    }
}

/// A zero-length field means "not given".
fn optional(text: String) -> Option<String> {
    if text.is_empty() { None } else { Some(text) }
}

/// A cursor over the payload that names what it was reading when the bytes run out.
struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize, what: &str) -> Result<&'a [u8], DecodeError> {
        let left = self.bytes.len() - self.offset;
        if left < count {
            return Err(malformed(format!(
                "truncated at byte offset {}: {what} needs {count} bytes, {left} left",
                self.offset
            )));
        }
        let taken = &self.bytes[self.offset..self.offset + count];
        self.offset += count;
        Ok(taken)
    }

    fn u8(&mut self, what: &str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16, DecodeError> {
        let bytes = self.take(2, what)?;
        Ok(u16::from_be_bytes([bytes[0], bytes[1]]))
    }

    fn u32(&mut self, what: &str) -> Result<u32, DecodeError> {
        let bytes = self.take(4, what)?;
        Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    /// A field with a `u8` length prefix.
    fn short_field(&mut self, what: &str) -> Result<Field<'a>, DecodeError> {
        let length = self.u8(what)?;
        let offset = self.offset;
        Ok(Field {
            offset,
            bytes: self.take(usize::from(length), what)?,
        })
    }

    /// A field with a big-endian `u16` length prefix.
    fn long_field(&mut self, what: &str) -> Result<Field<'a>, DecodeError> {
        let length = self.u16(what)?;
        let offset = self.offset;
        Ok(Field {
            offset,
            bytes: self.take(usize::from(length), what)?,
        })
    }
}
