//! `Microsoft.Compute/virtualMachines`: the instances of Flexible scale sets. They are created
//! by their scale set; here they are read, deleted (which lowers the scale set's capacity),
//! tagged, and powered on and off.

use std::sync::Arc;

use async_trait::async_trait;
use axum::Json;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::instances;
use crate::api::only;
use crate::arm::Arm;
use crate::arm::resource_type::{ResourceType, WriteCx};
use crate::arm::{ArmError, ArmRequest, ArmResult, ResourceId};
use crate::model::compute::FLEX_VM_TYPE;
use crate::runtime::Runtime;

pub struct VirtualMachines {
    /// Instance views read the runtime.
    pub runtime: Arc<Runtime>,
}

const ACTIONS: &[&str] = &[
    "start",
    "poweroff",
    "restart",
    "deallocate",
    "reimage",
    "redeploy",
];

fn scale_set_of(doc: &Value) -> ArmResult<ResourceId> {
    ResourceId::parse(
        doc["properties"]["virtualMachineScaleSet"]["id"]
            .as_str()
            .unwrap_or_default(),
    )
}

#[async_trait]
impl ResourceType for VirtualMachines {
    fn type_name(&self) -> &'static str {
        FLEX_VM_TYPE
    }

    fn api_versions(&self) -> &'static [&'static str] {
        &[
            "2024-11-01",
            "2024-07-01",
            "2024-03-01",
            "2023-09-01",
            "2023-07-01",
        ]
    }

    async fn prepare(
        &self,
        _cx: &mut WriteCx<'_>,
        existing: Option<&Value>,
        body: Map<String, Value>,
    ) -> ArmResult<Value> {
        let Some(existing) = existing else {
            return Err(ArmError::bad_request(
                "OperationNotAllowed",
                "armlet creates virtual machines as instances of Flexible scale sets: create or scale a scale set with orchestrationMode 'Flexible'.",
            ));
        };
        let mut doc = existing.clone();
        match body.get("tags") {
            Some(tags) => doc["tags"] = tags.clone(),
            None => {
                if let Some(o) = doc.as_object_mut() {
                    o.remove("tags");
                }
            }
        }
        Ok(doc)
    }

    async fn before_delete(&self, cx: &mut WriteCx<'_>, doc: &Value) -> ArmResult<()> {
        for nic in doc["properties"]["networkProfile"]["networkInterfaces"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(id) = nic["id"].as_str() {
                cx.delete(id).await?;
            }
        }
        if let Ok(vmss) = scale_set_of(doc)
            && let Some(mut row) = cx.get(&vmss.key()).await?
        {
            let capacity = row.body["sku"]["capacity"]
                .as_u64()
                .unwrap_or(1)
                .saturating_sub(1);
            row.body["sku"]["capacity"] = json!(capacity);
            row.etag = crate::arm::tags::new_etag();
            row.body["etag"] = json!(row.etag);
            cx.put(&row).await?;
        }
        Ok(())
    }

    async fn render(&self, _arm: &Arm, doc: Value) -> ArmResult<Value> {
        Ok(instances::without_internal(doc))
    }

    async fn route(
        &self,
        app: &Arc<Arm>,
        req: &ArmRequest,
        id: &ResourceId,
        rest: &[&str],
    ) -> ArmResult<Response> {
        let row = crate::arm::resources::get_stored(app, id).await?;
        let vmss = scale_set_of(&row.body)?;
        match rest {
            ["instanceview"] => {
                only(req, &[Method::GET])?;
                Ok(Json(super::vm::instance_view(app, &self.runtime, &row).await?).into_response())
            }
            [action] if ACTIONS.contains(action) => {
                only(req, &[Method::POST])?;
                super::vm::act(app, &vmss, action, Some(vec![row.name.clone()])).await?;
                Ok(StatusCode::OK.into_response())
            }
            _ => Err(ArmError::not_found(
                "NotFound",
                format!(
                    "The requested resource path '{}' does not exist.",
                    req.uri.path()
                ),
            )),
        }
    }
}
