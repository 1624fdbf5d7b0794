//! `gptsweep`: one binary that trains a GPT, runs a sweep's coordinator or worker, and is
//! the client of a coordinator. This file only parses the command line and maps errors to
//! exit codes; each verb lives in its own module under `cli/`.

mod cli;

use clap::Parser;

/// mimalloc keeps freed pages for reuse; the system allocator hands large tensor buffers
/// back to the kernel and page-faults them in again on the next op.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(args) => args,
        Err(usage) => cli::usage_error(usage),
    };
    let output = args.command.output();
    match cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            let code = cli::exit_code(&err);
            cli::report_error(&err, code, output);
            std::process::ExitCode::from(code)
        }
    }
}
