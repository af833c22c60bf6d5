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

-- Load balancer health events as the platform publishes them (the LoadBalancerHealthEvent
-- resource-log category), whether or not a diagnostic setting routes them anywhere: the
-- exporter copies them to workspaces, and the detector reads the latest per type and
-- frontend to honour Azure's re-detection interval.
CREATE TABLE lb_health_events (
    resource_key   TEXT    NOT NULL,        -- the load balancer's lower-case id
    time           INTEGER NOT NULL,        -- detection time, Unix seconds, Azure time
    event_type     TEXT    NOT NULL,        -- HealthEventType, e.g. NoHealthyBackends
    frontend_ip    TEXT    NOT NULL,
    description    TEXT    NOT NULL,
    PRIMARY KEY (resource_key, time, event_type, frontend_ip)
) WITHOUT ROWID;

-- The ALBHealthEvent table of every workspace: events exported by a diagnostic setting.
-- Exporting an event again replaces it.
CREATE TABLE alb_health_events (
    workspace_key  TEXT    NOT NULL,
    resource_key   TEXT    NOT NULL,
    time           INTEGER NOT NULL,
    event_type     TEXT    NOT NULL,
    frontend_ip    TEXT    NOT NULL,
    description    TEXT    NOT NULL,
    PRIMARY KEY (workspace_key, resource_key, time, event_type, frontend_ip)
) WITHOUT ROWID;

CREATE INDEX alb_health_events_by_time ON alb_health_events (workspace_key, time);
