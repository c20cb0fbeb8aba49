//! The domain model of 好差评: the org tree, service items, cases and their service acts, and
//! ratings. Code tables seen in the wild (two opposite level orders, two `pf` variants) are
//! mapped only at the edges, in [`codes`]; everything inside the engine uses the enums.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The five rating levels. 不满意 and 非常不满意 are 差评.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// 非常满意
    VerySatisfied,
    /// 满意
    Satisfied,
    /// 基本满意
    BasicallySatisfied,
    /// 不满意
    Dissatisfied,
    /// 非常不满意
    VeryDissatisfied,
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::VerySatisfied,
        Level::Satisfied,
        Level::BasicallySatisfied,
        Level::Dissatisfied,
        Level::VeryDissatisfied,
    ];

    /// A 差评 (bad review): 不满意 or 非常不满意.
    pub fn is_bad(self) -> bool {
        matches!(self, Level::Dissatisfied | Level::VeryDissatisfied)
    }

    /// Dense index 0..5 used in storage keys; never exposed as a code.
    pub fn index(self) -> u8 {
        match self {
            Level::VerySatisfied => 0,
            Level::Satisfied => 1,
            Level::BasicallySatisfied => 2,
            Level::Dissatisfied => 3,
            Level::VeryDissatisfied => 4,
        }
    }

    pub fn from_index(index: u8) -> Option<Level> {
        Level::ALL.get(usize::from(index)).copied()
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Level::VerySatisfied => "非常满意",
            Level::Satisfied => "满意",
            Level::BasicallySatisfied => "基本满意",
            Level::Dissatisfied => "不满意",
            Level::VeryDissatisfied => "非常不满意",
        }
    }
}

/// The channel (`pf`) a rating came through.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// PC / 政务服务网
    Pc,
    /// 移动端 (app, mini program)
    Mobile,
    /// 二维码 (window or static QR code)
    QrCode,
    /// 大厅评价器 (hall rating device / tablet)
    HallDevice,
    /// 大厅其他终端 (self-service terminal)
    HallTerminal,
    /// 电话 (phone call-back or 12345)
    Phone,
    /// 短信
    Sms,
    /// 系统默认评价: the default rating given when nobody rated in time
    SystemDefault,
}

impl Channel {
    pub const ALL: [Channel; 8] = [
        Channel::Pc,
        Channel::Mobile,
        Channel::QrCode,
        Channel::HallDevice,
        Channel::HallTerminal,
        Channel::Phone,
        Channel::Sms,
        Channel::SystemDefault,
    ];

    pub fn index(self) -> u8 {
        match self {
            Channel::Pc => 0,
            Channel::Mobile => 1,
            Channel::QrCode => 2,
            Channel::HallDevice => 3,
            Channel::HallTerminal => 4,
            Channel::Phone => 5,
            Channel::Sms => 6,
            Channel::SystemDefault => 7,
        }
    }

    pub fn from_index(index: u8) -> Option<Channel> {
        Channel::ALL.get(usize::from(index)).copied()
    }

    /// Default ratings are not the citizen's own: 主动评价率 excludes them.
    pub fn is_default(self) -> bool {
        self == Channel::SystemDefault
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Channel::Pc => "PC端",
            Channel::Mobile => "移动端",
            Channel::QrCode => "二维码",
            Channel::HallDevice => "大厅评价器",
            Channel::HallTerminal => "大厅其他终端",
            Channel::Phone => "电话",
            Channel::Sms => "短信",
            Channel::SystemDefault => "系统默认",
        }
    }
}

/// Applicant type (`userProp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum ApplicantType {
    /// 自然人
    #[default]
    NaturalPerson,
    /// 企业法人
    EnterpriseLegalPerson,
    /// 事业法人
    InstitutionLegalPerson,
    /// 社会组织法人
    SocialOrganisationLegalPerson,
    /// 非法人企业
    NonLegalPersonEnterprise,
    /// 行政机关
    AdministrativeOrgan,
    /// 其他组织
    OtherOrganisation,
}

/// Case status (`proStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// 待受理
    Submitted,
    /// 已受理
    Accepted,
    /// 已办结
    Completed,
}

