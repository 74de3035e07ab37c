-- Schema 3: A/B experiments, exposures and observations, with the
-- sufficient statistics that keep analysis O(1) in the number of observations.

-- The current definition of each experiment, as canonical JSON.
CREATE TABLE experiments (
    id               TEXT PRIMARY KEY,
    definition_json  TEXT NOT NULL,
    version          INTEGER NOT NULL,
    updated_at_ms    INTEGER NOT NULL,
    updated_by       TEXT NOT NULL,
    -- The split of new units (variants, weights, seed, coverage) as JSON: when
    -- it changes while units are exposed, their assignments are pinned.
    allocation_json  TEXT NOT NULL,
    allocation_changed INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Each unit's first exposure and the variant it got: the sticky assignment.
CREATE TABLE exposures (
    experiment    TEXT NOT NULL,
    unit          TEXT NOT NULL,
    variant       TEXT NOT NULL,
    first_seen_ms INTEGER NOT NULL,
    PRIMARY KEY (experiment, unit)
) STRICT, WITHOUT ROWID;

-- Exposed units per variant, for the sample-ratio check.
CREATE TABLE variant_exposures (
    experiment TEXT NOT NULL,
    variant    TEXT NOT NULL,
    units      INTEGER NOT NULL,
    first_seen_ms INTEGER NOT NULL,
    PRIMARY KEY (experiment, variant)
) STRICT, WITHOUT ROWID;

-- Raw observations, kept for export and re-analysis. Recording only appends
-- here; the rows are then folded, once each and in id order, into
-- unit_metrics and variant_metrics (AUTOINCREMENT: ids never go back, so the
-- fold's watermark in meta is safe).
CREATE TABLE observations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    experiment TEXT NOT NULL,
    unit       TEXT NOT NULL,
    variant    TEXT NOT NULL,
    metric     TEXT NOT NULL,
    value      REAL NOT NULL,
    at_ms      INTEGER NOT NULL
) STRICT;
INSERT INTO meta (key, value) VALUES ('observations_folded_to', '0');

-- Each unit's observations of a metric so far, from which its one value (the
-- unit of analysis) follows by the metric's aggregation.
CREATE TABLE unit_metrics (
    experiment  TEXT NOT NULL,
    metric      TEXT NOT NULL,
    unit        TEXT NOT NULL,
    variant     TEXT NOT NULL,
    n           INTEGER NOT NULL,
    sum         REAL NOT NULL,
    nonzero     INTEGER NOT NULL,   -- how many of them were not zero
    PRIMARY KEY (experiment, metric, unit)
) STRICT, WITHOUT ROWID;

-- Count, mean and M2 (Welford/Chan) of unit values per variant and metric.
CREATE TABLE variant_metrics (
    experiment TEXT NOT NULL,
    variant    TEXT NOT NULL,
    metric     TEXT NOT NULL,
    n          INTEGER NOT NULL,
    mean       REAL NOT NULL,
    m2         REAL NOT NULL,
    PRIMARY KEY (experiment, variant, metric)
) STRICT, WITHOUT ROWID;
