//! `--plot`: bar charts of ratios, hand-written SVG. One panel per measure
//! (side by side), log scale with 1x in the middle and a range fitted to
//! the values, each bar labelled with its value; one group of bars per row
//! (a workload, or `gb-bench run`'s command), one bar per series (a
//! contender). What to draw comes as data (`Chart`), made from a report by
//! `report::chart` and `command::chart`. `--plot-rss`: line charts
//! (`LineChart`, `render_lines`) of RSS over time.

use std::fmt::Write;

const COLOURS: &[&str] = &[
    "#1b6ca8", "#5fa8d3", "#9ccfe8", "#d1495b", "#edae49", "#66a182", "#8d6a9f", "#3c3c3c",
];
/// The axis covers 1/range .. range, range the first of these that holds
/// every value of the panel (so that a 10% difference is visible when the
/// values are close to 1x); a value beyond the last is drawn at its edge.
const RANGES: &[f64] = &[1.25, 1.5, 2.0, 4.0, 8.0];
const TICKS: &[f64] = &[
    0.125,
    0.25,
    0.5,
    2.0 / 3.0,
    0.8,
    0.9,
    1.0,
    1.1,
    1.25,
    1.5,
    2.0,
    4.0,
    8.0,
];

/// A chart as data.
pub struct Chart {
    pub title: String,
    pub subtitle: String,
    /// One bar per series in every row, in this order (the legend).
    pub series: Vec<String>,
    /// The groups of bars, top to bottom.
    pub rows: Vec<String>,
    pub panels: Vec<Panel>,
}

/// One measure: `values[row][series]`, a ratio, or None where there is no
/// result.
pub struct Panel {
    pub title: String,
    pub values: Vec<Vec<Option<f64>>>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The start of a chart's SVG document: its size, a white background, the
/// title and the subtitle (both charts open the same way).
fn document(width: f64, height: f64, title: &str, subtitle: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="10">"##
    );
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="white"/>"##);
    let _ = writeln!(
        s,
        r##"<text x="10" y="16" font-size="13" font-weight="bold">{}</text>"##,
        escape(title)
    );
    let _ = writeln!(
        s,
        r##"<text x="10" y="30" fill="#555">{}</text>"##,
        escape(subtitle)
    );
    s
}

