//! The citizen's side of a work order: an opaque link (`/t/{token}`, sent by SMS or handed over
//! at intake) shows the order's progress through its phases and, once the unit has fed back,
//! lets the citizen rate the rectification. No sign-in, and nothing personal on the page: no
//! names, numbers or staff, only the order's phases, dates and the unit's answers.

use super::citizen::{Frame, Mode};
use super::extract::{ClientAddr, Form, Json, Path, PublicPost, Query};
use crate::app::contact::ConfirmedPhone;
use axum::Router;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use hcp_core::calendar::china_tz;
use hcp_core::policy::PhaseKind;
use hcp_core::workflow::{
    ClosureOutcome, EvaluationVia, Order, OrderChange, OrderState, RectificationLevel,
};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::outreach::escape;
use super::{ApiError, blocking};
use crate::app::platform::Platform;

#[derive(OpenApi)]
#[openapi(paths(track, evaluate, confirm_phone))]
pub struct Doc;

pub fn routes(platform: &Platform) -> Router<Platform> {
    Router::new()
        .route("/api/v1/track/{token}", get(track))
        .route("/t/{token}", get(page).post(page_post))
        .route_layer(axum::middleware::from_fn_with_state(
            platform.clone(),
            super::extract::public_reads,
        ))
        .route("/api/v1/track/{token}/evaluation", post(evaluate))
        .route("/api/v1/track/{token}/confirm-phone", post(confirm_phone))
}

/// One phase as the citizen sees it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TrackPhase {
    pub phase: String,
    pub label: String,
    /// Absent while the phase waits for next year's official holiday table.
    pub due: Option<DateTime<Utc>>,
    /// Counted on a provisional calendar (next year's official holidays are not published
    /// yet): the date may move by a day or two when they are.
    #[serde(default)]
    pub provisional: bool,
    pub done_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TrackStep {
    pub at: DateTime<Utc>,
    pub label: String,
}

/// What the tracking link shows.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TrackView {
    pub order_id: u64,
    /// 差评 / 投诉 / 意见建议 / 诉求
    pub kind: String,
    pub state: OrderState,
    pub state_label: String,
    /// Names of the service item and the responsible unit, when known.
    pub item: Option<String>,
    pub unit: Option<String>,
    pub received_at: DateTime<Utc>,
    pub phases: Vec<TrackPhase>,
    pub steps: Vec<TrackStep>,
    /// The unit's answer: the feedback, the explanation or the reply.
    pub answer: Option<String>,
    /// The rectification can be rated now.
    pub can_rate: bool,
    /// `139****5678`: a confirmation code was sent to the number given with the 差评 or
    /// intake and can be entered now (`POST /api/v1/track/{token}/confirm-phone`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_sent_to: Option<String>,
}

fn state_label(state: OrderState) -> &'static str {
    match state {
        OrderState::Dispatched => "已派单，等待责任单位受理",
        OrderState::Accepted => "已受理，正在核实",
        OrderState::Verified => "已核实，正在确定处理方式",
        OrderState::Rectifying => "整改中",
        OrderState::Appealing => "责任单位已申诉，复核中",
        OrderState::Rectified => "已整改，等待反馈",
        OrderState::FeedbackGiven => "已反馈，请您评价整改情况",
        OrderState::CalledBack => "已回访，等待结案",
        OrderState::Closed => "已办结",
    }
}

fn phase_label(phase: PhaseKind) -> &'static str {
    match phase {
        PhaseKind::Contact => "联系您",
        PhaseKind::Verify => "核实",
        PhaseKind::Rectify => "整改",
        PhaseKind::Feedback => "反馈",
        PhaseKind::Callback => "回访",
        PhaseKind::Appeal => "申诉期",
    }
}

