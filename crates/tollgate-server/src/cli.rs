//! The `tollgate` command line.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tollgate_application::{Clock, UserAdmin};
use tollgate_infrastructure::db::{Database, PoolOptions};
use tollgate_infrastructure::SystemClock;

pub use crate::audit_cli::{run_audit_command, AuditArgs};
pub use crate::client_cli::{run_client_command, ClientCommand};
use crate::keys_cli::run_keys_command;
pub use crate::keys_cli::KeysCommand;
use crate::wiring::open_command_services;
use crate::{Application, Overrides, ServerError, Settings};

/// Tollgate: a refresh-token-rotation token service.
#[derive(Debug, Parser)]
#[command(
    name = "tollgate",
    version,
    about,
    after_help = "Settings come from defaults, then the TOML file (--config, or ./tollgate.toml when \
present), then TOLLGATE__SECTION__KEY environment variables; the README lists every key. Logs go \
to stderr, filtered by RUST_LOG or TOLLGATE_LOG (e.g. info,tollgate::security=warn).

Examples:
  tollgate serve
  TOLLGATE__DATABASE__URL=postgres://tollgate@db/tollgate tollgate --config /etc/tollgate/tollgate.toml serve
  printf 'S3cret-pass\\n' | tollgate user add alice --password-stdin
  tollgate keys list"
)]
pub struct Cli {
    /// Settings file (TOML); default `./tollgate.toml` when it exists. Example:
    /// `--config /etc/tollgate/tollgate.toml`.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API until SIGTERM or SIGINT.
    #[command(
        after_help = "Serves on server.bind (default 127.0.0.1:8080); applies pending migrations and \
creates a signing key first when none can sign. SIGTERM/SIGINT stop gracefully.

Example:
  TOLLGATE__BOOTSTRAP__USER=administrator TOLLGATE__BOOTSTRAP__PASSWORD=Password1 tollgate serve"
    )]
    Serve,
    /// Apply pending database migrations and exit.
    #[command(
        after_help = "Example:\n  TOLLGATE__DATABASE__URL=postgres://tollgate@db/tollgate tollgate migrate"
    )]
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Rotate the token signing keys (servers pick changes up when restarted).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Inspect and revoke a user's sessions (token families).
    #[command(subcommand)]
    Sessions(SessionCommand),
    /// Manage OAuth clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Delete expired and long-revoked sessions once (as `serve` does every `purge.interval`),
    /// in batches of `purge.batch`; for cron, e.g. `tollgate purge --dry-run`.
    Purge {
        /// Only count what would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
    /// List security events (failed and throttled logins, refresh-token reuse, revocations,
    /// failed client authentications, key and user changes), newest first.
    #[command(
        after_help = "Kinds: login_failed, login_throttled, refresh_reuse, family_revoked, \
client_auth_failed, key_generated, key_retired, user_disabled, user_enabled, user_deleted, \
password_changed. Events older than audit.keep go with the purge.

Examples:
  tollgate audit --since 24h
  tollgate audit --user alice --kind login_failed
  tollgate audit --since 2026-05-01T00:00:00Z --json --limit 1000"
    )]
    Audit(AuditArgs),
    /// Inspect the settings.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print the HTTP API's OpenAPI 3.1 document (the one served at `GET /api/openapi.json`).
    #[command(
        after_help = "Reads no settings and opens no database.\n\nExample:\n  tollgate openapi > openapi.json"
    )]
    Openapi,
}

/// `tollgate config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print every effective setting (secrets redacted) and where it came from: `default`,
    /// `file` or `environment`.
    #[command(
        after_help = "Example:\n  TOLLGATE__SERVER__BIND=0.0.0.0:8080 tollgate --config /etc/tollgate/tollgate.toml config show"
    )]
    Show,
}

/// `tollgate user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is prompted for, or read from stdin.
    #[command(
        after_help = "Examples:\n  tollgate user add alice\n  printf 'S3cret-pass\\n' | tollgate user add alice --password-stdin"
    )]
    Add {
        /// Login name.
        name: String,
        /// Read the password from the first line of stdin instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    #[command(after_help = "Example:\n  tollgate user list")]
    List,
    /// Disable a user and revoke all their sessions.
    #[command(after_help = "Example:\n  tollgate user disable alice")]
    Disable {
        /// Login name.
        name: String,
    },
    /// Enable a disabled user.
    #[command(after_help = "Example:\n  tollgate user enable alice")]
    Enable {
        /// Login name.
        name: String,
    },
    /// Delete a user and every session of theirs.
    #[command(after_help = "Example:\n  tollgate user delete alice")]
    Delete {
        /// Login name.
        name: String,
    },
    /// Set a new password and revoke all the user's sessions.
    #[command(
        after_help = "Examples:\n  tollgate user set-password alice\n  printf 'N3w-pass\\n' | tollgate user set-password alice --password-stdin"
    )]
    SetPassword {
        /// Login name.
        name: String,
        /// Read the password from the first line of stdin instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// `tollgate sessions …`.
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// List a user's sessions, newest first, revoked ones included.
    #[command(after_help = "Example:\n  tollgate sessions list alice")]
    List {
        /// Login name.
        user: String,
    },
    /// Revoke every live session of a user (refresh tokens die now, access tokens at this
    /// server now and elsewhere when they expire).
    #[command(after_help = "Example:\n  tollgate sessions revoke alice")]
    Revoke {
        /// Login name.
        user: String,
    },
}

