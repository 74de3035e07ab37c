//! Monitoring in SQL: metric series, their windows (merged on write, rolled
//! up when old), raw samples, alert rule state, alerts and their events,
//! flag usage.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::error::{Error, Result};
use crate::monitoring::alerts::{AlertEvent, AlertRecord, AlertState, RuleState};
use crate::monitoring::model::Severity;
use crate::monitoring::window::{HOUR_MS, WindowStats, window_start};
use crate::stats::Moments;

/// The kind of monitoring definitions (rules and settings) in the
/// definitions table and the audit log.
pub(crate) const KIND: &str = "monitoring";

/// A series as stored, with its all-time totals.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SeriesRow {
    pub id: i64,
    pub name: String,
    pub tags: String,
    pub kind: String,
    pub count: i64,
    pub sum: f64,
    pub last_value: f64,
    pub last_at_ms: i64,
    pub created_ms: i64,
}

fn series_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SeriesRow> {
    Ok(SeriesRow {
        id: r.get(0)?,
        name: r.get(1)?,
        tags: r.get(2)?,
        kind: r.get(3)?,
        count: r.get(4)?,
        sum: r.get(5)?,
        last_value: r.get(6)?,
        last_at_ms: r.get(7)?,
        created_ms: r.get(8)?,
    })
}

const SERIES_COLUMNS: &str = "id, name, tags, kind, count, sum, last_value, last_at_ms, created_ms";

