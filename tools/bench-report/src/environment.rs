//! Where and when the figures were measured, for the summary's first line:
//! the date, QEMU's version and the host's CPU. Each comes from the caller
//! when it passes one (`ci/bench.sh` passes what it ran), else from this
//! machine.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// The circumstances of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    /// The first line of `qemu-system-aarch64 --version`.
    pub qemu: String,
    /// The host CPU's model name.
    pub cpu: String,
    /// The host's logical CPUs.
    pub cores: usize,
}

impl Environment {
    /// The caller's date and QEMU version where given, the rest from this
    /// machine; what cannot be found reads `unknown (why)`.
    pub fn detect(date: Option<String>, qemu: Option<String>) -> Environment {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let (cpu, cores) = cpu_from_cpuinfo(&cpuinfo);
        Environment {
            date: date.unwrap_or_else(today),
            qemu: qemu.unwrap_or_else(qemu_version),
            cpu: cpu.unwrap_or_else(|| "unknown CPU (no model name in /proc/cpuinfo)".to_owned()),
            cores: if cores > 0 {
                cores
            } else {
                std::thread::available_parallelism().map_or(0, usize::from)
            },
        }
    }
}

/// The first line of `qemu-system-aarch64 --version`, or why there is none.
pub fn qemu_version() -> String {
    match Command::new("qemu-system-aarch64").arg("--version").output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .unwrap_or("unknown (qemu-system-aarch64 --version printed nothing)")
            .to_owned(),
        Ok(out) => format!("unknown (qemu-system-aarch64 --version: {})", out.status),
        Err(e) => format!("unknown (qemu-system-aarch64: {e})"),
    }
}

/// The CPU's model and the count of logical CPUs in `/proc/cpuinfo`'s text:
/// x86's `model name`, or on Arm the `Hardware`/`Model` line where there is
/// one; 0 CPUs when the text lists none.
pub fn cpu_from_cpuinfo(text: &str) -> (Option<String>, usize) {
    let field = |line: &str, name: &str| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == name)
            .then(|| value.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let model = ["model name", "Hardware", "Model"]
        .iter()
        .find_map(|name| text.lines().find_map(|line| field(line, name)));
    let cores = text.lines().filter(|line| field(line, "processor").is_some()).count();
    (model, cores)
}

/// Today's date in UTC.
pub fn today() -> String {
    let seconds = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    civil_date(seconds / 86_400)
}

/// `YYYY-MM-DD` of a count of days since 1970-01-01 (the proleptic
/// Gregorian calendar; Howard Hinnant's `civil_from_days`).
pub fn civil_date(days: u64) -> String {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_from_days() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(59), "1970-03-01");
        assert_eq!(civil_date(11_016), "2000-02-29");
        assert_eq!(civil_date(19_782), "2024-02-29");
        assert_eq!(civil_date(20_454), "2026-01-01");
    }

    #[test]
    fn the_cpu_model_and_count_from_cpuinfo() {
        let x86 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\nflags\t: fpu\n\n\
                   processor\t: 1\nmodel name\t: AMD EPYC\n";
        assert_eq!(cpu_from_cpuinfo(x86), (Some("AMD EPYC".into()), 2));
        let arm =
            "processor\t: 0\nBogoMIPS\t: 48.00\nCPU part\t: 0xd08\n\nHardware\t: BCM2835\nModel\t: Raspberry Pi 4\n";
        assert_eq!(cpu_from_cpuinfo(arm), (Some("BCM2835".into()), 1));
        assert_eq!(cpu_from_cpuinfo(""), (None, 0));
    }
}
