//! PNG + SVG line and CDF charts for experiment reports.
//!
//! Text is drawn with an embedded DejaVu Sans because plotters' `ab_glyph`
//! font backend has no system font discovery: without a registered font every
//! text draw fails with `FontUnavailable`. Embedding also keeps the PNG bytes
//! independent of what fonts the host has, which the determinism checks need.
//! (The SVG only names the family `sans-serif`; viewers pick their own face.)

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle};

/// PNG size in pixels; the SVG uses the same canvas so both files match.
pub const WIDTH: u32 = 1024;
/// See [`WIDTH`].
pub const HEIGHT: u32 = 640;

/// Family name plotters looks up for `FontFamily::SansSerif` / `"sans-serif"`.
const FONT: &str = "sans-serif";
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Above this many samples a CDF is drawn from evenly spaced order statistics;
/// more steps than this are below one pixel of height and only bloat the SVG.
const MAX_CDF_STEPS: usize = 2000;

const TITLE_SIZE: u32 = 26;
const AXIS_DESC_SIZE: u32 = 20;
const TICK_SIZE: u32 = 16;
const LEGEND_SIZE: u32 = 16;
const LINE_WIDTH: u32 = 2;
const MARKER_RADIUS: u32 = 5;

/// matplotlib's "tab10": ten hues that stay distinguishable on white.
const PALETTE: [RGBColor; 10] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x17, 0xbe, 0xcf),
];

/// One named line on a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// `(x, y)` in drawing order; non-finite points are skipped.
    pub points: Vec<(f64, f64)>,
}

/// A line chart; labels should carry units, e.g. `"time (ms)"`.
#[derive(Debug, Clone, Copy)]
pub struct LineChart<'a> {
    /// Chart title.
    pub title: &'a str,
    /// X axis label, with its unit.
    pub x_label: &'a str,
    /// Y axis label, with its unit.
    pub y_label: &'a str,
    /// The lines to draw.
    pub series: &'a [Series],
}

#[derive(Debug, thiserror::Error)]
/// Why a plot could not be written.
pub enum PlotError {
    #[error("cannot draw plot {path}: {message}")]
    /// The plotting backend failed to draw.
    Draw {
        /// The plot being drawn.
        path: String,
        /// The backend's error.
        message: String,
    },
    #[error("cannot write plot {path}: {source}")]
    /// Writing the image file failed.
    Io {
        /// The file that could not be written.
        path: String,
        #[source]
        /// The underlying I/O error.
        source: std::io::Error,
    },
    #[error("embedded DejaVu Sans font could not be parsed")]
    /// The embedded font could not be parsed (a build defect, not a user error).
    Font,
}

/// Writes `<stem>.png` (1024x640) and `<stem>.svg` with the same content.
///
/// The extensions are appended, not substituted, so stems like `run.v2` are
/// kept intact. Missing parent directories are created.
pub fn write_line_chart(stem: &Path, chart: &LineChart) -> Result<(), PlotError> {
    let series: Vec<Prepared> = chart
        .series
        .iter()
        .map(|s| Prepared {
            label: &s.label,
            points: s
                .points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect(),
            errors: Vec::new(),
        })
        .collect();
    let all = series.iter().flat_map(|s| s.points.iter());
    let x = padded_range(all.clone().map(|p| p.0));
    let y = padded_range(all.map(|p| p.1));
    render(
        stem,
        &Spec {
            title: chart.title,
            x_label: chart.x_label,
            y_label: chart.y_label,
            series,
            x,
            y,
            categories: None,
        },
    )
}

/// Writes `<stem>.png` and `<stem>.svg` with one empirical CDF per labelled
/// sample set (y = fraction of samples ≤ x).
///
/// Non-finite samples are dropped before computing fractions. Each curve is
/// extended flat to the plot edges so that sets with different ranges read
/// as 0 before their minimum and 1 after their maximum.
pub fn write_cdf_chart(
    stem: &Path,
    title: &str,
    x_label: &str,
    samples: &[(String, Vec<f64>)],
) -> Result<(), PlotError> {
    let x = padded_range(
        samples
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .filter(|v| v.is_finite()),
    );
    let series = samples
        .iter()
        .map(|(label, values)| {
            let steps = empirical_cdf(values);
            let mut points = Vec::with_capacity(steps.len() + 2);
            if let (Some(first), Some(last)) = (steps.first(), steps.last()) {
                points.push((x.0, 0.0));
                points.push((first.0, 0.0));
                points.extend_from_slice(&steps);
                points.push((x.1, last.1));
            }
            Prepared {
                label,
                points,
                errors: Vec::new(),
            }
        })
        .collect();
    let margin = 0.03;
    render(
        stem,
        &Spec {
            title,
            x_label,
            y_label: "fraction ≤ x",
            series,
            x,
            y: (-margin, 1.0 + margin),
            categories: None,
        },
    )
}

