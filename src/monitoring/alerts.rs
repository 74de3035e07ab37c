//! The alert state machine of one threshold rule, after Prometheus's:
//!
//! ```text
//!            breach                 breach held for `for_seconds`
//! inactive ─────────► pending ───────────────────────────────────► firing
//!    ▲                  │                                          │  ▲ │
//!    │   no breach      │               severity up or down:       │  └─┘ escalated /
//!    └──────────────────┘ (cleared)     the same incident           │      de-escalated
//!    ▲                                                             │
//!    └─────────────────────────────────────────────────────────────┘
//!                 clear of every threshold by the margin (resolved)
//! ```
//!
//! - The level of a value is the most severe threshold it breaches.
//! - While pending, the `for` clock runs from the first breach; the level
//!   may change without restarting it. With `for_seconds: 0` a breach fires
//!   at once.
//! - While firing, a more severe level escalates at once; a level is left
//!   only once the value is past its threshold by the rule's margin
//!   (`recovery_threshold`): de-escalated to the next level that still
//!   holds, or resolved when none does. A value hovering at a threshold
//!   therefore does not flap.
//! - No data follows the rule's [`NoData`] policy.
//!
//! [`evaluate_rule`] is pure: the caller passes the time, so transitions are
//! tested with any clock, and persists the state it returns.

use serde::{Deserialize, Serialize};

use super::model::{NoData, Severity, ThresholdRule};

/// Where a rule is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// No breach.
    #[default]
    Inactive,
    /// Breached, waiting out `for_seconds`.
    Pending,
    /// An incident is open.
    Firing,
}

impl AlertState {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }

    /// The state named `name`.
    pub fn from_name(name: &str) -> Option<AlertState> {
        [
            AlertState::Inactive,
            AlertState::Pending,
            AlertState::Firing,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// A rule's state between evaluations: what the store keeps, so that a
/// restart keeps the incident and the `for` clock.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct RuleState {
    pub state: AlertState,
    /// Pending: the level breached now; firing: the incident's severity.
    pub severity: Option<Severity>,
    /// Pending: when the breach began (the `for` clock); firing: when it fired.
    pub since_ms: Option<i64>,
    /// The value of the last evaluation (None: no data).
    pub value: Option<f64>,
    pub evaluated_at_ms: Option<i64>,
}

/// What one evaluation changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransitionKind {
    /// Inactive → pending.
    Pending,
    /// Pending → inactive, before firing.
    Cleared,
    /// Pending (or inactive, with `for_seconds: 0`) → firing: an incident opens.
    Firing,
    /// Firing at a more severe level.
    Escalated,
    /// Firing at a less severe level.
    Deescalated,
    /// Firing → inactive: the incident closes.
    Resolved,
}

impl TransitionKind {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            TransitionKind::Pending => "pending",
            TransitionKind::Cleared => "cleared",
            TransitionKind::Firing => "firing",
            TransitionKind::Escalated => "escalated",
            TransitionKind::Deescalated => "deescalated",
            TransitionKind::Resolved => "resolved",
        }
    }
}

/// A change of state, with what caused it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub kind: TransitionKind,
    /// The severity after the change (None once cleared or resolved).
    pub severity: Option<Severity>,
    /// The severity before it.
    pub previous_severity: Option<Severity>,
    /// The window's value (None: no data).
    pub value: Option<f64>,
    /// The threshold of `severity` (or, when resolving, of the level left).
    pub threshold: Option<f64>,
    pub at_ms: i64,
    /// Whether no data caused it (the rule's `no_data` policy).
    pub no_data: bool,
}

/// An incident: one rule firing, from the moment it fired until it
/// resolved (or was resolved by hand), at one or more severities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    pub id: i64,
    pub rule: String,
    pub metric: String,
    /// `firing` or `resolved`.
    pub state: String,
    /// The severity now (while firing) or when it resolved.
    pub severity: Severity,
    /// The most severe level it reached.
    pub max_severity: Severity,
    /// The value and threshold of the last change.
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    /// When the breach began (the start of pending).
    pub started_at_ms: i64,
    pub fired_at_ms: i64,
    pub resolved_at_ms: Option<i64>,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at_ms: Option<i64>,
    /// Who resolved it by hand (None: it resolved itself).
    pub resolved_by: Option<String>,
    /// One line for people.
    pub message: String,
}

/// One entry of the alert history: a transition of a rule, or a manual
/// acknowledgement or resolution. What callbacks receive, as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    pub id: i64,
    /// The incident, for `firing` and what follows it (None for `pending`
    /// and `cleared`, which open none).
    pub alert: Option<i64>,
    pub rule: String,
    pub metric: String,
    /// `pending`, `cleared`, `firing`, `escalated`, `deescalated`,
    /// `resolved`, `acknowledged` or `manually_resolved`.
    pub kind: String,
    pub severity: Option<Severity>,
    pub previous_severity: Option<Severity>,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    pub at_ms: i64,
    /// Who, for the manual ones.
    pub actor: Option<String>,
    pub no_data: bool,
    pub message: String,
}

