//! User feedback on the handle: submission (triage from the live snapshot,
//! the user's flags and variants, the duplicate search, one transaction),
//! reading, listing, the workflow, and the analysis ([`analysis`]).

mod analysis;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::Cha;
use crate::error::{Error, Result};
use crate::feedback::analyze::DAY_MS;
use crate::feedback::model::{FeedbackType, Priority, SentimentLabel, Status};
use crate::feedback::settings::FeedbackSettings;
use crate::feedback::{Submission, Triage, redact, similarity, workflow};
use crate::flags::{FlagId, Now, OwnedContext, Reason};
use crate::store::definitions;
use crate::store::feedback::{self as sql, ExposureRow, ItemFilter, ItemRow, KIND, NewItem};

pub use analysis::FeedbackAnalysisOptions;

/// Who the library records as the actor of what it does by itself
/// (merging a near-duplicate on arrival).
pub const SYSTEM_ACTOR: &str = "cha-deploy";

/// How many recent originals a submission is compared with, at most.
const DUPLICATE_CANDIDATES: usize = 500;

/// A stored feedback item, as `cha_feedback_get` gives it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedbackItem {
    /// Its id.
    pub id: i64,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: FeedbackType,
    /// The text as stored (redacted when configured).
    pub text: String,
    /// The rating, 1 to 5.
    pub rating: Option<u8>,
    /// The category.
    pub category: String,
    /// Who submitted it.
    pub user_id: String,
    /// The context it was submitted with (a JSON object).
    pub context: Value,
    /// When it was submitted, Unix ms.
    pub submitted_at_ms: i64,
    /// Its sentiment.
    pub sentiment: FeedbackSentiment,
    /// Its priority.
    pub priority: Priority,
    /// Why it has that priority, step by step.
    pub priority_reasons: Vec<String>,
    /// Where it was routed.
    pub route: FeedbackRoute,
    /// The automatic response.
    pub response: String,
    /// Its status.
    pub status: Status,
    /// When it took that status.
    pub status_at_ms: i64,
    /// When it first left `new`.
    pub acknowledged_at_ms: Option<i64>,
    /// When it was first resolved, closed or merged.
    pub done_at_ms: Option<i64>,
    /// The original it was merged into, if it is a copy.
    pub duplicate_of: Option<i64>,
    /// Of an original: itself and its merged copies.
    pub reports: u64,
    /// Of an original: the different users among them.
    pub people: u64,
    /// Whether e-mail addresses or phone numbers were taken out of the text.
    pub redacted: bool,
    /// The flags and variants its user was exposed to when it was
    /// submitted (left out of lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposures: Option<FeedbackExposures>,
    /// Every status it took (left out of lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<FeedbackEvent>>,
}

/// The sentiment of an item.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FeedbackSentiment {
    /// In (−1, 1).
    pub score: f64,
    /// Positive, neutral or negative.
    pub label: SentimentLabel,
}

/// Where an item went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedbackRoute {
    /// The team queue.
    pub queue: String,
}

/// The state of one flag for an item's user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlagExposure {
    /// Whether it was on.
    pub enabled: bool,
    /// Its variant, for a flag with variants.
    pub variant: Option<String>,
}

/// What an item's user was exposed to when it was submitted.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct FeedbackExposures {
    /// Every deployed flag, evaluated for the user (nothing is exposed by
    /// this evaluation).
    pub flags: BTreeMap<String, FlagExposure>,
    /// The variant of each experiment with a stored exposure of the user
    /// (or of the context's `network_id`).
    pub experiments: BTreeMap<String, String>,
}

/// One step of an item's workflow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedbackEvent {
    /// When.
    pub at_ms: i64,
    /// Who.
    pub actor: String,
    /// From which status (`None` for the submission).
    pub from: Option<Status>,
    /// To which.
    pub to: Status,
    /// Why, if given.
    pub note: Option<String>,
}

