//! The run loop against a scripted coordinator: each test feeds events as the driver
//! would, answers the calls they make from a script, and asserts the exact transcript of
//! calls, effects, waits and the attempt's end.

use std::collections::VecDeque;

use gptsweep_api::{Evaluation, Outcome, RunId, Sample};
use gptsweep_gpt::{RunSummary, SampleOptions};

use super::*;

/// A coordinator that answers from a script (then `Continue`) and notes every call.
#[derive(Default)]
struct Fake {
    answers: VecDeque<Heard>,
    log: Vec<String>,
}

impl Fake {
    fn answering(answers: impl IntoIterator<Item = Heard>) -> Self {
        Self {
            answers: answers.into_iter().collect(),
            log: Vec::new(),
        }
    }

    fn next(&mut self) -> Heard {
        self.answers.pop_front().unwrap_or(Heard::Continue)
    }

    fn call(&mut self, call: Call<'_>) -> Sent {
        match call {
            Call::Report(evals) => {
                let steps: Vec<u64> = evals.iter().map(|e| e.step).collect();
                self.log.push(format!("report {steps:?}"));
                Sent::Report(self.next())
            }
            Call::Upload { step, bytes } => {
                self.log
                    .push(format!("upload {step} ({} bytes)", bytes.len()));
                Sent::Upload(self.next())
            }
            Call::Heartbeat {
                step,
                tokens_per_sec,
            } => {
                self.log
                    .push(format!("heartbeat {step} at {tokens_per_sec:?}"));
                Sent::Heartbeat(self.next())
            }
            Call::Nothing => Sent::Nothing,
        }
    }

    fn effects(&mut self, effects: Vec<Effect>) {
        self.log
            .extend(effects.into_iter().map(|e| format!("-> {e:?}")));
    }
}

/// What the driver hears while training.
enum Event {
    Eval(u64),
    Step(u64, f64),
    Checkpoint(u64),
    Drain,
    Tick,
}

fn eval(step: u64) -> Evaluation {
    Evaluation {
        step,
        train_loss: 2.0,
        val_loss: 2.5,
        train_bpc: 1.0,
        val_bpc: 1.25,
        tokens_per_sec: 1000.0,
        train_secs: step as f64,
    }
}

/// Feeds `events` to `state` as the driver does, through `fake`.
fn train(state: &mut RunLoop, fake: &mut Fake, events: impl IntoIterator<Item = Event>) {
    for event in events {
        let effects = match event {
            Event::Eval(step) => {
                let sent = fake.call(state.evaluation(eval(step)));
                state.heard(sent)
            }
            Event::Step(step, rate) => {
                state.progress(step, rate);
                Vec::new()
            }
            Event::Checkpoint(step) => {
                let sent = fake.call(state.checkpoint(step, vec![7; step as usize]));
                state.heard(sent)
            }
            Event::Drain => state.drain(),
            Event::Tick => {
                let sent = fake.call(state.tick());
                state.heard(sent)
            }
        };
        fake.effects(effects);
    }
}

/// How the driver ends an attempt: the report of its end, or the reason it abandoned it.
fn end(state: RunLoop, fake: &mut Fake, trained: Trained) -> Result<Finish, String> {
    let mut ending = state.trained(trained);
    loop {
        let sent = match ending.what_next() {
            Closing::Report(evals) => fake.call(Call::Report(evals)),
            Closing::Upload { step, bytes } => fake.call(Call::Upload { step, bytes }),
            Closing::Abandon(why) => return Err(why),
            Closing::Finish(finish) => return Ok(finish),
        };
        match ending.heard(sent) {
            Wait::No => {}
            wait => fake.log.push(format!("wait {wait:?}")),
        }
    }
}

/// A run that trained to `steps` (stopped early or not), with one sample.
fn output(steps: usize, stopped: bool) -> RunOutput {
    RunOutput {
        summary: RunSummary {
            params: 1000,
            steps,
            best_val_loss: Some(2.5),
            best_val_bpc: Some(1.25),
            best_step: Some(10),
            final_train_loss: Some(2.0),
            final_val_loss: Some(2.5),
            evals: Vec::new(),
            tokens_per_sec: 1000.0,
            train_secs: 3.0,
        },
        samples: vec![(
            SampleOptions {
                prompt: "Once".into(),
                seed: 9,
                ..SampleOptions::default()
            },
            " upon a time".into(),
        )],
        stopped,
    }
}

fn summary_json(out: &RunOutput) -> String {
    serde_json::to_string(&out.summary).unwrap()
}

fn the_sample() -> Vec<Sample> {
    vec![Sample {
        prompt: "Once".into(),
        seed: 9,
        text: " upon a time".into(),
    }]
}

fn stop(why: &str) -> Heard {
    Heard::Stop(why.into())
}

