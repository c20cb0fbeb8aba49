//! The bytes of stored values.
//!
//! Schema v2 wrote every value as JSON text. Schema v3 writes the log entries and the large,
//! rarely rewritten projections (decisions, orders, assessments, rules versions) as one format
//! byte and a body; the small records read on every command (master data) stay JSON, where a
//! decompression per read cost more ingest time than the bytes were worth (measured:
//! compressing them too took a fifth off durable ingest). Cases, read and rewritten by every
//! act and rating of their project, have a binary format of their own (format byte
//! [`super::case_record::CASE_V1`], decoded by that module alone):
//!
//! - [`ZSTD_DICT_1`]: a zstd frame of the value's JSON, compressed with dictionary 1
//!   (`dict-1.zdict`, trained on a seeded city's log). On the demo city's mix a log entry goes
//!   from about 850 bytes to about 160; compressing costs about 6 µs and decompressing about
//!   2 µs per entry (a JSON parse of the same entry costs about 8 µs).
//!
//! A value that does not begin with a format byte is JSON text (which begins with `{`, `[`, `"`,
//! a digit or a letter, never a byte below 0x20), so every reader takes v2 values as well; that
//! is how `hcp migrate` reads a v2 folder. A value whose compressed form would not be shorter is
//! kept as JSON: the choice depends on the bytes alone, so a rebuild writes the same bytes.
//!
//! A dictionary is part of the format: the bytes of `dict-1.zdict` never change. A better one
//! (`hcp store train-dictionary`) ships as a new format byte beside it, and readers keep both.

use std::cell::RefCell;
use std::sync::OnceLock;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A zstd frame of JSON, compressed with dictionary 1.
pub const ZSTD_DICT_1: u8 = 0x01;

// 0x02 is a case record (`case_record::CASE_V1`); the next format takes 0x03.

/// Level 3: at level 1 the frames are 4% larger for no measurable gain in speed, from level 6
/// compressing takes four times as long for another 4%.
const LEVEL: i32 = 3;

static DICT_1: &[u8] = include_bytes!("dict-1.zdict");

struct Dictionary {
    compress: zstd_safe::CDict<'static>,
    decompress: zstd_safe::DDict<'static>,
}

fn dictionary_1() -> &'static Dictionary {
    static DICTIONARY: OnceLock<Dictionary> = OnceLock::new();
    DICTIONARY.get_or_init(|| Dictionary {
        compress: zstd_safe::create_cdict(DICT_1, LEVEL),
        decompress: zstd_safe::create_ddict(DICT_1),
    })
}

thread_local! {
    static COMPRESSOR: RefCell<zstd_safe::CCtx<'static>> = RefCell::new(zstd_safe::create_cctx());
    static DECOMPRESSOR: RefCell<zstd_safe::DCtx<'static>> = RefCell::new(zstd_safe::create_dctx());
}

fn error(message: impl std::fmt::Display) -> serde_json::Error {
    <serde_json::Error as serde::de::Error>::custom(message)
}

/// The stored bytes of `value`: compressed with the current dictionary, or its JSON when that
/// is no longer.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let json = serde_json::to_vec(value)?;
    Ok(compress(json))
}

/// The stored bytes of a value's JSON text (see [`encode`]).
pub fn compress(json: Vec<u8>) -> Vec<u8> {
    let mut frame = Vec::with_capacity(zstd_safe::compress_bound(json.len()));
    let written = COMPRESSOR.with(|context| {
        context
            .borrow_mut()
            .compress_using_cdict(&mut frame, &json, &dictionary_1().compress)
    });
    match written {
        Ok(_) if frame.len() + 1 < json.len() => {
            let mut out = Vec::with_capacity(1 + frame.len());
            out.push(ZSTD_DICT_1);
            out.extend_from_slice(&frame);
            out
        }
        _ => json,
    }
}