/// A status change.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackTransition<'a> {
    /// The status to move to (not `duplicate`: see [`Cha::merge_feedback`]).
    pub status: Status,
    /// Who moves it.
    pub actor: &'a str,
    /// Why, for the history.
    pub note: Option<&'a str>,
    /// When, Unix ms; `None` is now. For importing a workflow kept
    /// elsewhere: not before the item's last change, not in the future.
    pub at_ms: Option<i64>,
}

/// Which items [`Cha::list_feedback`] lists.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FeedbackQuery {
    /// Only this status.
    pub status: Option<Status>,
    /// Only this type.
    pub kind: Option<FeedbackType>,
    /// Only this category.
    pub category: Option<String>,
    /// Only this priority.
    pub priority: Option<Priority>,
    /// Only this queue.
    pub queue: Option<String>,
    /// Only this user's.
    pub user_id: Option<String>,
    /// Submitted at or after (Unix ms; 0: unbounded).
    pub start_ms: i64,
    /// Submitted before (Unix ms; 0: unbounded).
    pub end_ms: i64,
    /// At most this many, newest first (0: 100).
    pub limit: u32,
}

/// The settings of the stored feedback definitions (section name → JSON),
/// or `None` when there are none.
///
/// # Errors
/// `Storage` when they do not make whole settings (a section missing or
/// unreadable): they come from the store, or from a file read into this
/// very model.
pub(crate) fn settings_of(
    definitions: &BTreeMap<String, Value>,
) -> Result<Option<FeedbackSettings>> {
    if definitions.is_empty() {
        return Ok(None);
    }
    let object: Map<String, Value> = definitions
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    serde_json::from_value(Value::Object(object))
        .map(Some)
        .map_err(|e| {
            Error::storage(format!(
                "the stored user feedback settings cannot be read: {e}"
            ))
        })
}

/// The compiled rules of the deployed `user_feedback.yml`, or of the
/// built-in defaults when none is deployed.
pub(crate) fn compile(conn: &rusqlite::Connection) -> Result<Triage> {
    let stored: BTreeMap<String, Value> = definitions::load(conn, KIND)?
        .into_iter()
        .map(|d| Ok((d.name.clone(), d.parse::<Value>()?)))
        .collect::<Result<_>>()?;
    let settings = settings_of(&stored)?
        .unwrap_or_else(crate::config::user_feedback::default_feedback_settings);
    Ok(Triage::new(settings))
}

