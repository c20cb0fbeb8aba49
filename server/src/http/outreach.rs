//! Outreach over HTTP: the phone invitation of unrated services (电话邀评) at the call-back
//! workbench, outbound messages for administrators and supervisors, the invitation plan of a
//! service act, and the citizen's rating page reached from an invitation (plain server-rendered
//! HTML in Simplified Chinese, no external assets, no personal data).

use super::extract::{ClientAddr, Form, Json, Path, Query};
use axum::Router;
use axum::extract::{FromRequest, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use hcp_core::auth::{Permission, Principal, Role};
use hcp_core::calendar::local_date;
use hcp_core::event::PolicyDecision;
use hcp_core::model::{Case, Level, ServiceAct};
use hcp_core::outreach::{
    DeliveryAttempt, Message, MessageChannel, MessagePurpose, MessageState, ScheduledTask,
    ServiceCall,
};
use hcp_core::validate::{DomainError, MAX_TEXT_CHARS, Reason};
use hcp_core::workflow::CallOutcome;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::citizen::{Frame, Mode};
use super::page::{MAX_SCAN, Page, PageQuery, verdict};
use super::read::RevealRequest;
use super::{ApiError, Auth, blocking};
use crate::app::outreach::{self, RevealedApplicant, ServiceCallResult, find_act, service_subject};
use crate::app::platform::Platform;
use crate::app::scope::Target;
use crate::app::tokens::act_of_token;

#[derive(OpenApi)]
#[openapi(paths(
    call_service,
    reveal_applicant,
    list_messages,
    service_plan,
    rating_page,
    public_rate
))]
pub struct Doc;

pub fn routes(platform: &Platform) -> Router<Platform> {
    Router::new()
        .route("/r/{token}", get(rating_page))
        .route_layer(axum::middleware::from_fn_with_state(
            platform.clone(),
            super::extract::public_reads,
        ))
        .route(
            "/api/v1/calls/services/{project_no}/{service_number}",
            post(call_service),
        )
        .route(
            "/api/v1/calls/services/{project_no}/{service_number}/reveal",
            post(reveal_applicant),
        )
        .route("/api/v1/messages", get(list_messages))
        .route(
            "/api/v1/services/{project_no}/{service_number}/plan",
            get(service_plan),
        )
        .route("/api/v1/public/rate/{token}", post(public_rate))
}

/// The caller, if they make service calls: call-back agents and administrators.
fn call_agent(auth: &Auth) -> Result<Principal, ApiError> {
    if matches!(auth.0.role, Role::CallbackAgent | Role::Admin) {
        Ok(auth.0.clone())
    } else {
        Err(ApiError::Forbidden(
            "service calls are made by call-back agents".into(),
        ))
    }
}

/// A service act in a path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ActPath {
    /// 办件编号
    pub project_no: String,
    /// The act's number in the case, 1..=99.
    #[param(minimum = 1, maximum = 99)]
    pub service_number: u8,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ServiceCallRequest {
    pub outcome: CallOutcome,
    /// What the applicant said, or why the call failed. For `dissatisfied` it is the
    /// applicant's reason, required, and becomes the rating's comment (a 差评 needs one);
    /// otherwise it stays on the call.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub note: String,
}

/// Record one call of an unrated service (电话邀评). A reached applicant's answer becomes the
/// act's rating on the phone channel; after three unreachable attempts the applicant is sent
/// the SMS invitation instead; an act rated meanwhile ends the call as `already_rated`.
#[utoipa::path(
    post, path = "/api/v1/calls/services/{project_no}/{service_number}", tag = "outreach",
    params(ActPath),
    request_body = ServiceCallRequest,
    responses(
        (status = 200, body = ServiceCallResult),
        (status = 400, description = "a 不满意 answer without the applicant's reason", body = super::ErrorBody),
        (status = 403, body = super::ErrorBody),
        (status = 404, description = "no such call within the caller's scope", body = super::ErrorBody),
        (status = 409, description = "the call is finished", body = super::ErrorBody),
        (status = 422, body = super::ErrorBody),
    ),
    security(("session" = []))
)]
pub async fn call_service(
    State(platform): State<Platform>,
    auth: Auth,
    Path(ActPath {
        project_no,
        service_number,
    }): Path<ActPath>,
    Json(request): Json<ServiceCallRequest>,
) -> Result<Json<ServiceCallResult>, ApiError> {
    let principal = call_agent(&auth)?;
    blocking(move || {
        let result = outreach::call_service(
            &platform,
            &principal,
            project_no,
            service_number,
            request.outcome,
            &request.note,
        )?;
        Ok(Json(result))
    })
    .await
}

