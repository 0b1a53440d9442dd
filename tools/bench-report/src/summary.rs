//! `summary.md`: the headline ratios in Markdown, headed by the date, the
//! QEMU version and the machine, and ending with what the table lacked.

use std::fmt::Write;

use crate::environment::Environment;
use crate::plot::Plot;
use crate::ratios::{self, Tail, EDGEOS, FWP_SPAWNS, LATENCY, LINUX, MEMCACHED_TENANTS, STARTUP, TAIL_TARGET};
use crate::table::Table;

/// A figure with thousands grouped (`285,984`; `1,234.5`).
pub fn grouped(value: f64) -> String {
    let text = if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    };
    let (int, frac) = text
        .split_once('.')
        .map_or((text.as_str(), None), |(i, f)| (i, Some(f)));
    let mut out = String::new();
    for (i, digit) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    if let Some(frac) = frac {
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// A ratio with the precision it deserves: `3,459x`, `170x`, `12.3x`, `1.29x`.
pub fn times(ratio: f64) -> String {
    match ratio {
        r if r >= 100.0 => format!("{}x", grouped(r.round())),
        r if r >= 10.0 => format!("{r:.1}x"),
        r => format!("{r:.2}x"),
    }
}

fn times_or_dash(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "-".to_owned(), times)
}

/// The summary of `table` (already normalised), measured in `env`, whose
/// plots are `plots`.
pub fn render(table: &Table, env: &Environment, plots: &[Plot]) -> String {
    let mut md = String::new();
    let mut missing: Vec<String> = Vec::new();
    // Writing to a String cannot fail.
    let _ = writeln!(md, "# Benchmarks: EdgeOS and Linux on the same emulated machine\n");
    let _ = writeln!(
        md,
        "Measured on {} with {}, on {} ({} cores), by `make bench` (`ci/bench.sh`, then \
         `tools/bench-report`). Guest figures are `guest_ns`: instructions under QEMU's \
         `-icount shift=0`, read from the ARM generic counter inside each guest. The table is \
         `results.csv`; the plots are {}.\n",
        env.date,
        env.qemu,
        env.cpu,
        env.cores,
        plots
            .iter()
            .map(|p| format!("`{}`", p.file))
            .collect::<Vec<_>>()
            .join(", ")
    );

    startup(&mut md, table, &mut missing);
    memcached(&mut md, table, &mut missing);
    tails(&mut md, table, &mut missing);

    for plot in plots {
        missing.extend(plot.missing.iter().map(|m| format!("`{}`: {m}", plot.file)));
    }
    let _ = writeln!(md, "## Missing\n");
    if missing.is_empty() {
        let _ = writeln!(md, "Nothing: every series was measured.");
    } else {
        for m in &missing {
            let _ = writeln!(md, "- {m}");
        }
    }
    md
}

fn startup(md: &mut String, table: &Table, missing: &mut Vec<String>) {
    let _ = writeln!(md, "## Startup: Linux's median over EdgeOS's FWP spawn's\n");
    let ratios = ratios::startup(table);
    if ratios.is_empty() {
        let why = if !table.has(STARTUP, LINUX) {
            "no Linux startup rows".to_owned()
        } else if FWP_SPAWNS
            .iter()
            .all(|c| table.select(STARTUP, EDGEOS, LATENCY).all(|r| r.case != *c))
        {
            format!("no EdgeOS FWP spawn rows ({})", FWP_SPAWNS.join(", "))
        } else {
            "no Linux method and FWP spawn with medians in the same unit".to_owned()
        };
        let _ = writeln!(md, "Not computed: {why}.\n");
        missing.push(format!("startup ratios: {why}"));
        return;
    }
    let spawns: Vec<(&str, f64)> = FWP_SPAWNS
        .iter()
        .filter_map(|c| {
            ratios
                .iter()
                .find(|r| r.edgeos_case == *c)
                .map(|r| (*c, r.edgeos_median))
        })
        .collect();
    let mut header = "| Linux method | median |".to_owned();
    let mut rule = "| --- | ---: |".to_owned();
    for (case, median) in &spawns {
        let _ = write!(header, " / {case} ({}) |", grouped(*median));
        rule.push_str(" ---: |");
    }
    let _ = writeln!(md, "{header}\n{rule}");
    let mut methods: Vec<&str> = ratios.iter().map(|r| r.linux_case.as_str()).collect();
    methods.dedup();
    for method in methods {
        let of = |case: &str| ratios.iter().find(|r| r.linux_case == method && r.edgeos_case == case);
        let Some(first) = of(spawns[0].0) else { continue };
        let mut line = format!("| {method} | {} |", grouped(first.linux_median));
        for (case, _) in &spawns {
            let _ = write!(line, " {} |", times_or_dash(of(case).map(|r| r.ratio)));
        }
        let _ = writeln!(md, "{line}");
    }
    let _ = writeln!(md, "\nMedians in {}.\n", ratios[0].unit);
    same_service(md, table);
}

