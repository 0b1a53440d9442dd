//! The test spec: a TOML file saying what the console must print, in order,
//! and how long each line may take.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;

/// Everything that can be wrong with a spec file. Each variant names the file
/// so that a CI log pointing at a failed run says which spec to fix.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("spec {path}: cannot read: {source}")]
    Read {
        /// The spec file.
        path: PathBuf,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not have the spec's shape (this
    /// includes unknown fields, which are rejected so that a typo such as
    /// `within_sec` cannot silently drop a deadline).
    #[error("spec {path}: {message}")]
    Parse {
        /// The spec file.
        path: PathBuf,
        /// The TOML parser's explanation, with line and column.
        message: String,
    },
    /// An expectation's pattern is not a valid regex.
    #[error("spec {path}: expectation #{number} ({description:?}): invalid pattern: {source}")]
    Pattern {
        /// The spec file.
        path: PathBuf,
        /// 1-based position of the expectation in the file.
        number: usize,
        /// The expectation's description.
        description: String,
        /// The regex compiler's explanation.
        source: Box<regex::Error>,
    },
    /// A value parsed but makes no sense (no expectations, a zero deadline, ...).
    #[error("spec {path}: {message}")]
    Invalid {
        /// The spec file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The spec file exactly as written, before validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    name: Option<String>,
    variant: Option<String>,
    clock: Option<String>,
    #[serde(default)]
    host_addresses: Vec<String>,
    timeout_secs: f64,
    #[serde(default)]
    fail_on: Vec<String>,
    #[serde(default)]
    expect: Vec<RawExpectation>,
    #[serde(default)]
    client: Vec<RawClient>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpectation {
    description: String,
    pattern: String,
    within_secs: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    description: String,
    after: Option<String>,
    after_all: Option<bool>,
    command: Vec<String>,
    timeout_secs: f64,
}

/// How the guest's clock runs (QEMU's `-icount` or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// Guest time counts executed instructions: deterministic.
    Icount,
    /// Guest time follows the host's clock, as under `make run`.
    Real,
}

/// A validated spec, ready to match console lines against.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Name of the test, for the report; defaults to the file's stem.
    pub name: String,
    /// The configuration variant whose image the spec is meant to boot
    /// (`ci/variants/NAME.toml`). `ci/system-test.sh` builds that image and
    /// passes its command; the runner checks the name's form, so a name the
    /// script would not read cannot silently boot the default image.
    pub variant: Option<String>,
    /// The guest clock the spec is meant to boot with: `icount` (the
    /// default: guest time counts instructions, deterministic) or `real`
    /// (`make run`'s: guest time follows the host's). `ci/system-test.sh`
    /// passes it to `make qemu-command CLOCK=...`.
    pub clock: Clock,
    /// IPv4 addresses the host must have, besides loopback's, for the
    /// spec's clients to play hosts that QEMU's user network reaches (it
    /// sends a frame for any 10.0.2.0/24 address but the gateway's to that
    /// address on the host). `ci/system-test.sh` runs such a spec in a
    /// network namespace of its own, with these addresses on its `lo`
    /// (written on one line, `host_addresses = ["10.0.2.100"]`, for the
    /// script to read). The runner only checks their form.
    pub host_addresses: Vec<Ipv4Addr>,
    /// Deadline for the whole run, counted from when the command starts.
    pub timeout: Duration,
    /// Substrings that fail the run as soon as any console line contains one.
    pub fail_on: Vec<String>,
    /// What the console must print, in order.
    pub expect: Vec<Expectation>,
    /// Commands run against the booted system, in order, while the console
    /// is still being watched.
    pub clients: Vec<Client>,
}

/// One line the console must print.
#[derive(Debug, Clone)]
pub struct Expectation {
    /// Human-readable name used in the report.
    pub description: String,
    /// Matched against each console line with its line ending removed.
    pub pattern: Regex,
    /// Deadline counted from when the previous expectation passed (or from
    /// the start for the first one); `None` leaves only the run's deadline.
    pub within: Option<Duration>,
}

/// A command run on the host once the console has shown that the system is
/// ready for it, such as a network client talking to the guest.
#[derive(Debug, Clone)]
pub struct Client {
    /// Human-readable name used in the report.
    pub description: String,
    /// Index of the expectation that must have passed before the client
    /// starts. `after_all = true` is the last expectation: matching is
    /// strictly ordered, so it passing means every one has.
    pub after: usize,
    /// The program and its arguments, run from the runner's working
    /// directory.
    pub command: Vec<String>,
    /// How long the client may run before it is killed and fails.
    pub timeout: Duration,
}

