//! Deployment and resource template functions: `parameters`, `variables`,
//! `deployment`, `environment`, `subscription`, `resourceGroup`,
//! `reference`, `providers`, `copyIndex`, `list*`, and the resource ID
//! builders `resourceId`, `subscriptionResourceId`, `tenantResourceId` and
//! `extensionResourceId`.

use serde_json::Value;

use super::{Call, Handler};
use crate::deploy::expr::{EvalContext, ExprError};
use crate::deploy::value::{get_property, type_name};

pub(super) const FUNCTIONS: &[(&str, Handler)] = &[
    ("parameters", |c| {
        c.exact(1)?;
        c.cx.parameter(c.string(0)?)
    }),
    ("variables", |c| {
        c.exact(1)?;
        c.cx.variable(c.string(0)?)
    }),
    ("deployment", |c| c.exact(0).map(|_| c.cx.deployment())),
    ("environment", |c| c.exact(0).map(|_| c.cx.environment())),
    ("subscription", |c| c.exact(0).map(|_| c.cx.subscription())),
    ("resourceGroup", |c| {
        c.exact(0).map(|_| c.cx.resource_group())
    }),
    ("reference", reference),
    ("providers", |c| {
        c.arity(1, Some(2))?;
        c.cx.providers(c.string(0)?, c.opt_string(1)?)
    }),
    ("copyIndex", copy_index),
    ("resourceId", resource_id),
    ("subscriptionResourceId", subscription_resource_id),
    ("tenantResourceId", tenant_resource_id),
    ("extensionResourceId", extension_resource_id),
];

/// `reference(resourceNameOrId, apiVersion?, 'Full'?)`
fn reference(c: &Call) -> Result<Value, ExprError> {
    c.arity(1, Some(3))?;
    let full = match c.opt_string(2)? {
        None => false,
        Some(s) if s.eq_ignore_ascii_case("full") => true,
        Some(s) => {
            return Err(c.error(format!(
                "expects its third argument to be 'Full', but was given '{s}'."
            )));
        }
    };
    c.cx.reference(c.string(0)?, c.opt_string(1)?, full)
}

/// `copyIndex()`, `copyIndex(offset)`, `copyIndex(loopName)`,
/// `copyIndex(loopName, offset)`
fn copy_index(c: &Call) -> Result<Value, ExprError> {
    c.arity(0, Some(2))?;
    let (loop_name, offset) = match c.args.as_slice() {
        [] => (None, 0),
        [Value::String(name)] => (Some(name.as_str()), 0),
        [Value::Number(_)] => (None, c.int(0)?),
        [_] => return Err(c.type_error(0, "String or Integer")),
        _ => (Some(c.string(0)?), c.int(1)?),
    };
    let index = c.cx.copy_index(loop_name)?;
    index
        .checked_add(offset)
        .map(Value::from)
        .ok_or_else(|| c.error("overflowed adding the offset."))
}

/// `list*(resourceNameOrId, apiVersion, functionValues?)`, delegated to the
/// context. `name` is the function name as written (`listKeys`, ...).
pub(super) fn list(name: &str, args: Vec<Value>, cx: &dyn EvalContext) -> Result<Value, ExprError> {
    if !(2..=3).contains(&args.len()) {
        return Err(ExprError::function(
            name,
            format!(
                "expects between 2 and 3 arguments, but was given {}.",
                args.len()
            ),
        ));
    }
    let string = |i: usize| {
        args[i].as_str().ok_or_else(|| {
            ExprError::function(
                name,
                format!(
                    "expects argument {} to be of type 'String', but it is of type '{}'.",
                    i + 1,
                    type_name(&args[i])
                ),
            )
        })
    };
    cx.list(name, string(0)?, string(1)?, args.get(2))
}

/// All arguments as strings.
fn strings<'a>(c: &'a Call) -> Result<Vec<&'a str>, ExprError> {
    (0..c.args.len()).map(|i| c.string(i)).collect()
}

