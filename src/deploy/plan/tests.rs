use serde_json::{Value, json};

use super::*;
use crate::deploy::scope::ScopeInfo;

fn prepare(template: Value, rg: Option<&str>) -> Result<Plan, TemplateError> {
    let info = ScopeInfo {
        subscription: json!({"id": "/subscriptions/s1", "subscriptionId": "s1", "tenantId": "t"}),
        resource_group: match rg {
            Some(rg) => {
                json!({"id": format!("/subscriptions/s1/resourceGroups/{rg}"), "name": rg, "location": "eastus"})
            }
            None => Value::Null,
        },
        deployment: json!({"name": "d"}),
        environment: json!({}),
        providers: vec![],
    };
    let t = Template::parse(&template)?;
    let scope = Scope::new(info, &t, Default::default())?;
    scope.bind_parameters()?;
    scope.check_variables()?;
    expand(&scope, &t, "s1", rg)
}

fn names(plan: &Plan) -> Vec<&str> {
    plan.instances.iter().map(|i| i.name.as_str()).collect()
}

fn deps(plan: &Plan, name: &str) -> Vec<String> {
    let i = plan.instances.iter().position(|i| i.name == name).unwrap();
    plan.graph
        .dependencies(i)
        .map(|d| plan.instances[d].name.clone())
        .collect()
}

#[test]
fn copy_loops_nested_children_and_ids() {
    let plan = prepare(
        json!({
            "parameters": {"n": {"type": "int", "defaultValue": 2}},
            "resources": [
                {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-04-01", "name": "vnet",
                 "resources": [{"type": "subnets", "apiVersion": "2023-04-01", "name": "sub", "properties": {}}]},
                {"type": "Microsoft.Network/publicIPAddresses", "apiVersion": "2023-04-01",
                 "name": "[concat('ip-', copyIndex(1))]", "copy": {"name": "ips", "count": "[parameters('n')]"},
                 "dependsOn": ["Microsoft.Network/virtualNetworks/vnet"]},
                {"type": "Microsoft.Network/loadBalancers", "apiVersion": "2023-04-01", "name": "lb", "dependsOn": ["ips"]}
            ]
        }),
        Some("rg"),
    )
    .unwrap();
    assert_eq!(names(&plan), vec!["vnet", "vnet/sub", "ip-1", "ip-2", "lb"]);
    let sub = &plan.instances[1];
    assert_eq!(sub.type_name, "Microsoft.Network/virtualNetworks/subnets");
    assert_eq!(
        sub.id,
        "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/sub"
    );
    assert_eq!(sub.path, "resources[0].resources[0]");
    assert_eq!(deps(&plan, "vnet/sub"), vec!["vnet"]);
    assert_eq!(deps(&plan, "ip-2"), vec!["vnet"]);
    assert_eq!(deps(&plan, "lb"), vec!["ip-1", "ip-2"]);
}

#[test]
fn serial_batches_and_implicit_reference_dependencies() {
    let plan = prepare(
        json!({"resources": [
            {"type": "A.B/c", "apiVersion": "2020-01-01", "name": "[string(copyIndex())]",
             "copy": {"name": "l", "count": 4, "mode": "Serial", "batchSize": 2}},
            {"type": "A.B/d", "apiVersion": "2020-01-01", "name": "reader",
             "properties": {"x": "[reference('0').value]", "y": "[reference(resourceId('A.B/c', '3')).value]"}}
        ]}),
        Some("rg"),
    )
    .unwrap();
    assert!(deps(&plan, "1").is_empty());
    assert_eq!(deps(&plan, "2"), vec!["0", "1"]);
    assert_eq!(deps(&plan, "3"), vec!["0", "1"]);
    assert_eq!(deps(&plan, "reader"), vec!["0", "3"]);
}

#[test]
fn template_errors() {
    let r = |extra: Value| {
        let mut base = json!({"type": "A.B/c", "apiVersion": "2020-01-01", "name": "x"});
        base.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        base
    };
    let cycle = prepare(
        json!({"resources": [r(json!({"name": "a", "dependsOn": ["b"]})), r(json!({"name": "b", "dependsOn": ["a"]}))]}),
        Some("rg"),
    );
    assert!(cycle.unwrap_err().0.starts_with("Circular dependency detected on resource: '/subscriptions/s1/resourceGroups/rg/providers/A.B/c/"));
    let missing = prepare(
        json!({"resources": [r(json!({"dependsOn": ["nope"]}))]}),
        Some("rg"),
    );
    assert!(missing.unwrap_err().0.contains(
        "The resource 'nope' is not defined in the template (named by 'resources[0].dependsOn[0]')"
    ));
    let dup = prepare(
        json!({"resources": [r(json!({})), r(json!({}))]}),
        Some("rg"),
    );
    assert!(dup.unwrap_err().0.contains("is defined multiple times"));
    let segments = prepare(
        json!({"resources": [r(json!({"name": "a/b"}))]}),
        Some("rg"),
    );
    assert!(
        segments
            .unwrap_err()
            .0
            .contains("incorrect segment lengths")
    );
    let bad_body = prepare(
        json!({"resources": [r(json!({"properties": {"p": [1, "[add(1, 'x')]"]}}))]}),
        Some("rg"),
    );
    let e = bad_body.unwrap_err().0;
    assert!(e.starts_with("The template resource 'x' at 'resources[0].properties.p[1]' is not valid: The template function 'add' expects argument 2"), "{e}");
    let reference_in_name = prepare(
        json!({"resources": [r(json!({"name": "[reference('y').n]"}))]}),
        Some("rg"),
    );
    assert!(
        reference_in_name
            .unwrap_err()
            .0
            .contains("'reference' is not expected at this location")
    );
    let group_in_rg = prepare(
        json!({"resources": [{"type": "Microsoft.Resources/resourceGroups", "apiVersion": "2022-09-01", "name": "g"}]}),
        Some("rg"),
    );
    assert!(group_in_rg.unwrap_err().0.contains("subscription-scope"));
}

#[test]
fn conditions_and_subscription_scope_kinds() {
    let plan = prepare(
        json!({"resources": [
            {"type": "Microsoft.Resources/resourceGroups", "apiVersion": "2022-09-01", "name": "g", "location": "eastus"},
            {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "inner", "resourceGroup": "g",
             "dependsOn": ["[subscriptionResourceId('Microsoft.Resources/resourceGroups', 'g')]"],
             "properties": {"mode": "Incremental", "template": {"resources": [], "outputs": {"o": {"type": "string", "value": "[resourceGroup().name]"}}}}},
            {"type": "Microsoft.Resources/resourceGroups", "apiVersion": "2022-09-01", "name": "skipped", "location": "eastus", "condition": false}
        ]}),
        None,
    )
    .unwrap();
    assert_eq!(plan.instances[0].kind, Kind::ResourceGroup);
    assert_eq!(plan.instances[0].id, "/subscriptions/s1/resourceGroups/g");
    assert_eq!(
        plan.instances[1].kind,
        Kind::Deployment {
            sub: "s1".into(),
            rg: Some("g".into())
        }
    );
    assert_eq!(
        plan.instances[1].id,
        "/subscriptions/s1/resourceGroups/g/providers/Microsoft.Resources/deployments/inner"
    );
    assert_eq!(deps(&plan, "inner"), vec!["g"]);
    assert!(
        plan.instances[1].body_source()["properties"]
            .get("template")
            .is_none()
    );
    assert_eq!(plan.instances[2].condition, Some(false));
}