impl Spec {
    /// Reads and validates the spec at `path`.
    pub fn load(path: &Path) -> Result<Spec, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
            path: path.to_owned(),
            source,
        })?;
        Spec::parse(&text, path)
    }

    /// Parses and validates spec text; `path` is only used to name the file
    /// in errors and to default the name.
    pub fn parse(text: &str, path: &Path) -> Result<Spec, SpecError> {
        let raw: RawSpec = toml::from_str(text).map_err(|e| SpecError::Parse {
            path: path.to_owned(),
            // toml's message spans several lines (it quotes the offending
            // source); trimming keeps the error from ending in a blank line.
            message: e.to_string().trim_end().to_owned(),
        })?;
        let invalid = |message: String| SpecError::Invalid {
            path: path.to_owned(),
            message,
        };
        let timeout =
            seconds(raw.timeout_secs).map_err(|why| invalid(format!("timeout_secs {why}")))?;
        if let Some(variant) = &raw.variant {
            let well_formed = !variant.is_empty()
                && variant
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
            if !well_formed {
                return Err(invalid(format!(
                    "variant {variant:?} must be a file stem of ci/variants/ in a-z, 0-9, '_' and '-'"
                )));
            }
        }
        let clock = match raw.clock.as_deref() {
            None | Some("icount") => Clock::Icount,
            Some("real") => Clock::Real,
            Some(other) => return Err(invalid(format!("clock {other:?} must be \"icount\" or \"real\""))),
        };
        let host_addresses = raw
            .host_addresses
            .iter()
            .map(|text| match text.parse::<Ipv4Addr>() {
                Ok(ip) if !(ip.is_loopback() || ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast()) => {
                    Ok(ip)
                }
                _ => Err(invalid(format!(
                    "host_addresses: {text:?} must be a unicast IPv4 address outside 127.0.0.0/8"
                ))),
            })
            .collect::<Result<Vec<_>, SpecError>>()?;
        if raw.expect.is_empty() {
            return Err(invalid(
                "no [[expect]] entries: a spec that expects nothing would always pass".into(),
            ));
        }
        if let Some(empty) = raw.fail_on.iter().position(String::is_empty) {
            return Err(invalid(format!(
                "fail_on[{empty}] is empty, which would match every line"
            )));
        }
        let expect = raw
            .expect
            .into_iter()
            .enumerate()
            .map(|(index, e)| {
                let number = index + 1;
                let pattern = Regex::new(&e.pattern).map_err(|source| SpecError::Pattern {
                    path: path.to_owned(),
                    number,
                    description: e.description.clone(),
                    source: Box::new(source),
                })?;
                let within = e.within_secs.map(seconds).transpose().map_err(|why| {
                    invalid(format!(
                        "expectation #{number} ({:?}): within_secs {why}",
                        e.description
                    ))
                })?;
                Ok(Expectation {
                    description: e.description,
                    pattern,
                    within,
                })
            })
            .collect::<Result<Vec<_>, SpecError>>()?;
        let clients = raw
            .client
            .into_iter()
            .enumerate()
            .map(|(index, c)| client(index + 1, c, &expect).map_err(&invalid))
            .collect::<Result<Vec<_>, SpecError>>()?;
        let name = raw.name.unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "qemu-test".into())
        });
        Ok(Spec {
            name,
            variant: raw.variant,
            clock,
            host_addresses,
            timeout,
            fail_on: raw.fail_on,
            expect,
            clients,
        })
    }
}

