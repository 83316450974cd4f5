//! `tollgate audit`, run as a real process on a SQLite data directory: the administrative events
//! the other commands leave, listed through each filter, as a table and as JSON lines.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use serde_json::Value;

use super::cli::tollgate;

fn ok(data: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let out = tollgate(data, args, stdin);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn refused(data: &Path, args: &[&str]) -> String {
    let out = tollgate(data, args, None);
    assert!(!out.status.success(), "{args:?} succeeded");
    String::from_utf8(out.stderr).unwrap()
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["kind"].as_str().unwrap()).collect()
}

/// A data directory where alice was disabled, bob's password changed and a key generated, on
/// top of the key generated when the first command found none.
fn history(d: &Path) -> (String, String) {
    ok(
        d,
        &["user", "add", "alice", "--password-stdin"],
        Some("S3cret-pass\n"),
    );
    ok(
        d,
        &["user", "add", "bob", "--password-stdin"],
        Some("S3cret-pass\n"),
    );
    ok(d, &["user", "disable", "alice"], None);
    ok(
        d,
        &["user", "set-password", "bob", "--password-stdin"],
        Some("N3w-secret-pass\n"),
    );
    ok(d, &["keys", "generate"], None);
    let ids = ok(d, &["user", "list"], None);
    let id_of = |name: &str| {
        ids.lines()
            .find(|l| l.split('\t').nth(1) == Some(name))
            .unwrap()
            .split('\t')
            .next()
            .unwrap()
            .to_owned()
    };
    (id_of("alice"), id_of("bob"))
}

#[test]
fn audit_lists_events_newest_first_as_a_table_or_json_lines() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let (alice, bob) = history(d);

    let table = ok(d, &["audit"], None);
    let mut lines = table.lines();
    assert_eq!(
        lines.next(),
        Some("time\tkind\tuser\tclient\taddress\tfamily\tdetail")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split('\t').collect()).collect();
    let table_kinds: Vec<&str> = rows.iter().map(|r| r[1]).collect();
    assert_eq!(
        table_kinds,
        [
            "key_generated",
            "password_changed",
            "user_disabled",
            "key_generated"
        ],
        "{table}"
    );
    assert!(rows.iter().all(|r| r.len() == 7), "{table}");
    assert_eq!(rows[1][2], bob);
    assert_eq!(rows[2][2], alice);
    assert_eq!(
        rows[2][3..6],
        ["-", "-", "-"],
        "commands have no client, address or family"
    );

    let all = json_lines(&ok(d, &["audit", "--json"], None));
    assert_eq!(kinds(&all), table_kinds);
    let disabled = &all[2];
    assert_eq!(disabled["user_id"], alice.as_str());
    assert_eq!(disabled["client_id"], Value::Null);
    assert_eq!(disabled["detail"], Value::Null);
    assert!(disabled["id"].as_i64().unwrap() > 0);
    chrono::DateTime::parse_from_rfc3339(disabled["occurred_at"].as_str().unwrap()).unwrap();
    let mut keys: Vec<&str> = disabled
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "address",
            "client_id",
            "detail",
            "family_id",
            "id",
            "kind",
            "occurred_at",
            "user_id"
        ]
    );
    assert!(all[0]["detail"].as_str().unwrap().starts_with("kid "));
}

#[test]
fn audit_filters_by_user_kind_since_and_limit() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let (alice, bob) = history(d);
    let listed = |args: &[&str]| {
        let mut all = vec!["audit", "--json"];
        all.extend_from_slice(args);
        json_lines(&ok(d, &all, None))
    };

    assert_eq!(kinds(&listed(&["--user", "alice"])), ["user_disabled"]);
    // By id as well, and `user delete` leaves the trail findable by that id.
    ok(d, &["user", "delete", "bob"], None);
    let of_bob = listed(&["--user", &bob]);
    assert_eq!(kinds(&of_bob), ["user_deleted", "password_changed"]);
    assert!(of_bob.iter().all(|e| e["user_id"] == bob.as_str()));
    assert_eq!(listed(&["--user", &alice]).len(), 1);

    assert_eq!(
        kinds(&listed(&["--kind", "key_generated"])),
        ["key_generated", "key_generated"]
    );
    assert_eq!(listed(&["--since", "1h"]).len(), 5);
    assert!(listed(&["--since", "2999-01-01T00:00:00Z"]).is_empty());
    assert_eq!(kinds(&listed(&["--limit", "1"])), ["user_deleted"]);
    assert_eq!(
        kinds(&listed(&["--user", "alice", "--kind", "key_generated"])),
        Vec::<&str>::new()
    );

    let err = refused(d, &["audit", "--user", "nobody"]);
    assert!(err.contains("no user named nobody"), "{err}");
    let err = refused(d, &["audit", "--since", "yesterday"]);
    assert!(err.contains("--since"), "{err}");
    let err = refused(d, &["audit", "--kind", "coffee_break"]);
    assert!(err.contains("login_failed"), "lists the kinds: {err}");
}