/// Reveal the applicant's number of an open service call, to call them. The reveal is recorded
/// durably in the audit trail before anything is returned.
#[utoipa::path(
    post, path = "/api/v1/calls/services/{project_no}/{service_number}/reveal", tag = "outreach",
    params(ActPath),
    request_body = RevealRequest,
    responses(
        (status = 200, body = RevealedApplicant),
        (status = 403, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody),
        (status = 409, description = "the call is finished", body = super::ErrorBody),
    ),
    security(("session" = []))
)]
pub async fn reveal_applicant(
    State(platform): State<Platform>,
    auth: Auth,
    Path(ActPath {
        project_no,
        service_number,
    }): Path<ActPath>,
    Json(request): Json<RevealRequest>,
) -> Result<Json<RevealedApplicant>, ApiError> {
    let principal = call_agent(&auth)?;
    auth.require(Permission::RevealEvaluator)?;
    blocking(move || {
        let revealed = outreach::reveal_applicant(
            &platform,
            &principal,
            project_no,
            service_number,
            &request.reason,
        )?;
        Ok(Json(revealed))
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageFilter {
    /// `queued`, `sent` or `failed`.
    pub state: Option<MessageState>,
    pub purpose: Option<MessagePurpose>,
}

/// A message as every view shows it: the number masked, the tokens of links hidden (a link
/// lets whoever holds it rate or follow a case in the citizen's place).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MessageView {
    pub id: u64,
    pub channel: MessageChannel,
    pub purpose: MessagePurpose,
    pub subject: String,
    pub to_masked: String,
    pub text: String,
    pub queued_at: DateTime<Utc>,
    pub attempts: Vec<DeliveryAttempt>,
    pub state: MessageState,
    pub next_at: Option<DateTime<Utc>>,
}

impl From<Message> for MessageView {
    fn from(message: Message) -> MessageView {
        let text = if message.purpose == MessagePurpose::Confirmation {
            redact_code(&message.text)
        } else {
            redact_links(&message.text)
        };
        MessageView {
            id: message.id,
            channel: message.channel,
            purpose: message.purpose,
            subject: message.subject,
            to_masked: message.to_masked,
            text,
            queued_at: message.queued_at,
            attempts: message.attempts,
            state: message.state,
            next_at: message.next_at,
        }
    }
}

/// Hides the digits of the code in a confirmation text (whoever reads the outbox could
/// otherwise confirm a number in its owner's place).
fn redact_code(text: &str) -> String {
    let Some((before, after)) = text.split_once("验证码") else {
        return text.to_string();
    };
    let digits = after.chars().take_while(char::is_ascii_digit).count();
    format!("{before}验证码{}{}", "*".repeat(digits), &after[digits..])
}

/// Hides the token of every `/r/…` and `/t/…` link in a text.
fn redact_links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = ["/r/", "/t/"]
        .into_iter()
        .filter_map(|marker| rest.find(marker))
        .min()
    {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let token = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(after.len());
        if token > 0 {
            out.push_str("********");
        }
        rest = &after[token..];
    }
    out.push_str(rest);
    out
}

/// Outbound messages, newest first, within the caller's scope: numbers masked, never opened in
/// a view; the tokens of links and the codes of confirmations hidden. A page looks at 5,000
/// messages at most, and may end early with a cursor.
#[utoipa::path(
    get, path = "/api/v1/messages", tag = "outreach",
    params(MessageFilter, PageQuery),
    responses((status = 200, body = Page<MessageView>), (status = 403, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn list_messages(
    State(platform): State<Platform>,
    auth: Auth,
    Query(filter): Query<MessageFilter>,
    Query(paging): Query<PageQuery>,
) -> Result<Json<Page<MessageView>>, ApiError> {
    let principal = auth.0.clone();
    crate::app::scope::ensure_role(
        &principal,
        &[Role::Admin, Role::Supervisor],
        "messages are listed for administrators and supervisors",
    )?;
    let limit = paging.limit()?;
    let before = paging.position_number()?;
    blocking(move || {
        let mut failure = None;
        let messages = platform
            .store
            .messages_page(before, limit, MAX_SCAN, |message| {
                filter.state.is_none_or(|state| state == message.state)
                    && filter
                        .purpose
                        .is_none_or(|purpose| purpose == message.purpose)
                    && verdict(
                        platform.scope().sees(&principal, Target::Message(message)),
                        &mut failure,
                    )
            })?;
        if let Some(error) = failure {
            return Err(error);
        }
        Ok(Json(Page::scanned(messages).map(MessageView::from)))
    })
    .await
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ServicePlan {
    pub project_no: String,
    pub service_number: u8,
    pub service_name: String,
    pub occurred_at: DateTime<Utc>,
    /// Ids of the act's ratings; once it is rated, nothing stays planned.
    pub ratings: Vec<u64>,
    /// The applicant's number, masked, if the business system gave one.
    pub contact: Option<String>,
    /// Invitations and the default rating still to come, earliest first.
    pub planned: Vec<ScheduledTask>,
    /// The invitation and default-rating decisions that planned them, with the rules version.
    pub decisions: Vec<PolicyDecision>,
    /// The act on the call list (电话邀评), if it was put there.
    pub call: Option<ServiceCall>,
}

/// What is planned to get one service act rated (invitations, default rating), the decisions
/// that planned it, and its call.
#[utoipa::path(
    get, path = "/api/v1/services/{project_no}/{service_number}/plan", tag = "outreach",
    params(ActPath),
    responses((status = 200, body = ServicePlan), (status = 404, body = super::ErrorBody)),
    security(("session" = []))
)]
pub async fn service_plan(
    State(platform): State<Platform>,
    auth: Auth,
    Path(ActPath {
        project_no,
        service_number,
    }): Path<ActPath>,
) -> Result<Json<ServicePlan>, ApiError> {
    let principal = auth.require(Permission::ReadRatings)?.clone();
    blocking(move || {
        let not_found =
            || ApiError::NotFound(format!("no service act {project_no}/{service_number}"));
        let Some((case, act)) = find_act(&platform, &project_no, service_number)? else {
            return Err(not_found());
        };
        if !platform.scope().sees(&principal, Target::Case(&case))? {
            return Err(not_found());
        }
        let mut planned = act.planned.clone();
        planned.sort_by_key(|task| task.at);
        Ok(Json(ServicePlan {
            decisions: platform
                .store
                .subject_decisions(&service_subject(&project_no, service_number))?,
            call: platform.store.service_call(&project_no, service_number)?,
            project_no,
            service_number,
            service_name: act.service_name,
            occurred_at: act.occurred_at,
            ratings: act.ratings,
            contact: act.contact.map(|contact| contact.masked),
            planned,
        }))
    })
    .await
}

/// `&`, `<`, `>`, `"` and `'` escaped for HTML text and attributes.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page, in the citizens' look ([`super::citizen`]). Its URL carries the link's token:
/// `http::headers` keeps it out of caches, referrers and search engines, and its content policy
/// allows nothing from elsewhere.
fn html_page(status: StatusCode, frame: Frame<'_>, title: &str, body: &str) -> Response {
    super::citizen::page(status, frame, title, body)
}

fn message_page(status: StatusCode, frame: Frame<'_>, title: &str, text: &str) -> Response {
    super::citizen::message(status, frame, title, text)
}

/// A citizen's page over an abuse limit: 429 with `Retry-After`, in Chinese, as a page.
pub(super) fn too_many_page(wait: std::time::Duration) -> Response {
    let seconds = crate::app::limits::seconds(wait);
    let mut response = message_page(
        StatusCode::TOO_MANY_REQUESTS,
        Frame::plain(),
        "操作过于频繁",
        &format!("您的操作过于频繁，请约 {seconds} 秒后再试。"),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, axum::http::HeaderValue::from(seconds));
    response
}

fn invalid_link_page(frame: Frame<'_>) -> Response {
    message_page(
        StatusCode::NOT_FOUND,
        frame,
        "链接无效",
        "该评价链接无效或不完整，请核对短信中的链接。",
    )
}

fn already_rated_page(frame: Frame<'_>) -> Response {
    message_page(
        StatusCode::CONFLICT,
        frame,
        "本次服务已评价",
        "本次服务已有评价，无需重复评价。感谢您对政务服务工作的支持！",
    )
}

/// What the page shows about the act: the item, the service, the department and the day, all
/// master data or reported by the business system; nothing about the applicant.
struct ActSummary {
    item: String,
    service: String,
    department: String,
    date: String,
}

fn summary(platform: &Platform, case: &Case, act: &ServiceAct) -> Result<ActSummary, ApiError> {
    Ok(ActSummary {
        item: platform
            .store
            .item(&case.task_code)?
            .map(|item| item.name)
            .unwrap_or_else(|| "政务服务事项".into()),
        service: act.service_name.clone(),
        department: platform
            .store
            .org_unit(&case.department)?
            .map(|unit| unit.name)
            .unwrap_or_default(),
        date: local_date(act.occurred_at)
            .format("%Y年%m月%d日")
            .to_string(),
    })
}

/// The rating form; `action` is where it posts, relative to the page's own address.
fn form_page(
    status: StatusCode,
    frame: Frame<'_>,
    act: &ActSummary,
    action: &str,
    notice: Option<&str>,
) -> Response {
    let mut body = String::from("<h1>服务评价</h1><dl class=\"act\">");
    for (label, value) in [
        ("办理事项", &act.item),
        ("服务环节", &act.service),
        ("办理部门", &act.department),
        ("办结日期", &act.date),
    ] {
        if !value.is_empty() {
            body.push_str(&format!("<dt>{label}</dt><dd>{}</dd>", escape(value)));
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
        "<form method=\"post\" action=\"{}{}\"><fieldset class=\"levels\"><legend>您对本次服务的评价</legend>",
        escape(action),
        frame.query()
    ));
    for level in Level::ALL {
        let value = serde_json::to_value(level)
            .ok()
            .and_then(|value| value.as_str().map(String::from))
            .unwrap_or_default();
        body.push_str(&format!(
            "<label class=\"level\"><input type=\"radio\" name=\"level\" value=\"{value}\" required> {}</label>",
            level.label_zh()
        ));
    }
    body.push_str(&format!(
        "</fieldset><label for=\"text\">评价内容（选择“不满意”或“非常不满意”时必填，请写明原因）</label>\
         <textarea id=\"text\" name=\"text\" rows=\"4\" maxlength=\"{MAX_TEXT_CHARS}\"></textarea>\
         <p class=\"hint\">评价完全自愿。请勿在评价内容中填写身份证号、手机号等个人信息；如您不满意，相关部门将与您联系核实并整改。</p>\
         <button type=\"submit\">提交评价</button></form>"
    ));
    html_page(status, frame, "服务评价", &body)
}

/// The page of a genuine, still unrated act's link. Blocking.
fn rating_form(
    platform: &Platform,
    token: &str,
    frame: Frame<'_>,
    action: &str,
    status: StatusCode,
    notice: Option<&str>,
) -> Result<Response, ApiError> {
    let Some((project_no, service_number)) = act_of_token(platform.store.pii(), token) else {
        return Ok(invalid_link_page(frame));
    };
    let Some((case, act)) = find_act(platform, &project_no, service_number)? else {
        return Ok(invalid_link_page(frame));
    };
    if !act.ratings.is_empty() {
        return Ok(already_rated_page(frame));
    }
    Ok(form_page(
        status,
        frame,
        &summary(platform, &case, &act)?,
        action,
        notice,
    ))
}

fn internal_error_page(error: ApiError) -> Response {
    tracing::error!(%error, "rating page failed");
    message_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        Frame::plain(),
        "系统繁忙",
        "系统暂时无法处理，请稍后再次打开短信中的链接。",
    )
}

/// The citizen's rating page, reached from an invitation: the rated service (item, service,
/// department, day), the five levels and a comment (required for 不满意 and 非常不满意).
/// Unauthenticated; the token is the proof. No personal data is shown.
#[utoipa::path(
    get, path = "/r/{token}", tag = "public",
    params(
        ("token" = String, Path, description = "The token of the invitation link"),
        ("big" = Option<u8>, Query, description = "1: the elderly mode (bigger text, higher contrast)", minimum = 0, maximum = 1),
    ),
    responses(
        (status = 200, description = "the rating form", content_type = "text/html"),
        (status = 404, description = "an unknown or forged link", content_type = "text/html"),
        (status = 409, description = "the service is already rated", content_type = "text/html"),
        (status = 429, description = "too many reads from this address: retry after `Retry-After` seconds", content_type = "text/html"),
    )
)]
pub async fn rating_page(
    State(platform): State<Platform>,
    Path(token): Path<String>,
    Query(mode): Query<Mode>,
) -> Response {
    // The form posts from `/r/<token>` to `/api/v1/public/rate/<token>`, relative so that the
    // page works behind a path prefix.
    let action = format!("../api/v1/public/rate/{token}");
    blocking(move || {
        let frame = Frame {
            big: mode.big(),
            switch: Some(&token),
            public: false,
        };
        rating_form(&platform, &token, frame, &action, StatusCode::OK, None)
    })
    .await
    .unwrap_or_else(internal_error_page)
}