/// The id and kind of series (`name`, `tags`), created with `kind` if new.
pub(crate) fn series_id(
    tx: &Transaction<'_>,
    name: &str,
    tags: &str,
    kind: &str,
    now_ms: i64,
) -> Result<(i64, String)> {
    tx.prepare_cached(
        "INSERT INTO metric_series (name, tags, kind, count, sum, last_value, last_at_ms, created_ms)
         VALUES (?1, ?2, ?3, 0, 0, 0, ?4, ?5) ON CONFLICT (name, tags) DO NOTHING",
    )?
    // No last value yet: any sample's time is later.
    .execute(params![name, tags, kind, i64::MIN, now_ms])?;
    Ok(tx
        .prepare_cached("SELECT id, kind FROM metric_series WHERE name = ?1 AND tags = ?2")?
        .query_row(params![name, tags], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// Adds a batch's totals to a series.
pub(crate) fn add_to_series(tx: &Transaction<'_>, id: i64, w: &WindowStats) -> Result<()> {
    tx.prepare_cached(
        "UPDATE metric_series SET count = count + ?2, sum = sum + ?3,
             last_value = CASE WHEN ?5 >= last_at_ms THEN ?4 ELSE last_value END,
             last_at_ms = max(last_at_ms, ?5)
         WHERE id = ?1",
    )?
    .execute(params![id, w.count() as i64, w.sum, w.last, w.last_at_ms])?;
    Ok(())
}

/// Every series, by name and tags.
pub(crate) fn all_series(conn: &Connection) -> Result<Vec<SeriesRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SERIES_COLUMNS} FROM metric_series ORDER BY name, tags"
    ))?;
    let rows = stmt.query_map([], series_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The series of metric `name`.
pub(crate) fn series_of(conn: &Connection, name: &str) -> Result<Vec<SeriesRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SERIES_COLUMNS} FROM metric_series WHERE name = ?1 ORDER BY tags"
    ))?;
    let rows = stmt.query_map([name], series_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The kind of every metric name stored.
pub(crate) fn metric_kinds(conn: &Connection) -> Result<BTreeMap<String, String>> {
    let mut stmt = conn.prepare_cached("SELECT DISTINCT name, kind FROM metric_series")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A stored window's columns: count/mean/M2, [sum, min, max, last], last
/// time, sketch.
type WindowParts = (Moments, [f64; 4], i64, Vec<u8>);

fn window_row(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<WindowParts> {
    let n: i64 = r.get(first)?;
    Ok((
        Moments {
            n: n as u64,
            mean: r.get(first + 4)?,
            m2: r.get(first + 5)?,
        },
        [
            r.get(first + 1)?,
            r.get(first + 2)?,
            r.get(first + 3)?,
            r.get(first + 6)?,
        ],
        r.get(first + 7)?,
        r.get(first + 8)?,
    ))
}

fn to_window(parts: WindowParts) -> Result<WindowStats> {
    let (moments, [sum, min, max, last], last_at, sketch) = parts;
    WindowStats::from_parts(moments, sum, min, max, last, last_at, &sketch)
        .map_err(|e| Error::storage(format!("a metric window cannot be read: {e}")))
}

const WINDOW_COLUMNS: &str = "count, sum, min, max, mean, m2, last_value, last_at_ms, sketch";

/// Merges `w` into the stored window (`series`, `resolution_ms`, `start_ms`).
pub(crate) fn merge_window(
    tx: &Transaction<'_>,
    series: i64,
    resolution_ms: i64,
    start_ms: i64,
    w: &WindowStats,
) -> Result<()> {
    let stored = tx
        .prepare_cached(&format!(
            "SELECT {WINDOW_COLUMNS} FROM metric_windows
             WHERE series = ?1 AND resolution_ms = ?2 AND start_ms = ?3"
        ))?
        .query_row(params![series, resolution_ms, start_ms], |r| {
            window_row(r, 0)
        })
        .optional()?;
    let merged;
    let w = match stored {
        Some(parts) => {
            let mut old = to_window(parts)?;
            old.merge(w);
            merged = old;
            &merged
        }
        None => w,
    };
    tx.prepare_cached(
        "INSERT OR REPLACE INTO metric_windows
             (series, resolution_ms, start_ms, count, sum, min, max, mean, m2, last_value, last_at_ms, sketch)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        series,
        resolution_ms,
        start_ms,
        w.count() as i64,
        w.sum,
        w.min,
        w.max,
        w.moments.mean,
        w.moments.m2,
        w.last,
        w.last_at_ms,
        w.sketch_bytes()
    ])?;
    Ok(())
}

/// The windows of metric `name` (every series, or the series `ids`)
/// starting in [`start_ms`, `end_ms`), any resolution, each with its series
/// id.
pub(crate) fn windows_of(
    conn: &Connection,
    name: &str,
    start_ms: i64,
    end_ms: i64,
) -> Result<Vec<(i64, WindowStats)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT w.series, {} FROM metric_windows AS w JOIN metric_series AS s ON s.id = w.series
         WHERE s.name = ?1 AND w.start_ms >= ?2 AND w.start_ms < ?3",
        WINDOW_COLUMNS
            .split(", ")
            .map(|c| format!("w.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    ))?;
    let rows = stmt.query_map(params![name, start_ms, end_ms], |r| {
        Ok((r.get::<_, i64>(0)?, window_row(r, 1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (series, parts) = row?;
        out.push((series, to_window(parts)?));
    }
    Ok(out)
}

/// The windows of metric `name` starting in [`start_ms`, `end_ms`), any
/// resolution, oldest first, each with its series id, start and resolution:
/// a metric over time (the deployment report's charts).
pub(crate) fn timed_windows_of(
    conn: &Connection,
    name: &str,
    start_ms: i64,
    end_ms: i64,
) -> Result<Vec<(i64, i64, i64, WindowStats)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT w.series, w.start_ms, w.resolution_ms, {} FROM metric_windows AS w
         JOIN metric_series AS s ON s.id = w.series
         WHERE s.name = ?1 AND w.start_ms >= ?2 AND w.start_ms < ?3
         ORDER BY w.start_ms",
        WINDOW_COLUMNS
            .split(", ")
            .map(|c| format!("w.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    ))?;
    let rows = stmt.query_map(params![name, start_ms, end_ms], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
            window_row(r, 3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (series, start, resolution, parts) = row?;
        out.push((series, start, resolution, to_window(parts)?));
    }
    Ok(out)
}

/// The names of the metrics with a window starting in [`start_ms`, `end_ms`).
pub(crate) fn metrics_in(conn: &Connection, start_ms: i64, end_ms: i64) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT s.name FROM metric_windows AS w JOIN metric_series AS s ON s.id = w.series
         WHERE w.start_ms >= ?1 AND w.start_ms < ?2 ORDER BY s.name",
    )?;
    let rows = stmt.query_map(params![start_ms, end_ms], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The start of the oldest stored window, if any.
pub(crate) fn first_window_start(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT min(start_ms) FROM metric_windows")?
        .query_row([], |r| r.get(0))?)
}

/// Rolls the minute windows of every hour that ended before `before_ms`
/// into hour windows (merging with any already there), and deletes them.
/// Returns how many minute windows went.
pub(crate) fn roll_up(tx: &Transaction<'_>, minute_ms: i64, before_ms: i64) -> Result<usize> {
    let cutoff = window_start(before_ms, HOUR_MS);
    let rows: Vec<(i64, i64, WindowParts)> = {
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT series, start_ms, {WINDOW_COLUMNS} FROM metric_windows
             WHERE resolution_ms = ?1 AND start_ms < ?2"
        ))?;
        let rows = stmt.query_map(params![minute_ms, cutoff], |r| {
            Ok((r.get(0)?, r.get(1)?, window_row(r, 2)?))
        })?;
        rows.collect::<Result<_, _>>()?
    };
    let mut hours: BTreeMap<(i64, i64), WindowStats> = BTreeMap::new();
    for (series, start, parts) in rows.iter().cloned() {
        hours
            .entry((series, window_start(start, HOUR_MS)))
            .or_default()
            .merge(&to_window(parts)?);
    }
    for ((series, hour), w) in &hours {
        merge_window(tx, *series, HOUR_MS, *hour, w)?;
    }
    tx.prepare_cached("DELETE FROM metric_windows WHERE resolution_ms = ?1 AND start_ms < ?2")?
        .execute(params![minute_ms, cutoff])?;
    Ok(rows.len())
}

/// Deletes windows of `resolution_ms` that started before `before_ms`.
pub(crate) fn prune_windows(
    tx: &Transaction<'_>,
    resolution_ms: i64,
    before_ms: i64,
) -> Result<usize> {
    Ok(tx
        .prepare_cached("DELETE FROM metric_windows WHERE resolution_ms = ?1 AND start_ms < ?2")?
        .execute(params![resolution_ms, before_ms])?)
}

/// Appends raw samples (series id, value, time).
pub(crate) fn insert_samples(tx: &Transaction<'_>, samples: &[(i64, f64, i64)]) -> Result<()> {
    let mut stmt =
        tx.prepare_cached("INSERT INTO metric_samples (series, value, at_ms) VALUES (?1, ?2, ?3)")?;
    for (series, value, at) in samples {
        stmt.execute(params![series, value, at])?;
    }
    Ok(())
}

/// A raw sample with its series' tags.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RawSample {
    pub metric: String,
    pub tags: serde_json::Value,
    pub value: f64,
    pub at_ms: i64,
}

/// The raw samples of metric `name` in [`start_ms`, `end_ms`), oldest
/// first, at most `limit`.
pub(crate) fn samples(
    conn: &Connection,
    name: &str,
    start_ms: i64,
    end_ms: i64,
    limit: u32,
) -> Result<Vec<RawSample>> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.name, s.tags, m.value, m.at_ms FROM metric_samples AS m
         JOIN metric_series AS s ON s.id = m.series
         WHERE s.name = ?1 AND m.at_ms >= ?2 AND m.at_ms < ?3 ORDER BY m.at_ms, m.id LIMIT ?4",
    )?;
    let rows = stmt.query_map(params![name, start_ms, end_ms, limit], |r| {
        let tags: String = r.get(1)?;
        Ok(RawSample {
            metric: r.get(0)?,
            tags: serde_json::from_str(&tags).unwrap_or(serde_json::Value::Null),
            value: r.get(2)?,
            at_ms: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deletes raw samples older than `before_ms`.
pub(crate) fn prune_samples(tx: &Transaction<'_>, before_ms: i64) -> Result<usize> {
    Ok(tx
        .prepare_cached("DELETE FROM metric_samples WHERE at_ms < ?1")?
        .execute([before_ms])?)
}

// ---- alerts ----------------------------------------------------------------

fn severity_of(text: Option<String>) -> Option<Severity> {
    text.as_deref().and_then(Severity::from_name)
}

/// The stored state of every rule, with its open incident.
pub(crate) fn rule_states(conn: &Connection) -> Result<BTreeMap<String, (RuleState, Option<i64>)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT rule, state, severity, since_ms, value, evaluated_at_ms, alert FROM alert_rules",
    )?;
    let rows = stmt.query_map([], |r| {
        let state: String = r.get(1)?;
        Ok((
            r.get::<_, String>(0)?,
            (
                RuleState {
                    state: AlertState::from_name(&state).unwrap_or_default(),
                    severity: severity_of(r.get(2)?),
                    since_ms: r.get(3)?,
                    value: r.get(4)?,
                    evaluated_at_ms: r.get(5)?,
                },
                r.get(6)?,
            ),
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Stores the state of `rule`.
pub(crate) fn put_rule_state(
    tx: &Transaction<'_>,
    rule: &str,
    s: &RuleState,
    alert: Option<i64>,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO alert_rules (rule, state, severity, since_ms, value, evaluated_at_ms, alert)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        rule,
        s.state.as_str(),
        s.severity.map(Severity::as_str),
        s.since_ms,
        s.value,
        s.evaluated_at_ms,
        alert
    ])?;
    Ok(())
}

/// Opens an incident; returns its id.
pub(crate) fn open_alert(tx: &Transaction<'_>, a: &AlertRecord) -> Result<i64> {
    tx.prepare_cached(
        "INSERT INTO alerts (rule, metric, state, severity, max_severity, value, threshold,
             started_at_ms, fired_at_ms, message)
         VALUES (?1, ?2, 'firing', ?3, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        a.rule,
        a.metric,
        a.severity.as_str(),
        a.value,
        a.threshold,
        a.started_at_ms,
        a.fired_at_ms,
        a.message
    ])?;
    Ok(tx.last_insert_rowid())
}

/// Records a change of severity of incident `id`; an escalation clears its
/// acknowledgement, so that someone looks again.
pub(crate) fn change_severity(
    tx: &Transaction<'_>,
    id: i64,
    severity: Severity,
    escalated: bool,
    value: Option<f64>,
    threshold: Option<f64>,
    message: &str,
) -> Result<()> {
    tx.prepare_cached(
        "UPDATE alerts SET severity = ?2, value = ?3, threshold = ?4, message = ?5,
             max_severity = CASE WHEN ?6 THEN ?2 ELSE max_severity END,
             acknowledged_by = CASE WHEN ?6 THEN NULL ELSE acknowledged_by END,
             acknowledged_at_ms = CASE WHEN ?6 THEN NULL ELSE acknowledged_at_ms END
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        severity.as_str(),
        value,
        threshold,
        message,
        escalated
    ])?;
    Ok(())
}

/// Closes incident `id` at `at_ms` (by `actor`, when done by hand).
pub(crate) fn resolve_alert(
    tx: &Transaction<'_>,
    id: i64,
    at_ms: i64,
    actor: Option<&str>,
    value: Option<f64>,
) -> Result<bool> {
    Ok(tx
        .prepare_cached(
            "UPDATE alerts SET state = 'resolved', resolved_at_ms = ?2, resolved_by = ?3,
                 value = coalesce(?4, value)
             WHERE id = ?1 AND state = 'firing'",
        )?
        .execute(params![id, at_ms, actor, value])?
        > 0)
}

/// Acknowledges incident `id`.
pub(crate) fn acknowledge_alert(
    tx: &Transaction<'_>,
    id: i64,
    actor: &str,
    at_ms: i64,
) -> Result<()> {
    tx.prepare_cached(
        "UPDATE alerts SET acknowledged_by = ?2, acknowledged_at_ms = ?3 WHERE id = ?1",
    )?
    .execute(params![id, actor, at_ms])?;
    Ok(())
}

const ALERT_COLUMNS: &str = "id, rule, metric, state, severity, max_severity, value, threshold,
    started_at_ms, fired_at_ms, resolved_at_ms, acknowledged_by, acknowledged_at_ms, resolved_by, message";

fn alert_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AlertRecord> {
    Ok(AlertRecord {
        id: r.get(0)?,
        rule: r.get(1)?,
        metric: r.get(2)?,
        state: r.get(3)?,
        severity: severity_of(r.get(4)?).unwrap_or(Severity::Warning),
        max_severity: severity_of(r.get(5)?).unwrap_or(Severity::Warning),
        value: r.get(6)?,
        threshold: r.get(7)?,
        started_at_ms: r.get(8)?,
        fired_at_ms: r.get(9)?,
        resolved_at_ms: r.get(10)?,
        acknowledged_by: r.get(11)?,
        acknowledged_at_ms: r.get(12)?,
        resolved_by: r.get(13)?,
        message: r.get(14)?,
    })
}

/// Incident `id`.
pub(crate) fn alert(conn: &Connection, id: i64) -> Result<Option<AlertRecord>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?1"))?
        .query_row([id], alert_row)
        .optional()?)
}

/// Incidents active at some time in [`start_ms`, `end_ms`) (fired before
/// the end and not resolved before the start), newest first; only the
/// firing ones with `firing_only`.
pub(crate) fn alerts(
    conn: &Connection,
    start_ms: i64,
    end_ms: i64,
    firing_only: bool,
    limit: u32,
) -> Result<Vec<AlertRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ALERT_COLUMNS} FROM alerts
         WHERE fired_at_ms < ?2 AND (resolved_at_ms IS NULL OR resolved_at_ms >= ?1)
           AND (NOT ?3 OR state = 'firing')
         ORDER BY fired_at_ms DESC, id DESC LIMIT ?4"
    ))?;
    let rows = stmt.query_map(params![start_ms, end_ms, firing_only, limit], alert_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Appends an event; returns its id.
pub(crate) fn insert_event(tx: &Transaction<'_>, e: &AlertEvent) -> Result<i64> {
    tx.prepare_cached(
        "INSERT INTO alert_events (alert, rule, metric, kind, severity, previous_severity, value,
             threshold, at_ms, actor, no_data, message)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        e.alert,
        e.rule,
        e.metric,
        e.kind,
        e.severity.map(Severity::as_str),
        e.previous_severity.map(Severity::as_str),
        e.value,
        e.threshold,
        e.at_ms,
        e.actor,
        e.no_data,
        e.message
    ])?;
    Ok(tx.last_insert_rowid())
}

const EVENT_COLUMNS: &str = "id, alert, rule, metric, kind, severity, previous_severity, value,
    threshold, at_ms, actor, no_data, message";

fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AlertEvent> {
    Ok(AlertEvent {
        id: r.get(0)?,
        alert: r.get(1)?,
        rule: r.get(2)?,
        metric: r.get(3)?,
        kind: r.get(4)?,
        severity: severity_of(r.get(5)?),
        previous_severity: severity_of(r.get(6)?),
        value: r.get(7)?,
        threshold: r.get(8)?,
        at_ms: r.get(9)?,
        actor: r.get(10)?,
        no_data: r.get(11)?,
        message: r.get(12)?,
    })
}

/// Events with an id above `after_id`, oldest first, at most `limit`.
pub(crate) fn events_after(
    conn: &Connection,
    after_id: i64,
    limit: u32,
) -> Result<Vec<AlertEvent>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM alert_events WHERE id > ?1 ORDER BY id LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![after_id, limit], event_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Events in [`start_ms`, `end_ms`) (of `rule` only, when given), newest
/// first, at most `limit`.
pub(crate) fn events(
    conn: &Connection,
    rule: Option<&str>,
    start_ms: i64,
    end_ms: i64,
    limit: u32,
) -> Result<Vec<AlertEvent>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM alert_events
         WHERE at_ms >= ?1 AND at_ms < ?2 AND (?3 IS NULL OR rule = ?3)
         ORDER BY at_ms DESC, id DESC LIMIT ?4"
    ))?;
    let rows = stmt.query_map(params![start_ms, end_ms, rule, limit], event_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The id of the latest event (0 without any).
pub(crate) fn last_event_id(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT coalesce(max(id), 0) FROM alert_events")?
        .query_row([], |r| r.get(0))?)
}

