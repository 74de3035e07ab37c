-- Schema 10: raw observations in blocks.
--
-- A flush writes the observations of each experiment it holds as one block
-- (store::observation_blocks: unit ids and names once each, then compact
-- rows) instead of one row each, and folds them in the same transaction.
-- The ids of a block's observations are first_id..=last_id, drawn from the
-- sequence of the observations table, which keeps the rows that older
-- versions wrote (and any written straight into it): one id space and one
-- fold watermark for both, and an export merges them in id order.
CREATE TABLE observation_blocks (
    first_id     INTEGER PRIMARY KEY,
    last_id      INTEGER NOT NULL,
    experiment   TEXT NOT NULL,
    observations INTEGER NOT NULL,   -- last_id - first_id + 1
    first_at_ms  INTEGER NOT NULL,   -- the earliest and latest at_ms in it,
    last_at_ms   INTEGER NOT NULL,   -- for retention
    data         BLOB NOT NULL
) STRICT;
CREATE INDEX observation_blocks_by_experiment ON observation_blocks (experiment, first_id);

-- The sequence the blocks draw from exists once a row was ever inserted;
-- create it otherwise, so that a flush only ever updates it.
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'observations', COALESCE((SELECT MAX(id) FROM observations), 0)
    WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'observations');