/// The SVG document of `chart`.
pub fn render(chart: &Chart) -> String {
    let bar_h = 9.0;
    let group_h = bar_h * chart.series.len() as f64 + 8.0;
    let label_w = 130.0;
    let panel_w = 330.0;
    let gap = 70.0;
    let top = 70.0;
    let height = top + group_h * chart.rows.len() as f64 + 40.0;
    let width = label_w + chart.panels.len() as f64 * (panel_w + gap) - gap + 20.0;
    let mut s = document(width, height, &chart.title, &chart.subtitle);
    // Legend.
    let mut x = 10.0;
    for (i, name) in chart.series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let _ = writeln!(
            s,
            r##"<rect x="{x}" y="38" width="10" height="10" fill="{colour}"/><text x="{}" y="47">{}</text>"##,
            x + 13.0,
            escape(name)
        );
        x += 13.0 + 7.0 * name.len() as f64 + 14.0;
    }
    for (pi, panel) in chart.panels.iter().enumerate() {
        let x0 = label_w + pi as f64 * (panel_w + gap);
        let widest = panel
            .values
            .iter()
            .flatten()
            .flatten()
            .filter(|v| v.is_finite() && **v > 0.0)
            .map(|v| v.max(1.0 / v))
            .fold(1.0, f64::max);
        let range = RANGES
            .iter()
            .copied()
            .find(|r| widest <= *r)
            .unwrap_or(RANGES[RANGES.len() - 1]);
        let pos = |ratio: f64| {
            let r = ratio.clamp(1.0 / range, range);
            x0 + panel_w / 2.0 + r.log2() / range.log2() * (panel_w / 2.0)
        };
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" text-anchor="middle" font-weight="bold">{}</text>"##,
            x0 + panel_w / 2.0,
            top - 6.0,
            escape(&panel.title)
        );
        let bottom = top + group_h * chart.rows.len() as f64;
        // Ticks inside the range, at least 30 px apart, 1x always.
        let mut ticks: Vec<f64> = Vec::new();
        for &tick in TICKS
            .iter()
            .filter(|t| **t >= 1.0 / range - 1e-9 && **t <= range + 1e-9)
        {
            let near = |t: &f64| (pos(*t) - pos(tick)).abs() < 30.0;
            if tick == 1.0 {
                ticks.retain(|t| !near(t));
                ticks.push(tick);
            } else if !ticks.iter().any(near) {
                ticks.push(tick);
            }
        }
        ticks.retain(|t| *t == 1.0 || (pos(*t) - pos(1.0)).abs() >= 30.0);
        for tick in ticks {
            let tx = pos(tick);
            let label = if tick == 2.0 / 3.0 {
                "0.67".to_string()
            } else {
                format!("{tick}")
            };
            let (stroke, w) = if tick == 1.0 {
                ("#000", 1.2)
            } else {
                ("#ccc", 0.6)
            };
            let _ = writeln!(
                s,
                r##"<line x1="{tx:.1}" y1="{top}" x2="{tx:.1}" y2="{bottom}" stroke="{stroke}" stroke-width="{w}"/><text x="{tx:.1}" y="{}" text-anchor="middle">{label}x</text>"##,
                bottom + 12.0
            );
        }
        for (ri, row) in chart.rows.iter().enumerate() {
            let gy = top + group_h * ri as f64;
            if pi == 0 {
                let _ = writeln!(
                    s,
                    r##"<text x="{}" y="{}" text-anchor="end">{}</text>"##,
                    label_w - 6.0,
                    gy + group_h / 2.0 + 3.0,
                    escape(row)
                );
            }
            for (bi, name) in chart.series.iter().enumerate() {
                let y = gy + 4.0 + bar_h * bi as f64;
                let value = panel.values.get(ri).and_then(|v| v.get(bi)).copied();
                let Some(ratio) = value.flatten() else {
                    let _ = writeln!(
                        s,
                        r##"<text x="{:.1}" y="{:.1}" font-size="8" fill="#900">{}: no result (failed or missing)</text>"##,
                        pos(1.0) + 3.0,
                        y + bar_h - 2.0,
                        escape(name)
                    );
                    continue;
                };
                let (a, b) = (pos(1.0), pos(ratio));
                let colour = COLOURS[bi % COLOURS.len()];
                let _ = writeln!(
                    s,
                    r##"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{colour}"><title>{} {}: {ratio:.2}x</title></rect>"##,
                    a.min(b),
                    (a - b).abs().max(0.5),
                    bar_h - 1.5,
                    escape(name),
                    escape(row)
                );
                // The value, beyond the bar's end (at the edge, for one
                // beyond the axis).
                let (tx, anchor) = if ratio >= 1.0 {
                    (b + 2.0, "start")
                } else {
                    (b - 2.0, "end")
                };
                let _ = writeln!(
                    s,
                    r##"<text x="{tx:.1}" y="{:.1}" font-size="7" text-anchor="{anchor}">{ratio:.2}x</text>"##,
                    y + bar_h - 2.5
                );
            }
        }
    }
    s.push_str("</svg>\n");
    s
}

/// A line chart as data: panels side by side, each with its own axes.
pub struct LineChart {
    pub title: String,
    pub subtitle: String,
    pub panels: Vec<LinePanel>,
}

/// One panel: lines of (x, y) points, x in seconds.
pub struct LinePanel {
    pub title: String,
    pub series: Vec<Series>,
}

/// One line; a dashed one is a reference (the live bytes).
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub dashed: bool,
}

/// A round step for an axis from 0 to `max` with about five ticks.
fn tick_step(max: f64) -> f64 {
    let raw = (max / 5.0).max(f64::MIN_POSITIVE);
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude)
}

