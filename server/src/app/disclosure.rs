//! Disclosure (政务公开): the masking every public free text passes, the names struck from it,
//! and the reviewers' moderation of which comments may be published at all. What the public may
//! see (units, periods, the minimum count) is stated with the public API in the transport
//! (`http::public`), which renders through these.

use hcp_core::auth::Principal;
use hcp_core::model::Rating;
use hcp_core::pii::PiiKind;
use hcp_core::store::{Command, LoopCommand};

use crate::app::{AppError, Platform};

/// A reviewer's decision whether the comment of a rating within their scope may be published
/// (`publish`) or stays internal, with the reason (`note`, required); its log sequence number.
/// Blocking.
pub fn moderate(
    platform: &Platform,
    principal: &Principal,
    rating_id: u64,
    publish: bool,
    note: String,
) -> Result<u64, AppError> {
    crate::app::ratings::load_visible(platform, principal, rating_id)?;
    if note.trim().is_empty() {
        return Err(AppError::invalid_field("note", "required"));
    }
    platform.record(Command::Loop(LoopCommand::Moderate {
        actor: principal.username.clone(),
        rating_id,
        publish,
        note,
    }))
}

/// Characters of a public comment or answer at most.
pub const PUBLIC_TEXT_CHARS: usize = 200;

/// What replaces a struck name, number or address: fixed, so that its length tells nothing.
const MASK: &str = "**";
const NUMBER_MASK: &str = "****";
/// Separator characters allowed between two groups of one number (138******34).
const MAX_SEPARATORS: usize = 6;
/// Titles after a surname: the character before them is masked (王先生 → *先生).
const TITLES: [&str; 20] = [
    "先生", "女士", "小姐", "同志", "师傅", "老师", "科长", "处长", "主任", "局长", "股长", "所长",
    "经理", "阿姨", "大姐", "大哥", "警官", "医生", "组长", "队长",
];
/// Two-character surnames: both characters are masked before a title.
const COMPOUND_SURNAMES: [&str; 19] = [
    "欧阳", "司马", "诸葛", "上官", "东方", "慕容", "令狐", "皇甫", "公孙", "长孙", "尉迟", "夏侯",
    "独孤", "端木", "南宫", "西门", "宇文", "司徒", "轩辕",
];

fn is_ideograph(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c) || ('\u{3400}'..='\u{4dbf}').contains(&c)
}

/// A digit as citizens type one: ASCII, full-width, or a Chinese numeral (一三八…, 幺, 〇).
fn is_digit_like(c: char) -> bool {
    c.is_ascii_digit() || ('０'..='９').contains(&c) || "〇零一二三四五六七八九幺".contains(c)
}

/// A character of a number-like token: digits and Latin letters (ID numbers end in X, plates
/// and accounts mix letters in).
fn is_token_char(c: char) -> bool {
    is_digit_like(c)
        || c.is_ascii_alphanumeric()
        || ('Ａ'..='Ｚ').contains(&c)
        || ('ａ'..='ｚ').contains(&c)
}

/// What people put between groups of a number: 138 1234 1234, 138-1234-1234, 138****1234.
fn is_separator(c: char) -> bool {
    c.is_whitespace() || "-_.*/\\,()+#:：，、。（）－—–·＊＋／．×".contains(c)
}

/// Masks every run of number-like tokens holding 5 digits or more, whatever separates them.
fn mask_number_runs(chars: &[char]) -> Vec<char> {
    let mut out = Vec::with_capacity(chars.len());
    let mut index = 0;
    while index < chars.len() {
        if !is_token_char(chars[index]) {
            out.push(chars[index]);
            index += 1;
            continue;
        }
        let start = index;
        let mut cursor = index;
        let mut end = index;
        let mut digits = 0;
        loop {
            let token_start = cursor;
            while cursor < chars.len() && is_token_char(chars[cursor]) {
                cursor += 1;
            }
            let token_digits = chars[token_start..cursor]
                .iter()
                .filter(|c| is_digit_like(**c))
                .count();
            if token_digits == 0 {
                if token_start == start {
                    // A word of letters only: not a number.
                    end = cursor;
                }
                break;
            }
            digits += token_digits;
            end = cursor;
            let mut next = cursor;
            while next < chars.len() && next - cursor < MAX_SEPARATORS && is_separator(chars[next])
            {
                next += 1;
            }
            if next == cursor || next >= chars.len() || !is_token_char(chars[next]) {
                break;
            }
            cursor = next;
        }
        if digits >= 5 {
            out.extend(NUMBER_MASK.chars());
        } else {
            out.extend_from_slice(&chars[start..end]);
        }
        index = end;
    }
    out
}

