-- Scale-set lifecycle state that is no ARM document of its own, kept by the runtime's
-- lifecycle controllers and read by the API:
--
-- rolling_upgrades: one row per rolling upgrade (model change, OS image or extension
-- upgrade). The newest row of a scale set answers `rollingUpgrades/latest`; OS image
-- upgrades are listed by `osUpgradeHistory`. `record` is the upgrade's progress record
-- (JSON, runtime::upgrade::progress::Progress), so an upgrade resumes after a restart.
-- `active` is 1 while the controller has work on it (rolling forward, or cleaning up a
-- maxSurge batch after a cancel); `version` guards concurrent writers (the controller and
-- a cancel): a write names the version it read.
CREATE TABLE rolling_upgrades (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    scale_set    TEXT NOT NULL,        -- the scale set's lower-case id
    kind         TEXT NOT NULL,        -- Model | OsImage | Extension
    active       INTEGER NOT NULL,
    version      INTEGER NOT NULL,
    record       TEXT NOT NULL,
    target_image TEXT                  -- the imageReference rolled out (JSON), for the history
);
CREATE INDEX rolling_upgrades_by_scale_set ON rolling_upgrades (scale_set, id);

-- Orchestration services a user suspended (`setOrchestrationServiceState`) or that
-- suspended themselves (automatic repairs that keep failing).
CREATE TABLE orchestration_services (
    scale_set  TEXT NOT NULL,
    service    TEXT NOT NULL,          -- AutomaticRepairs
    suspended  INTEGER NOT NULL,
    changed_at TEXT NOT NULL,
    PRIMARY KEY (scale_set, service)
);

-- The Scheduled Events document of each scale set (terminate notifications), so a
-- pending termination survives a restart.
CREATE TABLE scheduled_events (
    scale_set TEXT PRIMARY KEY,
    document  TEXT NOT NULL            -- JSON, runtime::upgrade::scheduled_events::ScheduledEvents
);
