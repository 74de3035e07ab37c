//! Alert evaluation, manual acknowledgement and resolution, and the alert
//! history, on the handle. The state machine is the engine's
//! ([`crate::monitoring::alerts`]); here its input is read from the stored
//! windows and its state and transitions are stored, in one transaction per
//! evaluation.

use std::collections::BTreeMap;

use crate::common::time::check_time_ms;
use crate::error::{Error, Result};
use crate::handle::{Cha, Inner, check_actor};
use crate::monitoring::alerts::{
    AlertEvent, AlertRecord, AlertState, RuleState, Transition, TransitionKind, evaluate_rule,
    transition_message,
};
use crate::monitoring::model::{MetricKind, ThresholdRule, parse_tags};
use crate::monitoring::report::window_value;
use crate::monitoring::window::WindowStats;
use crate::store::monitoring as sql;

/// The value of `rule`'s aggregation over its window ending at `now_ms`:
/// the one-minute windows that started in the last `window_size_minutes`
/// minutes (the current one included), of the series its tags select.
pub(crate) fn rule_value(
    conn: &rusqlite::Connection,
    rule: &ThresholdRule,
    now_ms: i64,
) -> Result<Option<f64>> {
    let series = sql::series_of(conn, &rule.metric_name)?;
    let mut kind = MetricKind::Histogram;
    let wanted: Vec<i64> = series
        .iter()
        .filter(|s| parse_tags(Some(&s.tags)).is_ok_and(|tags| rule.matches(&tags)))
        .map(|s| {
            kind = MetricKind::from_name(&s.kind).unwrap_or(kind);
            s.id
        })
        .collect();
    let mut merged = WindowStats::new();
    if !wanted.is_empty() {
        let start = now_ms - rule.window_ms() + 1;
        for (id, w) in sql::windows_of(conn, &rule.metric_name, start, now_ms + 1)? {
            if wanted.contains(&id) {
                merged.merge(&w);
            }
        }
    }
    let seconds = rule.window_ms() as f64 / 1000.0;
    Ok(window_value(&merged, kind, rule.aggregation, seconds))
}

impl Inner {
    /// Evaluates the rules at `now_ms` (only those due by their
    /// `evaluation_interval_seconds`, with `only_due`), stores their state
    /// and transitions, and returns the events made. This handle's buffered
    /// samples are persisted first, so that they count.
    pub(crate) fn evaluate_alerts(&self, now_ms: i64, only_due: bool) -> Result<Vec<AlertEvent>> {
        let config = self.monitoring_config()?;
        let due = |state: &RuleState, rule: &ThresholdRule| {
            !only_due
                || state.evaluated_at_ms.is_none_or(|t| {
                    now_ms - t >= i64::from(rule.evaluation_interval_seconds) * 1000 || now_ms < t
                })
        };
        // A read first: when nothing is due, no flush and no write lock.
        let states = sql::rule_states(&self.store.conn())?;
        let orphans = states.iter().any(|(name, (s, _))| {
            s.state == AlertState::Firing && !config.rules.iter().any(|r| &r.name == name)
        });
        let any_due = config.rules.iter().any(|r| {
            let state = states.get(&r.name).map(|s| s.0).unwrap_or_default();
            due(&state, r)
        });
        if !any_due && !orphans {
            return Ok(Vec::new());
        }
        crate::handle::recorder::Flush::flush(&self.recorder.monitoring, &self.store)?;
        self.store.write(|tx| {
            let states = sql::rule_states(tx)?;
            let mut events = Vec::new();
            for rule in &config.rules {
                let (state, alert) = states.get(&rule.name).copied().unwrap_or_default();
                if !due(&state, rule) {
                    continue;
                }
                let value = rule_value(tx, rule, now_ms)?;
                let (next, transitions) = evaluate_rule(rule, &state, value, now_ms);
                let mut alert = alert;
                for t in &transitions {
                    events.push(apply(tx, rule, &state, t, &mut alert)?);
                }
                sql::put_rule_state(tx, &rule.name, &next, alert)?;
            }
            // Incidents of rules no longer deployed resolve.
            for (name, (state, alert)) in &states {
                if state.state != AlertState::Firing || config.rules.iter().any(|r| &r.name == name)
                {
                    continue;
                }
                if let Some(id) = alert {
                    let record = sql::alert(tx, *id)?;
                    sql::resolve_alert(tx, *id, now_ms, None, None)?;
                    let event = AlertEvent {
                        id: 0,
                        alert: Some(*id),
                        rule: name.clone(),
                        metric: record.map(|r| r.metric).unwrap_or_default(),
                        kind: TransitionKind::Resolved.as_str().into(),
                        severity: None,
                        previous_severity: state.severity,
                        value: None,
                        threshold: None,
                        at_ms: now_ms,
                        actor: None,
                        no_data: false,
                        message: format!("{name}: resolved: the rule is no longer deployed"),
                    };
                    events.push(stored(tx, event)?);
                }
                sql::put_rule_state(
                    tx,
                    name,
                    &RuleState {
                        evaluated_at_ms: Some(now_ms),
                        ..RuleState::default()
                    },
                    None,
                )?;
            }
            Ok(events)
        })
    }
}