/// Deletes resolved incidents resolved before `before_ms`, and events older
/// than that which belong to no open incident.
pub(crate) fn prune_alerts(tx: &Transaction<'_>, before_ms: i64) -> Result<usize> {
    let events = tx
        .prepare_cached(
            "DELETE FROM alert_events WHERE at_ms < ?1
               AND (alert IS NULL OR alert IN (SELECT id FROM alerts WHERE state = 'resolved' AND resolved_at_ms < ?1))",
        )?
        .execute([before_ms])?;
    let alerts = tx
        .prepare_cached(
            "DELETE FROM alerts WHERE state = 'resolved' AND resolved_at_ms < ?1
               AND id NOT IN (SELECT alert FROM alert_events WHERE alert IS NOT NULL)",
        )?
        .execute([before_ms])?;
    Ok(events + alerts)
}

// ---- flag usage --------------------------------------------------------------

/// Adds evaluations of `flag` (of its `variant`, '' for the flag itself) in
/// the hour starting at `hour_ms`.
pub(crate) fn add_flag_usage(
    tx: &Transaction<'_>,
    flag: &str,
    hour_ms: i64,
    variant: &str,
    on: u64,
    off: u64,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO flag_usage (flag, hour_ms, variant, on_count, off_count) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (flag, hour_ms, variant) DO UPDATE SET
             on_count = on_count + ?4, off_count = off_count + ?5",
    )?
    .execute(params![flag, hour_ms, variant, on as i64, off as i64])?;
    Ok(())
}