/// Masks e-mail addresses whole.
fn mask_emails(chars: &[char]) -> Vec<char> {
    let local = |c: char| c.is_ascii_alphanumeric() || "._%+-".contains(c);
    let domain = |c: char| c.is_ascii_alphanumeric() || ".-".contains(c);
    let mut out: Vec<char> = Vec::with_capacity(chars.len());
    let mut index = 0;
    while index < chars.len() {
        if chars[index] == '@' {
            let mut left = out.len();
            while left > 0 && local(out[left - 1]) {
                left -= 1;
            }
            let mut right = index + 1;
            while right < chars.len() && domain(chars[right]) {
                right += 1;
            }
            if left < out.len() && chars[index + 1..right].contains(&'.') {
                out.truncate(left);
                out.extend(NUMBER_MASK.chars());
                index = right;
                continue;
            }
        }
        out.push(chars[index]);
        index += 1;
    }
    out
}

/// Masks the surname before a title (王先生 → *先生, 欧阳女士 → **女士), the name after 姓名
/// and the surname after 我姓/您姓/他姓/她姓 (not 百姓).
fn mask_name_patterns(chars: &[char]) -> Vec<char> {
    let mut out = chars.to_vec();
    let text: String = chars.iter().collect();
    for title in TITLES {
        for (byte, _) in text.match_indices(title) {
            let at = text[..byte].chars().count();
            if at == 0 || !is_ideograph(out[at - 1]) {
                continue;
            }
            let two: String = out[at.saturating_sub(2)..at].iter().collect();
            let surname = if at >= 2 && COMPOUND_SURNAMES.contains(&two.as_str()) {
                2
            } else {
                1
            };
            for c in &mut out[at - surname..at] {
                *c = '*';
            }
        }
    }
    let mut index = 0;
    while index < out.len() {
        if out[index] == '姓' {
            let mut next = index + 1;
            let (skip_name, most) = if out.get(next) == Some(&'名') {
                next += 1;
                while next < out.len()
                    && (out[next].is_whitespace() || "：:为是".contains(out[next]))
                {
                    next += 1;
                }
                (true, 4)
            } else if index == 0 || "我您你他她".contains(out[index - 1]) {
                (false, 1)
            } else {
                (false, 0)
            };
            let mut masked = 0;
            while masked < most && next < out.len() && is_ideograph(out[next]) {
                out[next] = '*';
                next += 1;
                masked += 1;
            }
            index = if skip_name { next } else { index + 1 };
        } else {
            index += 1;
        }
    }
    out
}

/// Public text, conservatively masked: every `strike` term (the evaluator's own name, phone and
/// ID number, staff and user names) is replaced, then e-mail addresses, names before a title or
/// after 姓名/姓, and every run of number-like tokens with 5 or more digits (phones and ID numbers
/// whatever their separators, full-width or Chinese-numeral digits, plates, accounts, long dates)
/// — false positives are the price of never leaking a number. The result is cut to
/// [`PUBLIC_TEXT_CHARS`].
pub fn mask_public_text(text: &str, strike: &[String]) -> String {
    let chars: Vec<char> = mask_text(text, strike).chars().collect();
    if chars.len() <= PUBLIC_TEXT_CHARS {
        return chars.into_iter().collect();
    }
    let mut cut: String = chars[..PUBLIC_TEXT_CHARS].iter().collect();
    cut.push('…');
    cut
}

/// Free text masked as [`mask_public_text`] masks it, at its full length: for readers inside
/// the platform or beyond it who must not learn who wrote it or who is named in it (window
/// staff, the citizen's tracking page, the provincial uplink without personal data).
pub fn mask_text(text: &str, strike: &[String]) -> String {
    let mut terms: Vec<&str> = strike
        .iter()
        .map(|term| term.trim())
        .filter(|term| term.chars().count() >= 2)
        .collect();
    terms.sort_by_key(|term| std::cmp::Reverse(term.len()));
    let mut struck = text.trim().to_string();
    for term in terms {
        if struck.contains(term) {
            struck = struck.replace(term, MASK);
        }
    }
    let chars: Vec<char> = struck
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    mask_number_runs(&mask_name_patterns(&mask_emails(&chars)))
        .into_iter()
        .collect()
}

