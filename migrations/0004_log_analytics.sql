-- Log Analytics: the AzureMetrics table of every workspace, and where the diagnostic-settings
-- exporter has got to.
--
-- One row per (workspace, resource, metric, minute): what a diagnostic setting with
-- `AllMetrics` sends to a workspace. Azure flattens dimensions on this path (the AzureMetrics
-- table has no dimension columns), so the exporter merges a minute's series into one row.
-- Writing a minute again replaces it, so re-exporting a minute is harmless.

CREATE TABLE azure_metrics (
    workspace_key  TEXT    NOT NULL,        -- the workspace's lower-case ARM id
    resource_key   TEXT    NOT NULL,        -- the exporting resource's lower-case id
    metric         TEXT    NOT NULL,        -- MetricName, e.g. ByteCount
    minute         INTEGER NOT NULL,        -- TimeGenerated: start of the minute, Unix seconds, Azure time
    total          REAL    NOT NULL,
    count          REAL    NOT NULL,
    minimum        REAL    NOT NULL,
    maximum        REAL    NOT NULL,
    average        REAL    NOT NULL,
    unit           TEXT    NOT NULL,        -- UnitName, e.g. Bytes
    PRIMARY KEY (workspace_key, resource_key, metric, minute)
) WITHOUT ROWID;

-- Queries read one workspace over a time range.
CREATE INDEX azure_metrics_by_time ON azure_metrics (workspace_key, minute);

-- One row per diagnostic setting being exported: minutes from `since` on are exported,
-- those before `through` already were (the exporter re-sends a short tail, for minutes the
-- collector was still adding to).
CREATE TABLE log_exports (
    setting_key    TEXT    PRIMARY KEY,     -- the diagnostic setting's lower-case id
    workspace_key  TEXT    NOT NULL,        -- the destination it was exporting to
    since          INTEGER NOT NULL,        -- first minute to export (the setting's creation)
    through        INTEGER NOT NULL         -- minutes before this are exported
);
