//! The SVG chart of `BENCHMARKS.md`: refreshes/s and p99 against concurrency, one line per label.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::prelude::*;
use serde::Deserialize;

use crate::BenchError;

/// The fields of a load summary the chart needs.
#[derive(Debug, Clone, Deserialize)]
pub struct Point {
    /// Series name (backend and algorithm).
    pub label: String,
    /// x.
    pub concurrency: usize,
    /// Left panel's y.
    pub refreshes_per_sec: f64,
    /// Right panel's y (p99, microseconds).
    pub latency_us: LatencyPoint,
}

/// The one percentile drawn.
#[derive(Debug, Clone, Deserialize)]
pub struct LatencyPoint {
    /// 99th percentile, microseconds.
    pub p99: u64,
}

/// Reads every load summary (a line holding `"mode":"load"`) from JSON-lines text; other lines
/// (human output, race summaries) are skipped.
///
/// # Errors
/// [`BenchError::Json`] for a load summary line that does not parse.
pub fn read_points(text: &str) -> Result<Vec<Point>, BenchError> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with('{') && l.contains(r#""mode":"load""#))
        .map(|l| serde_json::from_str(l).map_err(BenchError::Json))
        .collect()
}

/// Concurrency, refreshes/s, p99 in milliseconds.
type Sample = (usize, f64, f64);
type Series = BTreeMap<String, Vec<Sample>>;
/// Title, axis name, largest value, and which value of a sample the panel draws.
type Panel = (&'static str, &'static str, f64, fn(&Sample) -> f64);

fn series(points: &[Point]) -> Series {
    let mut by_label: Series = BTreeMap::new();
    for p in points {
        by_label.entry(p.label.clone()).or_default().push((
            p.concurrency,
            p.refreshes_per_sec,
            p.latency_us.p99 as f64 / 1e3,
        ));
    }
    for line in by_label.values_mut() {
        line.sort_by_key(|&(c, _, _)| c);
    }
    by_label
}

fn chart_error(e: impl std::fmt::Display) -> BenchError {
    BenchError::Chart(e.to_string())
}

/// Draws `points` into an SVG file at `out`.
///
/// # Errors
/// [`BenchError::Chart`] when there is nothing to draw or the file cannot be written.
pub fn draw(points: &[Point], out: &Path) -> Result<(), BenchError> {
    if points.is_empty() {
        return Err(BenchError::Chart("no load summaries to draw".into()));
    }
    let lines = series(points);
    let max_c = points
        .iter()
        .map(|p| p.concurrency)
        .max()
        .unwrap_or(1)
        .max(2);
    let max_rate = points
        .iter()
        .map(|p| p.refreshes_per_sec)
        .fold(1.0, f64::max);
    let max_p99 = points
        .iter()
        .map(|p| p.latency_us.p99 as f64 / 1e3)
        .fold(1.0, f64::max);
    let root = SVGBackend::new(out, (1100, 450)).into_drawing_area();
    root.fill(&WHITE).map_err(chart_error)?;
    let panels = root.split_evenly((1, 2));
    let specs: [Panel; 2] = [
        ("Refreshes per second", "refreshes/s", max_rate, |p| p.1),
        ("p99 latency", "p99 (ms)", max_p99, |p| p.2),
    ];
    for (panel, (title, y_desc, y_max, pick)) in panels.iter().zip(specs) {
        let mut chart = ChartBuilder::on(panel)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0..max_c + 1, 0.0..y_max * 1.1)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .x_desc("concurrency")
            .y_desc(y_desc)
            .draw()
            .map_err(chart_error)?;
        for (i, (label, line)) in lines.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let data: Vec<(usize, f64)> = line.iter().map(|p| (p.0, pick(p))).collect();
            chart
                .draw_series(LineSeries::new(data.clone(), color.stroke_width(2)))
                .map_err(chart_error)?
                .label(label.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
            chart
                .draw_series(data.into_iter().map(|p| Circle::new(p, 3, color.filled())))
                .map_err(chart_error)?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(chart_error)?;
    }
    root.present().map_err(chart_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_load_summaries_are_read_and_series_are_sorted_by_concurrency() {
        let text = r#"refreshes 10
{"mode":"load","label":"sqlite RS512","concurrency":4,"refreshes_per_sec":20.0,"latency_us":{"p99":2000}}
{"mode":"race","racers":8}
{"mode":"load","label":"sqlite RS512","concurrency":1,"refreshes_per_sec":10.0,"latency_us":{"p99":1000}}
"#;
        let points = read_points(text).unwrap();
        assert_eq!(points.len(), 2);
        let s = series(&points);
        assert_eq!(s["sqlite RS512"], vec![(1, 10.0, 1.0), (4, 20.0, 2.0)]);
    }

    #[test]
    fn a_chart_is_written_as_svg() {
        let dir = std::env::temp_dir().join(format!("tollgate-chart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("chart.svg");
        let points = read_points(
            r#"{"mode":"load","label":"a","concurrency":1,"refreshes_per_sec":10.0,"latency_us":{"p99":1000}}
{"mode":"load","label":"a","concurrency":4,"refreshes_per_sec":30.0,"latency_us":{"p99":3000}}"#,
        )
        .unwrap();
        draw(&points, &out).unwrap();
        let svg = std::fs::read_to_string(&out).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
        assert!(svg.contains("Refreshes per second"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