/// Stores `event` and returns it with its id.
fn stored(tx: &rusqlite::Transaction<'_>, mut event: AlertEvent) -> Result<AlertEvent> {
    event.id = sql::insert_event(tx, &event)?;
    Ok(event)
}

/// Stores transition `t` of `rule` (from `before`): opens, changes or
/// closes the incident `alert`, and appends the event.
fn apply(
    tx: &rusqlite::Transaction<'_>,
    rule: &ThresholdRule,
    before: &RuleState,
    t: &Transition,
    alert: &mut Option<i64>,
) -> Result<AlertEvent> {
    let message = transition_message(rule, t);
    match t.kind {
        TransitionKind::Firing => {
            let severity = t.severity.unwrap_or(crate::monitoring::Severity::Warning);
            let started = if before.state == AlertState::Pending {
                before.since_ms.unwrap_or(t.at_ms)
            } else {
                t.at_ms
            };
            *alert = Some(sql::open_alert(
                tx,
                &AlertRecord {
                    id: 0,
                    rule: rule.name.clone(),
                    metric: rule.metric_name.clone(),
                    state: "firing".into(),
                    severity,
                    max_severity: severity,
                    value: t.value,
                    threshold: t.threshold,
                    started_at_ms: started,
                    fired_at_ms: t.at_ms,
                    resolved_at_ms: None,
                    acknowledged_by: None,
                    acknowledged_at_ms: None,
                    resolved_by: None,
                    message: message.clone(),
                },
            )?);
        }
        TransitionKind::Escalated | TransitionKind::Deescalated => {
            if let (Some(id), Some(severity)) = (*alert, t.severity) {
                let escalated = t.kind == TransitionKind::Escalated;
                sql::change_severity(tx, id, severity, escalated, t.value, t.threshold, &message)?;
            }
        }
        TransitionKind::Resolved => {
            if let Some(id) = *alert {
                sql::resolve_alert(tx, id, t.at_ms, None, t.value)?;
            }
        }
        TransitionKind::Pending | TransitionKind::Cleared => {}
    }
    let event = AlertEvent {
        id: 0,
        alert: match t.kind {
            TransitionKind::Pending | TransitionKind::Cleared => None,
            _ => *alert,
        },
        rule: rule.name.clone(),
        metric: rule.metric_name.clone(),
        kind: t.kind.as_str().into(),
        severity: t.severity,
        previous_severity: t.previous_severity,
        value: t.value,
        threshold: t.threshold,
        at_ms: t.at_ms,
        actor: None,
        no_data: t.no_data,
        message,
    };
    if t.kind == TransitionKind::Resolved {
        *alert = None;
    }
    stored(tx, event)
}

/// The filter of [`Cha::alerts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AlertQuery {
    /// From (epoch ms; 0: the beginning).
    pub start_ms: i64,
    /// To (epoch ms; 0: now).
    pub end_ms: i64,
    /// Only the incidents firing now.
    pub firing_only: bool,
    /// At most this many, newest first (0: 100).
    pub limit: u32,
}

impl AlertQuery {
    pub(crate) fn range(&self) -> Result<(i64, i64, u32)> {
        check_time_ms("start_ms", self.start_ms)?;
        check_time_ms("end_ms", self.end_ms)?;
        let end = if self.end_ms == 0 {
            i64::MAX
        } else {
            self.end_ms
        };
        let limit = if self.limit == 0 { 100 } else { self.limit };
        Ok((self.start_ms, end, limit))
    }
}

impl Cha {
    /// Evaluates every rule now (at `now_ms`; 0: the clock), whether due
    /// or not, stores the transitions and returns their events: the
    /// evaluator's work on demand, and the way tests drive its clock.
    ///
    /// # Errors
    /// `Storage`, `Busy`.
    pub fn evaluate_alerts_at(&self, now_ms: i64) -> Result<Vec<AlertEvent>> {
        check_time_ms("now_ms", now_ms)?;
        let now = if now_ms == 0 {
            crate::clock::now_ms()
        } else {
            now_ms
        };
        self.inner.evaluate_alerts(now, false)
    }

