//! Entry point: parse the command line and dispatch. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = mcp_coordinator::cli::Cli::parse();
    mcp_coordinator::cli::quiet_broken_pipe();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mcp-coordinator: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(mcp_coordinator::cli::run(cli));
    // stdin is read on a blocking thread that nothing can interrupt (stdio, channel): do not wait for it forever.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}
