//! The static QR code of every window (窗口二维码): its opaque token, its rotation by an
//! administrator, the windows of a subtree with their codes, and the rating a citizen gives
//! after scanning it — of a service act done at the window in the last hours, of a case by its
//! project number (办件号), or, where the county allows it, of the window itself, anonymously.
//!
//! A window's token is [`hcp_core::pii::PiiKey::window_token`] of its id and the code's
//! generation; the log records the generation and the token's hash (a new window's first code
//! with the window, every rotation as `window_qr_issued`), so a rebuilt store opens the same
//! tokens and a replaced one is told apart from one that never existed.

use chrono::{DateTime, Duration, Utc};
use hcp_core::analysis::IndicatorCatalogue;
use hcp_core::auth::{Principal, Role};
use hcp_core::calendar::local_date;
use hcp_core::model::{
    Case, Channel, EvaluatorInput, Level, OrgKind, OrgUnit, RatingInput, ServiceAct,
};
use hcp_core::store::{Command, Dim, MasterChange, Outcome};
use hcp_core::validate::{DomainError, MAX_TEXT_CHARS, Reason};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppError;
use crate::app::outreach::{
    ActRating, SYSTEM_SOURCE, ensure_system_source, rating_input, service_subject,
};
use crate::app::platform::Platform;
use crate::app::scope::{Target, ensure_role};

/// Acts offered on a window's page, at most.
const MAX_RECENT_ACTS: usize = 20;

/// Cases of a window looked at for its page, at most.
const MAX_RECENT_CASES: usize = 200;

/// A window with its QR code, as the administrators' list shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WindowQrView {
    pub window: String,
    pub name: String,
    pub department: Option<String>,
    pub department_name: Option<String>,
    pub hall: Option<String>,
    pub hall_name: Option<String>,
    /// The URL its QR code carries; absent for a window recorded before windows had codes
    /// (rotate it to issue one).
    pub url: Option<String>,
}

/// A window and the units it belongs to.
#[derive(Debug, Clone)]
pub struct WindowInfo {
    pub window: OrgUnit,
    pub department: Option<OrgUnit>,
    pub hall: Option<OrgUnit>,
}

/// What a token opens.
pub enum QrLookup {
    Window(Box<WindowInfo>),
    /// The window's code was rotated since this one was printed.
    Replaced,
    Unknown,
}

/// The URL of a window's QR code at a generation.
fn qr_url(platform: &Platform, window: &str, generation: u32) -> String {
    format!(
        "{}/w/{}",
        platform.messages.public_url.trim_end_matches('/'),
        platform.store.pii().window_token(window, generation)
    )
}

/// A window and its department and hall. Blocking.
fn info(platform: &Platform, window: OrgUnit) -> Result<WindowInfo, AppError> {
    let department = match &window.department {
        Some(id) => platform.store.org_unit(id)?,
        None => None,
    };
    let hall = match &window.parent {
        Some(id) => platform
            .store
            .org_unit(id)?
            .filter(|unit| matches!(unit.kind, OrgKind::Hall | OrgKind::ServicePoint)),
        None => None,
    };
    Ok(WindowInfo {
        window,
        department,
        hall,
    })
}

/// A window as listed, with the URL of its current code. Blocking.
pub fn view(platform: &Platform, window: OrgUnit) -> Result<WindowQrView, AppError> {
    let url = platform
        .store
        .window_qr_generation(&window.id)?
        .map(|generation| qr_url(platform, &window.id, generation));
    let WindowInfo {
        window,
        department,
        hall,
    } = info(platform, window)?;
    Ok(WindowQrView {
        department: window.department.clone(),
        department_name: department.map(|unit| unit.name),
        hall: hall.as_ref().map(|unit| unit.id.clone()),
        hall_name: hall.map(|unit| unit.name),
        url,
        window: window.id,
        name: window.name,
    })
}

