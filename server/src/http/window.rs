//! Windows' static QR codes over HTTP: the citizen's page a code opens (`/w/{token}`, rate the
//! service just received, or the window itself where the county allows it) and its form post,
//! and for administrators the windows of a subtree with their codes, the rotation of a code,
//! and print-ready posters (SVG, PDF). The page carries no unit code and shows no person: acts
//! are named by their item, service and time.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hcp_core::analysis::IndicatorCatalogue;
use hcp_core::calendar::china_tz;
use hcp_core::model::Level;
use hcp_core::validate::{MAX_TEXT_CHARS, Reason};
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::citizen::{self, Frame, Mode};
use super::extract::{ClientAddr, Json, Path, Query};
use super::outreach::escape;
use super::page::{Page, PageQuery};
use super::{ApiError, Auth, blocking};
use crate::app::platform::Platform;
use crate::app::posters;
use crate::app::window_qr::{
    self, QrLookup, QrRated, QrRating, QrSubject, REASON_REQUIRED, WindowInfo, WindowQrView,
};

#[derive(OpenApi)]
#[openapi(paths(
    window_page,
    window_rate,
    list_windows,
    rotate,
    poster_svg,
    poster_pdf,
    posters_pdf
))]
pub struct Doc;

pub fn routes(platform: &Platform) -> Router<Platform> {
    Router::new()
        .route("/w/{token}", get(window_page).post(window_rate))
        .route_layer(axum::middleware::from_fn_with_state(
            platform.clone(),
            super::extract::public_reads,
        ))
        .route("/api/v1/windows/qr", get(list_windows))
        .route("/api/v1/windows/{id}/qr/rotate", post(rotate))
        .route("/api/v1/windows/{id}/poster.svg", get(poster_svg))
        .route("/api/v1/windows/{id}/poster.pdf", get(poster_pdf))
        .route("/api/v1/windows/posters.pdf", get(posters_pdf))
}

// ---------------------------------------------------------------------------------------------
// The citizen's page

fn frame(token: &str, big: bool) -> Frame<'_> {
    Frame {
        big,
        switch: Some(token),
        public: false,
    }
}

fn unknown_page(frame: Frame<'_>) -> Response {
    citizen::message(
        StatusCode::NOT_FOUND,
        frame,
        "二维码无效",
        "未找到该二维码对应的窗口。请核对后重新扫描窗口张贴的评价二维码。",
    )
}

fn replaced_page(frame: Frame<'_>) -> Response {
    citizen::message(
        StatusCode::GONE,
        frame,
        "二维码已更换",
        "该窗口的评价二维码已更换，本二维码已停止使用。请扫描窗口现在张贴的新二维码进行评价。",
    )
}

fn internal_error_page(error: ApiError) -> Response {
    tracing::error!(%error, "window page failed");
    citizen::message(
        StatusCode::INTERNAL_SERVER_ERROR,
        Frame::plain(),
        "系统繁忙",
        "系统暂时无法处理，请稍后重新扫码评价。",
    )
}

fn level_value(level: Level) -> String {
    serde_json::to_value(level)
        .ok()
        .and_then(|value| value.as_str().map(String::from))
        .unwrap_or_default()
}

/// What the form had, to show it again with a notice.
#[derive(Debug, Default)]
struct Filled {
    act: String,
    project_no: String,
    item: String,
    level: String,
    reasons: Vec<String>,
    text: String,
    phone: String,
}

fn checked(yes: bool) -> &'static str {
    if yes { " checked" } else { "" }
}