impl Cha {
    /// Stores `submission` (`submit_feedback`): checks it, redacts the text
    /// when configured, triages it (category, sentiment, priority, queue),
    /// links it to the flags and variants its user was exposed to at the
    /// time, merges it into an earlier open report of the same type and
    /// category whose words it shares (see `duplicates` in
    /// `user_feedback.yml`), and writes it with its response in one
    /// transaction: stored when this returns (across a power loss too with
    /// `synchronous: full`). Looks at flags without exposing anyone.
    ///
    /// # Errors
    /// `InvalidArgument` (every rule of [`Submission::check`], and a
    /// category that is not configured); nothing is stored. `Storage`,
    /// `Busy`.
    pub fn submit_feedback(&self, submission: &Submission) -> Result<FeedbackItem> {
        let now = crate::clock::now_ms();
        submission.check(now)?;
        let triage = self.inner.live.load().feedback.clone();
        if let Some(c) = &submission.category
            && !triage.is_category(c)
        {
            return Err(Error::invalid_argument(format!(
                "feedback.category `{c}` is not a configured category (known: {})",
                triage.category_names().join(", ")
            )));
        }
        let at_ms = submission.submitted_at_ms.unwrap_or(now);
        let settings = triage.settings();
        let (text, redacted) = if settings.capture.redact_personal_data {
            let r = redact::redact(&submission.text);
            let any = r.emails + r.phones > 0;
            (r.text, any)
        } else {
            (submission.text.clone(), false)
        };
        let assessment = triage.assess(
            submission.kind,
            &text,
            submission.rating,
            submission.category.as_deref(),
        );
        let signature = similarity::signature(&text);
        // This handle's buffered exposures first: a user assigned a moment
        // ago is linked to the variant.
        self.flush()?;
        let exposures = self.exposures_at(&submission.user_id, &submission.context, at_ms)?;
        let reasons = serde_json::to_string(&assessment.priority_reasons)?;
        let context = serde_json::to_string(&submission.context)?;
        let id = self.inner.store.write(|tx| {
            let original = if submission.kind.is_issue() {
                let window = i64::from(settings.duplicates.window_days) * DAY_MS;
                sql::duplicate_candidates(
                    tx,
                    submission.kind.as_str(),
                    &assessment.category,
                    at_ms - window,
                    at_ms,
                    DUPLICATE_CANDIDATES,
                )?
                .into_iter()
                .map(|(id, s)| (id, similarity::similarity(&signature, &s)))
                .filter(|(_, s)| *s >= settings.duplicates.similarity_threshold)
                .fold(None, |best: Option<(i64, f64)>, c| match best {
                    Some(b) if b.1 >= c.1 => Some(b),
                    _ => Some(c),
                })
            } else {
                None
            };
            let id = sql::insert_item(
                tx,
                &NewItem {
                    submitted_at_ms: at_ms,
                    user_id: &submission.user_id,
                    kind: submission.kind.as_str(),
                    category: &assessment.category,
                    rating: submission.rating,
                    text: &text,
                    redacted,
                    context_json: &context,
                    sentiment_score: assessment.sentiment.score,
                    sentiment: assessment.sentiment.label.as_str(),
                    priority: assessment.priority.as_str(),
                    priority_reasons_json: &reasons,
                    queue: &assessment.queue,
                    signature: &signature,
                    exposures: &exposures,
                },
            )?;
            let value = |name: &str| -> Option<String> {
                Some(match name {
                    "id" => id.to_string(),
                    "user_id" => submission.user_id.clone(),
                    "type" => submission.kind.as_str().replace('_', " "),
                    "category" => assessment.category.clone(),
                    "priority" => assessment.priority.as_str().to_owned(),
                    "queue" => assessment.queue.clone(),
                    "sentiment" => assessment.sentiment.label.as_str().to_owned(),
                    _ => return None,
                })
            };
            let response = match original {
                Some((into, similarity)) => {
                    let note = format!("near-duplicate of #{into} (similarity {similarity:.2})");
                    sql::set_status(
                        tx,
                        id,
                        "new",
                        "duplicate",
                        true,
                        at_ms,
                        SYSTEM_ACTOR,
                        Some(&note),
                    )?;
                    let (reports, people) = sql::merge_into(tx, id, into)?;
                    triage.duplicate_response(|name| match name {
                        "original_id" => Some(into.to_string()),
                        "reports" => Some(reports.to_string()),
                        "people" => Some(people.to_string()),
                        other => value(other),
                    })
                }
                None => triage.response(submission.kind, value),
            };
            sql::set_response(tx, id, &response)?;
            Ok(id)
        })?;
        self.feedback(id)
    }

    /// [`Cha::submit_feedback`] of the JSON `cha_feedback_submit` takes
    /// (see [`crate::feedback::capture`]).
    ///
    /// # Errors
    /// As [`Cha::submit_feedback`]; `InvalidArgument` for JSON that does not
    /// read, naming the field.
    pub fn submit_feedback_json(&self, json: &str) -> Result<FeedbackItem> {
        self.submit_feedback(&Submission::from_json(json, crate::clock::now_ms())?)
    }

    /// The stored item `id`, with what its user was exposed to and its
    /// history.
    ///
    /// # Errors
    /// `NotFound` if there is none; `Storage`.
    pub fn feedback(&self, id: i64) -> Result<FeedbackItem> {
        let conn = self.inner.store.conn();
        let row = sql::get_item(&conn, id)?.ok_or_else(|| not_found(id))?;
        let mut item = item_of(row)?;
        let mut exposures = FeedbackExposures::default();
        for (source, name, arm, variant) in sql::exposures_of(&conn, id)? {
            if source == "flag" {
                exposures.flags.insert(
                    name,
                    FlagExposure {
                        enabled: arm == crate::feedback::analyze::FLAG_ON,
                        variant,
                    },
                );
            } else {
                exposures.experiments.insert(name, arm);
            }
        }
        let history = sql::events_of(&conn, id)?
            .into_iter()
            .map(|(at_ms, actor, from, to, note)| {
                Ok(FeedbackEvent {
                    at_ms,
                    actor,
                    from: from.as_deref().map(status_of).transpose()?,
                    to: status_of(&to)?,
                    note,
                })
            })
            .collect::<Result<_>>()?;
        item.exposures = Some(exposures);
        item.history = Some(history);
        Ok(item)
    }

