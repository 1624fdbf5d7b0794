//! Where a CPU training step runs: on a thread of rayon's pool, not the caller's. burn-flex
//! runs each tensor operation's parallel loops on rayon's pool; called from outside it, every
//! operation hands its work to the pool and puts the caller to sleep until it is done, a
//! pair of context switches per operation and a third thread on cores that have two. Run
//! from a pool thread, an operation's loops start on that thread and the others join in
//! (`perf stat`, small config: 50,000 -> 10,600 context switches in 150 steps). GPU
//! backends stay on the caller's thread: it only queues their kernels.

use burn::tensor::backend::Backend;

use crate::backend::{CpuInfer, CpuTrain};
use crate::fused::is;

/// `work()`, on a rayon pool thread when `B` is a CPU backend, else on this thread.
pub fn on_workers<B: Backend, R: Send>(work: impl FnOnce() -> R + Send) -> R {
    if is::<B, CpuTrain>() || is::<B, CpuInfer>() {
        // `scope` called from outside the pool runs its body on a pool thread and blocks
        // this one until it returns: one hand-over per call instead of one per operation.
        rayon::scope(|_| work())
    } else {
        work()
    }
}