/// The window's page: the window, the service to rate, the five levels, the reasons of a 差评.
/// Blocking.
fn form_page(
    platform: &Platform,
    info: &WindowInfo,
    frame: Frame<'_>,
    status: StatusCode,
    notice: Option<&str>,
    filled: &Filled,
) -> Result<Response, ApiError> {
    let acts = window_qr::recent_acts(platform, &info.window.id)?;
    let anonymous = window_qr::anonymous_allowed(platform, &info.window.id)?;
    let mut body = format!("<h1>{}</h1><dl class=\"act\">", escape(&info.window.name));
    for (label, unit) in [("办理部门", &info.department), ("服务大厅", &info.hall)] {
        if let Some(unit) = unit {
            body.push_str(&format!("<dt>{label}</dt><dd>{}</dd>", escape(&unit.name)));
        }
    }
    body.push_str("</dl>");
    if let Some(notice) = notice {
        body.push_str(&format!(
            "<p class=\"notice\" role=\"alert\">{}</p>",
            escape(notice)
        ));
    }
    body.push_str(&format!(
        "<form method=\"post\" action=\"{}{}\"><fieldset><legend>① 选择您刚办理的服务</legend>",
        escape(frame.switch.unwrap_or_default()),
        frame.query()
    ));
    if acts.is_empty() {
        body.push_str(&format!(
            "<p class=\"hint\">近 {} 小时本窗口暂无可评价的办理记录，请输入办件号评价。</p>",
            platform.window_qr.recent_hours
        ));
    }
    for act in &acts {
        let time = act.at.with_timezone(&china_tz()).format("%H:%M");
        if act.rated {
            body.push_str(&format!(
                "<label class=\"opt\"><input type=\"radio\" name=\"act\" value=\"{}\" disabled><span>{}<small>{} · {time} · 已评价</small></span></label>",
                act.proof,
                escape(&act.item),
                escape(&act.service),
            ));
        } else {
            body.push_str(&format!(
                "<label class=\"opt\"><input type=\"radio\" name=\"act\" value=\"{proof}\" required{}><span>{}<small>{} · {time}</small></span></label>",
                checked(filled.act == act.proof),
                escape(&act.item),
                escape(&act.service),
                proof = act.proof,
            ));
        }
    }
    body.push_str(&format!(
        "<label class=\"opt\"><input type=\"radio\" name=\"act\" value=\"project\" required{}><span>按办件号评价<small>办件号见受理通知书或短信</small></span></label>\
         <input type=\"text\" name=\"project_no\" maxlength=\"64\" autocomplete=\"off\" placeholder=\"办件号（选择上一项时填写）\" aria-label=\"办件号\" value=\"{}\">",
        checked(filled.act == "project"),
        escape(&filled.project_no)
    ));
    if anonymous {
        let items = window_qr::department_items(platform, info)?;
        if !items.is_empty() {
            body.push_str(&format!(
                "<label class=\"opt\"><input type=\"radio\" name=\"act\" value=\"window\" required{}><span>不关联办件，匿名评价本窗口<small>请选择您办理的事项</small></span></label><select name=\"item\" aria-label=\"办理事项\">",
                checked(filled.act == "window")
            ));
            for (code, name) in items {
                body.push_str(&format!(
                    "<option value=\"{}\"{}>{}</option>",
                    escape(&code),
                    if filled.item == code { " selected" } else { "" },
                    escape(&name)
                ));
            }
            body.push_str("</select>");
        }
    }
    body.push_str("</fieldset><fieldset class=\"levels\"><legend>② 您对本次服务的评价</legend>");
    for level in Level::ALL {
        let value = level_value(level);
        body.push_str(&format!(
            "<label class=\"level\"><input type=\"radio\" name=\"level\" value=\"{value}\" required{}> {}</label>",
            checked(filled.level == value),
            level.label_zh()
        ));
    }
    body.push_str(
        "</fieldset><fieldset><legend>③ 选择“不满意”或“非常不满意”时，请选择原因（至少一项）</legend>",
    );
    let catalogue = IndicatorCatalogue::builtin()
        .map_err(|error| ApiError::Internal(format!("indicator catalogue: {error}")))?;
    for indicator in &catalogue.indicators {
        body.push_str(&format!(
            "<label class=\"opt\"><input type=\"checkbox\" name=\"reason\" value=\"{}\"{}> {}</label>",
            escape(&indicator.code),
            checked(filled.reasons.contains(&indicator.code)),
            escape(&indicator.name)
        ));
    }
    body.push_str(&format!(
        "</fieldset><label for=\"text\">补充说明（选填）</label>\
         <textarea id=\"text\" name=\"text\" rows=\"3\" maxlength=\"{MAX_TEXT_CHARS}\">{}</textarea>\
         <label for=\"phone\">需要回访时，请留下手机号（选填，仅用于差评回访）</label>\
         <input id=\"phone\" name=\"phone\" type=\"tel\" inputmode=\"numeric\" maxlength=\"11\" autocomplete=\"tel\" value=\"{}\">\
         <p class=\"hint\">评价完全自愿，不记录您的身份。补充说明中请勿填写身份证号、手机号等个人信息。差评将转交责任单位限期整改，提交后可查看办理进度；留下手机号的，我们会发送验证码，在办理进度页面输入后，整改结果将短信告知并电话回访。</p>\
         <button type=\"submit\">提交评价</button></form>",
        escape(&filled.text),
        escape(&filled.phone)
    ));
    Ok(citizen::page(status, frame, "窗口服务评价", &body))
}

