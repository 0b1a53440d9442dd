//! The SVG plots, drawn with `plotters` into strings (the caller writes
//! the files):
//! - `startup.svg`: each startup case's median inside its p99, EdgeOS and
//!   Linux, on a log axis (5 thousand to 10 million guest ns);
//! - `memcached-tenants-latency.svg`: p50 and p99 against N, both systems;
//! - `memcached-tenants-throughput.svg`: throughput against N;
//! - `hops.svg`: each EdgeOS hop's median inside its p99, with the 2x
//!   median bound of the p99 target marked.
//!
//! A series the table lacks is left out and named in [`Plot::missing`];
//! a plot with no series at all still gets a file that says so, so the
//! set of files is the same after every run.

use std::error::Error;

use plotters::coord::combinators::BindKeyPoints;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use crate::ratios::{EDGEOS, HOPS, LATENCY, LINUX, MEMCACHED_TENANTS, STARTUP, TAIL_TARGET, THROUGHPUT};
use crate::table::{Row, Table};

/// One plot, drawn.
#[derive(Debug, Clone)]
pub struct Plot {
    /// Its file name in the output directory.
    pub file: &'static str,
    /// The series drawn, as their legend names them.
    pub series: Vec<String>,
    /// What the table lacked for it, one sentence each.
    pub missing: Vec<String>,
    /// The SVG document.
    pub svg: String,
}

/// A plot that could not be drawn (a `plotters` error: a bug here, since
/// the drawing goes to a string).
#[derive(Debug, thiserror::Error)]
#[error("cannot draw {file}: {reason}")]
pub struct PlotError {
    /// The plot's file name.
    pub file: &'static str,
    /// `plotters`' reason.
    pub reason: String,
}

type Drawn = Result<(), Box<dyn Error>>;

/// Draws the chart's legend, framed, at `position` and finishes the SVG.
fn legend_and_present<'a, CT: CoordTranslate>(
    root: &DrawingArea<SVGBackend<'a>, plotters::coord::Shift>,
    chart: &mut ChartContext<'a, SVGBackend<'a>, CT>,
    position: SeriesLabelPosition,
) -> Drawn {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, 14))
        .position(position)
        .draw()?;
    root.present()?;
    Ok(())
}

const EDGEOS_COLOURS: [RGBColor; 3] = [RGBColor(31, 119, 180), RGBColor(23, 190, 207), RGBColor(148, 103, 189)];
const LINUX_COLOURS: [RGBColor; 3] = [RGBColor(214, 39, 40), RGBColor(255, 127, 14), RGBColor(140, 86, 75)];
const WIDTH: u32 = 1000;
const FONT: &str = "sans-serif";
/// A bar chart's row on its y axis (integer units: an integer axis takes
/// chosen label positions, an `f64` one does not).
const ROW: i32 = 100;

/// The systems as the legends name them.
fn system_name(system: &str) -> &str {
    match system {
        EDGEOS => "EdgeOS",
        LINUX => "Linux",
        other => other,
    }
}

/// The `shade`th colour of a system (cycling).
fn colour(system: &str, shade: usize) -> RGBColor {
    let palette = if system == LINUX {
        &LINUX_COLOURS
    } else {
        &EDGEOS_COLOURS
    };
    palette[shade % palette.len()]
}

/// Every plot, in the order of the module docs.
pub fn all(table: &Table) -> Result<Vec<Plot>, PlotError> {
    Ok(vec![
        startup(table)?,
        memcached_latency(table)?,
        memcached_throughput(table)?,
        hops(table)?,
    ])
}

/// A figure's value in short form: 950, 5k, 12.5k, 10M.
pub fn short(value: f64) -> String {
    let (scaled, suffix) = match value.abs() {
        v if v >= 1e9 => (value / 1e9, "G"),
        v if v >= 1e6 => (value / 1e6, "M"),
        v if v >= 1e3 => (value / 1e3, "k"),
        _ => (value, ""),
    };
    let text = format!("{scaled:.1}");
    format!("{}{suffix}", text.strip_suffix(".0").unwrap_or(&text))
}

/// Names the systems of `wanted` that `table` has no `metric` rows of.
fn missing_systems(table: &Table, benchmark: &str, metric: &str, wanted: &[&str]) -> Vec<String> {
    wanted
        .iter()
        .filter(|system| table.select(benchmark, system, metric).next().is_none())
        .map(|system| {
            format!(
                "no {} rows (benchmark {benchmark}, system {system}, metric {metric})",
                system_name(system)
            )
        })
        .collect()
}

