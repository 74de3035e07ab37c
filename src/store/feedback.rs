//! User feedback in SQL: items, what their users were exposed to, workflow
//! events, and the daily summaries the analysis reads instead of the items.
//! An item and its summaries are written in one transaction, so the
//! summaries always hold exactly the stored items.

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use crate::error::{Error, Result};
use crate::feedback::ItemStats;
use crate::stats::Summary;

/// The kind of the feedback settings in the definitions table and the
/// audit log (one definition per section of `user_feedback.yml`).
pub(crate) const KIND: &str = "feedback";

/// One day in milliseconds.
const DAY_MS: i64 = crate::feedback::analyze::DAY_MS;

/// What an item's user was exposed to, as stored.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ExposureRow {
    /// `flag` or `experiment`.
    pub source: &'static str,
    pub name: String,
    /// `on`/`off`, or the variant.
    pub arm: String,
    /// The variant of a flag that has variants.
    pub variant: Option<String>,
}

/// An item to store: the submission as triaged (the columns of the same
/// names), and what its user saw.
#[derive(Debug, Clone)]
pub(crate) struct NewItem<'a> {
    pub submitted_at_ms: i64,
    pub user_id: &'a str,
    pub kind: &'a str,
    pub category: &'a str,
    pub rating: Option<u8>,
    pub text: &'a str,
    pub redacted: bool,
    pub context_json: &'a str,
    pub sentiment_score: f64,
    pub sentiment: &'a str,
    pub priority: &'a str,
    pub priority_reasons_json: &'a str,
    pub queue: &'a str,
    pub signature: &'a str,
    pub exposures: &'a [ExposureRow],
}

/// A stored item, as read: the columns of the same names.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ItemRow {
    pub id: i64,
    pub submitted_at_ms: i64,
    pub user_id: String,
    pub kind: String,
    pub category: String,
    pub rating: Option<u8>,
    pub text: String,
    pub redacted: bool,
    pub context_json: String,
    pub sentiment_score: f64,
    pub sentiment: String,
    pub priority: String,
    pub priority_reasons_json: String,
    pub queue: String,
    pub response: String,
    pub duplicate_of: Option<i64>,
    pub status: String,
    pub status_at_ms: i64,
    pub acknowledged_at_ms: Option<i64>,
    pub done_at_ms: Option<i64>,
    pub reports: u64,
    pub people: u64,
}

/// The columns [`item_row`] reads, as a literal, so that the statements
/// that use them stay whole literals too.
macro_rules! item_columns {
    () => {
        "id, submitted_at_ms, user_id, type, category, rating, text, redacted, context_json, \
         sentiment_score, sentiment, priority, priority_reasons, queue, response, duplicate_of, \
         status, status_at_ms, acknowledged_at_ms, done_at_ms, reports, people"
    };
}

fn item_row(r: &Row<'_>) -> rusqlite::Result<ItemRow> {
    Ok(ItemRow {
        id: r.get(0)?,
        submitted_at_ms: r.get(1)?,
        user_id: r.get(2)?,
        kind: r.get(3)?,
        category: r.get(4)?,
        rating: r.get(5)?,
        text: r.get(6)?,
        redacted: r.get(7)?,
        context_json: r.get(8)?,
        sentiment_score: r.get(9)?,
        sentiment: r.get(10)?,
        priority: r.get(11)?,
        priority_reasons_json: r.get(12)?,
        queue: r.get(13)?,
        response: r.get(14)?,
        duplicate_of: r.get(15)?,
        status: r.get(16)?,
        status_at_ms: r.get(17)?,
        acknowledged_at_ms: r.get(18)?,
        done_at_ms: r.get(19)?,
        reports: r.get::<_, i64>(20)? as u64,
        people: r.get::<_, i64>(21)? as u64,
    })
}

