//! The look every citizen's page shares (the window's QR page `/w/{token}`, the invitation's
//! rating page `/r/{token}`, the tracking page `/t/{token}`, the disclosure `/public`): one
//! stylesheet, one header, mobile-first with large touch targets, and the elderly mode
//! (适老化): bigger text and higher contrast, switched by a plain link (`?big=1`) at the top of
//! the page, so it works without JavaScript. No script, nothing loaded from elsewhere: a page is
//! its HTML and this one inline style, allowed by its hash (`http::headers::PAGE_STYLES`).

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::outreach::escape;

/// The one stylesheet of the citizens' pages. Sizes are in `rem`, so the elderly mode
/// (`html.big`) scales everything at once.
pub(crate) const STYLE: &str = "html{font-size:17px;-webkit-text-size-adjust:100%}html.big{font-size:22px}\
body{margin:0;background:#f4f6f8;color:#1f2329;font:1rem/1.6 system-ui,-apple-system,\"PingFang SC\",\"Microsoft YaHei\",sans-serif}\
.big body{background:#fff;color:#000}\
header.site{background:#b3261e;color:#fff}.big header.site{background:#7a1410}\
header.site div{max-width:60rem;margin:0 auto;padding:.5rem 1rem;display:flex;justify-content:space-between;align-items:center;gap:.75rem}\
header.site a{color:#fff;text-decoration:none}header.site b{font-size:1.05rem}\
header.site a.mode{border:2px solid #fff;border-radius:8px;padding:.3rem .7rem;white-space:nowrap;min-height:2.2rem;display:inline-flex;align-items:center}\
main{max-width:36rem;margin:0 auto;padding:1rem}main.wide{max-width:60rem}\
h1{font-size:1.35rem;margin:.25rem 0 .75rem;color:#b3261e}.big h1{color:#000}\
h2{font-size:1.12rem;margin:1.4rem 0 .5rem;border-bottom:2px solid #b3261e;padding-bottom:.2rem}\
a{color:#0b57d0}.big a{color:#00379e}\
.card,.act,.state,.answer{background:#fff;border-radius:10px;padding:.75rem 1rem;margin:.5rem 0}\
.big .card,.big .act,.big .state,.big .answer{border:2px solid #000}\
.state{border-left:6px solid #b3261e}.answer{white-space:pre-wrap}\
dl.act dt{color:#646a73;font-size:.9rem}dl.act dd{margin:0 0 .4rem}.big dl.act dt{color:#000}\
fieldset{border:0;padding:0;margin:1rem 0;min-width:0}legend{font-weight:600;margin-bottom:.4rem;font-size:1.05rem}\
label.opt,label.level{display:flex;align-items:center;gap:.6rem;background:#fff;border:2px solid #dde0e4;border-radius:10px;padding:.65rem .9rem;margin:.45rem 0;min-height:3rem;box-sizing:border-box;cursor:pointer}\
label.opt input,label.level input{width:1.35rem;height:1.35rem;flex:none;margin:0}\
label.opt:has(input:checked),label.level:has(input:checked){border-color:#b3261e;background:#fdecea}\
.big label.opt,.big label.level{border-color:#000}\
label.opt small{display:block;color:#646a73}.big label.opt small{color:#000}\
.levels{display:grid;grid-template-columns:1fr;gap:0}\
input[type=text],textarea,select{width:100%;box-sizing:border-box;font:inherit;padding:.6rem;border:2px solid #c9cdd4;border-radius:10px;background:#fff;color:inherit;min-height:3rem}\
.big input[type=text],.big textarea,.big select{border-color:#000}\
button,a.button{display:block;width:100%;box-sizing:border-box;margin-top:1rem;min-height:3.2rem;padding:.7rem;font:inherit;font-weight:600;font-size:1.1rem;text-align:center;text-decoration:none;color:#fff;background:#b3261e;border:0;border-radius:10px;cursor:pointer}\
.big button,.big a.button{background:#7a1410}\
.choices button{margin:.5rem 0}\
.notice{background:#fdecea;color:#8c1d18;border-radius:10px;padding:.7rem .9rem;font-weight:600}\
.ok{background:#e8f5e9;color:#1b5e20;border-radius:10px;padding:.7rem .9rem}\
.big .notice,.big .ok{border:2px solid currentColor}\
.hint,.muted,.note{color:#646a73;font-size:.9rem}.big .hint,.big .muted,.big .note{color:#000}\
table{width:100%;border-collapse:collapse;background:#fff;margin:.5rem 0}caption{text-align:left;font-weight:600;padding:.25rem 0}\
th,td{padding:.5rem .6rem;border-bottom:1px solid #e5e6eb;text-align:left;vertical-align:top}th{background:#f0f1f4}\
.big th,.big td{border-bottom:1px solid #000}\
ul.steps li span{color:#646a73;margin-right:.5rem}.big ul.steps li span{color:#000}\
.figure{font-variant-numeric:tabular-nums}nav.crumbs a{margin-right:.25rem}ul.tree{padding-left:1.2rem}ul.tree a,nav.pager a{display:inline-block;padding:.3rem 0}\
form.period label{margin-right:.5rem}form.period input{font:inherit;padding:.3rem .4rem;width:auto;min-height:2.4rem}form.period button{display:inline-block;width:auto;margin:0 0 0 .5rem;min-height:2.4rem;padding:.3rem 1rem}\
blockquote{margin:.25rem 0;padding:.25rem .75rem;border-left:3px solid #c9cdd4;background:#fff}\
footer{margin-top:1.5rem}\
@media print{header.site,form.period,nav.pager{display:none}body{background:#fff}a{color:inherit;text-decoration:none}h2{break-after:avoid}tr{break-inside:avoid}}";