fn step_label(action: &str) -> Option<&'static str> {
    Some(match action {
        "dispatch" => "派单至责任单位",
        "intake" => "登记受理",
        "accept" => "责任单位受理",
        "request_transfer" => "申请转办",
        "decide_transfer" => "转办决定",
        "contact" => "已与您联系",
        "verify" => "核实完成",
        "dispose" => "确定处理方式",
        "rectified" => "整改完成",
        "appeal" => "责任单位申诉",
        "decide_appeal" => "申诉复核结论",
        "feedback" => "反馈处理结果",
        "evaluate" => "您评价了整改情况",
        "callback" => "电话回访",
        "callback_by_sms" => "短信回访",
        "close" => "结案",
        "answer" => "答复",
        "link_problem" => "纳入系统性问题统一整改",
        "problem_done" => "系统性问题整改完成",
        // Flags are internal supervision; the phases show what is late.
        _ => return None,
    })
}

fn kind_label(order: &Order) -> &'static str {
    match order.kind {
        hcp_core::workflow::OrderKind::BadReview => "差评",
        hcp_core::workflow::OrderKind::Complaint => "投诉",
        hcp_core::workflow::OrderKind::Suggestion => "意见建议",
        hcp_core::workflow::OrderKind::Request => "诉求",
    }
}

fn can_rate(order: &Order) -> bool {
    order.state == OrderState::FeedbackGiven && order.evaluation.is_none()
}

fn load(platform: &Platform, token: &str) -> Result<Order, ApiError> {
    crate::app::tokens::order_of_tracking_token(platform, token)
}

fn track_view(platform: &Platform, order: &Order) -> Result<TrackView, ApiError> {
    let store = &platform.store;
    let item = if order.task_code.is_empty() {
        None
    } else {
        store.item(&order.task_code)?.map(|item| item.name)
    };
    let unit = store.org_unit(&order.unit)?.map(|unit| unit.name);
    // The unit's answer is written by its staff for the citizen, but whoever holds the link
    // reads it: names of the platform's people and every number in it are struck, as on the
    // public pages.
    let masker = crate::app::disclosure::Masker::new(platform)?;
    let answer = order
        .history
        .iter()
        .rev()
        .find(|step| matches!(step.action.as_str(), "feedback" | "answer" | "problem_done"))
        .map(|step| step.note.clone())
        .or_else(|| match &order.closure {
            Some(closure) if closure.outcome == ClosureOutcome::AppealUpheld => {
                Some(format!("经复核，申诉成立：{}", closure.action_taken))
            }
            _ => None,
        })
        .map(|answer| masker.text(&answer, &[]));
    Ok(TrackView {
        order_id: order.id,
        kind: kind_label(order).into(),
        state: order.state,
        state_label: state_label(order.state).into(),
        item,
        unit,
        received_at: order.received_at,
        phases: {
            let name = |phase: PhaseKind| {
                serde_json::to_value(phase)
                    .ok()
                    .and_then(|value| value.as_str().map(String::from))
                    .unwrap_or_default()
            };
            let mut phases: Vec<(PhaseKind, TrackPhase)> = order
                .deadlines
                .iter()
                .filter(|d| d.phase != PhaseKind::Appeal)
                .map(|d| {
                    (
                        d.phase,
                        TrackPhase {
                            phase: name(d.phase),
                            label: phase_label(d.phase).into(),
                            due: Some(d.due),
                            provisional: d.provisional,
                            done_at: d.done_at,
                        },
                    )
                })
                .chain(
                    order
                        .awaiting
                        .iter()
                        .filter(|waiting| waiting.phase != PhaseKind::Appeal)
                        .map(|waiting| {
                            (
                                waiting.phase,
                                TrackPhase {
                                    phase: name(waiting.phase),
                                    label: phase_label(waiting.phase).into(),
                                    due: None,
                                    provisional: false,
                                    done_at: order
                                        .untimed_done
                                        .iter()
                                        .find(|(phase, _)| *phase == waiting.phase)
                                        .map(|(_, at)| *at),
                                },
                            )
                        }),
                )
                .collect();
            phases.sort_by_key(|(phase, _)| *phase);
            phases.into_iter().map(|(_, phase)| phase).collect()
        },
        steps: order
            .history
            .iter()
            .filter_map(|step| {
                step_label(&step.action).map(|label| TrackStep {
                    at: step.at,
                    label: label.into(),
                })
            })
            .collect(),
        answer,
        can_rate: can_rate(order),
        code_sent_to: platform.limits.phone_codes.waiting(order.id),
    })
}

