-- Schema 9: A/B tests by phase, with exact moments, quarantined
-- observations and archived tests.
--
-- The per-variant tables gain a phase; their rows move to the new tables
-- (nothing is lost: every row is copied before the old table goes).

-- A phase is a stretch of time in which a test admits new units under one
-- split. A test's first start opens phase 1; a pause or stop closes the
-- phase, a resume or restart opens the next one, and so does a change of
-- the split (variants' traffic, coverage or seed) while it runs. A unit
-- belongs to the phase of its first exposure.
CREATE TABLE experiment_phases (
    experiment      TEXT NOT NULL,
    phase           INTEGER NOT NULL,   -- 1, 2, ... per test
    started_ms      INTEGER NOT NULL,
    ended_ms        INTEGER,            -- NULL while the phase runs
    -- {"seed", "coverage", "variants": [{"name", "traffic_percentage"}]}
    split_json      TEXT NOT NULL,
    reason          TEXT NOT NULL,      -- start, resume, restart, split_change, migrated
    -- 1 when the phase's units were bucketed under more than one split
    -- (recorded before phases were): no sample-ratio check applies.
    mixed           INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (experiment, phase)
) STRICT, WITHOUT ROWID;

ALTER TABLE exposures ADD COLUMN phase INTEGER NOT NULL DEFAULT 1;

-- Exposed units per phase and variant, for the sample-ratio check of each
-- phase against its own split.
CREATE TABLE phase_exposures (
    experiment    TEXT NOT NULL,
    phase         INTEGER NOT NULL,
    variant       TEXT NOT NULL,
    units         INTEGER NOT NULL,
    first_seen_ms INTEGER NOT NULL,
    PRIMARY KEY (experiment, phase, variant)
) STRICT, WITHOUT ROWID;
INSERT INTO phase_exposures (experiment, phase, variant, units, first_seen_ms)
    SELECT experiment, 1, variant, units, first_seen_ms FROM variant_exposures;
DROP TABLE variant_exposures;

-- Each unit's observations so far, of every metric, in one row (a fold
-- then writes one row per unit, not one per unit and metric): its variant
-- and phase (its exposure's), and per metric the count, the sum as a
-- double-double (so that the unit's value stays exact over any number of
-- observations) and how many were not zero. The library writes `totals`
-- as a compact binary record; the rows carried over from unit_metrics hold
-- the same in text (metric, n, sum, sum_lo, nonzero, with unit and record
-- separators; %!.17g round-trips every double), read alike.
CREATE TABLE unit_totals (
    experiment TEXT NOT NULL,
    unit       TEXT NOT NULL,
    variant    TEXT NOT NULL,
    phase      INTEGER NOT NULL,
    totals     ANY NOT NULL,
    PRIMARY KEY (experiment, unit)
) STRICT, WITHOUT ROWID;
INSERT INTO unit_totals (experiment, unit, variant, phase, totals)
    SELECT experiment, unit, MIN(variant), 1,
        group_concat(metric || char(31) || n || char(31) || printf('%!.17g', sum)
                     || char(31) || '0' || char(31) || nonzero, char(30))
    FROM unit_metrics GROUP BY experiment, unit;
DROP TABLE unit_metrics;

-- The moments of the unit values per phase, variant and metric: the count,
-- a shift K and the double-double sums S1 = Σ(x − K), S2 = Σ(x − K)²
-- (stats::Summary), exact at any offset and under replacement.
CREATE TABLE phase_metrics (
    experiment TEXT NOT NULL,
    phase      INTEGER NOT NULL,
    variant    TEXT NOT NULL,
    metric     TEXT NOT NULL,
    n          INTEGER NOT NULL,
    shift      REAL NOT NULL,
    s1         REAL NOT NULL,
    s1_lo      REAL NOT NULL,
    s2         REAL NOT NULL,
    s2_lo      REAL NOT NULL,
    PRIMARY KEY (experiment, phase, variant, metric)
) STRICT, WITHOUT ROWID;
-- (n, mean, M2) is (n, K = mean, S1 = 0, S2 = M2); the library then
-- rebuilds them exactly from the unit totals once (meta key below).
INSERT INTO phase_metrics (experiment, phase, variant, metric, n, shift, s1, s1_lo, s2, s2_lo)
    SELECT experiment, 1, variant, metric, n, mean, 0, 0, m2, 0 FROM variant_metrics;
DROP TABLE variant_metrics;
INSERT INTO meta (key, value) VALUES ('rebuild_moments', '1');

-- Phase 1 of every test that has started, from its first exposure (or its
-- last change) to now (running) or to its last change.
INSERT INTO experiment_phases (experiment, phase, started_ms, ended_ms, split_json, reason, mixed)
    SELECT d.name, 1,
        COALESCE(
            (SELECT MIN(first_seen_ms) FROM phase_exposures AS e WHERE e.experiment = d.name),
            d.updated_at_ms),
        CASE json_extract(d.definition_json, '$.status') WHEN 'running' THEN NULL
            ELSE MAX(d.updated_at_ms,
                COALESCE((SELECT MIN(first_seen_ms) FROM phase_exposures AS e
                          WHERE e.experiment = d.name), d.updated_at_ms)) END,
        json_object(
            'seed', COALESCE(json_extract(d.definition_json, '$.seed'), d.name),
            'coverage', json_extract(d.definition_json, '$.coverage'),
            'variants', json((SELECT json_group_array(json_object(
                    'name', json_extract(v.value, '$.name'),
                    'traffic_percentage', json_extract(v.value, '$.traffic_percentage')))
                FROM json_each(d.definition_json, '$.variants') AS v))),
        'migrated',
        COALESCE((SELECT allocation_changed FROM experiment_allocations AS a
                  WHERE a.experiment = d.name), 0)
    FROM definitions AS d
    WHERE d.kind = 'experiment'
      AND (json_extract(d.definition_json, '$.status') != 'draft'
           OR EXISTS (SELECT 1 FROM phase_exposures AS e WHERE e.experiment = d.name));

-- Raw observations the fold could not take (not finite, beyond the
-- magnitude bound, or making an aggregate non-finite): the row stays in
-- observations, is counted here with the reason, and the fold goes on.
CREATE TABLE quarantined_observations (
    observation       INTEGER PRIMARY KEY,  -- observations.id
    experiment        TEXT NOT NULL,
    metric            TEXT NOT NULL,
    reason            TEXT NOT NULL,
    quarantined_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX quarantined_by_experiment ON quarantined_observations (experiment);

-- Tests removed from the config files: their last definition, so that
-- their data stays listed, shown and exported, and an explicit restore
-- brings them back with their history.
CREATE TABLE archived_experiments (
    experiment      TEXT PRIMARY KEY,
    definition_json TEXT NOT NULL,
    version         INTEGER NOT NULL,
    archived_at_ms  INTEGER NOT NULL,
    archived_by     TEXT NOT NULL
) STRICT, WITHOUT ROWID;