    /// The items `query` selects, newest first, without their exposures
    /// and history.
    ///
    /// # Errors
    /// `InvalidArgument` for a range whose end is not after its start;
    /// `Storage`.
    pub fn list_feedback(&self, query: &FeedbackQuery) -> Result<Vec<FeedbackItem>> {
        let (since_ms, until_ms) = range(query.start_ms, query.end_ms)?;
        let filter = ItemFilter {
            status: query.status.map(Status::as_str),
            kind: query.kind.map(FeedbackType::as_str),
            category: query.category.as_deref(),
            priority: query.priority.map(Priority::as_str),
            queue: query.queue.as_deref(),
            user_id: query.user_id.as_deref(),
            since_ms,
            until_ms,
            limit: if query.limit == 0 { 100 } else { query.limit },
        };
        let conn = self.inner.store.conn();
        sql::list_items(&conn, &filter)?
            .into_iter()
            .map(item_of)
            .collect()
    }

    /// [`Cha::list_feedback`] of a query as JSON (`cha_feedback_list`):
    /// `{"status", "type", "category", "priority", "queue", "user_id",
    /// "start_ms", "end_ms", "limit"}`, every key optional; `None` lists the
    /// newest 100.
    ///
    /// # Errors
    /// `InvalidArgument` for JSON that does not read (an unknown key, an
    /// unknown status, type or priority), naming it; as
    /// [`Cha::list_feedback`].
    pub fn list_feedback_json(&self, query: Option<&str>) -> Result<Vec<FeedbackItem>> {
        let query = match query {
            Some(text) if !text.trim().is_empty() => query_of(text)?,
            _ => FeedbackQuery::default(),
        };
        self.list_feedback(&query)
    }

