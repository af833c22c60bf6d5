//! The reference index: which resources a resource's document points at, so that "what
//! refers to this load balancer" is an index lookup rather than a scan of every NIC.
//!
//! A reference is any `id` string in a document naming another resource; references to a
//! child (a backend pool, a subnet) count as references to its top-level resource (the load
//! balancer, the virtual network). [`super::resources::put`] and `delete` keep the index.

use std::collections::BTreeSet;

use serde_json::Value;
use sqlx::SqliteConnection;

/// The lower-case id of the top-level resource `id` names or is below
/// (`/subscriptions/s/resourceGroups/g/providers/ns/type/name`), if it is a resource id.
pub fn top_level_key(id: &str) -> Option<String> {
    let segments: Vec<&str> = id.split('/').collect();
    if segments.first() != Some(&"") || !segments.get(1)?.eq_ignore_ascii_case("subscriptions") {
        return None;
    }
    let providers = segments
        .iter()
        .position(|s| s.eq_ignore_ascii_case("providers"))?;
    let end = providers + 4;
    if segments.len() < end || segments[providers + 1..end].iter().any(|s| s.is_empty()) {
        return None;
    }
    Some(segments[..end].join("/").to_ascii_lowercase())
}

/// The top-level resources `body` refers to, other than the resource `own_key` itself.
pub fn references(body: &Value, own_key: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    collect(body, own_key, &mut out);
    out
}

fn collect(v: &Value, own_key: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::String(s) if k == "id" => {
                        if let Some(key) = top_level_key(s).filter(|key| key != own_key) {
                            out.insert(key);
                        }
                    }
                    _ => collect(v, own_key, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect(v, own_key, out)),
        _ => {}
    }
}

