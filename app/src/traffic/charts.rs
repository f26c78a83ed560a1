//! The Traffic page's charts, drawn on the server with plotters as SVG so
//! they read without JavaScript: the top keys per window against the limit,
//! requests over time for the busiest keys, and the distribution of peaks
//! with the recommendation marked. plotters escapes the text it writes, and
//! keys come from logs anyone can write to, so nothing here builds markup
//! by hand.

use super::windows::{Series, TopRow};
use chrono::DateTime;
use plotters::prelude::*;

const WIDTH: u32 = 760;
const LIMIT_COLOUR: RGBColor = RGBColor(200, 30, 45);
const PALETTE: [RGBColor; 5] = [
    RGBColor(31, 90, 166),
    RGBColor(214, 120, 20),
    RGBColor(40, 140, 70),
    RGBColor(130, 60, 160),
    RGBColor(120, 120, 120),
];

type Drawn = Result<(), Box<dyn std::error::Error>>;

fn svg(
    height: u32,
    draw: impl FnOnce(DrawingArea<SVGBackend, plotters::coord::Shift>) -> Drawn,
) -> String {
    let mut out = String::new();
    {
        let area = SVGBackend::with_string(&mut out, (WIDTH, height)).into_drawing_area();
        if area.fill(&WHITE).is_err() || draw(area.clone()).is_err() || area.present().is_err() {
            return String::new();
        }
    }
    out
}

/// A legend swatch: a short line in `style`.
fn swatch(style: ShapeStyle) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new([(x, y), (x + 16, y)], style)
}