#[test]
fn a_run_reports_each_evaluation_uploads_its_checkpoint_and_finishes() {
    let mut state = RunLoop::new(RunId(1), 0);
    let mut fake = Fake::default();
    train(
        &mut state,
        &mut fake,
        [
            Event::Tick,
            Event::Step(4, 800.0),
            Event::Tick,
            Event::Eval(10),
            Event::Checkpoint(10),
            Event::Step(15, 900.0),
            Event::Tick,
        ],
    );
    let out = output(20, false);
    let summary = summary_json(&out);
    let finish = end(state, &mut fake, Ok(out));
    assert_eq!(
        fake.log,
        [
            "heartbeat 0 at None",
            "heartbeat 4 at Some(800.0)",
            "report [10]",
            "-> Answered(10)",
            "upload 10 (10 bytes)",
            "heartbeat 15 at Some(900.0)",
        ]
    );
    assert_eq!(
        finish,
        Ok(Finish {
            outcome: Outcome::Finished,
            error: String::new(),
            samples: the_sample(),
            summary_json: summary,
        })
    );
}

#[test]
fn a_resumed_run_heartbeats_from_its_checkpoints_step() {
    let mut state = RunLoop::new(RunId(1), 40);
    let mut fake = Fake::default();
    train(
        &mut state,
        &mut fake,
        [Event::Tick, Event::Step(3, 5.0), Event::Tick],
    );
    assert_eq!(
        fake.log,
        ["heartbeat 40 at None", "heartbeat 40 at Some(5.0)"],
        "a step behind the resumed one does not move it back"
    );
}

#[test]
fn a_drain_mid_run_stops_at_a_checkpoint_and_hands_the_run_back() {
    let mut state = RunLoop::new(RunId(1), 0);
    let mut fake = Fake::default();
    train(
        &mut state,
        &mut fake,
        [
            Event::Eval(10),
            Event::Checkpoint(10),
            Event::Drain,
            Event::Checkpoint(13),
        ],
    );
    assert!(state.handing_back());
    let finish = end(state, &mut fake, Ok(output(13, true)));
    assert_eq!(
        fake.log,
        [
            "report [10]",
            "-> Answered(10)",
            "upload 10 (10 bytes)",
            "-> HandBack",
            "upload 13 (13 bytes)",
        ]
    );
    assert_eq!(
        finish,
        Ok(Finish::bare(
            Outcome::Preempted,
            "preempted: the worker stopped at step 13; the run continues from there".into()
        ))
    );
}

#[test]
fn a_drained_runs_checkpoint_is_delivered_after_training_when_the_coordinator_was_away() {
    let mut state = RunLoop::new(RunId(1), 0);
    let mut fake = Fake::answering([Heard::Unreachable, Heard::Unreachable]);
    train(&mut state, &mut fake, [Event::Drain, Event::Checkpoint(5)]);
    let finish = end(state, &mut fake, Ok(output(5, true)));
    assert_eq!(
        fake.log,
        [
            "-> HandBack",
            "upload 5 (5 bytes)",
            "upload 5 (5 bytes)",
            "wait Pause",
            "upload 5 (5 bytes)",
        ]
    );
    assert_eq!(finish.unwrap().outcome, Outcome::Preempted);
}

#[test]
fn a_stop_at_a_rung_stops_training_and_the_run_is_reported_stopped() {
    let mut state = RunLoop::new(RunId(1), 0);
    let mut fake = Fake::answering([Heard::Continue, stop("early termination at rung 20")]);
    train(
        &mut state,
        &mut fake,
        [Event::Eval(10), Event::Eval(20), Event::Checkpoint(20)],
    );
    let out = output(20, true);
    let summary = summary_json(&out);
    let finish = end(state, &mut fake, Ok(out));
    assert_eq!(
        fake.log,
        [
            "report [10]",
            "-> Answered(10)",
            "report [20]",
            "-> StopTraining",
            "-> Answered(20)",
            "upload 20 (20 bytes)",
        ]
    );
    assert_eq!(
        finish,
        Ok(Finish {
            outcome: Outcome::Stopped,
            error: String::new(),
            samples: the_sample(),
            summary_json: summary,
        })
    );
}

#[test]
fn a_run_told_to_stop_after_its_last_step_is_stopped_not_finished() {
    let mut state = RunLoop::new(RunId(1), 0);
    let mut fake = Fake::answering([stop("cancelled")]);
    train(&mut state, &mut fake, [Event::Tick]);
    assert_eq!(fake.log, ["heartbeat 0 at None", "-> StopTraining"]);
    let finish = end(state, &mut fake, Ok(output(20, false)));
    assert_eq!(finish.unwrap().outcome, Outcome::Stopped);
}

#[test]
fn a_drained_run_the_coordinator_stopped_is_stopped_not_handed_back() {
    let mut state = RunLoop::new(RunId(1), 0);
    let mut fake = Fake::answering([stop("cancelled")]);
    train(&mut state, &mut fake, [Event::Drain, Event::Eval(10)]);
    let finish = end(state, &mut fake, Ok(output(10, true)));
    assert_eq!(finish.unwrap().outcome, Outcome::Stopped);
}

