//! The resource types armlet serves under `/providers/{namespace}/...`, and the registry
//! that routes requests to them. Generic ARM behaviour (ids, api-version, ETags, LROs,
//! listings) lives in the ARM layer; a type supplies only what is specific to it.

use std::sync::Arc;

/// One ARM resource type.
pub trait ResourceType: Send + Sync + 'static {
    /// Canonical name, e.g. `Microsoft.Network/publicIPAddresses`.
    fn type_name(&self) -> &'static str;
    /// The api-versions advertised under `/providers` (any well-formed version is accepted).
    fn api_versions(&self) -> &'static [&'static str];
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