    /// [`Cha::transition_feedback`] of a change as JSON
    /// (`cha_feedback_transition`): `{"status", "actor", "note", "at"}` with
    /// `note` and `at` (RFC 3339) optional.
    ///
    /// # Errors
    /// `InvalidArgument` for JSON that does not read, naming the key; as
    /// [`Cha::transition_feedback`].
    pub fn transition_feedback_json(&self, id: i64, change: &str) -> Result<FeedbackItem> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Change {
            status: String,
            actor: String,
            #[serde(default)]
            note: Option<String>,
            #[serde(default)]
            at: Option<String>,
        }
        let c: Change = serde_json::from_str(change)
            .map_err(|e| Error::invalid_argument(format!("status change: {e}")))?;
        let at_ms =
            c.at.as_deref()
                .map(|t| {
                    crate::common::time::parse_rfc3339_ms(t)
                        .map_err(|m| Error::invalid_argument(format!("status change: at: {m}")))
                })
                .transpose()?;
        self.transition_feedback(
            id,
            &FeedbackTransition {
                status: parse_status(&c.status)?,
                actor: &c.actor,
                note: c.note.as_deref(),
                at_ms,
            },
        )
    }

    /// Moves item `id` to `status` now, as `actor` (see
    /// [`crate::feedback::workflow`] for the moves allowed).
    ///
    /// # Errors
    /// As [`Cha::transition_feedback`].
    pub fn set_feedback_status(
        &self,
        id: i64,
        status: Status,
        actor: &str,
    ) -> Result<FeedbackItem> {
        self.transition_feedback(
            id,
            &FeedbackTransition {
                status,
                actor,
                note: None,
                at_ms: None,
            },
        )
    }

    /// Moves an item to another status, recorded with its time, actor and
    /// note.
    ///
    /// # Errors
    /// `NotFound`; `InvalidArgument` for a move the workflow does not allow
    /// (the message lists the allowed ones), for `duplicate` (merging
    /// names the original: [`Cha::merge_feedback`]), an empty actor, or a
    /// time before the item's last change or in the future. Nothing
    /// changes on error.
    pub fn transition_feedback(&self, id: i64, t: &FeedbackTransition<'_>) -> Result<FeedbackItem> {
        super::check_actor(t.actor)?;
        if t.status == Status::Duplicate {
            return Err(Error::invalid_argument(format!(
                "feedback #{id}: a duplicate names its original; merge it instead \
                 (cha_feedback_merge, `cha-deploy feedback merge {id} --into ORIGINAL`)"
            )));
        }
        let now = crate::clock::now_ms();
        self.inner.store.write(|tx| {
            let row = sql::get_item(tx, id)?.ok_or_else(|| not_found(id))?;
            let from = status_of(&row.status)?;
            if let Some(why) = workflow::refusal(from, t.status) {
                return Err(Error::invalid_argument(format!("feedback #{id}: {why}")));
            }
            let at = check_time(id, t.at_ms, row.status_at_ms, now)?;
            sql::set_status(
                tx,
                id,
                from.as_str(),
                t.status.as_str(),
                workflow::is_done(t.status),
                at,
                t.actor,
                t.note,
            )
        })?;
        self.feedback(id)
    }

    /// Merges item `id` into the report `into` it repeats (into the
    /// original of `into`, when `into` is itself a copy), as `actor`: `id`
    /// becomes a `duplicate`, its own copies follow it, and the original
    /// counts the reports and the different people again.
    ///
    /// # Errors
    /// `NotFound` for either item; `InvalidArgument` for an item merged
    /// into itself, one whose status cannot move to `duplicate`, or an
    /// empty actor.
    pub fn merge_feedback(&self, id: i64, into: i64, actor: &str) -> Result<FeedbackItem> {
        super::check_actor(actor)?;
        let now = crate::clock::now_ms();
        self.inner.store.write(|tx| {
            let row = sql::get_item(tx, id)?.ok_or_else(|| not_found(id))?;
            let target = sql::get_item(tx, into)?.ok_or_else(|| not_found(into))?;
            let root = target.duplicate_of.unwrap_or(into);
            if root == id {
                return Err(Error::invalid_argument(format!(
                    "feedback #{id} cannot be merged into itself"
                )));
            }
            let from = status_of(&row.status)?;
            if let Some(why) = workflow::refusal(from, Status::Duplicate) {
                return Err(Error::invalid_argument(format!("feedback #{id}: {why}")));
            }
            let at = now.max(row.status_at_ms);
            let note = format!("merged into #{root}");
            sql::set_status(
                tx,
                id,
                from.as_str(),
                "duplicate",
                true,
                at,
                actor,
                Some(&note),
            )?;
            sql::merge_into(tx, id, root)?;
            Ok(())
        })?;
        self.feedback(id)
    }

    /// The feedback settings in force: the deployed `user_feedback.yml`, or
    /// the built-in defaults (those of the shipped file) when none is.
    pub fn feedback_settings(&self) -> FeedbackSettings {
        self.inner.live.load().feedback.settings().clone()
    }

    /// Every deployed flag evaluated for `user` with `context` at `at_ms`,
    /// and the variants of the experiments `user` (or the context's
    /// `network_id`) has a stored exposure to by then. Exposes nobody.
    fn exposures_at(
        &self,
        user: &str,
        context: &Map<String, Value>,
        at_ms: i64,
    ) -> Result<Vec<ExposureRow>> {
        let live = self.inner.live.load();
        let mut out = Vec::new();
        flag_context(user, context).with_context(|ctx| {
            for (i, def) in live.flags.definitions().iter().enumerate() {
                let id = FlagId::from_index(i as u32);
                let e = live.flags.evaluate(id, ctx, Now::At(at_ms));
                let mut state = (e.enabled, e.variant.map(str::to_owned));
                // An a_b_test flag linked to an experiment follows the
                // unit's variant: looked up, not assigned.
                if e.reason == Reason::Split
                    && let Some((experiment, unit)) = live.flags.experiment_unit(id, ctx)
                {
                    state = match live.experiments.get(experiment) {
                        Some((compiled, _)) => match compiled.assign(unit).variant {
                            Some(v) => (
                                v != compiled.control,
                                Some(compiled.variants[v as usize].name.to_string()),
                            ),
                            None => (false, None),
                        },
                        None => (false, None),
                    };
                }
                out.push(ExposureRow {
                    source: "flag",
                    name: def.name.clone(),
                    arm: if state.0 { "on" } else { "off" }.to_owned(),
                    variant: state.1,
                });
            }
        });
        let mut units = vec![user];
        if let Some(Value::String(network)) = context.get("network_id")
            && !network.is_empty()
        {
            units.push(network);
        }
        let conn = self.inner.store.conn();
        for def in live.experiments.definitions() {
            for unit in &units {
                if let Some((variant, first_seen)) = sql::stored_exposure(&conn, &def.id, unit)?
                    && first_seen <= at_ms
                {
                    out.push(ExposureRow {
                        source: "experiment",
                        name: def.id.clone(),
                        arm: variant,
                        variant: None,
                    });
                    break;
                }
            }
        }
        Ok(out)
    }
}

