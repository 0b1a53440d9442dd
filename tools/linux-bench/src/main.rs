//! `linux-bench`: the Linux baseline for EdgeOS's FWP spawn figures (issue
//! 12). Times four ways of starting a minimal static child, each from just
//! before the first call to just after `waitpid` returns, and prints one
//! line per method with runs, min, median and p99 in ns. Meant to run as
//! the benchmark in the Linux guest that ci/linux-guest.sh boots on the
//! same QEMU machine as `make run`.
//!
//! Usage: linux-bench [--child PATH] [--runs N] [--warmup N]

mod counter;
mod spawn;
mod summary;

use spawn::{Child, Method};
use std::process::ExitCode;

struct Options {
    child: String,
    runs: usize,
    warmup: usize,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        child: "/bench/exit-child".into(),
        runs: 1000,
        warmup: 50,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let count = || {
            value
                .parse::<usize>()
                .map_err(|e| format!("{flag} {value}: {e}"))
        };
        match flag.as_str() {
            "--child" => options.child = value.clone(),
            "--runs" => options.runs = count()?.max(1),
            "--warmup" => options.warmup = count()?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(options)
}

/// Runs `method` `warmup` times untimed, then `runs` times timed; the
/// samples are counter ticks. Stops at the first failure or bad status.
fn measure(method: Method, child: &mut Child, options: &Options) -> Result<Vec<u64>, String> {
    let mut samples = Vec::with_capacity(options.runs);
    for run in 0..options.warmup + options.runs {
        let start = counter::ticks();
        let status = method.run(child);
        let end = counter::ticks();
        match status {
            Ok(0) => {}
            Ok(status) => return Err(format!("run {run}: child wait status {status:#x}")),
            Err(error) => return Err(format!("run {run}: {error}")),
        }
        if run >= options.warmup {
            samples.push(end - start);
        }
    }
    Ok(samples)
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("linux-bench: {message}");
            return ExitCode::from(2);
        }
    };
    let hz = counter::frequency_hz();
    println!(
        "linux-bench: counter {hz} Hz, {} runs after {} warm-up runs each, child {}",
        options.runs, options.warmup, options.child
    );
    let mut child = Child::new(&options.child);
    let mut failures = 0;
    for method in Method::ALL {
        // A failing method (say, clone without the privilege for new
        // namespaces) is reported and the others still run.
        match measure(method, &mut child, &options) {
            Ok(ticks) => {
                let mut ns: Vec<u64> = ticks.iter().map(|&t| counter::ticks_to_ns(t, hz)).collect();
                let s = summary::summarise(&mut ns).expect("at least one run");
                println!(
                    "linux-bench: {:<58} runs={} min={} median={} p99={} ns",
                    method.name(),
                    s.runs,
                    s.min,
                    s.median,
                    s.p99
                );
            }
            Err(message) => {
                failures += 1;
                println!("linux-bench: {:<58} FAILED {message}", method.name());
            }
        }
    }
    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