/// The message of a transition of `rule`, for people.
pub fn transition_message(rule: &ThresholdRule, t: &Transition) -> String {
    let value = match t.value {
        Some(v) => format!(
            "{} {}",
            rule.aggregation.as_str(),
            super::text::short_number(v)
        ),
        None => "no data".to_string(),
    };
    let against = t
        .threshold
        .map(|th| {
            format!(
                " ({} {})",
                rule.comparison_operator.symbol(),
                super::text::short_number(th)
            )
        })
        .unwrap_or_default();
    let name = &rule.name;
    let window = rule.window_size_minutes;
    match (t.kind, t.severity) {
        (TransitionKind::Pending, Some(s)) => format!(
            "{name}: {value} over {window} min breaches {}{against}; firing after {} s",
            s.as_str(),
            rule.for_seconds
        ),
        (TransitionKind::Firing, Some(s)) => {
            format!(
                "{name}: {} alert: {value} over {window} min{against}",
                s.as_str()
            )
        }
        (TransitionKind::Escalated | TransitionKind::Deescalated, Some(s)) => format!(
            "{name}: {} from {} to {}: {value} over {window} min{against}",
            t.kind.as_str(),
            t.previous_severity.map_or("none", Severity::as_str),
            s.as_str()
        ),
        (TransitionKind::Cleared, _) => format!("{name}: cleared before firing: {value}"),
        _ => format!("{name}: resolved: {value} over {window} min"),
    }
}

/// The most severe level `value` breaches, for a rule currently at
/// `current`: levels at or below `current` are held with the margin, more
/// severe ones need a plain breach.
fn level(rule: &ThresholdRule, value: f64, current: Option<Severity>) -> Option<Severity> {
    let margin = rule.margin();
    Severity::DESCENDING.into_iter().find(|&s| {
        rule.threshold(s).is_some_and(|t| {
            if current.is_some_and(|c| s <= c) {
                rule.comparison_operator.holds_with_margin(value, t, margin)
            } else {
                rule.comparison_operator.holds(value, t)
            }
        })
    })
}

