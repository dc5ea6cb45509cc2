//! This process's own figures for Prometheus (build, memory, CPU, open files,
//! threads, start time), read from Linux's /proc at each scrape: what an operator
//! checks first when one instance misbehaves, served by every Tenure process on its
//! `/metrics`. The names follow Prometheus's process-collector conventions, so
//! ready-made dashboards and alerts work.

use crate::metrics::Exposition;

/// Clock ticks per second in /proc/*/stat (USER_HZ, 100 on every Linux Tenure runs on).
const TICKS_PER_SECOND: f64 = 100.0;
/// Bytes per page in /proc/self/statm (4 KiB on x86-64 and arm64 Linux).
const PAGE_BYTES: f64 = 4096.0;

/// The fields of /proc/self/stat after the command name, which may hold spaces.
fn stat_fields() -> Option<Vec<String>> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    Some(after_name.split_whitespace().map(str::to_owned).collect())
}

/// When the machine booted, in seconds since the epoch.
fn boot_time() -> Option<f64> {
    std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// Writes the process figures into `out`.
pub(crate) fn write(out: &mut Exposition) {
    out.family(
        "tenure_build_info",
        "gauge",
        "Always 1; its labels name the running build.",
    );
    out.sample(
        "tenure_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1.0,
    );
    // Field numbers of proc(5), counted from 3 (state) as index 0.
    if let Some(fields) = stat_fields() {
        let number = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
        if let (Some(user), Some(system)) = (number(11), number(12)) {
            out.family(
                "process_cpu_seconds_total",
                "counter",
                "CPU time this process used, user and system.",
            );
            out.sample(
                "process_cpu_seconds_total",
                &[],
                (user + system) / TICKS_PER_SECOND,
            );
        }
        if let Some(threads) = number(17) {
            out.gauge("process_threads", "Threads of this process.", threads);
        }
        if let (Some(started), Some(boot)) = (number(19), boot_time()) {
            out.gauge(
                "process_start_time_seconds",
                "When this process started, in seconds since the epoch.",
                boot + started / TICKS_PER_SECOND,
            );
        }
    }
    if let Some(resident) = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<f64>().ok())
    {
        out.gauge(
            "process_resident_memory_bytes",
            "Resident memory of this process.",
            resident * PAGE_BYTES,
        );
    }
    if let Ok(open) = std::fs::read_dir("/proc/self/fd") {
        out.gauge(
            "process_open_fds",
            "Open file descriptors of this process (sockets included).",
            open.count() as f64,
        );
    }
}

/// The process figures alone, as a `/metrics` answer of a process that serves no
/// system-wide figures (ingest, reactor).
pub fn exposition() -> String {
    let mut out = Exposition(String::new());
    write(&mut out);
    out.0
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_process_figures_are_read() {
        let text = super::exposition();
        for name in [
            "tenure_build_info{version=",
            "process_cpu_seconds_total ",
            "process_resident_memory_bytes ",
            "process_open_fds ",
            "process_threads ",
            "process_start_time_seconds ",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
        let resident: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
            .and_then(|v| v.parse().ok())
            .unwrap();
        assert!(resident > 1024.0 * 1024.0, "{resident}");
    }
}