/// A service started on both systems, each its own way (Linux: exec of the
/// program; EdgeOS: the packet that spawns its FWP), to its first reply.
fn same_service(md: &mut String, table: &Table) {
    let ratios = ratios::same_case(table);
    if ratios.is_empty() {
        return;
    }
    let _ = writeln!(md, "The same service on both systems, from its start to its first reply:\n");
    let _ = writeln!(md, "| case | Linux median | EdgeOS median | Linux / EdgeOS |\n| --- | ---: | ---: | ---: |");
    for r in &ratios {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            r.linux_case,
            grouped(r.linux_median),
            grouped(r.edgeos_median),
            times_or_dash(Some(r.ratio))
        );
    }
    let _ = writeln!(md, "\nMedians in {}.\n", ratios[0].unit);
}

fn memcached(md: &mut String, table: &Table, missing: &mut Vec<String>) {
    let _ = writeln!(md, "## memcached with N tenants: Linux over EdgeOS\n");
    let ratios = ratios::memcached(table);
    if ratios.is_empty() {
        let why = match (
            table.has(MEMCACHED_TENANTS, EDGEOS),
            table.has(MEMCACHED_TENANTS, LINUX),
        ) {
            (false, false) => "no memcached-tenants rows",
            (true, false) => "no Linux memcached-tenants rows",
            (false, true) => "no EdgeOS memcached-tenants rows",
            (true, true) => "no case and N measured on both systems",
        };
        let _ = writeln!(md, "Not computed: {why}.\n");
        missing.push(format!("memcached ratios: {why}"));
        return;
    }
    let _ = writeln!(
        md,
        "| case | N | p50 EdgeOS | p50 Linux | Linux / EdgeOS | p99 EdgeOS | p99 Linux | Linux / EdgeOS | \
         throughput EdgeOS | throughput Linux | EdgeOS / Linux |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    let cells = |figures: Option<(f64, f64, Option<f64>)>| match figures {
        Some((edgeos, linux, ratio)) => format!("{} | {} | {}", grouped(edgeos), grouped(linux), times_or_dash(ratio)),
        None => "- | - | -".to_owned(),
    };
    for r in &ratios {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            r.case,
            r.tenants,
            cells(r.p50),
            cells(r.p99),
            cells(r.throughput)
        );
    }
    let unit = |u: &Option<String>| u.clone().unwrap_or_else(|| "-".to_owned());
    let units: Vec<String> = ratios
        .iter()
        .map(|r| unit(&r.latency_unit))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let throughput: Vec<String> = ratios
        .iter()
        .map(|r| unit(&r.throughput_unit))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let _ = writeln!(
        md,
        "\nLatency in {}; throughput in {}.\n",
        units.join(", "),
        throughput.join(", ")
    );
}

fn tail_table(md: &mut String, tails: &[&Tail], verdict: bool) {
    let _ = writeln!(
        md,
        "| benchmark | case | median | p99 | p99 / median |{}",
        if verdict { " within 2x |" } else { "" }
    );
    let _ = writeln!(
        md,
        "| --- | --- | ---: | ---: | ---: |{}",
        if verdict { " --- |" } else { "" }
    );
    for t in tails {
        let mark = if !verdict {
            ""
        } else if t.within_target() {
            " yes |"
        } else {
            " **no** |"
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |{mark}",
            t.benchmark,
            t.case,
            grouped(t.median),
            grouped(t.p99),
            times(t.ratio)
        );
    }
}

