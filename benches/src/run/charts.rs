//! The report's charts: SVG files drawn with plotters from the same results as the tables, so a
//! reader sees each comparison before reading its table. Bars and lines use log scales: the
//! contenders differ by orders of magnitude.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use sdk_benches::corpus::{Chunking, Shape};
use sdk_benches::decoders::Contender;

use super::b1::Case;
use super::clients::Client;
use super::report::Results;

/// A chart written next to the report.
#[derive(Debug, Clone)]
pub struct Chart {
    /// What it shows (the image's alt text and caption).
    pub title: String,
    /// Its path relative to the report.
    pub path: String,
}

/// The folder, beside the report, that holds the charts.
pub const DIR: &str = "bench-charts";

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// One bar group's bars: `(series name, value)`.
type Group = (String, Vec<(String, f64)>);

/// Draws every chart the results allow into `dir`; the report links what this returns.
pub fn draw(r: &Results, dir: &Path) -> Result<Vec<Chart>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut charts = Vec::new();
    let mut add = |file: &str, title: String, groups: Vec<Group>, unit: &str| {
        if groups.iter().all(|(_, bars)| bars.is_empty()) {
            return Ok::<(), String>(());
        }
        bars(&dir.join(file), &title, &groups, unit)?;
        charts.push(Chart {
            title,
            path: format!("{DIR}/{file}"),
        });
        Ok(())
    };
    for shape in Shape::ALL {
        add(
            &format!("b1-{}.svg", shape.name()),
            format!("B1 decode, {}: events/s by chunking", shape.name()),
            b1_groups(&r.b1, shape),
            "events/s",
        )?;
    }
    add(
        "b2-throughput.svg",
        "B2 delivery: events/s, live and backlog".into(),
        b2_groups(r),
        "events/s",
    )?;
    add(
        "b2-latency.svg",
        "B2 publish→handler latency: p50, p99, p99.9 and max at each rate".into(),
        latency_groups(r),
        "µs",
    )?;
    add(
        "b5-throughput.svg",
        "B5 fan-out: messages/s delivered to all subscribers, by setting".into(),
        b5_throughput_groups(r),
        "messages/s",
    )?;
    add(
        "b5-latency.svg",
        "B5 fan-out publish→handler latency: p50 and p99 by setting".into(),
        b5_latency_groups(r),
        "µs",
    )?;
    if let Some(size) = &r.wasm {
        let mut bars = vec![(
            "servicestack-server-events".to_owned(),
            size.total_gzip() as f64,
        )];
        if let Ok(official) = &size.official {
            bars.push((
                "@servicestack/client".to_owned(),
                official.gzip_bytes as f64,
            ));
        }
        add(
            "package-size.svg",
            "B4 browser package: bytes a browser loads, gzipped".into(),
            vec![("wasm + JS, gzipped".into(), bars)],
            "bytes",
        )?;
    }
    Ok(charts)
}

fn b1_groups(b1: &[Case], shape: Shape) -> Vec<Group> {
    Chunking::ALL
        .into_iter()
        .map(|chunking| {
            let bars = Contender::ALL
                .into_iter()
                .filter_map(|contender| {
                    b1.iter()
                        .find(|c| {
                            c.shape == shape && c.chunking == chunking && c.contender == contender
                        })
                        .filter(|c| c.finished)
                        .map(|c| (contender.name().to_owned(), c.events_per_s()))
                })
                .collect();
            (chunking.name().to_owned(), bars)
        })
        .collect()
}

fn median(values: Vec<f64>) -> Option<f64> {
    sdk_benches::stats::median(&values)
}

fn b2_groups(r: &Results) -> Vec<Group> {
    let per = |runs: Vec<f64>, client: Client| median(runs).map(|v| (client.name().to_owned(), v));
    let live = Client::DELIVERY
        .into_iter()
        .filter_map(|client| {
            let runs =
                r.b2.throughput
                    .iter()
                    .find(|(c, _)| *c == client)
                    .map(|(_, runs)| runs.iter().map(|t| t.events_per_s).collect())
                    .unwrap_or_default();
            per(runs, client)
        })
        .collect();
    let backlog = Client::DELIVERY
        .into_iter()
        .filter_map(|client| {
            let runs =
                r.b2.backlog
                    .iter()
                    .find(|(c, _)| *c == client)
                    .map(|(_, runs)| runs.iter().map(|b| b.drain.events_per_s).collect())
                    .unwrap_or_default();
            per(runs, client)
        })
        .collect();
    vec![("live".into(), live), ("backlog".into(), backlog)]
}

fn latency_groups(r: &Results) -> Vec<Group> {
    let mut groups = Vec::new();
    for (rate, per_client) in &r.b2.latency {
        for (label, pick) in [
            (
                "p50",
                (|l: &super::b2::Latency| l.p50_us) as fn(&super::b2::Latency) -> f64,
            ),
            ("p99", |l| l.p99_us),
            ("p99.9", |l| l.p999_us),
            ("max", |l| l.max_us),
        ] {
            let bars = per_client
                .iter()
                .filter_map(|(client, runs)| {
                    median(runs.iter().map(pick).collect()).map(|v| (client.name().to_owned(), v))
                })
                .collect();
            groups.push((format!("{label} @ {:.0}/s", rate), bars));
        }
    }
    groups
}