/// The flag context of a submission: the user, and from its context the
/// keys flags know (`session_id`, `groups`, `environment`, `app_name`,
/// `remote_address`) plus every other string, number or boolean as a
/// custom property (`network_id`, `app_version`).
fn flag_context(user: &str, context: &Map<String, Value>) -> OwnedContext {
    let mut ctx = OwnedContext {
        user_id: Some(user.to_owned()),
        ..OwnedContext::default()
    };
    for (key, value) in context {
        let text = match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        };
        match (key.as_str(), value) {
            ("groups", Value::Array(items)) => {
                ctx.groups = items
                    .iter()
                    .filter_map(|g| g.as_str().map(str::to_owned))
                    .collect();
            }
            ("session_id", Value::String(s)) => ctx.session_id = Some(s.clone()),
            ("environment", Value::String(s)) => ctx.environment = Some(s.clone()),
            ("app_name", Value::String(s)) => ctx.app_name = Some(s.clone()),
            ("remote_address", Value::String(s)) => ctx.remote_address = Some(s.clone()),
            (_, _) => {
                if let Some(text) = text {
                    ctx.properties.push((key.clone(), text));
                }
            }
        }
    }
    ctx
}

/// A status by its name; an unknown one is an invalid argument listing
/// the statuses.
pub fn parse_status(name: &str) -> Result<Status> {
    Status::parse(name).ok_or_else(|| {
        let known: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
        Error::invalid_argument(format!(
            "status `{}` is not one of {}",
            crate::common::limits::excerpt(name),
            known.join(", ")
        ))
    })
}

/// The query of `cha_feedback_list`'s JSON.
fn query_of(text: &str) -> Result<FeedbackQuery> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Query {
        #[serde(default)]
        status: Option<String>,
        #[serde(default, rename = "type")]
        kind: Option<String>,
        #[serde(default)]
        category: Option<String>,
        #[serde(default)]
        priority: Option<String>,
        #[serde(default)]
        queue: Option<String>,
        #[serde(
            default,
            deserialize_with = "crate::common::ids::deserialize_optional_id"
        )]
        user_id: Option<String>,
        #[serde(default)]
        start_ms: i64,
        #[serde(default)]
        end_ms: i64,
        #[serde(default)]
        limit: u32,
    }
    let q: Query = serde_json::from_str(text)
        .map_err(|e| Error::invalid_argument(format!("feedback query: {e}")))?;
    let kind = q
        .kind
        .as_deref()
        .map(|t| {
            FeedbackType::parse(t).ok_or_else(|| {
                Error::invalid_argument(format!("feedback query: unknown type `{t}`"))
            })
        })
        .transpose()?;
    let priority = q
        .priority
        .as_deref()
        .map(|p| {
            Priority::parse(p).ok_or_else(|| {
                Error::invalid_argument(format!("feedback query: unknown priority `{p}`"))
            })
        })
        .transpose()?;
    Ok(FeedbackQuery {
        status: q.status.as_deref().map(parse_status).transpose()?,
        kind,
        category: q.category,
        priority,
        queue: q.queue,
        user_id: q.user_id,
        start_ms: q.start_ms,
        end_ms: q.end_ms,
        limit: q.limit,
    })
}

