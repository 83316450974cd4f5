//! Race mode: one refresh token presented by K threads at the same instant, R times.

use std::collections::HashSet;
use std::sync::mpsc;
use std::sync::{Barrier, Mutex};

use serde::Serialize;

use crate::client::{Client, Outcome, Target};
use crate::dpop::{proof_url, ProofAlg, ProofKey};
use crate::BenchError;

/// What a race run does.
#[derive(Debug, Clone)]
pub struct RaceOptions {
    /// Server and credentials.
    pub target: Target,
    /// Concurrent presentations of one token per round (at least 2).
    pub racers: usize,
    /// Rounds, each on a fresh login.
    pub rounds: usize,
}

/// A round that did not end with exactly one new pair.
#[derive(Debug, Clone, Serialize)]
pub struct FailedRound {
    /// Round number, from 0.
    pub round: usize,
    /// Distinct new refresh tokens issued (must be 1).
    pub distinct_pairs: usize,
    /// What each racer got: `200`, `400 invalid_grant`, `transport`, …
    pub answers: Vec<String>,
}

/// The result of a race run; serialised as the one-line JSON summary.
#[derive(Debug, Clone, Serialize)]
pub struct RaceReport {
    /// Always `"race"`.
    pub mode: &'static str,
    /// Racers per round.
    pub racers: usize,
    /// Rounds run.
    pub rounds: usize,
    /// The DPoP proof algorithm (`"ES256"`, `"EdDSA"`), or `null` for bearer tokens.
    pub dpop: Option<ProofAlg>,
    /// Rounds with exactly one winner and only `invalid_grant` for the others.
    pub rounds_ok: usize,
    /// The others, in order.
    pub failed: Vec<FailedRound>,
    /// Every round was fine.
    pub ok: bool,
}

/// Verdict on one round: exactly one distinct successor, everyone else `400 invalid_grant`.
///
/// With a retry grace (`tokens.reuse_grace`) several racers may receive the *same* pair; that is
/// still one winner, so successors are counted by their `token_id`, not by `200` answers.
fn judge(round: usize, outcomes: &[Outcome], seen: &mut HashSet<u128>) -> Option<FailedRound> {
    let successors: HashSet<u128> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Pair(p) => Some(p.token_id),
            _ => None,
        })
        .collect();
    let fresh = successors.iter().all(|id| seen.insert(*id));
    let losers_refused = outcomes.iter().all(|o| {
        matches!(o, Outcome::Pair(_))
            || matches!(o, Outcome::Refused { status: 400, error } if error == "invalid_grant")
    });
    (successors.len() != 1 || !losers_refused || !fresh).then(|| FailedRound {
        round,
        distinct_pairs: successors.len(),
        answers: outcomes
            .iter()
            .map(|o| o.error_key().unwrap_or_else(|| "200".into()))
            .collect(),
    })
}

/// What the racers of one round present: the refresh token, and with DPoP one proof each.
struct Round {
    token: String,
    proofs: Vec<String>,
}