/// The page a window's QR code opens: the window and its department, the service acts done
/// there in the last hours (item and time only), the five levels and a 差评's reasons. `?big=1`
/// is the elderly mode. No sign-in; the token names the window and nothing else.
#[utoipa::path(
    get, path = "/w/{token}", tag = "public",
    params(
        ("token" = String, Path, description = "The token of the window's QR code"),
        ("big" = Option<u8>, Query, description = "1: the elderly mode (bigger text, higher contrast)", minimum = 0, maximum = 1),
    ),
    responses(
        (status = 200, description = "the rating form", content_type = "text/html"),
        (status = 404, description = "an unknown code", content_type = "text/html"),
        (status = 410, description = "a replaced code", content_type = "text/html"),
        (status = 429, description = "too many reads from this address: retry after `Retry-After` seconds", content_type = "text/html"),
    )
)]
pub async fn window_page(
    State(platform): State<Platform>,
    Path(token): Path<String>,
    Query(mode): Query<Mode>,
) -> Response {
    blocking(move || {
        let frame = frame(&token, mode.big());
        Ok(match window_qr::resolve(&platform, &token)? {
            QrLookup::Window(info) => form_page(
                &platform,
                &info,
                frame,
                StatusCode::OK,
                None,
                &Filled::default(),
            )?,
            QrLookup::Replaced => replaced_page(frame),
            QrLookup::Unknown => unknown_page(frame),
        })
    })
    .await
    .unwrap_or_else(internal_error_page)
}

/// The window page's form, as posted (`application/x-www-form-urlencoded`; `reason` repeats).
/// It documents the form; the handler reads the fields itself ([`parse_form`]), since a
/// repeated field does not fit a derived form type.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct WindowRatingForm {
    /// The act offered on the page (its proof), `project` (rate by `project_no`) or `window`
    /// (the window itself, anonymously, about `item`; where the county allows it).
    #[schema(max_length = 64)]
    pub act: String,
    #[schema(max_length = 64)]
    pub project_no: Option<String>,
    /// A service item of the window's department (with `act=window`).
    #[schema(max_length = 64)]
    pub item: Option<String>,
    pub level: Level,
    /// Indicator codes of the catalogue; at least one for 不满意 and 非常不满意.
    #[schema(schema_with = hcp_core::validate::caps::indicator_codes)]
    pub reason: Vec<String>,
    #[schema(max_length = 2000)]
    pub text: Option<String>,
    /// An 11-digit mobile number for the call-back of a 差评 (optional): it is sent a code,
    /// and taken only when the code comes back through the tracking link.
    #[schema(max_length = 64)]
    pub phone: Option<String>,
}

/// The form's fields; `reason` may repeat, which a derived form type cannot take.
fn parse_form(body: &[u8]) -> Filled {
    let mut filled = Filled::default();
    for (key, value) in form_urlencoded::parse(body) {
        let value = value.into_owned();
        match key.as_ref() {
            "act" => filled.act = value,
            "project_no" => filled.project_no = value,
            "item" => filled.item = value,
            "level" => filled.level = value,
            "reason" if filled.reasons.len() < hcp_core::validate::caps::LIST_ITEMS => {
                filled.reasons.push(value)
            }
            "text" => filled.text = value,
            "phone" => filled.phone = value,
            _ => {}
        }
    }
    filled
}

