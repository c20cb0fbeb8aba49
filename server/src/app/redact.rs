//! Redaction of personal data in text the platform did not write itself and keeps or logs: the
//! messages of refused payloads (serde quotes the offending value), the error bodies of the SMS
//! gateway and the provincial platform. Mobile and landline numbers and ID numbers are masked as
//! every view masks them (`138****8000`, `410402********123X`), names where a JSON key says
//! it is one; a name in free prose cannot be told from other words and stays.

use hcp_core::pii::{PiiKind, mask_name};

/// JSON keys whose string value is a person's name.
const NAME_KEYS: [&str; 9] = [
    "name",
    "userName",
    "user_name",
    "realName",
    "real_name",
    "applicant",
    "applicantName",
    "contactName",
    "姓名",
];

/// `text` with phone numbers, ID numbers and the values of name keys masked.
pub fn redact(text: &str) -> String {
    mask_numbers(&mask_named_values(text))
}

/// At most `max_chars` characters of `bytes` read as UTF-8 (lossily), redacted first, then cut
/// with a note of what was left out: what a foreign answer may leave in a log or a record.
pub fn excerpt(bytes: &[u8], max_chars: usize) -> String {
    let redacted = redact(&String::from_utf8_lossy(bytes));
    let total = redacted.chars().count();
    if total <= max_chars {
        return redacted;
    }
    let mut cut: String = redacted.chars().take(max_chars).collect();
    cut.push_str(&format!("… ({} more characters)", total - max_chars));
    cut
}

/// Masks the string values of [`NAME_KEYS`] in JSON-like text: `"name": "张三"` → `"name": "张*"`.
fn mask_named_values(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while let Some(quote) = rest.find('"') {
        out.push_str(&rest[..quote]);
        let after = &rest[quote + 1..];
        for key in NAME_KEYS {
            let Some(tail) = after
                .strip_prefix(key)
                .and_then(|tail| tail.strip_prefix('"'))
            else {
                continue;
            };
            let spaced = tail.trim_start();
            let Some(value_start) = spaced
                .strip_prefix(':')
                .map(str::trim_start)
                .and_then(|value| value.strip_prefix('"'))
            else {
                continue;
            };
            let Some(end) = value_start.find('"') else {
                continue;
            };
            let consumed = rest.len() - value_start.len();
            out.push_str(&rest[quote..consumed]);
            out.push_str(&mask_name(&value_start[..end]));
            out.push('"');
            rest = &value_start[end + 1..];
            continue 'scan;
        }
        out.push('"');
        rest = after;
    }
    out.push_str(rest);
    out
}

fn is_digit(chars: &[char], index: usize) -> bool {
    chars.get(index).is_some_and(char::is_ascii_digit)
}