fn tails(md: &mut String, table: &Table, missing: &mut Vec<String>) {
    let _ = writeln!(
        md,
        "## Tails: EdgeOS's p99 over its median, against the {TAIL_TARGET}x target\n"
    );
    let all = ratios::tails(table);
    let (targeted, other): (Vec<&Tail>, Vec<&Tail>) = all.iter().partition(|t| t.targeted());
    if targeted.is_empty() {
        let _ = writeln!(
            md,
            "Not computed: no EdgeOS hop or spawn rows with a median and a p99.\n"
        );
        missing.push("tail ratios: no EdgeOS hop or spawn rows".to_owned());
    } else {
        let within = targeted.iter().filter(|t| t.within_target()).count();
        let _ = writeln!(
            md,
            "{within} of {} hops and spawns have their p99 within {TAIL_TARGET}x their median.\n",
            targeted.len()
        );
        tail_table(md, &targeted, true);
        md.push('\n');
    }
    if !other.is_empty() {
        let _ = writeln!(
            md,
            "The FWP lifecycle's other steps, for reference (the target does not cover them):\n"
        );
        tail_table(md, &other, false);
        md.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{parse, HEADER};

    fn env() -> Environment {
        Environment {
            date: "2026-01-02".into(),
            qemu: "QEMU emulator version 7.2.22".into(),
            cpu: "AMD EPYC".into(),
            cores: 2,
        }
    }

    #[test]
    fn figures_and_ratios_read_well() {
        assert_eq!(grouped(285_984.0), "285,984");
        assert_eq!(grouped(1234.5), "1,234.5");
        assert_eq!(grouped(999.0), "999");
        assert_eq!(grouped(1_000_000.0), "1,000,000");
        assert_eq!(times(170.4), "170x");
        assert_eq!(times(3459.4), "3,459x");
        assert_eq!(times(40.53), "40.5x");
        assert_eq!(times(1.289), "1.29x");
    }

    #[test]
    fn the_summary_quotes_the_ratios_and_the_machine() {
        let table = parse(
            "t.csv",
            &format!(
                "{HEADER}
startup,edgeos,fwp-warm-spawn,,latency,guest_ns,6116,6880,7000,888016
startup,edgeos,fwp-cold-spawn,,latency,guest_ns,6116,6880,14000,20000
startup,linux,fork+execve,,latency,guest_ns,1000,280000,287000,487360
startup,edgeos,memcached-first-reply,,latency,guest_ns,100,100000,135000,360000
startup,linux,memcached-first-reply,,latency,guest_ns,100,7884224,8640000,9039552
hops,edgeos,net_driver,,latency,guest_ns,16384,2480,4976,6416
fwp,edgeos,teardown,,latency,guest_ns,10,1,100,300
"
            ),
        )
        .unwrap();
        let md = render(&table, &env(), &[]);
        assert!(
            md.contains("Measured on 2026-01-02 with QEMU emulator version 7.2.22, on AMD EPYC (2 cores)"),
            "{md}"
        );
        assert!(
            md.contains("| Linux method | median | / fwp-warm-spawn (7,000) | / fwp-cold-spawn (14,000) |"),
            "{md}"
        );
        assert!(md.contains("| fork+execve | 287,000 | 41.0x | 20.5x |"), "{md}");
        assert!(
            md.contains("| memcached-first-reply | 8,640,000 | 135,000 | 64.0x |"),
            "{md}"
        );
        assert!(
            md.contains("2 of 4 hops and spawns have their p99 within 2x their median."),
            "{md}"
        );
        assert!(
            md.contains("| startup | fwp-warm-spawn | 7,000 | 888,016 | 127x | **no** |"),
            "{md}"
        );
        assert!(md.contains("| fwp | teardown | 100 | 300 | 3.00x |\n"), "{md}");
        assert!(md.contains("- memcached ratios: no memcached-tenants rows"), "{md}");
    }

    #[test]
    fn an_edgeos_only_table_says_what_is_missing() {
        let table = parse(
            "t.csv",
            &format!("{HEADER}\nstartup,edgeos,fwp-warm-spawn,,latency,guest_ns,1,1,1,1\n"),
        )
        .unwrap();
        let md = render(&table, &env(), &[]);
        assert!(md.contains("Not computed: no Linux startup rows."), "{md}");
        assert!(md.contains("- startup ratios: no Linux startup rows"), "{md}");
    }
}
