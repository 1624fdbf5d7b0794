//! Any text given to the sweep-file checker must come back as a spec or as located
//! diagnostics, never a panic, a hang or an unbounded allocation; a spec must plan or be
//! refused likewise.

#![no_main]

use gptsweep_coordinator::sweep::{Method, parse_sweep, plan_runs};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(spec) = parse_sweep("fuzz.yaml", text) else { return };
    // Random search (and tpe's startup runs) may draw 1000 times per run; keep each input
    // fast.
    if matches!(spec.method, Method::Random | Method::Tpe) && spec.run_cap.unwrap_or(0) > 64 {
        return;
    }
    let _ = plan_runs(&spec, "fuzz.yaml", 65, 100_000);
});
