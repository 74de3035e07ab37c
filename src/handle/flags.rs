//! Feature flags on the handle: evaluation from the live snapshot (no SQL,
//! no allocation on the hot paths), and changes written in one transaction
//! with an audit trail.

use serde::Serialize;

use super::{Cha, Live};
use crate::common::names::did_you_mean;
use crate::error::{Error, ErrorKind, Result};
use crate::flags::{self, Context, Evaluation, FlagDefinition, FlagId, FlagSet, Now, OwnedContext};
use crate::store::audit::{self, AuditEntry};
use crate::store::definitions::{self, Author};
use crate::store::{self};

/// The kind of flag definitions in the definitions table and the audit log.
pub(crate) const KIND: &str = "flag";

/// The outcome of one evaluation, owned: what `cha_flag_evaluate`, Python's
/// `is_enabled` and `cha-deploy flags eval` report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlagEvaluation {
    pub flag: String,
    pub enabled: bool,
    pub variant: Option<String>,
    pub reason: flags::Reason,
    pub rule: String,
    pub error: Option<flags::ErrorCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Value>,
}

/// A stored flag with its bookkeeping.
pub type FlagRecord = super::Versioned<FlagDefinition>;

/// What a change to one flag did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlagChange {
    pub flag: String,
    /// The flag's version after the change (unchanged if nothing changed).
    pub version: i64,
    pub changed: bool,
    pub before: Option<FlagDefinition>,
    pub after: FlagDefinition,
}

impl Cha {
    /// Evaluates `flag` for `ctx` now, from the live snapshot. An unknown flag
    /// is not an error here: it evaluates off with error `FLAG_NOT_FOUND`.
    pub fn evaluate_flag(&self, flag: &str, ctx: &Context<'_>) -> FlagEvaluation {
        let live = self.inner.live.load();
        let e = match live.flags.lookup(flag) {
            Some(id) => {
                let e = self.evaluate_in(&live, id, ctx);
                self.count(&live, id, e.enabled, e.variant);
                e
            }
            None => {
                self.inner.recorder.monitoring.usage.unknown(flag);
                Evaluation::not_found()
            }
        };
        FlagEvaluation {
            flag: flag.to_string(),
            enabled: e.enabled,
            variant: e.variant.map(str::to_string),
            reason: e.reason,
            rule: e.rule.to_string(),
            error: e.error,
            payload: e.payload.cloned(),
        }
    }

    /// [`Cha::evaluate_flag`] with the context as the JSON object DESIGN.md
    /// describes (`user_id`, `session_id`, `groups`, `environment`,
    /// `app_name`, `current_time`, `remote_address`, `properties`).
    ///
    /// # Errors
    /// `InvalidArgument` for a context that is not such an object.
    pub fn evaluate_flag_json(
        &self,
        flag: &str,
        context_json: Option<&str>,
    ) -> Result<FlagEvaluation> {
        let ctx = match context_json {
            Some(text) => OwnedContext::from_json(text)?,
            None => OwnedContext::default(),
        };
        Ok(ctx.with_context(|ctx| self.evaluate_flag(flag, ctx)))
    }

    /// Whether `flag` is on for `ctx`: the hot path. Never touches SQLite and
    /// never allocates.
    ///
    /// # Errors
    /// `NotFound` if no flag has that name.
    pub fn is_enabled(&self, flag: &str, ctx: &Context<'_>) -> Result<bool> {
        // The closure answers a plain `Option<bool>` and the error is built
        // outside: passing a `Result<bool>` (32 bytes) out through the cache's
        // layers was compiled into byte-wise stack copies that the CPU
        // could not forward to the wider loads after them (stalls of
        // several nanoseconds per check).
        self.inner
            .with_live(|live| {
                let id = live.flags.lookup(flag)?;
                let e = self.evaluate_in(live, id, ctx);
                self.count(live, id, e.enabled, e.variant);
                Some(e.enabled)
            })
            .ok_or_else(|| {
                self.inner.recorder.monitoring.usage.unknown(flag);
                self.flag_not_found(flag)
            })
    }

