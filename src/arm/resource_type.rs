//! The resource types armlet serves under `/providers/{namespace}/...`, and the registry
//! that routes requests to them.
//!
//! Generic ARM behaviour (ids, api-version, ETags, create-or-update status codes, child
//! collections, listings, errors) lives in [`super::resources`]; a type supplies only what is
//! specific to it: validation of its body, server-computed fields, delete checks, actions.

use std::sync::Arc;

use async_trait::async_trait;
use axum::response::Response;
use serde_json::{Map, Value};
use sqlx::SqliteConnection;

use super::error::{ArmError, ArmResult};
use super::id::ResourceId;
use super::request::ArmRequest;
use super::service::Arm;
use crate::store::{Resource, ResourceQuery, resources};

/// A child collection kept inside its parent's document, e.g. a load balancer's `probes`.
#[derive(Debug, Clone, Copy)]
pub struct Child {
    /// URL segment and property name, e.g. `probes` (matched case-insensitively).
    pub property: &'static str,
    /// Whether Azure has PUT and DELETE on the child endpoint (otherwise GET/LIST only).
    pub writable: bool,
}

/// How a type takes PATCH.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Patch {
    /// Only `tags` (ARM's `TagsObject`, what Microsoft.Network types accept).
    Tags,
    /// The body is merged into the resource like a partial PUT (e.g. a scale set's
    /// `VirtualMachineScaleSetUpdate`); the type's `prepare` does the merge.
    Merge,
}

/// What a type's hooks may use during a write: the open write transaction.
pub struct WriteCx<'a> {
    pub arm: &'a Arm,
    pub conn: &'a mut SqliteConnection,
    /// The resource being written, with canonical type casing.
    pub id: &'a ResourceId,
    pub api_version: &'a str,
}

impl WriteCx<'_> {
    /// Another resource, as stored, read inside the transaction.
    pub async fn get(&mut self, id: &str) -> ArmResult<Option<Resource>> {
        Ok(resources::get(self.conn, id).await?)
    }

    /// Writes another resource inside the transaction (e.g. a NIC a scale set creates).
    pub async fn put(&mut self, r: &Resource) -> ArmResult<()> {
        Ok(resources::put(self.conn, r).await?)
    }

    pub async fn delete(&mut self, key: &str) -> ArmResult<bool> {
        Ok(resources::delete(self.conn, key).await?)
    }

    pub async fn list(&mut self, q: &ResourceQuery) -> ArmResult<Vec<Resource>> {
        Ok(resources::list(self.conn, q).await?)
    }
}