/// Counts `count` more asks for the unknown flag `name` at `at_ms`.
pub(crate) fn add_unknown_flag(
    tx: &Transaction<'_>,
    name: &str,
    count: u64,
    at_ms: i64,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO unknown_flags (name, count, first_seen_ms, last_seen_ms) VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT (name) DO UPDATE SET count = count + ?2, last_seen_ms = max(last_seen_ms, ?3)",
    )?
    .execute(params![name, count as i64, at_ms])?;
    Ok(())
}

/// Evaluations per (flag, variant) in the hours starting in
/// [`start_ms`, `end_ms`): (on, off).
pub(crate) fn flag_usage(
    conn: &Connection,
    start_ms: i64,
    end_ms: i64,
) -> Result<BTreeMap<(String, String), (u64, u64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT flag, variant, sum(on_count), sum(off_count) FROM flag_usage
         WHERE hour_ms >= ?1 AND hour_ms < ?2 GROUP BY flag, variant",
    )?;
    let rows = stmt.query_map(params![start_ms, end_ms], |r| {
        Ok((
            (r.get(0)?, r.get(1)?),
            (r.get::<_, i64>(2)? as u64, r.get::<_, i64>(3)? as u64),
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The last hour each flag was evaluated in.
pub(crate) fn last_evaluated(conn: &Connection) -> Result<BTreeMap<String, i64>> {
    let mut stmt =
        conn.prepare_cached("SELECT flag, max(hour_ms) FROM flag_usage GROUP BY flag")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Unknown flag names: (name, count, first seen, last seen), most asked first.
pub(crate) fn unknown_flags(conn: &Connection) -> Result<Vec<(String, u64, i64, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, count, first_seen_ms, last_seen_ms FROM unknown_flags ORDER BY count DESC, name",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get(2)?, r.get(3)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deletes flag usage of hours before `before_ms`.
pub(crate) fn prune_flag_usage(tx: &Transaction<'_>, before_ms: i64) -> Result<usize> {
    Ok(tx
        .prepare_cached("DELETE FROM flag_usage WHERE hour_ms < ?1")?
        .execute([before_ms])?)
}
