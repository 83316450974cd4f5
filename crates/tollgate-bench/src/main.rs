//! `tollgate-bench`: load and race a running Tollgate server, or draw the benchmark chart.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use tollgate_bench::{
    chart, run_load, run_race, BenchError, Dialect, DpopOptions, LoadOptions, ProofAlg,
    RaceOptions, Stop, Target,
};

/// Drives a running Tollgate server over HTTP: chained refreshes (default) or a race.
///
/// Prints a human report, then a one-line JSON summary as the last line of stdout.
/// Exit status: 0 all checks passed, 1 a check failed, 2 the run could not start.
#[derive(Parser, Debug)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Draws refreshes/s and p99 against concurrency (one line per label) from JSON summaries.
    Chart {
        /// SVG file to write.
        #[arg(long)]
        out: PathBuf,
        /// Files holding summary lines (other lines are ignored).
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
    },
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Base URL of the server.
    #[arg(
        long,
        default_value = "http://127.0.0.1:8080",
        env = "TOLLGATE_BENCH_URL"
    )]
    url: String,
    /// Login name (every virtual user logs in with it; each login is its own family).
    #[arg(long, default_value = "administrator", env = "TOLLGATE_BENCH_USER")]
    user: String,
    /// Password of that user.
    #[arg(long, env = "TOLLGATE_BENCH_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Parameter names: the product's (`grantType`, `refreshToken`) or RFC 6749's.
    #[arg(long, value_enum, default_value_t = Dialect::Product)]
    dialect: Dialect,
    /// Client id, sent with HTTP Basic together with `--client-secret`.
    #[arg(long, requires = "client_secret")]
    client_id: Option<String>,
    /// Client secret.
    #[arg(
        long,
        requires = "client_id",
        env = "TOLLGATE_BENCH_CLIENT_SECRET",
        hide_env_values = true
    )]
    client_secret: Option<String>,
    /// Ask for long-lived refresh tokens at login.
    #[arg(long)]
    long_lived: bool,
    /// DPoP (RFC 9449): each virtual user (each race round) makes a key pair, logs in with a
    /// proof by it and signs a fresh proof for every refresh; every answer must say
    /// `token_type: DPoP`. Proofs are signed before a request's latency is timed.
    #[arg(long)]
    dpop: bool,
    /// The proof keys' algorithm.
    #[arg(long, value_enum, ignore_case = true, default_value_t = ProofAlg::Es256, requires = "dpop")]
    dpop_alg: ProofAlg,
    /// The server's public base URL (`tokens.issuer`) the proofs' `htu` is made from; by
    /// default the `token_endpoint` of the server's metadata
    /// (`/.well-known/oauth-authorization-server`).
    #[arg(long, requires = "dpop")]
    issuer: Option<String>,
    /// Virtual users (families); defaults to the concurrency.
    #[arg(long)]
    users: Option<usize>,
    /// Threads sending requests, each with one keep-alive connection.
    #[arg(long, short = 'c', default_value_t = 4)]
    concurrency: usize,
    /// Length of the refresh phase in seconds (default 10 when --requests is not given).
    #[arg(long, conflicts_with = "requests")]
    duration: Option<f64>,
    /// Number of refresh requests instead of a duration.
    #[arg(long, short = 'n')]
    requests: Option<u64>,
    /// Text copied into the JSON summary (e.g. `sqlite RS512`) to group runs in the chart.
    #[arg(long, default_value = "")]
    label: String,
    /// Race mode: K concurrent presentations of one refresh token per round.
    #[arg(long, value_name = "K", requires = "rounds")]
    race: Option<usize>,
    /// Race rounds (each starts with a login).
    #[arg(long, value_name = "R", requires = "race")]
    rounds: Option<usize>,
    /// No progress line, even on a terminal.
    #[arg(long)]
    quiet: bool,
}

fn run(args: RunArgs) -> Result<bool, BenchError> {
    let Some(password) = args.password else {
        return Err(BenchError::Setup(
            "--password (or TOLLGATE_BENCH_PASSWORD) is required".into(),
        ));
    };
    let target = Target {
        base_url: args.url,
        dialect: args.dialect,
        user: args.user,
        password,
        client: args.client_id.zip(args.client_secret),
        long_lived: args.long_lived,
        dpop: args.dpop.then_some(DpopOptions {
            alg: args.dpop_alg,
            issuer: args.issuer,
        }),
    };
    if let (Some(racers), Some(rounds)) = (args.race, args.rounds) {
        let report = run_race(&RaceOptions {
            target,
            racers,
            rounds,
        })?;
        println!(
            "race: {} racers, {}/{} rounds with exactly one winner{}",
            report.racers,
            report.rounds_ok,
            report.rounds,
            report
                .dpop
                .map_or(String::new(), |alg| format!(", DPoP {}", alg.jws_name()))
        );
        for f in &report.failed {
            println!("  round {}: {:?}", f.round, f.answers);
        }
        println!(
            "{}",
            serde_json::to_string(&report).map_err(BenchError::Json)?
        );
        return Ok(report.ok);
    }
    let stop = match (args.requests, args.duration) {
        (Some(n), _) => Stop::Count(n),
        (None, d) => Stop::After(Duration::from_secs_f64(d.unwrap_or(10.0).max(0.0))),
    };
    let report = run_load(&LoadOptions {
        target,
        users: args.users.unwrap_or(args.concurrency),
        concurrency: args.concurrency,
        stop,
        label: args.label,
        progress: !args.quiet,
    })?;
    println!("{}", report.human());
    println!(
        "{}",
        serde_json::to_string(&report).map_err(BenchError::Json)?
    );
    Ok(report.ok)
}

fn chart_command(out: &Path, inputs: &[PathBuf]) -> Result<bool, BenchError> {
    let mut points = Vec::new();
    for input in inputs {
        let text = std::fs::read_to_string(input).map_err(|source| BenchError::Io {
            path: input.display().to_string(),
            source,
        })?;
        points.extend(chart::read_points(&text)?);
    }
    chart::draw(&points, out)?;
    println!("wrote {} ({} points)", out.display(), points.len());
    Ok(true)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Chart { out, inputs }) => chart_command(&out, &inputs),
        None => run(cli.run),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("tollgate-bench: {e}");
            ExitCode::from(2)
        }
    }
}
