//! `--plot`: bar charts of ratios, hand-written SVG. One panel per measure
//! (side by side), log scale with 1x in the middle, one group of bars per row
//! (a workload, or `gb-bench run`'s command), one bar per series (a
//! contender). What to draw comes as data (`Chart`), made from a report by
//! `report::chart` and `command::chart`.

use std::fmt::Write;

const COLOURS: &[&str] = &[
    "#1b6ca8", "#5fa8d3", "#9ccfe8", "#d1495b", "#edae49", "#66a182", "#8d6a9f", "#3c3c3c",
];
/// The axis covers 1/RANGE .. RANGE.
const RANGE: f64 = 8.0;

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
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="10">"##
    );
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="white"/>"##);
    let _ = writeln!(
        s,
        r##"<text x="10" y="16" font-size="13" font-weight="bold">{}</text>"##,
        escape(&chart.title)
    );
    let _ = writeln!(
        s,
        r##"<text x="10" y="30" fill="#555">{}</text>"##,
        escape(&chart.subtitle)
    );
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
        let pos = |ratio: f64| {
            let r = ratio.clamp(1.0 / RANGE, RANGE);
            x0 + panel_w / 2.0 + r.log2() / RANGE.log2() * (panel_w / 2.0)
        };
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" text-anchor="middle" font-weight="bold">{}</text>"##,
            x0 + panel_w / 2.0,
            top - 6.0,
            escape(&panel.title)
        );
        let bottom = top + group_h * chart.rows.len() as f64;
        for tick in [0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0] {
            let tx = pos(tick);
            let (stroke, w) = if tick == 1.0 {
                ("#000", 1.2)
            } else {
                ("#ccc", 0.6)
            };
            let _ = writeln!(
                s,
                r##"<line x1="{tx}" y1="{top}" x2="{tx}" y2="{bottom}" stroke="{stroke}" stroke-width="{w}"/><text x="{tx}" y="{}" text-anchor="middle">{tick}x</text>"##,
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
            }
        }
    }
    s.push_str("</svg>\n");
    s
}