fn b5_throughput_groups(r: &Results) -> Vec<Group> {
    let bars = r
        .b5
        .throughput
        .iter()
        .filter_map(|(setting, runs)| median(runs.clone()).map(|v| (setting.name().to_owned(), v)))
        .collect();
    vec![("delivered".into(), bars)]
}

fn b5_latency_groups(r: &Results) -> Vec<Group> {
    [
        (
            "p50",
            (|l: &super::b5::Latency| l.p50_us) as fn(&super::b5::Latency) -> f64,
        ),
        ("p99", |l| l.p99_us),
    ]
    .into_iter()
    .map(|(label, pick)| {
        let bars =
            r.b5.latency
                .iter()
                .filter_map(|(setting, runs)| {
                    median(runs.iter().map(pick).collect()).map(|v| (setting.name().to_owned(), v))
                })
                .collect();
        (format!("{label} @ {:.0}/s", r.plan.b5_rate), bars)
    })
    .collect()
}

/// Grouped bars on a log scale: one group per category, one colour per series.
fn bars(path: &Path, title: &str, groups: &[Group], unit: &str) -> Result<(), String> {
    let failed = |e: &dyn std::fmt::Display| format!("chart {}: {e}", path.display());
    let mut series: Vec<String> = Vec::new();
    for (_, bars) in groups {
        for (name, _) in bars {
            if !series.contains(name) {
                series.push(name.clone());
            }
        }
    }
    let values = groups
        .iter()
        .flat_map(|(_, bars)| bars.iter().map(|(_, v)| *v))
        .filter(|v| *v > 0.0);
    let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return Ok(());
    }
    let (lo, hi) = (
        10f64.powf(lo.log10().floor()),
        10f64.powf(hi.log10().ceil()),
    );
    let width = 180 + 110 * groups.len() as u32;
    let root = SVGBackend::new(path, (width.max(640), 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| failed(&e))?;
    let (plot, legend) = root.split_horizontally(width.max(640) - 230);
    let mut chart = ChartBuilder::on(&plot)
        .caption(title, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..groups.len() as f64, (lo..hi).log_scale())
        .map_err(|e| failed(&e))?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_label_formatter(&|v| compact(*v))
        .y_desc(unit)
        .draw()
        .map_err(|e| failed(&e))?;
    // Group names under the axis, centred on their group (the numeric x axis has no categories).
    let below =
        TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    for (g, (name, _)) in groups.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(g as f64 + 0.5, lo));
        plot.draw(&Text::new(name.clone(), (x, y + 8), below.clone()))
            .map_err(|e| failed(&e))?;
    }
    let slot = 0.8 / series.len().max(1) as f64;
    for (g, (_, bars)) in groups.iter().enumerate() {
        for (name, value) in bars {
            let s = series.iter().position(|n| n == name).unwrap_or(0);
            let x0 = g as f64 + 0.1 + slot * s as f64;
            let colour = PALETTE[s % PALETTE.len()];
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x0, lo), (x0 + slot * 0.9, value.max(lo))],
                    colour.filled(),
                )))
                .map_err(|e| failed(&e))?;
        }
    }
    draw_legend(&legend, &series).map_err(|e| failed(&e))?;
    root.present().map_err(|e| failed(&e))?;
    Ok(())
}

/// `1.2M`, `35k`, `120`: axis labels that fit.
fn compact(v: f64) -> String {
    if v >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if v >= 1e3 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let text = format!("{v:.1}");
    text.strip_suffix(".0").map_or(text.clone(), str::to_owned)
}

fn draw_legend(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    series: &[String],
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    for (i, name) in series.iter().enumerate() {
        let y = 50 + 24 * i as i32;
        let colour = PALETTE[i % PALETTE.len()];
        area.draw(&Rectangle::new([(8, y), (22, y + 14)], colour.filled()))?;
        area.draw(&Text::new(
            name.clone(),
            (28, y + 1),
            ("sans-serif", 13).into_font(),
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_bars_show_every_group_series_and_bar() {
        let groups: Vec<Group> = vec![
            (
                "whole".into(),
                vec![("client-core".into(), 6.6e6), ("sse-stream".into(), 3.9e6)],
            ),
            ("7B".into(), vec![("client-core".into(), 1.9e6)]),
        ];
        let path = std::env::temp_dir().join(format!("bars-{}.svg", std::process::id()));
        bars(&path, "B1 test chart", &groups, "events/s").unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        for text in [
            "B1 test chart",
            "whole",
            "7B",
            "client-core",
            "sse-stream",
            "events/s",
        ] {
            assert!(svg.contains(text), "{text} missing");
        }
        // One filled bar per value, in its series' colour (plus one legend swatch per series).
        let first = format!("fill=\"#{:02X}{:02X}{:02X}\"", 31, 119, 180);
        let second = format!("fill=\"#{:02X}{:02X}{:02X}\"", 255, 127, 14);
        assert_eq!(svg.matches(&first).count(), 2 + 1);
        assert_eq!(svg.matches(&second).count(), 1 + 1);
        assert!(
            svg.contains(">\n10M\n<") || svg.contains(">10M<"),
            "compact axis labels"
        );
    }
}
