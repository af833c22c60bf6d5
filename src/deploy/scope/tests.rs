use serde_json::{Value, json};

use super::*;

fn info() -> ScopeInfo {
    ScopeInfo {
        subscription: json!({"id": "/subscriptions/s1", "subscriptionId": "s1", "tenantId": "t", "displayName": "sub"}),
        resource_group: json!({"id": "/subscriptions/s1/resourceGroups/rg", "name": "rg", "location": "eastus"}),
        deployment: json!({"name": "d1"}),
        environment: json!({"name": "AzureCloud"}),
        providers: vec![json!({"namespace": "Microsoft.Network", "resourceTypes": [
            {"resourceType": "loadBalancers", "locations": ["East US"], "apiVersions": ["2024-05-01", "2023-04-01"]}
        ]})],
    }
}

fn scope(template: Value, supplied: Value) -> Result<Scope, TemplateError> {
    let t = Template::parse(&template)?;
    let supplied = supplied.as_object().cloned().unwrap_or_default();
    let s = Scope::new(info(), &t, supplied)?;
    s.bind_parameters()?;
    s.check_variables()?;
    Ok(s)
}

fn eval(s: &Scope, v: Value) -> Value {
    s.eval(&v, "x", false).unwrap()
}

#[test]
fn parameters_bind_with_defaults_coercion_and_secure_redaction() {
    let s = scope(
        json!({"parameters": {
            "port": {"type": "int"},
            "name": {"type": "string", "defaultValue": "[concat('lb-', parameters('suffix'))]"},
            "suffix": {"type": "string", "defaultValue": "[resourceGroup().name]"},
            "stamp": {"type": "string", "defaultValue": "[utcNow('yyyy')]"},
            "pw": {"type": "securestring"}
        }}),
        json!({"port": "50000", "pw": "hunter2"}),
    )
    .unwrap();
    assert_eq!(eval(&s, json!("[parameters('port')]")), json!(50000));
    assert_eq!(eval(&s, json!("[parameters('name')]")), json!("lb-rg"));
    assert_eq!(eval(&s, json!("[length(parameters('stamp'))]")), json!(4));
    let view = s.parameters_view();
    assert_eq!(view["port"], json!({"type": "Int", "value": 50000}));
    assert_eq!(view["pw"], json!({"type": "SecureString"}));
}

#[test]
fn parameter_errors_are_invalid_template_messages() {
    let missing = scope(json!({"parameters": {"a": {"type": "string"}}}), json!({}));
    assert!(
        missing
            .err()
            .unwrap()
            .0
            .contains("The value for the template parameter 'a' at 'parameters.a' is not provided")
    );
    let extra = scope(json!({"parameters": {}}), json!({"b": 1}));
    assert!(
        extra
            .err()
            .unwrap()
            .0
            .contains("The template parameters 'b' in the parameters file are not valid")
    );
    let bad_default = scope(
        json!({"parameters": {"a": {"type": "string", "defaultValue": "[nope()]"}}}),
        json!({}),
    );
    let e = bad_default.err().unwrap().0;
    assert!(e.contains("The template parameter 'a' at 'parameters.a.defaultValue' is not valid: The template function 'nope' is not valid"), "{e}");
    let guid_outside_defaults = scope(json!({"variables": {"g": "[newGuid()]"}}), json!({}));
    assert!(
        guid_outside_defaults
            .err()
            .unwrap()
            .0
            .contains("'newGuid' is not expected at this location")
    );
}

#[test]
fn variables_copy_loops_and_cycles() {
    let s = scope(
        json!({
            "parameters": {"n": {"type": "int", "defaultValue": 3}},
            "variables": {
                "prefix": "web",
                "names": "[concat(variables('prefix'), '-', string(parameters('n')))]",
                "copy": [{"name": "ports", "count": "[parameters('n')]", "input": "[add(8080, copyIndex('ports'))]"}],
                "disks": {"copy": [{"name": "items", "count": 2, "input": {"lun": "[copyIndex('items')]"}}], "kind": "ssd"}
            }
        }),
        json!({}),
    )
    .unwrap();
    assert_eq!(eval(&s, json!("[variables('names')]")), json!("web-3"));
    assert_eq!(
        eval(&s, json!("[variables('ports')]")),
        json!([8080, 8081, 8082])
    );
    assert_eq!(
        eval(&s, json!("[variables('disks')]")),
        json!({"items": [{"lun": 0}, {"lun": 1}], "kind": "ssd"})
    );
    let cyclic = scope(
        json!({"variables": {"a": "[variables('b')]", "b": "[variables('a')]"}}),
        json!({}),
    );
    let e = cyclic.err().unwrap().0;
    assert!(e.contains("circularly referenced"), "{e}");
    assert!(
        e.starts_with("The template variable 'a' at 'variables.a' is not valid"),
        "{e}"
    );
    let reference_in_variable = scope(json!({"variables": {"a": "[reference('x')]"}}), json!({}));
    assert!(
        reference_in_variable
            .err()
            .unwrap()
            .0
            .contains("'reference' is not expected at this location")
    );
}

#[test]
fn errors_name_the_json_path() {
    let s = scope(json!({}), json!({})).unwrap();
    let f = s
        .eval(&json!({"properties": {"frontendIPConfigurations": [{"name": "ok"}, {"name": "[bogus()]"}]}}), "resources[1]", false)
        .unwrap_err();
    assert_eq!(
        f,
        Failure::Invalid {
            path: "resources[1].properties.frontendIPConfigurations[1].name".into(),
            message: "The template function 'bogus' is not valid. Please see https://aka.ms/arm-template-expressions for usage details.".into()
        }
    );
}

