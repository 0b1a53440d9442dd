//! Matching console lines against a spec's expectations.
//!
//! The matcher knows nothing about processes or clocks: every call is given
//! the time since the run started, so the rules (ordering, deadlines,
//! `fail_on`) are unit-tested with made-up times instead of real waits.

use std::collections::VecDeque;
use std::time::Duration;

use crate::report::{ExpectationResult, Outcome};
use crate::spec::Spec;

/// How many recent console lines a timeout reason quotes.
pub const RECENT_LINES: usize = 5;

/// Tracks which expectation is being waited for and why the run failed, if
/// it did.
#[derive(Debug)]
pub struct Matcher<'s> {
    spec: &'s Spec,
    /// Index of the expectation being waited for.
    next: usize,
    /// When the previous expectation passed; the current one's `within`
    /// deadline counts from here.
    since: Duration,
    passed_at: Vec<Duration>,
    failure: Option<String>,
    /// The first `fail_on` line, described, whether or not an expectation
    /// was pending when it came: after the last expectation passed, clients
    /// may still be running, and the line fails them instead.
    fail_on_seen: Option<String>,
    recent: VecDeque<String>,
    /// For each expectation, the first line that matched it while an earlier
    /// one was still pending. Matching stays strictly ordered; this is only
    /// kept so a failure can tell "never printed" from "printed too early".
    early: Vec<Option<(String, Duration)>>,
}

impl<'s> Matcher<'s> {
    /// A matcher waiting for the spec's first expectation at time zero.
    pub fn new(spec: &'s Spec) -> Self {
        Matcher {
            spec,
            next: 0,
            since: Duration::ZERO,
            passed_at: Vec::new(),
            failure: None,
            fail_on_seen: None,
            recent: VecDeque::with_capacity(RECENT_LINES),
            early: vec![None; spec.expect.len()],
        }
    }

    /// Whether the expectations are decided: every one passed, or one
    /// failed. (Clients may still be running; see [`crate::Runner`].)
    pub fn is_finished(&self) -> bool {
        self.failure.is_some() || self.next == self.spec.expect.len()
    }

    /// Index of the expectation being waited for, if the run is not decided.
    pub fn current(&self) -> Option<usize> {
        (!self.is_finished()).then_some(self.next)
    }

    /// Feeds one console line (line ending already removed) seen at `at`.
    /// Returns the index of the expectation it satisfied, if any.
    ///
    /// A `fail_on` line fails the pending expectation; once every
    /// expectation has passed it is still recorded, for
    /// [`Matcher::fail_on_seen`].
    pub fn line(&mut self, line: &str, at: Duration) -> Option<usize> {
        if self.recent.len() == RECENT_LINES {
            self.recent.pop_front();
        }
        self.recent.push_back(line.to_owned());
        if self.failure.is_some() || self.fail_on_seen.is_some() {
            return None;
        }
        if let Some(marker) = self.spec.fail_on.iter().find(|m| line.contains(m.as_str())) {
            let reason = format!(
                "console printed a fail_on line (contains {marker:?}) after {:.2}s: {line:?}",
                at.as_secs_f64()
            );
            if self.current().is_some() {
                self.failure = Some(reason.clone());
            }
            self.fail_on_seen = Some(reason);
            return None;
        }
        if self.is_finished() {
            return None;
        }
        let index = self.next;
        if self.spec.expect[index].pattern.is_match(line) {
            self.passed_at.push(at);
            self.since = at;
            self.next += 1;
            return Some(index);
        }
        for (later, seen) in self.early.iter_mut().enumerate().skip(index + 1) {
            if seen.is_none() && self.spec.expect[later].pattern.is_match(line) {
                *seen = Some((line.to_owned(), at));
            }
        }
        None
    }

    /// Whether expectation `index` has passed.
    pub fn has_passed(&self, index: usize) -> bool {
        index < self.passed_at.len()
    }

    /// The first `fail_on` line seen before the run was decided, described
    /// as a failure reason. It stays `None` for lines after a failure.
    pub fn fail_on_seen(&self) -> Option<&str> {
        self.fail_on_seen.as_deref()
    }