/// A bad review, complaint or suggestion followed through its opaque link.
#[utoipa::path(
    get, path = "/api/v1/track/{token}", tag = "public",
    params(("token" = String, Path, description = "The opaque token of the link")),
    responses((status = 200, body = TrackView), (status = 404, body = super::ErrorBody))
)]
pub async fn track(
    State(platform): State<Platform>,
    Path(token): Path<String>,
) -> Result<Json<TrackView>, ApiError> {
    blocking(move || {
        let order = load(&platform, &token)?;
        Ok(Json(track_view(&platform, &order)?))
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EvaluationRequest {
    /// `satisfied`, `basically_satisfied` or `dissatisfied` (reopens the order).
    pub level: RectificationLevel,
}

fn record_evaluation(
    platform: &Platform,
    token: &str,
    level: RectificationLevel,
) -> Result<Order, ApiError> {
    let order = load(platform, token)?;
    if !can_rate(&order) {
        return Err(ApiError::Conflict(
            "现在不能评价：整改结果尚未反馈，或已经评价过".into(),
        ));
    }
    let step = OrderChange::Evaluate {
        level,
        via: EvaluationVia::Link,
        deadlines: Vec::new(),
        awaiting: Vec::new(),
    };
    let (step, decision) = crate::app::orders::with_reopen_deadlines(platform, &order, step);
    crate::app::orders::change(platform, "evaluator", order.id, step, decision)
}

/// The citizen rates the rectification: 满意, 基本满意 or 不满意 (which reopens the order).
#[utoipa::path(
    post, path = "/api/v1/track/{token}/evaluation", tag = "public",
    params(("token" = String, Path, description = "The opaque token of the link")),
    request_body = EvaluationRequest,
    responses((status = 200, body = TrackView), (status = 409, body = super::ErrorBody))
)]
pub async fn evaluate(
    State(platform): State<Platform>,
    _: PublicPost,
    Path(token): Path<String>,
    Json(request): Json<EvaluationRequest>,
) -> Result<Json<TrackView>, ApiError> {
    blocking(move || {
        let order = record_evaluation(&platform, &token, request.level)?;
        Ok(Json(track_view(&platform, &order)?))
    })
    .await
}

fn local(at: DateTime<Utc>) -> String {
    at.with_timezone(&china_tz())
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

fn render(view: &TrackView, frame: Frame<'_>, notice: Option<&str>) -> String {
    let mut phases = String::new();
    let mut provisional = false;
    for phase in &view.phases {
        let status = match (phase.done_at, phase.due) {
            (Some(done), Some(due)) if done >= due => format!("已完成（{}，超期）", local(done)),
            (Some(done), _) => format!("已完成（{}）", local(done)),
            (None, _) => "进行中".into(),
        };
        let due = match phase.due {
            Some(due) if phase.provisional => {
                provisional = true;
                format!("{}前（暂定）", local(due))
            }
            Some(due) => format!("{}前", local(due)),
            None => "待定（待公布节假日安排后计算）".into(),
        };
        phases.push_str(&format!(
            "<tr><td>{}</td><td>{due}</td><td>{status}</td></tr>",
            phase.label
        ));
    }
    if provisional {
        phases.push_str(
            "<tr><td colspan=\"3\" class=\"note\">暂定：下一年度节假日安排尚未公布，期限暂按法定节假日计算，公布后可能调整一两天。</td></tr>",
        );
    }
    let mut steps = String::new();
    for step in &view.steps {
        steps.push_str(&format!(
            "<li><span>{}</span> {}</li>",
            local(step.at),
            step.label
        ));
    }
    let answer = view
        .answer
        .as_deref()
        .map(|answer| {
            format!(
                "<h2>处理结果</h2><p class=\"answer\">{}</p>",
                escape(answer)
            )
        })
        .unwrap_or_default();
    let form = if view.can_rate {
        "<h2>请您评价整改情况</h2><form method=\"post\" class=\"choices\">\
         <button name=\"level\" value=\"satisfied\">满意</button>\
         <button name=\"level\" value=\"basically_satisfied\">基本满意</button>\
         <button name=\"level\" value=\"dissatisfied\">不满意</button></form>\
         <p class=\"hint\">选择“不满意”后，责任单位将重新整改。</p>"
            .to_string()
    } else {
        String::new()
    };
    let notice = notice
        .map(|notice| format!("<p class=\"ok\">{}</p>", escape(notice)))
        .unwrap_or_default();
    // Posted to the page itself (`/t/<token>`), like the rating form.
    let confirm = match &view.code_sent_to {
        Some(masked) => format!(
            "<h2>确认手机号</h2><p>验证码已发送至 {masked}。输入验证码后，办理进度和整改结果将以短信告知您，并可电话回访。</p>\
             <form method=\"post\" class=\"phone\"><label for=\"code\">短信验证码</label>\
             <input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" maxlength=\"6\" required>\
             <button type=\"submit\">确认</button></form>",
            masked = escape(masked),
        ),
        None => String::new(),
    };
    let about = [view.item.as_deref(), view.unit.as_deref()]
        .into_iter()
        .flatten()
        .map(escape)
        .collect::<Vec<_>>()
        .join(" · ");
    let title = format!("{}办理进度", view.kind);
    let body = format!(
        "<h1>您的{kind}（工单 {id}）</h1>{notice}\
         <p class=\"state\">{state}</p><p>{about}</p><p>收到时间：{received}</p>\
         {confirm}<h2>办理时限</h2><table>{phases}</table><h2>办理过程</h2><ul class=\"steps\">{steps}</ul>{answer}{form}\
         <p class=\"hint\">本页面不含任何个人信息。请勿转发此链接。</p>",
        kind = view.kind,
        id = view.order_id,
        state = view.state_label,
        received = local(view.received_at),
    );
    super::citizen::html(frame, &title, &body)
}

/// The tracking page.
pub async fn page(
    State(platform): State<Platform>,
    Path(token): Path<String>,
    Query(mode): Query<Mode>,
) -> Response {
    let frame_token = token.clone();
    let frame = Frame {
        big: mode.big(),
        switch: Some(&frame_token),
        public: false,
    };
    let result = blocking(move || {
        let order = load(&platform, &token)?;
        track_view(&platform, &order)
    })
    .await;
    match result {
        Ok(view) => Html(render(&view, frame, None)).into_response(),
        Err(error) => error_page(error, frame),
    }
}

/// What the tracking page posts: the rating of the rectification, or the code of the number.
#[derive(Debug, Deserialize)]
pub struct PageForm {
    level: Option<RectificationLevel>,
    code: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PhoneCode {
    /// The 6 digits sent by SMS to the number given at the intake.
    #[schema(max_length = 64, pattern = "^\\s*[0-9]{6}\\s*$")]
    pub code: String,
}

/// Confirms the number given at the intake with the code sent to it: from then on the platform
/// texts it the order's progress. A few wrong codes lock the confirmation (409) and the number
/// stays untexted; a code is valid for minutes only.
#[utoipa::path(
    post, path = "/api/v1/track/{token}/confirm-phone", tag = "public",
    params(("token" = String, Path, description = "The opaque token of the link")),
    request_body = PhoneCode,
    responses(
        (status = 200, body = ConfirmedPhone),
        (status = 404, body = super::ErrorBody),
        (status = 409, description = "no code waits for the order (never sent, expired, used), or it was entered wrongly too often", body = super::ErrorBody),
        (status = 422, description = "not the code sent; the message says how many attempts are left", body = super::ErrorBody),
    )
)]
pub async fn confirm_phone(
    State(platform): State<Platform>,
    _: PublicPost,
    Path(token): Path<String>,
    Json(request): Json<PhoneCode>,
) -> Result<Json<ConfirmedPhone>, ApiError> {
    blocking(move || {
        Ok(Json(crate::app::contact::confirm(
            &platform,
            &token,
            &request.code,
        )?))
    })
    .await
}

/// The page's rating form.
pub async fn page_post(
    State(platform): State<Platform>,
    address: ClientAddr,
    Path(token): Path<String>,
    Query(mode): Query<Mode>,
    Form(form): Form<PageForm>,
) -> Response {
    if let Err(wait) = platform.limits.public_posts.take(&address.0) {
        return super::outreach::too_many_page(wait);
    }
    let level = match (form.level, form.code) {
        (Some(level), _) => level,
        (None, Some(code)) => return page_confirm_phone(platform, token, mode, code).await,
        (None, None) => {
            let frame = Frame {
                big: mode.big(),
                switch: Some(&token),
                public: false,
            };
            return super::citizen::message(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                frame,
                "办理进度",
                "请选择您对整改情况的评价。",
            );
        }
    };
    let frame_token = token.clone();
    let frame = Frame {
        big: mode.big(),
        switch: Some(&frame_token),
        public: false,
    };
    let target = format!("{token}{}", frame.query());
    let result = blocking(move || {
        let order = record_evaluation(&platform, &token, level)?;
        track_view(&platform, &order)
    })
    .await;
    match result {
        Ok(view) => Html(render(&view, frame, Some("感谢您的评价！"))).into_response(),
        // Relative: back to `/t/<token>` (in the same mode), behind any path prefix.
        Err(ApiError::Conflict(_)) => Redirect::to(&target).into_response(),
        Err(error) => error_page(error, frame),
    }
}

/// The code of the number given with the 差评 or intake, posted from the tracking page: the
/// page again, saying whether the number is now confirmed.
async fn page_confirm_phone(
    platform: Platform,
    token: String,
    mode: Mode,
    code: String,
) -> Response {
    let frame_token = token.clone();
    let frame = Frame {
        big: mode.big(),
        switch: Some(&frame_token),
        public: false,
    };
    let result = blocking(move || {
        let notice = match crate::app::contact::confirm(&platform, &token, &code) {
            Ok(confirmed) => format!(
                "手机号 {} 已确认，办理进度和整改结果将以短信告知您。",
                confirmed.masked
            ),
            Err(ApiError::Unprocessable(_)) => "验证码不正确，请核对短信后重新输入。".into(),
            Err(ApiError::Conflict(_)) => "验证码已失效或输错次数过多，该号码未能确认。".into(),
            Err(error) => return Err(error),
        };
        let order = load(&platform, &token)?;
        Ok((track_view(&platform, &order)?, notice))
    })
    .await;
    match result {
        Ok((view, notice)) => Html(render(&view, frame, Some(&notice))).into_response(),
        Err(error) => error_page(error, frame),
    }
}

fn error_page(error: ApiError, frame: Frame<'_>) -> Response {
    let status = match &error {
        ApiError::NotFound(_) => axum::http::StatusCode::NOT_FOUND,
        _ => axum::http::StatusCode::INTERNAL_SERVER_ERROR,
    };
    let message = match &error {
        ApiError::NotFound(message) => message.clone(),
        _ => {
            tracing::error!(%error, "tracking page");
            "系统繁忙，请稍后再试".into()
        }
    };
    super::citizen::message(status, frame, "办理进度", &message)
}
