-- Schema 6: the aggregation each metric's variant summaries were folded
-- with. When a metric comes (back) into an experiment's definition, or its
-- aggregation changes, its summaries are rebuilt from the unit totals, which
-- the fold keeps for every observation, known metric or not.

CREATE TABLE metric_aggregations (
    experiment  TEXT NOT NULL,
    metric      TEXT NOT NULL,
    aggregation TEXT NOT NULL,   -- mean, sum, count, proportion
    PRIMARY KEY (experiment, metric)
) STRICT, WITHOUT ROWID;

-- The summaries of the experiments stored now were folded with the
-- aggregations of their definitions.
INSERT INTO metric_aggregations (experiment, metric, aggregation)
    SELECT d.name, json_extract(m.value, '$.name'), json_extract(m.value, '$.aggregation')
    FROM definitions AS d, json_each(d.definition_json, '$.metrics') AS m
    WHERE d.kind = 'experiment';