    /// Whether the run failed at an expectation (as opposed to every
    /// expectation having passed, or the run still waiting).
    pub fn failed(&self) -> bool {
        self.failure.is_some()
    }

    /// Index of the expectation that failed, if one did.
    pub fn failed_at(&self) -> Option<usize> {
        self.failure.is_some().then_some(self.next)
    }

    /// The time by which the next line must arrive: the current
    /// expectation's `within` deadline or the run's, whichever is sooner.
    /// `None` once the run is decided.
    pub fn deadline(&self) -> Option<Duration> {
        let current = self.current()?;
        let run = self.spec.timeout;
        Some(match self.spec.expect[current].within {
            Some(within) => run.min(self.since + within),
            None => run,
        })
    }

    /// Fails the current expectation if its deadline has passed at `now`.
    /// Returns whether it did.
    pub fn check_deadline(&mut self, now: Duration) -> bool {
        let (Some(current), Some(deadline)) = (self.current(), self.deadline()) else {
            return false;
        };
        if now < deadline {
            return false;
        }
        let expectation = &self.spec.expect[current];
        let which = match expectation.within {
            Some(within) if self.since + within <= self.spec.timeout => {
                format!("within_secs = {}", within.as_secs_f64())
            }
            _ => format!(
                "the whole run reached timeout_secs = {}",
                self.spec.timeout.as_secs_f64()
            ),
        };
        let mut reason = format!(
            "timed out after waiting {:.2}s for a line matching /{}/ ({which})",
            (now.saturating_sub(self.since)).as_secs_f64(),
            expectation.pattern.as_str(),
        );
        self.note_early(current, &mut reason);
        self.quote_recent(&mut reason);
        self.failure = Some(reason);
        true
    }

    /// Fails the current expectation because the process ended with
    /// `status` (as [`crate::report::describe_status`] words it).
    pub fn exited(&mut self, status: &str) {
        if let Some(current) = self.current() {
            let mut reason = format!("process exited with status {status}");
            self.note_early(current, &mut reason);
            self.quote_recent(&mut reason);
            self.failure = Some(reason);
        }
    }

    /// Fails the current expectation for a reason outside the console, such
    /// as the runner being interrupted.
    pub fn abort(&mut self, reason: &str) {
        if self.current().is_some() {
            self.failure = Some(reason.to_owned());
        }
    }

    /// One result per expectation, in spec order. Expectations still pending
    /// when the run was cut short count as not reached.
    pub fn results(&self) -> Vec<ExpectationResult> {
        self.spec
            .expect
            .iter()
            .enumerate()
            .map(|(index, e)| {
                let outcome = if let Some(&after) = self.passed_at.get(index) {
                    Outcome::Passed { after }
                } else if index == self.next {
                    Outcome::Failed {
                        reason: self
                            .failure
                            .clone()
                            .unwrap_or_else(|| "run ended before this was decided".into()),
                    }
                } else {
                    Outcome::NotReached
                };
                ExpectationResult {
                    description: e.description.clone(),
                    outcome,
                }
            })
            .collect()
    }

    fn note_early(&self, index: usize, reason: &mut String) {
        if let Some((line, at)) = &self.early[index] {
            reason.push_str(&format!(
                "; a matching line came out of order at {:.2}s, before the previous expectation passed: {line:?}",
                at.as_secs_f64()
            ));
        }
    }

    fn quote_recent(&self, reason: &mut String) {
        if self.recent.is_empty() {
            reason.push_str("; the console printed nothing");
            return;
        }
        let n = self.recent.len();
        let lines = if n == 1 { "line" } else { "lines" };
        reason.push_str(&format!("; last {n} console {lines}:"));
        for line in &self.recent {
            reason.push_str(&format!("\n    {line:?}"));
        }
    }
}