/// A plot without series: its title and why it is empty.
fn empty(file: &'static str, title: &str, missing: Vec<String>) -> Result<Plot, PlotError> {
    let mut svg = String::new();
    let drawn: Drawn = (|| {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 200)).into_drawing_area();
        root.fill(&WHITE)?;
        let root = root.titled(title, (FONT, 22))?;
        for (i, line) in std::iter::once("no data in the table:")
            .chain(missing.iter().map(String::as_str))
            .enumerate()
        {
            root.draw(&Text::new(line.to_owned(), (20, 20 + 24 * i as i32), (FONT, 16)))?;
        }
        root.present()?;
        Ok(())
    })();
    drawn.map_err(|e| PlotError {
        file,
        reason: e.to_string(),
    })?;
    Ok(Plot {
        file,
        series: Vec::new(),
        missing,
        svg,
    })
}

/// A horizontal bar: a median drawn inside its p99.
struct Bar {
    label: String,
    system: String,
    median: f64,
    p99: f64,
}

/// What a bar chart shows.
struct Bars<'a> {
    file: &'static str,
    title: &'a str,
    x_desc: &'a str,
    bars: &'a [Bar],
    /// Mark each bar's [`TAIL_TARGET`] x median.
    target_marks: bool,
}

/// Draws `spec` on the x axis `x` (linear or log) from `from`; returns the
/// SVG and the series' legend names. Bar `i` spans a row of [`ROW`] units
/// on the y axis, the first bar at the top.
fn bar_chart<X>(spec: &Bars<'_>, x: X, from: f64) -> Result<(String, Vec<String>), PlotError>
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
{
    let n = spec.bars.len();
    let top = |i: usize| (n - 1 - i) as i32 * ROW;
    let mut svg = String::new();
    let mut series = Vec::new();
    let drawn: Drawn = (|| {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 140 + 34 * n as u32)).into_drawing_area();
        root.fill(&WHITE)?;
        // One label in the middle of each row.
        let centres: Vec<i32> = (0..n as i32).map(|i| i * ROW + ROW / 2).collect();
        let mut chart = ChartBuilder::on(&root)
            .caption(spec.title, (FONT, 22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(250)
            .build_cartesian_2d(x, (0..n as i32 * ROW).with_key_points(centres))?;
        let labels: Vec<String> = spec
            .bars
            .iter()
            .map(|b| format!("{} {}", system_name(&b.system), b.label))
            .collect();
        let y_label = |y: &i32| {
            let row = usize::try_from(y / ROW).unwrap_or(n);
            if row < n {
                labels[n - 1 - row].clone()
            } else {
                String::new()
            }
        };
        let x_label = |v: &f64| short(*v);
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(TRANSPARENT)
            .y_label_formatter(&y_label)
            .x_label_formatter(&x_label)
            .x_desc(spec.x_desc)
            .label_style((FONT, 14))
            .draw()?;
        let mut systems: Vec<&str> = spec.bars.iter().map(|b| b.system.as_str()).collect();
        systems.dedup();
        for system in systems {
            let base = colour(system, 0);
            let of_system = || spec.bars.iter().enumerate().filter(move |(_, b)| b.system == system);
            for (stat, inset, style) in [
                ("p99", ROW / 8, base.mix(0.35).filled()),
                ("median", ROW * 3 / 10, base.filled()),
            ] {
                let name = format!("{} {stat}", system_name(system));
                chart
                    .draw_series(of_system().map(|(i, b)| {
                        let value = if stat == "p99" { b.p99 } else { b.median };
                        Rectangle::new([(from, top(i) + inset), (value, top(i) + ROW - inset)], style)
                    }))?
                    .label(name.clone())
                    .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], style));
                series.push(name);
            }
        }
        if spec.target_marks {
            let name = format!("{TAIL_TARGET}x median (the p99 target)");
            chart
                .draw_series(spec.bars.iter().enumerate().map(|(i, b)| {
                    let at = TAIL_TARGET * b.median;
                    PathElement::new(
                        [(at, top(i) + ROW / 25), (at, top(i) + ROW - ROW / 25)],
                        BLACK.stroke_width(2),
                    )
                }))?
                .label(name.clone())
                .legend(|(x, y)| PathElement::new([(x + 8, y - 7), (x + 8, y + 7)], BLACK.stroke_width(2)));
            series.push(name);
        }
        legend_and_present(&root, &mut chart, SeriesLabelPosition::LowerRight)
    })();
    drawn.map_err(|e| PlotError {
        file: spec.file,
        reason: e.to_string(),
    })?;
    Ok((svg, series))
}