/// The time of a status change: `given` or `now`, not before `last_ms`
/// (the item's last change) and not in the future.
fn check_time(id: i64, given: Option<i64>, last_ms: i64, now: i64) -> Result<i64> {
    let Some(at) = given else {
        // Clocks of two processes may differ by a little: never go back.
        return Ok(now.max(last_ms));
    };
    if at < last_ms {
        return Err(Error::invalid_argument(format!(
            "feedback #{id}: a status change at {} cannot come before the item's last change at {}",
            crate::common::time::format_rfc3339_ms(at),
            crate::common::time::format_rfc3339_ms(last_ms)
        )));
    }
    if at > now + crate::feedback::capture::MAX_CLOCK_SKEW_MS {
        return Err(Error::invalid_argument(format!(
            "feedback #{id}: a status change at {} is in the future",
            crate::common::time::format_rfc3339_ms(at)
        )));
    }
    Ok(at)
}

/// `[start, end)` of a query, with 0 as unbounded.
pub(crate) fn range(start_ms: i64, end_ms: i64) -> Result<(i64, i64)> {
    crate::common::time::check_time_ms("start_ms", start_ms)?;
    crate::common::time::check_time_ms("end_ms", end_ms)?;
    if start_ms < 0 || end_ms < 0 {
        return Err(Error::invalid_argument(format!(
            "a time range is in Unix milliseconds from 0 (unbounded), not {start_ms}..{end_ms}"
        )));
    }
    let lo = if start_ms == 0 { i64::MIN } else { start_ms };
    let hi = if end_ms == 0 { i64::MAX } else { end_ms };
    if lo >= hi {
        return Err(Error::invalid_argument(format!(
            "the range ends ({end_ms}) before or where it starts ({start_ms})"
        )));
    }
    Ok((lo, hi))
}

fn not_found(id: i64) -> Error {
    Error::not_found(format!("feedback #{id} does not exist"))
}

fn status_of(name: &str) -> Result<Status> {
    Status::parse(name).ok_or_else(|| Error::storage(format!("unknown stored status `{name}`")))
}

/// The item of a stored row, without exposures and history.
fn item_of(row: ItemRow) -> Result<FeedbackItem> {
    let bad = |what: &str, value: &str| {
        Error::storage(format!(
            "feedback #{}: unknown stored {what} `{value}`",
            row.id
        ))
    };
    Ok(FeedbackItem {
        id: row.id,
        kind: FeedbackType::parse(&row.kind).ok_or_else(|| bad("type", &row.kind))?,
        text: row.text.clone(),
        rating: row.rating,
        category: row.category.clone(),
        user_id: row.user_id.clone(),
        context: serde_json::from_str(&row.context_json)
            .map_err(|e| Error::storage(format!("feedback #{}: context: {e}", row.id)))?,
        submitted_at_ms: row.submitted_at_ms,
        sentiment: FeedbackSentiment {
            score: row.sentiment_score,
            label: SentimentLabel::parse(&row.sentiment)
                .ok_or_else(|| bad("sentiment", &row.sentiment))?,
        },
        priority: Priority::parse(&row.priority).ok_or_else(|| bad("priority", &row.priority))?,
        priority_reasons: serde_json::from_str(&row.priority_reasons_json)
            .map_err(|e| Error::storage(format!("feedback #{}: priority reasons: {e}", row.id)))?,
        route: FeedbackRoute {
            queue: row.queue.clone(),
        },
        response: row.response.clone(),
        status: status_of(&row.status)?,
        status_at_ms: row.status_at_ms,
        acknowledged_at_ms: row.acknowledged_at_ms,
        done_at_ms: row.done_at_ms,
        duplicate_of: row.duplicate_of,
        reports: row.reports,
        people: row.people,
        redacted: row.redacted,
        exposures: None,
        history: None,
    })
}