fn thanks_page(frame: Frame<'_>, rated: &QrRated) -> Response {
    let mut body = String::from(
        "<h1>感谢您的评价</h1><p class=\"ok\">您的评价已提交。感谢您对政务服务工作的支持与监督！</p>",
    );
    if let Some(url) = &rated.tracking_url {
        body.push_str(&format!(
            "<h2>跟踪整改进度</h2><p>您的差评已转交责任单位限期核实整改。请保存下面的链接（勿转发他人），随时查看办理进度，整改后还可对整改情况作出评价：</p>\
             <a class=\"button\" href=\"{url}\">查看办理进度</a><p class=\"hint\">{url}</p>",
            url = escape(url)
        ));
    }
    match &rated.phone {
        Some(phone) if phone.state == crate::app::contact::PhoneState::CodeSent => {
            body.push_str(&format!(
                "<p class=\"ok\">验证码已发送至 {}。请在办理进度页面输入验证码，确认后整改结果将短信告知并电话回访。</p>",
                escape(&phone.masked)
            ));
        }
        Some(phone) => body.push_str(&format!(
            "<p class=\"hint\">{} 今日的验证码次数已用完，未能发送验证码；您仍可通过上面的链接查看办理进度。</p>",
            escape(&phone.masked)
        )),
        None => {}
    }
    body.push_str(&format!(
        "<p><a href=\"{}{}\">返回本窗口评价页</a></p>",
        escape(frame.switch.unwrap_or_default()),
        frame.query()
    ));
    citizen::page(StatusCode::OK, frame, "感谢您的评价", &body)
}