    /// Incidents (firing and resolved) active in a range, newest first.
    ///
    /// # Errors
    /// `Storage`.
    pub fn alerts(&self, query: AlertQuery) -> Result<Vec<AlertRecord>> {
        let (start, end, limit) = query.range()?;
        sql::alerts(
            &self.inner.store.conn(),
            start,
            end,
            query.firing_only,
            limit,
        )
    }

    /// Incident `id`.
    ///
    /// # Errors
    /// `NotFound`.
    pub fn alert(&self, id: i64) -> Result<AlertRecord> {
        sql::alert(&self.inner.store.conn(), id)?.ok_or_else(|| alert_not_found(id))
    }

    /// The alert history: every transition and manual action in a range
    /// (of `rule` only, when given), newest first.
    ///
    /// # Errors
    /// `Storage`.
    pub fn alert_history(&self, rule: Option<&str>, query: AlertQuery) -> Result<Vec<AlertEvent>> {
        let (start, end, limit) = query.range()?;
        sql::events(&self.inner.store.conn(), rule, start, end, limit)
    }

    /// Acknowledges firing incident `id`: someone is on it. It keeps
    /// firing; an escalation clears the acknowledgement. Acknowledging
    /// again changes nothing.
    ///
    /// # Errors
    /// `NotFound`; `InvalidArgument` when it is resolved or `actor` is empty.
    pub fn acknowledge_alert(&self, id: i64, actor: &str) -> Result<AlertRecord> {
        self.manual(id, actor, false)
    }

    /// Resolves firing incident `id` by hand. Its rule goes back to
    /// inactive: if the breach goes on, a new incident starts after the
    /// rule's `for_seconds`.
    ///
    /// # Errors
    /// As [`Cha::acknowledge_alert`].
    pub fn resolve_alert(&self, id: i64, actor: &str) -> Result<AlertRecord> {
        self.manual(id, actor, true)
    }

    fn manual(&self, id: i64, actor: &str, resolve: bool) -> Result<AlertRecord> {
        check_actor(actor)?;
        let now = crate::clock::now_ms();
        self.inner.store.write(|tx| {
            let record = sql::alert(tx, id)?.ok_or_else(|| alert_not_found(id))?;
            if record.state != "firing" {
                return Err(Error::invalid_argument(format!(
                    "alert {id} ({}) is resolved already{}",
                    record.rule,
                    record
                        .resolved_by
                        .as_ref()
                        .map(|by| format!(" (by {by})"))
                        .unwrap_or_default()
                )));
            }
            let kind = if resolve {
                sql::resolve_alert(tx, id, now, Some(actor), None)?;
                let states = sql::rule_states(tx)?;
                if let Some((state, Some(open))) = states.get(&record.rule)
                    && *open == id
                {
                    let inactive = RuleState {
                        evaluated_at_ms: state.evaluated_at_ms,
                        value: state.value,
                        ..RuleState::default()
                    };
                    sql::put_rule_state(tx, &record.rule, &inactive, None)?;
                }
                "manually_resolved"
            } else {
                if record.acknowledged_by.is_some() {
                    return Ok(record);
                }
                sql::acknowledge_alert(tx, id, actor, now)?;
                "acknowledged"
            };
            stored(
                tx,
                AlertEvent {
                    id: 0,
                    alert: Some(id),
                    rule: record.rule.clone(),
                    metric: record.metric.clone(),
                    kind: kind.into(),
                    severity: (!resolve).then_some(record.severity),
                    previous_severity: Some(record.severity),
                    value: record.value,
                    threshold: record.threshold,
                    at_ms: now,
                    actor: Some(actor.to_string()),
                    no_data: false,
                    message: format!("{}: {} by {actor}", record.rule, kind.replace('_', " ")),
                },
            )?;
            sql::alert(tx, id)?.ok_or_else(|| alert_not_found(id))
        })
    }
}

fn alert_not_found(id: i64) -> Error {
    Error::not_found(format!("no alert has id {id}"))
}

/// The state of every rule, by name (for the status and the report).
pub(crate) fn rule_states(
    conn: &rusqlite::Connection,
) -> Result<BTreeMap<String, (RuleState, Option<i64>)>> {
    sql::rule_states(conn)
}
