//! `tollgate audit`: the security event trail (docs/SECURITY.md).

use std::io::Write;
use std::sync::Arc;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use clap::builder::PossibleValuesParser;
use clap::Args;
use tollgate_application::{
    AuditTrail, AuditTrailPorts, EventFilter, SecurityEventRecord, EVENT_KINDS,
};
use tollgate_infrastructure::db::{Database, PoolOptions};

use crate::{ServerError, Settings};

/// `tollgate audit`: which events to list and how.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only this user's events: a login name, or a user id (which also finds a deleted user's).
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Only events at or after this instant: RFC 3339 (`2026-05-01T00:00:00Z`) or a time back
    /// from now (`90s`, `30m`, `24h`, `7d`, `2w`).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only events of this kind.
    #[arg(long, value_name = "KIND", value_parser = PossibleValuesParser::new(EVENT_KINDS))]
    pub kind: Option<String>,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
    /// At most this many events, newest first.
    #[arg(long, value_name = "N", default_value_t = EventFilter::DEFAULT_LIMIT)]
    pub limit: u32,
}

/// Lists the events `args` selects as of `now` (for `--since 24h`), newest first, to `out`.
///
/// # Errors
/// [`ServerError::Input`] for a `--since` that is neither RFC 3339 nor a duration, or a `--user`
/// that names nobody; [`ServerError`] when the settings or the database fail.
pub fn run_audit_command(
    settings: &Settings,
    args: AuditArgs,
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> Result<(), ServerError> {
    let since = args
        .since
        .as_deref()
        .map(|s| parse_since(s, now))
        .transpose()?;
    // The database only: listing events needs neither keys nor hashing.
    let db = Database::connect(&settings.database_url(), &PoolOptions::default())?;
    let trail = AuditTrail::new(AuditTrailPorts {
        users: Arc::new(db.user_store()),
        log: Arc::new(db.security_event_store()),
    });
    let filter = EventFilter {
        user_id: None,
        since,
        kind: args.kind,
        limit: args.limit,
    };
    let events = match trail.list(args.user.as_deref(), filter) {
        Err(tollgate_application::Error::UserNotFound) => {
            return Err(ServerError::Input(format!(
                "no user named {} (and not a user id)",
                args.user.unwrap_or_default()
            )))
        }
        other => other?,
    };
    if args.json {
        for e in &events {
            writeln!(out, "{}", json_line(e))?;
        }
    } else {
        writeln!(out, "time\tkind\tuser\tclient\taddress\tfamily\tdetail")?;
        for e in &events {
            let dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
            writeln!(
                out,
                "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                stamp(e.occurred_at),
                e.kind,
                dash(e.user_id.map(|u| u.to_string())),
                dash(e.client_id.clone()),
                dash(e.address.clone()),
                dash(e.family_id.map(|f| f.to_string())),
                dash(e.detail.clone()),
            )?;
        }
    }
    Ok(())
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// One event as a JSON object; absent values are `null`.
fn json_line(e: &SecurityEventRecord) -> serde_json::Value {
    serde_json::json!({
        "id": e.id,
        "occurred_at": stamp(e.occurred_at),
        "kind": e.kind,
        "user_id": e.user_id.map(|u| u.to_string()),
        "client_id": e.client_id,
        "address": e.address,
        "family_id": e.family_id.map(|f| f.to_string()),
        "detail": e.detail,
    })
}

/// `--since`: an RFC 3339 instant, or a whole number of seconds, minutes, hours, days or weeks
/// back from `now`. The duration grammar is this one line, so it is parsed here rather than
/// through another dependency.
fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, ServerError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let refused = || {
        ServerError::Input(format!(
            "--since {text:?}: expected an RFC 3339 time (2026-05-01T00:00:00Z) or a duration such as 90s, 30m, 24h, 7d, 2w"
        ))
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(refused)?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().map_err(|_| refused())?;
    let back = match unit {
        "s" => Duration::try_seconds(n),
        "m" => Duration::try_minutes(n),
        "h" => Duration::try_hours(n),
        "d" => Duration::try_days(n),
        "w" => Duration::try_weeks(n),
        _ => None,
    }
    .ok_or_else(refused)?;
    now.checked_sub_signed(back).ok_or_else(refused)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 2, 12, 0, 0).unwrap()
    }

    #[test]
    fn since_takes_rfc3339_or_a_duration_back_from_now() {
        assert_eq!(
            parse_since("2026-05-01T00:00:00+02:00", now()).unwrap(),
            Utc.with_ymd_and_hms(2026, 4, 30, 22, 0, 0).unwrap()
        );
        assert_eq!(
            parse_since("24h", now()).unwrap(),
            now() - Duration::days(1)
        );
        assert_eq!(
            parse_since("90s", now()).unwrap(),
            now() - Duration::seconds(90)
        );
        assert_eq!(
            parse_since("2w", now()).unwrap(),
            now() - Duration::days(14)
        );
        for bad in [
            "",
            "h",
            "24",
            "24x",
            "-5h",
            "1.5h",
            "yesterday",
            "99999999999999999999d",
        ] {
            let err = parse_since(bad, now()).unwrap_err();
            assert!(err.to_string().contains("--since"), "{bad}: {err}");
        }
    }
}
