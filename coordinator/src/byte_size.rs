//! Byte sizes as people write and read them: flags such as `--disk-reserve 256MiB` are
//! parsed here, and refusals about space say "1.5 GiB" rather than a ten-digit count (with
//! the exact count beside it where it matters).

/// The size `text` names: a whole number of bytes, optionally followed by `KiB`, `MiB`,
/// `GiB` or `TiB` (or `K`, `M`, `G`, `T`, also with `B` or `iB`: powers of 1024).
pub fn parse(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => {
            return Err(format!(
                "{text:?}: the unit must be one of B, KiB, MiB, GiB, TiB"
            ));
        }
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?}: must be a whole number of bytes, such as 256MiB"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{text:?}: over the largest size, {} bytes", u64::MAX))
}

/// `bytes` in the largest binary unit that keeps it at least 1, one decimal: "1.5 GiB".
pub fn show(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units_and_bad_ones_are_named() {
        assert_eq!(parse("0"), Ok(0));
        assert_eq!(parse("4096"), Ok(4096));
        assert_eq!(parse("256MiB"), Ok(256 << 20));
        assert_eq!(parse("2 GiB"), Ok(2 << 30));
        assert_eq!(parse("3g"), Ok(3 << 30));
        assert_eq!(parse("1T"), Ok(1 << 40));
        assert_eq!(
            parse("1.5GiB").unwrap_err(),
            "\"1.5GiB\": the unit must be one of B, KiB, MiB, GiB, TiB"
        );
        assert_eq!(
            parse("MiB").unwrap_err(),
            "\"MiB\": must be a whole number of bytes, such as 256MiB"
        );
        assert_eq!(
            parse("99999999999TiB").unwrap_err(),
            format!(
                "\"99999999999TiB\": over the largest size, {} bytes",
                u64::MAX
            )
        );
    }

    #[test]
    fn sizes_show_in_the_largest_unit() {
        assert_eq!(show(0), "0 B");
        assert_eq!(show(1023), "1023 B");
        assert_eq!(show(1536), "1.5 KiB");
        assert_eq!(show(512 << 20), "512.0 MiB");
        assert_eq!(show(3 << 40), "3.0 TiB");
    }
}
