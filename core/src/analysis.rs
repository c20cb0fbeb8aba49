//! Attribution analysis of bad reviews (差评归因分析): where and why 差评 happen (by evaluation
//! indicator, service stage, item, department, window, staff, channel and time), the hot words
//! of their comments with their trend, and alerts when a unit's bad-review rate jumps against
//! its own baseline. Pure: callers pass ratings, comments and counts. Every bucket and every
//! word keeps the ids of the ratings behind it, so each number drills down to them.
//!
//! Data, not code, all compiled in from `core/data/analysis/`: the indicator catalogue
//! (`indicators.toml`, with its own `version`), the 政务 user dictionary (`userdict.txt`) and the
//! stop-word list (`stopwords.txt`), the two word lists versioned together by their content hash
//! ([`Segmenter::version`]).
//!
//! Shares: a bucket's share is the ratings in it ÷ all ratings analysed. A rating has one value
//! of each facet, so those shares add up to 1 (a missing value has its own bucket, key `""`),
//! except indicators: a 差评 may carry several indicator codes, so their shares may add up to
//! more than 1; a 差评 without any code is in the `""` bucket.
//!
//! Hot words: comments are cut by jieba (HMM on) with the user dictionary, after long digit runs
//! are masked; a word is a token of at least two letters or ideographs, not all digits and not a
//! stop word. A word's count is the number of comments using it (a comment that repeats a word
//! counts once; `occurrences` counts every use). Its trend compares the count with the previous
//! period of equal length: `new` when it was not used then, else `rising`, `steady` or
//! `falling`.
//!
//! The alert rule ([`check_jump`]): the recent window is the last `recent_days` days up to the
//! day asked about, the baseline the `baseline_weeks` weeks just before it; rates count valid
//! first ratings (an upheld appeal takes a rating out). A unit is flagged when all of:
//! 1. the baseline has at least `min_baseline_ratings` valid ratings (else: not enough data);
//! 2. the recent window has at least `min_bad` valid 差评;
//! 3. the recent rate is at least `min_ratio` times the baseline rate (any 差评 against a
//!    baseline of none counts as a jump);
//! 4. the recent rate exceeds the baseline rate by at least `min_increase`;
//! 5. the one-sided two-proportion z-test with pooled variance,
//!    `z = (p₁ − p₀) / √(p̄(1 − p̄)(1/n₁ + 1/n₀))`, `p̄ = (x₁ + x₀)/(n₁ + n₀)`, gives
//!    `z ≥ min_z` (2.33 by default: about one chance in a hundred that a steady unit is
//!    flagged in a given check, which matters when every window of a city is checked).
//!
//! Conditions 3–5 are decided on the rounded values the answer shows (rates to 6 places, the
//! ratio and z to 2), so a reader can redo the decision from the numbers on the page.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::OnceLock;

use chrono::{Datelike, Days, NaiveDate, Timelike};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::calendar::china_tz;
use crate::metrics::Ratio;
use crate::model::{Channel, Rating};
use crate::validate::mask_digit_runs;

const INDICATORS_TOML: &str = include_str!("../data/analysis/indicators.toml");
const USER_DICTIONARY: &str = include_str!("../data/analysis/userdict.txt");
const STOP_WORDS: &str = include_str!("../data/analysis/stopwords.txt");

/// The key of a bucket for ratings that give no value of the facet.
pub const NOT_GIVEN: &str = "";

/// Examples of comments shown with a hot word.
pub const EXAMPLES_PER_WORD: usize = 3;

/// Characters of a comment shown in an example; longer ones are cut with `…`.
pub const EXAMPLE_CHARS: usize = 120;

/// The analysis data is malformed; names the file and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnalysisError {
    #[error("indicator catalogue: {0}")]
    Catalogue(String),
    #[error("user dictionary line {line}: {message}")]
    UserDictionary { line: usize, message: String },
}

// ---------------------------------------------------------------------------------------------
// Indicator catalogue

/// One evaluation indicator (评价指标, `evalDetail`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Indicator {
    pub code: String,
    /// 服务态度, 等候时间 …
    pub name: String,
    /// The problem category the routing policy files it under (`attitude`, `waiting` …).
    #[serde(default)]
    pub category: String,
}

/// The versioned catalogue of indicator codes the analysis labels buckets with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IndicatorCatalogue {
    pub version: String,
    #[serde(rename = "indicator", default)]
    pub indicators: Vec<Indicator>,
}

impl IndicatorCatalogue {
    /// Parses a catalogue: a non-empty version, unique codes, every indicator named.
    pub fn parse(text: &str) -> Result<IndicatorCatalogue, AnalysisError> {
        let catalogue: IndicatorCatalogue =
            toml::from_str(text).map_err(|error| AnalysisError::Catalogue(error.to_string()))?;
        if catalogue.version.trim().is_empty() {
            return Err(AnalysisError::Catalogue("version is empty".into()));
        }
        let mut codes = BTreeSet::new();
        for indicator in &catalogue.indicators {
            if indicator.code.trim().is_empty() || indicator.name.trim().is_empty() {
                return Err(AnalysisError::Catalogue(format!(
                    "indicator {:?} needs a code and a name",
                    indicator.code
                )));
            }
            if !codes.insert(indicator.code.as_str()) {
                return Err(AnalysisError::Catalogue(format!(
                    "code {} is listed twice",
                    indicator.code
                )));
            }
        }
        Ok(catalogue)
    }