impl Cli {
    /// Runs the command.
    ///
    /// # Errors
    /// Whatever the command fails with.
    pub fn run(self) -> Result<(), ServerError> {
        if let Command::Config(ConfigCommand::Show) = self.command {
            // Before logging starts: the output is for a person or a script, on stdout only.
            return crate::config_cli::show(self.config.as_deref(), &mut std::io::stdout());
        }
        if let Command::Openapi = self.command {
            // Needs nothing but the compiled-in annotations, so it works without settings.
            let json = tollgate_web::openapi_json()
                .map_err(|e| ServerError::Input(format!("cannot render the document: {e}")))?;
            println!("{json}");
            return Ok(());
        }
        let settings = Settings::load(self.config.as_deref())?;
        crate::telemetry::init(&settings.log).map_err(ServerError::Config)?;
        match self.command {
            Command::Serve => actix_web::rt::System::new().block_on(async move {
                Application::build(&settings, Overrides::default())?
                    .run_until_stopped()
                    .await
            }),
            Command::Migrate => {
                // Connecting applies pending migrations (under a lock on PostgreSQL).
                let db = Database::connect(&settings.database_url(), &PoolOptions::default())?;
                println!("migrations applied ({:?})", db.backend());
                Ok(())
            }
            Command::User(cmd) => run_user_command(&settings, cmd),
            Command::Client(cmd) => run_client_command(&settings, cmd, &mut std::io::stdout()),
            // Answered above, before the settings were loaded for the other commands.
            Command::Config(ConfigCommand::Show) | Command::Openapi => Ok(()),
            Command::Keys(cmd) => run_keys_command(&settings, cmd),
            Command::Sessions(cmd) => run_session_command(&settings, cmd),
            Command::Purge { dry_run } => run_purge(&settings, dry_run),
            Command::Audit(args) => {
                run_audit_command(&settings, args, SystemClock.now(), &mut std::io::stdout())
            }
        }
    }
}

fn run_user_command(settings: &Settings, cmd: UserCommand) -> Result<(), ServerError> {
    let services = open_command_services(settings)?;
    let admin = UserAdmin::new(services.ports.user_admin());
    match cmd {
        UserCommand::Add {
            name,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            let user = admin.add(&name, &password)?;
            println!("created user {} ({})", user.name, user.id);
        }
        UserCommand::List => {
            for user in admin.list()? {
                let state = if user.disabled { "disabled" } else { "enabled" };
                println!(
                    "{}\t{}\t{}\t{}",
                    user.id,
                    user.name,
                    state,
                    user.created_at.to_rfc3339()
                );
            }
        }
        UserCommand::Disable { name } => {
            let revoked = admin.set_disabled(&name, true)?;
            println!("disabled {name}; revoked {revoked} session(s)");
        }
        UserCommand::Enable { name } => {
            admin.set_disabled(&name, false)?;
            println!("enabled {name}");
        }
        UserCommand::Delete { name } => {
            let revoked = admin.delete(&name)?;
            println!("deleted {name}; ended {revoked} live session(s)");
        }
        UserCommand::SetPassword {
            name,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            let revoked = admin.set_password(&name, &password)?;
            println!("password changed for {name}; revoked {revoked} session(s)");
        }
    }
    Ok(())
}

fn run_session_command(settings: &Settings, cmd: SessionCommand) -> Result<(), ServerError> {
    let services = open_command_services(settings)?;
    let admin = UserAdmin::new(services.ports.user_admin());
    match cmd {
        SessionCommand::List { user } => {
            println!("session\tcreated\texpires\tkind\tstate");
            for f in admin.list_sessions(&user)? {
                let kind = if f.long_lived {
                    "long-lived"
                } else {
                    "short-term"
                };
                let state = match (f.revoked_at, f.revoke_reason) {
                    (Some(at), Some(reason)) => format!("revoked {} ({reason})", at.to_rfc3339()),
                    (Some(at), None) => format!("revoked {}", at.to_rfc3339()),
                    _ => "live".to_owned(),
                };
                println!(
                    "{}\t{}\t{}\t{kind}\t{state}",
                    f.id,
                    f.created_at.to_rfc3339(),
                    f.expires_at.to_rfc3339()
                );
            }
        }
        SessionCommand::Revoke { user } => {
            let revoked = admin.revoke_sessions(&user)?;
            println!("revoked {revoked} session(s) of {user}");
        }
    }
    Ok(())
}

fn run_purge(settings: &Settings, dry_run: bool) -> Result<(), ServerError> {
    let db = Database::connect(&settings.database_url(), &PoolOptions::default())?;
    let policy = settings.purge_policy(SystemClock.now())?;
    if dry_run {
        let r = db.purge_preview(&policy)?;
        println!(
            "would purge {} session(s), {} refresh token(s), {} security event(s), {} \
             failed-login counter(s) and {} DPoP proof(s)",
            r.families, r.tokens, r.events, r.login_failures, r.dpop_proofs
        );
    } else {
        let r = db.purge(&policy)?;
        println!(
            "purged {} session(s), {} refresh token(s), {} security event(s), {} failed-login \
             counter(s) and {} DPoP proof(s) in {} batch(es)",
            r.families, r.tokens, r.events, r.login_failures, r.dpop_proofs, r.batches
        );
    }
    Ok(())
}

/// Reads a password without echoing it: from a prompt (asked twice), or the first stdin line.
fn read_password(from_stdin: bool) -> Result<String, ServerError> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    let first = rpassword::prompt_password("Password: ")?;
    let second = rpassword::prompt_password("Repeat password: ")?;
    if first != second {
        return Err(ServerError::Input("the passwords did not match".into()));
    }
    Ok(first)
}