/// The bars of `rows`; rows without a median and p99, or (on a log axis)
/// with one at zero, are named in `missing` instead.
fn bars_of<'a>(rows: impl Iterator<Item = &'a Row>, log: bool, missing: &mut Vec<String>) -> Vec<Bar> {
    let mut bars = Vec::new();
    for row in rows {
        match (row.median, row.p99) {
            (Some(median), Some(p99)) if !log || (median > 0.0 && p99 > 0.0) => bars.push(Bar {
                label: row.case.clone(),
                system: row.system.clone(),
                median,
                p99,
            }),
            _ => missing.push(format!(
                "{} {} {} left out: {}",
                row.benchmark,
                row.system,
                row.case,
                if log {
                    "a median and a p99 above 0 are needed on the log axis"
                } else {
                    "no median or no p99"
                }
            )),
        }
    }
    bars
}

/// `startup.svg`.
pub fn startup(table: &Table) -> Result<Plot, PlotError> {
    const FILE: &str = "startup.svg";
    let title = "Startup latency: median (dark) inside p99 (light), log scale";
    let mut missing = missing_systems(table, STARTUP, LATENCY, &[EDGEOS, LINUX]);
    let rows = table
        .select(STARTUP, EDGEOS, LATENCY)
        .chain(table.select(STARTUP, LINUX, LATENCY));
    let bars = bars_of(rows, true, &mut missing);
    if bars.is_empty() {
        return empty(FILE, title, missing);
    }
    let units = units(table, STARTUP, LATENCY);
    let lo = bars.iter().map(|b| b.median).fold(f64::INFINITY, f64::min) / 2.0;
    // A decade and more of room at the right, for the legend.
    let hi = bars.iter().map(|b| b.p99).fold(0.0, f64::max) * 20.0;
    let spec = Bars {
        file: FILE,
        title,
        x_desc: &format!("{units} (log scale)"),
        bars: &bars,
        target_marks: false,
    };
    let (svg, series) = bar_chart(&spec, (lo..hi).log_scale(), lo)?;
    Ok(Plot {
        file: FILE,
        series,
        missing,
        svg,
    })
}

/// `hops.svg`.
pub fn hops(table: &Table) -> Result<Plot, PlotError> {
    const FILE: &str = "hops.svg";
    let title = "Time per frame in each hop: median (dark) inside p99 (light)";
    let mut missing = missing_systems(table, HOPS, LATENCY, &[EDGEOS]);
    let bars = bars_of(table.select(HOPS, EDGEOS, LATENCY), false, &mut missing);
    if bars.is_empty() {
        return empty(FILE, title, missing);
    }
    // In the path's order: driver, mux, tenant; anything else after.
    let order = |b: &Bar| ["net_driver", "mux"].iter().position(|c| *c == b.label).unwrap_or(2);
    let mut bars = bars;
    bars.sort_by_key(order);
    let units = units(table, HOPS, LATENCY);
    // Room at the right for the legend.
    let hi = bars
        .iter()
        .map(|b| b.p99.max(TAIL_TARGET * b.median))
        .fold(0.0, f64::max)
        * 1.5;
    let spec = Bars {
        file: FILE,
        title,
        x_desc: &units,
        bars: &bars,
        target_marks: true,
    };
    let (svg, series) = bar_chart(&spec, 0.0..hi, 0.0)?;
    Ok(Plot {
        file: FILE,
        series,
        missing,
        svg,
    })
}

/// The units of a benchmark's rows, as an axis names them.
fn units(table: &Table, benchmark: &str, metric: &str) -> String {
    let mut units: Vec<&str> = table
        .rows()
        .iter()
        .filter(|r| r.benchmark == benchmark && r.metric == metric)
        .map(|r| r.unit.as_str())
        .collect();
    units.sort_unstable();
    units.dedup();
    units.join(", ")
}

/// A line of points against N.
struct Line {
    name: String,
    colour: RGBColor,
    /// p99 lines are paler, with triangles.
    pale: bool,
    points: Vec<(f64, f64)>,
}

/// The lines of `metric` against N: one per system, case and statistic.
/// A statistic of a row: its name in the legend and how to read it.
type Stat<'a> = (&'a str, fn(&Row) -> Option<f64>);