/// Runs the rounds. Each racer thread keeps its own connection across rounds, so a round's
/// requests leave together instead of queueing behind connection set-up.
///
/// With DPoP each round's login binds its family to a new key, and every racer presents the
/// token with its own fresh proof by that key, signed before the start: the replay cache lets
/// them all through, so only the rotation decides.
///
/// # Errors
/// [`BenchError::Setup`] when `racers < 2`, a login fails (the round could not be played), or
/// a key or proof cannot be made.
pub fn run_race(options: &RaceOptions) -> Result<RaceReport, BenchError> {
    if options.racers < 2 || options.rounds == 0 {
        return Err(BenchError::Setup(
            "a race needs at least 2 racers and 1 round".into(),
        ));
    }
    let dpop = match &options.target.dpop {
        Some(dpop) => Some((dpop.alg, proof_url(&options.target, dpop)?)),
        None => None,
    };
    let login = Client::new(&options.target);
    // `None` tells the racers to leave.
    let round_state: Mutex<Option<Round>> = Mutex::new(None);
    let go = Barrier::new(options.racers + 1);
    let (tx, rx) = mpsc::channel::<Outcome>();
    std::thread::scope(|scope| {
        for racer in 0..options.racers {
            let (round_state, go, tx) = (&round_state, &go, tx.clone());
            scope.spawn(move || {
                let client = Client::new(&options.target);
                loop {
                    go.wait();
                    let current = round_state
                        .lock()
                        .map(|r| {
                            r.as_ref()
                                .map(|r| (r.token.clone(), r.proofs.get(racer).cloned()))
                        })
                        .unwrap_or_default();
                    let Some((token, proof)) = current else { break };
                    if tx.send(client.refresh(&token, proof.as_deref())).is_err() {
                        break;
                    }
                }
            });
        }
        let mut seen = HashSet::new();
        let mut failed = Vec::new();
        let mut result = Ok(());
        for round in 0..options.rounds {
            let played = play(&login, dpop.as_ref(), options.racers)
                .map_err(|e| BenchError::Setup(format!("round {round} could not start: {e}")));
            let next = match played {
                Ok(next) => next,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            if let Ok(mut r) = round_state.lock() {
                *r = Some(next);
            }
            go.wait();
            let outcomes: Vec<Outcome> = rx.iter().take(options.racers).collect();
            if let Some(f) = judge(round, &outcomes, &mut seen) {
                failed.push(f);
            }
        }
        if let Ok(mut r) = round_state.lock() {
            *r = None;
        }
        go.wait();
        result.map(|()| RaceReport {
            mode: "race",
            racers: options.racers,
            rounds: options.rounds,
            dpop: dpop.as_ref().map(|(alg, _)| *alg),
            rounds_ok: options.rounds - failed.len(),
            ok: failed.is_empty(),
            failed,
        })
    })
}

/// A round's login (bound to a new key with DPoP) and what each racer will present.
fn play(login: &Client, dpop: Option<&(ProofAlg, String)>, racers: usize) -> Result<Round, String> {
    let key = dpop.map(|(alg, _)| ProofKey::generate(*alg)).transpose()?;
    let mut proofs = Vec::new();
    if let (Some(key), Some((_, htu))) = (&key, dpop) {
        // One for the login, then one per racer; all made before any racer starts.
        for _ in 0..=racers {
            proofs.push(key.proof(htu)?);
        }
    }
    let login_proof = proofs.pop();
    match login.login(login_proof.as_deref()) {
        Outcome::Pair(pair) => Ok(Round {
            token: pair.refresh_token,
            proofs,
        }),
        other => Err(format!("the login answered {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Pair;

    fn pair(id: u128) -> Outcome {
        Outcome::Pair(Pair {
            refresh_token: String::new(),
            token_id: id,
            jti: id,
            token_type: "Bearer".into(),
        })
    }

    fn refused() -> Outcome {
        Outcome::Refused {
            status: 400,
            error: "invalid_grant".into(),
        }
    }

    #[test]
    fn one_winner_and_refused_losers_pass() {
        let mut seen = HashSet::new();
        assert!(judge(0, &[refused(), pair(7), refused()], &mut seen).is_none());
    }

    #[test]
    fn two_different_successors_fail() {
        let mut seen = HashSet::new();
        let failed = judge(0, &[pair(1), pair(2)], &mut seen).unwrap();
        assert_eq!(failed.distinct_pairs, 2);
    }

    #[test]
    fn the_same_successor_twice_is_one_winner_as_with_a_retry_grace() {
        let mut seen = HashSet::new();
        assert!(judge(0, &[pair(1), pair(1), refused()], &mut seen).is_none());
    }

    #[test]
    fn no_winner_fails() {
        let mut seen = HashSet::new();
        assert!(judge(0, &[refused(), refused()], &mut seen).is_some());
    }

    #[test]
    fn a_loser_with_another_answer_fails() {
        let mut seen = HashSet::new();
        let other = Outcome::Refused {
            status: 503,
            error: "temporarily_unavailable".into(),
        };
        assert!(judge(0, &[pair(1), other], &mut seen).is_some());
    }

    #[test]
    fn a_successor_seen_in_an_earlier_round_fails() {
        let mut seen = HashSet::new();
        assert!(judge(0, &[pair(1), refused()], &mut seen).is_none());
        assert!(judge(1, &[pair(1), refused()], &mut seen).is_some());
    }
}
