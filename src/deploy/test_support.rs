//! A fixed [`EvalContext`] and helpers shared by the expression and function
//! unit tests.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::expr::{EvalContext, ExprError, evaluate, parse};

pub(crate) const SUBSCRIPTION_ID: &str = "00000000-0000-0000-0000-000000000001";

/// A deterministic context: subscription `SUBSCRIPTION_ID`, resource group
/// `rg1` in `westus`, a few parameters/variables and one referenceable load
/// balancer `lb`.
pub(crate) struct TestContext {
    pub parameters: Value,
    pub variables: Value,
    pub allow_nondeterministic: bool,
}

impl Default for TestContext {
    fn default() -> Self {
        TestContext {
            parameters: json!({
                "name": "web",
                "count": 3,
                "tags": {"env": "dev", "Owner": "me"},
                "list": ["a", "b", "c"],
            }),
            variables: json!({"prefix": "app", "nested": {"Inner": {"value": 7}}}),
            allow_nondeterministic: false,
        }
    }
}

impl EvalContext for TestContext {
    fn parameter(&self, name: &str) -> Result<Value, ExprError> {
        self.parameters
            .get(name)
            .cloned()
            .ok_or_else(|| ExprError::ParameterNotFound(name.to_string()))
    }

    fn variable(&self, name: &str) -> Result<Value, ExprError> {
        self.variables
            .get(name)
            .cloned()
            .ok_or_else(|| ExprError::VariableNotFound(name.to_string()))
    }

    fn reference(
        &self,
        name_or_id: &str,
        api_version: Option<&str>,
        full: bool,
    ) -> Result<Value, ExprError> {
        if !name_or_id.ends_with("lb") {
            return Err(ExprError::Other(format!(
                "The resource '{name_or_id}' is not defined in the template."
            )));
        }
        let properties = json!({
            "frontendIPConfigurations": [{"id": "/fe/one", "name": "fe1"}],
            "ipaddress": "10.0.0.4",
            "apiVersion": api_version,
        });
        Ok(if full {
            json!({"id": "/lb", "location": "westus", "properties": properties})
        } else {
            properties
        })
    }

    fn subscription(&self) -> Value {
        json!({
            "id": format!("/subscriptions/{SUBSCRIPTION_ID}"),
            "subscriptionId": SUBSCRIPTION_ID,
            "tenantId": "tenant-1",
            "displayName": "Test subscription",
        })
    }

    fn resource_group(&self) -> Value {
        json!({
            "id": format!("/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg1"),
            "name": "rg1",
            "location": "westus",
            "properties": {"provisioningState": "Succeeded"},
            "type": "Microsoft.Resources/resourceGroups",
            "tags": {},
        })
    }

    fn deployment(&self) -> Value {
        json!({"name": "deploy1", "properties": {"mode": "Incremental"}})
    }

    fn environment(&self) -> Value {
        json!({"name": "AzureCloud", "resourceManager": "https://management.azure.com/"})
    }

    fn providers(&self, namespace: &str, resource_type: Option<&str>) -> Result<Value, ExprError> {
        Ok(json!({"namespace": namespace, "resourceType": resource_type}))
    }

    fn copy_index(&self, loop_name: Option<&str>) -> Result<i64, ExprError> {
        match loop_name {
            None => Ok(1),
            Some("vms") => Ok(2),
            Some(other) => Err(ExprError::Other(format!(
                "The copy loop '{other}' is not in scope."
            ))),
        }
    }

    fn allow_nondeterministic(&self) -> bool {
        self.allow_nondeterministic
    }

    fn utc_now(&self) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap() + chrono::Duration::milliseconds(678)
    }

    fn new_guid(&self) -> Uuid {
        Uuid::from_u128(0x1234_5678_9abc_4def_8123_4567_89ab_cdef)
    }
}

/// Parses and evaluates `src` (the text inside `[...]`) in `cx`.
pub(crate) fn eval_in(src: &str, cx: &TestContext) -> Result<Value, ExprError> {
    evaluate(&parse(src)?, cx)
}

/// Evaluates `src` in the default context, panicking on errors.
pub(crate) fn run(src: &str) -> Value {
    eval_in(src, &TestContext::default()).unwrap_or_else(|e| panic!("{src}: {e}"))
}

/// Evaluates `src` in the default context, returning the error message.
pub(crate) fn run_err(src: &str) -> String {
    match eval_in(src, &TestContext::default()) {
        Ok(v) => panic!("{src}: expected an error, got {v}"),
        Err(e) => e.to_string(),
    }
}
