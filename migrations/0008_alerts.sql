-- Metric alerts at run time: what each rule's evaluation keeps, the alerts it fired
-- (Microsoft.AlertsManagement), and the test notifications of action groups.

-- One row per metric alert rule that has been evaluated. `fired` is the state the next
-- evaluation starts from (the fired series and their unmet-evaluation counts), `status` the
-- rule's `metricAlerts/{rule}/status` list of the last evaluation. Deleted with the rule.
CREATE TABLE alert_rule_state (
    rule_key TEXT PRIMARY KEY,          -- lower-case rule id
    subscription TEXT NOT NULL,
    last_evaluated TEXT NOT NULL,       -- Azure time, RFC 3339 with microseconds
    fired TEXT NOT NULL,                -- JSON
    status TEXT NOT NULL                -- JSON
);

-- The alerts rules fired, as GET .../providers/Microsoft.AlertsManagement/alerts returns them.
-- An alert is written when it fires and rewritten when it resolves; it outlives its rule, as
-- in Azure. Columns other than `body` are lower-cased copies for filtering.
CREATE TABLE fired_alerts (
    alert_id TEXT PRIMARY KEY,          -- the alert's GUID
    subscription TEXT NOT NULL,
    resource_group TEXT,                -- the target's resource group
    target_resource TEXT NOT NULL,
    alert_rule TEXT NOT NULL,
    monitor_condition TEXT NOT NULL,    -- Fired | Resolved
    alert_state TEXT NOT NULL,          -- New | Acknowledged | Closed (the user's)
    last_modified TEXT NOT NULL,        -- Azure time, RFC 3339 with microseconds
    body TEXT NOT NULL                  -- the alert document, with its context
);
CREATE INDEX fired_alerts_by_subscription ON fired_alerts (subscription, last_modified);

-- `az monitor action-group test-notifications create`: one row per request, with each
-- receiver's outcome as the notifier learns it.
CREATE TABLE action_group_tests (
    notification_id TEXT PRIMARY KEY,
    action_group TEXT NOT NULL,         -- lower-case action group id
    alert_type TEXT NOT NULL,
    created_at TEXT NOT NULL,           -- Azure time, RFC 3339 with microseconds
    actions TEXT NOT NULL               -- JSON: [{mechanism, name, outcome}]
);