/// The SVG document of a line chart (linear axes from 0, a legend per
/// panel, the last value of each line written at its end).
pub fn render_lines(chart: &LineChart) -> String {
    let (panel_w, panel_h, left, top, gap) = (420.0, 260.0, 60.0, 60.0, 80.0);
    let legend_h = 16.0;
    let lines = chart
        .panels
        .iter()
        .map(|p| p.series.len())
        .max()
        .unwrap_or(0) as f64;
    let width = left + chart.panels.len().max(1) as f64 * (panel_w + gap) + 40.0;
    let height = top + panel_h + 40.0 + legend_h * lines + 10.0;
    let mut s = document(width, height, &chart.title, &chart.subtitle);
    for (pi, panel) in chart.panels.iter().enumerate() {
        let x0 = left + pi as f64 * (panel_w + gap);
        let all = panel.series.iter().flat_map(|l| l.points.iter());
        let (max_x, max_y) = all.fold((0.0f64, 0.0f64), |(mx, my), (x, y)| {
            (mx.max(*x), my.max(*y))
        });
        let (step_x, step_y) = (tick_step(max_x), tick_step(max_y));
        let (top_x, top_y) = (
            (max_x / step_x).ceil().max(1.0) * step_x,
            (max_y / step_y).ceil().max(1.0) * step_y,
        );
        let px = |x: f64| x0 + x / top_x * panel_w;
        let py = |y: f64| top + panel_h - y / top_y * panel_h;
        let _ = writeln!(
            s,
            r##"<text x="{x0}" y="{}" font-weight="bold">{}</text>"##,
            top - 8.0,
            escape(&panel.title)
        );
        let mut y = 0.0;
        while y <= top_y + step_y * 1e-9 {
            let _ = writeln!(
                s,
                r##"<line x1="{x0}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="#ddd"/><text x="{2:.1}" y="{3:.1}" text-anchor="end">{4}</text>"##,
                py(y),
                x0 + panel_w,
                x0 - 4.0,
                py(y) + 3.0,
                format_tick(y)
            );
            y += step_y;
        }
        let mut x = 0.0;
        while x <= top_x + step_x * 1e-9 {
            let _ = writeln!(
                s,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                px(x),
                top + panel_h + 14.0,
                format_tick(x)
            );
            x += step_x;
        }
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">seconds</text>"##,
            x0 + panel_w / 2.0,
            top + panel_h + 28.0
        );
        let _ = writeln!(
            s,
            r##"<rect x="{x0}" y="{top}" width="{panel_w}" height="{panel_h}" fill="none" stroke="#888"/>"##
        );
        for (li, line) in panel.series.iter().enumerate() {
            let colour = if line.dashed {
                "#000"
            } else {
                COLOURS[li % COLOURS.len()]
            };
            let points: Vec<String> = line
                .points
                .iter()
                .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
                .collect();
            let dash = if line.dashed {
                r##" stroke-dasharray="4 3""##
            } else {
                ""
            };
            let _ = writeln!(
                s,
                r##"<polyline fill="none" stroke="{colour}" stroke-width="1.5"{dash} points="{}"/>"##,
                points.join(" ")
            );
            let last = line.points.last().map_or(String::new(), |(_, y)| {
                format!(" (end {})", format_tick(*y))
            });
            let ly = top + panel_h + 44.0 + legend_h * li as f64;
            let _ = writeln!(
                s,
                r##"<line x1="{x0}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="{colour}" stroke-width="2"{dash}/><text x="{2:.1}" y="{3:.1}">{4}{5}</text>"##,
                ly - 4.0,
                x0 + 18.0,
                x0 + 24.0,
                ly,
                escape(&line.name),
                last
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

/// A tick label: no more digits than the value needs.
fn format_tick(v: f64) -> String {
    if v == v.round() || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if (v * 10.0).round() == v * 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(values: Vec<Option<f64>>) -> Chart {
        Chart {
            title: "t".into(),
            subtitle: "s".into(),
            series: (0..values.len()).map(|i| format!("c{i}")).collect(),
            rows: vec!["w".into()],
            panels: vec![Panel {
                title: "p".into(),
                values: vec![values],
            }],
        }
    }

    #[test]
    fn close_values_get_a_scale_that_shows_ten_percent() {
        let svg = render(&chart(vec![Some(1.08), Some(0.93)]));
        // The 1.25x range: ticks at 0.8, 0.9, 1, 1.1, 1.25; labels on bars.
        for label in [">0.9x<", ">1.1x<", ">1.25x<", ">1.08x<", ">0.93x<"] {
            assert!(svg.contains(label), "{label} in {svg}");
        }
        assert!(!svg.contains(">8x<"));
        // Far values fall back to the wide range.
        let svg = render(&chart(vec![Some(6.0), None]));
        assert!(svg.contains(">8x<") && svg.contains(">6.00x<") && svg.contains("no result"));
    }

    #[test]
    fn line_chart_has_a_line_per_series() {
        let svg = render_lines(&LineChart {
            title: "t".into(),
            subtitle: "s".into(),
            panels: vec![LinePanel {
                title: "server".into(),
                series: vec![
                    Series {
                        name: "a".into(),
                        points: vec![(0.0, 1.0), (0.5, 30.0), (1.0, 12.5)],
                        dashed: false,
                    },
                    Series {
                        name: "live".into(),
                        points: vec![(0.0, 0.0), (1.0, 10.0)],
                        dashed: true,
                    },
                ],
            }],
        });
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("stroke-dasharray") && svg.contains("(end 12.5)"));
        assert!(svg.contains(">30<"), "{svg}");
    }
}