    /// The catalogue compiled in from `core/data/analysis/indicators.toml`, parsed once.
    pub fn builtin() -> Result<&'static IndicatorCatalogue, AnalysisError> {
        static BUILTIN: OnceLock<Result<IndicatorCatalogue, AnalysisError>> = OnceLock::new();
        BUILTIN
            .get_or_init(|| IndicatorCatalogue::parse(INDICATORS_TOML))
            .as_ref()
            .map_err(Clone::clone)
    }

    pub fn get(&self, code: &str) -> Option<&Indicator> {
        self.indicators
            .iter()
            .find(|indicator| indicator.code == code)
    }

    /// The indicator's name; a code the catalogue does not list is labelled as such.
    pub fn label(&self, code: &str) -> String {
        match self.get(code) {
            Some(indicator) => indicator.name.clone(),
            None => format!("未收录指标 {code}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Attribution breakdowns

/// A facet along which bad reviews are broken down.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Facet {
    /// Evaluation indicator codes (评价指标, `evalDetail`); a rating may carry several.
    Indicator,
    /// The service act rated (`serviceName`: 咨询, 申报, 补正, 缴费, 签收 …).
    Stage,
    /// Service item (`taskCode`).
    Item,
    Department,
    Window,
    Staff,
    Channel,
    /// Hour of day, China time, `00`..`23`.
    Hour,
    /// Day of week, China time, `1` (Monday) .. `7` (Sunday).
    Weekday,
    /// China-time date, `YYYY-MM-DD`.
    Day,
}

impl Facet {
    pub const ALL: [Facet; 10] = [
        Facet::Indicator,
        Facet::Stage,
        Facet::Item,
        Facet::Department,
        Facet::Window,
        Facet::Staff,
        Facet::Channel,
        Facet::Hour,
        Facet::Weekday,
        Facet::Day,
    ];

    pub fn label_zh(self) -> &'static str {
        match self {
            Facet::Indicator => "评价指标",
            Facet::Stage => "服务环节",
            Facet::Item => "事项",
            Facet::Department => "部门",
            Facet::Window => "窗口",
            Facet::Staff => "工作人员",
            Facet::Channel => "评价渠道",
            Facet::Hour => "时段",
            Facet::Weekday => "星期",
            Facet::Day => "日期",
        }
    }

    /// Time facets list their buckets in time order; the others by count.
    pub fn is_time(self) -> bool {
        matches!(self, Facet::Hour | Facet::Weekday | Facet::Day)
    }

    /// The (key, label) pairs of a rating along this facet. Ids of units, items and staff are
    /// their own labels here; the caller may put names in their place.
    fn values(self, rating: &Rating, catalogue: &IndicatorCatalogue) -> Vec<(String, String)> {
        let local = rating.rated_at.with_timezone(&china_tz());
        let one = |value: Option<&str>, missing: &str| {
            let value = value.map(str::trim).unwrap_or_default();
            if value.is_empty() {
                vec![(NOT_GIVEN.to_string(), missing.to_string())]
            } else {
                vec![(value.to_string(), value.to_string())]
            }
        };
        let attribution = &rating.attribution;
        match self {
            Facet::Indicator => {
                let codes: BTreeSet<&str> = rating
                    .indicators
                    .iter()
                    .map(|code| code.trim())
                    .filter(|code| !code.is_empty())
                    .collect();
                if codes.is_empty() {
                    return vec![(NOT_GIVEN.to_string(), "未选择指标".to_string())];
                }
                codes
                    .into_iter()
                    .map(|code| (code.to_string(), catalogue.label(code)))
                    .collect()
            }
            Facet::Stage => one(rating.service_name.as_deref(), "未注明环节"),
            Facet::Item => one(Some(&attribution.task_code), "未注明事项"),
            Facet::Department => one(Some(&attribution.department), "未注明部门"),
            Facet::Window => one(attribution.window.as_deref(), "无窗口（网上办理等）"),
            Facet::Staff => one(attribution.staff.as_deref(), "未注明工作人员"),
            Facet::Channel => vec![(
                channel_key(rating.channel),
                rating.channel.label_zh().to_string(),
            )],
            Facet::Hour => vec![(
                format!("{:02}", local.hour()),
                format!("{}时", local.hour()),
            )],
            Facet::Weekday => {
                let number = local.weekday().number_from_monday();
                let names = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];
                let label = names
                    .get(number.saturating_sub(1) as usize)
                    .copied()
                    .unwrap_or_default();
                vec![(number.to_string(), label.to_string())]
            }
            Facet::Day => {
                let day = local.date_naive().to_string();
                vec![(day.clone(), day)]
            }
        }
    }
}

/// The wire name of a channel (`hall_device`), as the ratings API filters by it.
pub fn channel_key(channel: Channel) -> String {
    serde_json::to_value(channel)
        .ok()
        .and_then(|value| value.as_str().map(String::from))
        .unwrap_or_default()
}

/// Bad reviews sharing one value of a facet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Bucket {
    /// The value (`510`, `申报`, a window id, `hall_device`, `09` …); `""` when not given.
    pub key: String,
    /// For people: the indicator's or channel's name, 9时, 周一 …; unit names where known.
    pub label: String,
    pub count: u64,
    /// `count` ÷ all bad reviews analysed.
    pub share: Ratio,
    /// The ratings in the bucket, ascending.
    pub rating_ids: Vec<u64>,
}

/// Bad reviews broken down along one facet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Breakdown {
    pub facet: Facet,
    /// 评价指标, 服务环节 …
    pub label: String,
    /// By count (most first, ties by key, the not-given bucket last); time facets in time
    /// order.
    pub buckets: Vec<Bucket>,
}

/// Bad reviews broken down along every facet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BadReviewAttribution {
    /// Bad reviews analysed: the denominator of every share.
    pub total: u64,
    /// Version of the indicator catalogue that labelled the indicators.
    pub catalogue_version: String,
    pub breakdowns: Vec<Breakdown>,
}

impl BadReviewAttribution {
    pub fn breakdown(&self, facet: Facet) -> Option<&Breakdown> {
        self.breakdowns
            .iter()
            .find(|breakdown| breakdown.facet == facet)
    }
}

/// Breaks the given ratings down along every facet. The caller chooses the ratings (for
/// attribution: the valid first-rating 差评 of a unit and period); a rating listed twice counts
/// once.
pub fn attribute(ratings: &[Rating], catalogue: &IndicatorCatalogue) -> BadReviewAttribution {
    let mut seen = BTreeSet::new();
    let ratings: Vec<&Rating> = ratings
        .iter()
        .filter(|rating| seen.insert(rating.id))
        .collect();
    let total = ratings.len() as u64;
    let breakdowns = Facet::ALL
        .iter()
        .map(|&facet| {
            let mut buckets: BTreeMap<String, Bucket> = BTreeMap::new();
            for rating in &ratings {
                for (key, label) in facet.values(rating, catalogue) {
                    let bucket = buckets.entry(key.clone()).or_insert_with(|| Bucket {
                        key,
                        label,
                        count: 0,
                        share: Ratio::new(0, 0),
                        rating_ids: Vec::new(),
                    });
                    bucket.count += 1;
                    bucket.rating_ids.push(rating.id);
                }
            }
            let mut buckets: Vec<Bucket> = buckets
                .into_values()
                .map(|mut bucket| {
                    bucket.rating_ids.sort_unstable();
                    bucket.share = Ratio::new(bucket.count, total);
                    bucket
                })
                .collect();
            if !facet.is_time() {
                buckets.sort_by(|a, b| {
                    (a.key.is_empty(), std::cmp::Reverse(a.count), &a.key).cmp(&(
                        b.key.is_empty(),
                        std::cmp::Reverse(b.count),
                        &b.key,
                    ))
                });
            }
            Breakdown {
                facet,
                label: facet.label_zh().to_string(),
                buckets,
            }
        })
        .collect();
    BadReviewAttribution {
        total,
        catalogue_version: catalogue.version.clone(),
        breakdowns,
    }
}