/// What stands for a comment whose evaluator's sealed data cannot be opened to strike it.
pub const WITHHELD_TEXT: &str = "（内容含无法核验的个人信息，已隐去）";

/// Masks the free text of ratings and orders with the names of the platform's people struck
/// (made once per request or batch: [`known_names`] reads every staff record and user).
pub struct Masker {
    names: Vec<String>,
}

impl Masker {
    /// Blocking.
    pub fn new(platform: &Platform) -> Result<Masker, AppError> {
        Ok(Masker {
            names: known_names(platform)?,
        })
    }

    /// The masking for window staff, who are the ones rated and must not learn who rated
    /// them; `None` for every other reader. Blocking.
    pub fn for_reader(
        platform: &Platform,
        principal: &Principal,
    ) -> Result<Option<Masker>, AppError> {
        if principal.role == hcp_core::auth::Role::WindowStaff {
            Masker::new(platform).map(Some)
        } else {
            Ok(None)
        }
    }

    /// `text` with the known names, and `extra` terms, struck.
    pub fn text(&self, text: &str, extra: &[String]) -> String {
        let strike: Vec<String> = self.names.iter().chain(extra).cloned().collect();
        mask_text(text, &strike)
    }

    /// What the citizen wrote on an order, with their own name, phone and ID number (of its
    /// rating, or the submitter's contact) struck too; `None` when there is none or it was
    /// erased.
    pub fn order_text(
        &self,
        platform: &Platform,
        order: &hcp_core::workflow::Order,
    ) -> Option<String> {
        let mut terms = Vec::new();
        if let Some(contact) = &order.contact {
            match platform.store.pii().open_field(PiiKind::Phone, contact) {
                Ok(phone) => terms.push(phone),
                Err(_) => return Some(WITHHELD_TEXT.to_string()),
            }
        }
        if let Some(id) = order.rating_id {
            let rating = platform.store.rating(id).ok().flatten();
            match rating
                .as_ref()
                .map(|rating| evaluator_terms(platform, rating))
            {
                Some(Some(evaluator)) => terms.extend(evaluator),
                Some(None) | None => return Some(WITHHELD_TEXT.to_string()),
            }
        }
        match order.text(platform.store.pii()) {
            Ok(Some(text)) => Some(self.text(&text, &terms)),
            Ok(None) => None,
            Err(_) => Some(WITHHELD_TEXT.to_string()),
        }
    }

    /// A rating's comment with its evaluator's own name, phone and ID number struck too;
    /// `None` when it has none or it was erased.
    pub fn rating_text(&self, platform: &Platform, rating: &Rating) -> Option<String> {
        let text = match crate::app::ratings::comment(platform, rating) {
            Ok(text) => text?,
            Err(_) => return Some(WITHHELD_TEXT.to_string()),
        };
        Some(match evaluator_terms(platform, rating) {
            Some(terms) => self.text(&text, &terms),
            None => WITHHELD_TEXT.to_string(),
        })
    }
}