/// One ARM resource type.
#[async_trait]
pub trait ResourceType: Send + Sync + 'static {
    /// Canonical name, e.g. `Microsoft.Network/publicIPAddresses`.
    fn type_name(&self) -> &'static str;

    /// The api-versions advertised under `/providers` (any well-formed version is accepted).
    fn api_versions(&self) -> &'static [&'static str];

    /// Child collections served from this type's document.
    fn children(&self) -> &'static [Child] {
        &[]
    }

    /// How PATCH applies to this type.
    fn patch(&self) -> Patch {
        Patch::Tags
    }

    /// The location to store for a PUT's `location`; the default accepts Azure's regions.
    /// Types whose location is `global` (action groups, metric alerts) override it.
    fn location(&self, given: &str) -> ArmResult<String> {
        super::location::parse_for(given, self.type_name())
    }

    /// Whether a PUT that creates answers 200 rather than 201 (types whose spec declares only
    /// 200, e.g. metric alerts: az refuses a 201 from them).
    fn created_with_ok(&self) -> bool {
        false
    }

    /// Azure's naming rule for this type; the default is the common Microsoft.Network one.
    fn validate_name(&self, name: &str) -> ArmResult<()> {
        validate_common_name(self.type_name(), name)
    }

    /// Turns the client's body into the document to store. `existing` is the stored document
    /// on update. The generic layer has already set `id`, `name`, `type`, `location` and
    /// `tags` on `body`; the type validates and completes `properties` (provisioningState,
    /// child ids, defaults) and may read or write other resources through `cx`.
    async fn prepare(
        &self,
        cx: &mut WriteCx<'_>,
        existing: Option<&Value>,
        body: Map<String, Value>,
    ) -> ArmResult<Value>;

    /// Refuses a delete that Azure would refuse (e.g. still referenced), and may clean up
    /// dependent resources in the same transaction.
    async fn before_delete(&self, _cx: &mut WriteCx<'_>, _doc: &Value) -> ArmResult<()> {
        Ok(())
    }

    /// Adds server-computed fields (back-references, runtime state) to a stored document.
    async fn render(&self, _arm: &Arm, doc: Value) -> ArmResult<Value> {
        Ok(doc)
    }

    /// Whether a create or update completes asynchronously: the PUT answers with a
    /// non-terminal provisioningState and `Azure-AsyncOperation`, and [`Self::provision`] runs
    /// as the operation.
    fn asynchronous(&self) -> bool {
        false
    }

    /// The asynchronous part of a create or update: returns when the resource is provisioned
    /// (its provisioningState then becomes Succeeded), or why it failed.
    async fn provision(&self, _arm: &Arc<Arm>, _id: &ResourceId) -> ArmResult<()> {
        Ok(())
    }

    /// Requests below the generic shapes: POST actions (`.../{name}/{action}`), deeper
    /// children. `rest` are the lower-cased segments after the resource name.
    async fn route(
        &self,
        _arm: &Arc<Arm>,
        req: &ArmRequest,
        _id: &ResourceId,
        _rest: &[&str],
    ) -> ArmResult<Response> {
        Err(ArmError::not_found(
            "NotFound",
            format!(
                "The requested resource path '{}' does not exist.",
                req.uri.path()
            ),
        ))
    }
}

/// 1-80 characters; starts with a letter or digit; ends with a letter, digit or `_`;
/// letters, digits, `.`, `-` and `_` in between.
pub fn validate_common_name(type_name: &str, name: &str) -> ArmResult<()> {
    let chars: Vec<char> = name.chars().collect();
    let ok = !chars.is_empty()
        && chars.len() <= 80
        && chars[0].is_ascii_alphanumeric()
        && chars
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
        && chars
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(ArmError::bad_request(
            "InvalidResourceName",
            format!(
                "Resource name {name} is invalid. The name can be up to 80 characters long. It must begin with a word character, and it must end with a word character or with '_'. The name may contain word characters or '.', '-', '_'."
            ),
        )
        .with_target(type_name.to_string()))
    }
}

#[derive(Default, Clone)]
pub struct Registry {
    types: Vec<Arc<dyn ResourceType>>,
}

impl Registry {
    pub fn register(&mut self, t: impl ResourceType) {
        self.types.push(Arc::new(t));
    }

    /// The type named `type_name`, matched case-insensitively.
    pub fn get(&self, type_name: &str) -> Option<Arc<dyn ResourceType>> {
        self.types
            .iter()
            .find(|t| t.type_name().eq_ignore_ascii_case(type_name))
            .cloned()
    }

    /// Types of one namespace, in registration order.
    pub fn in_namespace(&self, namespace: &str) -> Vec<Arc<dyn ResourceType>> {
        self.types
            .iter()
            .filter(|t| {
                t.type_name()
                    .split('/')
                    .next()
                    .is_some_and(|ns| ns.eq_ignore_ascii_case(namespace))
            })
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_names_follow_azure_rules() {
        for ok in ["lb", "my-lb.1", "a_", "A1"] {
            assert!(validate_common_name("t", ok).is_ok(), "{ok}");
        }
        for bad in ["", "-lb", "lb-", "lb.", "l b", &"a".repeat(81)] {
            assert!(validate_common_name("t", bad).is_err(), "{bad}");
        }
    }
}