/// Stores a new item with status `new`, its submission event (by its
/// user), its exposures and its share of the daily summaries. Returns its id.
pub(crate) fn insert_item(tx: &Transaction<'_>, item: &NewItem<'_>) -> Result<i64> {
    let id: i64 = tx
        .prepare_cached(
            "INSERT INTO feedback (submitted_at_ms, user_id, type, category, rating, text, redacted,
                 context_json, sentiment_score, sentiment, priority, priority_reasons, queue,
                 response, signature, status, status_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, '', ?14, 'new', ?1)
             RETURNING id",
        )?
        .query_row(
            params![
                item.submitted_at_ms,
                item.user_id,
                item.kind,
                item.category,
                item.rating,
                item.text,
                item.redacted,
                item.context_json,
                item.sentiment_score,
                item.sentiment,
                item.priority,
                item.priority_reasons_json,
                item.queue,
                item.signature,
            ],
            |r| r.get(0),
        )?;
    insert_event(
        tx,
        id,
        item.submitted_at_ms,
        item.user_id,
        None,
        "new",
        None,
    )?;
    let mut exposure = tx.prepare_cached(
        "INSERT INTO feedback_exposures (feedback_id, source, name, arm, variant)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let day = item.submitted_at_ms.div_euclid(DAY_MS);
    for e in item.exposures {
        exposure.execute(params![id, e.source, e.name, e.arm, e.variant])?;
        add_to_arm(tx, day, e, item.rating, item.sentiment_score)?;
    }
    add_to_daily(
        tx,
        day,
        item.kind,
        item.category,
        item.priority,
        item.sentiment,
        item.rating,
        item.sentiment_score,
    )?;
    Ok(id)
}

/// Adds one item to the summary of its day and group. Read, pushed as
/// `ItemStats` pushes, written back: the same arithmetic as the analysis's
/// own fold of the items of partial days.
#[allow(clippy::too_many_arguments)]
fn add_to_daily(
    tx: &Transaction<'_>,
    day: i64,
    kind: &str,
    category: &str,
    priority: &str,
    sentiment: &str,
    rating: Option<u8>,
    score: f64,
) -> Result<()> {
    let mut stats = tx
        .prepare_cached(
            "SELECT items, ratings, rating_mean, rating_m2, satisfied, sentiment_mean, sentiment_m2
             FROM feedback_daily
             WHERE day = ?1 AND type = ?2 AND category = ?3 AND priority = ?4 AND sentiment = ?5",
        )?
        .query_row(params![day, kind, category, priority, sentiment], stats_of)
        .optional()?
        .unwrap_or_default();
    stats.push(rating, score);
    tx.prepare_cached(
        "INSERT OR REPLACE INTO feedback_daily (day, type, category, priority, sentiment, items,
             ratings, rating_mean, rating_m2, satisfied, sentiment_mean, sentiment_m2)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        day,
        kind,
        category,
        priority,
        sentiment,
        stats.items as i64,
        stats.rating.n as i64,
        stats.rating.mean(),
        stats.rating.m2(),
        stats.satisfied as i64,
        stats.sentiment.mean(),
        stats.sentiment.m2()
    ])?;
    Ok(())
}

/// Adds one item to the summary of its day and arm, as [`add_to_daily`].
fn add_to_arm(
    tx: &Transaction<'_>,
    day: i64,
    exposure: &ExposureRow,
    rating: Option<u8>,
    score: f64,
) -> Result<()> {
    let mut stats = tx
        .prepare_cached(
            "SELECT items, ratings, rating_mean, rating_m2, satisfied, sentiment_mean, sentiment_m2
             FROM feedback_daily_arms WHERE day = ?1 AND source = ?2 AND name = ?3 AND arm = ?4",
        )?
        .query_row(
            params![day, exposure.source, exposure.name, exposure.arm],
            stats_of,
        )
        .optional()?
        .unwrap_or_default();
    stats.push(rating, score);
    tx.prepare_cached(
        "INSERT OR REPLACE INTO feedback_daily_arms (day, source, name, arm, items, ratings,
             rating_mean, rating_m2, satisfied, sentiment_mean, sentiment_m2)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        day,
        exposure.source,
        exposure.name,
        exposure.arm,
        stats.items as i64,
        stats.rating.n as i64,
        stats.rating.mean(),
        stats.rating.m2(),
        stats.satisfied as i64,
        stats.sentiment.mean(),
        stats.sentiment.m2()
    ])?;
    Ok(())
}

