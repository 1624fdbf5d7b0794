//! What the worker and a slot process say to each other, over [`super::frame`]s: the
//! worker sends the run (its task, then the checkpoint to resume, raw) and, while it
//! trains, control words (stop, hand back, an evaluation answered); the child sends each
//! evaluation, where training is between them (step and throughput, raw), each checkpoint
//! (raw bytes after its step) and, last, the run's output or why it failed. Structured parts are JSON (which has no NaN or infinity: the trainer never
//! reports one, a non-finite loss being a divergence, and one would arrive as a garbled
//! frame, failing the run, not the worker). Decoding never panics: a frame that is not a
//! message of its direction is an error naming its tag.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use gptsweep_gpt::sample::SamplesSpec;
use gptsweep_gpt::{Eval, Hyperparams, RunOutput, RunSummary, SampleOptions, TokenizerKind};

use super::frame::Frame;

/// Where the child finds the run's corpus: the text the worker already fetched and
/// verified (a file in its dataset cache) or the built-in corpus, and the token cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorpusSource {
    /// The corpus' name.
    pub name: String,
    /// The sha256 of its text, checked again by the child.
    pub sha256: String,
    /// The file holding its text; `None` for the built-in corpus.
    pub text: Option<PathBuf>,
    /// The tokenizer of the run.
    pub tokenizer: TokenizerKind,
    /// The worker's token cache.
    pub tokens: PathBuf,
}

/// The run a child trains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// Its hyperparameters.
    pub hp: Hyperparams,
    /// The samples to generate at the end.
    pub samples: SamplesSpec,
    /// Its corpus.
    pub corpus: CorpusSource,
    /// How long to wait for an evaluation's answer, ms.
    pub answer_within_ms: u64,
    /// Whether a [`ToChild::Resume`] frame follows.
    pub resume: bool,
}

/// A run's output on the wire ([`RunOutput`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    /// Losses, throughput, steps.
    pub summary: RunSummary,
    /// The generated texts with the options that drew them.
    pub samples: Vec<(SampleOptions, String)>,
    /// Whether it stopped before its last step.
    pub stopped: bool,
}

impl From<RunOutput> for Output {
    fn from(o: RunOutput) -> Self {
        Self {
            summary: o.summary,
            samples: o.samples,
            stopped: o.stopped,
        }
    }
}

impl From<Output> for RunOutput {
    fn from(o: Output) -> Self {
        Self {
            summary: o.summary,
            samples: o.samples,
            stopped: o.stopped,
        }
    }
}

/// Why a child's run failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// What went wrong, as the thread slot would have said it.
    pub message: String,
    /// Whether it is the worker's fault ([`crate::faults::Fault::Worker`]) rather than the
    /// run's.
    pub worker_fault: bool,
}

/// From the worker to a child.
#[derive(Debug, Clone, PartialEq)]
pub enum ToChild {
    /// The run (first frame).
    Task(Box<TaskSpec>),
    /// The checkpoint to continue ([`gptsweep_gpt::Checkpoint::to_bytes`]), right after
    /// the task when it says so.
    Resume(Vec<u8>),
    /// Stop between steps.
    Stop,
    /// Stop at the next step with a checkpoint taken there: the worker hands the run back.
    Preempt,
    /// The evaluation of this step (and those before it) has been answered.
    Answered(u64),
}

/// From a child to the worker.
#[derive(Debug, Clone, PartialEq)]
pub enum ToParent {
    /// An evaluation, as it happens.
    Eval(Eval),
    /// A checkpoint after `step`, as one blob.
    Checkpoint {
        /// Completed steps.
        step: u64,
        /// [`gptsweep_gpt::Checkpoint::to_bytes`].
        bytes: Vec<u8>,
    },
    /// Where training is between evaluations.
    Step {
        /// Completed steps.
        step: u64,
        /// Tokens a second over the last seconds.
        tokens_per_sec: f64,
    },
    /// The run's output (last frame).
    Output(Box<Output>),
    /// Why the run failed (last frame).
    Failed(Failure),
}

const TASK: u8 = 1;
const RESUME: u8 = 2;
const STOP: u8 = 3;
const PREEMPT: u8 = 4;
const ANSWERED: u8 = 5;
const EVAL: u8 = 16;
const CHECKPOINT: u8 = 17;
const OUTPUT: u8 = 18;
const FAILED: u8 = 19;
const STEP: u8 = 20;

fn json<T: Serialize>(tag: u8, value: &T) -> Frame {
    Frame {
        tag,
        payload: serde_json::to_vec(value).expect("plain data serialises"),
    }
}

fn parse<T: for<'a> Deserialize<'a>>(what: &str, payload: &[u8]) -> Result<T, String> {
    serde_json::from_slice(payload).map_err(|e| format!("a garbled {what} frame: {e}"))
}

/// A step as 8 bytes, big-endian, at the start of `payload`.
fn step<'a>(what: &str, payload: &'a [u8]) -> Result<(u64, &'a [u8]), String> {
    match payload.split_first_chunk::<8>() {
        Some((head, rest)) => Ok((u64::from_be_bytes(*head), rest)),
        None => Err(format!("a {what} frame of {} bytes", payload.len())),
    }
}

