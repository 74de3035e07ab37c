//! Evaluating a compiled flag for a context: no allocation, no I/O, no
//! locks. Everything returned borrows from the [`FlagSet`].

use serde::Serialize;

use super::compile::{CompiledFlag, FlagId, FlagSet, Rule};
use super::context::Context;
pub use super::context::Now;
use super::rules::{CompiledRule, Scope, VariantSet};
use crate::common::bucket::BUCKETS;

/// Why a flag has its value, after OpenFeature's resolution reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Reason {
    /// The kill switch is off (`enabled: false`).
    Disabled,
    /// A boolean flag: the same value for everyone.
    Static,
    /// A targeting rule, or a user or group rule of a user_group flag,
    /// decided.
    TargetingMatch,
    /// A percentage or variant split decided (pseudorandom, sticky).
    Split,
    /// The time window or a schedule step of a time_based flag decided.
    Schedule,
    /// A prerequisite flag is not as this flag requires (off, on, or
    /// without the required variant).
    PrerequisiteFailed,
    /// No rule matched: the flag's `default`.
    Default,
    /// The flag could not be evaluated; see the error code. The value is
    /// the flag's `default` (false for an unknown flag).
    Error,
}

impl Reason {
    /// The name as in JSON and C (`"TARGETING_MATCH"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Disabled => "DISABLED",
            Reason::Static => "STATIC",
            Reason::TargetingMatch => "TARGETING_MATCH",
            Reason::Split => "SPLIT",
            Reason::Schedule => "SCHEDULE",
            Reason::PrerequisiteFailed => "PREREQUISITE_FAILED",
            Reason::Default => "DEFAULT",
            Reason::Error => "ERROR",
        }
    }
}

/// Why an evaluation failed, after OpenFeature's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// No flag has that name (or the id is not from this set).
    FlagNotFound,
    /// A variant was asked of a flag that has no variants, or a typed value
    /// of a flag whose value has another type.
    TypeMismatch,
    /// The context lacks what the flag needs (its stickiness attribute), or
    /// could not be read.
    InvalidContext,
}

impl ErrorCode {
    /// The name as in JSON and C (`"FLAG_NOT_FOUND"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::FlagNotFound => "FLAG_NOT_FOUND",
            ErrorCode::TypeMismatch => "TYPE_MISMATCH",
            ErrorCode::InvalidContext => "INVALID_CONTEXT",
        }
    }
}

/// The outcome of one evaluation; strings borrow from the [`FlagSet`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation<'a> {
    pub enabled: bool,
    /// The variant of an a_b_test flag.
    pub variant: Option<&'a str>,
    /// The payload of that variant, if it has one.
    pub payload: Option<&'a serde_json::Value>,
    pub reason: Reason,
    /// Which rule decided, in a few words ("include_groups: beta_testers").
    pub rule: &'a str,
    /// Why it could not be evaluated (with reason `ERROR`); or, with the
    /// flag on, why it has no variant (`INVALID_CONTEXT`: the unit lacks
    /// the variants' stickiness attribute).
    pub error: Option<ErrorCode>,
}

/// The JSON form of an evaluation:
/// `{"flag","enabled","variant","reason","rule","error"}` (+ `"payload"` when set).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct EvaluationReport<'a> {
    pub flag: &'a str,
    pub enabled: bool,
    pub variant: Option<&'a str>,
    pub reason: Reason,
    pub rule: &'a str,
    pub error: Option<ErrorCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<&'a serde_json::Value>,
}

impl<'a> Evaluation<'a> {
    pub(crate) fn new(enabled: bool, reason: Reason, rule: &'a str) -> Self {
        Evaluation {
            enabled,
            variant: None,
            payload: None,
            reason,
            rule,
            error: None,
        }
    }

    pub(crate) fn error(enabled: bool, code: ErrorCode, rule: &'a str) -> Self {
        Evaluation {
            error: Some(code),
            ..Evaluation::new(enabled, Reason::Error, rule)
        }
    }

