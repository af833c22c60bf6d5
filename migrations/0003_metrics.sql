-- Azure Monitor metrics: one row per (resource, metric, dimension values, minute) holding the
-- aggregates Azure keeps per minute. The average is total / count and is not stored; coarser
-- intervals are merged from minutes when queried. Rows older than the retention window
-- (Azure's 93 days by default) are deleted by the collector.

CREATE TABLE metric_minutes (
    resource_key TEXT    NOT NULL,          -- the resource's lower-case id
    metric       TEXT    NOT NULL,          -- Azure's metric name, e.g. ByteCount, Percentage CPU
    dimensions   TEXT    NOT NULL,          -- JSON object of dimension values, keys sorted; '{}' for none
    minute       INTEGER NOT NULL,          -- start of the minute, Unix seconds, Azure (scaled) time
    total        REAL    NOT NULL,
    count        INTEGER NOT NULL,          -- how many values the minute received
    minimum      REAL    NOT NULL,
    maximum      REAL    NOT NULL,
    PRIMARY KEY (resource_key, metric, dimensions, minute)
) WITHOUT ROWID;

-- Queries read one metric of one resource over a time range.
CREATE INDEX metric_minutes_by_range ON metric_minutes (resource_key, metric, minute);
-- Pruning deletes by age across every series.
CREATE INDEX metric_minutes_by_age ON metric_minutes (minute);