fn ensure_admin(principal: &Principal) -> Result<(), AppError> {
    ensure_role(
        principal,
        &[Role::Admin],
        "windows' QR codes are managed by administrators",
    )
}

/// The windows of a hall, department or region within the caller's scope, by hall and id.
/// Blocking.
pub fn windows_under(
    platform: &Platform,
    principal: &Principal,
    unit: &str,
) -> Result<Vec<WindowQrView>, AppError> {
    ensure_admin(principal)?;
    let scope = platform.scope();
    scope.ensure_unit(principal, Dim::Region, unit)?;
    let Some(named) = platform.store.org_unit(unit)? else {
        return Err(AppError::NotFound(format!("no unit {unit}")));
    };
    let mut windows = Vec::new();
    for window in platform.store.org_units()? {
        if window.kind != OrgKind::Window {
            continue;
        }
        let inside = if named.kind == OrgKind::Department {
            window.department.as_deref() == Some(unit)
        } else {
            platform.store.within(Dim::Window, &window.id, unit)?
        };
        if inside && scope.sees(principal, Target::Unit(Dim::Window, &window.id))? {
            windows.push(window);
        }
    }
    windows.sort_by(|a, b| (&a.parent, &a.id).cmp(&(&b.parent, &b.id)));
    windows
        .into_iter()
        .map(|window| view(platform, window))
        .collect()
}

/// A window asked for by id: 404 when absent, not a window, or outside the caller's scope.
/// Blocking.
pub fn window_for(
    platform: &Platform,
    principal: &Principal,
    id: &str,
) -> Result<OrgUnit, AppError> {
    ensure_admin(principal)?;
    let window = platform
        .store
        .org_unit(id)?
        .filter(|unit| unit.kind == OrgKind::Window);
    match window {
        Some(window)
            if platform
                .scope()
                .sees(principal, Target::Unit(Dim::Window, &window.id))? =>
        {
            Ok(window)
        }
        _ => Err(AppError::NotFound(format!(
            "no window {id} within your scope"
        ))),
    }
}

/// Issues a window's QR code anew: the old one stops working at once. Blocking.
pub fn rotate(
    platform: &Platform,
    principal: &Principal,
    id: &str,
) -> Result<WindowQrView, AppError> {
    let window = window_for(platform, principal, id)?;
    platform.record(Command::Master {
        actor: principal.username.clone(),
        change: MasterChange::RotateWindowQr {
            window: window.id.clone(),
        },
    })?;
    view(platform, window)
}

/// The window a token opens. Blocking.
pub fn resolve(platform: &Platform, token: &str) -> Result<QrLookup, AppError> {
    if token.len() != 32 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(QrLookup::Unknown);
    }
    let token = token.to_ascii_lowercase();
    let Some((window, generation)) = platform.store.window_of_qr_token(&token)? else {
        return Ok(QrLookup::Unknown);
    };
    if platform.store.window_qr_generation(&window)? != Some(generation) {
        return Ok(QrLookup::Replaced);
    }
    match platform.store.org_unit(&window)? {
        Some(unit) if unit.kind == OrgKind::Window => {
            Ok(QrLookup::Window(Box::new(info(platform, unit)?)))
        }
        _ => Ok(QrLookup::Unknown),
    }
}

/// A service act the page offers: what was done and when, never who.
#[derive(Debug, Clone)]
pub struct RecentAct {
    /// The act's rating proof ([`hcp_core::pii::PiiKey::rating_token`]): the form names the
    /// act by it, so the page carries no project number.
    pub proof: String,
    pub item: String,
    pub service: String,
    pub at: DateTime<Utc>,
    pub rated: bool,
}