/// Rate through a window's QR code (the page's form): a service act the page offered, a case by
/// its project number, or the window itself where the county allows it; a 差评 needs at least
/// one reason. Answered with a page: thanks (with the tracking link of a 差评's work order), or
/// the form again saying what to fix. Only the first rating of an act is taken.
#[utoipa::path(
    post, path = "/w/{token}", tag = "public",
    params(
        ("token" = String, Path, description = "The token of the window's QR code"),
        ("big" = Option<u8>, Query, description = "1: the elderly mode", minimum = 0, maximum = 1),
    ),
    request_body(content = WindowRatingForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "recorded: the thank-you page", content_type = "text/html"),
        (status = 403, description = "the county takes no rating of the window without a service act", content_type = "text/html"),
        (status = 404, description = "an unknown code, or no such act at this window", content_type = "text/html"),
        (status = 409, description = "the service is already rated", content_type = "text/html"),
        (status = 410, description = "a replaced code", content_type = "text/html"),
        (status = 422, description = "the form again, saying what to fix (a 差评 without a reason)", content_type = "text/html"),
        (status = 429, description = "too many posts from this address: retry after `Retry-After` seconds", content_type = "text/html"),
    )
)]
pub async fn window_rate(
    State(platform): State<Platform>,
    Path(token): Path<String>,
    Query(mode): Query<Mode>,
    address: ClientAddr,
    body: Bytes,
) -> Response {
    if let Err(wait) = platform.limits.public_posts.take(&address.0) {
        return super::outreach::too_many_page(wait);
    }
    blocking(move || {
        let frame = frame(&token, mode.big());
        let info = match window_qr::resolve(&platform, &token)? {
            QrLookup::Window(info) => info,
            QrLookup::Replaced => return Ok(replaced_page(frame)),
            QrLookup::Unknown => return Ok(unknown_page(frame)),
        };
        let filled = parse_form(&body);
        let again = |status: StatusCode, notice: &str| {
            form_page(&platform, &info, frame, status, Some(notice), &filled)
        };
        let Ok(level) = serde_json::from_value::<Level>(serde_json::Value::String(
            filled.level.clone(),
        )) else {
            return again(StatusCode::UNPROCESSABLE_ENTITY, "请选择评价等级。");
        };
        let subject = match filled.act.as_str() {
            "" => {
                return again(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "请选择您刚办理的服务，或输入办件号。",
                );
            }
            "project" if filled.project_no.trim().is_empty() => {
                return again(StatusCode::UNPROCESSABLE_ENTITY, "请输入办件号。");
            }
            "project" => QrSubject::Project(filled.project_no.clone()),
            "window" => QrSubject::Window {
                task_code: filled.item.clone(),
            },
            proof => QrSubject::Act(proof.to_string()),
        };
        let rating = QrRating {
            subject,
            level,
            indicators: filled.reasons.clone(),
            text: Some(filled.text.clone()),
            phone: Some(filled.phone.trim().to_string()).filter(|phone| !phone.is_empty()),
        };
        match window_qr::rate(&platform, &info, rating) {
            Ok(rated) => Ok(thanks_page(frame, &rated)),
            Err(ApiError::Conflict(_)) => Ok(citizen::message(
                StatusCode::CONFLICT,
                frame,
                "本次服务已评价",
                "本次服务已有评价，无需重复评价。感谢您对政务服务工作的支持！",
            )),
            Err(ApiError::NotFound(message)) => again(StatusCode::NOT_FOUND, &message),
            Err(ApiError::Forbidden(message)) => again(StatusCode::FORBIDDEN, &message),
            Err(ApiError::Unprocessable(Reason { code, .. })) if code == REASON_REQUIRED => again(
                StatusCode::UNPROCESSABLE_ENTITY,
                "选择“不满意”或“非常不满意”时，请至少选择一项原因，以便相关部门核实整改。",
            ),
            Err(ApiError::Unprocessable(Reason { code, .. })) if code == window_qr::INVALID_PHONE => again(
                StatusCode::UNPROCESSABLE_ENTITY,
                "手机号应为 11 位数字；不需要回访可以不填。",
            ),
            Err(ApiError::Unprocessable(Reason { code, .. })) if code == "invalid_field" => again(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("请检查填写内容：补充说明请不要超过 {MAX_TEXT_CHARS} 字。"),
            ),
            Err(ApiError::Unprocessable(reason)) => {
                tracing::warn!(code = %reason.code, message = %reason.message, "window rating refused");
                again(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "评价未能提交，请检查填写内容后重试。",
                )
            }
            Err(error) => Err(error),
        }
    })
    .await
    .unwrap_or_else(internal_error_page)
}

// ---------------------------------------------------------------------------------------------
// Administrators: the windows' codes and posters

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WindowsQuery {
    /// A hall, department or region: its windows (a department's wherever they sit).
    #[param(max_length = 64)]
    pub unit: String,
}