/// A series with a confidence interval at each point: `(x, mean, half-width)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorSeries {
    /// Legend text.
    pub label: String,
    /// `(x, mean, half-width)` in drawing order.
    pub points: Vec<(f64, f64, f64)>,
}

fn prepare_errors(series: &[ErrorSeries]) -> Vec<Prepared<'_>> {
    series
        .iter()
        .map(|s| {
            let kept: Vec<&(f64, f64, f64)> = s
                .points
                .iter()
                .filter(|(x, y, _)| x.is_finite() && y.is_finite())
                .collect();
            Prepared {
                label: &s.label,
                points: kept.iter().map(|p| (p.0, p.1)).collect(),
                errors: kept
                    .iter()
                    .map(|p| if p.2.is_finite() { p.2 } else { 0.0 })
                    .collect(),
            }
        })
        .collect()
}

/// Writes `<stem>.png` and `<stem>.svg`: lines through the means with error bars of the
/// given half-widths (e.g. a 95% confidence interval).
pub fn write_errorbar_chart(
    stem: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[ErrorSeries],
) -> Result<(), PlotError> {
    let prepared = prepare_errors(series);
    let x = padded_range(prepared.iter().flat_map(|s| s.points.iter().map(|p| p.0)));
    let y = padded_range(prepared.iter().flat_map(|s| {
        s.points
            .iter()
            .zip(&s.errors)
            .flat_map(|(p, e)| [p.1 - e, p.1 + e])
    }));
    render(
        stem,
        &Spec {
            title,
            x_label,
            y_label,
            series: prepared,
            x,
            y,
            categories: None,
        },
    )
}

/// Writes `<stem>.png` and `<stem>.svg`: grouped bars, one group per category (x = the
/// category's index in `categories`), one bar per series, with error bars.
pub fn write_bar_chart(
    stem: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    categories: &[String],
    series: &[ErrorSeries],
) -> Result<(), PlotError> {
    let prepared = prepare_errors(series);
    let x = (-0.6, categories.len() as f64 - 0.4);
    let y = padded_range(
        prepared
            .iter()
            .flat_map(|s| s.points.iter().zip(&s.errors).map(|(p, e)| p.1 + e))
            .chain(std::iter::once(0.0)),
    );
    let y = (y.0.min(0.0), y.1);
    render(
        stem,
        &Spec {
            title,
            x_label,
            y_label,
            series: prepared,
            x,
            y,
            categories: Some(categories),
        },
    )
}

/// Corner points of the empirical CDF step function of the finite `samples`:
/// for each sorted sample `x_i`, `(x_i, i/n)` then `(x_i, (i+1)/n)`.
///
/// For more than 2000 samples only evenly spaced order statistics are kept
/// (the error is under 1/2000 in y), which bounds the SVG size.
pub fn empirical_cdf(samples: &[f64]) -> Vec<(f64, f64)> {
    let mut sorted: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n == 0 {
        return Vec::new();
    }
    // Indices (exclusive ends) of the order statistics where a step is drawn.
    let ends: Vec<usize> = if n <= MAX_CDF_STEPS {
        (1..=n).collect()
    } else {
        (1..=MAX_CDF_STEPS)
            .map(|k| (k * n).div_ceil(MAX_CDF_STEPS))
            .collect()
    };
    let mut points = Vec::with_capacity(2 * ends.len());
    let mut below = 0usize;
    for end in ends {
        let x = sorted[end - 1];
        points.push((x, below as f64 / n as f64));
        points.push((x, end as f64 / n as f64));
        below = end;
    }
    points
}

struct Prepared<'a> {
    label: &'a str,
    points: Vec<(f64, f64)>,
    /// Half-widths of error bars, one per point, or empty.
    errors: Vec<f64>,
}

