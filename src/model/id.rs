//! ARM resource ids: `/subscriptions/{s}/resourceGroups/{rg}/providers/{ns}/{type}/{name}[/{child}/{name}]...`.
//!
//! Keywords and types match case-insensitively, names keep the casing the user gave.
//! [`ResourceId::key`] is the case-folded form used for storage and comparison.

use std::fmt;

use super::error::ArmError;

/// A parsed id of a provider resource (anything below `/providers/{namespace}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceId {
    pub subscription: String,
    /// `None` for subscription-level resources.
    pub resource_group: Option<String>,
    pub namespace: String,
    /// `(type, name)` pairs from the top-level resource down to the addressed child.
    pub segments: Vec<(String, String)>,
}

impl ResourceId {
    pub fn new(
        subscription: &str,
        resource_group: Option<&str>,
        namespace: &str,
        segments: Vec<(String, String)>,
    ) -> Self {
        ResourceId {
            subscription: subscription.to_string(),
            resource_group: resource_group.map(str::to_string),
            namespace: namespace.to_string(),
            segments,
        }
    }

    /// Parses a full id; used for references inside request bodies.
    pub fn parse(id: &str) -> Result<Self, ArmError> {
        let invalid = || {
            ArmError::bad_request(
                "LinkedInvalidPropertyId",
                format!(
                    "Property id '{id}' is invalid. Expect fully qualified resource Id that start with '/subscriptions/{{subscriptionId}}' or '/providers/{{resourceProviderNamespace}}/'."
                ),
            )
        };
        let parts: Vec<&str> = id.trim_end_matches('/').split('/').collect();
        if parts.len() < 2
            || !parts[0].is_empty()
            || !parts[1].eq_ignore_ascii_case("subscriptions")
        {
            return Err(invalid());
        }
        let rest = &parts[2..];
        let (subscription, rest) = rest.split_first().ok_or_else(invalid)?;
        let (resource_group, rest) = match rest {
            [kw, rg, rest @ ..] if kw.eq_ignore_ascii_case("resourceGroups") => (Some(*rg), rest),
            _ => (None, rest),
        };
        let (namespace, rest) = match rest {
            [kw, ns, rest @ ..] if kw.eq_ignore_ascii_case("providers") => (*ns, rest),
            _ => return Err(invalid()),
        };
        if rest.is_empty() || rest.len() % 2 != 0 || rest.iter().any(|s| s.is_empty()) {
            return Err(invalid());
        }
        let segments = rest
            .chunks(2)
            .map(|c| (c[0].to_string(), c[1].to_string()))
            .collect();
        Ok(ResourceId::new(
            subscription,
            resource_group,
            namespace,
            segments,
        ))
    }

    /// `Microsoft.Network/loadBalancers/probes`, as given.
    pub fn type_name(&self) -> String {
        let mut t = self.namespace.clone();
        for (ty, _) in &self.segments {
            t.push('/');
            t.push_str(ty);
        }
        t
    }

    /// The name as ARM reports it in `name`: the last segment's name.
    pub fn name(&self) -> &str {
        &self.segments.last().expect("ids have a segment").1
    }

    /// The top-level resource this id belongs to (itself if it is top-level).
    pub fn root(&self) -> ResourceId {
        ResourceId {
            segments: self.segments[..1].to_vec(),
            ..self.clone()
        }
    }

    /// A child of this resource.
    pub fn child(&self, ty: &str, name: &str) -> ResourceId {
        let mut c = self.clone();
        c.segments.push((ty.to_string(), name.to_string()));
        c
    }

    /// Rewrites namespace and type segments to the canonical casing (`Microsoft.Network/loadBalancers`).
    pub fn canonicalize(&mut self, canonical_type: &str) {
        let mut parts = canonical_type.split('/');
        if let Some(ns) = parts.next() {
            self.namespace = ns.to_string();
        }
        for ((ty, _), canon) in self.segments.iter_mut().zip(parts) {
            *ty = canon.to_string();
        }
    }

    /// The storage key: the id folded to lower case.
    pub fn key(&self) -> String {
        self.to_string().to_ascii_lowercase()
    }

    pub fn resource_group_id(&self) -> Option<String> {
        self.resource_group
            .as_ref()
            .map(|rg| format!("/subscriptions/{}/resourceGroups/{}", self.subscription, rg))
    }

    /// True when both ids name the same resource, ignoring case.
    pub fn same_as(&self, other: &ResourceId) -> bool {
        self.key() == other.key()
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/subscriptions/{}", self.subscription)?;
        if let Some(rg) = &self.resource_group {
            write!(f, "/resourceGroups/{rg}")?;
        }
        write!(f, "/providers/{}", self.namespace)?;
        for (ty, name) in &self.segments {
            write!(f, "/{ty}/{name}")?;
        }
        Ok(())
    }
}

/// The id of a resource group.
pub fn resource_group_id(subscription: &str, name: &str) -> String {
    format!("/subscriptions/{subscription}/resourceGroups/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_ids_case_insensitively_and_keeps_names() {
        let id = ResourceId::parse(
            "/subscriptions/S/resourcegroups/My-RG/providers/microsoft.network/loadBalancers/LB/probes/hp",
        )
        .unwrap();
        assert_eq!(id.resource_group.as_deref(), Some("My-RG"));
        assert_eq!(id.type_name(), "microsoft.network/loadBalancers/probes");
        assert_eq!(id.name(), "hp");
        assert_eq!(id.root().name(), "LB");
    }

    #[test]
    fn canonical_form_uses_canonical_type_casing() {
        let mut id = ResourceId::parse(
            "/subscriptions/s/resourcegroups/rg/providers/microsoft.network/loadbalancers/lb",
        )
        .unwrap();
        id.canonicalize("Microsoft.Network/loadBalancers");
        assert_eq!(
            id.to_string(),
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb"
        );
        assert_eq!(
            id.key(),
            "/subscriptions/s/resourcegroups/rg/providers/microsoft.network/loadbalancers/lb"
        );
    }

    #[test]
    fn rejects_malformed_ids() {
        for bad in [
            "",
            "subscriptions/s",
            "/subscriptions/s/resourceGroups/rg",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/loadBalancers",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network//lb",
        ] {
            let e = ResourceId::parse(bad).unwrap_err();
            assert_eq!(e.code, "LinkedInvalidPropertyId", "{bad}");
        }
    }

    #[test]
    fn subscription_level_ids_have_no_group() {
        let id = ResourceId::parse("/subscriptions/s/providers/Microsoft.Insights/actionGroups/a")
            .unwrap();
        assert_eq!(id.resource_group, None);
        assert_eq!(id.resource_group_id(), None);
    }
}