#[test]
fn references_defer_in_preflight_and_fetch_at_runtime() {
    let s = scope(json!({}), json!({})).unwrap();
    s.set_known(vec![Known {
        name: "lb".into(),
        id: "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb"
            .into(),
        symbolic: None,
        key: "/subscriptions/s1/resourcegroups/rg/providers/microsoft.network/loadbalancers/lb"
            .into(),
        condition: None,
    }]);
    let body = json!({"a": "[reference('lb').x]", "b": "[concat('k', 'v')]"});
    assert_eq!(
        s.eval(&body, "r", true).unwrap(),
        json!({"a": "[reference('lb').x]", "b": "kv"})
    );
    assert_eq!(s.eval(&body, "r", false).unwrap_err(), Failure::Deferred);
    s.set_mode(Mode::Runtime);
    assert_eq!(s.eval(&body, "r", false).unwrap_err(), Failure::Fetch);
    let missing = s.take_missing();
    assert_eq!(
        missing,
        vec![
            "/subscriptions/s1/resourcegroups/rg/providers/microsoft.network/loadbalancers/lb"
                .to_string()
        ]
    );
    s.record(&missing[0], Ok(json!({"id": "/x", "properties": {"x": 7}})));
    assert_eq!(
        s.eval(&body, "r", false).unwrap(),
        json!({"a": 7, "b": "kv"})
    );
    assert_eq!(
        eval(
            &s,
            json!("[reference('lb', '2023-04-01', 'Full').apiVersion]")
        ),
        json!("2023-04-01")
    );
    let unknown = s
        .eval(&json!("[reference('nope')]"), "r", false)
        .unwrap_err();
    assert!(
        matches!(unknown, Failure::Invalid { message, .. } if message.contains("could not find template resource"))
    );
}

#[test]
fn providers_and_copy_index() {
    let s = scope(json!({}), json!({})).unwrap();
    assert_eq!(
        eval(
            &s,
            json!("[providers('Microsoft.Network', 'loadBalancers').apiVersions[0]]")
        ),
        json!("2024-05-01")
    );
    assert!(
        s.eval(
            &json!("[providers('Microsoft.Compute', 'virtualMachineScaleSets')]"),
            "o",
            false
        )
        .is_err()
    );
    let frames = [Frame {
        name: "vms".into(),
        index: 2,
        property: false,
    }];
    assert_eq!(
        s.with_frames(&frames, || eval(&s, json!("[copyIndex(1)]"))),
        json!(3)
    );
    assert!(s.eval(&json!("[copyIndex()]"), "o", false).is_err());
}

fn lb_scope() -> Scope {
    let s = scope(json!({}), json!({})).unwrap();
    s.set_known(vec![Known {
        name: "lb".into(),
        id: "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb"
            .into(),
        symbolic: None,
        key: "/subscriptions/s1/resourcegroups/rg/providers/microsoft.network/loadbalancers/lb"
            .into(),
        condition: None,
    }]);
    s
}

#[test]
fn list_calls_defer_in_preflight_then_are_performed_once() {
    let s = lb_scope();
    let body = json!({"k": "[listKeys('lb', '2024-01-01').keys[0].value]"});
    assert_eq!(s.eval(&body, "r", true).unwrap(), body);
    s.set_mode(Mode::Runtime);
    assert_eq!(s.eval(&body, "r", false).unwrap_err(), Failure::Fetch);
    let calls = s.take_missing_lists();
    assert_eq!(
        calls,
        vec![ListCall {
            function: "listKeys".into(),
            id: "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb"
                .into(),
            api_version: "2024-01-01".into(),
            body: None,
        }]
    );
    s.record_list(calls[0].clone(), Ok(json!({"keys": [{"value": "k1"}]})));
    assert_eq!(s.eval(&body, "r", false).unwrap(), json!({"k": "k1"}));
    // A failure is the evaluation's error, worded by whoever performed the call.
    let other = json!("[listSecrets('/subscriptions/s1/x/y', '2024-01-01', createObject('a', 1))]");
    assert_eq!(s.eval(&other, "r", false).unwrap_err(), Failure::Fetch);
    let call = s.take_missing_lists().remove(0);
    assert_eq!(call.body.as_deref(), Some(r#"{"a":1}"#));
    s.record_list(
        call,
        Err(ListFailure::Invalid("no listSecrets here".into())),
    );
    assert!(matches!(
        s.eval(&other, "r", false).unwrap_err(),
        Failure::Invalid { message, .. } if message == "no listSecrets here"
    ));
}

#[test]
fn list_calls_are_not_allowed_in_variables() {
    let e = scope(
        json!({"variables": {"k": "[listKeys('x', '2024-01-01')]"}}),
        json!({}),
    )
    .err()
    .unwrap()
    .0;
    assert!(
        e.contains("The template function 'listKeys' is not expected at this location"),
        "{e}"
    );
}

#[test]
fn what_if_defers_references_to_resources_that_do_not_exist() {
    let s = lb_scope();
    s.set_mode(Mode::Runtime);
    s.set_what_if();
    let body = json!({"ip": "[reference('lb').ip]", "k": "[listKeys('lb', '2024-01-01')]"});
    let mut rounds = 0;
    let result = loop {
        match s.eval(&body, "r", true) {
            Err(Failure::Fetch) => {
                rounds += 1;
                for key in s.take_missing() {
                    s.record(&key, Err("not found".into()));
                }
                for call in s.take_missing_lists() {
                    s.record_list(call, Err(ListFailure::Missing("not found".into())));
                }
            }
            other => break other,
        }
    };
    assert_eq!(rounds, 2);
    assert_eq!(result.unwrap(), body);
}
