-- The autoscale engine's own memory of each autoscale setting: its last scale action (with
-- the cooldown it started), whether the last evaluation was a metric failure, the scale
-- operation it is waiting for, and its last evaluation (shown in the setting's GET).
--
-- Kept apart from the setting's document on purpose: the engine writes this every
-- evaluation and the user writes the setting; separate rows mean neither write can lose the
-- other's, and the setting's ETag changes only when the user changes the setting.
CREATE TABLE autoscale_state (
    setting_key TEXT PRIMARY KEY,   -- the autoscale setting's lower-case id
    body        TEXT NOT NULL,      -- JSON, see controllers::autoscale::state
    updated_at  TEXT NOT NULL
) WITHOUT ROWID;
