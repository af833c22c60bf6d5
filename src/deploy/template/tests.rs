//! Unit tests of template parsing: parameter declarations and values, sections.

use super::*;

fn def(v: Value) -> ParamDef {
    ParamDef::parse("p", &v).unwrap()
}

#[test]
fn coercion_follows_the_declared_type() {
    assert_eq!(ParamType::Int.coerce(json!("50000")).unwrap(), json!(50000));
    assert_eq!(ParamType::Int.coerce(json!(3.0)).unwrap(), json!(3));
    assert_eq!(ParamType::Bool.coerce(json!("True")).unwrap(), json!(true));
    assert_eq!(ParamType::String.coerce(json!(80)).unwrap(), json!("80"));
    assert_eq!(
        ParamType::String.coerce(json!(true)).unwrap(),
        json!("True")
    );
    assert_eq!(
        ParamType::Array.coerce(json!("[1,2]")).unwrap(),
        json!([1, 2])
    );
    assert_eq!(
        ParamType::Object.coerce(json!("{\"a\":1}")).unwrap(),
        json!({"a": 1})
    );
    let e = ParamType::Int.coerce(json!("many")).unwrap_err();
    assert_eq!(
        e,
        "Expected a value of type 'Integer', but received a value of type 'String'"
    );
    assert!(ParamType::Array.coerce(json!({"a": 1})).is_err());
    assert!(ParamType::Object.coerce(json!("[1]")).is_err());
    assert!(ParamType::String.coerce(json!([1])).is_err());
}

#[test]
fn constraints() {
    let sku = def(json!({"type": "string", "allowedValues": ["Basic", "Standard"]}));
    assert!(sku.accept(json!("Standard")).is_ok());
    let e = sku.accept(json!("Premium")).unwrap_err().0;
    assert!(
        e.contains("The value 'Premium' is not part of the allowed value(s): 'Basic,Standard'"),
        "{e}"
    );
    let count = def(json!({"type": "int", "minValue": 1, "maxValue": 10}));
    assert_eq!(count.accept(json!("10")).unwrap(), json!(10));
    assert!(
        count
            .accept(json!(0))
            .unwrap_err()
            .0
            .contains("less than the minimum value of '1'")
    );
    assert!(
        count
            .accept(json!(11))
            .unwrap_err()
            .0
            .contains("greater than the maximum value of '10'")
    );
    let name = def(json!({"type": "string", "minLength": 3, "maxLength": 5}));
    assert!(name.accept(json!("ab")).is_err());
    assert!(name.accept(json!("abcdef")).is_err());
    assert!(name.accept(json!("abc")).is_ok());
    let zones = def(json!({"type": "array", "allowedValues": ["1", "2", "3"]}));
    assert!(zones.accept(json!(["1", "3"])).is_ok());
    assert!(zones.accept(json!(["4"])).is_err());
    let e = def(json!({"type": "int"}))
        .accept(json!("x"))
        .unwrap_err()
        .0;
    assert!(
        e.starts_with("Template parameter 'p' was provided an invalid value."),
        "{e}"
    );
}

#[test]
fn declarations_need_a_known_type() {
    assert!(ParamDef::parse("p", &json!({"defaultValue": 1})).is_err());
    let e = ParamDef::parse("p", &json!({"type": "number"}))
        .unwrap_err()
        .0;
    assert!(e.contains("at 'parameters.p'"), "{e}");
    assert!(
        ParamDef::parse("p", &json!({"Type": "SecureString"}))
            .unwrap()
            .ty
            .is_secure()
    );
}

#[test]
fn supplied_values_in_every_form() {
    let plain = json!({"a": {"value": 1}});
    assert_eq!(supplied_parameters(Some(&plain)).unwrap()["a"], 1);
    let file = json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {"a": {"value": "x"}}
    });
    assert_eq!(supplied_parameters(Some(&file)).unwrap()["a"], "x");
    let text = json!("{\"a\": {\"value\": [1]}}");
    assert_eq!(supplied_parameters(Some(&text)).unwrap()["a"], json!([1]));
    assert!(supplied_parameters(Some(&json!({"a": 1}))).is_err());
    assert!(supplied_parameters(Some(&json!({"a": {"reference": {}}}))).is_err());
    assert!(supplied_parameters(None).unwrap().is_empty());
}

#[test]
fn template_sections() {
    let t = Template::parse(&json!({
        "parameters": {"n": {"type": "int", "defaultValue": 2}},
        "variables": {"v": 1},
        "resources": [{"type": "a/b", "name": "x"}],
        "outputs": {"o": {"type": "int", "value": 1}}
    }))
    .unwrap();
    assert_eq!(t.parameters[0].ty, ParamType::Int);
    assert_eq!(t.resources.len(), 1);
    assert!(t.param("N").is_some());
    let symbolic =
        Template::parse(&json!({"resources": {"lb": {"type": "a/b", "name": "x"}}})).unwrap();
    assert_eq!(symbolic.resources[0].0.as_deref(), Some("lb"));
    assert!(Template::parse(&json!([])).is_err());
    assert!(Template::parse(&json!({"resources": [1]})).is_err());
    assert!(Template::parse(&json!({"variables": []})).is_err());
}

#[test]
fn user_defined_functions_are_refused_by_name() {
    let e = Template::parse(&json!({"functions": [{"namespace": "contoso",
        "members": {"name": {"parameters": [], "output": {"type": "string", "value": "x"}}}}]}))
    .unwrap_err()
    .0;
    assert!(
        e.contains("user-defined functions") && e.contains("'contoso'"),
        "{e}"
    );
    // Bicep and exported templates carry an empty section.
    assert!(Template::parse(&json!({"functions": [], "resources": []})).is_ok());
}
