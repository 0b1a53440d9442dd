//! Runs the built `qemu-test` binary against fake emulators (`sh -c`
//! scripts). The scripts may sleep to imitate a slow boot; the runner never
//! does, which the elapsed-time bounds below keep honest.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_qemu-test");

/// A spec file unique to this test, so tests can run in parallel.
fn spec_file(test: &str, text: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("qemu-test-{}-{test}-{n}.toml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Run {
    /// The PID the runner says it stopped; it must be gone by now.
    fn stopped_pid(&self) -> u32 {
        let line = self
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("qemu-test: stopped pid "))
            .unwrap_or_else(|| panic!("no stopped line in:\n{}", self.stdout));
        line.split(',').next().unwrap().parse().unwrap()
    }

    fn last_line(&self) -> &str {
        self.stdout.lines().last().unwrap_or("")
    }

    /// The PID a fake emulator printed as `<tag> <pid>` on its console.
    fn printed_pid(&self, tag: &str) -> u32 {
        let prefix = format!("  | {tag} ");
        self.stderr
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("no {tag:?} line in:\n{}", self.stderr))
            .parse()
            .unwrap()
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {} after {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

fn finish(output: Output, started: Instant) -> Run {
    Run {
        code: output.status.code().expect("runner killed by a signal"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
        elapsed: started.elapsed(),
    }
}

fn run_with(spec: &Path, extra: &[&str], script: &str) -> Run {
    let started = Instant::now();
    let output = Command::new(BIN)
        .arg("--spec")
        .arg(spec)
        .args(extra)
        .args(["--", "sh", "-c", script])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    finish(output, started)
}

fn run(test: &str, spec: &str, script: &str) -> Run {
    run_with(&spec_file(test, spec), &[], script)
}

/// Dead and reaped: no /proc entry. A zombie also counts as dead, in case
/// the kernel refused to make the runner a subreaper and init is slow.
fn is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

const BOOT: &str = r#"
name = "boot"
timeout_secs = 20
fail_on = ["panicked", "FAULT"]
[[expect]]
description = "kernel starts"
pattern = '^Bootstrapping kernel$'
within_secs = 5
[[expect]]
description = "driver reports its MAC"
pattern = '^net_driver: MAC ([0-9a-f]{2}:){5}[0-9a-f]{2}$'
within_secs = 5
[[expect]]
description = "shell ready"
pattern = '^edgeos> ready$'
within_secs = 5
"#;

#[test]
fn all_expectations_pass() {
    // The MAC line goes to stderr to show both streams are watched. Lines on
    // different pipes are ordered only by when they arrive, so the script
    // pauses before switching streams, as a real emulator's output would.
    let r = run(
        "pass",
        BOOT,
        r#"echo "ELF-loader started"
           sleep 0.1; echo "Bootstrapping kernel"
           sleep 0.1; printf 'net_driver: MAC 52:54:00:12:34:56\r\n' >&2
           sleep 0.1; echo "noise"; echo "edgeos> ready"
           exec sleep 1000"#,
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.last_line(), "3 passed, 0 failed", "{r:?}");
    for d in ["kernel starts", "driver reports its MAC", "shell ready"] {
        assert!(r.stdout.contains(&format!("PASS {d} (after ")), "{r:?}");
    }
    assert!(!r.stdout.contains("FAIL"), "{r:?}");
    assert!(r.stderr.contains("  | Bootstrapping kernel\n"), "{r:?}");
    assert!(
        r.stderr.contains("  | net_driver: MAC 52:54:00:12:34:56\n"),
        "{r:?}"
    );
    assert!(r.stdout.contains(", status signal 9 (SIGKILL)"), "{r:?}");
    assert!(is_gone(r.stopped_pid()), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(3), "{r:?}");
}

#[test]
fn process_exiting_after_printing_everything_still_passes() {
    let r = run(
        "pass-exit",
        BOOT,
        "echo 'Bootstrapping kernel'; echo 'net_driver: MAC 52:54:00:12:34:56'; echo 'edgeos> ready'",
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.last_line(), "3 passed, 0 failed", "{r:?}");
}

#[test]
fn expectation_that_never_comes_times_out_and_process_is_killed() {
    // The shell never prints its prompt; give that expectation 1 s.
    let spec = BOOT.replacen(
        "pattern = '^edgeos> ready$'\nwithin_secs = 5",
        "pattern = '^edgeos> ready$'\nwithin_secs = 1",
        1,
    );
    assert!(spec.contains("within_secs = 1"));
    let r = run(
        "timeout",
        &spec,
        r#"echo "Bootstrapping kernel"; echo "net_driver: MAC 52:54:00:12:34:56"
           echo "edgeos> wrong"; exec sleep 1000"#,
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.last_line(), "2 passed, 1 failed", "{r:?}");
    let fail = r
        .stdout
        .lines()
        .find(|l| l.starts_with("FAIL shell ready: timed out after waiting 1.0"))
        .unwrap_or_else(|| panic!("{r:?}"));
    assert!(
        fail.contains("(within_secs = 1); last 3 console lines:"),
        "{r:?}"
    );
    assert!(r.stdout.contains("    \"edgeos> wrong\"\n"), "{r:?}");
    let pid = r.stopped_pid();
    assert!(is_gone(pid), "pid {pid} still exists: {r:?}");
    assert!(r.elapsed < Duration::from_secs(3), "{r:?}");
}

#[test]
fn whole_run_timeout_applies_without_within_secs() {
    let r = run(
        "run-timeout",
        "timeout_secs = 0.5\n[[expect]]\ndescription = \"never\"\npattern = 'never'\n",
        "exec sleep 1000",
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout.contains("FAIL never: timed out after waiting 0.5"),
        "{r:?}"
    );
    assert!(r.stdout.contains("timeout_secs = 0.5"), "{r:?}");
    assert!(r.stdout.contains("the console printed nothing"), "{r:?}");
    assert_eq!(r.last_line(), "0 passed, 1 failed", "{r:?}");
    assert!(is_gone(r.stopped_pid()), "{r:?}");
}

#[test]
fn out_of_order_lines_fail() {
    let spec = "timeout_secs = 10\n\
        [[expect]]\ndescription = \"first\"\npattern = '^first$'\nwithin_secs = 1\n\
        [[expect]]\ndescription = \"second\"\npattern = '^second$'\nwithin_secs = 1\n";
    let r = run("order", spec, "echo second; echo first; exec sleep 1000");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("PASS first (after "), "{r:?}");
    let fail = r
        .stdout
        .lines()
        .find(|l| l.starts_with("FAIL second: timed out"))
        .unwrap_or_else(|| panic!("{r:?}"));
    assert!(fail.contains("came out of order"), "{r:?}");
    assert_eq!(r.last_line(), "1 passed, 1 failed", "{r:?}");
    assert!(is_gone(r.stopped_pid()), "{r:?}");
}

#[test]
fn fail_on_line_fails_at_once() {
    let r = run(
        "fail-on",
        BOOT,
        // The fatal line and the one after it go out in one write, so the
        // second is in the pipe before the runner reacts to the first (two
        // echos would race the kill under load).
        r#"echo "Bootstrapping kernel"
           printf "thread 'net_driver' panicked at src/main.rs:12:5\nbacktrace follows\n"
           exec sleep 1000"#,
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("PASS kernel starts"), "{r:?}");
    assert!(
        r.stdout.contains(
            "FAIL driver reports its MAC: console printed a fail_on line (contains \"panicked\")"
        ),
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains(r#""thread 'net_driver' panicked at src/main.rs:12:5""#),
        "{r:?}"
    );
    assert!(r.stdout.contains("FAIL shell ready: not reached"), "{r:?}");
    assert_eq!(r.last_line(), "1 passed, 2 failed", "{r:?}");
    // Output after the fatal line still reaches the console echo.
    assert!(r.stderr.contains("  | backtrace follows"), "{r:?}");
    assert!(is_gone(r.stopped_pid()), "{r:?}");
    // Well before any deadline (5 s each).
    assert!(r.elapsed < Duration::from_secs(3), "{r:?}");
}

#[test]
fn process_exiting_early_fails_the_rest() {
    let r = run(
        "early-exit",
        BOOT,
        "echo 'Bootstrapping kernel'; echo 'FAUL'; exit 3",
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("PASS kernel starts"), "{r:?}");
    assert!(
        r.stdout.contains(
            "FAIL driver reports its MAC: process exited with status 3; last 2 console lines:"
        ),
        "{r:?}"
    );
    assert!(r.stdout.contains("FAIL shell ready: not reached"), "{r:?}");
    assert!(r.stdout.contains("qemu-test: stopped pid "), "{r:?}");
    assert!(r.stdout.contains(", status 3\n"), "{r:?}");
    assert_eq!(r.last_line(), "1 passed, 2 failed", "{r:?}");
    assert!(r.elapsed < Duration::from_secs(3), "{r:?}");
}

#[test]
fn stubborn_child_and_its_grandchild_are_killed() {
    let spec = "timeout_secs = 10\n\
        [[expect]]\ndescription = \"up\"\npattern = '^up$'\n\
        [[expect]]\ndescription = \"never\"\npattern = '^never$'\nwithin_secs = 0.5\n";
    let r = run(
        "stubborn",
        spec,
        r#"trap '' TERM INT HUP
           sleep 1000 &
           echo "grandchild $!"
           echo up
           while :; do sleep 1; done"#,
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.last_line(), "1 passed, 1 failed", "{r:?}");
    let leader = r.stopped_pid();
    let grandchild = r.printed_pid("grandchild");
    assert_ne!(leader, grandchild);
    assert!(is_gone(leader), "leader {leader} survived: {r:?}");
    assert!(
        is_gone(grandchild),
        "grandchild {grandchild} survived: {r:?}"
    );
}

#[test]
fn grandchild_is_killed_after_a_passing_run_too() {
    let spec = "timeout_secs = 10\n[[expect]]\ndescription = \"up\"\npattern = '^up$'\n";
    let r = run(
        "grandchild-pass",
        spec,
        r#"sleep 1000 & echo "grandchild $!"; echo up; wait"#,
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(is_gone(r.stopped_pid()), "{r:?}");
    let grandchild = r.printed_pid("grandchild");
    assert!(
        is_gone(grandchild),
        "grandchild {grandchild} survived: {r:?}"
    );
}

#[test]
fn unknown_spec_field_is_a_usage_error() {
    let spec = spec_file(
        "unknown-field",
        "timeout_secs = 1\n[[expect]]\ndescription = \"x\"\npattern = 'x'\nwithin = 3\n",
    );
    let r = run_with(&spec, &[], "echo x");
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains(&spec.display().to_string()), "{r:?}");
    assert!(r.stderr.contains("unknown field `within`"), "{r:?}");
    // Nothing was started.
    assert!(!r.stdout.contains("started pid"), "{r:?}");
}

#[test]
fn invalid_regex_is_a_usage_error_naming_the_expectation() {
    let r = run(
        "bad-regex",
        "timeout_secs = 1\n[[expect]]\ndescription = \"MAC line\"\npattern = '([0-9a-f'\n",
        "echo x",
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("expectation #1 (\"MAC line\"): invalid pattern"),
        "{r:?}"
    );
}

#[test]
fn missing_command_is_a_usage_error() {
    let spec = spec_file(
        "no-command",
        "timeout_secs = 1\n[[expect]]\ndescription = \"x\"\npattern = 'x'\n",
    );
    let out = Command::new(BIN).arg("--spec").arg(&spec).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(BIN)
        .arg("--spec")
        .arg(&spec)
        .args(["--", "/nonexistent/qemu-system-aarch64"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot start"));
}

#[test]
fn log_gets_raw_lines_and_quiet_silences_the_echo() {
    let spec = spec_file(
        "log",
        "timeout_secs = 10\n[[expect]]\ndescription = \"done\"\npattern = '^done$'\n",
    );
    let log = spec.with_extension("log");
    let r = run_with(
        &spec,
        &["--quiet", "--log", log.to_str().unwrap()],
        r#"printf 'one\r\n'; echo two; echo done; exec sleep 1000"#,
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.stderr.contains("  | "), "{r:?}");
    assert_eq!(std::fs::read(&log).unwrap(), b"one\r\ntwo\ndone\n");
}

#[test]
fn sigterm_to_the_runner_stops_the_command() {
    let spec = spec_file(
        "sigterm",
        "timeout_secs = 30\n\
         [[expect]]\ndescription = \"up\"\npattern = '^up$'\n\
         [[expect]]\ndescription = \"never\"\npattern = '^never$'\n",
    );
    let started = Instant::now();
    let mut runner = Command::new(BIN)
        .arg("--spec")
        .arg(&spec)
        .args(["--", "sh", "-c"])
        .arg(r#"trap '' TERM; sleep 1000 & echo "grandchild $!"; echo up; wait"#)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(runner.stdout.take().unwrap());
    let mut seen = String::new();
    // Block on the runner's output (no sleeping) until the command is up.
    while !seen.contains("PASS up") {
        let mut line = String::new();
        assert_ne!(
            stdout.read_line(&mut line).unwrap(),
            0,
            "runner ended early: {seen}"
        );
        seen.push_str(&line);
    }
    // SAFETY: kill(2) on our own child's PID.
    assert_eq!(unsafe { libc::kill(runner.id() as i32, libc::SIGTERM) }, 0);
    stdout.read_to_string(&mut seen).unwrap();
    let mut stderr = String::new();
    runner
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = runner.wait().unwrap();
    let r = Run {
        code: status
            .code()
            .expect("runner died of the signal instead of handling it"),
        stdout: seen,
        stderr,
        elapsed: started.elapsed(),
    };
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("FAIL never: interrupted"), "{r:?}");
    assert_eq!(r.last_line(), "1 passed, 1 failed", "{r:?}");
    assert!(is_gone(r.stopped_pid()), "{r:?}");
    let grandchild = r.printed_pid("grandchild");
    assert!(
        is_gone(grandchild),
        "grandchild {grandchild} survived: {r:?}"
    );
    assert!(r.elapsed < Duration::from_secs(5), "{r:?}");
}

// ---- [[client]] steps -------------------------------------------------

/// The PID a client printed as `<tag> <pid>` (echoed as `  client| `).
fn client_printed_pid(r: &Run, tag: &str) -> u32 {
    let prefix = format!("  client| {tag} ");
    r.stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no client {tag:?} line in {r:?}"))
        .parse()
        .unwrap()
}

/// The PID the runner says it started client `description` as.
fn client_pid(r: &Run, description: &str) -> u32 {
    let prefix = format!("qemu-test: client {description:?}: started pid ");
    r.stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_else(|| panic!("no start line for {description:?} in {r:?}"))
        .parse()
        .unwrap()
}

/// Position of the first stdout line starting with `prefix`.
fn line_index(r: &Run, prefix: &str) -> usize {
    r.stdout
        .lines()
        .position(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in {r:?}"))
}

/// Two expectations, `booted` and `serving`, then whatever clients follow.
fn client_spec(clients: &str) -> String {
    format!(
        "timeout_secs = 20\nfail_on = [\"panicked\"]\n\
         [[expect]]\ndescription = \"booted\"\npattern = '^booted$'\nwithin_secs = 5\n\
         [[expect]]\ndescription = \"serving\"\npattern = '^serving$'\nwithin_secs = 5\n\
         {clients}"
    )
}

const BOOT_AND_SERVE: &str = "echo booted; echo serving; exec sleep 1000";

#[test]
fn client_runs_after_its_expectation_and_its_output_is_echoed() {
    let spec = client_spec(
        r#"[[client]]
description = "echo check"
after = "serving"
command = ["sh", "-c", "echo hello from the client; echo and from stderr >&2"]
timeout_secs = 5
"#,
    );
    let r = run("client-pass", &spec, BOOT_AND_SERVE);
    assert_eq!(r.code, 0, "{r:?}");
    let serving = line_index(&r, "PASS serving (after ");
    let started = line_index(&r, "qemu-test: client \"echo check\": started pid ");
    let passed = line_index(&r, "PASS echo check (after ");
    let stopped = line_index(&r, "qemu-test: stopped pid ");
    assert!(
        serving < started && started < passed && passed < stopped,
        "{r:?}"
    );
    assert!(
        r.stdout.contains("  client| hello from the client\n"),
        "{r:?}"
    );
    assert!(r.stdout.contains("  client| and from stderr\n"), "{r:?}");
    // Client output is not console output.
    assert!(!r.stderr.contains("hello from the client"), "{r:?}");
    assert_eq!(r.last_line(), "3 passed, 0 failed", "{r:?}");
    assert!(is_gone(r.stopped_pid()), "{r:?}");
    assert!(is_gone(client_pid(&r, "echo check")), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(3), "{r:?}");
}

#[test]
fn failing_client_fails_the_run_and_stops_the_emulator() {
    let spec = client_spec(
        r#"[[client]]
description = "passes"
after = "booted"
command = ["sh", "-c", "exit 0"]
timeout_secs = 5
[[client]]
description = "exits 3"
after = "booted"
command = ["sh", "-c", "exit 3"]
timeout_secs = 5
[[client]]
description = "never runs"
after_all = true
command = ["sh", "-c", "exit 0"]
timeout_secs = 5
"#,
    );
    let r = run("client-exit-3", &spec, BOOT_AND_SERVE);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("PASS passes (after "), "{r:?}");
    let stopped = line_index(&r, "qemu-test: stopped pid ");
    let failed = line_index(&r, "FAIL exits 3: exit status 3");
    assert!(stopped < failed, "failures follow the stopped line: {r:?}");
    assert!(r.stdout.contains("FAIL never runs: not run\n"), "{r:?}");
    assert!(
        !r.stdout.contains("qemu-test: client \"never runs\""),
        "{r:?}"
    );
    assert_eq!(r.last_line(), "3 passed, 2 failed", "{r:?}");
    assert!(is_gone(r.stopped_pid()), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(3), "{r:?}");
}

#[test]
fn client_killed_by_a_signal_says_so() {
    let spec = client_spec(
        "[[client]]\ndescription = \"segv\"\nafter_all = true\n\
         command = [\"sh\", \"-c\", \"kill -SEGV $$\"]\ntimeout_secs = 5\n",
    );
    let r = run("client-signal", &spec, BOOT_AND_SERVE);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout
            .contains("FAIL segv: killed by signal 11 (SIGSEGV)\n"),
        "{r:?}"
    );
}

#[test]
fn client_that_overruns_its_timeout_is_killed_with_its_group() {
    let spec = client_spec(
        r#"[[client]]
description = "hangs"
after_all = true
command = ["sh", "-c", "sleep 100 & echo \"grandchild $!\"; wait"]
timeout_secs = 1
"#,
    );
    let r = run("client-timeout", &spec, BOOT_AND_SERVE);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout.contains("FAIL hangs: timed out after 1s\n"),
        "{r:?}"
    );
    assert_eq!(r.last_line(), "2 passed, 1 failed", "{r:?}");
    assert!(is_gone(client_pid(&r, "hangs")), "{r:?}");
    let grandchild = client_printed_pid(&r, "grandchild");
    assert!(
        is_gone(grandchild),
        "grandchild {grandchild} survived: {r:?}"
    );
    assert!(is_gone(r.stopped_pid()), "{r:?}");
    assert!(r.elapsed >= Duration::from_secs(1), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(3), "{r:?}");
}

#[test]
fn sleeping_client_with_a_one_second_timeout_fails() {
    let spec = client_spec(
        "[[client]]\ndescription = \"sleeps\"\nafter = \"booted\"\n\
         command = [\"sleep\", \"100\"]\ntimeout_secs = 1\n",
    );
    let r = run("client-sleep", &spec, BOOT_AND_SERVE);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout.contains("FAIL sleeps: timed out after 1s\n"),
        "{r:?}"
    );
    assert!(is_gone(client_pid(&r, "sleeps")), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(3), "{r:?}");
}

#[test]
fn clients_run_in_spec_order_each_after_its_expectation() {
    // c1 and c2 share `booted`; c3 waits for everything; c4 names `booted`
    // but comes after c3 in the file, so it runs after c3.
    let client = |name: &str, when: &str| {
        format!(
            "[[client]]\ndescription = \"{name}\"\n{when}\n\
             command = [\"sh\", \"-c\", \"echo {name} ran\"]\ntimeout_secs = 5\n"
        )
    };
    let spec = client_spec(&format!(
        "{}{}{}{}",
        client("c1", "after = \"booted\""),
        client("c2", "after = \"booted\""),
        client("c3", "after_all = true"),
        client("c4", "after = \"booted\""),
    ));
    let r = run(
        "client-order",
        &spec,
        "echo booted; sleep 0.5; echo serving; exec sleep 1000",
    );
    assert_eq!(r.code, 0, "{r:?}");
    let at = |prefix: &str| line_index(&r, prefix);
    let order = [
        at("PASS booted"),
        at("  client| c1 ran"),
        at("PASS c1 "),
        at("  client| c2 ran"),
        at("PASS c2 "),
        at("PASS serving"),
        at("  client| c3 ran"),
        at("PASS c3 "),
        at("  client| c4 ran"),
        at("PASS c4 "),
        at("qemu-test: stopped pid"),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?} {r:?}");
    assert_eq!(r.last_line(), "6 passed, 0 failed", "{r:?}");
}

#[test]
fn console_is_watched_while_a_client_runs() {
    // The client runs for a while after `booted`; `serving` comes during
    // it and passes on time.
    let spec = client_spec(
        "[[client]]\ndescription = \"slow\"\nafter = \"booted\"\n\
         command = [\"sleep\", \"0.6\"]\ntimeout_secs = 5\n",
    );
    let r = run(
        "client-watch",
        &spec,
        "echo booted; sleep 0.2; echo serving; exec sleep 1000",
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        line_index(&r, "PASS serving") < line_index(&r, "PASS slow"),
        "{r:?}"
    );
}

#[test]
fn expectation_deadline_still_applies_while_a_client_runs() {
    let spec = "timeout_secs = 20\n\
        [[expect]]\ndescription = \"booted\"\npattern = '^booted$'\n\
        [[expect]]\ndescription = \"later\"\npattern = '^later$'\nwithin_secs = 0.5\n\
        [[client]]\ndescription = \"long\"\nafter = \"booted\"\n\
        command = [\"sleep\", \"100\"]\ntimeout_secs = 10\n";
    let r = run(
        "client-expect-deadline",
        spec,
        "echo booted; exec sleep 1000",
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout.contains("FAIL later: timed out after waiting 0.5"),
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("FAIL long: stopped: expectation \"later\" failed\n"),
        "{r:?}"
    );
    assert_eq!(r.last_line(), "1 passed, 2 failed", "{r:?}");
    assert!(is_gone(client_pid(&r, "long")), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(3), "{r:?}");
}

#[test]
fn fail_on_line_while_a_client_runs_fails_the_client() {
    let spec = client_spec(
        "[[client]]\ndescription = \"victim\"\nafter_all = true\n\
         command = [\"sleep\", \"100\"]\ntimeout_secs = 30\n",
    );
    let r = run(
        "client-fail-on",
        &spec,
        "echo booted; echo serving; sleep 0.3; echo 'mux panicked at x.rs'; exec sleep 1000",
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("PASS serving"), "{r:?}");
    assert!(
        r.stdout
            .contains("FAIL victim: console printed a fail_on line (contains \"panicked\") after "),
        "{r:?}"
    );
    assert!(r.stdout.contains("\"mux panicked at x.rs\""), "{r:?}");
    assert_eq!(r.last_line(), "2 passed, 1 failed", "{r:?}");
    assert!(is_gone(client_pid(&r, "victim")), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(3), "{r:?}");
}

#[test]
fn emulator_crash_fails_the_running_client() {
    let spec = client_spec(
        "[[client]]\ndescription = \"talks to the guest\"\nafter_all = true\n\
         command = [\"sleep\", \"100\"]\ntimeout_secs = 30\n\
         [[client]]\ndescription = \"next\"\nafter_all = true\n\
         command = [\"true\"]\ntimeout_secs = 30\n",
    );
    let r = run(
        "client-crash",
        &spec,
        "echo booted; echo serving; sleep 0.3; exit 7",
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout
            .contains("FAIL talks to the guest: the emulator exited with status 7\n"),
        "{r:?}"
    );
    assert!(r.stdout.contains("FAIL next: not run\n"), "{r:?}");
    assert_eq!(r.last_line(), "2 passed, 2 failed", "{r:?}");
    assert!(is_gone(client_pid(&r, "talks to the guest")), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(3), "{r:?}");
}

#[test]
fn emulator_exiting_before_a_client_runs_fails_that_client() {
    // Every expectation passes, then the emulator is gone: the client
    // cannot talk to it, and the report says why.
    let spec = client_spec(
        "[[client]]\ndescription = \"too late\"\nafter_all = true\n\
         command = [\"sleep\", \"1\"]\ntimeout_secs = 30\n",
    );
    let r = run(
        "client-after-exit",
        &spec,
        "echo booted; echo serving; exit 0",
    );
    assert_eq!(r.code, 1, "{r:?}");
    // The exit may be seen before or after the client starts ("..., before
    // it ran"); either way the client cannot pass, and the run says why.
    assert!(
        r.stdout
            .contains("FAIL too late: the emulator exited with status 0"),
        "{r:?}"
    );
    assert_eq!(r.last_line(), "2 passed, 1 failed", "{r:?}");
    assert!(r.elapsed < Duration::from_secs(1), "{r:?}");
}

#[test]
fn whole_run_timeout_applies_to_clients() {
    let spec = "timeout_secs = 1\n\
        [[expect]]\ndescription = \"up\"\npattern = '^up$'\n\
        [[client]]\ndescription = \"slow\"\nafter_all = true\n\
        command = [\"sleep\", \"100\"]\ntimeout_secs = 30\n";
    let r = run("client-run-timeout", spec, "echo up; exec sleep 1000");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout
            .contains("FAIL slow: the whole run reached timeout_secs = 1\n"),
        "{r:?}"
    );
    assert!(is_gone(client_pid(&r, "slow")), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(3), "{r:?}");
}

#[test]
fn clients_after_a_failed_expectation_are_not_run() {
    let spec = "timeout_secs = 20\n\
        [[expect]]\ndescription = \"never\"\npattern = '^never$'\nwithin_secs = 0.3\n\
        [[client]]\ndescription = \"c\"\nafter = \"never\"\n\
        command = [\"true\"]\ntimeout_secs = 5\n";
    let r = run("client-not-run", spec, "exec sleep 1000");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("FAIL never: timed out"), "{r:?}");
    assert!(r.stdout.contains("FAIL c: not run\n"), "{r:?}");
    assert_eq!(r.last_line(), "0 passed, 2 failed", "{r:?}");
}

