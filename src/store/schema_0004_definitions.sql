-- Schema 4: one table of versioned definitions for every subsystem (flags,
-- experiments, and those to come), kept by one piece of code with its audit
-- rows. The rows of the flags and experiments tables move here unchanged.

CREATE TABLE definitions (
    kind            TEXT NOT NULL,      -- flag, experiment, ...
    name            TEXT NOT NULL,
    definition_json TEXT NOT NULL,      -- canonical JSON of the subsystem's model
    version         INTEGER NOT NULL,   -- 1 on creation, +1 on every change
    updated_at_ms   INTEGER NOT NULL,
    updated_by      TEXT NOT NULL,
    PRIMARY KEY (kind, name)
) STRICT, WITHOUT ROWID;

INSERT INTO definitions (kind, name, definition_json, version, updated_at_ms, updated_by)
    SELECT 'flag', name, definition_json, version, updated_at_ms, updated_by FROM flags;
INSERT INTO definitions (kind, name, definition_json, version, updated_at_ms, updated_by)
    SELECT 'experiment', id, definition_json, version, updated_at_ms, updated_by FROM experiments;

-- What only experiments track beside their definition: the split of new
-- units (variants, weights, seed, coverage) as JSON; once it changes while
-- units are exposed, their assignments are pinned.
CREATE TABLE experiment_allocations (
    experiment         TEXT PRIMARY KEY,
    allocation_json    TEXT NOT NULL,
    allocation_changed INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

INSERT INTO experiment_allocations (experiment, allocation_json, allocation_changed)
    SELECT id, allocation_json, allocation_changed FROM experiments;

DROP TABLE flags;
DROP TABLE experiments;