/// Splits the arguments at the resource type (the first argument containing
/// '/'): returns the scope arguments before it, the type, and the names.
fn split_at_type<'a>(
    c: &Call,
    args: &[&'a str],
    max_scope_args: usize,
) -> Result<(Vec<&'a str>, &'a str, Vec<&'a str>), ExprError> {
    let position = args.iter().position(|a| a.contains('/')).ok_or_else(|| {
        c.error("expects a fully qualified resource type such as 'Microsoft.Network/loadBalancers', but none of the arguments contains '/'.")
    })?;
    if position > max_scope_args {
        return Err(c.error(format!(
            "expects at most {max_scope_args} argument(s) before the resource type, but was given {position}."
        )));
    }
    Ok((
        args[..position].to_vec(),
        args[position],
        args[position + 1..].to_vec(),
    ))
}

/// Builds `{namespace}/{type}/{name}[/{childType}/{childName}]...`.
fn provider_path(c: &Call, resource_type: &str, names: &[&str]) -> Result<String, ExprError> {
    let segments: Vec<&str> = resource_type.trim_end_matches('/').split('/').collect();
    if segments.len() < 2 || segments.iter().any(|s| s.is_empty()) {
        return Err(c.error(format!(
            "was given an invalid resource type '{resource_type}'."
        )));
    }
    let expected = segments.len() - 1;
    if names.len() != expected {
        return Err(c.error(format!(
            "failed: the type '{resource_type}' requires '{expected}' resource name argument(s), but was given {}.",
            names.len()
        )));
    }
    let mut path = segments[0].to_string();
    for (segment, name) in segments[1..].iter().zip(names) {
        path.push_str(&format!("/{segment}/{name}"));
    }
    Ok(path)
}

/// A string property of one of the context's scope objects.
fn scope_property(c: &Call, scope: Value, property: &str) -> Result<String, ExprError> {
    scope
        .as_object()
        .and_then(|o| get_property(o, property))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| {
            c.error(format!(
                "cannot be used here: the deployment scope has no '{property}'."
            ))
        })
}

/// `resourceId([subscriptionId], [resourceGroupName], resourceType, resourceName1, ...)`
fn resource_id(c: &Call) -> Result<Value, ExprError> {
    c.arity(2, None)?;
    let args = strings(c)?;
    let (scope, resource_type, names) = split_at_type(c, &args, 2)?;
    let path = provider_path(c, resource_type, &names)?;
    let (subscription, group) = match scope.as_slice() {
        [sub, rg] => (sub.to_string(), rg.to_string()),
        [rg] => (subscription_id(c)?, rg.to_string()),
        _ => (
            subscription_id(c)?,
            scope_property(c, c.cx.resource_group(), "name")?,
        ),
    };
    Ok(Value::String(format!(
        "/subscriptions/{subscription}/resourceGroups/{group}/providers/{path}"
    )))
}

fn subscription_id(c: &Call) -> Result<String, ExprError> {
    scope_property(c, c.cx.subscription(), "subscriptionId")
}

/// `subscriptionResourceId([subscriptionId], resourceType, resourceName1, ...)`
fn subscription_resource_id(c: &Call) -> Result<Value, ExprError> {
    c.arity(2, None)?;
    let args = strings(c)?;
    let (scope, resource_type, names) = split_at_type(c, &args, 1)?;
    let path = provider_path(c, resource_type, &names)?;
    let subscription = match scope.first() {
        Some(sub) => sub.to_string(),
        None => subscription_id(c)?,
    };
    Ok(Value::String(format!(
        "/subscriptions/{subscription}/providers/{path}"
    )))
}

/// `tenantResourceId(resourceType, resourceName1, ...)`
fn tenant_resource_id(c: &Call) -> Result<Value, ExprError> {
    c.arity(2, None)?;
    let args = strings(c)?;
    let (_, resource_type, names) = split_at_type(c, &args, 0)?;
    let path = provider_path(c, resource_type, &names)?;
    Ok(Value::String(format!("/providers/{path}")))
}