#[test]
fn emulator_stays_up_until_every_client_ran() {
    let pidfile = spec_file("emu-pid", "");
    let spec = client_spec(&format!(
        "[[client]]\ndescription = \"emulator alive (1)\"\nafter = \"booted\"\n\
         command = [\"sh\", \"-c\", \"kill -0 $(cat {p})\"]\ntimeout_secs = 5\n\
         [[client]]\ndescription = \"emulator alive (2)\"\nafter_all = true\n\
         command = [\"sh\", \"-c\", \"sleep 0.2; kill -0 $(cat {p})\"]\ntimeout_secs = 5\n",
        p = pidfile.display()
    ));
    let script = format!(
        "echo $$ > {p}; echo booted; echo serving; exec sleep 1000",
        p = pidfile.display()
    );
    let r = run("client-emu-alive", &spec, &script);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.last_line(), "4 passed, 0 failed", "{r:?}");
    let emulator: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(emulator, r.stopped_pid());
    assert!(is_gone(emulator), "{r:?}");
}

#[test]
fn client_that_cannot_start_fails() {
    let spec = client_spec(
        "[[client]]\ndescription = \"missing\"\nafter_all = true\n\
         command = [\"/nonexistent/net-client\", \"udp-echo\"]\ntimeout_secs = 5\n",
    );
    let r = run("client-missing", &spec, BOOT_AND_SERVE);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout
            .contains("FAIL missing: cannot start \"/nonexistent/net-client\": "),
        "{r:?}"
    );
    assert!(is_gone(r.stopped_pid()), "{r:?}");
}