    /// The evaluation of a flag that does not exist: off, `FLAG_NOT_FOUND`.
    pub fn not_found() -> Evaluation<'static> {
        Evaluation::error(false, ErrorCode::FlagNotFound, "no such flag")
    }

    /// The serialisable report of this evaluation of `flag`.
    pub fn report<'b>(&self, flag: &'b str) -> EvaluationReport<'b>
    where
        'a: 'b,
    {
        EvaluationReport {
            flag,
            enabled: self.enabled,
            variant: self.variant,
            reason: self.reason,
            rule: self.rule,
            error: self.error,
            payload: self.payload,
        }
    }
}

impl FlagSet {
    /// Evaluates flag `id` for `ctx` at `now_ms` (Unix ms; `ctx.current_time_ms`
    /// wins when set). Never allocates, never fails: problems come back as
    /// reason `ERROR` with an error code.
    ///
    /// Order: kill switch, then prerequisites (each evaluated for the same
    /// context), then the flag's own rule.
    ///
    /// Inlined, so that a caller reads the fields it needs where they were
    /// written instead of copying the whole evaluation out of a call: such
    /// a copy re-read bytes just written one by one with wider loads, a
    /// store-forwarding stall of several nanoseconds.
    #[inline(always)]
    pub fn evaluate(&self, id: FlagId, ctx: &Context<'_>, now: impl Into<Now>) -> Evaluation<'_> {
        let Some(flag) = self.flags.get(id.0 as usize) else {
            return Evaluation::not_found();
        };
        let now = ctx.current_time_ms.map_or(now.into(), Now::At);
        self.evaluate_flag(flag, ctx, now)
    }

    /// [`FlagSet::evaluate`] by name; an unknown name gives `FLAG_NOT_FOUND`.
    pub fn evaluate_name(
        &self,
        name: &str,
        ctx: &Context<'_>,
        now: impl Into<Now>,
    ) -> Evaluation<'_> {
        match self.lookup(name) {
            Some(id) => self.evaluate(id, ctx, now),
            None => Evaluation::not_found(),
        }
    }

    /// Whether flag `id` is on: [`FlagSet::evaluate`] without the details.
    #[inline]
    pub fn is_enabled(&self, id: FlagId, ctx: &Context<'_>, now: impl Into<Now>) -> bool {
        self.evaluate(id, ctx, now).enabled
    }