// ---------------------------------------------------------------------------------------------
// Hot words

/// Cuts comments into the words that can be hot: jieba with the 政务 user dictionary, minus
/// stop words, numbers, punctuation and single characters.
pub struct Segmenter {
    jieba: jieba_rs::Jieba,
    stop_words: HashSet<String>,
    version: String,
}

impl std::fmt::Debug for Segmenter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segmenter")
            .field("version", &self.version)
            .field("stop_words", &self.stop_words.len())
            .finish_non_exhaustive()
    }
}

impl Segmenter {
    /// A segmenter with jieba's dictionary plus `user_dictionary` (one `word [frequency] [tag]`
    /// a line, `#` comments) and `stop_words` (one a line, `#` comments).
    pub fn new(user_dictionary: &str, stop_words: &str) -> Result<Segmenter, AnalysisError> {
        let mut jieba = jieba_rs::Jieba::new();
        for (index, line) in user_dictionary.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fault = |message: String| AnalysisError::UserDictionary {
                line: index + 1,
                message,
            };
            let mut parts = line.split_whitespace();
            let Some(word) = parts.next() else { continue };
            let frequency = parts
                .next()
                .map(|text| {
                    text.parse::<usize>()
                        .map_err(|_| fault(format!("frequency {text:?} is not a whole number")))
                })
                .transpose()?;
            let tag = parts.next();
            if parts.next().is_some() {
                return Err(fault("expected `word [frequency] [tag]`".into()));
            }
            // Without a frequency jieba suggests one high enough to keep the word whole.
            jieba.add_word(word, frequency, tag);
        }
        let stop_words = stop_words
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(str::to_lowercase)
            .collect();
        let mut hash = Sha256::new();
        hash.update(user_dictionary.as_bytes());
        hash.update([0]);
        hash.update(stop_words_bytes(&stop_words));
        let version = hex::encode(hash.finalize())
            .get(..12)
            .unwrap_or_default()
            .to_string();
        Ok(Segmenter {
            jieba,
            stop_words,
            version,
        })
    }

    /// The segmenter of the compiled-in word lists, built once (loading jieba's dictionary
    /// takes a moment).
    pub fn builtin() -> Result<&'static Segmenter, AnalysisError> {
        static BUILTIN: OnceLock<Result<Segmenter, AnalysisError>> = OnceLock::new();
        BUILTIN
            .get_or_init(|| Segmenter::new(USER_DICTIONARY, STOP_WORDS))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Content hash of the user dictionary and stop words (12 hex digits).
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn is_stop_word(&self, word: &str) -> bool {
        self.stop_words.contains(&word.to_lowercase())
    }

    /// The candidate hot words of a comment, in order, repeats kept. Digit runs long enough to
    /// be a phone or ID number are masked first, so they never become words.
    pub fn words(&self, text: &str) -> Vec<String> {
        let masked = mask_digit_runs(text);
        self.jieba
            .cut(&masked, true)
            .into_iter()
            .map(str::trim)
            .filter(|word| {
                word.chars().count() >= 2
                    && word.chars().all(char::is_alphanumeric)
                    && word.chars().any(char::is_alphabetic)
            })
            .map(str::to_lowercase)
            .filter(|word| !self.stop_words.contains(word))
            .collect()
    }
}

/// The stop words in a stable order, for the version hash.
fn stop_words_bytes(stop_words: &HashSet<String>) -> Vec<u8> {
    let sorted: BTreeSet<&String> = stop_words.iter().collect();
    sorted
        .into_iter()
        .flat_map(|word| word.bytes().chain([b'\n']))
        .collect()
}

/// A comment of a rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Comment<'a> {
    pub rating_id: u64,
    pub text: &'a str,
}

/// How a word's use moved against the previous period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    /// Not used in the previous period.
    New,
    Rising,
    Steady,
    Falling,
}

impl Trend {
    fn of(count: u64, previous: u64) -> Trend {
        if previous == 0 {
            Trend::New
        } else if count > previous {
            Trend::Rising
        } else if count == previous {
            Trend::Steady
        } else {
            Trend::Falling
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Trend::New => "新出现",
            Trend::Rising => "上升",
            Trend::Steady => "持平",
            Trend::Falling => "下降",
        }
    }
}

/// A comment using a word, digit runs masked and cut to [`EXAMPLE_CHARS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Example {
    pub rating_id: u64,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HotWord {
    pub word: String,
    /// Comments of the period using the word.
    pub count: u64,
    /// Uses of the word in the period's comments.
    pub occurrences: u64,
    /// `count` ÷ comments of the period.
    pub share: Ratio,
    /// Comments of the previous period using the word.
    pub previous_count: u64,
    pub previous_share: Ratio,
    /// `count − previous_count`.
    pub change: i64,
    pub trend: Trend,
    /// 新出现, 上升, 持平, 下降
    pub trend_label: String,
    /// The ratings whose comments use the word, ascending.
    pub rating_ids: Vec<u64>,
    /// The same in the previous period.
    pub previous_rating_ids: Vec<u64>,
    /// The newest comments using the word, at most [`EXAMPLES_PER_WORD`].
    pub examples: Vec<Example>,
}

/// The hot words of a period's comments, with their trend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HotWords {
    /// Non-empty comments of the period: the denominator of `share`.
    pub comments: u64,
    pub previous_comments: u64,
    /// [`Segmenter::version`] of the word lists used.
    pub segmenter_version: String,
    /// Most used first (by comments, then uses, then the word), at most `top`.
    pub words: Vec<HotWord>,
}

#[derive(Default)]
struct Tally {
    ids: BTreeSet<u64>,
    occurrences: u64,
}

