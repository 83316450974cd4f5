//! `tollgate client …` as a real process on a SQLite data directory: the secret is printed once,
//! alone on stdout, and appears nowhere else (not in logs, not in `client list`).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

fn tollgate(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .env("TOLLGATE__DATA_DIR", data)
        .env("TOLLGATE__PASSWORD__MEMORY_KIB", "8")
        .env("TOLLGATE__PASSWORD__ITERATIONS", "1")
        // Everything the server would log, so a logged secret would show.
        .env("TOLLGATE_LOG", "trace")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_client_is_added_listed_and_removed_and_its_secret_is_shown_once() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();

    let added = tollgate(
        d,
        &["client", "add", "web-app", "--grants", "refresh_token"],
    );
    assert!(added.status.success(), "{}", text(&added.stderr));
    let stdout = text(&added.stdout);
    let secret = stdout.strip_suffix('\n').unwrap();
    assert_eq!(stdout.lines().count(), 1, "only the secret: {stdout:?}");
    assert_eq!(secret.len(), 43, "256 bits of base64url: {secret}");
    assert!(secret
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    let notes = text(&added.stderr);
    assert!(notes.contains("created client web-app"), "{notes}");
    assert!(!notes.contains(secret), "the secret reached stderr");

    let listed = tollgate(d, &["client", "list"]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let table = text(&listed.stdout);
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert_eq!(rows[0], "client\tgrants\tintrospect_any\tcreated");
    assert!(
        rows[1].starts_with("web-app\trefresh_token\tno\t"),
        "{table}"
    );
    assert!(!table.contains(secret) && !text(&listed.stderr).contains(secret));

    let resource = tollgate(
        d,
        &[
            "client",
            "add",
            "resource-server",
            "--grants",
            "",
            "--introspect-any",
        ],
    );
    assert!(resource.status.success(), "{}", text(&resource.stderr));
    let listed = text(&tollgate(d, &["client", "list"]).stdout);
    assert!(
        listed
            .lines()
            .any(|row| row.starts_with("resource-server\t-\tyes\t")),
        "{listed}"
    );

    let again = tollgate(d, &["client", "add", "web-app"]);
    assert!(!again.status.success(), "a taken id is refused");
    assert!(again.stdout.is_empty(), "no secret for a refused client");

    let bad = tollgate(d, &["client", "add", "x", "--grants", "client_credentials"]);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("unknown grant type"),
        "{}",
        text(&bad.stderr)
    );

    let removed = tollgate(d, &["client", "remove", "web-app"]);
    assert!(removed.status.success(), "{}", text(&removed.stderr));
    let gone = tollgate(d, &["client", "remove", "web-app"]);
    assert!(!gone.status.success(), "removing twice fails");
    tollgate(d, &["client", "remove", "resource-server"]);
    let listed = tollgate(d, &["client", "list"]);
    assert_eq!(
        text(&listed.stdout),
        "client\tgrants\tintrospect_any\tcreated\n"
    );
}
