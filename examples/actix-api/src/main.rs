//! `cargo run -p tessera-example-actix`: the starter API, configured from
//! the environment (see README.md).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    // Logs go to standard error; standard output carries only the
    // `listening on …` line (and the development mailer's messages).
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let result = actix_web::rt::System::new().block_on(async {
        match tessera_example_actix::Config::from_env() {
            Ok(config) => tessera_example_actix::serve(config).await,
            Err(error) => Err(error),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tessera-example-actix: {}", error.report());
            ExitCode::FAILURE
        }
    }
}