impl ToChild {
    /// This message as a frame.
    pub fn encode(&self) -> Frame {
        let bare = |tag| Frame {
            tag,
            payload: Vec::new(),
        };
        match self {
            Self::Task(t) => json(TASK, t),
            Self::Resume(bytes) => Frame {
                tag: RESUME,
                payload: bytes.clone(),
            },
            Self::Stop => bare(STOP),
            Self::Preempt => bare(PREEMPT),
            Self::Answered(step) => Frame {
                tag: ANSWERED,
                payload: step.to_be_bytes().to_vec(),
            },
        }
    }

    /// The message of `frame`.
    pub fn decode(frame: Frame) -> Result<Self, String> {
        match frame.tag {
            TASK => parse("task", &frame.payload).map(|t| Self::Task(Box::new(t))),
            RESUME => Ok(Self::Resume(frame.payload)),
            STOP => Ok(Self::Stop),
            PREEMPT => Ok(Self::Preempt),
            ANSWERED => match step("answered", &frame.payload)? {
                (s, []) => Ok(Self::Answered(s)),
                _ => Err(format!(
                    "an answered frame of {} bytes",
                    frame.payload.len()
                )),
            },
            tag => Err(format!("an unknown frame to a slot process (tag {tag})")),
        }
    }
}

impl ToParent {
    /// This message as a frame (a checkpoint's bytes are copied after its step).
    pub fn encode(&self) -> Frame {
        match self {
            Self::Eval(e) => json(EVAL, e),
            Self::Checkpoint { step, bytes } => {
                let mut payload = Vec::with_capacity(8 + bytes.len());
                payload.extend_from_slice(&step.to_be_bytes());
                payload.extend_from_slice(bytes);
                Frame {
                    tag: CHECKPOINT,
                    payload,
                }
            }
            Self::Step {
                step,
                tokens_per_sec,
            } => {
                let mut payload = step.to_be_bytes().to_vec();
                payload.extend_from_slice(&tokens_per_sec.to_be_bytes());
                Frame { tag: STEP, payload }
            }
            Self::Output(o) => json(OUTPUT, o),
            Self::Failed(f) => json(FAILED, f),
        }
    }

    /// The message of `frame`.
    pub fn decode(frame: Frame) -> Result<Self, String> {
        match frame.tag {
            EVAL => parse("evaluation", &frame.payload).map(Self::Eval),
            CHECKPOINT => {
                let (step, bytes) = step("checkpoint", &frame.payload)?;
                Ok(Self::Checkpoint {
                    step,
                    bytes: bytes.to_vec(),
                })
            }
            STEP => {
                let (step, rate) = step("step", &frame.payload)?;
                match <[u8; 8]>::try_from(rate) {
                    Ok(rate) => Ok(Self::Step {
                        step,
                        tokens_per_sec: f64::from_be_bytes(rate),
                    }),
                    Err(_) => Err(format!("a step frame of {} bytes", frame.payload.len())),
                }
            }
            OUTPUT => parse("output", &frame.payload).map(|o| Self::Output(Box::new(o))),
            FAILED => parse("failure", &frame.payload).map(Self::Failed),
            tag => Err(format!("an unknown frame from a slot process (tag {tag})")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_survive_their_frames_and_foreign_frames_are_refused() {
        let controls = [
            ToChild::Resume(vec![0, 1, 255]),
            ToChild::Stop,
            ToChild::Preempt,
            ToChild::Answered(1200),
        ];
        for m in controls {
            assert_eq!(ToChild::decode(m.encode()).unwrap(), m);
        }
        let checkpoint = ToParent::Checkpoint {
            step: 300,
            bytes: vec![9; 33],
        };
        assert_eq!(ToParent::decode(checkpoint.encode()).unwrap(), checkpoint);
        let step = ToParent::Step {
            step: 1234,
            tokens_per_sec: 20_480.5,
        };
        assert_eq!(ToParent::decode(step.encode()).unwrap(), step);
        let short = Frame {
            tag: STEP,
            payload: vec![0; 12],
        };
        assert_eq!(
            ToParent::decode(short).unwrap_err(),
            "a step frame of 12 bytes"
        );
        let failed = ToParent::Failed(Failure {
            message: "diverged".into(),
            worker_fault: false,
        });
        assert_eq!(ToParent::decode(failed.encode()).unwrap(), failed);

        let short = Frame {
            tag: ANSWERED,
            payload: vec![1, 2],
        };
        assert!(ToChild::decode(short).is_err());
        let garbled = Frame {
            tag: OUTPUT,
            payload: b"{not json".to_vec(),
        };
        assert!(ToParent::decode(garbled).unwrap_err().contains("garbled"));
        assert!(
            ToParent::decode(ToChild::Stop.encode()).is_err(),
            "wrong way"
        );
        assert!(ToChild::decode(failed_frame()).is_err(), "wrong way");
    }

    fn failed_frame() -> Frame {
        ToParent::Failed(Failure {
            message: String::new(),
            worker_fault: true,
        })
        .encode()
    }
}