#[test]
fn a_lost_lease_stops_training_and_abandons_the_run_without_reporting() {
    let mut state = RunLoop::new(RunId(1), 0);
    let mut fake = Fake::answering([
        Heard::Continue,
        Heard::Lost("lease 7 expired".into()),
        Heard::Unreachable,
    ]);
    train(
        &mut state,
        &mut fake,
        [
            Event::Eval(10),
            Event::Tick,
            Event::Eval(20),
            Event::Checkpoint(20),
        ],
    );
    let finish = end(state, &mut fake, Ok(output(20, true)));
    assert_eq!(
        fake.log,
        [
            "report [10]",
            "-> Answered(10)",
            "heartbeat 10 at None",
            "-> StopTraining",
            "report [20]",
            "-> Answered(20)",
        ],
        "nothing is sent once training ended, though an evaluation and a checkpoint are held"
    );
    assert_eq!(finish, Err("lease 7 expired".to_string()));
}

#[test]
fn a_lease_lost_while_ending_abandons_the_run() {
    let mut state = RunLoop::new(RunId(1), 0);
    let mut fake = Fake::answering([
        Heard::Unreachable,
        Heard::Lost("run 1 was handed to another worker".into()),
    ]);
    train(&mut state, &mut fake, [Event::Eval(10)]);
    let finish = end(state, &mut fake, Ok(output(10, false)));
    assert_eq!(fake.log, ["report [10]", "-> Answered(10)", "report [10]"]);
    assert_eq!(
        finish,
        Err("run 1 was handed to another worker".to_string())
    );
}

#[test]
fn a_trainer_error_is_reported_failed_with_its_message_after_the_held_evaluations() {
    let mut state = RunLoop::new(RunId(1), 0);
    let mut fake = Fake::answering([Heard::Unreachable, Heard::Unreachable]);
    train(
        &mut state,
        &mut fake,
        [Event::Eval(10), Event::Checkpoint(10)],
    );
    let error = "training diverged: loss is NaN at step 12".to_string();
    let finish = end(state, &mut fake, Err((Fault::Run, error.clone())));
    assert_eq!(
        fake.log,
        [
            "report [10]",
            "-> Answered(10)",
            "report [10]",
            "wait Backoff",
            "report [10]",
        ],
        "the held checkpoint of a failed run is not tried"
    );
    assert_eq!(finish, Ok(Finish::bare(Outcome::Failed, error)));
}

#[test]
fn a_worker_fault_is_reported_as_the_workers() {
    let state = RunLoop::new(RunId(1), 0);
    let mut fake = Fake::default();
    let error = "training thread panicked: CUDA out of memory".to_string();
    let finish = end(state, &mut fake, Err((Fault::Worker, error.clone())));
    assert!(fake.log.is_empty());
    assert_eq!(finish, Ok(Finish::bare(Outcome::WorkerFault, error)));
}

#[test]
fn what_the_coordinator_did_not_get_is_held_and_sent_in_order_on_the_next_ticks() {
    let mut state = RunLoop::new(RunId(1), 0);
    let mut fake = Fake::answering([Heard::Unreachable, Heard::Unreachable]);
    train(
        &mut state,
        &mut fake,
        [
            Event::Eval(10),
            Event::Checkpoint(10),
            Event::Eval(20),
            Event::Checkpoint(20),
            Event::Tick,
            Event::Tick,
            Event::Tick,
        ],
    );
    assert_eq!(
        fake.log,
        [
            "report [10]",
            "-> Answered(10)",
            "report [10, 20]",
            "-> Answered(20)",
            "report [10, 20]",
            "upload 20 (20 bytes)",
            "heartbeat 20 at None",
        ],
        "an unanswered evaluation is marked answered (training goes on); a checkpoint waits for the evaluations before it and only the latest is kept"
    );
}

#[test]
fn a_last_checkpoint_that_cannot_be_delivered_is_given_up_after_its_tries() {
    let mut state = RunLoop::new(RunId(1), 0);
    let mut fake = Fake::answering(std::iter::repeat_n(
        Heard::Unreachable,
        FINAL_UPLOAD_TRIES + 1,
    ));
    train(&mut state, &mut fake, [Event::Checkpoint(8)]);
    let finish = end(state, &mut fake, Ok(output(8, false)));
    let tries = fake
        .log
        .iter()
        .filter(|l| *l == "upload 8 (8 bytes)")
        .count();
    let pauses = fake.log.iter().filter(|l| *l == "wait Pause").count();
    assert_eq!(
        (tries, pauses),
        (1 + FINAL_UPLOAD_TRIES, FINAL_UPLOAD_TRIES)
    );
    assert_eq!(finish.unwrap().outcome, Outcome::Finished);
}