/// The `ItemStats` of the columns `items, ratings, rating_mean, rating_m2,
/// satisfied, sentiment_mean, sentiment_m2` starting at `at`.
fn stats_at(r: &Row<'_>, at: usize) -> rusqlite::Result<ItemStats> {
    let items = r.get::<_, i64>(at)? as u64;
    Ok(ItemStats {
        items,
        rating: Summary::from_mean_m2(
            r.get::<_, i64>(at + 1)? as u64,
            r.get(at + 2)?,
            r.get(at + 3)?,
        ),
        satisfied: r.get::<_, i64>(at + 4)? as u64,
        sentiment: Summary::from_mean_m2(items, r.get(at + 5)?, r.get(at + 6)?),
    })
}

fn stats_of(r: &Row<'_>) -> rusqlite::Result<ItemStats> {
    stats_at(r, 0)
}

/// Records a workflow event.
pub(crate) fn insert_event(
    tx: &Transaction<'_>,
    id: i64,
    at_ms: i64,
    actor: &str,
    from: Option<&str>,
    to: &str,
    note: Option<&str>,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO feedback_events (feedback_id, at_ms, actor, from_status, to_status, note)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![id, at_ms, actor, from, to, note])?;
    Ok(())
}

/// Sets the automatic response of item `id`.
pub(crate) fn set_response(tx: &Transaction<'_>, id: i64, response: &str) -> Result<()> {
    tx.prepare_cached("UPDATE feedback SET response = ?2 WHERE id = ?1")?
        .execute(params![id, response])?;
    Ok(())
}

/// Moves item `id` to status `to` at `at_ms` by `actor`, recording the
/// event and the first acknowledgement and completion times.
#[allow(clippy::too_many_arguments)]
pub(crate) fn set_status(
    tx: &Transaction<'_>,
    id: i64,
    from: &str,
    to: &str,
    done: bool,
    at_ms: i64,
    actor: &str,
    note: Option<&str>,
) -> Result<()> {
    tx.prepare_cached(
        "UPDATE feedback SET status = ?2, status_at_ms = ?3,
             acknowledged_at_ms = COALESCE(acknowledged_at_ms, ?3),
             done_at_ms = CASE WHEN ?4 THEN COALESCE(done_at_ms, ?3) ELSE done_at_ms END
         WHERE id = ?1",
    )?
    .execute(params![id, to, at_ms, done])?;
    insert_event(tx, id, at_ms, actor, Some(from), to, note)
}

