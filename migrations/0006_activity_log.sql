-- The activity log: one row per event (Azure's EventData document in `body`), with the
-- fields the activity-log $filter selects on. Written by armlet's engines (autoscale
-- actions, alert state changes, faults, rolling upgrades); kept for 90 days.
CREATE TABLE activity_log (
    event_data_id     TEXT PRIMARY KEY,
    subscription      TEXT NOT NULL,          -- lower-case
    resource_group    TEXT,                   -- lower-case
    resource_uri      TEXT NOT NULL,          -- lower-case resource id
    resource_provider TEXT,                   -- lower-case namespace
    correlation_id    TEXT,
    event_timestamp   TEXT NOT NULL,          -- RFC 3339 UTC, fixed width: sorts as text
    status            TEXT,
    caller            TEXT,
    level             TEXT,
    body              TEXT NOT NULL
);
CREATE INDEX activity_log_by_time ON activity_log (subscription, event_timestamp);
