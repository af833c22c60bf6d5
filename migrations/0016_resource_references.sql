-- Reads of one resource that need what points at it (a load balancer's member NICs, a
-- scale set's instances) use indexes instead of scanning every document of a type.

-- Which top-level resources a resource's document refers to (any `id` naming another
-- resource, children reduced to their top-level resource). Kept by store::resources::put
-- and delete; filled for existing rows at startup when empty (store::references::backfill).
CREATE TABLE resource_references (
    to_key   TEXT NOT NULL,                 -- lower-case id of the resource referred to
    from_key TEXT NOT NULL,                 -- lower-case id of the referring resource
    PRIMARY KEY (to_key, from_key)
) WITHOUT ROWID;
CREATE INDEX resource_references_by_from ON resource_references (from_key);

-- Instance rows of a scale set, in creation order (store::instances::of_scale_set; the
-- query must use these exact expressions).
CREATE INDEX resources_by_scale_set ON resources (
    json_extract(body, '$._armlet.scaleSet'),
    json_extract(body, '$._armlet.created')
);
