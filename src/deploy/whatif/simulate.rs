//! What-if, step two: the predicted writes performed, in dependency order, inside one store
//! transaction that is then rolled back. Each resource goes through the same staging a PUT
//! does (`arm::resources::stage`: validation, defaults, server-computed fields, child ids),
//! so a later resource sees the earlier ones exactly as the deployment would, and what is
//! compared with the stored document is what would really be stored. Nothing is committed.

use std::sync::Arc;

use serde_json::{Value, json};

use super::expand::Predicted;
use crate::arm::id::resource_group_id;
use crate::arm::resource_type::{Child, ResourceType};
use crate::arm::resources::{canonical, child_of, merge_child, resolve_type, stage};
use crate::arm::{Arm, ArmError, ArmResult, ResourceId, groups};
use crate::store::{Resource, resources};

/// What the deployment would leave behind for one predicted resource.
pub enum After {
    /// The document it would store (for a child resource: its parent's).
    Doc(Value),
    /// armlet could not deploy it, and why.
    Unsupported(String),
    /// Its write would fail with this error.
    Failed(ArmError),
}

pub struct Simulated {
    /// The stored document (for a child resource: its parent's), if there is one.
    pub before: Option<Value>,
    pub after: After,
    /// For a child resource (`virtualNetworks/subnets`): its collection and name.
    pub child: Option<(Child, String)>,
    /// The type that renders the documents (none for resource groups).
    pub ty: Option<Arc<dyn ResourceType>>,
}

impl Simulated {
    fn unsupported(reason: String) -> Self {
        Simulated {
            before: None,
            after: After::Unsupported(reason),
            child: None,
            ty: None,
        }
    }
}

/// Simulates every predicted write, in order; the transaction is rolled back at the end.
pub async fn simulate(app: &Arc<Arm>, planned: &[Predicted]) -> ArmResult<Vec<Simulated>> {
    let mut w = app.store.write().await?;
    let mut out = Vec::with_capacity(planned.len());
    for p in planned {
        out.push(one(app, &mut w.tx, p).await?);
    }
    // Dropped without a commit: a what-if writes nothing.
    drop(w);
    Ok(out)
}

async fn one(
    app: &Arc<Arm>,
    conn: &mut sqlx::SqliteConnection,
    p: &Predicted,
) -> ArmResult<Simulated> {
    if p.is_group {
        return group(conn, p).await;
    }
    let id = ResourceId::parse(&p.id)?;
    let ty = match resolve_type(app, &id, &p.api_version) {
        Ok(t) => t,
        Err(e) => {
            return Ok(Simulated::unsupported(format!(
                "armlet does not serve the resource type '{}', so the deployment would fail for it ({}).",
                id.type_name(),
                e.code
            )));
        }
    };
    let root = canonical(ty.as_ref(), &id.root());
    let stored = resources::get(conn, &root.key()).await?.map(|r| r.body);
    let (body, child) = match id.segments.len() {
        1 => (p.body.clone(), None),
        2 => {
            let Some(child) = child_of(ty.as_ref(), &id.segments[1].0).filter(|c| c.writable)
            else {
                return Ok(Simulated::unsupported(format!(
                    "armlet does not serve the resource type '{}' as a resource of its own, so the deployment would fail for it.",
                    id.type_name()
                )));
            };
            let Some(mut parent) = stored.clone() else {
                let e = ArmError::not_found(
                    "ParentResourceNotFound",
                    format!(
                        "Can not perform requested operation on nested resource. Parent resource '{}' not found.",
                        root.name()
                    ),
                );
                return Ok(failed(stored, Some((child, id.name().to_string())), ty, e));
            };
            merge_child(&mut parent, &child, id.name(), p.body.clone());
            let Value::Object(map) = parent else {
                return Err(ArmError::internal("stored document is not an object"));
            };
            (map, Some((child, id.name().to_string())))
        }
        _ => {
            return Ok(Simulated::unsupported(format!(
                "armlet does not serve the resource type '{}', so the deployment would fail for it.",
                id.type_name()
            )));
        }
    };
    match stage(app, conn, ty.as_ref(), &root, &p.api_version, body, None).await {
        Ok(staged) => {
            resources::put(conn, &staged.row).await?;
            Ok(Simulated {
                before: stored,
                after: After::Doc(staged.row.body),
                child,
                ty: Some(ty),
            })
        }
        Err(e) => Ok(failed(stored, child, ty, e.with_target(p.id.clone()))),
    }
}

fn failed(
    before: Option<Value>,
    child: Option<(Child, String)>,
    ty: Arc<dyn ResourceType>,
    e: ArmError,
) -> Simulated {
    Simulated {
        before,
        after: After::Failed(e),
        child,
        ty: Some(ty),
    }
}

/// A resource group (subscription scope): created or its tags replaced; written to the
/// transaction so the resources deployed into it can be staged.
async fn group(conn: &mut sqlx::SqliteConnection, p: &Predicted) -> ArmResult<Simulated> {
    // `/subscriptions/{sub}/resourceGroups/{name}`
    let parts: Vec<&str> = p.id.trim_matches('/').split('/').collect();
    let [_, sub, _, name] = parts.as_slice() else {
        return Err(ArmError::internal(format!(
            "not a resource group id: {}",
            p.id
        )));
    };
    let (sub, name) = (sub.to_string(), name.to_string());
    let key = resource_group_id(&sub, &name);
    let existing = resources::get(conn, &key).await?;
    let before = existing.as_ref().map(|r| r.body.clone());
    let mut after = before.clone().unwrap_or_else(|| {
        json!({
            "id": format!("/subscriptions/{sub}/resourceGroups/{name}"),
            "name": name,
            "type": groups::TYPE,
            "location": p.body.get("location").cloned().unwrap_or(Value::Null),
            "properties": {"provisioningState": "Succeeded"},
        })
    });
    after["tags"] = p.body.get("tags").cloned().unwrap_or(json!({}));
    let row = Resource {
        id: after["id"].as_str().unwrap_or_default().to_string(),
        subscription: sub,
        resource_group: Some(name.clone()),
        type_name: groups::TYPE.into(),
        name,
        body: after.clone(),
        etag: existing.map(|r| r.etag).unwrap_or_default(),
    };
    resources::put(conn, &row).await?;
    Ok(Simulated {
        before,
        after: After::Doc(after),
        child: None,
        ty: None,
    })
}