/// The legend, in the same place and style on every chart.
fn legend<'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, CT>,
) -> Drawn {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

fn clock(seconds: i64) -> String {
    DateTime::from_timestamp(seconds, 0).map_or_else(String::new, |t| t.format("%H:%M").to_string())
}

/// Horizontal bars: the first rows of the top list, with the limit as a line.
pub fn top_bars(rows: &[TopRow], limit: u64) -> String {
    let rows = &rows[..rows.len().min(15)];
    if rows.is_empty() {
        return String::new();
    }
    let labels: Vec<String> = rows
        .iter()
        .map(|r| match &r.uri {
            Some(uri) => format!("{} {} @{}", r.key, uri, clock(r.window_start)),
            None => format!("{} @{}", r.key, clock(r.window_start)),
        })
        .collect();
    // Whole numbers on the axis: counts are.
    let top =
        (rows.iter().map(|r| r.count).max().unwrap_or(1).max(limit) as f64 * 1.1).ceil() as u64;
    let n = rows.len() as i32;
    svg(60 + 24 * rows.len() as u32, |area| {
        // One segment per row, so each label sits at the middle of its bar.
        let mut chart = ChartBuilder::on(&area)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(250)
            .build_cartesian_2d(0u64..top.max(1), (0..n).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(rows.len() + 1)
            .y_label_formatter(&|value| match value {
                SegmentValue::CenterOf(i) => labels
                    .get((n - 1 - *i) as usize)
                    .cloned()
                    .unwrap_or_default(),
                _ => String::new(),
            })
            .x_desc("requests in the window")
            .draw()?;
        chart.draw_series(rows.iter().enumerate().map(|(i, r)| {
            let y = n - 1 - i as i32;
            let mut bar = Rectangle::new(
                [
                    (0, SegmentValue::Exact(y)),
                    (r.count, SegmentValue::Exact(y + 1)),
                ],
                PALETTE[0].mix(0.8).filled(),
            );
            bar.set_margin(3, 3, 0, 0);
            bar
        }))?;
        chart
            .draw_series(LineSeries::new(
                [
                    (limit, SegmentValue::Exact(0)),
                    (limit, SegmentValue::Exact(n)),
                ],
                LIMIT_COLOUR.stroke_width(2),
            ))?
            .label(format!("limit {limit}"))
            .legend(swatch(LIMIT_COLOUR.stroke_width(2)));
        legend(&mut chart)?;
        Ok(())
    })
}

/// Lines: requests per window over the range for the busiest keys, and
/// all requests per window (`totals` per 10-second bucket, summed into
/// fixed windows of `window` seconds) on an axis of their own.
pub fn over_time(
    busiest: &[Series],
    totals: &[(i64, u64)],
    window: u32,
    (from, to): (i64, i64),
    limit: u64,
) -> String {
    if busiest.is_empty() {
        return String::new();
    }
    let (from, to) = active_span(busiest, from, to);
    let window = i64::from(window.max(10));
    let mut all: Vec<(i64, u64)> = Vec::new();
    for &(bucket, requests) in totals {
        let second = bucket * 10;
        if second < from || second >= to {
            continue;
        }
        let start = second.div_euclid(window) * window;
        match all.last_mut() {
            Some((s, total)) if *s == start => *total += requests,
            _ => all.push((start, requests)),
        }
    }
    let all_top = (all.iter().map(|w| w.1).max().unwrap_or(1) as f64 * 1.1).ceil() as u64;
    let top = (busiest
        .iter()
        .map(Series::peak)
        .max()
        .unwrap_or(1)
        .max(limit) as f64
        * 1.1)
        .ceil() as u64;
    svg(340, |area| {
        let mut chart = ChartBuilder::on(&area)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .right_y_label_area_size(70)
            .build_cartesian_2d(from..to, 0u64..top.max(1))?
            .set_secondary_coord(from..to, 0u64..all_top.max(1));
        chart
            .configure_mesh()
            .x_label_formatter(&|t| clock(*t))
            .y_label_formatter(&|v| v.to_string())
            .y_desc("requests per window, per key")
            .draw()?;
        chart
            .configure_secondary_axes()
            .y_label_formatter(&|v| v.to_string())
            .y_desc("all requests per window")
            .draw()?;
        let total_style = BLACK.mix(0.35).stroke_width(1);
        chart
            .draw_secondary_series(LineSeries::new(all.iter().copied(), total_style))?
            .label("all requests (right axis)")
            .legend(swatch(total_style));
        for (series, colour) in busiest.iter().zip(PALETTE) {
            let name = match &series.uri {
                Some(uri) => format!("{} {uri}", series.key),
                None => series.key.clone(),
            };
            chart
                .draw_series(LineSeries::new(
                    series.windows.iter().copied(),
                    colour.stroke_width(2),
                ))?
                .label(name)
                .legend(swatch(colour.stroke_width(2)));
        }
        chart
            .draw_series(LineSeries::new(
                [(from, limit), (to, limit)],
                LIMIT_COLOUR.stroke_width(1),
            ))?
            .label(format!("limit {limit}"))
            .legend(swatch(LIMIT_COLOUR.stroke_width(1)));
        legend(&mut chart)?;
        Ok(())
    })
}

/// The stretch of `from..to` where the series have requests, with a tenth
/// of it (at least ten minutes) either side: keys active for ten minutes of
/// a day are drawn over those minutes, not as a dot.
fn active_span(busiest: &[Series], from: i64, to: i64) -> (i64, i64) {
    let starts = busiest.iter().flat_map(|s| s.windows.iter().map(|w| w.0));
    let (Some(first), Some(last)) = (starts.clone().min(), starts.max()) else {
        return (from, to);
    };
    let pad = ((last - first) / 10).max(600);
    ((first - pad).max(from), (last + pad).min(to).max(first + 1))
}

/// Bars: how many keys peaked at each level (logarithmic), the
/// recommended limit marked.
pub fn peak_distribution(sorted_peaks: &[u64], recommended: u64) -> String {
    let Some(&max) = sorted_peaks.last() else {
        return String::new();
    };
    const BINS: u64 = 30;
    let upper = max.max(recommended) + 1;
    let width = upper.div_ceil(BINS).max(1);
    let mut bins = vec![0u64; BINS as usize + 1];
    for &peak in sorted_peaks {
        bins[((peak / width) as usize).min(BINS as usize)] += 1;
    }
    let most = bins.iter().copied().max().unwrap_or(1).max(1);
    svg(320, |area| {
        let mut chart = ChartBuilder::on(&area)
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0u64..width * (BINS + 1), (1u64..most * 2).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("peak requests in one window")
            .y_desc("keys (log scale)")
            .draw()?;
        chart.draw_series(
            bins.iter()
                .enumerate()
                .filter(|(_, k)| **k > 0)
                .map(|(i, &keys)| {
                    let x = i as u64 * width;
                    Rectangle::new(
                        [(x, 1), (x + width, keys.max(1) + 1)],
                        PALETTE[0].mix(0.8).filled(),
                    )
                }),
        )?;
        chart
            .draw_series(LineSeries::new(
                [(recommended, 1), (recommended, most * 2)],
                LIMIT_COLOUR.stroke_width(2),
            ))?
            .label(format!("recommended {recommended}"))
            .legend(swatch(LIMIT_COLOUR.stroke_width(2)));
        legend(&mut chart)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_draw_and_escape_what_the_logs_wrote() {
        let rows = [TopRow {
            key: "<script>alert(1)</script>".into(),
            uri: Some("/a&b".into()),
            window_start: 1_795_359_600,
            count: 300,
        }];
        let bars = top_bars(&rows, 150);
        assert!(bars.starts_with("<svg"), "{bars}");
        assert!(!bars.contains("<script>"));
        assert!(bars.contains("&lt;script&gt;"));
        assert!(bars.contains("limit 150"));
        assert!(
            bars.contains("\n100\n") && !bars.contains(".0\n"),
            "whole numbers on the count axis"
        );
        let series = [Series {
            key: "198.51.100.7".into(),
            uri: None,
            windows: vec![(1_795_359_600, 300), (1_795_359_900, 20)],
        }];
        let totals = [(179_535_960, 900), (179_535_961, 1_000), (179_535_990, 40)];
        let lines = over_time(&series, &totals, 300, (1_795_359_000, 1_795_361_000), 150);
        assert!(lines.contains("198.51.100.7"));
        assert!(lines.contains("all requests (right axis)"));
        assert!(
            lines.contains("\n2000\n"),
            "the right axis reaches the window of 1,900 requests in all: {lines}"
        );
        // A day's range, keys active for ten minutes: drawn over those
        // minutes, with whole numbers on the axis.
        let day = over_time(&series, &totals, 300, (1_795_305_600, 1_795_392_000), 150);
        assert!(
            day.contains("\n15:0"),
            "zoomed to the active minutes: {day}"
        );
        assert!(!day.contains("\n00:00\n"), "not the whole day");
        assert!(
            day.contains("\n100\n") && !day.contains(".0\n"),
            "whole numbers"
        );
        let peaks = peak_distribution(&[1, 2, 2, 5, 300], 600);
        assert!(peaks.contains("recommended 600"));
        assert_eq!(top_bars(&[], 10), "", "nothing to draw");
    }

    #[test]
    fn each_bar_is_labelled_once() {
        let rows: Vec<TopRow> = (1..=3)
            .map(|i| TopRow {
                key: format!("192.0.2.{i}"),
                uri: None,
                window_start: 1_795_359_600,
                count: 100 * i,
            })
            .collect();
        let bars = top_bars(&rows, 150);
        for row in &rows {
            let label = format!("{} @", row.key);
            assert_eq!(bars.matches(&label).count(), 1, "{label} in {bars}");
        }
    }
}