/// Kinds of node in the org tree. Regions carry their statistical division code (6 digits for
/// 市/县区, 9 for 乡镇/街道, 12 for 村/社区); departments their 18-character 统一社会信用代码.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    /// 市
    City,
    /// 县区 (county-level division)
    County,
    /// 乡镇/街道
    Township,
    /// 村/社区
    Village,
    /// 政务服务大厅/中心 (county level and above, or a township 便民服务中心)
    Hall,
    /// 村 (社区) 便民服务站: a service point with a static QR code
    ServicePoint,
    /// 部门
    Department,
    /// 窗口
    Window,
}

impl OrgKind {
    pub fn is_region(self) -> bool {
        matches!(
            self,
            OrgKind::City | OrgKind::County | OrgKind::Township | OrgKind::Village
        )
    }
}

/// One node of the org tree: a region, a hall or service point, a department or a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrgUnit {
    /// Region code, 统一社会信用代码 (departments) or a hall/window code.
    #[schema(max_length = 64)]
    pub id: String,
    pub kind: OrgKind,
    #[schema(max_length = 200)]
    pub name: String,
    /// The parent node; `None` only for the root (the city).
    #[schema(max_length = 64)]
    pub parent: Option<String>,
    /// Windows: the department that staffs the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 64)]
    pub department: Option<String>,
    /// Windows and service points: a rating device (评价器) is installed.
    #[serde(default)]
    pub has_device: bool,
    /// Windows and service points: a rating QR code is posted.
    #[serde(default)]
    pub has_qr_code: bool,
}

/// A member of staff (工作人员). Staff names are not citizen data and are not encrypted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Staff {
    #[schema(max_length = 64)]
    pub id: String,
    #[schema(max_length = 200)]
    pub name: String,
    #[schema(max_length = 64)]
    pub department: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 64)]
    pub window: Option<String>,
}

/// A service item (政务服务事项, `taskCode`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServiceItem {
    #[schema(max_length = 64)]
    pub task_code: String,
    #[schema(max_length = 200)]
    pub name: String,
    #[schema(max_length = 64)]
    pub department: String,
    /// 行政许可, 公共服务 … as the item catalogue names it.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub task_type: String,
}

/// A hall device (评价器) registered to a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Device {
    #[schema(max_length = 64)]
    pub id: String,
    #[schema(max_length = 64)]
    pub model: String,
    #[schema(max_length = 64)]
    pub window: String,
}

/// A model of hall device, with the rules that hold for every device of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeviceModel {
    /// e.g. `HX-PJ200`
    #[schema(max_length = 64)]
    pub model: String,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub vendor: String,
    /// Shortest time between two ratings of one device, in seconds; a rating sooner than that
    /// after the previous one is refused (and kept for review). 0 turns the check off.
    #[serde(default)]
    pub min_press_interval_secs: u32,
}

/// A device's periodic report of its cumulative counters, as decoded by its adapter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HeartbeatInput {
    #[schema(max_length = 64)]
    pub device: String,
    pub sent_at: DateTime<Utc>,
    /// The device's own sequence number of this report.
    pub sequence: u64,
    /// Ratings taken by the device since it was installed.
    pub ratings_total: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub firmware: Option<String>,
}

/// What the platform knows of a device's health, kept up to date by heartbeats and ratings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
pub struct DeviceState {
    pub device: String,
    /// Last heartbeat or rating received from the device.
    pub last_seen: Option<DateTime<Utc>>,
    /// Last rating received from the device.
    pub last_upload: Option<DateTime<Utc>>,
    /// When the last stored rating was pressed (for the minimum press interval).
    pub last_press: Option<DateTime<Utc>>,
    pub last_heartbeat: Option<DateTime<Utc>>,
    pub last_sequence: Option<u64>,
    pub firmware: Option<String>,
    /// Ratings stored from this device.
    pub ratings_stored: u64,
    /// The device's own cumulative count at its last heartbeat.
    pub ratings_reported: u64,
    /// The device's count before it first reported here (ratings taken before connection).
    pub baseline: Option<u64>,
    /// Consecutive 非常满意 from this device up to its last rating (an integrity fact).
    #[serde(default)]
    pub top_streak: u64,
}

impl DeviceState {
    /// Ratings the device says it took that never arrived: a lost upload shows here.
    pub fn missing(&self) -> u64 {
        match self.baseline {
            Some(baseline) => self
                .ratings_reported
                .saturating_sub(baseline)
                .saturating_sub(self.ratings_stored),
            None => 0,
        }
    }
}