/// Evaluates `rule` at `now_ms` on its window's `value` (None: no data),
/// from `state`. Returns the new state and the transitions, in order (at
/// most two: a rule without a `for` goes from inactive to firing in one
/// evaluation, reported as `firing` alone).
pub fn evaluate_rule(
    rule: &ThresholdRule,
    state: &RuleState,
    value: Option<f64>,
    now_ms: i64,
) -> (RuleState, Vec<Transition>) {
    let mut next = RuleState {
        value,
        evaluated_at_ms: Some(now_ms),
        ..*state
    };
    let mut transitions = Vec::new();
    // The level the value (or the absence of one) stands at.
    let (target, no_data) = match value {
        Some(v) => {
            let current = (state.state == AlertState::Firing)
                .then_some(state.severity)
                .flatten();
            (level(rule, v, current), false)
        }
        None => match rule.no_data {
            NoData::KeepState => return (next, transitions),
            NoData::Ok => (None, true),
            NoData::Alert(severity) => (Some(severity), true),
        },
    };
    let event =
        |kind, severity: Option<Severity>, previous, threshold_of: Option<Severity>| Transition {
            kind,
            severity,
            previous_severity: previous,
            value,
            threshold: threshold_of.and_then(|s| rule.threshold(s)),
            at_ms: now_ms,
            no_data,
        };
    let for_ms = i64::from(rule.for_seconds) * 1000;
    match (state.state, target) {
        (AlertState::Inactive, None) => {}
        (AlertState::Inactive, Some(level)) => {
            if for_ms == 0 {
                next.state = AlertState::Firing;
                next.severity = Some(level);
                next.since_ms = Some(now_ms);
                transitions.push(event(
                    TransitionKind::Firing,
                    Some(level),
                    None,
                    Some(level),
                ));
            } else {
                next.state = AlertState::Pending;
                next.severity = Some(level);
                next.since_ms = Some(now_ms);
                transitions.push(event(
                    TransitionKind::Pending,
                    Some(level),
                    None,
                    Some(level),
                ));
            }
        }
        (AlertState::Pending, None) => {
            next.state = AlertState::Inactive;
            next.severity = None;
            next.since_ms = None;
            transitions.push(event(
                TransitionKind::Cleared,
                None,
                state.severity,
                state.severity,
            ));
        }
        (AlertState::Pending, Some(level)) => {
            next.severity = Some(level);
            let since = state.since_ms.unwrap_or(now_ms);
            if now_ms - since >= for_ms {
                next.state = AlertState::Firing;
                next.since_ms = Some(now_ms);
                transitions.push(event(
                    TransitionKind::Firing,
                    Some(level),
                    state.severity,
                    Some(level),
                ));
            }
        }
        (AlertState::Firing, None) => {
            next.state = AlertState::Inactive;
            next.severity = None;
            next.since_ms = None;
            transitions.push(event(
                TransitionKind::Resolved,
                None,
                state.severity,
                state.severity,
            ));
        }
        (AlertState::Firing, Some(level)) => {
            next.severity = Some(level);
            let kind = match state.severity {
                Some(before) if level > before => Some(TransitionKind::Escalated),
                Some(before) if level < before => Some(TransitionKind::Deescalated),
                Some(_) => None,
                None => Some(TransitionKind::Escalated),
            };
            if let Some(kind) = kind {
                transitions.push(event(kind, Some(level), state.severity, Some(level)));
            }
        }
    }
    (next, transitions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitoring::model::{Comparison, WindowAggregation};

    fn rule() -> ThresholdRule {
        ThresholdRule {
            name: "pipe_sizing_time_ms".into(),
            metric_name: "pipe_sizing_time_ms".into(),
            description: String::new(),
            tags: Default::default(),
            aggregation: WindowAggregation::P95,
            comparison_operator: Comparison::GreaterThan,
            warning_threshold: Some(1000.0),
            error_threshold: Some(5000.0),
            critical_threshold: Some(10000.0),
            recovery_threshold: Some(800.0),
            window_size_minutes: 5,
            evaluation_interval_seconds: 60,
            for_seconds: 120,
            no_data: NoData::KeepState,
            recommendation: None,
        }
    }

    fn run(
        rule: &ThresholdRule,
        steps: &[(i64, Option<f64>)],
    ) -> Vec<(i64, &'static str, Option<Severity>)> {
        let mut state = RuleState::default();
        let mut out = Vec::new();
        for &(at, value) in steps {
            let (next, events) = evaluate_rule(rule, &state, value, at);
            out.extend(events.iter().map(|e| (at, e.kind.as_str(), e.severity)));
            state = next;
        }
        out
    }

    #[test]
    fn pending_then_firing_then_escalation_and_recovery_with_hysteresis() {
        use Severity::*;
        let steps = [
            (0, Some(500.0)),
            (60_000, Some(1200.0)),   // breach: pending
            (120_000, Some(1100.0)),  // 60 s of 120
            (180_000, Some(6000.0)),  // 120 s: fires at the level of now
            (240_000, Some(12000.0)), // escalates at once
            (300_000, Some(9900.0)),  // below critical but within the margin (200)
            (360_000, Some(9000.0)),  // clear by 1000 ≥ 200: de-escalates to error
            (420_000, Some(950.0)),   // below warning, within the margin: stays warning
            (480_000, Some(790.0)),   // past the recovery threshold: resolved
        ];
        assert_eq!(
            run(&rule(), &steps),
            [
                (60_000, "pending", Some(Warning)),
                (180_000, "firing", Some(Error)),
                (240_000, "escalated", Some(Critical)),
                (360_000, "deescalated", Some(Error)),
                (420_000, "deescalated", Some(Warning)),
                (480_000, "resolved", None),
            ]
        );
    }

    #[test]
    fn a_short_breach_clears_and_restarts_the_clock() {
        let steps = [
            (0, Some(1500.0)),
            (60_000, Some(900.0)),
            (120_000, Some(1500.0)),
            (180_000, Some(1500.0)),
            (240_000, Some(1500.0)),
        ];
        assert_eq!(
            run(&rule(), &steps),
            [
                (0, "pending", Some(Severity::Warning)),
                (60_000, "cleared", None),
                (120_000, "pending", Some(Severity::Warning)),
                (240_000, "firing", Some(Severity::Warning)),
            ]
        );
    }

    #[test]
    fn no_data_policies() {
        let mut r = rule();
        r.for_seconds = 0;
        let firing = [(0, Some(2000.0)), (60_000, None)];
        // keep_state: still firing.
        assert_eq!(run(&r, &firing), [(0, "firing", Some(Severity::Warning))]);
        r.no_data = NoData::Ok;
        assert_eq!(
            run(&r, &firing),
            [
                (0, "firing", Some(Severity::Warning)),
                (60_000, "resolved", None)
            ]
        );
        r.no_data = NoData::Alert(Severity::Critical);
        assert_eq!(
            run(&r, &[(0, None), (60_000, Some(100.0))]),
            [
                (0, "firing", Some(Severity::Critical)),
                (60_000, "resolved", None)
            ]
        );
        let (_, events) = evaluate_rule(&r, &RuleState::default(), None, 5);
        assert!(events[0].no_data);
    }

    #[test]
    fn less_than_rules_mirror() {
        let mut r = rule();
        r.comparison_operator = Comparison::LessThan;
        r.warning_threshold = Some(50.0);
        r.error_threshold = Some(20.0);
        r.critical_threshold = None;
        r.recovery_threshold = Some(60.0);
        r.for_seconds = 0;
        assert_eq!(
            run(&r, &[(0, Some(10.0)), (1, Some(55.0)), (2, Some(61.0))]),
            [
                (0, "firing", Some(Severity::Error)),
                (1, "deescalated", Some(Severity::Warning)),
                (2, "resolved", None),
            ]
        );
    }
}
