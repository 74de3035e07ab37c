//! Feature flags on the handle: evaluation from the live snapshot (no SQL,
//! no allocation on the hot paths), and changes written in one transaction
//! with an audit trail.

use std::sync::Arc;

use serde::Serialize;

use super::{Cha, Live};
use crate::common::limits::{MAX_ACTOR_BYTES, check_bytes, excerpt};
use crate::common::names::did_you_mean;
use crate::error::{Error, ErrorKind, Result};
use crate::flags::{
    self, Context, ErrorCode, Evaluation, Fallback, FlagDefinition, FlagId, FlagSet, FlagValue,
    Now, OwnedContext, Reason, Segment, ValueType,
};
use crate::store::audit::{self, AuditEntry};
use crate::store::definitions::{self, Author};
use crate::store::{self};

/// The kind of flag definitions in the definitions table and the audit log.
pub(crate) const KIND: &str = "flag";

/// The kind of segment definitions (the `segments:` of feature_flags.yml).
pub(crate) const SEGMENT_KIND: &str = "segment";

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

/// A typed value of a flag and how it was resolved: what `cha_flag_double`
/// and its siblings, Python's `flag_double` and `cha-deploy flags value`
/// give. `value` is the caller's default whenever `reason` is `ERROR` or
/// the flag is off (see [`crate::flags::value`]).
///
/// Getting one allocates nothing unless its value does (a string or JSON)
/// or an error message is written: the flag's name is the caller's, the
/// variant's name is shared with the live snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlagResolution<'a, T> {
    /// The flag's name, as asked for.
    pub flag: &'a str,
    pub value: T,
    pub reason: Reason,
    pub error: Option<ErrorCode>,
    /// The variant the value came from.
    pub variant: Option<Arc<str>>,
    /// Why the default was served, in words, for an error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

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
    /// For the same reason the linked experiment changes the evaluation in
    /// place, out of line: with two ways to build the result, every answer
    /// was copied into one place.
    #[inline(always)]
    fn evaluate_in<'l>(&self, live: &'l Live, id: FlagId, ctx: &Context<'_>) -> Evaluation<'l> {
        let mut e = live.flags.evaluate(id, ctx, Now::System);
        if e.reason == flags::Reason::Split
            && let Some((experiment, unit)) = live.flags.experiment_unit(id, ctx)
        {
            self.assign_linked(live, experiment, unit, ctx, &mut e);
        }
        e
    }

    /// `e` (a split of an a_b_test flag linked to `experiment`) as the
    /// experiment assigns `unit`, which it exposes unless `ctx` peeks.
    #[inline(never)]
    fn assign_linked<'l>(
        &self,
        live: &'l Live,
        experiment: &str,
        unit: &str,
        ctx: &Context<'_>,
        e: &mut Evaluation<'l>,
    ) {
        let Some((compiled, _)) = live.experiments.get(experiment) else {
            e.rule = "linked experiment not deployed";
            return;
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
                e.enabled = index != compiled.control;
                e.variant = Some(&variant.name);
                e.payload = Some(&variant.configuration);
                e.rule = assignment.reason.flag_rule();
            }
            None => {
                e.reason = flags::Reason::Default;
                e.rule = assignment.reason.flag_rule();
            }
        }
    }

    /// Calls `f` with the evaluation of `flag` for `ctx`: the one
    /// evaluation behind the typed getters. Counts it as a check does; an
    /// unknown flag evaluates as `FLAG_NOT_FOUND`.
    #[inline(always)]
    pub(crate) fn resolve_in<R>(
        &self,
        flag: &str,
        ctx: &Context<'_>,
        f: impl FnOnce(&Evaluation<'_>) -> R,
    ) -> R {
        self.resolve_with(flag, ctx, |_, _, e| f(e))
    }

    /// [`Cha::resolve_in`], `f` seeing the snapshot and the flag's id too
    /// (None: no such flag). The snapshot is read through the per-thread
    /// cache, as the boolean checks read it.
    #[inline(always)]
    fn resolve_with<R>(
        &self,
        flag: &str,
        ctx: &Context<'_>,
        f: impl FnOnce(&Live, Option<FlagId>, &Evaluation<'_>) -> R,
    ) -> R {
        self.inner.with_live(|live| match live.flags.lookup(flag) {
            Some(id) => {
                let e = self.evaluate_in(live, id, ctx);
                self.count(live, id, e.enabled, e.variant);
                f(live, Some(id), &e)
            }
            None => {
                self.inner.recorder.monitoring.usage.unknown(flag);
                f(live, None, &Evaluation::not_found())
            }
        })
    }

    /// The typed value of `flag` for `ctx`: `convert` takes it from the
    /// flag's value, `default` is served on any error or when the flag is
    /// off.
    #[inline(always)]
    fn resolution<'f, T>(
        &self,
        flag: &'f str,
        ctx: &Context<'_>,
        kind: ValueType,
        default: T,
        convert: impl FnOnce(FlagValue<'_>) -> Option<T>,
    ) -> FlagResolution<'f, T> {
        // The common answer (no error, no variant) leaves the snapshot's
        // closure as a value and a reason, in registers; any other is built
        // in place. Returning the whole resolution from the closure copied
        // it through the stack with wider loads than the stores that had
        // just written it, which the CPU cannot forward: a stall that cost
        // a third of the call.
        let full = std::cell::Cell::new(None);
        let quick = self.resolve_with(flag, ctx, |live, id, e| {
            let (value, reason, error) = match e.value(kind).map(convert) {
                Ok(Some(value)) => (value, e.reason, None),
                Ok(None) => (default, Reason::Error, Some(ErrorCode::TypeMismatch)),
                Err(Fallback { reason, error }) => (default, reason, error),
            };
            let variant = e.variant.filter(|_| e.enabled);
            if error.is_none() && variant.is_none() {
                return Some((value, reason));
            }
            full.set(Some(FlagResolution {
                flag,
                value,
                reason,
                error,
                variant: variant.map(|name| shared_variant(live, id, name)),
                message: error.map(|code| self.resolution_message(flag, kind, code, e)),
            }));
            None
        });
        match quick {
            Some((value, reason)) => FlagResolution {
                flag,
                value,
                reason,
                error: None,
                variant: None,
                message: None,
            },
            None => full
                .take()
                .expect("set when the answer is not the common one"),
        }
    }

    /// Why a typed getter served the default, in words.
    #[cold]
    fn resolution_message(
        &self,
        flag: &str,
        kind: ValueType,
        error: ErrorCode,
        e: &Evaluation<'_>,
    ) -> String {
        let kind = kind.as_str();
        match error {
            ErrorCode::FlagNotFound => self.flag_not_found(flag).message().to_string(),
            ErrorCode::TypeMismatch => match (e.variant, e.payload) {
                (None, _) => format!(
                    "flag `{flag}` gives this context no variant, so no {kind} value (only bool)"
                ),
                (Some(variant), None) => format!(
                    "flag `{flag}` has no {kind} value for this context: its variant `{variant}` has no payload"
                ),
                (Some(variant), Some(payload)) => format!(
                    "flag `{flag}` has no {kind} value for this context: the payload of its variant `{variant}` is {payload}"
                ),
            },
            ErrorCode::InvalidContext => format!("flag `{flag}`: {}", e.rule),
        }
    }

    /// Whether `flag` is on for `ctx`, with the caller's `default` on any
    /// error (an unknown flag, a context without the flag's stickiness
    /// attribute). Never fails.
    pub fn flag_bool<'f>(
        &self,
        flag: &'f str,
        ctx: &Context<'_>,
        default: bool,
    ) -> FlagResolution<'f, bool> {
        match self.bool_or_else(flag, ctx, |live, id, e| {
            self.bool_resolution(flag, default, live, id, e)
        }) {
            Ok((value, reason)) => FlagResolution {
                flag,
                value,
                reason,
                error: None,
                variant: None,
                message: None,
            },
            Err(full) => full,
        }
    }

    /// `flag` as a boolean for `ctx`: the common answer (no error, no
    /// variant) as the value and the reason, read field by field in the
    /// snapshot's closure and handed back in registers; any other answer
    /// is what `other` makes of the evaluation. The boolean typed getters
    /// of Rust and C; [`Cha::resolution`] for the others.
    #[inline(always)]
    pub(crate) fn bool_or_else<S>(
        &self,
        flag: &str,
        ctx: &Context<'_>,
        other: impl FnOnce(&Live, Option<FlagId>, &Evaluation<'_>) -> S,
    ) -> std::result::Result<(bool, Reason), S> {
        let slow = std::cell::Cell::new(None);
        let quick = self.resolve_with(flag, ctx, |live, id, e| {
            if e.reason != Reason::Error && !(e.enabled && e.variant.is_some()) {
                return Some((e.enabled, e.reason));
            }
            // The fields one by one: passing `e` itself made it live in
            // memory on every path, copied there (with wide loads of bytes
            // just written, a stall) even for the common answer.
            slow.set(Some(rebuilt(
                live, id, e.enabled, e.variant, e.payload, e.reason, e.rule, e.error, other,
            )));
            None
        });
        match quick {
            Some(answer) => Ok(answer),
            None => Err(slow
                .take()
                .expect("set when the answer is not the common one")),
        }
    }

    /// The resolution of a boolean evaluation with an error or a variant.
    #[inline(never)]
    fn bool_resolution<'f>(
        &self,
        flag: &'f str,
        default: bool,
        live: &Live,
        id: Option<FlagId>,
        e: &Evaluation<'_>,
    ) -> FlagResolution<'f, bool> {
        let (value, reason, error) = match e.value(ValueType::Bool) {
            Ok(FlagValue::Bool(b)) => (b, e.reason, None),
            Ok(_) => (default, Reason::Error, Some(ErrorCode::TypeMismatch)),
            Err(Fallback { reason, error }) => (default, reason, error),
        };
        FlagResolution {
            flag,
            value,
            reason,
            error,
            variant: e
                .variant
                .filter(|_| e.enabled)
                .map(|name| shared_variant(live, id, name)),
            message: error.map(|code| self.resolution_message(flag, ValueType::Bool, code, e)),
        }
    }

    /// The string payload (or the name) of the variant `flag` gives `ctx`,
    /// or `default`. Never fails.
    pub fn flag_string<'f>(
        &self,
        flag: &'f str,
        ctx: &Context<'_>,
        default: &str,
    ) -> FlagResolution<'f, String> {
        self.resolution(
            flag,
            ctx,
            ValueType::String,
            default.to_string(),
            |v| match v {
                FlagValue::String(s) => Some(s.to_string()),
                _ => None,
            },
        )
    }

    /// The number payload of the variant `flag` gives `ctx`, or `default`.
    /// Never fails.
    pub fn flag_double<'f>(
        &self,
        flag: &'f str,
        ctx: &Context<'_>,
        default: f64,
    ) -> FlagResolution<'f, f64> {
        self.resolution(flag, ctx, ValueType::Double, default, |v| match v {
            FlagValue::Double(d) => Some(d),
            _ => None,
        })
    }

    /// The whole-number payload of the variant `flag` gives `ctx`, or
    /// `default`. Never fails.
    pub fn flag_int<'f>(
        &self,
        flag: &'f str,
        ctx: &Context<'_>,
        default: i64,
    ) -> FlagResolution<'f, i64> {
        self.resolution(flag, ctx, ValueType::Int, default, |v| match v {
            FlagValue::Int(i) => Some(i),
            _ => None,
        })
    }

    /// The payload (any JSON; the name as a string when it has none) of
    /// the variant `flag` gives `ctx`, or `default`. Never fails.
    pub fn flag_json<'f>(
        &self,
        flag: &'f str,
        ctx: &Context<'_>,
        default: serde_json::Value,
    ) -> FlagResolution<'f, serde_json::Value> {
        self.resolution(flag, ctx, ValueType::Json, default, |v| match v {
            FlagValue::Json(j) => Some(j.to_value()),
            _ => None,
        })
    }

    /// The value of `flag` as `kind`, the context as JSON (as
    /// `cha_flag_evaluate` takes it) and the value and default as JSON:
    /// the one call behind the CLI and Python. A context that does not
    /// read serves the default with error `INVALID_CONTEXT`. Never fails.
    pub fn flag_value_json<'f>(
        &self,
        flag: &'f str,
        context_json: Option<&str>,
        kind: ValueType,
        default: serde_json::Value,
    ) -> FlagResolution<'f, serde_json::Value> {
        let ctx = match context_json.map(OwnedContext::from_json).transpose() {
            Ok(ctx) => ctx.unwrap_or_default(),
            Err(e) => {
                return FlagResolution {
                    flag,
                    value: default,
                    reason: Reason::Error,
                    error: Some(ErrorCode::InvalidContext),
                    variant: None,
                    message: Some(e.message().to_string()),
                };
            }
        };
        ctx.with_context(|ctx| match kind {
            ValueType::Json => self.flag_json(flag, ctx, default),
            _ => self.resolution(flag, ctx, kind, default, |v| match (kind, v) {
                (ValueType::Bool, FlagValue::Bool(b)) => Some(b.into()),
                (ValueType::String, FlagValue::String(s)) => Some(s.into()),
                (ValueType::Double, FlagValue::Double(d)) => {
                    serde_json::Number::from_f64(d).map(Into::into)
                }
                (ValueType::Int, FlagValue::Int(i)) => Some(i.into()),
                _ => None,
            }),
        })
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
        let segments: Vec<Segment> = definitions::load_parsed(tx, SEGMENT_KIND)?;
        crate::config::validate_flag_set(&set, &segments)?;
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