/// A service act reported by a business system: one step of a case (咨询, 申报, 补正, 缴费,
/// 签收 …). Each act can be rated once; it is the denominator of 评价率.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServiceEventInput {
    /// The source's own unique id of this event; a repeat is stored once.
    #[schema(max_length = 64)]
    pub event_id: String,
    #[schema(max_length = 64)]
    pub project_no: String,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub project_name: String,
    #[schema(max_length = 64)]
    pub task_code: String,
    #[schema(max_length = 64)]
    pub department: String,
    /// 6-, 9- or 12-digit region code where the service was given.
    #[schema(max_length = 12)]
    pub area_code: String,
    /// 1..=99
    pub service_number: u8,
    #[schema(max_length = 200)]
    pub service_name: String,
    pub status: CaseStatus,
    pub occurred_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 64)]
    pub window: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 64)]
    pub staff: Option<String>,
    #[serde(default)]
    pub applicant_type: ApplicantType,
    /// The applicant's mobile number (for invitations to rate). Sealed before anything is
    /// stored; never kept in clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 20)]
    pub applicant_phone: Option<String>,
    /// Handled online (一事一评) rather than at a window (一次一评).
    #[serde(default)]
    pub online: bool,
}

/// Who rated, as submitted. Personal fields are sealed before anything is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
pub struct EvaluatorInput {
    /// 实名 (true) or anonymous (false).
    pub real_name: bool,
    #[serde(default)]
    pub applicant_type: ApplicantType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 20)]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 32)]
    pub id_number: Option<String>,
}

/// A canonical rating as a source submits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RatingInput {
    /// The source's own unique id of this rating; a repeat is stored once.
    #[schema(max_length = 64)]
    pub event_id: String,
    #[schema(max_length = 64)]
    pub project_no: String,
    /// 1..=99
    pub service_number: u8,
    /// 1 = first rating, 2 = the one follow-up rating (追评) after rectification feedback.
    #[serde(default = "first_assessment")]
    pub assess_number: u8,
    #[schema(max_length = 64)]
    pub task_code: String,
    /// Department (统一社会信用代码). May be left empty when `device` names a registered
    /// device: the rating then takes the department, area and window of the device's window.
    #[serde(default)]
    #[schema(max_length = 64)]
    pub department: String,
    /// Region code (6, 9 or 12 digits); see `department`.
    #[serde(default)]
    #[schema(max_length = 12)]
    pub area_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub service_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 64)]
    pub window: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 64)]
    pub staff: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 64)]
    pub device: Option<String>,
    pub level: Level,
    pub channel: Channel,
    /// Indicator codes (`evalDetail`), from the versioned national catalogue.
    #[serde(default)]
    #[schema(schema_with = crate::validate::caps::indicator_codes)]
    pub indicators: Vec<String>,
    /// Written comment (`writingEvaluation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 2000)]
    pub text: Option<String>,
    #[serde(default)]
    pub evaluator: EvaluatorInput,
    pub rated_at: DateTime<Utc>,
}

fn first_assessment() -> u8 {
    1
}

/// A sealed (encrypted) personal field with its masked rendering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedField {
    /// base64 of nonce ‖ ciphertext (XChaCha20-Poly1305).
    pub sealed: String,
    /// e.g. 138****1234; safe to show to any role that may see the rating.
    pub masked: String,
}

/// What a citizen wrote, as stored: sealed under the key ring (class
/// [`crate::keyring::Class::FreeText`]), so that the retention sweep and a subject's erasure
/// reach it. Opened with [`crate::pii::PiiKey::open_text`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StoredText {
    /// `{"sealed": "2:t…"}`.
    Sealed { sealed: String },
    /// Written before free text was sealed: kept as it was.
    Plain(String),
}

impl std::fmt::Debug for StoredText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoredText::Sealed { sealed } => write!(f, "Sealed({sealed})"),
            StoredText::Plain(text) => write!(f, "Plain({} chars)", text.chars().count()),
        }
    }
}

/// The evaluator as stored: personal fields sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct StoredEvaluator {
    pub real_name: bool,
    pub applicant_type: ApplicantType,
    pub name: Option<SealedField>,
    pub phone: Option<SealedField>,
    pub id_number: Option<SealedField>,
}