/// The acts done at a window within the configured hours, newest first, with their cases.
/// Blocking.
fn recent(
    platform: &Platform,
    window: &str,
    now: DateTime<Utc>,
) -> Result<Vec<(Case, ServiceAct)>, AppError> {
    let since = now - Duration::hours(i64::from(platform.window_qr.recent_hours));
    let cases = platform.store.window_cases(
        window,
        local_date(since),
        local_date(now),
        MAX_RECENT_CASES,
    )?;
    let mut acts: Vec<(Case, ServiceAct)> = Vec::new();
    for case in cases {
        for act in &case.services {
            if act.window.as_deref() == Some(window)
                && act.occurred_at >= since
                && act.occurred_at <= now
            {
                acts.push((case.clone(), act.clone()));
            }
        }
    }
    acts.sort_by_key(|(_, act)| std::cmp::Reverse(act.occurred_at));
    acts.truncate(MAX_RECENT_ACTS);
    Ok(acts)
}

fn proof(platform: &Platform, case: &Case, act: &ServiceAct) -> String {
    platform
        .store
        .pii()
        .rating_token(&service_subject(&case.project_no, act.service_number))
}

/// The acts the window's page offers. Blocking.
pub fn recent_acts(platform: &Platform, window: &str) -> Result<Vec<RecentAct>, AppError> {
    let now = platform.clock.now();
    recent(platform, window, now)?
        .into_iter()
        .map(|(case, act)| {
            Ok(RecentAct {
                proof: proof(platform, &case, &act),
                item: platform
                    .store
                    .item(&case.task_code)?
                    .map(|item| item.name)
                    .unwrap_or_else(|| "政务服务事项".into()),
                service: act.service_name.clone(),
                at: act.occurred_at,
                rated: !act.ratings.is_empty(),
            })
        })
        .collect()
}