fn tally(segmenter: &Segmenter, comments: &[Comment<'_>]) -> (u64, BTreeMap<String, Tally>) {
    let mut words: BTreeMap<String, Tally> = BTreeMap::new();
    let mut counted = BTreeSet::new();
    for comment in comments {
        if comment.text.trim().is_empty() || !counted.insert(comment.rating_id) {
            continue;
        }
        for word in segmenter.words(comment.text) {
            let entry = words.entry(word).or_default();
            entry.ids.insert(comment.rating_id);
            entry.occurrences += 1;
        }
    }
    (counted.len() as u64, words)
}

/// A comment as it may be shown: digit runs masked, cut to [`EXAMPLE_CHARS`].
pub fn excerpt(text: &str) -> String {
    let masked = mask_digit_runs(text.trim());
    if masked.chars().count() <= EXAMPLE_CHARS {
        return masked;
    }
    let mut cut: String = masked.chars().take(EXAMPLE_CHARS).collect();
    cut.push('…');
    cut
}

/// The `top` most used words of `current`'s comments, each with its trend against `previous`
/// (the period of equal length before; see [`previous_period`]).
pub fn hot_words(
    segmenter: &Segmenter,
    current: &[Comment<'_>],
    previous: &[Comment<'_>],
    top: usize,
) -> HotWords {
    let (comments, now) = tally(segmenter, current);
    let (previous_comments, before) = tally(segmenter, previous);
    let mut words: Vec<HotWord> = now
        .into_iter()
        .map(|(word, tally)| {
            let previous_ids: Vec<u64> = before
                .get(&word)
                .map(|tally| tally.ids.iter().copied().collect())
                .unwrap_or_default();
            let count = tally.ids.len() as u64;
            let previous_count = previous_ids.len() as u64;
            let trend = Trend::of(count, previous_count);
            HotWord {
                word,
                count,
                occurrences: tally.occurrences,
                share: Ratio::new(count, comments),
                previous_count,
                previous_share: Ratio::new(previous_count, previous_comments),
                change: i64::try_from(count)
                    .unwrap_or(i64::MAX)
                    .saturating_sub(i64::try_from(previous_count).unwrap_or(i64::MAX)),
                trend,
                trend_label: trend.label_zh().to_string(),
                rating_ids: tally.ids.into_iter().collect(),
                previous_rating_ids: previous_ids,
                examples: Vec::new(),
            }
        })
        .collect();
    words.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(b.occurrences.cmp(&a.occurrences))
            .then_with(|| a.word.cmp(&b.word))
    });
    words.truncate(top);
    let texts: BTreeMap<u64, &str> = current
        .iter()
        .map(|comment| (comment.rating_id, comment.text))
        .collect();
    for word in &mut words {
        word.examples = word
            .rating_ids
            .iter()
            .rev()
            .take(EXAMPLES_PER_WORD)
            .filter_map(|id| {
                texts.get(id).map(|text| Example {
                    rating_id: *id,
                    text: excerpt(text),
                })
            })
            .collect();
    }
    HotWords {
        comments,
        previous_comments,
        segmenter_version: segmenter.version().to_string(),
        words,
    }
}

/// The period of equal length just before `from..=to`; `None` before chrono's first date.
pub fn previous_period(from: NaiveDate, to: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    let days = u64::try_from(to.signed_duration_since(from).num_days())
        .ok()?
        .checked_add(1)?;
    let previous_to = from.pred_opt()?;
    let previous_from = from.checked_sub_days(Days::new(days))?;
    Some((previous_from, previous_to))
}

// ---------------------------------------------------------------------------------------------
// Baseline alerts

/// The thresholds of the alert rule (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AlertRule {
    /// Days of the recent window, ending on the day asked about.
    pub recent_days: u32,
    /// Weeks of the baseline, just before the recent window.
    pub baseline_weeks: u32,
    /// Valid 差评 the recent window needs at least.
    pub min_bad: u64,
    /// Valid ratings the baseline needs at least.
    pub min_baseline_ratings: u64,
    /// Recent rate ÷ baseline rate at least this.
    #[schema(value_type = String)]
    pub min_ratio: Decimal,
    /// Recent rate − baseline rate at least this (0.01 = one percentage point).
    #[schema(value_type = String)]
    pub min_increase: Decimal,
    /// z of the two-proportion test at least this.
    #[schema(value_type = String)]
    pub min_z: Decimal,
}

impl Default for AlertRule {
    fn default() -> Self {
        AlertRule {
            recent_days: 7,
            baseline_weeks: 4,
            min_bad: 3,
            min_baseline_ratings: 20,
            min_ratio: Decimal::TWO,
            min_increase: Decimal::new(1, 2),
            min_z: Decimal::new(233, 2),
        }
    }
}

/// The two windows an alert compares (China dates, inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AlertWindows {
    pub recent_from: NaiveDate,
    pub recent_to: NaiveDate,
    pub baseline_from: NaiveDate,
    pub baseline_to: NaiveDate,
}

impl AlertRule {
    /// The recent window ending on `as_of` and the baseline just before it; `None` when the
    /// rule has an empty window or the dates leave chrono's range.
    pub fn windows(&self, as_of: NaiveDate) -> Option<AlertWindows> {
        if self.recent_days == 0 || self.baseline_weeks == 0 {
            return None;
        }
        let recent_from = as_of.checked_sub_days(Days::new(u64::from(self.recent_days) - 1))?;
        let baseline_to = recent_from.pred_opt()?;
        let baseline_from =
            baseline_to.checked_sub_days(Days::new(u64::from(self.baseline_weeks) * 7 - 1))?;
        Some(AlertWindows {
            recent_from,
            recent_to: as_of,
            baseline_from,
            baseline_to,
        })
    }
}

/// Valid 差评 among valid first ratings of a unit in one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct RateCounts {
    pub bad: u64,
    pub ratings: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    /// The rate jumped: every condition of the rule holds.
    Alert,
    /// Compared, and no jump.
    Normal,
    /// Too few valid ratings in the baseline to compare with.
    InsufficientBaseline,
    /// No valid rating in the recent window.
    NoRecentRatings,
}

