//! `tollgate client …`: OAuth clients (API.md §6).

use std::io::Write;

use clap::Subcommand;
use tollgate_application::ClientAdmin;
use tollgate_domain::{Client, GrantType};

use crate::wiring::open_command_services;
use crate::{ServerError, Settings};

/// `tollgate client …`.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Create a client. Its secret (256 random bits, 43 base64url characters) is printed once,
    /// alone on stdout, and never stored or shown again.
    #[command(
        after_help = "Examples:\n  tollgate client add mobile-app\n  tollgate client add gateway --grants refresh_token\n  SECRET=$(tollgate client add introspector --grants '' --introspect-any)"
    )]
    Add {
        /// Client id: 1 to 128 visible ASCII characters.
        id: String,
        /// Grants the client may use, comma-separated; empty (`--grants ''`) for a client that
        /// may only introspect and revoke.
        #[arg(long, value_name = "LIST", default_value = "password,refresh_token")]
        grants: String,
        /// Let the client introspect the tokens of every client (a resource server checking
        /// access tokens). Without it, introspection shows a client only its own tokens and
        /// those issued without client authentication; others are `{"active":false}`.
        #[arg(long)]
        introspect_any: bool,
    },
    /// List clients: id, grants, whether it may introspect any client's tokens, creation time
    /// (never secrets or digests).
    #[command(after_help = "Example:\n  tollgate client list")]
    List,
    /// Delete a client; its secret stops working at once.
    #[command(after_help = "Example:\n  tollgate client remove mobile-app")]
    Remove {
        /// Client id.
        id: String,
    },
}

/// Runs a client command against the database of `settings`, writing its results to `out`
/// (stdout for the binary). Notes for the operator go to stderr, so that `out` holds only what
/// a script wants: the secret of `add`, the table of `list`.
///
/// # Errors
/// [`ServerError`] when the settings, the database or the command fail; removing an unknown
/// client is [`ServerError::Input`].
pub fn run_client_command(
    settings: &Settings,
    cmd: ClientCommand,
    out: &mut dyn Write,
) -> Result<(), ServerError> {
    let services = open_command_services(settings)?;
    let admin = ClientAdmin::new(services.ports.client_admin());
    match cmd {
        ClientCommand::Add {
            id,
            grants,
            introspect_any,
        } => {
            let grants =
                GrantType::parse_set(&grants).map_err(tollgate_application::Error::from)?;
            let created = admin.add(&id, grants, introspect_any)?;
            eprintln!(
                "created client {} (grants: {}; introspects any client's tokens: {}); its \
                 secret follows and is shown only this once",
                created.client.id,
                grants_column(&created.client),
                yes_no(created.client.introspect_any)
            );
            writeln!(out, "{}", created.secret.expose())?;
        }
        ClientCommand::List => {
            writeln!(out, "client\tgrants\tintrospect_any\tcreated")?;
            for client in admin.list()? {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}",
                    client.id,
                    grants_column(&client),
                    yes_no(client.introspect_any),
                    client.created_at.to_rfc3339()
                )?;
            }
        }
        ClientCommand::Remove { id } => {
            if !admin.remove(&id)? {
                return Err(ServerError::Input(format!("no client with id {id}")));
            }
            writeln!(out, "removed client {id}")?;
        }
    }
    Ok(())
}

/// Grants as the operator typed them (comma-separated), or `-` for none.
fn grants_column(client: &Client) -> String {
    if client.allowed_grants.is_empty() {
        return "-".to_owned();
    }
    GrantType::format_set(&client.allowed_grants).replace(' ', ",")
}

/// A flag as the list shows it.
fn yes_no(flag: bool) -> &'static str {
    if flag {
        "yes"
    } else {
        "no"
    }
}
