-- Performance monitoring: metric series and their windows, raw samples (only
-- when a retention keeps them), the alert rules' state, the alerts and their
-- history, and flag usage. The rules themselves are versioned definitions of
-- kind `monitoring` (the core's table).

-- One series per metric name and tag set, with its all-time totals (what a
-- Prometheus scrape reads).
CREATE TABLE metric_series (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    tags        TEXT NOT NULL,      -- canonical JSON object, keys sorted
    kind        TEXT NOT NULL,      -- timer, histogram, counter, gauge
    count       INTEGER NOT NULL,
    sum         REAL NOT NULL,
    last_value  REAL NOT NULL,
    last_at_ms  INTEGER NOT NULL,
    created_ms  INTEGER NOT NULL,
    UNIQUE (name, tags)
) STRICT;

-- Mergeable aggregates per series and window: one-minute windows
-- (resolution 60000), rolled up into one-hour windows (3600000) once older
-- than their retention.
CREATE TABLE metric_windows (
    series      INTEGER NOT NULL REFERENCES metric_series (id),
    resolution_ms INTEGER NOT NULL,
    start_ms    INTEGER NOT NULL,
    count       INTEGER NOT NULL,
    sum         REAL NOT NULL,
    min         REAL NOT NULL,
    max         REAL NOT NULL,
    mean        REAL NOT NULL,
    m2          REAL NOT NULL,
    last_value  REAL NOT NULL,
    last_at_ms  INTEGER NOT NULL,
    sketch      BLOB NOT NULL,      -- DDSketch, DataDog's binary form
    PRIMARY KEY (series, resolution_ms, start_ms)
) STRICT, WITHOUT ROWID;
CREATE INDEX metric_windows_by_time ON metric_windows (resolution_ms, start_ms);

-- Raw samples, written only while settings.retention.raw_samples_hours > 0.
CREATE TABLE metric_samples (
    id      INTEGER PRIMARY KEY,
    series  INTEGER NOT NULL REFERENCES metric_series (id),
    value   REAL NOT NULL,
    at_ms   INTEGER NOT NULL
) STRICT;
CREATE INDEX metric_samples_by_time ON metric_samples (at_ms);

-- Each rule's state between evaluations: a restart keeps the incident and
-- the `for` clock.
CREATE TABLE alert_rules (
    rule            TEXT PRIMARY KEY,
    state           TEXT NOT NULL,  -- inactive, pending, firing
    severity        TEXT,
    since_ms        INTEGER,
    value           REAL,
    evaluated_at_ms INTEGER,
    alert           INTEGER         -- the open incident while firing
) STRICT;

-- Incidents: from firing to resolved.
CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    rule            TEXT NOT NULL,
    metric          TEXT NOT NULL,
    state           TEXT NOT NULL,  -- firing, resolved
    severity        TEXT NOT NULL,
    max_severity    TEXT NOT NULL,
    value           REAL,
    threshold       REAL,
    started_at_ms   INTEGER NOT NULL,
    fired_at_ms     INTEGER NOT NULL,
    resolved_at_ms  INTEGER,
    acknowledged_by TEXT,
    acknowledged_at_ms INTEGER,
    resolved_by     TEXT,
    message         TEXT NOT NULL
) STRICT;
CREATE INDEX alerts_by_time ON alerts (fired_at_ms);

-- Every transition and manual action, in order (AUTOINCREMENT: handles
-- deliver events to their callbacks behind a watermark of ids).
CREATE TABLE alert_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    alert       INTEGER REFERENCES alerts (id),
    rule        TEXT NOT NULL,
    metric      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    severity    TEXT,
    previous_severity TEXT,
    value       REAL,
    threshold   REAL,
    at_ms       INTEGER NOT NULL,
    actor       TEXT,
    no_data     INTEGER NOT NULL,
    message     TEXT NOT NULL
) STRICT;
CREATE INDEX alert_events_by_time ON alert_events (at_ms);

-- Flag evaluations per flag and hour: on, off, and per variant ('' for the
-- flag's own on/off counts).
CREATE TABLE flag_usage (
    flag        TEXT NOT NULL,
    hour_ms     INTEGER NOT NULL,
    variant     TEXT NOT NULL,
    on_count    INTEGER NOT NULL,
    off_count   INTEGER NOT NULL,
    PRIMARY KEY (flag, hour_ms, variant)
) STRICT, WITHOUT ROWID;
CREATE INDEX flag_usage_by_hour ON flag_usage (hour_ms);

-- Flag names asked for that did not exist.
CREATE TABLE unknown_flags (
    name          TEXT PRIMARY KEY,
    count         INTEGER NOT NULL,
    first_seen_ms INTEGER NOT NULL,
    last_seen_ms  INTEGER NOT NULL
) STRICT;
