//! `tollgate keys …`: signing-key rotation on the key directory.
//!
//! Running servers rescan the key directory every `keys.rescan_interval` (and at once on
//! SIGHUP), so no restart is needed. A generated key is published at once and signs only
//! `keys.publish_ahead` after its creation, so every server and every cached JWKS knows it
//! before any token names it; a retired key stops signing at each server's next rescan.

use std::io::Write;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use clap::Subcommand;
use tollgate_application::{
    Clock as _, RequestOrigin, SecurityEvent, SecurityEventKind, SecurityEvents,
};
use tollgate_infrastructure::jwt::{KeyInfo, KeySet, KeyStatus, SigningAlgorithm, SigningSchedule};
use tollgate_infrastructure::SystemClock;

use crate::wiring::{command_line_events, COMMAND_LINE_ISSUER};
use crate::{ServerError, Settings};

/// `tollgate keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a key pair; servers publish it at their next rescan and sign with it
    /// `keys.publish_ahead` after its creation.
    #[command(after_help = "Example:\n  tollgate keys generate --algorithm EdDSA")]
    Generate {
        /// Its algorithm: RS512 (RSA-2048), ES256 (P-256) or EdDSA (Ed25519); default
        /// `tokens.algorithm`.
        #[arg(long)]
        algorithm: Option<SigningAlgorithm>,
    },
    /// List the keys: kid, creation, status (signing, published, verifying, retired, expired) and until
    /// when each is trusted and published in the JWKS.
    #[command(after_help = "Example:\n  tollgate keys list")]
    List,
    /// Retire a key: it stops signing at each server's next rescan and stays trusted and published until
    /// every token it can have signed has expired. Refused for the only key that can sign.
    #[command(after_help = "Example:\n  tollgate keys retire 8B5C3AB8")]
    Retire {
        /// The key's kid, or its first 8 or more hex digits.
        kid: String,
    },
}

/// Runs a `keys` command at the system time, printing to stdout.
///
/// # Errors
/// As [`run_keys_command_at`].
pub(crate) fn run_keys_command(settings: &Settings, cmd: KeysCommand) -> Result<(), ServerError> {
    let events = match cmd {
        // Only the changes are security events; listing needs no database.
        KeysCommand::List => None,
        KeysCommand::Generate { .. } | KeysCommand::Retire { .. } => {
            Some(command_line_events(settings))
        }
    };
    run_keys_command_at(
        settings,
        cmd,
        SystemClock.now(),
        &mut std::io::stdout().lock(),
        events.as_deref(),
    )
}

/// Runs a `keys` command as of `now`, writing its report to `out` and reporting a generated
/// or retired key to `events`, when given.
///
/// # Errors
/// [`ServerError::Config`] when the token settings are invalid, [`ServerError::Infra`] when the
/// key directory cannot be read or written or refuses the change, [`ServerError::Io`] when
/// writing the report fails.
pub(crate) fn run_keys_command_at(
    settings: &Settings,
    cmd: KeysCommand,
    now: DateTime<Utc>,
    out: &mut impl Write,
    events: Option<&dyn SecurityEvents>,
) -> Result<(), ServerError> {
    let record = |kind| {
        if let Some(events) = events {
            events.record(&SecurityEvent {
                at: now,
                origin: RequestOrigin::default(),
                kind,
            });
        }
    };
    let dir = settings.keys_dir();
    // The window follows the token lifetimes; the issuer plays no part in it.
    let policy = settings.token_policy(COMMAND_LINE_ISSUER)?;
    let window = settings.key_trust_window(&policy)?;
    match cmd {
        KeysCommand::Generate { algorithm } => {
            let algorithm = algorithm.unwrap_or(settings.tokens.algorithm);
            let key = KeySet::generate_with(&dir, now, algorithm)?;
            record(SecurityEventKind::KeyGenerated {
                kid: key.kid().to_owned(),
            });
            let publish_ahead = settings.publish_ahead()?;
            let set = KeySet::load_scheduled(&dir, Some(SigningSchedule { now, publish_ahead }))?;
            writeln!(
                out,
                "generated {algorithm} key {} in {}",
                key.kid(),
                dir.display()
            )?;
            let signs_from = set.find(key.kid()).and_then(KeyInfo::signs_from);
            match signs_from {
                Some(from) => writeln!(
                    out,
                    "running servers publish it at their next rescan (within keys.rescan_interval, {} s; at once on SIGHUP) and sign with it from {}",
                    settings.keys.rescan_interval,
                    stamp(from)
                )?,
                None => writeln!(
                    out,
                    "it is the only key that can sign: running servers sign with it at their next rescan (within {} s; at once on SIGHUP)",
                    settings.keys.rescan_interval
                )?,
            }
        }
        KeysCommand::List => {
            let set = KeySet::load_scheduled(
                &dir,
                Some(SigningSchedule {
                    now,
                    publish_ahead: settings.publish_ahead()?,
                }),
            )?;
            writeln!(
                out,
                "{:<40}  {:<20}  {:<9}  {:<5}  PUBLISHED AND TRUSTED",
                "KID", "CREATED", "STATUS", "ALG"
            )?;
            for key in set.keys() {
                let (status, until) = describe(key, now, window);
                writeln!(
                    out,
                    "{:<40}  {:<20}  {status:<9}  {:<5}  {until}",
                    key.kid(),
                    stamp(key.created_at()),
                    key.algorithm().name()
                )?;
            }
        }
        KeysCommand::Retire { kid } => {
            let retirement = KeySet::retire_at(&dir, &kid, now)?;
            let key = retirement.key;
            let retired_at = key.retired_at().unwrap_or(now);
            if retirement.already_retired {
                writeln!(
                    out,
                    "{} was already retired at {}",
                    key.kid(),
                    stamp(retired_at)
                )?;
            } else {
                record(SecurityEventKind::KeyRetired {
                    kid: key.kid().to_owned(),
                });
                writeln!(out, "retired {} at {}", key.kid(), stamp(retired_at))?;
            }
            let (_, until) = describe(&key, now, window);
            writeln!(
                out,
                "published and trusted {until}; running servers stop signing with it at their next rescan (within {} s; at once on SIGHUP)",
                settings.keys.rescan_interval
            )?;
        }
    }
    Ok(())
}

