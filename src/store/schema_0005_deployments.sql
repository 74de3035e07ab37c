-- Schema 5: the history of deployments. Every deploy, rollback and backup
-- restore is a row: who, when, from where, what the files said, what it
-- changed, which runtime changes it overwrote or kept, and the exact
-- configuration it left, which a rollback restores.

CREATE TABLE deployments (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms          INTEGER NOT NULL,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,      -- deploy, rollback, restore
    config_dir     TEXT,               -- deploy: the directory deployed
    rolled_back_to INTEGER,            -- rollback: the deployment restored
    on_drift       TEXT NOT NULL,      -- refuse, overwrite, keep_runtime
    files_json     TEXT NOT NULL,      -- per file: name, sha256, source version, migration
    plan_json      TEXT NOT NULL,      -- what it changed, per section, field by field
    drift_json     TEXT NOT NULL,      -- the runtime changes it overwrote or kept
    -- The configuration it left is every definition's text as of audit_to in
    -- the audit log (what a rollback restores); this keeps the kinds there
    -- were, the kinds deployed, and where the files said otherwise (runtime
    -- changes it kept): a runtime change is drift until the files say the same.
    intended_json  TEXT NOT NULL,
    -- The last audit-log row it wrote: changes after it are runtime changes.
    audit_to       INTEGER NOT NULL,
    backup_path    TEXT,               -- the backup taken just before it
    duration_ms    REAL NOT NULL
) STRICT;
