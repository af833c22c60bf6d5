-- What the runtime observed: for each instance whose process it started, the generation and
-- the scale-set model version that process runs. Written by the reconciler after a start,
-- removed with the instance; read by instance views and rolling upgrades ("which model does
-- this instance really run").
CREATE TABLE instance_processes (
    key           TEXT PRIMARY KEY,         -- the instance row's key
    generation    INTEGER NOT NULL,
    model_version INTEGER NOT NULL,
    started_at    TEXT NOT NULL
);