fn digit_run(chars: &[char], start: usize) -> usize {
    chars[start..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count()
}

fn is_mobile(digits: &str) -> bool {
    let bytes = digits.as_bytes();
    bytes.len() == 11 && bytes[0] == b'1' && (b'3'..=b'9').contains(&bytes[1])
}

/// A number starting at `start` (the first digit of a run) that is personal data: its length in
/// characters and how it is shown masked.
fn personal_number(chars: &[char], start: usize) -> Option<(usize, String)> {
    let run = digit_run(chars, start);
    let digits: String = chars[start..start + run].iter().collect();
    let next = chars.get(start + run).copied();
    // ID number (居民身份证号码): 17 digits and a check digit or X.
    if run == 17 && matches!(next, Some('X' | 'x')) && !is_digit(chars, start + run + 1) {
        let id: String = chars[start..start + 18].iter().collect();
        return Some((18, PiiKind::IdNumber.mask(&id)));
    }
    if run == 18 {
        return Some((18, PiiKind::IdNumber.mask(&digits)));
    }
    // Mobile numbers, also with the country code (86 / 0086) written before them.
    for prefix in ["", "86", "0086"] {
        if let Some(number) = digits.strip_prefix(prefix)
            && is_mobile(number)
        {
            return Some((run, format!("{prefix}{}", PiiKind::Phone.mask(number))));
        }
    }
    // A mobile number written 3-4-4 with spaces or hyphens.
    if run == 3 && is_mobile(&format!("{digits}00000000")) {
        let mut index = start + 3;
        let mut number = digits.clone();
        for group in [4, 4] {
            let separator = chars.get(index).copied();
            if !matches!(separator, Some('-' | ' ')) || digit_run(chars, index + 1) != group {
                return None;
            }
            number.extend(&chars[index + 1..index + 1 + group]);
            index += 1 + group;
        }
        return Some((index - start, PiiKind::Phone.mask(&number)));
    }
    // A landline: area code 0xx(x), then 7 or 8 digits, with or without a hyphen.
    if digits.starts_with('0') && !digits.starts_with("00") {
        if (10..=12).contains(&run) {
            return Some((run, PiiKind::Phone.mask(&digits)));
        }
        if (3..=4).contains(&run) && chars.get(start + run) == Some(&'-') {
            let local = digit_run(chars, start + run + 1);
            if (7..=8).contains(&local) {
                let number: String = chars[start..start + run + 1 + local].iter().collect();
                return Some((run + 1 + local, PiiKind::Phone.mask(&number)));
            }
        }
    }
    None
}

/// Masks phone and ID numbers standing on their own (not inside a longer run of digits; letters
/// around them do not protect them).
fn mask_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut index = 0;
    while index < chars.len() {
        // Runs are taken whole, so a match never starts or ends inside a longer number.
        if chars[index].is_ascii_digit() {
            if let Some((length, masked)) = personal_number(&chars, index) {
                out.push_str(&masked);
                index += length;
                continue;
            }
            let run = digit_run(&chars, index);
            out.extend(&chars[index..index + run]);
            index += run;
            continue;
        }
        out.push(chars[index]);
        index += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: &str) {
        assert_eq!(redact(text), expected, "{text}");
    }

    #[test]
    fn phone_and_id_numbers_are_masked() {
        check(
            r#"invalid type: string "13800138000", expected u8 at line 1 column 40"#,
            r#"invalid type: string "138****8000", expected u8 at line 1 column 40"#,
        );
        check("手机 +8613800138000 无效", "手机 +86138****8000 无效");
        check("mobile13800138000X", "mobile138****8000X");
        check(
            "call 138-0013-8000 or 138 0013 8000",
            "call 138****8000 or 138****8000",
        );
        check(
            "座机 0375-2345678 或 037523456789",
            "座机 037*****5678 或 037*****6789",
        );
        check(
            "证件 41040219900101123X 与 410402199001011234",
            "证件 410402********123X 与 410402********1234",
        );
        check(
            "id_number 41040219900101123x,",
            "id_number 410402********123x,",
        );
    }

    #[test]
    fn other_numbers_stay() {
        for text in [
            "expected u8 at line 1 column 13800",
            "seq 12345678, batch 20261102",
            "2026-11-02T09:30:00+08:00",
            "a run of 24 digits 123456789012345678901234 is no one's number",
            "order 138",
            "area 410421",
        ] {
            check(text, text);
        }
    }

    #[test]
    fn names_under_name_keys_are_masked() {
        check(
            r#"{"error":"bad recipient","name": "张三","userName":"欧阳娜娜","note":"李四"}"#,
            r#"{"error":"bad recipient","name": "张*","userName":"欧***","note":"李四"}"#,
        );
        check(
            r#"{"name":"","to":"13800138000"}"#,
            r#"{"name":"","to":"138****8000"}"#,
        );
        check(r#"unterminated "name": "张"#, r#"unterminated "name": "张"#);
    }

    #[test]
    fn excerpts_are_redacted_before_they_are_cut() {
        let body = format!("{}13800138000", "x".repeat(10));
        assert_eq!(
            excerpt(body.as_bytes(), 12),
            "xxxxxxxxxx13… (9 more characters)"
        );
        assert_eq!(excerpt(b"short", 12), "short");
        assert_eq!(excerpt(&[0xff, b'a'], 12), "\u{fffd}a");
    }
}
