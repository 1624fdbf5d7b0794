//! What the terminal sees of `gptsweep train`: the observer that draws the progress bar,
//! prints a line per evaluation, and saves a checkpoint into `--out` at each one.

use std::path::PathBuf;

use gptsweep_gpt::{Event, Flow, GptError, Observer, TrainBackend, Trainer};
use indicatif::ProgressBar;

use crate::cli::progress::steps_bar;

/// What the terminal sees of a run: a progress bar, a line per evaluation; and a
/// checkpoint saved into `--out` at each evaluation (a failed save stops the run).
pub struct Console {
    /// Where checkpoints are saved, if anywhere.
    pub out: Option<PathBuf>,
    /// Whether to print the opening line (text output).
    pub text: bool,
    /// The progress bar, drawn from the first step.
    pub bar: ProgressBar,
    /// Why a checkpoint could not be saved, if one could not.
    pub save_error: Option<GptError>,
}

impl<B: TrainBackend> Observer<B> for Console {
    fn loss_every(&self) -> usize {
        10
    }

    fn started(&mut self, t: &Trainer<B>) {
        let max_iters = t.hyperparams().max_iters;
        if self.text {
            eprintln!(
                "training {} parameters on {} ({} tokenizer, {} tokens of vocabulary) for {} steps",
                t.num_params(),
                t.corpus().name(),
                t.corpus().tokenizer().kind(),
                t.corpus().tokenizer().vocab_size(),
                max_iters
            );
        }
        self.bar = steps_bar(max_iters, t.steps_done());
    }

    fn observe(&mut self, t: &Trainer<B>, event: Event) -> Flow {
        match event {
            Event::Step { step, loss } => {
                self.bar.set_position(step as u64);
                if let Some(l) = loss {
                    let hp = t.hyperparams();
                    let tokens_per_step = (hp.batch_size * hp.block_size) as f64;
                    let tps = tokens_per_step * step as f64 / t.train_secs().max(1e-9);
                    self.bar.set_message(format!("loss {l:.4} {tps:.0} tok/s"));
                }
            }
            Event::Eval(e) => {
                self.bar.println(format!(
                    "step {}: train loss {:.4}, val loss {:.4} ({:.4} bits per char)",
                    e.step, e.train_loss, e.val_loss, e.val_bpc
                ));
                if let Some(out) = &self.out
                    && let Err(err) = t.checkpoint().and_then(|c| c.save(out))
                {
                    self.save_error = Some(err);
                    return Flow::Stop;
                }
            }
        }
        Flow::Continue
    }
}