/// Validates client `number` (1-based) against the spec's expectations.
fn client(number: usize, raw: RawClient, expect: &[Expectation]) -> Result<Client, String> {
    let which = format!("client #{number} ({:?})", raw.description);
    let after = match (raw.after, raw.after_all) {
        (Some(after), None | Some(false)) => {
            let matching: Vec<usize> = expect
                .iter()
                .enumerate()
                .filter(|(_, e)| e.description == after)
                .map(|(index, _)| index)
                .collect();
            match matching[..] {
                [index] => index,
                [] => {
                    let known: Vec<String> =
                        expect.iter().map(|e| format!("{:?}", e.description)).collect();
                    return Err(format!(
                        "{which}: after = {after:?} names no expectation; the expectations are {}",
                        known.join(", ")
                    ));
                }
                _ => {
                    let numbers: Vec<String> =
                        matching.iter().map(|i| format!("#{}", i + 1)).collect();
                    return Err(format!(
                        "{which}: after = {after:?} is ambiguous: expectations {} share that description",
                        numbers.join(" and ")
                    ));
                }
            }
        }
        (None, Some(true)) => expect.len() - 1,
        (Some(_), Some(true)) => {
            return Err(format!(
                "{which}: give either after = \"<expectation>\" or after_all = true, not both"
            ))
        }
        (None, None | Some(false)) => {
            return Err(format!(
                "{which}: says when to run with neither after = \"<expectation description>\" nor after_all = true"
            ))
        }
    };
    match raw.command.first() {
        None => return Err(format!("{which}: command is empty")),
        Some(program) if program.is_empty() => {
            return Err(format!("{which}: command[0], the program, is empty"))
        }
        Some(_) => {}
    }
    let timeout =
        seconds(raw.timeout_secs).map_err(|why| format!("{which}: timeout_secs {why}"))?;
    Ok(Client {
        description: raw.description,
        after,
        command: raw.command,
        timeout,
    })
}