fn tenant_lines(table: &Table, metric: &str, stats: &[Stat<'_>]) -> Vec<Line> {
    let mut lines = Vec::new();
    for system in [EDGEOS, LINUX] {
        let mut cases: Vec<&str> = table
            .select(MEMCACHED_TENANTS, system, metric)
            .map(|r| r.case.as_str())
            .collect();
        cases.sort_unstable();
        cases.dedup();
        for (shade, case) in cases.iter().enumerate() {
            for (s, (stat, pick)) in stats.iter().enumerate() {
                let mut points: Vec<(f64, f64)> = table
                    .select(MEMCACHED_TENANTS, system, metric)
                    .filter(|r| r.case == *case)
                    .filter_map(|r| Some((f64::from(r.tenants?), pick(r)?)))
                    .filter(|&(n, v)| n > 0.0 && v > 0.0)
                    .collect();
                points.sort_by(|a, b| a.0.total_cmp(&b.0));
                if points.is_empty() {
                    continue;
                }
                let name = [system_name(system), case, stat]
                    .iter()
                    .filter(|p| !p.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" ");
                lines.push(Line {
                    name,
                    colour: colour(system, shade),
                    pale: s > 0,
                    points,
                });
            }
        }
    }
    lines
}

/// Draws `lines` against N on a log x axis, y on `y`.
fn line_chart<Y>(file: &'static str, title: &str, y_desc: &str, lines: &[Line], y: Y) -> Result<String, PlotError>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    // The axis is labelled at the Ns measured.
    let mut ns: Vec<f64> = lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)).collect();
    ns.sort_by(f64::total_cmp);
    ns.dedup();
    let (lo, hi) = (ns[0], ns[ns.len() - 1]);
    let mut svg = String::new();
    let drawn: Drawn = (|| {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 600)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d((lo / 1.5..hi * 1.5).log_scale().with_key_points(ns.clone()), y)?;
        let y_label = |v: &f64| short(*v);
        let x_label = |v: &f64| short(*v);
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .x_desc("tenants (N, log scale)")
            .y_desc(y_desc)
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .label_style((FONT, 14))
            .draw()?;
        for line in lines {
            let colour = if line.pale {
                line.colour.mix(0.55)
            } else {
                line.colour.mix(1.0)
            };
            let style = colour.stroke_width(2);
            chart
                .draw_series(LineSeries::new(line.points.iter().copied(), style))?
                .label(line.name.clone())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], style));
            if line.pale {
                chart.draw_series(line.points.iter().map(|&p| TriangleMarker::new(p, 6, colour.filled())))?;
            } else {
                chart.draw_series(line.points.iter().map(|&p| Circle::new(p, 4, colour.filled())))?;
            }
        }
        legend_and_present(&root, &mut chart, SeriesLabelPosition::UpperLeft)
    })();
    drawn.map_err(|e| PlotError {
        file,
        reason: e.to_string(),
    })?;
    Ok(svg)
}

/// `memcached-tenants-latency.svg`.
pub fn memcached_latency(table: &Table) -> Result<Plot, PlotError> {
    const FILE: &str = "memcached-tenants-latency.svg";
    let title = "memcached with N tenants: p50 and p99 latency (log scales)";
    let missing = missing_systems(table, MEMCACHED_TENANTS, LATENCY, &[EDGEOS, LINUX]);
    let lines = tenant_lines(table, LATENCY, &[("p50", |r| r.median), ("p99", |r| r.p99)]);
    if lines.is_empty() {
        return empty(FILE, title, missing);
    }
    let ys = lines.iter().flat_map(|l| l.points.iter().map(|p| p.1));
    let (lo, hi) = ys.fold((f64::INFINITY, 0.0_f64), |(lo, hi), y| (lo.min(y), hi.max(y)));
    let units = units(table, MEMCACHED_TENANTS, LATENCY);
    let svg = line_chart(
        FILE,
        title,
        &format!("latency ({units}, log scale)"),
        &lines,
        (lo / 1.5..hi * 1.5).log_scale(),
    )?;
    Ok(Plot {
        file: FILE,
        series: lines.into_iter().map(|l| l.name).collect(),
        missing,
        svg,
    })
}