/// The comparison of a unit's recent bad-review rate with its baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JumpCheck {
    /// Recent valid 差评 ÷ valid ratings.
    pub recent: Ratio,
    pub baseline: Ratio,
    /// Recent rate ÷ baseline rate, 2 places; absent when either rate is undefined or the
    /// baseline rate is 0.
    #[schema(value_type = Option<String>)]
    pub ratio: Option<Decimal>,
    /// Recent rate − baseline rate, 6 places.
    #[schema(value_type = Option<String>)]
    pub increase: Option<Decimal>,
    /// z of the two-proportion test, 2 places; absent when undefined (no 差评 at all, or only
    /// 差评, in both windows).
    #[schema(value_type = Option<String>)]
    pub z: Option<Decimal>,
    pub status: AlertStatus,
    /// For people: the numbers and which condition decided.
    pub explanation: String,
}

fn percent(rate: Decimal) -> String {
    format!(
        "{}%",
        (rate * Decimal::ONE_HUNDRED)
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
            .normalize()
    )
}

fn rounded(value: Decimal, places: u32) -> Decimal {
    value
        .round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero)
        .normalize()
}

/// The z statistic of the one-sided two-proportion test with pooled variance; `None` when the
/// pooled rate is 0 or 1 (no variance) or a window is empty.
pub fn two_proportion_z(recent: RateCounts, baseline: RateCounts) -> Option<f64> {
    if recent.ratings == 0 || baseline.ratings == 0 {
        return None;
    }
    // Counts of ratings stay far below 2^53, where u64 → f64 is exact.
    let (x1, n1) = (recent.bad as f64, recent.ratings as f64);
    let (x0, n0) = (baseline.bad as f64, baseline.ratings as f64);
    let pooled = (x1 + x0) / (n1 + n0);
    if pooled <= 0.0 || pooled >= 1.0 {
        return None;
    }
    let error = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n0)).sqrt();
    Some((x1 / n1 - x0 / n0) / error)
}