#[test]
fn client_spec_errors_are_usage_errors() {
    let r = run(
        "client-bad-after",
        &client_spec(
            "[[client]]\ndescription = \"c\"\nafter = \"servin\"\ncommand = [\"true\"]\ntimeout_secs = 1\n",
        ),
        "echo x",
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("client #1 (\"c\"): after = \"servin\" names no expectation"),
        "{r:?}"
    );
    assert!(!r.stdout.contains("started pid"), "{r:?}");
    let r = run(
        "client-unknown-field",
        &client_spec(
            "[[client]]\ndescription = \"c\"\nafter_all = true\ncommand = [\"true\"]\ntimeout_secs = 1\nretries = 3\n",
        ),
        "echo x",
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("unknown field `retries`"), "{r:?}");
}

#[test]
fn sigterm_to_the_runner_stops_a_running_client_too() {
    let spec = spec_file(
        "client-sigterm",
        r#"timeout_secs = 30
[[expect]]
description = "up"
pattern = '^up$'
[[client]]
description = "hangs"
after_all = true
command = ["sh", "-c", "trap '' TERM; sleep 1000 & echo \"grandchild $!\"; wait"]
timeout_secs = 30
"#,
    );
    let started = Instant::now();
    let mut runner = Command::new(BIN)
        .arg("--spec")
        .arg(&spec)
        .args(["--", "sh", "-c", "echo up; exec sleep 1000"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(runner.stdout.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("  client| grandchild ") {
        let mut line = String::new();
        assert_ne!(
            stdout.read_line(&mut line).unwrap(),
            0,
            "runner ended early: {seen}"
        );
        seen.push_str(&line);
    }
    // SAFETY: kill(2) on our own child's PID.
    assert_eq!(unsafe { libc::kill(runner.id() as i32, libc::SIGTERM) }, 0);
    stdout.read_to_string(&mut seen).unwrap();
    let mut stderr = String::new();
    runner
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = runner.wait().unwrap();
    let r = Run {
        code: status.code().expect("runner died of the signal"),
        stdout: seen,
        stderr,
        elapsed: started.elapsed(),
    };
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout
            .contains("FAIL hangs: interrupted: the runner got a termination signal\n"),
        "{r:?}"
    );
    assert_eq!(r.last_line(), "1 passed, 1 failed", "{r:?}");
    assert!(is_gone(client_pid(&r, "hangs")), "{r:?}");
    let grandchild = client_printed_pid(&r, "grandchild");
    assert!(
        is_gone(grandchild),
        "grandchild {grandchild} survived: {r:?}"
    );
    assert!(is_gone(r.stopped_pid()), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(5), "{r:?}");
}
