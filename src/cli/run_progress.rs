//! Where a running run is, for `show` and `top`: the latest step its worker reported (with
//! its heartbeats, every few seconds) out of `max_iters`, the throughput over the last
//! seconds, the ETA at that throughput, how old the report is and the worker; so that a
//! running run reads as more than an empty table between its evaluations. A run whose
//! worker has not said yet (just leased, or a worker older than live progress) reads as of
//! its latest evaluation: its step then, its throughput, and an ETA from its seconds per
//! step so far.

use gptsweep_api::{Evaluation, RunProgress};
use serde_json::{Map, Value};

use super::table;

/// `n` with its thousands grouped: `12,345`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `step 1,234 / 5,000 (24.7%)`.
pub fn step_of(p: &RunProgress) -> String {
    let mut out = format!("step {} / {}", grouped(p.step), grouped(p.max_iters));
    if p.max_iters > 0 {
        out += &format!(" ({:.1}%)", 100.0 * p.step as f64 / p.max_iters as f64);
    }
    out
}

/// The ETA cell: `1m40s`, or `-` without a throughput.
pub fn eta(p: &RunProgress) -> String {
    p.eta_secs.map(table::secs).unwrap_or_else(|| "-".into())
}

/// The progress line of a running run its worker reported between evaluations.
pub fn live(p: &RunProgress) -> String {
    let mut out = format!(
        "progress: {}, {} tok/s",
        step_of(p),
        grouped(p.tokens_per_sec.round() as u64)
    );
    if let Some(eta) = p.eta_secs {
        out += &format!(", ETA {}", table::secs(eta));
    }
    out += &format!(
        "; reported {} ago by {}",
        table::secs(p.age_ms as f64 / 1000.0),
        super::terminal::escape_line(&p.worker)
    );
    out
}

/// The progress line of a running run with `hyperparams` and `evals` (step order), as of
/// its latest evaluation.
pub fn line(hyperparams: &Map<String, Value>, evals: &[Evaluation]) -> String {
    let get = |k: &str| hyperparams.get(k).and_then(Value::as_u64);
    let max_iters = get("max_iters");
    let Some(last) = evals.last() else {
        return match get("eval_interval") {
            Some(n) => format!("progress: training; no evaluation yet (the first at step {n})"),
            None => "progress: training; no evaluation yet".into(),
        };
    };
    let mut out = format!("progress: step {}", last.step);
    if let Some(max) = max_iters.filter(|&m| m > 0) {
        out += &format!(" of {max} ({:.0}%)", 100.0 * last.step as f64 / max as f64);
    }
    out += &format!(
        " at the latest evaluation, {:.0} tok/s",
        last.tokens_per_sec
    );
    if let Some(max) = max_iters
        && last.step > 0
        && last.train_secs > 0.0
    {
        let per_step = last.train_secs / last.step as f64;
        let left = max.saturating_sub(last.step) as f64 * per_step;
        out += &format!(", ETA {}", table::secs(left));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(step: u64, train_secs: f64) -> Evaluation {
        Evaluation {
            step,
            train_loss: 1.0,
            val_loss: 1.0,
            train_bpc: 1.0,
            val_bpc: 1.0,
            tokens_per_sec: 12_345.4,
            train_secs,
        }
    }

    #[test]
    fn live_progress_reads_its_step_throughput_eta_age_and_worker() {
        let p = RunProgress {
            step: 1234,
            max_iters: 5000,
            tokens_per_sec: 20_480.4,
            reported_at_ms: 0,
            age_ms: 2500,
            eta_secs: Some(100.0),
            worker: "w0#1".into(),
        };
        assert_eq!(
            live(&p),
            "progress: step 1,234 / 5,000 (24.7%), 20,480 tok/s, ETA 1m40s; reported 2.5s ago by w0#1"
        );
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
        let unknown = RunProgress {
            eta_secs: None,
            ..p
        };
        assert_eq!(eta(&unknown), "-");
    }

    #[test]
    fn a_running_run_reads_its_step_throughput_and_eta() {
        let hp: Map<String, Value> =
            serde_json::from_str(r#"{"max_iters": 1000, "eval_interval": 100}"#).unwrap();
        assert_eq!(
            line(&hp, &[]),
            "progress: training; no evaluation yet (the first at step 100)"
        );
        assert_eq!(
            line(&hp, &[eval(100, 5.0), eval(200, 10.0)]),
            "progress: step 200 of 1000 (20%) at the latest evaluation, 12345 tok/s, ETA 40.0s"
        );
    }
}