/// Turns a seconds value from the file into a deadline, refusing values that
/// would make a deadline meaningless (zero, negative, NaN, infinite).
fn seconds(value: f64) -> Result<Duration, String> {
    if value.is_nan() || value <= 0.0 {
        return Err(format!("must be a positive number of seconds, got {value}"));
    }
    Duration::try_from_secs_f64(value).map_err(|e| format!("{value} is out of range: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Spec, SpecError> {
        Spec::parse(text, Path::new("specs/boot.toml"))
    }

    #[test]
    fn parses_the_documented_example() {
        let spec = parse(
            r#"
            # What a boot of the image must print, in order.
            name = "boot"
            timeout_secs = 120
            fail_on = ["panicked", "FAULT"]
            [[expect]]
            description = "driver reports its MAC"
            pattern = '^net_driver: MAC ([0-9a-f]{2}:){5}[0-9a-f]{2}$'
            within_secs = 60
            [[expect]]
            description = "shell prompt"
            pattern = 'edgeos> '
            "#,
        )
        .unwrap();
        assert_eq!(spec.name, "boot");
        assert_eq!(spec.timeout, Duration::from_secs(120));
        assert_eq!(spec.fail_on, ["panicked", "FAULT"]);
        assert_eq!(spec.expect.len(), 2);
        assert_eq!(spec.expect[0].within, Some(Duration::from_secs(60)));
        assert!(spec.expect[0]
            .pattern
            .is_match("net_driver: MAC 52:54:00:12:34:56"));
        assert_eq!(spec.expect[1].within, None);
    }

    #[test]
    fn name_defaults_to_file_stem_and_fractional_seconds_work() {
        let spec = parse(
            "timeout_secs = 2.5\n[[expect]]\ndescription = \"x\"\npattern = \"x\"\nwithin_secs = 0.25\n",
        )
        .unwrap();
        assert_eq!(spec.name, "boot");
        assert_eq!(spec.timeout, Duration::from_millis(2500));
        assert_eq!(spec.expect[0].within, Some(Duration::from_millis(250)));
        assert!(spec.fail_on.is_empty());
    }

    #[test]
    fn a_variant_is_a_plain_file_stem() {
        let spec = |variant: &str| {
            let text = format!(
                "variant = {variant:?}\ntimeout_secs = 1\n[[expect]]\ndescription = \"d\"\npattern = \"x\"\n"
            );
            Spec::parse(&text, Path::new("v.toml"))
        };
        assert_eq!(spec("renew").unwrap().variant.as_deref(), Some("renew"));
        for bad in ["", "Renew", "../renew", "re new"] {
            let err = spec(bad).unwrap_err().to_string();
            assert!(err.contains("must be a file stem of ci/variants/"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn a_clock_is_icount_unless_the_spec_asks_for_real_time() {
        let spec = |line: &str| {
            let text = format!("{line}\ntimeout_secs = 1\n[[expect]]\ndescription = \"d\"\npattern = \"x\"\n");
            Spec::parse(&text, Path::new("c.toml"))
        };
        assert_eq!(spec("").unwrap().clock, Clock::Icount);
        assert_eq!(spec("clock = \"icount\"").unwrap().clock, Clock::Icount);
        assert_eq!(spec("clock = \"real\"").unwrap().clock, Clock::Real);
        let err = spec("clock = \"wall\"").unwrap_err().to_string();
        assert!(err.contains("must be \"icount\" or \"real\""), "{err}");
    }

    #[test]
    fn host_addresses_are_unicast_ipv4_outside_loopback() {
        let spec = |line: &str| {
            let text = format!("{line}\ntimeout_secs = 1\n[[expect]]\ndescription = \"d\"\npattern = \"x\"\n");
            Spec::parse(&text, Path::new("h.toml"))
        };
        assert!(spec("").unwrap().host_addresses.is_empty());
        assert_eq!(
            spec("host_addresses = [\"10.0.2.100\"]").unwrap().host_addresses,
            [Ipv4Addr::new(10, 0, 2, 100)]
        );
        for bad in ["127.0.0.2", "0.0.0.0", "255.255.255.255", "224.0.0.1", "10.0.2", "::1"] {
            let err = spec(&format!("host_addresses = [{bad:?}]")).unwrap_err().to_string();
            assert!(err.contains("must be a unicast IPv4 address"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn unknown_top_level_field_is_rejected_naming_file_and_field() {
        let err = parse(
            "timeout_secs = 1\ntimeout = 3\n[[expect]]\ndescription = \"x\"\npattern = \"x\"\n",
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, SpecError::Parse { .. }), "{msg}");
        assert!(msg.contains("specs/boot.toml"), "{msg}");
        assert!(msg.contains("unknown field `timeout`"), "{msg}");
    }

    #[test]
    fn unknown_expectation_field_is_rejected() {
        let msg = parse(
            "timeout_secs = 1\n[[expect]]\ndescription = \"x\"\npattern = \"x\"\nwithin_sec = 3\n",
        )
        .unwrap_err()
        .to_string();
        assert!(msg.contains("specs/boot.toml"), "{msg}");
        assert!(msg.contains("unknown field `within_sec`"), "{msg}");
    }

    #[test]
    fn invalid_regex_names_the_expectation() {
        let msg = parse(
            "timeout_secs = 1\n[[expect]]\ndescription = \"fine\"\npattern = \"ok\"\n\
             [[expect]]\ndescription = \"broken one\"\npattern = \"(unclosed\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(msg.contains("specs/boot.toml"), "{msg}");
        assert!(msg.contains("expectation #2"), "{msg}");
        assert!(msg.contains("\"broken one\""), "{msg}");
        assert!(msg.contains("invalid pattern"), "{msg}");
    }

    #[test]
    fn missing_required_fields_are_rejected() {
        assert!(parse("[[expect]]\ndescription = \"x\"\npattern = \"x\"\n").is_err());
        assert!(parse("timeout_secs = 1\n[[expect]]\npattern = \"x\"\n").is_err());
        assert!(parse("timeout_secs = 1\n[[expect]]\ndescription = \"x\"\n").is_err());
    }

    #[test]
    fn nonsense_values_are_rejected() {
        let expect = "[[expect]]\ndescription = \"x\"\npattern = \"x\"\n";
        for bad in [
            format!("timeout_secs = 0\n{expect}"),
            format!("timeout_secs = -1\n{expect}"),
            format!("timeout_secs = nan\n{expect}"),
            format!("timeout_secs = inf\n{expect}"),
            format!("timeout_secs = 1\n{expect}within_secs = 0\n"),
            format!("timeout_secs = 1\nfail_on = [\"\"]\n{expect}"),
            "timeout_secs = 1\n".to_owned(),
        ] {
            let err = parse(&bad).expect_err(&bad);
            assert!(err.to_string().contains("specs/boot.toml"), "{err}");
        }
    }

    const TWO: &str = "timeout_secs = 10\n\
        [[expect]]\ndescription = \"booted\"\npattern = \"boot\"\n\
        [[expect]]\ndescription = \"serving\"\npattern = \"serving\"\n";

    fn with_client(client: &str) -> Result<Spec, SpecError> {
        parse(&format!("{TWO}[[client]]\n{client}"))
    }

    fn client_error(client: &str) -> String {
        let err = with_client(client).expect_err(client);
        assert!(
            matches!(err, SpecError::Invalid { .. } | SpecError::Parse { .. }),
            "{err}"
        );
        let msg = err.to_string();
        assert!(msg.starts_with("spec specs/boot.toml: "), "{msg}");
        msg
    }

    #[test]
    fn clients_resolve_after_to_an_expectation() {
        let spec = parse(&format!(
            "{TWO}\
             [[client]]\ndescription = \"udp echo\"\nafter = \"booted\"\n\
             command = [\"target/release/net-client\", \"udp-echo\"]\ntimeout_secs = 60\n\
             [[client]]\ndescription = \"last\"\nafter_all = true\ncommand = [\"true\"]\ntimeout_secs = 0.5\n"
        ))
        .unwrap();
        assert_eq!(spec.clients.len(), 2);
        let first = &spec.clients[0];
        assert_eq!(first.description, "udp echo");
        assert_eq!(first.after, 0);
        assert_eq!(first.command, ["target/release/net-client", "udp-echo"]);
        assert_eq!(first.timeout, Duration::from_secs(60));
        assert_eq!(
            spec.clients[1].after, 1,
            "after_all is the last expectation"
        );
        assert_eq!(spec.clients[1].timeout, Duration::from_millis(500));
        // `after_all = false` beside `after` is allowed and changes nothing.
        let spec = with_client(
            "description = \"c\"\nafter = \"serving\"\nafter_all = false\ncommand = [\"true\"]\ntimeout_secs = 1\n",
        )
        .unwrap();
        assert_eq!(spec.clients[0].after, 1);
        assert!(parse(TWO).unwrap().clients.is_empty());
    }

    #[test]
    fn after_must_name_exactly_one_expectation() {
        let msg = client_error(
            "description = \"c\"\nafter = \"servng\"\ncommand = [\"true\"]\ntimeout_secs = 1\n",
        );
        assert!(
            msg.contains("client #1 (\"c\"): after = \"servng\" names no expectation; the expectations are \"booted\", \"serving\""),
            "{msg}"
        );
        let dup = parse(
            "timeout_secs = 10\n\
             [[expect]]\ndescription = \"up\"\npattern = \"a\"\n\
             [[expect]]\ndescription = \"up\"\npattern = \"b\"\n\
             [[client]]\ndescription = \"c\"\nafter = \"up\"\ncommand = [\"true\"]\ntimeout_secs = 1\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            dup.contains("is ambiguous: expectations #1 and #2"),
            "{dup}"
        );
    }

    #[test]
    fn a_client_says_when_to_run_exactly_once() {
        let msg = client_error("description = \"c\"\ncommand = [\"true\"]\ntimeout_secs = 1\n");
        assert!(
            msg.contains("client #1 (\"c\"): says when to run with neither"),
            "{msg}"
        );
        let msg = client_error(
            "description = \"c\"\nafter_all = false\ncommand = [\"true\"]\ntimeout_secs = 1\n",
        );
        assert!(msg.contains("neither"), "{msg}");
        let msg = client_error(
            "description = \"c\"\nafter = \"booted\"\nafter_all = true\ncommand = [\"true\"]\ntimeout_secs = 1\n",
        );
        assert!(msg.contains("not both"), "{msg}");
    }

    #[test]
    fn client_commands_and_timeouts_are_checked() {
        let base = "description = \"c\"\nafter_all = true\n";
        let msg = client_error(&format!("{base}command = []\ntimeout_secs = 1\n"));
        assert!(msg.contains("client #1 (\"c\"): command is empty"), "{msg}");
        let msg = client_error(&format!(
            "{base}command = [\"\", \"x\"]\ntimeout_secs = 1\n"
        ));
        assert!(msg.contains("the program, is empty"), "{msg}");
        for bad in ["0", "-1", "nan", "inf"] {
            let msg = client_error(&format!(
                "{base}command = [\"true\"]\ntimeout_secs = {bad}\n"
            ));
            assert!(msg.contains("client #1 (\"c\"): timeout_secs "), "{msg}");
        }
        // Required fields.
        client_error(&format!("{base}command = [\"true\"]\n"));
        client_error(&format!("{base}timeout_secs = 1\n"));
        client_error("after_all = true\ncommand = [\"true\"]\ntimeout_secs = 1\n");
        // A command must be a list of strings.
        client_error(&format!("{base}command = \"true\"\ntimeout_secs = 1\n"));
    }

    #[test]
    fn unknown_client_field_is_rejected() {
        let msg = client_error(
            "description = \"c\"\nafter_all = true\ncommand = [\"true\"]\ntimeout = 1\n",
        );
        assert!(msg.contains("unknown field `timeout`"), "{msg}");
    }

    #[test]
    fn unreadable_file_names_the_path() {
        let msg = Spec::load(Path::new("/nonexistent/spec.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("spec /nonexistent/spec.toml: cannot read"),
            "{msg}"
        );
    }
}
