//! The feature-flag engine: pure, in memory, no I/O.
//!
//! Definitions ([`FlagDefinition`]) are read and validated by
//! `crate::config` (from `configs/feature_flags.yml` or from JSON updates);
//! they are compiled into an immutable [`FlagSet`], which the handle keeps
//! behind an atomic pointer and evaluates with [`FlagSet::evaluate`] —
//! without allocating. The engine reads no configuration itself.
//!
//! # Evaluation
//!
//! 1. `enabled: false` (the kill switch): off, reason `DISABLED`.
//! 2. Prerequisites, in order, for the same context: the first that is off
//!    makes this flag off, reason `PREREQUISITE_FAILED`.
//! 3. The flag's type:
//!    - `boolean`: on, reason `STATIC`.
//!    - `percentage`: the unit (the context attribute named by `stickiness`,
//!      `user_id` by default) is on when `murmur3_32("{seed}:{unit}", 0) %
//!      10000 < percentage × 100` (see [`crate::common::bucket`]); reason `SPLIT`. The seed
//!      defaults to the flag's name, so two flags at 25% pick independent
//!      users unless they share a `seed`.
//!    - `user_group`: `deny_users`, then `allow_users`, then
//!      `exclude_groups`, then `include_groups`; the first that matches
//!      decides, reason `TARGETING_MATCH`. Explicit users come first because
//!      they are more specific than groups; deny wins over allow. No match:
//!      the flag's `default`, reason `DEFAULT`.
//!    - `a_b_test`: the unit's bucket picks a variant by cumulative weight;
//!      the flag is on unless the variant says `enabled: false` (a control
//!      arm); reason `SPLIT`, with the variant and its payload.
//!    - `time_based`: off before `start_time` (inclusive) and from `end_time`
//!      (exclusive); inside, on for everyone, or, with a `schedule`, for the
//!      percentage of the step in force — the last step whose `at` is not
//!      after now; before the first step, 0%. Reason `SCHEDULE`.
//!
//! # A context without the stickiness attribute
//!
//! A split at 0% or 100% is the same for every unit, so it needs none: off
//! or on as configured. Any other split without its unit (no `user_id`, an
//! empty one, a missing property) cannot be sticky, so it serves the flag's
//! `default`, with reason `ERROR` and error code `INVALID_CONTEXT`; the rule
//! says which attribute was missing. Picking randomly instead (as Unleash's
//! "default" stickiness does) would flip a user's pipe sizing between runs.
//!
//! # Time
//!
//! `now_ms` is the caller's clock; a context's `current_time_ms` replaces it,
//! so schedules can be tested and previewed at any instant.

pub mod compile;
pub mod context;
pub mod evaluate;
pub mod model;
pub(crate) mod rules;
pub(crate) mod semver;
pub mod targeting;
pub mod value;

pub use compile::{FlagId, FlagSet};
pub use context::{Context, OwnedContext, PreparedContext};
pub use evaluate::{ErrorCode, Evaluation, EvaluationReport, Now, Reason};
pub use model::{
    FlagDefinition, FlagType, GuardAction, Guardrails, Hold, Metadata, RiskLevel, ScheduleStep,
    Variant,
};
pub use targeting::{
    Constraint, EnvironmentOverride, Operator, Prerequisite, Rule, Segment, VariantOverride,
};
pub use value::{Fallback, FlagValue, JsonValue, ValueType};