/// Where a rating sits in the org tree, resolved once at ingest from the master data of the
/// moment, so that replaying the log reproduces the same attribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
pub struct Attribution {
    /// Region codes from the rating's own area up to the root.
    pub regions: Vec<String>,
    pub hall: Option<String>,
    pub window: Option<String>,
    pub department: String,
    pub staff: Option<String>,
    pub task_code: String,
}

/// A stored rating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    /// Log sequence number of the event that recorded it.
    pub id: u64,
    pub source: String,
    pub event_id: String,
    pub project_no: String,
    pub service_number: u8,
    pub assess_number: u8,
    pub service_name: Option<String>,
    pub device: Option<String>,
    pub level: Level,
    pub channel: Channel,
    pub indicators: Vec<String>,
    /// The comment, sealed (see [`StoredText`]).
    pub text: Option<StoredText>,
    pub evaluator: StoredEvaluator,
    pub attribution: Attribution,
    pub area_code: String,
    pub rated_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
}

impl Rating {
    pub fn is_bad(&self) -> bool {
        self.level.is_bad()
    }
}

/// A service act of a case, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServiceAct {
    pub service_number: u8,
    pub service_name: String,
    pub occurred_at: DateTime<Utc>,
    pub window: Option<String>,
    pub staff: Option<String>,
    /// Ids of the ratings of this act, by assess number.
    #[serde(default)]
    pub ratings: Vec<u64>,
    /// The applicant's mobile number, sealed, for invitations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub contact: Option<SealedField>,
    /// Invitations and the default rating still planned for this act; dropped when it is
    /// rated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub planned: Vec<crate::outreach::ScheduledTask>,
}

/// A case (办件) with its service acts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Case {
    pub project_no: String,
    pub project_name: String,
    pub task_code: String,
    pub department: String,
    pub area_code: String,
    pub status: CaseStatus,
    pub applicant_type: ApplicantType,
    pub first_seen: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub services: Vec<ServiceAct>,
}

/// Code tables of the outside world. Only adapters and edge APIs call these.
pub mod codes {
    use super::{ApplicantType, CaseStatus, Channel, Level};

    /// Provincial 好差评 interfaces (`satisfaction`): 1 = 非常不满意 … 5 = 非常满意.
    pub fn level_from_satisfaction(code: u8) -> Option<Level> {
        match code {
            1 => Some(Level::VeryDissatisfied),
            2 => Some(Level::Dissatisfied),
            3 => Some(Level::BasicallySatisfied),
            4 => Some(Level::Satisfied),
            5 => Some(Level::VerySatisfied),
            _ => None,
        }
    }

    pub fn satisfaction_code(level: Level) -> u8 {
        5 - level.index()
    }

    /// GB/T 39046-2020 table A.8: 1 = 非常满意 … 5 = 非常不满意 (the opposite order).
    pub fn level_from_gbt39046(code: u8) -> Option<Level> {
        code.checked_sub(1).and_then(Level::from_index)
    }

    pub fn gbt39046_code(level: Level) -> u8 {
        level.index() + 1
    }