/// Whether the window takes an anonymous rating of itself (`[window_qr] anonymous_regions`).
/// Blocking.
pub fn anonymous_allowed(platform: &Platform, window: &str) -> Result<bool, AppError> {
    for region in &platform.window_qr.anonymous_regions {
        if platform.store.within(Dim::Window, window, region)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The service items of the window's department: what an anonymous rating is about. Blocking.
pub fn department_items(
    platform: &Platform,
    info: &WindowInfo,
) -> Result<Vec<(String, String)>, AppError> {
    let Some(department) = &info.window.department else {
        return Ok(Vec::new());
    };
    let mut items: Vec<(String, String)> = platform
        .store
        .items()?
        .into_iter()
        .filter(|item| &item.department == department)
        .map(|item| (item.task_code, item.name))
        .collect();
    items.sort();
    Ok(items)
}

/// What the citizen rates.
#[derive(Debug, Clone)]
pub enum QrSubject {
    /// An act the page offered, by its proof.
    Act(String),
    /// A case by its project number: its latest act at this window still unrated.
    Project(String),
    /// The window itself, anonymously, about one of its department's items.
    Window { task_code: String },
}

/// A rating given through a window's QR code.
#[derive(Debug, Clone)]
pub struct QrRating {
    pub subject: QrSubject,
    pub level: Level,
    /// Indicator codes of the catalogue: at least one for a 差评.
    pub indicators: Vec<String>,
    pub text: Option<String>,
    /// A number for the call-back of a 差评: sent a confirmation code once the order is open.
    pub phone: Option<String>,
}

/// What was recorded: the rating, and for a 差评 the tracking link of its work order.
#[derive(Debug, Clone)]
pub struct QrRated {
    pub rating_id: u64,
    pub tracking_url: Option<String>,
    /// The number given for the call-back, and whether its code was sent.
    pub phone: Option<crate::app::contact::PhoneStatus>,
}

/// The refusal of a call-back number that is not a mobile number.
pub const INVALID_PHONE: &str = "invalid_phone";

/// The refusal of a 差评 without a reason (`reason_required`).
pub const REASON_REQUIRED: &str = "reason_required";

fn refuse(code: &str, message: &str) -> AppError {
    AppError::Unprocessable(Reason {
        code: code.into(),
        message: message.into(),
    })
}

/// The act a project number names at this window: its latest act here still unrated.
/// Blocking.
fn act_of_project(
    platform: &Platform,
    info: &WindowInfo,
    project_no: &str,
) -> Result<(Case, ServiceAct), AppError> {
    let unknown = || AppError::NotFound("本窗口没有该办件号的办理记录".into());
    let project_no = project_no.trim();
    if project_no.is_empty() || project_no.chars().count() > hcp_core::validate::caps::CODE {
        return Err(unknown());
    }
    let case = platform.store.case(project_no)?.ok_or_else(unknown)?;
    let here = |act: &&ServiceAct| match &act.window {
        Some(window) => window == &info.window.id,
        None => info.window.department.as_deref() == Some(case.department.as_str()),
    };
    let mut acts: Vec<&ServiceAct> = case.services.iter().filter(here).collect();
    if acts.is_empty() {
        return Err(unknown());
    }
    acts.sort_by_key(|act| act.occurred_at);
    let act = acts
        .iter()
        .rev()
        .find(|act| act.ratings.is_empty())
        .map(|act| (*act).clone())
        .ok_or_else(|| AppError::Conflict("the service is already rated".into()))?;
    Ok((case, act))
}

/// The region a window files its ratings under: the nearest region above it. Blocking.
fn area_of(platform: &Platform, window: &str) -> Result<Option<String>, AppError> {
    for id in platform.store.ancestors(Dim::Window, window)? {
        if let Some(unit) = platform.store.org_unit(&id)?
            && unit.kind.is_region()
        {
            return Ok(Some(unit.id));
        }
    }
    Ok(None)
}

/// Records a rating given through a window's QR code, on the `qr_code` channel through the
/// platform's own source (as the invitation page does on `sms`): anonymous, since whoever
/// scans the code is not known; one rating per service act. Blocking.
pub fn rate(platform: &Platform, info: &WindowInfo, rating: QrRating) -> Result<QrRated, AppError> {
    // A number only serves the call-back of a 差评; with a good rating it is not kept.
    let phone = rating.phone.clone().filter(|_| rating.level.is_bad());
    if let Some(phone) = &phone
        && !crate::app::contact::is_mobile_number(phone)
    {
        return Err(refuse(
            INVALID_PHONE,
            "the phone for a call-back is an 11-digit mobile number",
        ));
    }
    let text = rating
        .text
        .map(|text| text.trim().to_string())
        .filter(|text| !text.is_empty());
    if text
        .as_ref()
        .is_some_and(|text| text.chars().count() > MAX_TEXT_CHARS)
    {
        return Err(AppError::invalid_field(
            "text",
            format!("at most {MAX_TEXT_CHARS} characters"),
        ));
    }
    let catalogue = IndicatorCatalogue::builtin()
        .map_err(|error| AppError::Internal(format!("indicator catalogue: {error}")))?;
    let mut indicators = rating.indicators;
    indicators.sort();
    indicators.dedup();
    if let Some(unknown) = indicators.iter().find(|code| catalogue.get(code).is_none()) {
        return Err(AppError::invalid_field(
            "indicators",
            format!("{unknown} is not an indicator of the catalogue"),
        ));
    }
    if rating.level.is_bad() && indicators.is_empty() {
        return Err(refuse(
            REASON_REQUIRED,
            "a 差评 needs at least one reason (indicator)",
        ));
    }
    let now = platform.clock.now();
    let window = &info.window.id;
    let evaluator = |case: Option<&Case>| EvaluatorInput {
        real_name: false,
        applicant_type: case.map(|case| case.applicant_type).unwrap_or_default(),
        ..EvaluatorInput::default()
    };
    let input: RatingInput = match rating.subject {
        QrSubject::Act(proof_given) => {
            let (case, act) = recent(platform, window, now)?
                .into_iter()
                .find(|(case, act)| {
                    hcp_core::auth::constant_time_eq(
                        &proof(platform, case, act),
                        &proof_given.to_ascii_lowercase(),
                    )
                })
                .ok_or_else(|| AppError::NotFound("该服务不在本窗口近期的办理记录中".into()))?;
            act_input(case, act, rating.level, text, now, indicators, &evaluator)?
        }
        QrSubject::Project(project_no) => {
            let (case, act) = act_of_project(platform, info, &project_no)?;
            act_input(case, act, rating.level, text, now, indicators, &evaluator)?
        }
        QrSubject::Window { task_code } => {
            if !anonymous_allowed(platform, window)? {
                return Err(AppError::Forbidden(
                    "本窗口未开放不关联办件的匿名评价".into(),
                ));
            }
            let department = info.window.department.clone().unwrap_or_default();
            if !department_items(platform, info)?
                .iter()
                .any(|(code, _)| code == &task_code)
            {
                return Err(AppError::invalid_field(
                    "item",
                    "not a service item of the window's department",
                ));
            }
            let area_code = area_of(platform, window)?.unwrap_or_default();
            let nonce: [u8; 10] = rand::random();
            let nonce: String = nonce.iter().map(|byte| format!("{byte:02x}")).collect();
            let project_no = format!("QR-{nonce}");
            RatingInput {
                event_id: format!("qr:{project_no}/1"),
                project_no,
                service_number: 1,
                assess_number: 1,
                task_code,
                department,
                area_code,
                service_name: Some("窗口评价".into()),
                window: Some(window.clone()),
                staff: None,
                device: None,
                level: rating.level,
                channel: Channel::QrCode,
                indicators,
                text,
                evaluator: evaluator(None),
                rated_at: now,
            }
        }
    };
    ensure_system_source(platform).map_err(|error| AppError::Internal(format!("{error:#}")))?;
    let outcome = platform.store.submit_one(Command::Rating {
        source: SYSTEM_SOURCE.into(),
        input,
    })?;
    let rating_id = match outcome {
        Outcome::Recorded { seq } => seq,
        Outcome::Duplicate { .. } | Outcome::Rejected(DomainError::DuplicateRating { .. }) => {
            return Err(AppError::Conflict("the service is already rated".into()));
        }
        Outcome::Rejected(error) => return Err(AppError::Unprocessable(error.reason())),
    };
    let order = if rating.level.is_bad() {
        platform.store.order_of_rating(rating_id)?
    } else {
        None
    };
    let tracking_url = order
        .as_ref()
        .map(|order| crate::app::tokens::tracking_url(platform, order.id));
    // The number waits outside the order until its code comes back through the tracking
    // link (nothing but the code is texted to a number a scan gave).
    let phone = match (&order, phone.as_deref()) {
        (Some(order), Some(phone)) => Some(crate::app::contact::send_code(
            platform,
            order.id,
            hcp_core::store::seal_phone(platform.store.pii(), phone, now)?,
            phone,
        )),
        _ => None,
    };
    Ok(QrRated {
        rating_id,
        tracking_url,
        phone,
    })
}

/// The rating of an act, refused as already rated when it is.
fn act_input(
    case: Case,
    act: ServiceAct,
    level: Level,
    text: Option<String>,
    now: DateTime<Utc>,
    indicators: Vec<String>,
    evaluator: &dyn Fn(Option<&Case>) -> EvaluatorInput,
) -> Result<RatingInput, AppError> {
    if !act.ratings.is_empty() {
        return Err(AppError::Conflict("the service is already rated".into()));
    }
    let mut input = rating_input(
        &case,
        &act,
        ActRating {
            event_id: format!("qr:{}/{}", case.project_no, act.service_number),
            level,
            channel: Channel::QrCode,
            text,
            rated_at: now,
            evaluator: evaluator(Some(&case)),
        },
    );
    input.indicators = indicators;
    Ok(input)
}
