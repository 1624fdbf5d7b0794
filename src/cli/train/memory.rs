//! `gptsweep train`'s memory check: a model whose training-memory estimate (the one a
//! sweep's `max_memory_gb` and a worker's packing use) exceeds the machine's RAM is refused
//! before anything is allocated, naming the sizes that make it so. Without it a model
//! within every hyperparameter's bound but far too large (a 1M-token context: attention
//! keeps batch x heads x T x T floats) would abort the process on its first allocation
//! ("memory allocation of ... bytes failed", exit 134) instead of an error. Only the CPU's
//! memory is known here; a GPU reports its own out-of-memory as an error.

use gptsweep_gpt::{DeviceSpec, Hyperparams};

use super::super::bad_input::{BadInput, ensure};
use super::super::table::bytes;

/// Refuses `hp` on `device` when training it needs more than the machine's RAM (on the
/// CPU, where /proc/meminfo says how much there is).
pub fn check(device: DeviceSpec, hp: &Hyperparams, vocab_size: usize) -> Result<(), BadInput> {
    let (DeviceSpec::Cpu, Some(ram)) = (device, gptsweep_worker::memory::total_ram()) else {
        return Ok(());
    };
    let needs = hp.model_config(vocab_size).training_bytes(hp.batch_size);
    ensure(needs <= ram, || {
        format!(
            "batch_size = {}, block_size = {}, n_embd = {}, n_head = {}, n_layer = {}: \
             training needs about {} of memory, more than this machine's {} of RAM; lower \
             some of them",
            hp.batch_size,
            hp.block_size,
            hp.n_embd,
            hp.n_head,
            hp.n_layer,
            bytes(needs),
            bytes(ram)
        )
    })
}
