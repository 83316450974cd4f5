//! `tollgate --help` and every subcommand's `--help` explain each option and show an example.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use clap::CommandFactory;
use tollgate_server::cli::Cli;

/// Every command without subcommands of its own, with its full name.
fn leaves(cmd: &clap::Command, prefix: &str, out: &mut Vec<(String, clap::Command)>) {
    let name = format!("{prefix} {}", cmd.get_name()).trim().to_owned();
    if cmd.has_subcommands() {
        // clap's own generated `help` subcommands need no example.
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            leaves(sub, &name, out);
        }
    } else {
        out.push((name, cmd.clone()));
    }
}

#[test]
fn every_command_has_an_example_and_every_option_a_help_text() {
    let mut root = Cli::command();
    root.build();
    let top = root.render_long_help().to_string();
    assert!(top.contains("Examples:"), "{top}");
    let mut all = Vec::new();
    leaves(&root, "", &mut all);
    assert!(all.len() >= 16, "{} commands", all.len());
    for (name, mut cmd) in all {
        let help = cmd.render_long_help().to_string();
        assert!(
            help.contains("Example"),
            "`{name} --help` shows no example:\n{help}"
        );
        for arg in cmd.get_arguments() {
            if matches!(arg.get_id().as_str(), "help" | "version") {
                continue;
            }
            assert!(
                arg.get_help().is_some() || arg.get_long_help().is_some(),
                "`{name}`: option {} has no help text",
                arg.get_id()
            );
        }
    }
}

#[test]
fn the_binary_prints_the_examples() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["user", "add", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("--password-stdin"), "{text}");
    assert!(text.contains("tollgate user add alice"), "{text}");
}
