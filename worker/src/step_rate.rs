//! A run's training throughput over its last seconds, for the live progress a worker sends
//! with its heartbeats between evaluations: the tokens of the steps finished within a
//! recent window over the time they took. An evaluation pauses training, so the window
//! starts afresh after one (the rate is training's, as an evaluation's own `tokens_per_sec`
//! is); until two steps fall in the new window the last rate stands.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How far back the rate looks.
pub const WINDOW: Duration = Duration::from_secs(10);

/// Recent step completions and the rate they give.
#[derive(Debug)]
pub struct StepRate {
    tokens_per_step: u64,
    window: Duration,
    /// (when, completed steps), oldest first, within `window` of the newest (and one
    /// older, so that the window is spanned).
    seen: VecDeque<(Instant, u64)>,
    /// The rate of the last window that had one.
    last: Option<f64>,
}

impl StepRate {
    /// A rate over `window` for steps of `tokens_per_step` tokens (batch x block).
    pub fn new(tokens_per_step: u64, window: Duration) -> Self {
        Self {
            tokens_per_step,
            window,
            seen: VecDeque::new(),
            last: None,
        }
    }

    /// Notes that `step` steps were complete at `at`.
    pub fn step(&mut self, at: Instant, step: u64) {
        self.seen.push_back((at, step));
        while self.seen.len() > 2 && at.duration_since(self.seen[1].0) >= self.window {
            self.seen.pop_front();
        }
        if let (Some(&(t0, s0)), Some(&(t1, s1))) = (self.seen.front(), self.seen.back()) {
            let secs = t1.duration_since(t0).as_secs_f64();
            if secs > 0.0 && s1 > s0 {
                self.last = Some((s1 - s0) as f64 * self.tokens_per_step as f64 / secs);
            }
        }
    }

    /// Training paused (an evaluation): the next window starts at the next step.
    pub fn pause(&mut self) {
        self.seen.clear();
    }

    /// Tokens a second over the window, or the last window's; `None` before two steps.
    pub fn tokens_per_sec(&self) -> Option<f64> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_the_recent_windows_and_skips_evaluation_pauses() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut rate = StepRate::new(100, Duration::from_secs(1));
        rate.step(ms(0), 1);
        assert_eq!(rate.tokens_per_sec(), None, "one step is no rate");
        // 10 steps of 100 tokens in 500 ms: 2000 tok/s.
        rate.step(ms(500), 11);
        assert_eq!(rate.tokens_per_sec(), Some(2000.0));
        // Slower now: the window forgets the fast start once it is a window old.
        rate.step(ms(1500), 13);
        rate.step(ms(2500), 15);
        assert_eq!(rate.tokens_per_sec(), Some(200.0));
        // An evaluation of 10 s: not counted; the last rate stands until two steps.
        rate.pause();
        rate.step(ms(12_500), 16);
        assert_eq!(rate.tokens_per_sec(), Some(200.0));
        rate.step(ms(12_600), 17);
        assert_eq!(rate.tokens_per_sec(), Some(1000.0));
    }
}