/// Replaces the references recorded for `key` with those of `body`.
pub async fn record(
    conn: &mut SqliteConnection,
    key: &str,
    body: &Value,
) -> Result<(), sqlx::Error> {
    forget(&mut *conn, key).await?;
    for to in references(body, key) {
        sqlx::query("INSERT OR IGNORE INTO resource_references (to_key, from_key) VALUES (?, ?)")
            .bind(to)
            .bind(key)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Drops the references recorded for `key` (its own; references to it go with their
/// owners' next write, and readers join on existing rows).
pub async fn forget(conn: &mut SqliteConnection, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM resource_references WHERE from_key = ?")
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// Fills the index for rows written before it existed (once: when it is empty).
pub async fn backfill(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    let (indexed,): (i64,) = sqlx::query_as("SELECT count(*) FROM resource_references")
        .fetch_one(&mut *conn)
        .await?;
    if indexed > 0 {
        return Ok(());
    }
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT key, body FROM resources")
        .fetch_all(&mut *conn)
        .await?;
    for (key, body) in rows {
        if let Ok(body) = serde_json::from_str::<Value>(&body) {
            record(&mut *conn, &key, &body).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LB: &str =
        "/subscriptions/S/resourceGroups/G/providers/Microsoft.Network/loadBalancers/LB";

    #[test]
    fn children_reduce_to_their_top_level_resource() {
        let lb = LB.to_ascii_lowercase();
        assert_eq!(top_level_key(LB).as_deref(), Some(lb.as_str()));
        assert_eq!(
            top_level_key(&format!("{LB}/backendAddressPools/pool")).as_deref(),
            Some(lb.as_str())
        );
        for not_a_resource in [
            "",
            "lb",
            "/subscriptions/s",
            "/subscriptions/s/resourceGroups/g",
            "/x/y",
        ] {
            assert_eq!(top_level_key(not_a_resource), None, "{not_a_resource}");
        }
        assert_eq!(
            top_level_key("/subscriptions/s/providers/Microsoft.Insights/actionGroups/a")
                .as_deref(),
            Some("/subscriptions/s/providers/microsoft.insights/actiongroups/a")
        );
    }

    #[test]
    fn a_nics_references_exclude_itself() {
        let nic_key =
            "/subscriptions/s/resourcegroups/g/providers/microsoft.network/networkinterfaces/n";
        let nic = json!({
            "id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/networkInterfaces/n",
            "properties": {"ipConfigurations": [{
                "id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/networkInterfaces/n/ipConfigurations/ip",
                "properties": {
                    "loadBalancerBackendAddressPools": [{"id": format!("{LB}/backendAddressPools/pool")}],
                    "subnet": {"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/default"},
                    "name": "/subscriptions/not/an/id/field"
                }
            }]}
        });
        let refs: Vec<String> = references(&nic, nic_key).into_iter().collect();
        assert_eq!(
            refs,
            [
                LB.to_ascii_lowercase(),
                "/subscriptions/s/resourcegroups/g/providers/microsoft.network/virtualnetworks/v"
                    .into()
            ]
        );
    }

    fn row(id: &str, type_name: &str, body: Value) -> crate::store::Resource {
        crate::store::Resource {
            id: id.into(),
            subscription: "S".into(),
            resource_group: Some("G".into()),
            type_name: type_name.into(),
            name: id.rsplit('/').next().unwrap().into(),
            body,
            etag: "e".into(),
        }
    }

    fn nic(name: &str, pool: Option<&str>) -> crate::store::Resource {
        let id = format!(
            "/subscriptions/S/resourceGroups/G/providers/Microsoft.Network/networkInterfaces/{name}"
        );
        let pools: Vec<Value> = pool.map(|p| json!({"id": p})).into_iter().collect();
        let body = json!({"id": id, "properties": {"ipConfigurations": [{"properties": {"loadBalancerBackendAddressPools": pools}}]}});
        row(&id, "Microsoft.Network/networkInterfaces", body)
    }

    async fn nic_names(conn: &mut SqliteConnection, id: &str) -> Vec<String> {
        crate::store::resources::referring_to(conn, id, "microsoft.network/networkinterfaces")
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect()
    }

    #[tokio::test]
    async fn the_index_follows_writes_and_is_rebuilt_from_the_documents() {
        use crate::store::{Store, resources};
        let store = Store::in_memory().await.unwrap();
        let pool = format!("{LB}/backendAddressPools/pool");
        let mut w = store.write().await.unwrap();
        let conn = &mut *w.tx;
        let lb = row(LB, "Microsoft.Network/loadBalancers", json!({"id": LB}));
        resources::put(conn, &lb).await.unwrap();
        for (name, member) in [("a", true), ("b", false), ("c", true)] {
            resources::put(conn, &nic(name, member.then_some(pool.as_str())))
                .await
                .unwrap();
        }
        // By the load balancer, by its pool (a child), case-insensitively.
        assert_eq!(nic_names(conn, LB).await, ["a", "c"]);
        assert_eq!(nic_names(conn, &pool.to_uppercase()).await, ["a", "c"]);
        let a_key = nic("a", None).key();
        let lbs = resources::referred_by(conn, &a_key, "Microsoft.Network/loadBalancers")
            .await
            .unwrap();
        assert_eq!(lbs.len(), 1);

        // A rewrite replaces the references; a delete drops them.
        resources::put(conn, &nic("a", None)).await.unwrap();
        resources::put(conn, &nic("b", Some(&pool))).await.unwrap();
        resources::delete(conn, &nic("c", None).key())
            .await
            .unwrap();
        assert_eq!(nic_names(conn, LB).await, ["b"]);

        // Rows written before the index existed are indexed at startup.
        sqlx::query("DELETE FROM resource_references")
            .execute(&mut *conn)
            .await
            .unwrap();
        assert!(nic_names(conn, LB).await.is_empty());
        backfill(conn).await.unwrap();
        assert_eq!(nic_names(conn, LB).await, ["b"]);
    }

    /// The plans of the member and instance lookups use the indexes (no scan of `resources`).
    #[tokio::test]
    async fn member_and_instance_lookups_use_indexes() {
        let store = crate::store::Store::in_memory().await.unwrap();
        let plan = |sql: &'static str| {
            let store = store.clone();
            async move {
                let rows: Vec<(i64, i64, i64, String)> =
                    sqlx::query_as(sql).fetch_all(store.pool()).await.unwrap();
                rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("; ")
            }
        };
        let members = plan(
            "EXPLAIN QUERY PLAN SELECT r.body FROM resource_references x JOIN resources r ON r.key = x.from_key
             WHERE x.to_key = 'k' AND lower(r.type) = 't' ORDER BY r.created_at, r.key",
        )
        .await;
        assert!(!members.contains("SCAN r"), "{members}");
        let instances = plan(
            "EXPLAIN QUERY PLAN SELECT body FROM resources WHERE json_extract(body, '$._armlet.scaleSet') = 'k'
             ORDER BY json_extract(body, '$._armlet.created') LIMIT 50 OFFSET 50",
        )
        .await;
        assert!(instances.contains("resources_by_scale_set"), "{instances}");
        assert!(!instances.contains("TEMP B-TREE"), "{instances}");
    }
}