struct Spec<'a> {
    title: &'a str,
    x_label: &'a str,
    y_label: &'a str,
    series: Vec<Prepared<'a>>,
    x: (f64, f64),
    y: (f64, f64),
    /// Bar chart: one category per integer x, named here.
    categories: Option<&'a [String]>,
}

fn ensure_font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok =
        *REGISTERED.get_or_init(|| register_font(FONT, FontStyle::Normal, DEJAVU_SANS).is_ok());
    if ok {
        Ok(())
    } else {
        Err(PlotError::Font)
    }
}

fn with_extension(stem: &Path, ext: &str) -> PathBuf {
    let mut s = stem.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

fn render(stem: &Path, spec: &Spec) -> Result<(), PlotError> {
    ensure_font()?;
    let png = with_extension(stem, "png");
    let svg = with_extension(stem, "svg");
    if let Some(dir) = stem.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| PlotError::Io {
            path: dir.display().to_string(),
            source,
        })?;
    }
    let draw_err = |path: &Path, e: &dyn std::fmt::Display| PlotError::Draw {
        path: path.display().to_string(),
        message: e.to_string(),
    };

    {
        let root = BitMapBackend::new(&png, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, spec).map_err(|e| draw_err(&png, &e))?;
        root.present().map_err(|e| draw_err(&png, &e))?;
    }

    // Render to memory so a failed write surfaces as an io::Error.
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, spec).map_err(|e| draw_err(&svg, &e))?;
        root.present().map_err(|e| draw_err(&svg, &e))?;
    }
    std::fs::write(&svg, text).map_err(|source| PlotError::Io {
        path: svg.display().to_string(),
        source,
    })
}

fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Past the first ten series colours repeat, so odd palette cycles are dashed.
fn dashed(i: usize) -> bool {
    (i / PALETTE.len()) % 2 == 1
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    spec: &Spec,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    // plotters puts the title flush with the top edge; leave some air.
    let body = root
        .margin(12, 0, 0, 0)
        .titled(spec.title, (FONT, TITLE_SIZE))?;

    let legend_style = TextStyle::from((FONT, LEGEND_SIZE).into_font()).color(&BLACK);
    let show_legend = spec.series.len() > 1;
    let (plot_area, legend_area) = if show_legend {
        let widest = spec
            .series
            .iter()
            .map(|s| {
                root.estimate_text_size(s.label, &legend_style)
                    .map(|(w, _)| w)
            })
            .try_fold(0u32, |acc, w| w.map(|w| acc.max(w)))?;
        let width = (widest + 60).clamp(140, WIDTH * 3 / 10);
        let (p, l) = body.split_horizontally(WIDTH - width);
        (p, Some((l, width)))
    } else {
        (body, None)
    };

    let (x0, x1) = spec.x;
    let (y0, y1) = spec.y;
    let numeric_x = tick_formatter(spec.x);
    let x_fmt = |v: &f64| match spec.categories {
        Some(names) => {
            let i = v.round();
            if (v - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        }
        None => numeric_x(v),
    };
    let y_fmt = tick_formatter(spec.y);
    let tick_style = TextStyle::from((FONT, TICK_SIZE).into_font());
    // Size the y tick area from the widest label the axis can carry.
    let y_tick_width = [y0, y1, (y0 + y1) / 2.0, -(y1 - y0) / 7.0]
        .iter()
        .map(|v| {
            root.estimate_text_size(&y_fmt(v), &tick_style)
                .map(|(w, _)| w)
        })
        .try_fold(0u32, |acc, w| w.map(|w| acc.max(w)))?;

    let mut chart = ChartBuilder::on(&plot_area)
        .margin(14)
        .x_label_area_size(52)
        .y_label_area_size(y_tick_width + 42)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .bold_line_style(RGBColor(215, 215, 215))
        .light_line_style(RGBColor(245, 245, 245))
        .axis_style(RGBColor(90, 90, 90))
        .x_labels(spec.categories.map_or(10, |c| c.len() + 1))
        .y_labels(8)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .label_style(tick_style.clone())
        .axis_desc_style((FONT, AXIS_DESC_SIZE))
        .x_desc(spec.x_label)
        .y_desc(spec.y_label)
        .draw()?;

    let groups = spec.series.len().max(1) as f64;
    for (i, s) in spec.series.iter().enumerate() {
        let style = colour(i).stroke_width(LINE_WIDTH);
        if spec.categories.is_some() {
            // Grouped bars: the group spans 0.8 of a category, one slot per series.
            let w = 0.8 / groups;
            for (k, &(c, v)) in s.points.iter().enumerate() {
                let left = c - 0.4 + i as f64 * w;
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(left, 0.0), (left + w * 0.9, v)],
                    colour(i).filled(),
                )))?;
                if let Some(&e) = s.errors.get(k).filter(|e| **e > 0.0) {
                    let mid = left + w * 0.45;
                    draw_error_bar(&mut chart, mid, v, e, w * 0.2, BLACK)?;
                }
            }
            continue;
        }
        for (k, &(x, y)) in s.points.iter().enumerate() {
            if let Some(&e) = s.errors.get(k).filter(|e| **e > 0.0) {
                draw_error_bar(&mut chart, x, y, e, (x1 - x0) * 0.008, colour(i))?;
            }
        }
        match s.points.len() {
            0 => {}
            1 => {
                chart.draw_series(std::iter::once(Circle::new(
                    s.points[0],
                    MARKER_RADIUS,
                    colour(i).filled(),
                )))?;
            }
            _ if dashed(i) => {
                chart.draw_series(DashedLineSeries::new(s.points.iter().copied(), 8, 5, style))?;
            }
            _ => {
                chart.draw_series(LineSeries::new(s.points.iter().copied(), style))?;
            }
        }
    }

    if let Some((area, width)) = legend_area {
        draw_legend(&area, width, spec, &legend_style)?;
    }
    Ok(())
}

