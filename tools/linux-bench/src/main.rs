//! `linux-bench`: the Linux baseline for EdgeOS's FWP spawn figures (issue
//! 12). Times four ways of starting a minimal static child, each from just
//! before the first call to just after `waitpid` returns, and, given
//! `--memcached`, a real service's startup: exec of memcached until its
//! first reply to `version` over loopback (service.rs). Prints one line per
//! method with runs, min, median and p99 in ns. Meant to run as the
//! benchmark in the Linux guest that ci/linux-guest.sh boots on the same
//! QEMU machine as `make run`.
//!
//! Usage: linux-bench [--child PATH] [--runs N] [--warmup N]
//!        [--memcached PATH] [--memcached-runs N] [--memcached-warmup N]

mod counter;
mod service;
mod spawn;
mod summary;

use spawn::{Child, Method};
use std::process::ExitCode;

struct Options {
    child: String,
    runs: usize,
    warmup: usize,
    memcached: Option<String>,
    memcached_runs: usize,
    memcached_warmup: usize,
}

/// Guest time one memcached run may take from spawn to reply.
const MEMCACHED_DEADLINE_MS: u64 = 5_000;
/// The first run's port: memcached's usual one.
const MEMCACHED_FIRST_PORT: u16 = 11211;

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        child: "/bench/exit-child".into(),
        runs: 1000,
        warmup: 50,
        memcached: None,
        memcached_runs: 100,
        memcached_warmup: 5,
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
            "--memcached" => options.memcached = Some(value.clone()),
            "--memcached-runs" => options.memcached_runs = count()?.max(1),
            "--memcached-warmup" => options.memcached_warmup = count()?,
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

/// Prints one method's line: its summary in ns, or why it failed. Returns
/// the number of failures (0 or 1).
fn report(name: &str, result: Result<Vec<u64>, String>, hz: u64) -> usize {
    match result {
        Ok(ticks) => {
            let mut ns: Vec<u64> = ticks.iter().map(|&t| counter::ticks_to_ns(t, hz)).collect();
            let s = summary::summarise(&mut ns).expect("at least one run");
            println!(
                "linux-bench: {name:<58} runs={} min={} median={} p99={} ns",
                s.runs, s.min, s.median, s.p99
            );
            0
        }
        Err(message) => {
            println!("linux-bench: {name:<58} FAILED {message}");
            1
        }
    }
}

/// Times memcached's startups and prints them like a method's; returns the
/// number of failures (0 or 1).
fn measure_memcached(program: &str, options: &Options, hz: u64) -> usize {
    let service = service::Options {
        program,
        runs: options.memcached_runs,
        warmup: options.memcached_warmup,
        first_port: MEMCACHED_FIRST_PORT,
        deadline_ms: MEMCACHED_DEADLINE_MS,
    };
    println!(
        "linux-bench: memcached {program}, {} runs after {} warm-up runs, {} ms deadline each",
        service.runs, service.warmup, service.deadline_ms
    );
    let result = service::measure(&service, hz).map(|mut startups| {
        let refused = summary::summarise(&mut startups.refused).expect("at least one run");
        println!(
            "linux-bench: memcached replied VERSION {}; connects refused per run: min={} median={} p99={}",
            startups.version, refused.min, refused.median, refused.p99
        );
        startups.ticks
    });
    report(
        "memcached exec until first VERSION reply (127.0.0.1)",
        result,
        hz,
    )
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
    // A failing method (say, clone without the privilege for new
    // namespaces) is reported and the others still run.
    let mut run_method = |method: Method| {
        let result = measure(method, &mut child, &options);
        report(method.name(), result, hz)
    };
    let [fork, posix_spawn, vfork, clone_namespaces] = Method::ALL;
    for method in [fork, posix_spawn, vfork] {
        failures += run_method(method);
    }
    if let Some(program) = &options.memcached {
        failures += measure_memcached(program, &options, hz);
    }
    // Last: Linux tears the namespaced children's network namespaces down
    // later, on a workqueue (the `netns` kworker, 100 ms and more at normal
    // priority), which landed inside memcached's runs when they came after.
    failures += run_method(clone_namespaces);
    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