/// Removes the line ending (`\n`, `\r\n`, or the stray `\r`s a serial
/// console adds) so that `$` in a pattern means the end of the text.
pub fn trim_line_end(line: &str) -> &str {
    line.trim_end_matches(['\r', '\n'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parse(text: &str) -> Spec {
        Spec::parse(text, Path::new("t.toml")).unwrap()
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    const ABC: &str = r#"
        timeout_secs = 100
        fail_on = ["panicked"]
        [[expect]]
        description = "a"
        pattern = '^A$'
        within_secs = 10
        [[expect]]
        description = "b"
        pattern = '^B \d+$'
        within_secs = 5
        [[expect]]
        description = "c"
        pattern = 'C'
    "#;

    #[test]
    fn in_order_lines_pass_and_other_lines_are_ignored() {
        let spec = parse(ABC);
        let mut m = Matcher::new(&spec);
        assert_eq!(m.line("noise", secs(0.1)), None);
        assert_eq!(m.line("A", secs(1.0)), Some(0));
        assert_eq!(m.line("more noise", secs(1.5)), None);
        assert_eq!(m.line("B 42", secs(2.0)), Some(1));
        assert_eq!(m.line("xxCxx", secs(3.0)), Some(2));
        assert!(m.is_finished());
        let results = m.results();
        assert!(results.iter().all(|r| r.passed()));
        assert_eq!(results[1].outcome, Outcome::Passed { after: secs(2.0) });
    }

    #[test]
    fn one_line_satisfies_at_most_one_expectation() {
        let spec = parse(
            "timeout_secs = 1\n[[expect]]\ndescription = \"x1\"\npattern = \"x\"\n\
             [[expect]]\ndescription = \"x2\"\npattern = \"x\"\n",
        );
        let mut m = Matcher::new(&spec);
        assert_eq!(m.line("x", secs(0.1)), Some(0));
        assert!(!m.is_finished());
        assert_eq!(m.line("x", secs(0.2)), Some(1));
        assert!(m.is_finished());
    }

    #[test]
    fn deadlines_count_from_the_previous_pass_and_are_capped_by_the_run() {
        let spec = parse(ABC);
        let mut m = Matcher::new(&spec);
        assert_eq!(m.deadline(), Some(secs(10.0)));
        m.line("A", secs(3.0));
        assert_eq!(m.deadline(), Some(secs(8.0)));
        m.line("B 1", secs(4.0));
        // No within_secs: only the run's deadline applies.
        assert_eq!(m.deadline(), Some(secs(100.0)));
        m.line("C", secs(5.0));
        assert_eq!(m.deadline(), None);

        let spec2 = parse("timeout_secs = 2\n[[expect]]\ndescription = \"x\"\npattern = \"x\"\nwithin_secs = 30\n");
        assert_eq!(Matcher::new(&spec2).deadline(), Some(secs(2.0)));
    }

    #[test]
    fn missed_deadline_fails_with_wait_time_and_last_lines() {
        let spec = parse(ABC);
        let mut m = Matcher::new(&spec);
        m.line("A", secs(1.0));
        for i in 0..7 {
            m.line(&format!("line {i}"), secs(2.0));
        }
        assert!(!m.check_deadline(secs(5.9)));
        assert!(m.check_deadline(secs(6.0)));
        assert!(m.is_finished());
        let results = m.results();
        assert!(results[0].passed());
        let Outcome::Failed { reason } = &results[1].outcome else {
            panic!("{results:?}")
        };
        assert!(
            reason.starts_with("timed out after waiting 5.00s"),
            "{reason}"
        );
        assert!(reason.contains("within_secs = 5"), "{reason}");
        assert!(reason.contains("last 5 console lines:"), "{reason}");
        assert!(!reason.contains("\"line 1\""), "{reason}");
        assert!(reason.contains("\"line 2\""), "{reason}");
        assert!(reason.ends_with("\"line 6\""), "{reason}");
        assert_eq!(results[2].outcome, Outcome::NotReached);
        assert_eq!(results[2].to_string(), "FAIL c: not reached");
    }

    #[test]
    fn run_timeout_is_named_when_it_comes_first() {
        let spec = parse("timeout_secs = 2\n[[expect]]\ndescription = \"x\"\npattern = \"x\"\nwithin_secs = 30\n");
        let mut m = Matcher::new(&spec);
        assert!(m.check_deadline(secs(2.0)));
        let Outcome::Failed { reason } = &m.results()[0].outcome else {
            panic!()
        };
        assert!(reason.contains("timeout_secs = 2"), "{reason}");
        assert!(reason.contains("the console printed nothing"), "{reason}");
    }

    #[test]
    fn out_of_order_lines_do_not_pass_and_are_pointed_out() {
        let spec = parse(ABC);
        let mut m = Matcher::new(&spec);
        assert_eq!(m.line("B 7", secs(0.5)), None);
        assert_eq!(m.line("A", secs(1.0)), Some(0));
        assert!(m.check_deadline(secs(6.0)));
        let Outcome::Failed { reason } = &m.results()[1].outcome else {
            panic!()
        };
        assert!(reason.contains("out of order at 0.50s"), "{reason}");
        assert!(reason.contains("\"B 7\""), "{reason}");
    }

    #[test]
    fn fail_on_fails_at_once_quoting_the_line_even_if_it_would_match() {
        let spec = parse(ABC);
        let mut m = Matcher::new(&spec);
        assert_eq!(m.line("A panicked at foo.rs", secs(0.5)), None);
        assert!(m.is_finished());
        let results = m.results();
        let Outcome::Failed { reason } = &results[0].outcome else {
            panic!()
        };
        assert!(reason.contains("\"panicked\""), "{reason}");
        assert!(reason.contains("\"A panicked at foo.rs\""), "{reason}");
        assert_eq!(results[1].outcome, Outcome::NotReached);
        // Later lines change nothing once the run is decided.
        assert_eq!(m.line("A", secs(0.6)), None);
        assert!(!m.results()[0].passed());
    }

    #[test]
    fn fail_on_after_everything_passed_is_recorded_but_fails_no_expectation() {
        let spec = parse("timeout_secs = 1\nfail_on = [\"panicked\"]\n[[expect]]\ndescription = \"x\"\npattern = \"x\"\n");
        let mut m = Matcher::new(&spec);
        m.line("x", secs(0.1));
        assert!(m.is_finished() && !m.failed());
        assert_eq!(m.fail_on_seen(), None);
        m.line("thread panicked", secs(0.5));
        assert!(m.results()[0].passed());
        assert!(!m.failed());
        let seen = m.fail_on_seen().expect("recorded").to_owned();
        assert!(seen.contains("\"thread panicked\""), "{seen}");
        // Only the first one is kept.
        m.line("panicked again", secs(0.6));
        assert_eq!(m.fail_on_seen(), Some(seen.as_str()));
    }

    #[test]
    fn fail_on_before_everything_passed_is_also_seen() {
        let spec = parse(ABC);
        let mut m = Matcher::new(&spec);
        m.line("panicked", secs(0.1));
        assert!(m.failed());
        assert_eq!(m.failed_at(), Some(0));
        assert!(m.fail_on_seen().is_some());
    }

    #[test]
    fn exit_fails_the_pending_expectation_only() {
        let spec = parse(ABC);
        let mut m = Matcher::new(&spec);
        m.line("A", secs(0.5));
        m.exited("3");
        let results = m.results();
        assert!(results[0].passed());
        let Outcome::Failed { reason } = &results[1].outcome else {
            panic!()
        };
        assert!(
            reason.starts_with("process exited with status 3;"),
            "{reason}"
        );
        assert_eq!(results[2].outcome, Outcome::NotReached);
    }

    #[test]
    fn exit_after_everything_passed_changes_nothing() {
        let spec = parse("timeout_secs = 1\n[[expect]]\ndescription = \"x\"\npattern = \"x\"\n");
        let mut m = Matcher::new(&spec);
        m.line("x", secs(0.1));
        m.exited("1");
        m.abort("interrupted");
        assert!(m.results()[0].passed());
    }

    #[test]
    fn line_endings_are_trimmed() {
        assert_eq!(trim_line_end("abc\r\n"), "abc");
        assert_eq!(trim_line_end("abc\r\r\n"), "abc");
        assert_eq!(trim_line_end("abc\n"), "abc");
        assert_eq!(trim_line_end("abc"), "abc");
        assert_eq!(trim_line_end(" abc \n"), " abc ");
    }
}