/// `extensionResourceId(resourceId, resourceType, resourceName1, ...)`
fn extension_resource_id(c: &Call) -> Result<Value, ExprError> {
    c.arity(3, None)?;
    let args = strings(c)?;
    let path = provider_path(c, args[1], &args[2..])?;
    Ok(Value::String(format!(
        "{}/providers/{path}",
        args[0].trim_end_matches('/')
    )))
}

#[cfg(test)]
mod tests {
    use crate::deploy::test_support::{SUBSCRIPTION_ID, run, run_err};
    use serde_json::json;

    fn rg_prefix() -> String {
        format!("/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg1/providers")
    }

    #[test]
    fn parameters_and_variables() {
        assert_eq!(run("parameters('name')"), json!("web"));
        assert_eq!(run("parameters('tags').ENV"), json!("dev"));
        assert_eq!(run("variables('nested').inner.VALUE"), json!(7));
        assert!(
            run_err("parameters('nope')")
                .starts_with("The template parameter 'nope' is not found.")
        );
        assert!(
            run_err("variables('nope')").starts_with("The template variable 'nope' is not found.")
        );
        assert!(
            run_err("parameters(1)")
                .contains("'parameters' expects argument 1 to be of type 'String'")
        );
        assert!(run_err("parameters()").contains("exactly 1 argument"));
    }

    #[test]
    fn scope_functions() {
        assert_eq!(run("subscription().subscriptionId"), json!(SUBSCRIPTION_ID));
        assert_eq!(run("resourceGroup().location"), json!("westus"));
        assert_eq!(
            run("resourceGroup().properties.provisioningState"),
            json!("Succeeded")
        );
        assert_eq!(run("deployment().name"), json!("deploy1"));
        assert_eq!(run("environment().name"), json!("AzureCloud"));
        assert!(
            run_err("resourceGroup('x')").contains("'resourceGroup' expects exactly 0 arguments")
        );
    }

    #[test]
    fn reference_and_providers() {
        assert_eq!(
            run("reference('lb').frontendIPConfigurations[0].id"),
            json!("/fe/one")
        );
        assert_eq!(run("reference('lb').ipAddress"), json!("10.0.0.4"));
        assert_eq!(
            run("reference('lb', '2023-04-01').apiVersion"),
            json!("2023-04-01")
        );
        assert_eq!(
            run("reference('lb', '2023-04-01', 'Full').location"),
            json!("westus")
        );
        assert_eq!(
            run("reference('lb', '2023-04-01', 'full').properties.ipaddress"),
            json!("10.0.0.4")
        );
        assert!(run_err("reference('lb', '2023-04-01', 'Partial')").contains("'Full'"));
        assert!(run_err("reference('vm')").contains("'vm' is not defined"));
        let err = run_err("reference('lb').foo");
        assert!(
            err.starts_with(
                "The language expression property 'foo' doesn't exist, available properties are '"
            ),
            "{err}"
        );
        assert_eq!(
            run("providers('Microsoft.Network', 'loadBalancers').resourceType"),
            json!("loadBalancers")
        );
        assert_eq!(
            run("providers('Microsoft.Network').resourceType"),
            json!(null)
        );
        assert!(run_err("providers()").contains("between 1 and 2 arguments"));
    }

    #[test]
    fn copy_index_forms() {
        assert_eq!(run("copyIndex()"), json!(1));
        assert_eq!(run("copyIndex(10)"), json!(11));
        assert_eq!(run("copyIndex('vms')"), json!(2));
        assert_eq!(run("copyIndex('vms', 1)"), json!(3));
        assert!(run_err("copyIndex('other')").contains("not in scope"));
        assert!(run_err("copyIndex(true())").contains("'copyIndex' expects argument 1"));
        assert!(run_err("copyIndex('vms', 'x')").contains("argument 2"));
    }