/// A rating given through an invitation link.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PublicRating {
    pub level: Level,
    /// Required for 不满意 and 非常不满意.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub text: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublicRated {
    pub rating_id: u64,
}

/// Rate a service through an invitation link: a form post from the rating page (answered with
/// a page) or JSON (answered with JSON). Only the first rating of the act is taken.
#[utoipa::path(
    post, path = "/api/v1/public/rate/{token}", tag = "public",
    params(("token" = String, Path, description = "The token of the invitation link")),
    request_body(content = PublicRating, description = "JSON, or the page's form (application/x-www-form-urlencoded)"),
    responses(
        (status = 201, description = "recorded (JSON)", body = PublicRated),
        (status = 200, description = "recorded (form: the thank-you page)", content_type = "text/html"),
        (status = 404, description = "an unknown or forged link", body = super::ErrorBody),
        (status = 409, description = "the service is already rated", body = super::ErrorBody),
        (status = 422, description = "a 差评 without a comment, or refused", body = super::ErrorBody),
    )
)]
pub async fn public_rate(
    State(platform): State<Platform>,
    Path(token): Path<String>,
    address: ClientAddr,
    request: Request,
) -> Response {
    let big = request
        .uri()
        .query()
        .is_some_and(|query| query.split('&').any(|pair| pair == "big=1"));
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if let Err(wait) = platform.limits.public_posts.take(&address.0) {
        return if is_form {
            too_many_page(wait)
        } else {
            crate::app::limits::too_many("posts from this address", wait).into_response()
        };
    }
    if !is_form {
        let rating = match Json::<PublicRating>::from_request(request, &platform).await {
            Ok(Json(rating)) => rating,
            Err(rejection) => return rejection.into_response(),
        };
        return match blocking(move || {
            outreach::rate_by_link(&platform, &token, rating.level, rating.text)
        })
        .await
        {
            Ok(rating_id) => (StatusCode::CREATED, Json(PublicRated { rating_id })).into_response(),
            Err(error) => error.into_response(),
        };
    }
    let rating = match Form::<PublicRating>::from_request(request, &platform).await {
        Ok(Form(rating)) => rating,
        Err(_) => {
            // The form as the page sent it, without a level: ask again.
            return blocking(move || {
                let frame = Frame {
                    big,
                    ..Frame::plain()
                };
                rating_form(
                    &platform,
                    &token,
                    frame,
                    &token,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some("请选择评价等级。"),
                )
            })
            .await
            .unwrap_or_else(internal_error_page);
        }
    };
    blocking(move || {
        let frame = Frame {
            big,
            ..Frame::plain()
        };
        let again = |notice: &str| {
            // Posted to `/api/v1/public/rate/<token>`: the form posts to the same address.
            rating_form(
                &platform,
                &token,
                frame,
                &token,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(notice),
            )
        };
        match outreach::rate_by_link(&platform, &token, rating.level, rating.text) {
            Ok(_) => Ok(message_page(
                StatusCode::OK,
                frame,
                "感谢您的评价",
                "您的评价已提交。感谢您对政务服务工作的支持与监督！",
            )),
            Err(ApiError::NotFound(_)) => Ok(invalid_link_page(frame)),
            Err(ApiError::Conflict(_)) => Ok(already_rated_page(frame)),
            Err(ApiError::Unprocessable(Reason { code, .. }))
                if code == DomainError::BadReviewWithoutDetail.code() =>
            {
                again("选择“不满意”或“非常不满意”时，请填写不满意的原因，以便相关部门核实整改。")
            }
            Err(ApiError::Unprocessable(Reason { code, .. })) if code == "invalid_field" => {
                again(&format!("评价内容请不要超过 {MAX_TEXT_CHARS} 字。"))
            }
            Err(ApiError::Unprocessable(reason)) => {
                tracing::warn!(code = %reason.code, message = %reason.message, "rating link refused");
                again("评价未能提交，请检查填写内容后重试。")
            }
            Err(error) => Err(error),
        }
    })
    .await
    .unwrap_or_else(internal_error_page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmation_codes_are_hidden_in_message_views() {
        assert_eq!(
            redact_code("【政务服务好差评】验证码012345，10分钟内有效。工单42"),
            "【政务服务好差评】验证码******，10分钟内有效。工单42"
        );
        assert_eq!(redact_code("没有验证码"), "没有验证码");
    }

    #[test]
    fn links_in_message_views_hide_their_tokens() {
        for (text, expected) in [
            (
                "请评价：https://hcp.example.gov.cn/r/0a1b2c3d01ff，谢谢",
                "请评价：https://hcp.example.gov.cn/r/********，谢谢",
            ),
            (
                "进度：http://x/t/abc-def_9 及 http://x/r/ff",
                "进度：http://x/t/******** 及 http://x/r/********",
            ),
            ("没有链接", "没有链接"),
            ("路径 /r/ 结尾", "路径 /r/ 结尾"),
        ] {
            assert_eq!(redact_links(text), expected, "{text}");
        }
    }

    #[tokio::test]
    async fn the_rating_form_offers_five_levels_and_asks_for_a_reason() {
        let act = ActSummary {
            item: "企业设立登记<script>".into(),
            service: "申报".into(),
            department: String::new(),
            date: "2026年03月02日".into(),
        };
        let response = form_page(
            StatusCode::OK,
            Frame::plain(),
            &act,
            "../api/v1/public/rate/ab01",
            None,
        );
        assert_eq!(response.status(), StatusCode::OK);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .map(|bytes| String::from_utf8_lossy(&bytes).to_string())
            .unwrap_or_default();
        let radios: Vec<&str> = body
            .split("name=\"level\" value=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert_eq!(
            radios,
            [
                "very_satisfied",
                "satisfied",
                "basically_satisfied",
                "dissatisfied",
                "very_dissatisfied"
            ]
        );
        for label in ["非常满意", "基本满意", "非常不满意", "请写明原因", "申报"]
        {
            assert!(body.contains(label), "{label}: {body}");
        }
        assert!(
            body.contains("action=\"../api/v1/public/rate/ab01\""),
            "{body}"
        );
        assert!(body.contains("企业设立登记&lt;script&gt;"), "{body}");
        assert!(
            !body.contains("办理部门"),
            "empty fields are left out: {body}"
        );
    }

    #[test]
    fn page_text_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
