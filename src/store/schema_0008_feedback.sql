-- User feedback: the items with what triage made of them, the flags and
-- variants each item's user was exposed to, the workflow's events, and
-- daily summaries that keep the analysis from reading every item again.

CREATE TABLE feedback (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    submitted_at_ms  INTEGER NOT NULL,
    user_id          TEXT NOT NULL,
    type             TEXT NOT NULL,
    category         TEXT NOT NULL,
    rating           INTEGER CHECK (rating BETWEEN 1 AND 5),
    text             TEXT NOT NULL,           -- as stored: redacted when configured
    redacted         INTEGER NOT NULL,        -- e-mail addresses and phone numbers taken out
    context_json     TEXT NOT NULL,
    sentiment_score  REAL NOT NULL,
    sentiment        TEXT NOT NULL,           -- positive, neutral, negative
    priority         TEXT NOT NULL,           -- critical, high, medium, low
    priority_reasons TEXT NOT NULL,           -- JSON array of the rule's steps
    queue            TEXT NOT NULL,
    response         TEXT NOT NULL,
    signature        TEXT NOT NULL,           -- content words, for the duplicate search
    duplicate_of     INTEGER REFERENCES feedback (id),
    status           TEXT NOT NULL,
    status_at_ms     INTEGER NOT NULL,
    acknowledged_at_ms INTEGER,               -- the first move out of `new`
    done_at_ms       INTEGER,                 -- the first move to resolved, closed or duplicate
    reports          INTEGER NOT NULL DEFAULT 1,  -- of an original: itself and its merged copies
    people           INTEGER NOT NULL DEFAULT 1   -- different users among them
) STRICT;

-- The analysis reads ranges of time (and counts users within them).
CREATE INDEX feedback_by_time ON feedback (submitted_at_ms, user_id);
-- The duplicate search reads the recent originals of a type and category.
CREATE INDEX feedback_originals ON feedback (type, category, submitted_at_ms)
    WHERE duplicate_of IS NULL;
-- The copies of an original.
CREATE INDEX feedback_copies ON feedback (duplicate_of, user_id)
    WHERE duplicate_of IS NOT NULL;
-- The top issues of a range read this alone (the reports of an issue type,
-- or negative ones): no row of the table, whose texts make it wide.
CREATE INDEX feedback_issues ON feedback
    (submitted_at_ms, duplicate_of, user_id, sentiment_score, type, sentiment)
    WHERE type NOT IN ('general_feedback', 'satisfaction_survey') OR sentiment = 'negative';
-- The workflow metrics of a range read this alone (the originals that need
-- an answer).
CREATE INDEX feedback_workflow ON feedback
    (submitted_at_ms, acknowledged_at_ms, done_at_ms, duplicate_of, type)
    WHERE duplicate_of IS NULL AND type != 'satisfaction_survey';

-- What each item's user was exposed to when it was submitted: the state of
-- every deployed flag (`on`/`off`) and the variant of every experiment the
-- user had a stored exposure to.
CREATE TABLE feedback_exposures (
    feedback_id INTEGER NOT NULL REFERENCES feedback (id),
    source      TEXT NOT NULL,                -- flag, experiment
    name        TEXT NOT NULL,
    arm         TEXT NOT NULL,                -- on/off, or the variant
    variant     TEXT,                         -- a flag's variant, if it has one
    PRIMARY KEY (feedback_id, source, name)
) STRICT, WITHOUT ROWID;

-- The workflow: every status an item took, when and by whom.
CREATE TABLE feedback_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    feedback_id INTEGER NOT NULL REFERENCES feedback (id),
    at_ms       INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    from_status TEXT,                         -- NULL for the submission
    to_status   TEXT NOT NULL,
    note        TEXT
) STRICT;
CREATE INDEX feedback_events_by_item ON feedback_events (feedback_id);

-- Per UTC day (submitted_at_ms / 86400000) and group: count, the ratings'
-- count, mean and M2, the ratings of 4 or 5, and the sentiment scores'
-- mean and M2 (n is `items`). Written with each item, never changed after.
CREATE TABLE feedback_daily (
    day            INTEGER NOT NULL,
    type           TEXT NOT NULL,
    category       TEXT NOT NULL,
    priority       TEXT NOT NULL,
    sentiment      TEXT NOT NULL,
    items          INTEGER NOT NULL,
    ratings        INTEGER NOT NULL,
    rating_mean    REAL NOT NULL,
    rating_m2      REAL NOT NULL,
    satisfied      INTEGER NOT NULL,
    sentiment_mean REAL NOT NULL,
    sentiment_m2   REAL NOT NULL,
    PRIMARY KEY (day, type, category, priority, sentiment)
) STRICT, WITHOUT ROWID;

-- The same per UTC day and arm: a flag state or an experiment variant.
CREATE TABLE feedback_daily_arms (
    day            INTEGER NOT NULL,
    source         TEXT NOT NULL,
    name           TEXT NOT NULL,
    arm            TEXT NOT NULL,
    items          INTEGER NOT NULL,
    ratings        INTEGER NOT NULL,
    rating_mean    REAL NOT NULL,
    rating_m2      REAL NOT NULL,
    satisfied      INTEGER NOT NULL,
    sentiment_mean REAL NOT NULL,
    sentiment_m2   REAL NOT NULL,
    PRIMARY KEY (day, source, name, arm)
) STRICT, WITHOUT ROWID;