/// `memcached-tenants-throughput.svg`.
pub fn memcached_throughput(table: &Table) -> Result<Plot, PlotError> {
    const FILE: &str = "memcached-tenants-throughput.svg";
    let title = "memcached with N tenants: throughput";
    let missing = missing_systems(table, MEMCACHED_TENANTS, THROUGHPUT, &[EDGEOS, LINUX]);
    let lines = tenant_lines(table, THROUGHPUT, &[("", |r| r.median)]);
    if lines.is_empty() {
        return empty(FILE, title, missing);
    }
    let hi = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .fold(0.0, f64::max)
        * 1.15;
    let units = units(table, MEMCACHED_TENANTS, THROUGHPUT);
    let svg = line_chart(FILE, title, &units, &lines, 0.0..hi)?;
    Ok(Plot {
        file: FILE,
        series: lines.into_iter().map(|l| l.name).collect(),
        missing,
        svg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{parse, HEADER};

    fn table(rows: &str) -> Table {
        parse("t.csv", &format!("{HEADER}\n{rows}")).unwrap()
    }

    fn is_svg(svg: &str) -> bool {
        svg.trim_start().starts_with("<svg") && svg.trim_end().ends_with("</svg>")
    }

    const FULL: &str = "hops,edgeos,net_driver,,latency,guest_ns,16384,2480,4976,6416
hops,edgeos,mux,,latency,guest_ns,16384,2368,2576,2672
hops,edgeos,tenant,,latency,guest_ns,1024,4400,4423,4426
startup,edgeos,fwp-warm-spawn,,latency,guest_ns,6116,6880,7056,888016
startup,linux,fork+execve,,latency,guest_ns,1000,280000,285984,487360
memcached-tenants,edgeos,get-100B,1,latency,us,4000,20,40,90
memcached-tenants,edgeos,get-100B,8,latency,us,4000,20,45,120
memcached-tenants,linux,get-100B,1,latency,us,4000,200,400,9000
memcached-tenants,linux,get-100B,8,latency,us,4000,200,800,19000
memcached-tenants,edgeos,get-100B,8,throughput,req_per_s,4000,,2000,
memcached-tenants,linux,get-100B,8,throughput,req_per_s,4000,,1234.5,
";

    #[test]
    fn every_plot_is_an_svg_naming_its_series() {
        let plots = all(&table(FULL)).unwrap();
        let files: Vec<&str> = plots.iter().map(|p| p.file).collect();
        assert_eq!(
            files,
            [
                "startup.svg",
                "memcached-tenants-latency.svg",
                "memcached-tenants-throughput.svg",
                "hops.svg"
            ]
        );
        for plot in &plots {
            assert!(is_svg(&plot.svg), "{}", plot.file);
            assert!(plot.missing.is_empty(), "{}: {:?}", plot.file, plot.missing);
            assert!(!plot.series.is_empty(), "{}", plot.file);
            for name in &plot.series {
                assert!(plot.svg.contains(name.as_str()), "{} lacks {name}", plot.file);
            }
        }
        assert_eq!(
            plots[0].series,
            ["EdgeOS p99", "EdgeOS median", "Linux p99", "Linux median"]
        );
        assert!(plots[0].svg.contains("fork+execve"), "the cases label the bars");
        assert_eq!(
            plots[1].series,
            [
                "EdgeOS get-100B p50",
                "EdgeOS get-100B p99",
                "Linux get-100B p50",
                "Linux get-100B p99"
            ]
        );
        assert_eq!(plots[2].series, ["EdgeOS get-100B", "Linux get-100B"]);
        assert_eq!(
            plots[3].series,
            ["EdgeOS p99", "EdgeOS median", "2x median (the p99 target)"]
        );
    }

    #[test]
    fn missing_series_are_named_not_fatal() {
        let edgeos_only: String = FULL
            .lines()
            .filter(|l| !l.contains(",linux,"))
            .map(|l| format!("{l}\n"))
            .collect();
        let plots = all(&table(&edgeos_only)).unwrap();
        for plot in &plots[..3] {
            assert!(is_svg(&plot.svg));
            assert!(
                plot.missing.iter().any(|m| m.starts_with("no Linux rows")),
                "{}: {:?}",
                plot.file,
                plot.missing
            );
            assert!(plot.series.iter().all(|s| !s.starts_with("Linux")));
        }
        let nothing = all(&Table::default()).unwrap();
        for plot in &nothing {
            assert!(is_svg(&plot.svg), "{}", plot.file);
            assert!(plot.series.is_empty());
            assert!(plot.svg.contains("no data in the table"), "{}", plot.file);
        }
        assert_eq!(
            nothing[3].missing,
            ["no EdgeOS rows (benchmark hops, system edgeos, metric latency)"]
        );
    }

    #[test]
    fn a_zero_cannot_go_on_a_log_axis() {
        let plot = startup(&table("startup,edgeos,fwp-warm-spawn,,latency,guest_ns,1,0,0,5\n")).unwrap();
        assert!(plot.series.is_empty());
        assert!(
            plot.missing.iter().any(|m| m.contains("fwp-warm-spawn left out")),
            "{:?}",
            plot.missing
        );
    }

    #[test]
    fn short_figures() {
        assert_eq!(short(950.0), "950");
        assert_eq!(short(5000.0), "5k");
        assert_eq!(short(12_500.0), "12.5k");
        assert_eq!(short(10_000_000.0), "10M");
        assert_eq!(short(0.5), "0.5");
    }
}
