//! Print-ready posters of windows' QR codes: an SVG (the console rasterises it to PNG) and a
//! PDF with one A5 page per window, both written by hand. The QR code is drawn as vector
//! squares (runs of dark modules), so it prints sharp at any size; the PDF's Chinese text uses
//! the standard non-embedded CJK font `STSong-Light` with the `UniGB-UCS2-H` encoding (every
//! reader ships it), so no font file is shipped or embedded and a page weighs a few KB.

use qrcode::{Color, EcLevel, QrCode};

use crate::app::AppError;
use crate::app::window_qr::WindowQrView;

/// A5 portrait, in PostScript points.
const PAGE_WIDTH: f64 = 420.0;
const PAGE_HEIGHT: f64 = 595.0;
/// The QR code's side, quiet zone included.
const QR_SIDE: f64 = 250.0;
/// The QR code's top edge, from the top of the page.
const QR_TOP: f64 = 120.0;
/// Modules of quiet zone around the code (the standard's minimum).
const QUIET: usize = 4;
/// Widest line of text.
const TEXT_WIDTH: f64 = 360.0;

/// The dark modules of a QR code, row by row: `(side, dark)`.
pub struct QrMatrix {
    pub side: usize,
    dark: Vec<bool>,
}

impl QrMatrix {
    /// The code of `text` at error correction level M (15%: survives a worn poster).
    pub fn of(text: &str) -> Result<QrMatrix, AppError> {
        let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
            .map_err(|error| AppError::Internal(format!("qr code: {error}")))?;
        Ok(QrMatrix {
            side: code.width(),
            dark: code
                .to_colors()
                .into_iter()
                .map(|color| color == Color::Dark)
                .collect(),
        })
    }

    /// Horizontal runs of dark modules: `(row, first column, length)`.
    fn runs(&self) -> Vec<(usize, usize, usize)> {
        let mut runs = Vec::new();
        for row in 0..self.side {
            let mut column = 0;
            while column < self.side {
                if self.dark[row * self.side + column] {
                    let start = column;
                    while column < self.side && self.dark[row * self.side + column] {
                        column += 1;
                    }
                    runs.push((row, start, column - start));
                } else {
                    column += 1;
                }
            }
        }
        runs
    }
}

