-- Schema 2: feature flags, the audit log, and the configuration revision.

-- The current definition of each flag, as canonical JSON of the flag model.
CREATE TABLE flags (
    name            TEXT PRIMARY KEY,
    definition_json TEXT NOT NULL,
    version         INTEGER NOT NULL,   -- 1 on creation, +1 on every change
    updated_at_ms   INTEGER NOT NULL,
    updated_by      TEXT NOT NULL
) STRICT;

-- Every configuration change: who, when, what, before and after. A flag's
-- history is its rows here; any earlier version can be restored from them.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at_ms       INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,   -- create, update, delete, restore, deploy
    kind        TEXT NOT NULL,   -- what was changed: flag, ...
    subject     TEXT NOT NULL,   -- its name
    version     INTEGER,         -- the subject's version after the change
    before_json TEXT,
    after_json  TEXT
) STRICT;
CREATE INDEX audit_log_by_subject ON audit_log (kind, subject, id);

-- Bumped by every configuration change; every open handle watches it to
-- pick up changes made by other processes.
INSERT INTO meta (key, value) VALUES ('config_revision', '0');