    /// Counts an evaluation for flag usage: per thread, a plain add. The
    /// fields by value, not the evaluation by reference, which would make
    /// it leave the registers.
    #[inline(always)]
    fn count(&self, live: &Live, id: FlagId, enabled: bool, variant: Option<&str>) {
        self.inner.recorder.monitoring.usage.count(
            &live.flags,
            live.revision,
            id,
            enabled,
            variant,
        );
    }

    /// Evaluates flag `id` of `live`; an a_b_test flag linked to an
    /// experiment takes the unit's variant from the experiment (and exposes
    /// the unit, unless the context only peeks), so that a flag check and
    /// an assignment always agree. The control variant is off.
    ///
    /// Inlined so that a check that needs only `enabled` does not copy the
    /// whole evaluation out of a call: that copy re-read bytes just written
    /// one by one, a store-forwarding stall that cost several nanoseconds.
    #[inline(always)]
    fn evaluate_in<'l>(&self, live: &'l Live, id: FlagId, ctx: &Context<'_>) -> Evaluation<'l> {
        let e = live.flags.evaluate(id, ctx, Now::System);
        if e.reason != flags::Reason::Split {
            return e;
        }
        let Some((experiment, unit)) = live.flags.experiment_unit(id, ctx) else {
            return e;
        };
        let Some((compiled, _)) = live.experiments.get(experiment) else {
            return Evaluation {
                rule: "linked experiment not deployed",
                ..e
            };
        };
        let assignment = compiled.assign(unit);
        match assignment.variant {
            Some(index) => {
                let variant = &compiled.variants[index as usize];
                // A flag check always answers: with the buffer full (the
                // store failing) its exposure is counted as dropped instead.
                let recorder = &self.inner.recorder;
                if !ctx.peek && recorder.experiments.buffer.held() >= recorder.backlog.limit {
                    recorder.backlog.note_dropped_exposure();
                } else if !ctx.peek {
                    self.inner.recorder.experiments.expose(
                        &compiled.id,
                        unit,
                        &variant.name,
                        compiled.phase,
                    );
                }
                Evaluation {
                    enabled: index != compiled.control,
                    variant: Some(&variant.name),
                    payload: Some(&variant.configuration),
                    rule: assignment.reason.flag_rule(),
                    ..e
                }
            }
            None => Evaluation {
                reason: flags::Reason::Default,
                rule: assignment.reason.flag_rule(),
                ..e
            },
        }
    }

    /// A handle id for `flag` that skips the name lookup in inner loops (see
    /// [`Cha::is_enabled_by_handle`]). It stays valid for the life of this
    /// handle, across reloads.
    ///
    /// # Errors
    /// `NotFound` if no flag has that name now.
    pub fn flag_lookup(&self, flag: &str) -> Result<u32> {
        if self.inner.live.load().flags.lookup(flag).is_none() {
            return Err(self.flag_not_found(flag));
        }
        Ok(self.inner.flag_handle(flag))
    }

    /// Whether the flag of handle `id` is on for `ctx`. A flag deleted since
    /// the lookup evaluates off. Never touches SQLite, never allocates.
    ///
    /// # Errors
    /// `InvalidArgument` for an id [`Cha::flag_lookup`] did not give.
    #[inline]
    pub fn is_enabled_by_handle(&self, id: u32, ctx: &Context<'_>) -> Result<bool> {
        // A plain `Option<bool>` out of the closure, as in `is_enabled`.
        self.inner
            .with_live(|live| {
                let flag = live.flag_handles.get(id as usize)?;
                Some(flag.is_some_and(|flag| {
                    let e = self.evaluate_in(live, flag, ctx);
                    self.count(live, flag, e.enabled, e.variant);
                    e.enabled
                }))
            })
            .ok_or_else(|| {
                Error::invalid_argument(format!(
                    "flag handle {id} was not returned by cha_flag_lookup on this handle"
                ))
            })
    }

