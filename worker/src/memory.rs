//! How much memory a device offers runs, for packing by memory: the machine's RAM for the
//! CPU (from /proc/meminfo). GPUs report none yet (burn 0.21 exposes no memory query that
//! this build uses), so packing treats them as unknown: one run at a time, unless the
//! worker is told with `--device-memory`.

/// The machine's total RAM in bytes, where /proc/meminfo says.
pub fn total_ram() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_mem_total(&text)
}

/// `MemTotal:  24576000 kB` as bytes.
fn parse_mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_total_is_read_in_bytes() {
        assert_eq!(
            parse_mem_total("MemFree: 1 kB\nMemTotal:   2048 kB\n"),
            Some(2 << 20)
        );
        assert_eq!(parse_mem_total("nothing"), None);
    }
}