/// The status word and the "published and trusted" column of a key.
fn describe(key: &KeyInfo, now: DateTime<Utc>, window: Duration) -> (&'static str, String) {
    match key.status(now, window) {
        KeyStatus::Signing => ("signing", "while it signs".to_owned()),
        KeyStatus::Published { signs_from } => (
            "published",
            format!("and signing from {}", stamp(signs_from)),
        ),
        KeyStatus::Verifying { until } => ("verifying", format!("until {}", stamp(until))),
        KeyStatus::Retired { until } => ("retired", format!("until {}", stamp(until))),
        KeyStatus::Expired { since } => (
            "expired",
            format!(
                "no longer, since {}; its files may be deleted",
                stamp(since)
            ),
        ),
    }
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn settings(data: &std::path::Path) -> Settings {
        Settings {
            data_dir: data.to_path_buf(),
            ..Settings::default()
        }
    }

    fn run(settings: &Settings, cmd: KeysCommand, now: DateTime<Utc>) -> String {
        let mut out = Vec::new();
        run_keys_command_at(settings, cmd, now, &mut out, None).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn kid_in(output: &str) -> String {
        output
            .split_whitespace()
            .find(|w| w.len() == 40)
            .unwrap()
            .to_owned()
    }

    /// Lines of `keys list` after the header, as (kid, status, rest).
    fn listing(settings: &Settings, now: DateTime<Utc>) -> Vec<(String, String, String)> {
        run(settings, KeysCommand::List, now)
            .lines()
            .skip(1)
            .map(|line| {
                let mut words = line.split_whitespace();
                let kid = words.next().unwrap().to_owned();
                let _created = words.next();
                let status = words.next().unwrap().to_owned();
                let _algorithm = words.next();
                (kid, status, words.collect::<Vec<_>>().join(" "))
            })
            .collect()
    }

    #[test]
    fn generate_list_and_retire_walk_a_key_through_its_life() {
        let data = tempfile::tempdir().unwrap();
        let settings = settings(data.path());
        let t0 = Utc.with_ymd_and_hms(2026, 11, 30, 10, 0, 0).unwrap();
        let first = kid_in(&run(
            &settings,
            KeysCommand::Generate { algorithm: None },
            t0,
        ));
        let later = t0 + Duration::days(1);
        let second_output = run(&settings, KeysCommand::Generate { algorithm: None }, later);
        // Published `keys.publish_ahead` (default an hour) before it signs.
        assert!(
            second_output.contains("sign with it from 2026-12-01T11:00:00Z"),
            "{second_output}"
        );
        let second = kid_in(&second_output);
        assert_eq!(
            listing(&settings, later),
            [
                (first.clone(), "signing".into(), "while it signs".into()),
                (
                    second.clone(),
                    "published".into(),
                    "and signing from 2026-12-01T11:00:00Z".into()
                ),
            ]
        );

        // Default lifetimes: the longest token lives 14 days; leeway 30 s; one rescan interval
        // (60 s); counted from the instant the second key started signing.
        let active = later + Duration::hours(1);
        let first_until = "until 2026-12-15T11:01:30Z";
        assert_eq!(
            listing(&settings, active),
            [
                (first.clone(), "verifying".into(), first_until.into()),
                (second.clone(), "signing".into(), "while it signs".into()),
            ]
        );

        // The newest key cannot go while it is the only one left to sign.
        let retire_at = active + Duration::hours(1);
        let output = run(
            &settings,
            KeysCommand::Retire {
                kid: first[..8].to_owned(),
            },
            retire_at,
        );
        assert!(output.contains(&format!("retired {first}")), "{output}");
        let mut out = Vec::new();
        let refused = run_keys_command_at(
            &settings,
            KeysCommand::Retire {
                kid: second.clone(),
            },
            retire_at,
            &mut out,
            None,
        );
        assert!(matches!(refused, Err(ServerError::Infra(_))), "{refused:?}");

        // Retiring a superseded key does not stretch its window.
        assert_eq!(listing(&settings, retire_at)[0].1, "retired");
        assert_eq!(listing(&settings, retire_at)[0].2, first_until);
        let again = run(
            &settings,
            KeysCommand::Retire { kid: first.clone() },
            retire_at + Duration::hours(1),
        );
        assert!(again.contains("already retired"), "{again}");

        let after = t0 + Duration::days(20);
        let rows = listing(&settings, after);
        assert_eq!(rows[0].1, "expired");
        assert!(rows[0].2.contains("may be deleted"), "{}", rows[0].2);
        assert_eq!(rows[1].1, "signing");
    }

    #[test]
    fn generate_takes_the_algorithm_from_the_flag_or_the_setting() {
        let data = tempfile::tempdir().unwrap();
        let mut settings = settings(data.path());
        let t0 = Utc.with_ymd_and_hms(2026, 11, 30, 10, 0, 0).unwrap();
        let rs = run(&settings, KeysCommand::Generate { algorithm: None }, t0);
        assert!(rs.contains("generated RS512 key"), "{rs}");
        settings.tokens.algorithm = SigningAlgorithm::Es256;
        let es = run(
            &settings,
            KeysCommand::Generate { algorithm: None },
            t0 + Duration::minutes(1),
        );
        assert!(es.contains("generated ES256 key"), "{es}");
        let ed = run(
            &settings,
            KeysCommand::Generate {
                algorithm: Some(SigningAlgorithm::EdDsa),
            },
            t0 + Duration::minutes(2),
        );
        assert!(ed.contains("generated EdDSA key"), "{ed}");
        let list = run(&settings, KeysCommand::List, t0 + Duration::minutes(3));
        let algorithms: Vec<&str> = list
            .lines()
            .skip(1)
            .map(|line| line.split_whitespace().nth(3).unwrap())
            .collect();
        assert_eq!(algorithms, ["RS512", "ES256", "EdDSA"]);
    }

    #[test]
    fn list_on_a_missing_directory_is_an_error() {
        let data = tempfile::tempdir().unwrap();
        let mut out = Vec::new();
        let result = run_keys_command_at(
            &settings(data.path()),
            KeysCommand::List,
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            &mut out,
            None,
        );
        assert!(matches!(result, Err(ServerError::Infra(_))), "{result:?}");
    }

    #[test]
    fn generating_and_retiring_a_key_are_security_events() {
        use std::sync::{Arc, Mutex};
        use tollgate_application::MockSecurityEvents;

        let data = tempfile::tempdir().unwrap();
        let settings = settings(data.path());
        let t0 = Utc.with_ymd_and_hms(2026, 11, 30, 10, 0, 0).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut events = MockSecurityEvents::new();
        let sink = seen.clone();
        events
            .expect_record()
            .returning(move |e| sink.lock().unwrap().push(e.clone()));
        let run_with = |cmd, now| {
            let mut out = Vec::new();
            run_keys_command_at(&settings, cmd, now, &mut out, Some(&events)).unwrap();
            String::from_utf8(out).unwrap()
        };
        let first = kid_in(&run_with(KeysCommand::Generate { algorithm: None }, t0));
        let later = t0 + Duration::hours(1);
        run_with(KeysCommand::Generate { algorithm: None }, later);
        run_with(KeysCommand::Retire { kid: first.clone() }, later);
        // Already retired: nothing changes, nothing is reported.
        run_with(KeysCommand::Retire { kid: first.clone() }, later);
        run_with(KeysCommand::List, later);

        let seen = seen.lock().unwrap();
        let kinds: Vec<_> = seen.iter().map(|e| (e.at, e.kind.name())).collect();
        assert_eq!(
            kinds,
            [
                (t0, "key_generated"),
                (later, "key_generated"),
                (later, "key_retired")
            ]
        );
        assert_eq!(
            seen[2].kind,
            SecurityEventKind::KeyRetired { kid: first.clone() }
        );
        assert_eq!(seen[0].kind, SecurityEventKind::KeyGenerated { kid: first });
    }
}