    /// Changes flag `name` with `updates` (the YAML fields as a JSON object),
    /// creating it when it does not exist and `updates` names a `type`. The
    /// new definition is checked alone and with every other flag
    /// (prerequisites), then written with an audit entry in one transaction,
    /// and every open handle sees it within its refresh interval (this one
    /// at once).
    ///
    /// # Errors
    /// `Config` (every problem, by field), `InvalidArgument`, `NotFound`,
    /// `Storage`, `Busy`. On error nothing is changed.
    pub fn update_flag(
        &self,
        name: &str,
        updates: &serde_json::Value,
        actor: &str,
    ) -> Result<FlagChange> {
        check_actor(actor)?;
        let change =
            self.inner.store.write(|tx| {
                let before = stored_definition(tx, name)?;
                let after = crate::config::apply_flag_update(before.as_ref(), name, updates)
                    .map_err(|e| match e.kind() {
                        ErrorKind::NotFound => Error::not_found(format!(
                            "{}{}",
                            e.message(),
                            did_you_mean(
                                name,
                                definitions::names(tx, KIND)
                                    .unwrap_or_default()
                                    .iter()
                                    .map(String::as_str)
                            )
                        )),
                        _ => e,
                    })?;
                self.write_flag(tx, before, after, actor, "update")
            })?;
        self.inner.reload_after_commit();
        Ok(change)
    }

    /// Restores flag `name` to the definition it had at `version` (see
    /// [`Cha::flag_history`]), as a new version.
    ///
    /// # Errors
    /// `NotFound` for an unknown flag or version; `Config` if the old
    /// definition no longer fits (a prerequisite was removed since).
    pub fn restore_flag(&self, name: &str, version: i64, actor: &str) -> Result<FlagChange> {
        check_actor(actor)?;
        let change = self.inner.store.write(|tx| {
            let history = audit::history(tx, KIND, name)?;
            let entry = history
                .iter()
                .find(|e| e.version == Some(version))
                .ok_or_else(|| {
                    Error::not_found(format!(
                        "flag `{name}` has no version {version} (versions: {})",
                        history.iter().filter_map(|e| e.version).map(|v| v.to_string()).collect::<Vec<_>>().join(", ")
                    ))
                })?;
            let after: FlagDefinition = match &entry.after {
                Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
                    Error::storage(format!(
                        "version {version} of flag `{name}` in the audit log cannot be read: {e}"
                    ))
                })?,
                None => {
                    return Err(Error::invalid_argument(format!(
                        "version {version} of flag `{name}` is its deletion; restore an earlier version"
                    )));
                }
            };
            let before = stored_definition(tx, name)?;
            self.write_flag(tx, before, after, actor, "restore")
        })?;
        self.inner.reload_after_commit();
        Ok(change)
    }

    /// Sets `hold` on flag `name`'s rollout, in one transaction, as `actor`
    /// (the audit action is the hold's: `pause` or `rollback`). Returns
    /// `None` when it was held already (another process got there first).
    pub(crate) fn hold_rollout(
        &self,
        name: &str,
        hold: crate::flags::Hold,
        actor: &str,
    ) -> Result<Option<FlagChange>> {
        check_actor(actor)?;
        let change = self.inner.store.write(|tx| {
            let before =
                stored_definition(tx, name)?.ok_or_else(|| stored_flag_not_found(tx, name))?;
            if before.hold.is_some() {
                return Ok(None);
            }
            let action = hold.action.as_str();
            let mut after = before.clone();
            after.hold = Some(hold);
            self.write_flag(tx, Some(before), after, actor, action)
                .map(Some)
        })?;
        self.inner.reload_after_commit();
        Ok(change)
    }

    /// Validates `after` against the other stored flags and writes it.
    fn write_flag(
        &self,
        tx: &rusqlite::Transaction<'_>,
        before: Option<FlagDefinition>,
        after: FlagDefinition,
        actor: &str,
        action: &str,
    ) -> Result<FlagChange> {
        let mut set: Vec<FlagDefinition> = definitions::load_parsed(tx, KIND)?;
        set.retain(|f| f.name != after.name);
        set.push(after.clone());
        crate::config::validate_flag_set(&set)?;
        let experiments = definitions::names(tx, store::experiments::KIND)?;
        check_experiment_links(std::slice::from_ref(&after), &experiments)?;
        let json = serde_json::to_value(&after)?;
        let action = if before.is_none() { "create" } else { action };
        let by = Author {
            actor,
            action,
            at_ms: crate::clock::now_ms(),
        };
        let written = definitions::put(tx, KIND, &after.name, &json, by)?;
        let version = match written {
            Some(v) => v,
            None => definitions::get(tx, KIND, &after.name)?.map_or(0, |f| f.version),
        };
        Ok(FlagChange {
            flag: after.name.clone(),
            version,
            changed: written.is_some(),
            before,
            after,
        })
    }

    /// Every stored flag, by name.
    pub fn flags(&self) -> Result<Vec<FlagRecord>> {
        let conn = self.inner.store.conn();
        definitions::load(&conn, KIND)?
            .into_iter()
            .map(FlagRecord::from_stored)
            .collect()
    }

    /// The stored flag `name`.
    ///
    /// # Errors
    /// `NotFound` if there is none.
    pub fn flag(&self, name: &str) -> Result<FlagRecord> {
        let conn = self.inner.store.conn();
        let stored = definitions::get(&conn, KIND, name)?
            .ok_or_else(|| stored_flag_not_found(&conn, name))?;
        FlagRecord::from_stored(stored)
    }

    /// Every change to flag `name`, oldest first: actor, time, before, after.
    ///
    /// # Errors
    /// `NotFound` if the flag never existed.
    pub fn flag_history(&self, name: &str) -> Result<Vec<AuditEntry>> {
        let conn = self.inner.store.conn();
        let history = audit::history(&conn, KIND, name)?;
        if history.is_empty() {
            return Err(stored_flag_not_found(&conn, name));
        }
        Ok(history)
    }
}

