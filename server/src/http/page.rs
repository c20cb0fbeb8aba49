//! The one list convention: `?limit=` (default [`DEFAULT_LIMIT`], at most [`MAX_LIMIT`]) and an
//! opaque `cursor`, answered as `{"items": [...], "next_cursor": "..."|null}`; and the one cursor
//! encoding every list uses.
//!
//! A cursor spells a position's bytes with the letters a–p, one per half-byte: opaque to the
//! client, safe in a URL, and never looks like a phone or ID number on a public page. What the
//! bytes mean is the list's own business (an index key, a sequence number, an offset).

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiError;

/// Items per page when the client does not say.
pub const DEFAULT_LIMIT: usize = 50;
/// The most items a page holds, on every list.
pub const MAX_LIMIT: usize = 500;
/// The longest cursor any list hands out (a store index key is well below 512 bytes).
pub const MAX_CURSOR_CHARS: usize = 1024;
/// Records a page of a filtered list looks at, at most: a filter that matches little ends the
/// page early, with a cursor, instead of reading a whole table in one request.
pub const MAX_SCAN: usize = 5_000;

/// Where a page starts and how long it is, on a list whose positions are numbers (a sequence
/// number, an id, an offset): every cursor is 16 letters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500, nullable = false)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page; leave out for the first page.
    #[param(pattern = "^([a-p]{16})?$", nullable = false)]
    pub cursor: Option<String>,
}

/// Where a page starts and how long it is, on a list whose positions are index keys (ratings,
/// cases): a cursor is any even number of letters a–p, up to 1024.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KeyPageQuery {
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500, nullable = false)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page; leave out for the first page.
    #[param(pattern = "^([a-p][a-p])*$", max_length = 1024, nullable = false)]
    pub cursor: Option<String>,
}

impl KeyPageQuery {
    pub fn paging(&self) -> PageQuery {
        PageQuery {
            limit: self.limit,
            cursor: self.cursor.clone(),
        }
    }
}

impl PageQuery {
    /// The page size asked for, checked against the cap.
    pub fn limit(&self) -> Result<usize, ApiError> {
        checked_limit(self.limit, DEFAULT_LIMIT, MAX_LIMIT)
    }

    /// The position the cursor stands for; `None` for the first page.
    pub fn position(&self) -> Result<Option<Vec<u8>>, ApiError> {
        match self.cursor.as_deref() {
            None | Some("") => Ok(None),
            Some(cursor) => decode(cursor).map(Some).ok_or_else(|| {
                ApiError::BadRequest("cursor is not one this list handed out".into())
            }),
        }
    }

    /// The position as a number (a sequence number, an id, an offset).
    pub fn position_number(&self) -> Result<Option<u64>, ApiError> {
        self.position()?
            .map(|bytes| {
                <[u8; 8]>::try_from(bytes.as_slice())
                    .map(u64::from_be_bytes)
                    .map_err(|_| {
                        ApiError::BadRequest("cursor is not one this list handed out".into())
                    })
            })
            .transpose()
    }
}

/// A filter's verdict that may fail (a scope check reading the store), inside a store walk that
/// takes only `true` or `false`: the first failure is kept in `failure` for the caller to answer
/// once the walk is over, and the record is left out.
pub fn verdict<E>(verdict: Result<bool, E>, failure: &mut Option<E>) -> bool {
    verdict.unwrap_or_else(|error| {
        failure.get_or_insert(error);
        false
    })
}

/// `limit` between 1 and `max`, `default` when absent; anything else is a 400 naming the range.
pub fn checked_limit(limit: Option<usize>, default: usize, max: usize) -> Result<usize, ApiError> {
    match limit {
        None => Ok(default),
        Some(limit) if (1..=max).contains(&limit) => Ok(limit),
        Some(_) => Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {max}"
        ))),
    }
}