/// A vertical error bar from y - e to y + e with caps of half-width `cap`.
fn draw_error_bar<DB: DrawingBackend>(
    chart: &mut ChartContext<
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    x: f64,
    y: f64,
    e: f64,
    cap: f64,
    colour: RGBColor,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let style = colour.stroke_width(LINE_WIDTH);
    for seg in [
        vec![(x, y - e), (x, y + e)],
        vec![(x - cap, y - e), (x + cap, y - e)],
        vec![(x - cap, y + e), (x + cap, y + e)],
    ] {
        chart.draw_series(std::iter::once(PathElement::new(seg, style)))?;
    }
    Ok(())
}

/// Legend in its own column right of the plot, so it never hides data.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    width: u32,
    spec: &Spec,
    style: &TextStyle,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let style = style.pos(Pos::new(HPos::Left, VPos::Center));
    let row = 24i32;
    let (_, height) = area.dim_in_pixel();
    let max_rows = ((height as i32 - 40) / row).max(1) as usize;
    let text_room = width.saturating_sub(54);
    let n = spec.series.len();
    for (i, s) in spec.series.iter().enumerate() {
        let y = 28 + row * i as i32;
        if i + 1 == max_rows && n > max_rows {
            area.draw_text(&format!("… {} more", n - i), &style, (8, y))?;
            break;
        }
        let style_line = colour(i).stroke_width(LINE_WIDTH);
        if s.points.len() <= 1 {
            area.draw(&Circle::new((22, y), MARKER_RADIUS, colour(i).filled()))?;
        } else if dashed(i) {
            area.draw(&DashedPathElement::new(
                vec![(6, y), (38, y)],
                8,
                5,
                style_line,
            ))?;
        } else {
            area.draw(&PathElement::new(vec![(6, y), (38, y)], style_line))?;
        }
        let label = fit_text(area, s.label, &style, text_room)?;
        area.draw_text(&label, &style, (46, y))?;
    }
    Ok(())
}

/// Shortens `text` with an ellipsis until it fits in `room` pixels.
fn fit_text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
    room: u32,
) -> Result<String, DrawingAreaErrorKind<DB::ErrorType>> {
    if area.estimate_text_size(text, style)?.0 <= room {
        return Ok(text.to_owned());
    }
    let mut chars: Vec<char> = text.chars().collect();
    while !chars.is_empty() {
        chars.pop();
        let candidate: String = chars.iter().chain(std::iter::once(&'…')).collect();
        if area.estimate_text_size(&candidate, style)?.0 <= room {
            return Ok(candidate);
        }
    }
    Ok("…".to_owned())
}

/// Data range with a 5% margin; degenerate input still yields a drawable,
/// non-empty range (plotters divides by the span).
fn padded_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if lo > hi {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    let scale = lo.abs().max(hi.abs());
    if span <= scale * 1e-9 {
        let pad = if scale == 0.0 { 1.0 } else { scale * 0.1 };
        return (lo - pad, hi + pad);
    }
    if !span.is_finite() {
        return (lo, hi);
    }
    let margin = span * 0.05;
    (lo - margin, hi + margin)
}

