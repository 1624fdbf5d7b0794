//! Where a CPU run's training steps and evaluations run: on a rayon pool of the run's own,
//! not on the caller's thread. burn-flex runs each tensor operation's parallel loops on the
//! pool of the thread that calls it; called from outside any pool, every operation hands
//! its work to rayon's global pool and puts the caller to sleep until it is done, a pair of
//! context switches per operation and a third thread on cores that have two. Run from a
//! pool thread, an operation's loops start on that thread and the others join in
//! (`perf stat`, small config: 50,000 -> 10,600 context switches in 150 steps). GPU
//! backends stay on the caller's thread: it only queues their kernels.
//!
//! The pool is the run's own because a whole step handed to a pool is a job like any other:
//! a thread of a shared pool, waiting inside another run's parallel loop, would steal it
//! and run it on top of that loop, on the same stack. burn-autodiff's backward pass holds
//! its graph's lock while it waits on such loops, and the step on top asks for every graph's
//! lock: two runs packed in one worker process (`--runs-per-device 2`) deadlocked. A run's
//! own pool only ever holds that run's work.

use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::fused::GptOps;

/// The pool a run's steps run on; none (the caller's thread) for GPU backends.
pub struct StepPool(Option<ThreadPool>);

impl StepPool {
    /// A pool of as many threads as rayon's global pool for a CPU backend `B`, else none.
    /// Where threads cannot be started, steps run on the caller's thread.
    pub fn for_backend<B: GptOps>() -> Self {
        let cpu = B::USES_RAYON;
        Self(cpu.then(build).flatten())
    }

    /// `work()`, on one of the pool's threads (the caller waits), or on this thread.
    pub fn run<R: Send>(&self, work: impl FnOnce() -> R + Send) -> R {
        match &self.0 {
            Some(pool) => pool.install(work),
            None => work(),
        }
    }
}

fn build() -> Option<ThreadPool> {
    ThreadPoolBuilder::new()
        .num_threads(rayon::current_num_threads())
        .thread_name(|i| format!("gptsweep-step-{i}"))
        .build()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::CpuTrain;

    #[test]
    fn each_cpu_run_steps_on_threads_of_its_own() {
        let (a, b) = (
            StepPool::for_backend::<CpuTrain>(),
            StepPool::for_backend::<CpuTrain>(),
        );
        let thread = |pool: &StepPool| {
            pool.run(|| {
                let me = std::thread::current();
                (me.id(), me.name().map(str::to_owned))
            })
        };
        let ((on_a, name), (on_b, _)) = (thread(&a), thread(&b));
        assert_ne!(on_a, std::thread::current().id(), "not the caller's thread");
        assert_ne!(on_a, on_b, "two runs share no thread");
        assert!(name.unwrap().starts_with("gptsweep-step-"));
    }
}