/// The windows of a hall, department or region within the caller's scope, with the URL each
/// one's QR code carries.
#[utoipa::path(
    get, path = "/api/v1/windows/qr", tag = "admin",
    params(WindowsQuery, PageQuery),
    responses((status = 200, body = Page<WindowQrView>), (status = 403, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn list_windows(
    State(platform): State<Platform>,
    auth: Auth,
    Query(query): Query<WindowsQuery>,
    Query(paging): Query<PageQuery>,
) -> Result<Json<Page<WindowQrView>>, ApiError> {
    blocking(move || {
        let windows = window_qr::windows_under(&platform, &auth.0, &query.unit)?;
        Ok(Json(Page::of(windows, &paging)?))
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct WindowPath {
    /// The window's code.
    pub id: String,
}

/// Issues a window's QR code anew: the old code stops working at once (its page says it was
/// replaced), so print and post the new poster.
#[utoipa::path(
    post, path = "/api/v1/windows/{id}/qr/rotate", tag = "admin",
    params(WindowPath),
    responses((status = 200, body = WindowQrView), (status = 404, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn rotate(
    State(platform): State<Platform>,
    auth: Auth,
    Path(WindowPath { id }): Path<WindowPath>,
) -> Result<Json<WindowQrView>, ApiError> {
    blocking(move || Ok(Json(window_qr::rotate(&platform, &auth.0, &id)?))).await
}

fn download(content_type: &'static str, name: &str, bytes: Vec<u8>) -> Response {
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// A window with its code's URL, for a poster: 409 before its first code.
fn with_url(view: WindowQrView) -> Result<(WindowQrView, String), ApiError> {
    match view.url.clone() {
        Some(url) => Ok((view, url)),
        None => Err(ApiError::Conflict(format!(
            "window {} has no QR code yet: rotate it to issue one",
            view.window
        ))),
    }
}

/// The poster of one window as SVG (A5; the console draws it onto a canvas for a PNG).
#[utoipa::path(
    get, path = "/api/v1/windows/{id}/poster.svg", tag = "admin",
    params(WindowPath),
    responses(
        (status = 200, description = "the poster", content_type = "image/svg+xml"),
        (status = 404, body = super::ErrorBody),
    ),
    security(("session" = []))
)]
pub async fn poster_svg(
    State(platform): State<Platform>,
    auth: Auth,
    Path(WindowPath { id }): Path<WindowPath>,
) -> Result<Response, ApiError> {
    blocking(move || {
        let window = window_qr::window_for(&platform, &auth.0, &id)?;
        let (view, url) = with_url(window_qr::view(&platform, window)?)?;
        let svg = posters::svg(&view, &url)?;
        Ok(download(
            "image/svg+xml",
            "window-poster.svg",
            svg.into_bytes(),
        ))
    })
    .await
}

/// The poster of one window as a print-ready PDF (one A5 page, the code in vector squares).
#[utoipa::path(
    get, path = "/api/v1/windows/{id}/poster.pdf", tag = "admin",
    params(WindowPath),
    responses(
        (status = 200, description = "the poster", content_type = "application/pdf"),
        (status = 404, body = super::ErrorBody),
    ),
    security(("session" = []))
)]
pub async fn poster_pdf(
    State(platform): State<Platform>,
    auth: Auth,
    Path(WindowPath { id }): Path<WindowPath>,
) -> Result<Response, ApiError> {
    blocking(move || {
        let window = window_qr::window_for(&platform, &auth.0, &id)?;
        let poster = with_url(window_qr::view(&platform, window)?)?;
        Ok(download(
            "application/pdf",
            "window-poster.pdf",
            posters::pdf(&[poster])?,
        ))
    })
    .await
}

/// The posters of every window of a hall, department or region with a code, one A5 page each.
#[utoipa::path(
    get, path = "/api/v1/windows/posters.pdf", tag = "admin",
    params(WindowsQuery),
    responses(
        (status = 200, description = "the posters", content_type = "application/pdf"),
        (status = 403, body = super::ErrorBody),
        (status = 404, description = "no window with a code under the unit", body = super::ErrorBody),
    ),
    security(("session" = []))
)]
pub async fn posters_pdf(
    State(platform): State<Platform>,
    auth: Auth,
    Query(query): Query<WindowsQuery>,
) -> Result<Response, ApiError> {
    blocking(move || {
        let posters: Vec<(WindowQrView, String)> =
            window_qr::windows_under(&platform, &auth.0, &query.unit)?
                .into_iter()
                .filter_map(|view| view.url.clone().map(|url| (view, url)))
                .collect();
        if posters.is_empty() {
            return Err(ApiError::NotFound(format!(
                "no window with a QR code under {}",
                query.unit
            )));
        }
        Ok(download(
            "application/pdf",
            "window-posters.pdf",
            posters::pdf(&posters)?,
        ))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_repeat_in_the_form() {
        let filled = parse_form(b"act=project&project_no=BF%2D1&level=dissatisfied&reason=501&reason=510&text=%E6%8E%92%E9%98%9F+%E4%B9%85");
        assert_eq!(filled.act, "project");
        assert_eq!(filled.project_no, "BF-1");
        assert_eq!(filled.reasons, ["501", "510"]);
        assert_eq!(filled.text, "排队 久");
    }
}