/// What a poster says, top to bottom.
struct Lines {
    title: &'static str,
    call: &'static str,
    window: String,
    department: String,
    hall: String,
    instructions: [&'static str; 2],
    footer: &'static str,
}

fn lines(view: &WindowQrView) -> Lines {
    Lines {
        title: "政务服务“好差评”",
        call: "扫码评价本窗口服务",
        window: view.name.clone(),
        department: view.department_name.clone().unwrap_or_default(),
        hall: view.hall_name.clone().unwrap_or_default(),
        instructions: [
            "请用手机扫描二维码，选择您刚办理的服务，",
            "或输入办件号，对本窗口的服务作出评价。",
        ],
        footer: "评价自愿 · 不收集个人信息 · 差评限期整改，可跟踪进度",
    }
}

/// Width of `text` at `size` points: CJK characters are one em, Latin ones half.
fn text_width(text: &str, size: f64) -> f64 {
    text.chars()
        .map(|c| if c.is_ascii() { 0.5 } else { 1.0 })
        .sum::<f64>()
        * size
}

/// `text` cut to fit [`TEXT_WIDTH`] at `size`, with an ellipsis when cut.
fn fit(text: &str, size: f64) -> String {
    if text_width(text, size) <= TEXT_WIDTH {
        return text.to_string();
    }
    let mut out = String::new();
    for c in text.chars() {
        if text_width(&out, size) + 2.0 * size > TEXT_WIDTH {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

/// The texts of a poster: (text, size in points, baseline from the top of the page).
fn placed(view: &WindowQrView) -> Vec<(String, f64, f64)> {
    let lines = lines(view);
    let below = QR_TOP + QR_SIDE;
    let mut placed = vec![
        (lines.title.to_string(), 22.0, 60.0),
        (lines.call.to_string(), 26.0, 100.0),
        (fit(&lines.window, 22.0), 22.0, below + 34.0),
        (fit(&lines.department, 15.0), 15.0, below + 60.0),
        (fit(&lines.hall, 13.0), 13.0, below + 82.0),
        (lines.instructions[0].to_string(), 11.0, below + 118.0),
        (lines.instructions[1].to_string(), 11.0, below + 135.0),
        (lines.footer.to_string(), 9.0, PAGE_HEIGHT - 30.0),
    ];
    placed.retain(|(text, _, _)| !text.is_empty());
    placed
}

/// `&`, `<`, `>`, `"` escaped for XML.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The poster as SVG (A5, in points): white, the texts centred, the code as one path.
pub fn svg(view: &WindowQrView, url: &str) -> Result<String, AppError> {
    let matrix = QrMatrix::of(url)?;
    let module = QR_SIDE / (matrix.side + 2 * QUIET) as f64;
    let origin_x = (PAGE_WIDTH - QR_SIDE) / 2.0 + QUIET as f64 * module;
    let origin_y = QR_TOP + QUIET as f64 * module;
    let mut path = String::new();
    for (row, column, length) in matrix.runs() {
        path.push_str(&format!("M{column} {row}h{length}v1h-{length}z"));
    }
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{PAGE_WIDTH}pt\" height=\"{PAGE_HEIGHT}pt\" viewBox=\"0 0 {PAGE_WIDTH} {PAGE_HEIGHT}\">\
         <rect width=\"{PAGE_WIDTH}\" height=\"{PAGE_HEIGHT}\" fill=\"#fff\"/>\
         <rect x=\"12\" y=\"12\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#b3261e\" stroke-width=\"2\"/>\
         <path transform=\"translate({origin_x:.3} {origin_y:.3}) scale({module:.4})\" fill=\"#000\" d=\"{path}\"/>",
        PAGE_WIDTH - 24.0,
        PAGE_HEIGHT - 24.0,
    );
    for (text, size, baseline) in placed(view) {
        out.push_str(&format!(
            "<text x=\"{}\" y=\"{baseline}\" font-size=\"{size}\" text-anchor=\"middle\" fill=\"#1f2329\" font-family=\"'Songti SC','SimSun','Noto Serif CJK SC','Source Han Serif SC',serif\">{}</text>",
            PAGE_WIDTH / 2.0,
            xml(&text)
        ));
    }
    out.push_str("</svg>\n");
    Ok(out)
}

/// `text` as a PDF hex string in UCS-2 big-endian (the `UniGB-UCS2-H` encoding); a character
/// outside the basic plane, which the encoding cannot name, becomes `?`.
pub fn ucs2_hex(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 4 + 2);
    out.push('<');
    for c in text.chars() {
        let code = u16::try_from(u32::from(c)).unwrap_or(u16::from(b'?'));
        out.push_str(&format!("{code:04X}"));
    }
    out.push('>');
    out
}

/// One page's content stream.
fn page_content(view: &WindowQrView, url: &str) -> Result<String, AppError> {
    let matrix = QrMatrix::of(url)?;
    let module = QR_SIDE / (matrix.side + 2 * QUIET) as f64;
    let left = (PAGE_WIDTH - QR_SIDE) / 2.0 + QUIET as f64 * module;
    let top = PAGE_HEIGHT - QR_TOP - QUIET as f64 * module;
    let mut out = String::new();
    // The frame.
    out.push_str(&format!(
        "0.702 0.149 0.118 RG 2 w 12 12 {} {} re S\n",
        PAGE_WIDTH - 24.0,
        PAGE_HEIGHT - 24.0
    ));
    // The code: one rectangle per run of dark modules, filled at once.
    out.push_str("0 g\n");
    for (row, column, length) in matrix.runs() {
        out.push_str(&format!(
            "{:.3} {:.3} {:.3} {:.3} re\n",
            left + column as f64 * module,
            top - (row + 1) as f64 * module,
            length as f64 * module,
            module
        ));
    }
    out.push_str("f\n0.122 0.137 0.161 rg\n");
    for (text, size, baseline) in placed(view) {
        let x = (PAGE_WIDTH - text_width(&text, size)) / 2.0;
        out.push_str(&format!(
            "BT /F1 {size} Tf {x:.2} {:.2} Td {} Tj ET\n",
            PAGE_HEIGHT - baseline,
            ucs2_hex(&text)
        ));
    }
    Ok(out)
}

/// The posters of `windows` (each with the URL its code carries) as one PDF, a page each.
pub fn pdf(windows: &[(WindowQrView, String)]) -> Result<Vec<u8>, AppError> {
    // 1 catalog, 2 pages, 3–5 the font; then each page and its content.
    let mut objects: Vec<Vec<u8>> = Vec::new();
    let kids: Vec<String> = (0..windows.len())
        .map(|index| format!("{} 0 R", 6 + 2 * index))
        .collect();
    objects.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
    objects.push(
        format!(
            "<< /Type /Pages /Kids [{}] /Count {} >>",
            kids.join(" "),
            windows.len()
        )
        .into_bytes(),
    );
    objects.push(
        b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H /DescendantFonts [4 0 R] >>"
            .to_vec(),
    );
    objects.push(
        b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light /CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> /FontDescriptor 5 0 R /DW 1000 /W [1 95 500] >>"
            .to_vec(),
    );
    objects.push(
        b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880] /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>"
            .to_vec(),
    );
    for (index, (view, url)) in windows.iter().enumerate() {
        let content = page_content(view, url)?;
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
                7 + 2 * index
            )
            .into_bytes(),
        );
        objects.push(
            format!(
                "<< /Length {} >>\nstream\n{content}endstream",
                content.len()
            )
            .into_bytes(),
        );
    }
    let mut out: Vec<u8> = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (index, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", index + 1).as_bytes());
        out.extend_from_slice(object);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(name: &str) -> WindowQrView {
        WindowQrView {
            window: "W-1".into(),
            name: name.into(),
            department: Some("D".into()),
            department_name: Some("宝丰县市场监督管理局".into()),
            hall: Some("H".into()),
            hall_name: Some("宝丰县政务服务中心".into()),
            url: Some("https://hcp.example/w/0123456789abcdef0123456789abcdef".into()),
        }
    }

    #[test]
    fn the_pdf_has_a_page_per_window_and_names_them_in_ucs2() {
        let url = "https://hcp.example/w/0123456789abcdef0123456789abcdef".to_string();
        let pdf = pdf(&[
            (window("综合窗口1"), url.clone()),
            (window("综合窗口2"), url),
        ])
        .unwrap_or_default();
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.starts_with("%PDF-1.4"));
        assert_eq!(text.matches("/Type /Page /Parent").count(), 2);
        assert!(text.contains(&ucs2_hex("综合窗口1")), "{text}");
        assert!(text.contains("/Count 2"));
        // The cross-reference table points at the objects (byte offsets: the header's binary
        // comment is not text).
        let xref: usize = text
            .rsplit("startxref\n")
            .next()
            .and_then(|tail| tail.lines().next())
            .and_then(|line| line.parse().ok())
            .unwrap_or_default();
        assert!(pdf[xref..].starts_with(b"xref\n"));
        let table = String::from_utf8_lossy(&pdf[xref..]).to_string();
        for (index, line) in table.lines().skip(3).take(5).enumerate() {
            let offset: usize = line[..10].parse().unwrap_or_default();
            let expected = format!("{} 0 obj", index + 1);
            assert!(pdf[offset..].starts_with(expected.as_bytes()), "{line}");
        }
    }

    #[test]
    fn ucs2_is_big_endian_hex() {
        assert_eq!(ucs2_hex("窗A"), "<7A970041>");
        assert_eq!(ucs2_hex("😀"), "<003F>");
    }

    #[test]
    fn the_svg_draws_the_code_and_escapes_names() {
        let svg = svg(&window("窗口<1>"), "https://x/w/ab").unwrap_or_default();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("窗口&lt;1&gt;"));
        assert!(svg.contains("<path transform="));
        assert!(!svg.contains("<style"));
    }
}