fn stored_definition(conn: &rusqlite::Connection, name: &str) -> Result<Option<FlagDefinition>> {
    definitions::get(conn, KIND, name)?
        .map(|f| f.parse())
        .transpose()
}

/// Compiles the stored flags for the live snapshot.
pub(crate) fn compile(conn: &rusqlite::Connection) -> Result<FlagSet> {
    crate::config::compile_flags(definitions::load_parsed(conn, KIND)?)
}

/// Checks that every flag linked to an experiment names one of `experiments`.
pub(crate) fn check_experiment_links(
    flags: &[FlagDefinition],
    experiments: &[String],
) -> Result<()> {
    let broken: Vec<String> = flags
        .iter()
        .filter_map(|f| {
            let linked = f.experiment.as_deref().filter(|_| f.variants.is_empty())?;
            (!experiments.iter().any(|e| e == linked)).then(|| {
                format!(
                    "flags.{}.experiment: no experiment `{linked}` in ab_tests.yml",
                    f.name
                )
            })
        })
        .collect();
    if broken.is_empty() {
        Ok(())
    } else {
        Err(Error::config(format!(
            "{} (deploy ab_tests.yml with it, or give the flag its own variants)",
            broken.join("; ")
        )))
    }
}

impl Cha {
    /// `NotFound` for flag `name`, with a deployed flag close to it: the
    /// names of the snapshot, without the store's lock.
    fn flag_not_found(&self, name: &str) -> Error {
        let live = self.inner.live.load();
        let known = live.flags.definitions().iter().map(|d| d.name.as_str());
        Error::not_found(format!(
            "flag `{name}` does not exist{}",
            did_you_mean(name, known)
        ))
    }
}

/// `NotFound` for flag `name`, with a stored flag close to it.
fn stored_flag_not_found(conn: &rusqlite::Connection, name: &str) -> Error {
    let known = definitions::names(conn, KIND).unwrap_or_default();
    Error::not_found(format!(
        "flag `{name}` does not exist{}",
        did_you_mean(name, known.iter().map(String::as_str))
    ))
}

pub(crate) fn check_actor(actor: &str) -> Result<()> {
    if actor.trim().is_empty() {
        return Err(Error::invalid_argument(
            "actor is empty: say who makes the change",
        ));
    }
    Ok(())
}