/// The JSON text of stored bytes, whichever format wrote them.
pub fn json(bytes: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, serde_json::Error> {
    match bytes.first() {
        Some(&ZSTD_DICT_1) => {
            let frame = &bytes[1..];
            let size = zstd_safe::get_frame_content_size(frame);
            // The frame says how long the JSON is; a frame that does not is not one of ours.
            if size == zstd_safe::CONTENTSIZE_UNKNOWN || size == zstd_safe::CONTENTSIZE_ERROR {
                return Err(error("a stored value's zstd frame has no content size"));
            }
            let size = usize::try_from(size)
                .ok()
                .filter(|size| *size <= MAX_VALUE)
                .ok_or_else(|| error(format!("a stored value claims {size} bytes")))?;
            let mut json = Vec::with_capacity(size);
            DECOMPRESSOR
                .with(|context| {
                    context.borrow_mut().decompress_using_ddict(
                        &mut json,
                        frame,
                        &dictionary_1().decompress,
                    )
                })
                .map_err(|code| {
                    error(format!(
                        "a stored value does not decompress: {}",
                        zstd_safe::get_error_name(code)
                    ))
                })?;
            Ok(std::borrow::Cow::Owned(json))
        }
        Some(&byte) if byte < 0x20 => Err(error(format!(
            "a stored value has format byte {byte:#04x}, which this version does not know"
        ))),
        _ => Ok(std::borrow::Cow::Borrowed(bytes)),
    }
}

/// The largest value a frame may claim (a rules activation with every file is the largest
/// value written; the rules body limit is 64 MiB).
const MAX_VALUE: usize = 256 * 1024 * 1024;

/// The value of stored bytes, whichever format wrote them.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    serde_json::from_slice(&json(bytes)?)
}

/// A dictionary of `size` bytes trained on `samples` (JSON texts of stored values), for
/// `hcp store train-dictionary`.
pub fn train_dictionary(samples: &[Vec<u8>], size: usize) -> std::io::Result<Vec<u8>> {
    zstd::dict::from_samples(samples, size)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_log_entry_is_compressed_and_reads_back_exactly() {
        let text = r#"{"seq":25700,"at":"2026-12-02T07:00:00Z","actor":"source:demo-devices","origin":{"source":"demo-devices","event_id":"rt-41042320261202006579-2-1"},"event":{"type":"rating_recorded","rating":{"id":25700,"source":"demo-devices","event_id":"rt-41042320261202006579-2-1","project_no":"41042320261202006579","service_number":2,"assess_number":1,"service_name":"申报","device":null,"level":"satisfied","channel":"qr_code","indicators":[],"text":null,"evaluator":{"real_name":false,"applicant_type":"natural_person","name":null,"phone":null,"id_number":null},"attribution":{"regions":["410423","410400"],"hall":"H410423","window":"W410423-05","department":"11410423135082429B","staff":"S410423-0007","task_code":"11410423135082429B2070002000000"},"area_code":"410423","rated_at":"2026-12-02T06:58:09Z","received_at":"2026-12-02T07:00:00Z"}},"prev_hash":"e7837b561955a7c16fa9fc76019892ae02fa82ac83f666eeb691831baa1e5e32"}"#
            .as_bytes();
        let stored = compress(text.to_vec());
        assert_eq!(stored[0], ZSTD_DICT_1);
        assert!(
            stored.len() * 3 < text.len(),
            "{} bytes for {}",
            stored.len(),
            text.len()
        );
        assert_eq!(json(&stored).unwrap().as_ref(), text);
        // The same bytes every time: a rebuild writes what the first run wrote.
        assert_eq!(compress(text.to_vec()), stored);
    }

    #[test]
    fn a_v2_value_reads_as_json_and_a_short_value_stays_json() {
        let value: serde_json::Value = decode(br#"{"a":1}"#).unwrap();
        assert_eq!(value, serde_json::json!({"a": 1}));
        assert_eq!(encode(&7u64).unwrap(), b"7");
        assert_eq!(decode::<u64>(&encode(&7u64).unwrap()).unwrap(), 7);
    }

    #[test]
    fn damaged_or_unknown_bytes_are_an_error_not_a_panic() {
        let stored = compress(vec![b'x'; 4096]);
        for cut in [1, 2, 5, stored.len() - 1] {
            assert!(json(&stored[..cut]).is_err(), "cut at {cut}");
        }
        let mut flipped = stored.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff;
        let _ = json(&flipped);
        assert!(
            json(&[0x03, 1, 2, 3])
                .unwrap_err()
                .to_string()
                .contains("0x03")
        );
        assert!(json(&[ZSTD_DICT_1]).is_err());
    }
}