/// `other` of the evaluation made of these fields, out of line (see
/// [`Cha::bool_or_else`]).
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn rebuilt<S>(
    live: &Live,
    id: Option<FlagId>,
    enabled: bool,
    variant: Option<&str>,
    payload: Option<&serde_json::Value>,
    reason: Reason,
    rule: &str,
    error: Option<ErrorCode>,
    other: impl FnOnce(&Live, Option<FlagId>, &Evaluation<'_>) -> S,
) -> S {
    let e = Evaluation {
        enabled,
        variant,
        payload,
        reason,
        rule,
        error,
    };
    other(live, id, &e)
}

/// The name of variant `name` of flag `id` as the snapshot shares it: the
/// flag's own, or the linked experiment's; a copy only for a name neither
/// knows (never, for a snapshot's own evaluation).
fn shared_variant(live: &Live, id: Option<FlagId>, name: &str) -> Arc<str> {
    let Some(id) = id else {
        return name.into();
    };
    if let Some(shared) = live.flags.variant_name(id, name) {
        return shared.clone();
    }
    live.flags
        .definition(id)
        .and_then(|d| d.experiment.as_deref())
        .and_then(|experiment| live.experiments.get(experiment))
        .and_then(|(compiled, _)| {
            compiled
                .variants
                .iter()
                .find(|v| &*v.name == name)
                .map(|v| v.name.clone())
        })
        .unwrap_or_else(|| name.into())
}

fn stored_definition(conn: &rusqlite::Connection, name: &str) -> Result<Option<FlagDefinition>> {
    definitions::get(conn, KIND, name)?
        .map(|f| f.parse())
        .transpose()
}

/// Compiles the stored flags and segments for the live snapshot.
pub(crate) fn compile(conn: &rusqlite::Connection) -> Result<FlagSet> {
    crate::config::compile_flag_set(
        definitions::load_parsed(conn, KIND)?,
        definitions::load_parsed(conn, SEGMENT_KIND)?,
        host_name(),
    )
}

/// The name of this machine, read once: what `hostname` constraints (and
/// Unleash's applicationHostname strategy) compare when the context has
/// no `hostname` property.
pub(crate) fn host_name() -> Option<&'static str> {
    static HOST: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        let mut buffer = [0u8; 256];
        // SAFETY: the buffer is writable for its length; gethostname
        // NUL-terminates what fits.
        let rc = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
        if rc != 0 {
            return None;
        }
        let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
        std::str::from_utf8(&buffer[..end])
            .ok()
            .filter(|h| !h.is_empty())
            .map(str::to_owned)
    })
    .as_deref()
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
    /// `name` as a C string interned in the handle: valid until it closes
    /// (the variant names the C ABI hands out).
    pub(crate) fn c_name(&self, name: &str) -> *const std::ffi::c_char {
        let mut interned = self
            .inner
            .interned
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        interned
            .entry(name.into())
            .or_insert_with(|| std::ffi::CString::new(name).unwrap_or_default().into())
            .as_ptr()
    }

    /// `NotFound` for flag `name`, with a deployed flag close to it: the
    /// names of the snapshot, without the store's lock.
    fn flag_not_found(&self, name: &str) -> Error {
        let live = self.inner.live.load();
        let known = live.flags.definitions().iter().map(|d| d.name.as_str());
        Error::not_found(format!(
            "flag `{}` does not exist{}",
            excerpt(name),
            did_you_mean(name, known)
        ))
    }
}

/// `NotFound` for flag `name`, with a stored flag close to it.
fn stored_flag_not_found(conn: &rusqlite::Connection, name: &str) -> Error {
    let known = definitions::names(conn, KIND).unwrap_or_default();
    Error::not_found(format!(
        "flag `{}` does not exist{}",
        excerpt(name),
        did_you_mean(name, known.iter().map(String::as_str))
    ))
}

pub(crate) fn check_actor(actor: &str) -> Result<()> {
    if actor.trim().is_empty() {
        return Err(Error::invalid_argument(
            "actor is empty: say who makes the change",
        ));
    }
    check_bytes("actor", actor, MAX_ACTOR_BYTES).map_err(Error::invalid_argument)
}