/// One page of a list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass back as `cursor` for the next page; null on the last page. A page may hold fewer
    /// items than asked and still have a next one.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page of a list held whole, in its order: the cursor is the number of items before
    /// the page. For short lists (users, sources, policy versions), where an item added between
    /// two pages at most shifts one page by one.
    pub fn of(all: Vec<T>, query: &PageQuery) -> Result<Page<T>, ApiError> {
        let limit = query.limit()?;
        let skip = usize::try_from(query.position_number()?.unwrap_or(0)).unwrap_or(usize::MAX);
        let total = all.len();
        let items: Vec<T> = all.into_iter().skip(skip).take(limit).collect();
        let end = skip.saturating_add(items.len());
        let next_cursor = (end < total).then(|| encode_number(end as u64));
        Ok(Page { items, next_cursor })
    }

    /// A page whose items are keyed by a number, in the order the list walks them: the cursor
    /// is the key of the last item, when the page is full.
    pub fn keyed(items: Vec<T>, limit: usize, key: impl Fn(&T) -> u64) -> Page<T> {
        let next_cursor = (items.len() >= limit)
            .then(|| items.last().map(|item| encode_number(key(item))))
            .flatten();
        Page { items, next_cursor }
    }

    /// A page of a bounded walk of the store ([`hcp_core::store::Scanned`]): the cursor is
    /// where the walk stopped.
    pub fn scanned(scanned: hcp_core::store::Scanned<T>) -> Page<T> {
        Page {
            items: scanned.items,
            next_cursor: scanned.resume.map(encode_number),
        }
    }

    pub fn map<U>(self, convert: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(convert).collect(),
            next_cursor: self.next_cursor,
        }
    }

    pub fn try_map<U, E>(self, convert: impl FnMut(T) -> Result<U, E>) -> Result<Page<U>, E> {
        Ok(Page {
            items: self
                .items
                .into_iter()
                .map(convert)
                .collect::<Result<_, _>>()?,
            next_cursor: self.next_cursor,
        })
    }
}

/// A position's bytes as a cursor.
pub fn encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|byte| [byte >> 4, byte & 0x0f])
        .map(|nibble| char::from(b'a' + nibble))
        .collect()
}

/// A number (big-endian) as a cursor.
pub fn encode_number(number: u64) -> String {
    encode(&number.to_be_bytes())
}

/// A cursor's bytes, or `None` when it is not one [`encode`] could have made.
pub fn decode(cursor: &str) -> Option<Vec<u8>> {
    if cursor.len() > MAX_CURSOR_CHARS || !cursor.len().is_multiple_of(2) {
        return None;
    }
    let nibbles = cursor
        .bytes()
        .map(|c| matches!(c, b'a'..=b'p').then(|| c - b'a'))
        .collect::<Option<Vec<u8>>>()?;
    Some(
        nibbles
            .chunks(2)
            .map(|pair| (pair[0] << 4) | pair[1])
            .collect(),
    )
}

/// The store's hex cursor (of an index key) as a client cursor; the same bytes.
pub fn from_store(hex: &str) -> String {
    hex.chars()
        .filter_map(|c| c.to_digit(16))
        .filter_map(|value| u8::try_from(value).ok())
        .map(|value| char::from(b'a' + value))
        .collect()
}

/// A client cursor as the store's hex cursor; `None` when malformed.
pub fn to_store(cursor: &str) -> Option<String> {
    decode(cursor).map(hex_of)
}

fn hex_of(bytes: Vec<u8>) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|byte| {
            [
                DIGITS[usize::from(byte >> 4)],
                DIGITS[usize::from(byte & 0x0f)],
            ]
        })
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(limit: Option<usize>, cursor: Option<&str>) -> PageQuery {
        PageQuery {
            limit,
            cursor: cursor.map(str::to_string),
        }
    }

    #[test]
    fn cursors_round_trip_and_never_look_like_numbers() {
        let hex = "00ff1a2b";
        let cursor = from_store(hex);
        assert_eq!(cursor, "aappbkcl");
        assert!(!cursor.chars().any(|c| c.is_ascii_digit()));
        assert_eq!(to_store(&cursor).as_deref(), Some(hex));
        assert_eq!(decode(&encode(&[0, 255, 7])), Some(vec![0, 255, 7]));
        assert_eq!(decode("abc"), None);
        assert_eq!(decode("az"), None);
        assert_eq!(decode("0123"), None);
    }

    #[test]
    fn pages_of_a_whole_list_cover_it_once() -> Result<(), ApiError> {
        let all: Vec<u32> = (0..7).collect();
        let first = Page::of(all.clone(), &query(Some(3), None))?;
        assert_eq!(first.items, [0, 1, 2]);
        let second = Page::of(all.clone(), &query(Some(3), first.next_cursor.as_deref()))?;
        assert_eq!(second.items, [3, 4, 5]);
        let last = Page::of(all.clone(), &query(Some(3), second.next_cursor.as_deref()))?;
        assert_eq!(last.items, [6]);
        assert_eq!(last.next_cursor, None);
        assert_eq!(Page::of(all, &query(None, None))?.items.len(), 7);
        Ok(())
    }

    #[test]
    fn limits_and_cursors_out_of_range_are_refused() {
        for bad in [
            query(Some(0), None),
            query(Some(501), None),
            query(None, Some("xyz1")),
        ] {
            assert!(matches!(
                Page::of(vec![1], &bad),
                Err(ApiError::BadRequest(_))
            ));
        }
        // A cursor of the wrong length for a numbered list.
        assert!(query(None, Some("ab")).position_number().is_err());
    }
}