/// Tick labels with as many decimals as the tick spacing needs, so labels
/// stay short (plotters' default can print long float tails). Very large or
/// small magnitudes share one exponent per axis so the column reads evenly.
fn tick_formatter(range: (f64, f64)) -> impl Fn(&f64) -> String {
    let span = range.1 - range.0;
    let magnitude = range.0.abs().max(range.1.abs());
    let step_exp = (span / 10.0).log10().floor();
    let scientific = !(1e-3..1e6).contains(&magnitude);
    let exp = if scientific {
        magnitude.log10().floor()
    } else {
        0.0
    };
    let decimals = (exp - step_exp).clamp(0.0, 9.0) as usize;
    let scale = 10f64.powi(exp as i32);
    move |v: &f64| {
        let text = format!("{:.*}", decimals, *v / scale);
        let text = trim_zeros(&text);
        if text.trim_start_matches('-') == "0" {
            "0".to_owned()
        } else if scientific {
            format!("{text}e{exp}")
        } else {
            text.to_owned()
        }
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unique scratch directory, removed on drop.
    struct TempDir(PathBuf);
    impl TempDir {
        fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("dwcp-sim-plot-{}-{}", std::process::id(), name));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn sample_series() -> Vec<Series> {
        let a = (0..=50)
            .map(|i| {
                let t = i as f64 * 2.0;
                (t, 40.0 + 30.0 * (t / 15.0).sin())
            })
            .collect();
        let b = (0..=50).map(|i| (i as f64 * 2.0, i as f64 * 1.3)).collect();
        let c = vec![(50.0, 10.0), (f64::NAN, 3.0), (60.0, f64::INFINITY)];
        vec![
            Series {
                label: "throughput, DWCP".into(),
                points: a,
            },
            Series {
                label: "throughput, TCP baseline".into(),
                points: b,
            },
            Series {
                label: "single point".into(),
                points: c,
            },
        ]
    }

    fn png_size(bytes: &[u8]) -> (u32, u32) {
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG magic");
        assert_eq!(&bytes[12..16], b"IHDR");
        let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        (be(&bytes[16..20]), be(&bytes[20..24]))
    }

    #[test]
    fn line_chart_files_and_determinism() {
        let dir = TempDir::new("line");
        let series = sample_series();
        let chart = LineChart {
            title: "Migration throughput",
            x_label: "time (ms)",
            y_label: "rate (Mbit/s)",
            series: &series,
        };
        let stem_a = dir.0.join("a");
        let stem_b = dir.0.join("nested/b");
        write_line_chart(&stem_a, &chart).unwrap();
        write_line_chart(&stem_b, &chart).unwrap();

        let png_a = std::fs::read(dir.0.join("a.png")).unwrap();
        let png_b = std::fs::read(dir.0.join("nested/b.png")).unwrap();
        assert_eq!(png_size(&png_a), (WIDTH, HEIGHT));
        assert!(png_a == png_b, "PNG output differs between runs");

        let svg_a = std::fs::read_to_string(dir.0.join("a.svg")).unwrap();
        let svg_b = std::fs::read_to_string(dir.0.join("nested/b.svg")).unwrap();
        assert!(svg_a == svg_b, "SVG output differs between runs");
        for text in [
            "Migration throughput",
            "time (ms)",
            "rate (Mbit/s)",
            "TCP baseline",
        ] {
            assert!(svg_a.contains(text), "SVG lacks {text:?}");
        }
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let dir = TempDir::new("degenerate");
        let cases: Vec<Vec<Series>> = vec![
            vec![],
            vec![Series {
                label: "empty".into(),
                points: vec![],
            }],
            vec![Series {
                label: "one".into(),
                points: vec![(3.0, 7.0)],
            }],
            vec![Series {
                label: "flat".into(),
                points: vec![(0.0, 5.0), (10.0, 5.0)],
            }],
            vec![Series {
                label: "nan".into(),
                points: vec![(f64::NAN, f64::NAN)],
            }],
            vec![Series {
                label: "zero".into(),
                points: vec![(0.0, 0.0), (0.0, 0.0)],
            }],
        ];
        for (i, series) in cases.iter().enumerate() {
            let chart = LineChart {
                title: "t",
                x_label: "x (s)",
                y_label: "y (B)",
                series,
            };
            let stem = dir.0.join(format!("case{i}"));
            write_line_chart(&stem, &chart).unwrap();
            assert!(with_extension(&stem, "png").exists());
            assert!(with_extension(&stem, "svg").exists());
        }
        // More series than legend rows: the legend summarises the rest.
        let many: Vec<Series> = (0..30)
            .map(|k| Series {
                label: format!("s{k}"),
                points: vec![(0.0, k as f64), (1.0, 1.0)],
            })
            .collect();
        let chart = LineChart {
            title: "many",
            x_label: "x",
            y_label: "y",
            series: &many,
        };
        write_line_chart(&dir.0.join("many"), &chart).unwrap();
        let svg = std::fs::read_to_string(dir.0.join("many.svg")).unwrap();
        assert!(svg.contains("more"));

        let stem = dir.0.join("cdf-empty");
        write_cdf_chart(&stem, "t", "x", &[]).unwrap();
        write_cdf_chart(&stem, "t", "x", &[("none".into(), vec![f64::NAN])]).unwrap();
    }

    #[test]
    fn cdf_chart_writes_and_is_deterministic() {
        let dir = TempDir::new("cdf");
        let a: Vec<f64> = (0..500).map(|i| ((i * 7919) % 500) as f64 * 0.2).collect();
        let b: Vec<f64> = (0..5000)
            .map(|i| 20.0 + ((i * 104_729) % 5000) as f64 * 0.01)
            .collect();
        let samples = vec![("DWCP".to_owned(), a), ("baseline".to_owned(), b)];
        let stem = dir.0.join("cdf");
        write_cdf_chart(&stem, "Downtime CDF", "downtime (ms)", &samples).unwrap();
        let first = std::fs::read(with_extension(&stem, "svg")).unwrap();
        let first_png = std::fs::read(with_extension(&stem, "png")).unwrap();
        write_cdf_chart(&stem, "Downtime CDF", "downtime (ms)", &samples).unwrap();
        assert!(first == std::fs::read(with_extension(&stem, "svg")).unwrap());
        assert!(first_png == std::fs::read(with_extension(&stem, "png")).unwrap());
        let svg = String::from_utf8(first).unwrap();
        assert!(svg.contains("Downtime CDF") && svg.contains("downtime (ms)"));
        assert!(svg.contains("fraction ≤ x"));
    }

    #[test]
    fn empirical_cdf_steps() {
        assert!(empirical_cdf(&[]).is_empty());
        assert_eq!(
            empirical_cdf(&[2.0, f64::NAN, 1.0]),
            vec![(1.0, 0.0), (1.0, 0.5), (2.0, 0.5), (2.0, 1.0)]
        );
        let big: Vec<f64> = (0..10_007).map(|i| i as f64).collect();
        let cdf = empirical_cdf(&big);
        assert_eq!(cdf.len(), 2 * MAX_CDF_STEPS);
        assert_eq!(*cdf.last().unwrap(), (10_006.0, 1.0));
        assert!(cdf.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
    }

    #[test]
    fn ranges_and_ticks() {
        assert_eq!(padded_range(std::iter::empty()), (0.0, 1.0));
        assert_eq!(padded_range([5.0].into_iter()), (4.5, 5.5));
        assert_eq!(padded_range([0.0, 0.0].into_iter()), (-1.0, 1.0));
        let (lo, hi) = padded_range([0.0, 100.0].into_iter());
        assert!((lo + 5.0).abs() < 1e-12 && (hi - 105.0).abs() < 1e-12);

        let f = tick_formatter((0.0, 1.0));
        assert_eq!(f(&0.30000000000000004), "0.3");
        assert_eq!(f(&1.0), "1");
        let f = tick_formatter((0.0, 4e9));
        assert_eq!(f(&1.5e9), "1.5e9");
        assert_eq!(f(&5e8), "0.5e9");
        assert_eq!(f(&0.0), "0");
        assert_eq!(f(&-1e-7), "0");
        let f = tick_formatter((0.0, 2e-4));
        assert_eq!(f(&5e-5), "0.5e-4");
        let f = tick_formatter((-5.0, 105.0));
        assert_eq!(f(&-0.0), "0");
        assert_eq!(f(&40.0), "40");
    }
}
