-- The foundation schema: subscriptions, every ARM resource as a JSON document, and the
-- records of long-running operations. Never edit a migration once it has shipped; add one.

-- Subscriptions are created on first use of a well-formed id.
CREATE TABLE subscriptions (
    id           TEXT PRIMARY KEY,          -- lower-case GUID
    display_name TEXT NOT NULL,
    created_at   TEXT NOT NULL
);

-- Every resource, resource groups included, keyed by its case-folded id. `body` is the
-- document as stored (server-computed back-references are added when it is read).
CREATE TABLE resources (
    key            TEXT PRIMARY KEY,        -- lower-case id
    id             TEXT NOT NULL,           -- id with canonical type casing and the user's name casing
    subscription   TEXT NOT NULL,           -- lower-case
    resource_group TEXT,                    -- lower-case; for a group, its own name
    type           TEXT NOT NULL,           -- canonical, e.g. Microsoft.Network/loadBalancers
    name           TEXT NOT NULL,
    body           TEXT NOT NULL,
    etag           TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    changed_at     TEXT NOT NULL
);
CREATE INDEX resources_by_group ON resources (subscription, resource_group);
CREATE INDEX resources_by_type ON resources (subscription, type);

-- Long-running operations. A record stays answerable after the operation ends.
CREATE TABLE operations (
    id           TEXT PRIMARY KEY,
    subscription TEXT NOT NULL,
    kind         TEXT NOT NULL,             -- what the worker does, e.g. delete-resource-group
    target       TEXT NOT NULL,             -- the resource id it acts on
    status       TEXT NOT NULL,             -- InProgress | Succeeded | Failed | Canceled
    error        TEXT,                      -- ARM error JSON when Failed
    start_time   TEXT NOT NULL,
    end_time     TEXT
);
CREATE INDEX operations_in_progress ON operations (status);