/// The elderly-mode switch of a page's query string (`?big=1`).
#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub struct Mode {
    #[serde(default)]
    pub big: Option<u8>,
}

impl Mode {
    pub fn big(self) -> bool {
        self.big == Some(1)
    }
}

/// How a page is framed: its mode and where the header's switch leads (the same page in the
/// other mode); `None` on an answer to a post, which has no address of its own to switch.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub big: bool,
    /// The page's own path, without a query (relative links keep a path prefix working).
    pub switch: Option<&'a str>,
    /// The disclosure: a wider main column for its tables, and open to search engines (the
    /// other pages carry a token or a form).
    pub public: bool,
}

impl Frame<'_> {
    pub fn plain() -> Frame<'static> {
        Frame {
            big: false,
            switch: None,
            public: false,
        }
    }

    /// `?big=1` in elderly mode, nothing otherwise: what a link or a form keeps.
    pub fn query(&self) -> &'static str {
        if self.big { "?big=1" } else { "" }
    }
}

/// A whole citizen's page: the header with the platform's name and the mode switch, then
/// `body`.
pub fn html(frame: Frame<'_>, title: &str, body: &str) -> String {
    let switch = match frame.switch {
        Some(path) if frame.big => {
            format!("<a class=\"mode\" href=\"{}\">标准模式</a>", escape(path))
        }
        Some(path) => format!(
            "<a class=\"mode\" href=\"{}?big=1\">大字模式</a>",
            escape(path)
        ),
        None => String::new(),
    };
    format!(
        "<!doctype html><html lang=\"zh-CN\"{class}><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         {robots}<title>{title}</title><style>{STYLE}</style></head>\
         <body><header class=\"site\"><div><b>政务服务“好差评”</b>{switch}</div></header>\
         <main{main}>{body}</main></body></html>",
        class = if frame.big { " class=\"big\"" } else { "" },
        title = escape(title),
        main = if frame.public { " class=\"wide\"" } else { "" },
        robots = if frame.public {
            ""
        } else {
            "<meta name=\"robots\" content=\"noindex\">"
        },
    )
}

/// [`html`] as a response.
pub fn page(status: StatusCode, frame: Frame<'_>, title: &str, body: &str) -> Response {
    (status, Html(html(frame, title, body))).into_response()
}

/// A page that says one thing: a heading and a paragraph.
pub fn message(status: StatusCode, frame: Frame<'_>, title: &str, text: &str) -> Response {
    page(
        status,
        frame,
        title,
        &format!("<h1>{}</h1><p>{}</p>", escape(title), escape(text)),
    )
}