    /// Evaluates a flag for its variant. A flag that can give no variant
    /// (no a_b_test split, no variants of its own or of its rules) gives
    /// reason `ERROR`, `TYPE_MISMATCH` (and its value as `enabled`).
    pub fn evaluate_variant(
        &self,
        id: FlagId,
        ctx: &Context<'_>,
        now: impl Into<Now>,
    ) -> Evaluation<'_> {
        let evaluation = self.evaluate(id, ctx, now);
        match self.flags.get(id.0 as usize) {
            Some(CompiledFlag {
                rule: Rule::Experiment(_),
                ..
            })
            | None => evaluation,
            Some(_) if !self.variant_names(id).is_empty() => evaluation,
            Some(_) => Evaluation::error(
                evaluation.enabled,
                ErrorCode::TypeMismatch,
                "flag has no variants",
            ),
        }
    }

    /// A flag without targeting (no prerequisites, rules or variants) takes
    /// the short way: its type decides, inline. The rest is out of line, so
    /// that a plain flag's check carries none of it.
    #[inline(always)]
    fn evaluate_flag<'s>(
        &'s self,
        flag: &'s CompiledFlag,
        ctx: &Context<'_>,
        now: Now,
    ) -> Evaluation<'s> {
        if flag.plain {
            if !flag.enabled {
                return Evaluation::new(false, Reason::Disabled, "enabled: false");
            }
            return self.evaluate_type(flag, ctx, now);
        }
        let flag = flag.in_environment(ctx.environment);
        if !flag.enabled {
            return Evaluation::new(false, Reason::Disabled, "enabled: false");
        }
        if !flag.prerequisites.is_empty()
            || !flag.rules.is_empty()
            || flag.rules_only
            || flag.variants.is_some()
        {
            return self.evaluate_targeted(flag, ctx, now);
        }
        self.evaluate_type(flag, ctx, now)
    }

    /// `evaluate_flag` of an enabled flag (in the context's environment)
    /// with prerequisites, rules or variants.
    #[inline(never)]
    fn evaluate_targeted<'s>(
        &'s self,
        flag: &'s CompiledFlag,
        ctx: &Context<'_>,
        now: Now,
    ) -> Evaluation<'s> {
        for prerequisite in &flag.prerequisites {
            // Validation rejected cycles, so this recursion ends.
            let required = &self.flags[prerequisite.id.0 as usize];
            let parent = self.evaluate_flag(required, ctx, now);
            let met = if prerequisite.enabled {
                parent.enabled
                    && (prerequisite.variants.is_empty()
                        || parent
                            .variant
                            .is_some_and(|v| prerequisite.variants.iter().any(|w| **w == *v)))
            } else {
                !parent.enabled
            };
            if !met {
                return Evaluation::new(false, Reason::PrerequisiteFailed, &prerequisite.rule);
            }
        }
        if !flag.rules.is_empty() || flag.rules_only {
            let scope = Scope {
                now,
                host: self.host.as_deref(),
            };
            if let Some(rule) = flag.rules.iter().find(|r| r.matches(ctx, &scope)) {
                return self.serve_rule(flag, rule, ctx, &scope);
            }
            if flag.rules_only {
                // No rule matched: the flag's default; on, its own variants
                // apply, as for any unit it is on for.
                let e = Evaluation::new(flag.default, Reason::Default, "no rule matched");
                return match &flag.variants {
                    Some(set) if e.enabled => with_variant(e, set, ctx, &scope),
                    _ => e,
                };
            }
        }
        let e = self.evaluate_type(flag, ctx, now);
        match &flag.variants {
            Some(set) if e.enabled && e.variant.is_none() => {
                let scope = Scope {
                    now,
                    host: self.host.as_deref(),
                };
                with_variant(e, set, ctx, &scope)
            }
            _ => e,
        }
    }

    /// What rule `rule`, which matched, serves: off, or on with its own
    /// variants, the flag's, or (an a_b_test flag) the flag's split. Out
    /// of line, so that a flag without rules carries none of it.
    #[inline(never)]
    fn serve_rule<'s>(
        &'s self,
        flag: &'s CompiledFlag,
        rule: &'s CompiledRule,
        ctx: &Context<'_>,
        scope: &Scope<'_>,
    ) -> Evaluation<'s> {
        if !rule.serve {
            return Evaluation::new(false, Reason::TargetingMatch, &rule.rule);
        }
        let on = Evaluation::new(true, Reason::TargetingMatch, &rule.rule);
        match (&rule.variants, &flag.variants, &flag.rule) {
            (Some(set), _, _) | (None, Some(set), _) => with_variant(on, set, ctx, scope),
            (None, None, Rule::AbTest(_) | Rule::Experiment(_)) => {
                self.evaluate_type(flag, ctx, scope.now)
            }
            (None, None, _) => on,
        }
    }

    /// The flag's type's own rule.
    #[inline]
    fn evaluate_type<'s>(
        &'s self,
        flag: &'s CompiledFlag,
        ctx: &Context<'_>,
        now: Now,
    ) -> Evaluation<'s> {
        match &flag.rule {
            Rule::Boolean => Evaluation::new(true, Reason::Static, "boolean: on"),
            Rule::Percentage(split) => match (split.hundredths, ctx.unit(&split.unit)) {
                // 0% and 100% are the same for every unit: no unit is needed.
                (0, _) => Evaluation::new(false, Reason::Split, &split.rule),
                (BUCKETS.., _) => Evaluation::new(true, Reason::Split, &split.rule),
                (h, Some(unit)) => Evaluation::new(
                    unit.bucket(&split.seed, BUCKETS) < h,
                    Reason::Split,
                    &split.rule,
                ),
                (_, None) => {
                    Evaluation::error(flag.default, ErrorCode::InvalidContext, &split.missing_rule)
                }
            },
            Rule::UserGroup(groups) => {
                let user = ctx.user_id.filter(|u| !u.is_empty());
                let listed = |users: &[Box<str>]| {
                    user.is_some_and(|u| users.binary_search_by(|x| (**x).cmp(u)).is_ok())
                };
                if listed(&groups.deny_users) {
                    return Evaluation::new(false, Reason::TargetingMatch, "deny_users");
                }
                if listed(&groups.allow_users) {
                    return Evaluation::new(true, Reason::TargetingMatch, "allow_users");
                }
                if let Some(g) = groups.exclude.iter().find(|g| ctx.in_group(&g.group)) {
                    return Evaluation::new(false, Reason::TargetingMatch, &g.rule);
                }
                if let Some(g) = groups.include.iter().find(|g| ctx.in_group(&g.group)) {
                    return Evaluation::new(true, Reason::TargetingMatch, &g.rule);
                }
                Evaluation::new(
                    flag.default,
                    Reason::Default,
                    "no user or group rule matched",
                )
            }
            Rule::AbTest(test) => {
                let Some(unit) = ctx.unit(&test.unit) else {
                    return Evaluation::error(
                        flag.default,
                        ErrorCode::InvalidContext,
                        &test.missing_rule,
                    );
                };
                let b = unit.bucket(&test.seed, BUCKETS);
                match test.variants.iter().find(|v| b < v.upper) {
                    Some(v) => Evaluation {
                        variant: Some(&v.name),
                        payload: v.payload.as_ref(),
                        ..Evaluation::new(v.enabled, Reason::Split, &v.rule)
                    },
                    // Weights add up to 100, so this is unreachable for validated sets.
                    None => Evaluation::new(flag.default, Reason::Default, "no variant"),
                }
            }
            Rule::Experiment(link) => match ctx.unit(&link.unit) {
                // The handle replaces this with the experiment's assignment.
                Some(_) => Evaluation::new(flag.default, Reason::Split, &link.rule),
                None => {
                    Evaluation::error(flag.default, ErrorCode::InvalidContext, &link.missing_rule)
                }
            },
            Rule::TimeBased(window) => {
                let now = now.ms();
                if window.start_ms.is_some_and(|start| now < start) {
                    return Evaluation::new(false, Reason::Schedule, "before start_time");
                }
                if window.end_ms.is_some_and(|end| now >= end) {
                    return Evaluation::new(false, Reason::Schedule, "at or after end_time");
                }
                if window.steps.is_empty() {
                    return Evaluation::new(true, Reason::Schedule, "within the time window");
                }
                // Steps are in increasing time order: the step in force is the last one begun.
                let begun = window.steps.partition_point(|s| s.at_ms <= now);
                let Some(step) = begun.checked_sub(1).map(|i| &window.steps[i]) else {
                    return Evaluation::new(
                        false,
                        Reason::Schedule,
                        "before the first schedule step",
                    );
                };
                match (step.hundredths, ctx.unit(&window.unit)) {
                    (0, _) => Evaluation::new(false, Reason::Schedule, &step.rule),
                    (BUCKETS.., _) => Evaluation::new(true, Reason::Schedule, &step.rule),
                    (h, Some(unit)) => Evaluation::new(
                        unit.bucket(&window.seed, BUCKETS) < h,
                        Reason::Schedule,
                        &step.rule,
                    ),
                    (_, None) => Evaluation::error(
                        flag.default,
                        ErrorCode::InvalidContext,
                        &window.missing_rule,
                    ),
                }
            }
        }
    }
}

/// `on` with the variant `set` gives `ctx`: its name and payload, off for a
/// variant that says `enabled: false`. A unit without the stickiness
/// attribute gets no variant: the flag stays on (as in Unleash, whose
/// `is_enabled` never looks at variants), with error `INVALID_CONTEXT` and
/// the rule saying which attribute was missing, so that a typed value
/// falls back to the caller's default.
fn with_variant<'s>(
    on: Evaluation<'s>,
    set: &'s VariantSet,
    ctx: &Context<'_>,
    scope: &Scope<'_>,
) -> Evaluation<'s> {
    match set.pick(ctx, scope) {
        Some(v) => Evaluation {
            enabled: v.enabled,
            variant: Some(&v.name),
            payload: v.payload.as_ref(),
            ..on
        },
        None => Evaluation {
            error: Some(ErrorCode::InvalidContext),
            rule: &set.missing_rule,
            ..on
        },
    }
}
