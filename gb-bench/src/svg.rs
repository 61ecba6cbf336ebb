//! `--plot`: two bar charts, hand-written SVG. Left: speed relative to the
//! system allocator; right: peak RSS relative to it. Log scale, 1x in the
//! middle, one group of bars per workload, one bar per contender.

use std::fmt::Write;

use crate::contenders::{Contender, Setup};
use crate::report::{memory_ratio, speed_ratio, Summary};
use crate::run::Workload;

const COLOURS: &[&str] = &[
    "#1b6ca8", "#5fa8d3", "#9ccfe8", "#d1495b", "#edae49", "#66a182", "#8d6a9f", "#3c3c3c",
];
/// The axis covers 1/RANGE .. RANGE.
const RANGE: f64 = 8.0;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub fn chart(
    setup: &Setup,
    contenders: &[&Contender],
    workloads: &[Workload],
    summary: &[Summary],
) -> String {
    let bars: Vec<&Contender> = contenders
        .iter()
        .copied()
        .filter(|c| c.id != "system")
        .collect();
    let bar_h = 9.0;
    let group_h = bar_h * bars.len() as f64 + 8.0;
    let label_w = 130.0;
    let panel_w = 330.0;
    let gap = 70.0;
    let top = 70.0;
    let height = top + group_h * workloads.len() as f64 + 40.0;
    let width = label_w + 2.0 * panel_w + gap + 20.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="10">"##
    );
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="white"/>"##);
    let _ = writeln!(
        s,
        r##"<text x="10" y="16" font-size="13" font-weight="bold">graphbit-alloc {} ({} {}) vs the system allocator: median of repetitions, log scale</text>"##,
        graphbit_alloc::diagnostics::build().version,
        escape(&setup.lib.backend),
        escape(setup.lib.backend_version.split('-').next().unwrap_or(""))
    );
    let _ = writeln!(
        s,
        r##"<text x="10" y="30" fill="#555">{}</text>"##,
        escape(&crate::machine::one_line())
    );
    // Legend.
    let mut x = 10.0;
    for (i, c) in bars.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let _ = writeln!(
            s,
            r##"<rect x="{x}" y="38" width="10" height="10" fill="{colour}"/><text x="{}" y="47">{}</text>"##,
            x + 13.0,
            escape(&c.id)
        );
        x += 13.0 + 7.0 * c.id.len() as f64 + 14.0;
    }
    for (panel, title) in [
        (0, "speed vs system (right of 1x = faster)"),
        (1, "peak RSS vs system (left of 1x = smaller)"),
    ] {
        let x0 = label_w + panel as f64 * (panel_w + gap);
        let pos = |ratio: f64| {
            let r = ratio.clamp(1.0 / RANGE, RANGE);
            x0 + panel_w / 2.0 + r.log2() / RANGE.log2() * (panel_w / 2.0)
        };
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" text-anchor="middle" font-weight="bold">{title}</text>"##,
            x0 + panel_w / 2.0,
            top - 6.0
        );
        let bottom = top + group_h * workloads.len() as f64;
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
        for (wi, w) in workloads.iter().enumerate() {
            let gy = top + group_h * wi as f64;
            if panel == 0 {
                let _ = writeln!(
                    s,
                    r##"<text x="{}" y="{}" text-anchor="end">{}</text>"##,
                    label_w - 6.0,
                    gy + group_h / 2.0 + 3.0,
                    escape(&w.id)
                );
            }
            for (bi, c) in bars.iter().enumerate() {
                let ratio = if panel == 0 {
                    speed_ratio(summary, &c.id, "system", &w.id)
                } else {
                    memory_ratio(summary, &c.id, "system", &w.id)
                };
                let y = gy + 4.0 + bar_h * bi as f64;
                let Some(ratio) = ratio else {
                    let _ = writeln!(
                        s,
                        r##"<text x="{:.1}" y="{:.1}" font-size="8" fill="#900">{}: no result (failed or missing)</text>"##,
                        pos(1.0) + 3.0,
                        y + bar_h - 2.0,
                        escape(&c.id)
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
                    escape(&c.id),
                    escape(&w.id)
                );
            }
        }
    }
    s.push_str("</svg>\n");
    s
}