/// Whether a unit's recent bad-review rate jumped against its baseline, by the rule of the
/// module documentation.
pub fn check_jump(recent: RateCounts, baseline: RateCounts, rule: &AlertRule) -> JumpCheck {
    let recent_ratio = Ratio::new(recent.bad, recent.ratings);
    let baseline_ratio = Ratio::new(baseline.bad, baseline.ratings);
    let exact = |counts: RateCounts| {
        (counts.ratings > 0)
            .then(|| Decimal::from(counts.bad).checked_div(Decimal::from(counts.ratings)))
            .flatten()
    };
    let (p1, p0) = (exact(recent), exact(baseline));
    let ratio = match (p1, p0) {
        (Some(p1), Some(p0)) if !p0.is_zero() => p1.checked_div(p0).map(|r| rounded(r, 2)),
        _ => None,
    };
    let increase = match (p1, p0) {
        (Some(p1), Some(p0)) => Some(rounded(p1 - p0, 6)),
        _ => None,
    };
    let z = two_proportion_z(recent, baseline)
        .and_then(|z| Decimal::try_from(z).ok())
        .map(|z| rounded(z, 2));
    let numbers = format!(
        "近期差评率{}（{}/{}），基线差评率{}（{}/{}）",
        p1.map_or("—".to_string(), percent),
        recent.bad,
        recent.ratings,
        p0.map_or("—".to_string(), percent),
        baseline.bad,
        baseline.ratings,
    );
    let finish = |status: AlertStatus, explanation: String| JumpCheck {
        recent: recent_ratio.clone(),
        baseline: baseline_ratio.clone(),
        ratio,
        increase,
        z,
        status,
        explanation,
    };
    if recent.ratings == 0 {
        return finish(
            AlertStatus::NoRecentRatings,
            format!("{numbers}：近期没有有效评价"),
        );
    }
    if baseline.ratings < rule.min_baseline_ratings {
        return finish(
            AlertStatus::InsufficientBaseline,
            format!(
                "{numbers}：基线期有效评价少于{}条，无法比较",
                rule.min_baseline_ratings
            ),
        );
    }
    let mut unmet = Vec::new();
    if recent.bad < rule.min_bad {
        unmet.push(format!("近期差评少于{}条", rule.min_bad));
    }
    let relative = match (ratio, p0) {
        (Some(ratio), _) => ratio >= rule.min_ratio,
        // A baseline without 差评: any recent 差评 is a jump relative to it.
        (None, Some(p0)) if p0.is_zero() => recent.bad > 0,
        _ => false,
    };
    if !relative {
        unmet.push(format!("未达基线的{}倍", rule.min_ratio.normalize()));
    }
    if increase.is_none_or(|increase| increase < rule.min_increase) {
        unmet.push(format!("升幅不足{}", percent(rule.min_increase)));
    }
    match z {
        Some(z) if z >= rule.min_z => {}
        Some(z) => unmet.push(format!(
            "z={z}，未达{}，可能是偶然波动",
            rule.min_z.normalize()
        )),
        None => unmet.push("无法检验显著性".to_string()),
    }
    if unmet.is_empty() {
        let times = match ratio {
            Some(ratio) => format!("为基线的{ratio}倍"),
            None => "基线期无差评".to_string(),
        };
        let z = z.map(|z| z.to_string()).unwrap_or_default();
        finish(
            AlertStatus::Alert,
            format!(
                "{numbers}：{times}，z={z}（阈值{}），差评率异常升高",
                rule.min_z.normalize()
            ),
        )
    } else {
        finish(
            AlertStatus::Normal,
            format!("{numbers}：{}", unmet.join("；")),
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use chrono::{DateTime, TimeZone, Utc};

    use super::*;
    use crate::model::{Attribution, Level, StoredEvaluator};

    /// (word, count, uses, previous count, trend, rating ids, previous rating ids)
    type WordSummary<'a> = (&'a str, u64, u64, u64, Trend, &'a [u64], &'a [u64]);

    /// (key, label, count, share, rating ids)
    type BucketSummary = (String, String, u64, String, Vec<u64>);

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn beijing(day: &str, hour: u32) -> DateTime<Utc> {
        china_tz()
            .from_local_datetime(&date(day).and_hms_opt(hour, 30, 0).unwrap())
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    struct Spec {
        id: u64,
        at: DateTime<Utc>,
        window: Option<&'static str>,
        item: &'static str,
        stage: Option<&'static str>,
        channel: Channel,
        indicators: &'static [&'static str],
    }

    fn rating(spec: Spec) -> Rating {
        Rating {
            id: spec.id,
            source: "s".into(),
            event_id: format!("e{}", spec.id),
            project_no: format!("P{}", spec.id),
            service_number: 1,
            assess_number: 1,
            service_name: spec.stage.map(String::from),
            device: None,
            level: Level::Dissatisfied,
            channel: spec.channel,
            indicators: spec.indicators.iter().map(|c| c.to_string()).collect(),
            text: None,
            evaluator: StoredEvaluator::default(),
            attribution: Attribution {
                regions: vec!["410421".into(), "410400".into()],
                hall: spec.window.map(|_| "H".to_string()),
                window: spec.window.map(String::from),
                department: "D".into(),
                staff: spec.window.map(|w| format!("S-{w}")),
                task_code: spec.item.into(),
            },
            area_code: "410421".into(),
            rated_at: spec.at,
            received_at: spec.at,
        }
    }

    /// Five 差评: hand-counted below.
    fn five() -> Vec<Rating> {
        use Channel::*;
        let spec = |id, at, window, item, stage, channel, indicators| Spec {
            id,
            at,
            window,
            item,
            stage,
            channel,
            indicators,
        };
        vec![
            // Tuesday 09:30 Beijing = 01:30 UTC.
            rating(spec(
                11,
                beijing("2026-03-10", 9),
                Some("W1"),
                "T1",
                Some("申报"),
                HallDevice,
                &["510"],
            )),
            rating(spec(
                12,
                beijing("2026-03-10", 9),
                Some("W1"),
                "T1",
                Some("申报"),
                HallDevice,
                &["510", "501", "510"],
            )),
            rating(spec(
                13,
                beijing("2026-03-11", 15),
                Some("W2"),
                "T2",
                Some(" 补正 "),
                QrCode,
                &["502"],
            )),
            // Online: no window, no stage, no indicator; 23:30 Beijing on Sunday is Sunday.
            rating(spec(
                14,
                beijing("2026-03-15", 23),
                None,
                "T1",
                None,
                Mobile,
                &[],
            )),
            rating(spec(
                15,
                beijing("2026-03-11", 0),
                Some("W2"),
                "T1",
                Some("申报"),
                HallDevice,
                &["999"],
            )),
        ]
    }

    fn buckets(report: &BadReviewAttribution, facet: Facet) -> Vec<BucketSummary> {
        report
            .breakdown(facet)
            .unwrap()
            .buckets
            .iter()
            .map(|b| {
                (
                    b.key.clone(),
                    b.label.clone(),
                    b.count,
                    b.share.value.map(|v| v.to_string()).unwrap_or_default(),
                    b.rating_ids.clone(),
                )
            })
            .collect()
    }

    fn row(key: &str, label: &str, count: u64, share: &str, ids: &[u64]) -> BucketSummary {
        (key.into(), label.into(), count, share.into(), ids.to_vec())
    }

    #[test]
    fn the_builtin_catalogue_parses_and_labels_unlisted_codes() {
        let catalogue = IndicatorCatalogue::builtin().unwrap();
        assert!(!catalogue.version.is_empty());
        assert_eq!(catalogue.label("510"), "等候时间");
        assert_eq!(catalogue.label("501"), "服务态度");
        assert_eq!(catalogue.get("517").unwrap().category, "system");
        assert_eq!(catalogue.label("999"), "未收录指标 999");
    }

    #[test]
    fn a_catalogue_with_a_repeated_code_or_no_version_is_refused() {
        let twice = "version = \"1\"\n[[indicator]]\ncode = \"1\"\nname = \"a\"\n[[indicator]]\ncode = \"1\"\nname = \"b\"\n";
        assert_eq!(
            IndicatorCatalogue::parse(twice),
            Err(AnalysisError::Catalogue("code 1 is listed twice".into()))
        );
        assert!(IndicatorCatalogue::parse("version = \" \"\n").is_err());
        assert!(IndicatorCatalogue::parse("version = \"1\"\nextra = 2\n").is_err());
    }

    #[test]
    fn attribution_counts_shares_and_ids_by_hand() {
        let catalogue = IndicatorCatalogue::builtin().unwrap();
        let mut ratings = five();
        // A rating listed twice counts once.
        ratings.push(ratings[0].clone());
        let report = attribute(&ratings, catalogue);
        assert_eq!(report.total, 5);
        assert_eq!(report.catalogue_version, catalogue.version);
        // 510 on 11 and 12 (12 lists it twice: once), 501 on 12, 502 on 13, 999 on 15, none on
        // 14. Shares of indicators add up to more than 1.
        assert_eq!(
            buckets(&report, Facet::Indicator),
            vec![
                row("510", "等候时间", 2, "0.4", &[11, 12]),
                row("501", "服务态度", 1, "0.2", &[12]),
                row("502", "材料与一次性告知", 1, "0.2", &[13]),
                row("999", "未收录指标 999", 1, "0.2", &[15]),
                row("", "未选择指标", 1, "0.2", &[14]),
            ]
        );
        assert_eq!(
            buckets(&report, Facet::Stage),
            vec![
                row("申报", "申报", 3, "0.6", &[11, 12, 15]),
                row("补正", "补正", 1, "0.2", &[13]),
                row("", "未注明环节", 1, "0.2", &[14]),
            ]
        );
        assert_eq!(
            buckets(&report, Facet::Item),
            vec![
                row("T1", "T1", 4, "0.8", &[11, 12, 14, 15]),
                row("T2", "T2", 1, "0.2", &[13]),
            ]
        );
        assert_eq!(
            buckets(&report, Facet::Window),
            vec![
                row("W1", "W1", 2, "0.4", &[11, 12]),
                row("W2", "W2", 2, "0.4", &[13, 15]),
                row("", "无窗口（网上办理等）", 1, "0.2", &[14]),
            ]
        );
        assert_eq!(
            buckets(&report, Facet::Channel),
            vec![
                row("hall_device", "大厅评价器", 3, "0.6", &[11, 12, 15]),
                row("mobile", "移动端", 1, "0.2", &[14]),
                row("qr_code", "二维码", 1, "0.2", &[13]),
            ]
        );
        // China time: 00:30 on Wednesday the 11th is hour 00 of a Wednesday.
        assert_eq!(
            buckets(&report, Facet::Hour),
            vec![
                row("00", "0时", 1, "0.2", &[15]),
                row("09", "9时", 2, "0.4", &[11, 12]),
                row("15", "15时", 1, "0.2", &[13]),
                row("23", "23时", 1, "0.2", &[14]),
            ]
        );
        assert_eq!(
            buckets(&report, Facet::Weekday),
            vec![
                row("2", "周二", 2, "0.4", &[11, 12]),
                row("3", "周三", 2, "0.4", &[13, 15]),
                row("7", "周日", 1, "0.2", &[14]),
            ]
        );
        assert_eq!(
            buckets(&report, Facet::Day),
            vec![
                row("2026-03-10", "2026-03-10", 2, "0.4", &[11, 12]),
                row("2026-03-11", "2026-03-11", 2, "0.4", &[13, 15]),
                row("2026-03-15", "2026-03-15", 1, "0.2", &[14]),
            ]
        );
        // Single-valued facets add up to the total.
        for breakdown in &report.breakdowns {
            let sum: u64 = breakdown.buckets.iter().map(|b| b.count).sum();
            if breakdown.facet == Facet::Indicator {
                assert_eq!(sum, 6);
            } else {
                assert_eq!(sum, 5, "{:?}", breakdown.facet);
            }
        }
    }

    #[test]
    fn no_ratings_give_empty_breakdowns() {
        let report = attribute(&[], IndicatorCatalogue::builtin().unwrap());
        assert_eq!(report.total, 0);
        assert_eq!(report.breakdowns.len(), Facet::ALL.len());
        assert!(report.breakdowns.iter().all(|b| b.buckets.is_empty()));
    }

    #[test]
    fn the_segmenter_keeps_government_terms_whole_and_drops_stop_words() {
        let segmenter = Segmenter::builtin().unwrap();
        assert_eq!(segmenter.version().len(), 12);
        let words =
            segmenter.words("一次性告知不到位，来回补材料，叫号太慢！非常不满意。电话13812345678");
        assert!(words.contains(&"一次性告知".to_string()), "{words:?}");
        assert!(words.contains(&"叫号".to_string()), "{words:?}");
        // A negation stays with its word: 不到位 is a complaint, 到位 would say the opposite.
        assert!(words.contains(&"不到位".to_string()), "{words:?}");
        for dropped in [
            "到位",
            "非常",
            "不满意",
            "不",
            "，",
            "13812345678",
            "*******",
        ] {
            assert!(
                !words.contains(&dropped.to_string()),
                "{dropped} in {words:?}"
            );
        }
        assert!(words.iter().all(|w| w.chars().count() >= 2), "{words:?}");
        assert!(segmenter.is_stop_word("满意"));
        assert!(!segmenter.is_stop_word("窗口"));
    }

    #[test]
    fn a_user_dictionary_line_with_a_bad_frequency_is_refused() {
        assert_eq!(
            Segmenter::new("# terms\n叫号\n窗口 many\n", "").err(),
            Some(AnalysisError::UserDictionary {
                line: 3,
                message: "frequency \"many\" is not a whole number".into()
            })
        );
        let custom = Segmenter::new("好差评平台 100 n\n", "平台\n").unwrap();
        assert_eq!(custom.words("好差评平台上线"), vec!["好差评平台", "上线"]);
        assert_ne!(custom.version(), Segmenter::builtin().unwrap().version());
    }

    #[test]
    fn hot_words_count_comments_and_compare_with_the_previous_period() {
        let segmenter = Segmenter::new("叫号\n窗口\n", "非常\n").unwrap();
        let current = [
            Comment {
                rating_id: 5,
                text: "叫号慢，叫号系统卡",
            },
            Comment {
                rating_id: 6,
                text: "窗口太少，叫号慢",
            },
            Comment {
                rating_id: 7,
                text: "窗口人少，电话13912345678",
            },
            Comment {
                rating_id: 8,
                text: "   ",
            },
            Comment {
                rating_id: 9,
                text: "非常 系统",
            },
        ];
        let previous = [
            Comment {
                rating_id: 1,
                text: "窗口",
            },
            Comment {
                rating_id: 2,
                text: "窗口太少",
            },
            Comment {
                rating_id: 3,
                text: "系统",
            },
            Comment {
                rating_id: 4,
                text: "系统卡",
            },
        ];
        let result = hot_words(&segmenter, &current, &previous, 3);
        assert_eq!(result.comments, 4);
        assert_eq!(result.previous_comments, 4);
        let summary: Vec<WordSummary<'_>> = result
            .words
            .iter()
            .map(|w| {
                (
                    w.word.as_str(),
                    w.count,
                    w.occurrences,
                    w.previous_count,
                    w.trend,
                    w.rating_ids.as_slice(),
                    w.previous_rating_ids.as_slice(),
                )
            })
            .collect();
        // 叫号: comments 5 (twice) and 6, new; 窗口: 6 and 7 against 1 and 2, steady; 系统:
        // 5 and 9 against 3 and 4, steady; 窗口 outranks 系统 on the word itself (ties on
        // comments and uses).
        assert_eq!(
            summary,
            vec![
                ("叫号", 2, 3, 0, Trend::New, &[5u64, 6][..], &[][..]),
                ("窗口", 2, 2, 2, Trend::Steady, &[6, 7][..], &[1, 2][..]),
                ("系统", 2, 2, 2, Trend::Steady, &[5, 9][..], &[3, 4][..]),
            ]
        );
        let jiao = &result.words[0];
        assert_eq!(jiao.share, Ratio::new(2, 4));
        assert_eq!(jiao.previous_share, Ratio::new(0, 4));
        assert_eq!(jiao.change, 2);
        assert_eq!(jiao.trend_label, "新出现");
        let chuang = result.words.iter().find(|w| w.word == "窗口").unwrap();
        assert_eq!(
            (
                chuang.count,
                chuang.previous_count,
                chuang.trend,
                chuang.change
            ),
            (2, 2, Trend::Steady, 0)
        );
        assert_eq!(chuang.rating_ids, vec![6, 7]);
        assert_eq!(chuang.previous_rating_ids, vec![1, 2]);
        // Examples: newest first, digit runs masked.
        assert_eq!(
            chuang.examples,
            vec![
                Example {
                    rating_id: 7,
                    text: "窗口人少，电话***********".into()
                },
                Example {
                    rating_id: 6,
                    text: "窗口太少，叫号慢".into()
                },
            ]
        );
        assert!(result.words.iter().all(|w| w.word != "非常"));
        assert_eq!(result.words.len(), 3);
    }

    #[test]
    fn trends_by_hand() {
        assert_eq!(Trend::of(3, 0), Trend::New);
        assert_eq!(Trend::of(3, 2), Trend::Rising);
        assert_eq!(Trend::of(2, 2), Trend::Steady);
        assert_eq!(Trend::of(1, 2), Trend::Falling);
    }

    #[test]
    fn periods_and_windows_by_hand() {
        assert_eq!(
            previous_period(date("2026-03-09"), date("2026-03-22")),
            Some((date("2026-02-23"), date("2026-03-08")))
        );
        assert_eq!(
            previous_period(date("2026-03-01"), date("2026-03-01")),
            Some((date("2026-02-28"), date("2026-02-28")))
        );
        assert_eq!(
            AlertRule::default().windows(date("2026-03-22")),
            Some(AlertWindows {
                recent_from: date("2026-03-16"),
                recent_to: date("2026-03-22"),
                baseline_from: date("2026-02-16"),
                baseline_to: date("2026-03-15"),
            })
        );
        let empty = AlertRule {
            recent_days: 0,
            ..AlertRule::default()
        };
        assert_eq!(empty.windows(date("2026-03-22")), None);
    }

    fn counts(bad: u64, ratings: u64) -> RateCounts {
        RateCounts { bad, ratings }
    }

    #[test]
    fn a_significant_jump_is_flagged() {
        // p1 = 6/20 = 0.3, p0 = 2/40 = 0.05, ratio 6, increase 0.25; pooled 8/60;
        // z = 0.25 / √(8/60 · 52/60 · (1/20 + 1/40)) = 0.25 / 0.0930949 = 2.6854.
        let check = check_jump(counts(6, 20), counts(2, 40), &AlertRule::default());
        assert_eq!(check.status, AlertStatus::Alert, "{}", check.explanation);
        assert_eq!(check.ratio, Some(Decimal::new(6, 0)));
        assert_eq!(check.increase, Some(Decimal::new(25, 2)));
        assert_eq!(check.z, Some(Decimal::new(269, 2)));
        assert_eq!(check.recent, Ratio::new(6, 20));
        assert_eq!(
            check.explanation,
            "近期差评率30%（6/20），基线差评率5%（2/40）：为基线的6倍，z=2.69（阈值2.33），差评率异常升高"
        );
    }

    #[test]
    fn a_large_but_not_significant_jump_is_not_flagged() {
        // p1 = 7/40 = 0.175, p0 = 4/80 = 0.05: ratio 3.5, increase 0.125; pooled 11/120;
        // z = 0.125 / √(11/120 · 109/120 · (1/40 + 1/80)) = 0.125 / 0.0558793 = 2.2370.
        let check = check_jump(counts(7, 40), counts(4, 80), &AlertRule::default());
        assert_eq!(check.status, AlertStatus::Normal);
        assert_eq!(check.ratio, Some(Decimal::new(35, 1)));
        assert_eq!(check.z, Some(Decimal::new(224, 2)));
        assert!(
            check
                .explanation
                .ends_with("z=2.24，未达2.33，可能是偶然波动"),
            "{}",
            check.explanation
        );
    }

    #[test]
    fn a_steady_rate_and_too_few_bad_reviews_are_not_flagged() {
        // p1 = 1/20 = p0 = 2/40: ratio 1, increase 0, z 0.
        let check = check_jump(counts(1, 20), counts(2, 40), &AlertRule::default());
        assert_eq!(check.status, AlertStatus::Normal);
        assert_eq!(check.ratio, Some(Decimal::ONE));
        assert_eq!(check.z, Some(Decimal::ZERO));
        assert_eq!(
            check.explanation,
            "近期差评率5%（1/20），基线差评率5%（2/40）：近期差评少于3条；未达基线的2倍；升幅不足1%；z=0，未达2.33，可能是偶然波动"
        );
    }

    #[test]
    fn a_baseline_without_bad_reviews_counts_any_as_relative_jump() {
        // p0 = 0: no ratio; pooled 5/100; z = 0.25 / √(0.05 · 0.95 · (1/20 + 1/80))
        // = 0.25 / 0.0544862 = 4.5883.
        let check = check_jump(counts(5, 20), counts(0, 80), &AlertRule::default());
        assert_eq!(check.status, AlertStatus::Alert, "{}", check.explanation);
        assert_eq!(check.ratio, None);
        assert_eq!(check.z, Some(Decimal::new(459, 2)));
        assert!(check.explanation.contains("基线期无差评"));
        // And nothing at all is no jump, with no z.
        let quiet = check_jump(counts(0, 20), counts(0, 80), &AlertRule::default());
        assert_eq!(quiet.status, AlertStatus::Normal);
        assert_eq!(quiet.z, None);
    }

    #[test]
    fn too_little_data_is_said_so() {
        let thin = check_jump(counts(6, 20), counts(0, 19), &AlertRule::default());
        assert_eq!(thin.status, AlertStatus::InsufficientBaseline);
        assert!(thin.explanation.contains("基线期有效评价少于20条"));
        let none = check_jump(counts(0, 0), counts(2, 40), &AlertRule::default());
        assert_eq!(none.status, AlertStatus::NoRecentRatings);
        assert_eq!(none.recent.value, None);
    }

    #[test]
    fn thresholds_apply_to_the_shown_values() {
        // Values exactly at every threshold pass; a threshold one step above the shown z fails.
        let rule = AlertRule {
            min_z: Decimal::new(269, 2),
            min_ratio: Decimal::new(6, 0),
            min_increase: Decimal::new(25, 2),
            min_bad: 6,
            ..AlertRule::default()
        };
        assert_eq!(
            check_jump(counts(6, 20), counts(2, 40), &rule).status,
            AlertStatus::Alert
        );
        let stricter = AlertRule {
            min_z: Decimal::new(270, 2),
            ..rule
        };
        assert_eq!(
            check_jump(counts(6, 20), counts(2, 40), &stricter).status,
            AlertStatus::Normal
        );
    }

    #[test]
    fn excerpts_are_masked_and_cut() {
        assert_eq!(
            excerpt(" 身份证410421199001011234 "),
            "身份证******************"
        );
        let long = "慢".repeat(EXAMPLE_CHARS + 5);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), EXAMPLE_CHARS + 1);
        assert!(cut.ends_with('…'));
    }
}
