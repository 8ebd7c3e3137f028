//! `m2m-edge`: the command line of an m2m-edge deployment. Profiles and
//! admin credentials, clients (with credentials files), projects, API
//! resources, signing keys, the audit trail; tokens (cached), and `decode` /
//! `verify` for the tokens themselves. README, "Command line", has the
//! table of commands; docs/credentials.md the credentials file.

mod cli;
mod commands;
mod credentials;
mod decode;
mod error;
mod files;
mod http;
mod output;
mod profile;
mod token_cache;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {failure}");
            failure.kind.exit_code()
        }
    }
}