/// Merges item `id` into the original `into`: `id` and its own copies
/// become copies of `into`, whose reports and different people are
/// counted again. Returns them.
pub(crate) fn merge_into(tx: &Transaction<'_>, id: i64, into: i64) -> Result<(u64, u64)> {
    tx.prepare_cached(
        "UPDATE feedback SET duplicate_of = ?2, reports = 1, people = 1
         WHERE id = ?1 OR duplicate_of = ?1",
    )?
    .execute(params![id, into])?;
    let (reports, people): (i64, i64) = tx
        .prepare_cached(
            "UPDATE feedback SET
                 reports = 1 + (SELECT COUNT(*) FROM feedback WHERE duplicate_of = ?1),
                 people = (SELECT COUNT(*) FROM (
                     SELECT user_id FROM feedback WHERE id = ?1
                     UNION SELECT user_id FROM feedback WHERE duplicate_of = ?1))
             WHERE id = ?1 RETURNING reports, people",
        )?
        .query_row([into], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok((reports as u64, people as u64))
}

/// The open originals (not copies, not resolved, closed or merged) of
/// `kind` and `category` submitted in `[since_ms, until_ms]`, newest first,
/// at most `limit`, with their signatures.
pub(crate) fn duplicate_candidates(
    conn: &Connection,
    kind: &str,
    category: &str,
    since_ms: i64,
    until_ms: i64,
    limit: usize,
) -> Result<Vec<(i64, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, signature FROM feedback
         WHERE type = ?1 AND category = ?2 AND submitted_at_ms BETWEEN ?3 AND ?4
           AND duplicate_of IS NULL AND status IN ('new', 'acknowledged', 'in_progress')
         ORDER BY submitted_at_ms DESC, id DESC LIMIT ?5",
    )?;
    let rows = stmt.query_map(
        params![kind, category, since_ms, until_ms, limit as i64],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The stored item `id`, if any.
pub(crate) fn get_item(conn: &Connection, id: i64) -> Result<Option<ItemRow>> {
    Ok(conn
        .prepare_cached(concat!(
            "SELECT ",
            item_columns!(),
            " FROM feedback WHERE id = ?1"
        ))?
        .query_row([id], item_row)
        .optional()?)
}

/// An exposure as read: (source, name, arm, variant).
pub(crate) type ExposureOf = (String, String, String, Option<String>);

/// What item `id`'s user was exposed to, by source and name.
pub(crate) fn exposures_of(conn: &Connection, id: i64) -> Result<Vec<ExposureOf>> {
    let mut stmt = conn.prepare_cached(
        "SELECT source, name, arm, variant FROM feedback_exposures
         WHERE feedback_id = ?1 ORDER BY source, name",
    )?;
    let rows = stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A workflow event, as read: (at_ms, actor, from, to, note).
pub(crate) type EventRow = (i64, String, Option<String>, String, Option<String>);

/// The workflow events of item `id`, in order.
pub(crate) fn events_of(conn: &Connection, id: i64) -> Result<Vec<EventRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT at_ms, actor, from_status, to_status, note FROM feedback_events
         WHERE feedback_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Which items a list shows; `None` fields do not filter.
#[derive(Debug, Clone, Default)]
pub(crate) struct ItemFilter<'a> {
    pub status: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub category: Option<&'a str>,
    pub priority: Option<&'a str>,
    pub queue: Option<&'a str>,
    pub user_id: Option<&'a str>,
    /// `[since_ms, until_ms)`.
    pub since_ms: i64,
    pub until_ms: i64,
    pub limit: u32,
}

/// The items `filter` selects, newest first.
pub(crate) fn list_items(conn: &Connection, filter: &ItemFilter<'_>) -> Result<Vec<ItemRow>> {
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT ",
        item_columns!(),
        " FROM feedback
         WHERE submitted_at_ms >= ?1 AND submitted_at_ms < ?2
           AND (?3 IS NULL OR status = ?3) AND (?4 IS NULL OR type = ?4)
           AND (?5 IS NULL OR category = ?5) AND (?6 IS NULL OR priority = ?6)
           AND (?7 IS NULL OR queue = ?7) AND (?8 IS NULL OR user_id = ?8)
         ORDER BY submitted_at_ms DESC, id DESC LIMIT ?9"
    ))?;
    let rows = stmt.query_map(
        params![
            filter.since_ms,
            filter.until_ms,
            filter.status,
            filter.kind,
            filter.category,
            filter.priority,
            filter.queue,
            filter.user_id,
            i64::from(filter.limit)
        ],
        item_row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The variant `unit` was first exposed to in `experiment`, with when.
pub(crate) fn stored_exposure(
    conn: &Connection,
    experiment: &str,
    unit: &str,
) -> Result<Option<(String, i64)>> {
    // The experiments' table of first exposures, read by its primary key.
    Ok(conn
        .prepare_cached(
            "SELECT variant, first_seen_ms FROM exposures WHERE experiment = ?1 AND unit = ?2",
        )?
        .query_row([experiment, unit], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

// ---- the analysis's reads -------------------------------------------------

/// A group of a day's summary, as stored: (day, type, category, priority,
/// sentiment).
pub(crate) type GroupRow = (i64, String, String, String, String);

/// The daily summaries of the days `[from_day, to_day)`.
pub(crate) fn daily_groups(
    conn: &Connection,
    from_day: i64,
    to_day: i64,
) -> Result<Vec<(GroupRow, ItemStats)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT day, type, category, priority, sentiment, items, ratings, rating_mean, rating_m2,
             satisfied, sentiment_mean, sentiment_m2
         FROM feedback_daily WHERE day >= ?1 AND day < ?2",
    )?;
    let rows = stmt.query_map([from_day, to_day], |r| {
        Ok((
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?),
            stats_at(r, 5)?,
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// An arm of a day's summary, as stored: (source, name, arm).
pub(crate) type ArmRow = (String, String, String);

/// The daily arm summaries of the days `[from_day, to_day)`, merged over
/// the days in SQL order (the caller merges again by arm).
pub(crate) fn daily_arms(
    conn: &Connection,
    from_day: i64,
    to_day: i64,
) -> Result<Vec<(ArmRow, ItemStats)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT source, name, arm, items, ratings, rating_mean, rating_m2, satisfied,
             sentiment_mean, sentiment_m2
         FROM feedback_daily_arms WHERE day >= ?1 AND day < ?2",
    )?;
    let rows = stmt.query_map([from_day, to_day], |r| {
        Ok(((r.get(0)?, r.get(1)?, r.get(2)?), stats_at(r, 3)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Calls `f` with every item submitted in `[from_ms, to_ms)`: its group,
/// rating and sentiment score (the partial days of a range). In no set
/// order: `f` adds them up, and an `ORDER BY id` would make SQLite scan the
/// whole table rather than the range of the time index.
pub(crate) fn for_each_item(
    conn: &Connection,
    from_ms: i64,
    to_ms: i64,
    mut f: impl FnMut(GroupRow, Option<u8>, f64),
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT submitted_at_ms, type, category, priority, sentiment, rating, sentiment_score
         FROM feedback WHERE submitted_at_ms >= ?1 AND submitted_at_ms < ?2",
    )?;
    let mut rows = stmt.query([from_ms, to_ms])?;
    while let Some(r) = rows.next()? {
        let at: i64 = r.get(0)?;
        f(
            (
                at.div_euclid(DAY_MS),
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
            ),
            r.get(5)?,
            r.get(6)?,
        );
    }
    Ok(())
}

/// Calls `f` with every exposure of the items submitted in
/// `[from_ms, to_ms)`, with the item's rating and sentiment score, in no set
/// order (as [`for_each_item`]).
pub(crate) fn for_each_item_exposure(
    conn: &Connection,
    from_ms: i64,
    to_ms: i64,
    mut f: impl FnMut(ArmRow, Option<u8>, f64),
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.source, e.name, e.arm, f.rating, f.sentiment_score
         FROM feedback AS f JOIN feedback_exposures AS e ON e.feedback_id = f.id
         WHERE f.submitted_at_ms >= ?1 AND f.submitted_at_ms < ?2",
    )?;
    let mut rows = stmt.query([from_ms, to_ms])?;
    while let Some(r) = rows.next()? {
        f((r.get(0)?, r.get(1)?, r.get(2)?), r.get(3)?, r.get(4)?);
    }
    Ok(())
}

/// A cluster of reports in a range, as stored: the original's row and the
/// cluster's reports, people and mean sentiment in the range.
pub(crate) type ClusterRow = (ItemRow, u64, u64, f64);

/// The `limit` clusters with the most people among the items submitted in
/// `[from_ms, to_ms)` that report an issue (a type other than general
/// feedback and survey, or a negative text); ties by reports, then by id.
pub(crate) fn top_clusters(
    conn: &Connection,
    from_ms: i64,
    to_ms: i64,
    limit: usize,
) -> Result<Vec<ClusterRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT COALESCE(duplicate_of, id) AS root, COUNT(*) AS reports,
             COUNT(DISTINCT user_id) AS people, AVG(sentiment_score)
         FROM feedback
         WHERE submitted_at_ms >= ?1 AND submitted_at_ms < ?2
           AND (type NOT IN ('general_feedback', 'satisfaction_survey') OR sentiment = 'negative')
         GROUP BY root ORDER BY people DESC, reports DESC, root LIMIT ?3",
    )?;
    let ranked: Vec<(i64, i64, i64, f64)> = stmt
        .query_map(params![from_ms, to_ms, limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(ranked.len());
    for (root, reports, people, sentiment) in ranked {
        let row = get_item(conn, root)?
            .ok_or_else(|| Error::storage(format!("feedback #{root} is missing its original")))?;
        out.push((row, reports as u64, people as u64, sentiment));
    }
    Ok(out)
}

/// Up to `limit` texts of the copies of `root` submitted in the range,
/// oldest first.
pub(crate) fn copy_texts(
    conn: &Connection,
    root: i64,
    from_ms: i64,
    to_ms: i64,
    limit: usize,
) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT text FROM feedback WHERE duplicate_of = ?1
           AND submitted_at_ms >= ?2 AND submitted_at_ms < ?3 ORDER BY id LIMIT ?4",
    )?;
    let rows = stmt.query_map(params![root, from_ms, to_ms, limit as i64], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Different users who submitted feedback in `[from_ms, to_ms)`, and
/// different users exposed to the system before `to_ms`: the units with a
/// stored exposure to any experiment, and those who gave feedback (they used
/// it too). One pass over both, since each alone needs the same grouping.
pub(crate) fn user_counts(conn: &Connection, from_ms: i64, to_ms: i64) -> Result<(u64, u64)> {
    let (exposed, gave): (i64, i64) = conn
        .prepare_cached(
            "SELECT COUNT(*), COALESCE(SUM(gave), 0) FROM (
                 SELECT MAX(gave) AS gave FROM (
                     SELECT unit AS user, 0 AS gave FROM exposures WHERE first_seen_ms < ?2
                     UNION ALL
                     SELECT user_id, 1 FROM feedback
                     WHERE submitted_at_ms >= ?1 AND submitted_at_ms < ?2)
                 GROUP BY user)",
        )?
        .query_row([from_ms, to_ms], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok((gave as u64, exposed as u64))
}

/// The workflow counts of the originals submitted in `[from_ms, to_ms)`
/// but survey answers (which need no resolution), judged at `now_ms`
/// against `acknowledge_ms` and `resolve_ms`.
pub(crate) fn workflow_counts(
    conn: &Connection,
    from_ms: i64,
    to_ms: i64,
    now_ms: i64,
    acknowledge_ms: i64,
    resolve_ms: i64,
) -> Result<crate::feedback::analyze::WorkflowCounts> {
    let row = conn
        .prepare_cached(
            "SELECT COUNT(*),
                 COALESCE(SUM(done_at_ms IS NULL), 0),
                 COALESCE(SUM(acknowledged_at_ms IS NOT NULL
                     AND acknowledged_at_ms - submitted_at_ms <= ?4), 0),
                 COALESCE(SUM(acknowledged_at_ms IS NOT NULL OR ?3 - submitted_at_ms > ?4), 0),
                 COALESCE(SUM(done_at_ms IS NOT NULL AND done_at_ms - submitted_at_ms <= ?5), 0),
                 COALESCE(SUM(done_at_ms IS NOT NULL OR ?3 - submitted_at_ms > ?5), 0),
                 AVG(acknowledged_at_ms - submitted_at_ms)
             FROM feedback
             WHERE submitted_at_ms >= ?1 AND submitted_at_ms < ?2 AND duplicate_of IS NULL
               AND type != 'satisfaction_survey'",
        )?
        .query_row(
            params![from_ms, to_ms, now_ms, acknowledge_ms, resolve_ms],
            |r| {
                Ok(crate::feedback::analyze::WorkflowCounts {
                    originals: r.get::<_, i64>(0)? as u64,
                    open: r.get::<_, i64>(1)? as u64,
                    acknowledged_in_time: r.get::<_, i64>(2)? as u64,
                    acknowledgement_due: r.get::<_, i64>(3)? as u64,
                    resolved_in_time: r.get::<_, i64>(4)? as u64,
                    resolution_due: r.get::<_, i64>(5)? as u64,
                    mean_acknowledgement_hours: r
                        .get::<_, Option<f64>>(6)?
                        .map(|ms| ms / 3_600_000.0),
                })
            },
        )?;
    Ok(row)
}

/// Open items of one status and priority, and how many.
pub(crate) type OpenCount = (String, String, u64);

/// The open items (new, acknowledged, in progress; merged copies left out)
/// by status and priority, and when the oldest item still new came in.
pub(crate) fn backlog(conn: &Connection) -> Result<(Vec<OpenCount>, Option<i64>)> {
    let mut stmt = conn.prepare_cached(
        "SELECT status, priority, COUNT(*) FROM feedback
         WHERE status IN ('new', 'acknowledged', 'in_progress') AND duplicate_of IS NULL
         GROUP BY status, priority",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
    })?;
    let counts = rows.collect::<Result<_, _>>()?;
    let oldest = conn
        .prepare_cached(
            "SELECT MIN(submitted_at_ms) FROM feedback WHERE status = 'new' AND duplicate_of IS NULL",
        )?
        .query_row([], |r| r.get(0))?;
    Ok((counts, oldest))
}
