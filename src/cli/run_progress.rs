//! Where a running run is, for `show`: the step of its latest evaluation out of
//! `max_iters`, its throughput then, and an ETA from its seconds per step so far (every
//! attempt's training time over the steps it bought), so that a running run reads as more
//! than an empty table. Workers report at evaluations, so this is as of the latest one.

use gptsweep_api::Evaluation;
use serde_json::{Map, Value};

use super::table;

/// The progress line of a running run with `hyperparams` and `evals` (step order).
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