    #[test]
    fn list_functions_default_to_unsupported() {
        assert_eq!(
            run_err(
                "listKeys(resourceId('Microsoft.Storage/storageAccounts', 'sa'), '2023-01-01')"
            ),
            "The template function 'listKeys' is not supported by this deployment engine."
        );
        assert!(
            run_err("listSecrets('x')").contains("'listSecrets' expects between 2 and 3 arguments")
        );
        assert!(run_err("listKeys(1, '2023-01-01')").contains("'listKeys' expects argument 1"));
    }

    #[test]
    fn resource_ids() {
        let p = rg_prefix();
        assert_eq!(
            run("resourceId('Microsoft.Network/loadBalancers', 'lb1')"),
            json!(format!("{p}/Microsoft.Network/loadBalancers/lb1"))
        );
        assert_eq!(
            run("resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'default')"),
            json!(format!(
                "{p}/Microsoft.Network/virtualNetworks/vnet/subnets/default"
            ))
        );
        assert_eq!(
            run(
                "resourceId('otherRg', 'Microsoft.Network/loadBalancers/frontendIPConfigurations', 'lb', 'fe')"
            ),
            json!(format!(
                "/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/otherRg/providers/Microsoft.Network/loadBalancers/lb/frontendIPConfigurations/fe"
            ))
        );
        assert_eq!(
            run("resourceId('sub2', 'rg2', 'Microsoft.Compute/virtualMachineScaleSets', 'vmss')"),
            json!(
                "/subscriptions/sub2/resourceGroups/rg2/providers/Microsoft.Compute/virtualMachineScaleSets/vmss"
            )
        );
        assert!(
            run_err("resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet')")
                .contains("requires '2' resource name argument(s), but was given 1.")
        );
        assert!(
            run_err("resourceId('a', 'b', 'c', 'Microsoft.Network/loadBalancers', 'lb')")
                .contains("at most 2 argument(s) before the resource type")
        );
        assert!(run_err("resourceId('lb1', 'lb2')").contains("none of the arguments contains '/'"));
        assert!(
            run_err("resourceId('Microsoft.Network/loadBalancers', 1)")
                .contains("argument 2 to be of type 'String'")
        );
        assert!(run_err("resourceId('/x', 'y')").contains("invalid resource type"));
    }

    #[test]
    fn scoped_resource_ids() {
        assert_eq!(
            run("subscriptionResourceId('Microsoft.Resources/resourceGroups', 'rg9')"),
            json!(format!(
                "/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.Resources/resourceGroups/rg9"
            ))
        );
        assert_eq!(
            run("subscriptionResourceId('sub2', 'Microsoft.Authorization/roleDefinitions', 'r')"),
            json!("/subscriptions/sub2/providers/Microsoft.Authorization/roleDefinitions/r")
        );
        assert!(
            run_err("subscriptionResourceId('s', 'rg', 'Microsoft.A/b', 'n')")
                .contains("at most 1 argument(s)")
        );
        assert_eq!(
            run("tenantResourceId('Microsoft.Management/managementGroups', 'mg')"),
            json!("/providers/Microsoft.Management/managementGroups/mg")
        );
        assert!(
            run_err("tenantResourceId('x', 'Microsoft.A/b', 'n')")
                .contains("at most 0 argument(s)")
        );
        assert_eq!(
            run(
                "extensionResourceId(resourceId('Microsoft.Network/loadBalancers', 'lb'), 'Microsoft.Authorization/locks', 'lock')"
            ),
            json!(format!(
                "{}/Microsoft.Network/loadBalancers/lb/providers/Microsoft.Authorization/locks/lock",
                rg_prefix()
            ))
        );
        assert!(
            run_err("extensionResourceId('/x', 'Microsoft.Authorization/locks')")
                .contains("at least 3 arguments")
        );
    }
}