/// Names of people the platform knows besides evaluators: staff (full names and, for names of
/// three characters or more, the given name) and users' display names that are not plain ASCII
/// (those are account names). Blocking.
pub fn known_names(platform: &Platform) -> Result<Vec<String>, AppError> {
    let mut names = Vec::new();
    for staff in platform.store.staff_list()? {
        let name = staff.name.trim().to_string();
        if name.chars().count() >= 3 {
            names.push(name.chars().skip(1).collect());
        }
        names.push(name);
    }
    for user in platform.store.users()? {
        if !user.display_name.is_ascii() {
            names.push(user.display_name.trim().to_string());
        }
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// The evaluator's clear name, phone and ID number, to strike from their comment; `None` when
/// a sealed field cannot be opened (the comment is then withheld). Never returned to anyone.
pub fn evaluator_terms(platform: &Platform, rating: &Rating) -> Option<Vec<String>> {
    let pii = platform.store.pii();
    let evaluator = &rating.evaluator;
    let mut terms = Vec::new();
    for (kind, field) in [
        (PiiKind::Name, &evaluator.name),
        (PiiKind::Phone, &evaluator.phone),
        (PiiKind::IdNumber, &evaluator.id_number),
    ] {
        if let Some(field) = field {
            terms.push(pii.open_field(kind, field).ok()?);
        }
    }
    Some(terms)
}

// ---------------------------------------------------------------------------------------------
// The cache of public answers

/// How long an answer of the public disclosure may be served again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// About the latest ended periods (whose figures still settle as late ratings arrive and
    /// orders close), or depending on today (the default period, the latest ranking, the
    /// directory of units): `[limits] public_cache_seconds`.
    Recent,
    /// About a period ended long ago: `[limits] public_cache_ended_seconds`.
    Ended,
}

/// Days after its end during which a period's figures count as still settling.
const SETTLING_DAYS: u64 = 45;

impl Freshness {
    /// The freshness of an answer about the period ending on `to`, as of `today`.
    pub fn of_period(to: chrono::NaiveDate, today: chrono::NaiveDate) -> Freshness {
        match today.checked_sub_days(chrono::Days::new(SETTLING_DAYS)) {
            Some(settled) if to < settled => Freshness::Ended,
            _ => Freshness::Recent,
        }
    }
}

/// A public answer as served: its body, content type and entity tag.
#[derive(Debug, Clone)]
pub struct Answer {
    pub body: std::sync::Arc<str>,
    pub content_type: &'static str,
    pub etag: String,
}

#[derive(Debug)]
struct Entry {
    answer: Answer,
    expires: std::time::Instant,
}

/// The answers of the public disclosure (API and pages), kept in memory by what was asked
/// (route, parsed query, and today's date, since defaults such as the period depend on it), so
/// that a flood of anonymous reads is served from memory instead of driving the store. Bounded
/// in entries and bytes; an entry lives as long as its [`Freshness`] allows, counted in real
/// time (a simulation's manual clock neither freezes nor expires it). Nothing in a public
/// answer depends on who asks, so one copy serves everyone. Errors are never kept.
#[derive(Debug)]
pub struct AnswerCache {
    max_entries: usize,
    recent: std::time::Duration,
    ended: std::time::Duration,
    entries: std::sync::Mutex<(std::collections::HashMap<String, Entry>, usize)>,
    /// Answers served from the cache.
    pub hits: std::sync::atomic::AtomicU64,
    /// Answers computed (not in the cache, or expired).
    pub computed: std::sync::atomic::AtomicU64,
    /// The key ring's destructions the answers kept were computed after (see
    /// [`AnswerCache::sync`]).
    generation: std::sync::atomic::AtomicU64,
}

/// Bytes of answers the cache holds at most.
pub const CACHE_BYTES: usize = 64 * 1024 * 1024;

impl AnswerCache {
    pub fn new(config: &crate::app::config::LimitsConfig) -> AnswerCache {
        AnswerCache {
            max_entries: config.public_cache_entries,
            recent: std::time::Duration::from_secs(config.public_cache_seconds),
            ended: std::time::Duration::from_secs(config.public_cache_ended_seconds),
            entries: std::sync::Mutex::default(),
            hits: std::sync::atomic::AtomicU64::new(0),
            computed: std::sync::atomic::AtomicU64::new(0),
            generation: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Drops every answer kept when keys were destroyed since (`destructions`, the key ring's
    /// count: an erased comment may be in them).
    pub fn sync(&self, destructions: u64) {
        use std::sync::atomic::Ordering;
        if self.generation.load(Ordering::SeqCst) != destructions {
            let mut guard = self.entries();
            guard.0.clear();
            guard.1 = 0;
            self.generation.store(destructions, Ordering::SeqCst);
        }
    }

    fn entries(
        &self,
    ) -> std::sync::MutexGuard<'_, (std::collections::HashMap<String, Entry>, usize)> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The answer kept for `key`, if it has not expired.
    pub fn get(&self, key: &str) -> Option<Answer> {
        self.get_at(key, std::time::Instant::now())
    }

    fn get_at(&self, key: &str, now: std::time::Instant) -> Option<Answer> {
        if self.max_entries == 0 {
            return None;
        }
        let entries = self.entries();
        let answer = entries
            .0
            .get(key)
            .filter(|entry| entry.expires > now)
            .map(|entry| entry.answer.clone());
        if answer.is_some() {
            self.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        answer
    }

    /// Counts a computed answer and keeps it for `key` as long as `freshness` allows, unless
    /// keys were destroyed since `destructions` (the count given to [`AnswerCache::sync`]
    /// before computing it).
    pub fn put(&self, key: String, answer: Answer, freshness: Freshness, destructions: u64) {
        self.put_at(
            key,
            answer,
            freshness,
            std::time::Instant::now(),
            destructions,
        );
    }

    fn put_at(
        &self,
        key: String,
        answer: Answer,
        freshness: Freshness,
        now: std::time::Instant,
        destructions: u64,
    ) {
        self.computed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let ttl = match freshness {
            Freshness::Recent => self.recent,
            Freshness::Ended => self.ended,
        };
        let size = answer.body.len() + key.len();
        if self.max_entries == 0 || ttl.is_zero() || size > CACHE_BYTES / 16 {
            return;
        }
        let mut guard = self.entries();
        // Compared under the lock `sync` changes it under: an answer computed before a
        // destruction is either dropped here or cleared by the next `sync`.
        if self.generation.load(std::sync::atomic::Ordering::SeqCst) != destructions {
            return;
        }
        let (entries, bytes) = &mut *guard;
        if let Some(old) = entries.remove(&key) {
            *bytes -= old.answer.body.len() + key.len();
        }
        if entries.len() >= self.max_entries || *bytes + size > CACHE_BYTES {
            entries.retain(|_, entry| entry.expires > now);
            // Still full: the tenth that expires soonest goes.
            if entries.len() >= self.max_entries || *bytes + size > CACHE_BYTES {
                let mut expiries: Vec<std::time::Instant> =
                    entries.values().map(|entry| entry.expires).collect();
                expiries.sort_unstable();
                if let Some(cut) = expiries.get(expiries.len() / 10) {
                    let cut = *cut;
                    entries.retain(|_, entry| entry.expires > cut);
                }
            }
            *bytes = entries
                .iter()
                .map(|(key, entry)| key.len() + entry.answer.body.len())
                .sum();
        }
        entries.insert(
            key,
            Entry {
                answer,
                expires: now + ttl,
            },
        );
        *bytes += size;
    }
}

#[cfg(test)]
mod tests {

    fn answer(body: &str) -> Answer {
        Answer {
            body: body.into(),
            content_type: "application/json",
            etag: String::new(),
        }
    }

    fn cache(entries: usize) -> AnswerCache {
        AnswerCache::new(&crate::app::config::LimitsConfig {
            public_cache_entries: entries,
            public_cache_seconds: 60,
            public_cache_ended_seconds: 3600,
            ..crate::app::config::LimitsConfig::default()
        })
    }

    #[test]
    fn answers_are_kept_as_long_as_their_period_allows_and_no_more() {
        use std::sync::atomic::Ordering;
        use std::time::{Duration, Instant};
        let cache = cache(100);
        let now = Instant::now();
        cache.put_at("recent".into(), answer("a"), Freshness::Recent, now, 0);
        cache.put_at("ended".into(), answer("b"), Freshness::Ended, now, 0);
        assert!(
            cache
                .get_at("recent", now + Duration::from_secs(59))
                .is_some()
        );
        assert!(
            cache
                .get_at("recent", now + Duration::from_secs(61))
                .is_none()
        );
        assert!(
            cache
                .get_at("ended", now + Duration::from_secs(3599))
                .is_some()
        );
        assert!(cache.get_at("other", now).is_none());
        assert_eq!(cache.hits.load(Ordering::Relaxed), 2);
        assert_eq!(cache.computed.load(Ordering::Relaxed), 2);
        let day = |text: &str| chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
        if let (Some(to), Some(today)) = (day("2026-10-31"), day("2026-12-01")) {
            assert_eq!(Freshness::of_period(to, today), Freshness::Recent);
        }
        if let (Some(to), Some(today)) = (day("2026-09-30"), day("2026-12-01")) {
            assert_eq!(Freshness::of_period(to, today), Freshness::Ended);
        }
    }

    #[test]
    fn an_erasure_empties_the_cache_and_keeps_out_what_was_computed_before() {
        let cache = cache(10);
        let now = std::time::Instant::now();
        cache.sync(0);
        cache.put_at("a".into(), answer("a"), Freshness::Ended, now, 0);
        assert!(cache.get_at("a", now).is_some());
        // Keys destroyed: the next request drops every answer kept ...
        cache.sync(1);
        assert!(cache.get_at("a", now).is_none());
        // ... and an answer computed before it, finished after, is not kept.
        cache.put_at("b".into(), answer("b"), Freshness::Ended, now, 0);
        assert!(cache.get_at("b", now).is_none());
        cache.put_at("c".into(), answer("c"), Freshness::Ended, now, 1);
        assert!(cache.get_at("c", now).is_some());
    }

    #[test]
    fn the_cache_stays_within_its_entries_and_can_be_turned_off() {
        let cache = cache(10);
        let now = std::time::Instant::now();
        for n in 0..25 {
            cache.put_at(
                format!("k{n}"),
                answer("x"),
                Freshness::Recent,
                now + std::time::Duration::from_millis(n),
                0,
            );
        }
        assert!(cache.entries().0.len() <= 10);
        assert!(cache.get_at("k24", now).is_some(), "the newest stays");
        let off = self::cache(0);
        off.put_at("k".into(), answer("x"), Freshness::Ended, now, 0);
        assert!(off.get_at("k", now).is_none());
    }
    use super::*;

    fn check(input: &str, strike: &[&str], expected: &str) {
        let strike: Vec<String> = strike.iter().map(|term| term.to_string()).collect();
        assert_eq!(mask_public_text(input, &strike), expected, "{input}");
    }

    /// Whether text holds 5 digit-like characters with at most separators between them.
    fn holds_number(text: &str) -> bool {
        let mut digits = 0;
        for c in text.chars() {
            if is_digit_like(c) {
                digits += 1;
                if digits >= 5 {
                    return true;
                }
            } else if !is_separator(c) && !c.is_ascii_alphabetic() {
                digits = 0;
            }
        }
        false
    }

    #[test]
    fn phones_and_id_numbers_in_any_spelling() {
        check("电话13812341234", &[], "电话****");
        check("电话 138 1234 1234 谢谢", &[], "电话 **** 谢谢");
        check("电话138-1234-1234。", &[], "电话****。");
        check("打138****1234找我", &[], "打****找我");
        check("身份证41040219900101123X办好了", &[], "身份证****办好了");
        check("身份证41040219900101123x。", &[], "身份证****。");
        check("老证410402900101123", &[], "老证****");
        check("全角１３８１２３４１２３４", &[], "全角****");
        check("幺三八一二三四一二三四", &[], "****");
        check("邮箱 zhang.san@example.com 谢谢", &[], "邮箱 **** 谢谢");
        check("车牌豫D12345", &[], "车牌豫****");
        check("电话138，1234，1234", &[], "电话****");
    }

    #[test]
    fn short_numbers_and_plain_words_stay() {
        check("3号窗口等了2小时", &[], "3号窗口等了2小时");
        check("排队1234人", &[], "排队1234人");
        check("第一次来，办了三四次", &[], "第一次来，办了三四次");
        check("APP 很好用 ok", &[], "APP 很好用 ok");
        // Long dates look like numbers: masked, the price of never leaking one.
        check("2026-11-02来办", &[], "****来办");
    }

    #[test]
    fn names_are_struck() {
        check(
            "窗口王晓梅态度差，我是李建国",
            &["王晓梅", "李建国"],
            "窗口**态度差，我是**",
        );
        check("晓梅帮了大忙", &["王晓梅", "晓梅"], "**帮了大忙");
        check("张先生和欧阳女士都很耐心", &[], "*先生和**女士都很耐心");
        check("姓名：赵丽华，感谢", &[], "姓名：***，感谢");
        check("我姓李，是来办证的", &[], "我姓*，是来办证的");
        // Terms of one character would strike words.
        check("王很好", &["王"], "王很好");
        check("老百姓很满意", &[], "老百姓很满意");
        // The evaluator's own values, struck before anything else.
        check("我的号码是13987654321", &["13987654321"], "我的号码是**");
    }

    #[test]
    fn long_text_is_cut_after_masking() {
        let long = format!("{}13812341234", "好".repeat(PUBLIC_TEXT_CHARS));
        let masked = mask_public_text(&long, &[]);
        assert!(masked.ends_with('…'), "{masked}");
        assert_eq!(masked.chars().count(), PUBLIC_TEXT_CHARS + 1);
        assert!(!masked.contains("138"), "{masked}");
    }

    #[test]
    fn no_run_of_five_digits_ever_survives() {
        // Every number from 5 to 19 digits, with every separator between every digit pair.
        let separators = [
            "", " ", "-", "*", ".", "，", "、", "  ", "－", "x", "( ", "#",
        ];
        for length in 5..20 {
            for separator in separators {
                let digits: Vec<String> = (0..length)
                    .map(|i| ((i * 7 + 3) % 10).to_string())
                    .collect();
                let text = format!("号码{}结束", digits.join(separator));
                let masked = mask_public_text(&text, &[]);
                assert!(!holds_number(&masked), "{text} → {masked}");
                assert!(
                    masked.starts_with("号码") && masked.ends_with("结束"),
                    "{masked}"
                );
            }
        }
    }
}