    /// The two `pf` numberings seen in provincial interfaces.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum PfVariant {
        /// 1 PC, 2 移动端, 3 二维码, 4 大厅平板, 5 大厅其他终端, 6 电话, 7 短信
        National,
        /// 浙江: … 6 短信, 7 系统默认评价
        Zhejiang,
    }

    pub fn channel_from_pf(code: u8, variant: PfVariant) -> Option<Channel> {
        match (code, variant) {
            (1, _) => Some(Channel::Pc),
            (2, _) => Some(Channel::Mobile),
            (3, _) => Some(Channel::QrCode),
            (4, _) => Some(Channel::HallDevice),
            (5, _) => Some(Channel::HallTerminal),
            (6, PfVariant::National) => Some(Channel::Phone),
            (7, PfVariant::National) => Some(Channel::Sms),
            (6, PfVariant::Zhejiang) => Some(Channel::Sms),
            (7, PfVariant::Zhejiang) => Some(Channel::SystemDefault),
            _ => None,
        }
    }

    /// `None` where the variant has no code for the channel.
    pub fn pf_code(channel: Channel, variant: PfVariant) -> Option<u8> {
        match (channel, variant) {
            (Channel::Pc, _) => Some(1),
            (Channel::Mobile, _) => Some(2),
            (Channel::QrCode, _) => Some(3),
            (Channel::HallDevice, _) => Some(4),
            (Channel::HallTerminal, _) => Some(5),
            (Channel::Phone, PfVariant::National) => Some(6),
            (Channel::Sms, PfVariant::National) => Some(7),
            (Channel::Sms, PfVariant::Zhejiang) => Some(6),
            (Channel::SystemDefault, PfVariant::Zhejiang) => Some(7),
            (Channel::Phone | Channel::SystemDefault, _) => None,
        }
    }

    /// `userProp`.
    pub fn applicant_type_from_code(code: u8) -> Option<ApplicantType> {
        match code {
            1 => Some(ApplicantType::NaturalPerson),
            2 => Some(ApplicantType::EnterpriseLegalPerson),
            3 => Some(ApplicantType::InstitutionLegalPerson),
            4 => Some(ApplicantType::SocialOrganisationLegalPerson),
            5 => Some(ApplicantType::NonLegalPersonEnterprise),
            6 => Some(ApplicantType::AdministrativeOrgan),
            9 => Some(ApplicantType::OtherOrganisation),
            _ => None,
        }
    }

    pub fn applicant_type_code(kind: ApplicantType) -> u8 {
        match kind {
            ApplicantType::NaturalPerson => 1,
            ApplicantType::EnterpriseLegalPerson => 2,
            ApplicantType::InstitutionLegalPerson => 3,
            ApplicantType::SocialOrganisationLegalPerson => 4,
            ApplicantType::NonLegalPersonEnterprise => 5,
            ApplicantType::AdministrativeOrgan => 6,
            ApplicantType::OtherOrganisation => 9,
        }
    }

    /// `proStatus`.
    pub fn case_status_from_code(code: u8) -> Option<CaseStatus> {
        match code {
            1 => Some(CaseStatus::Submitted),
            2 => Some(CaseStatus::Accepted),
            3 => Some(CaseStatus::Completed),
            _ => None,
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn level_codes_run_in_opposite_directions() {
            for level in Level::ALL {
                assert_eq!(
                    level_from_satisfaction(satisfaction_code(level)),
                    Some(level)
                );
                assert_eq!(level_from_gbt39046(gbt39046_code(level)), Some(level));
                assert_eq!(satisfaction_code(level) + gbt39046_code(level), 6);
            }
            assert_eq!(level_from_satisfaction(1), Some(Level::VeryDissatisfied));
            assert_eq!(level_from_gbt39046(1), Some(Level::VerySatisfied));
            assert_eq!(level_from_satisfaction(0), None);
            assert_eq!(level_from_gbt39046(6), None);
        }

        #[test]
        fn pf_variants_disagree_on_six_and_seven() {
            use PfVariant::*;
            assert_eq!(channel_from_pf(6, National), Some(Channel::Phone));
            assert_eq!(channel_from_pf(6, Zhejiang), Some(Channel::Sms));
            assert_eq!(channel_from_pf(7, Zhejiang), Some(Channel::SystemDefault));
            for channel in Channel::ALL {
                for variant in [National, Zhejiang] {
                    if let Some(code) = pf_code(channel, variant) {
                        assert_eq!(channel_from_pf(code, variant), Some(channel));
                    }
                }
            }
        }

        #[test]
        fn applicant_and_status_codes_round_trip() {
            for code in [1, 2, 3, 4, 5, 6, 9] {
                let kind = applicant_type_from_code(code);
                assert_eq!(kind.map(applicant_type_code), Some(code));
            }
            assert_eq!(applicant_type_from_code(7), None);
            assert_eq!(case_status_from_code(3), Some(CaseStatus::Completed));
            assert_eq!(case_status_from_code(4), None);
        }
    }
}

/// What the store knows around a rating at the moment it is recorded, for the integrity rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RatingFacts {
    /// The previous press on the same device, if any.
    pub previous_press_at: Option<DateTime<Utc>>,
    /// The device model's minimum seconds between two presses (0 when none is set).
    pub min_interval_secs: u64,
    /// Consecutive 非常满意 from the device immediately before this rating.
    pub top_streak_before: u64,
    /// Whether the rated service act is known to the platform (reported by a business system).
    pub open_service: bool,
}
