//! Tests of [`super`].

use super::*;

#[test]
fn names_resolve_case_insensitively() {
    let lb = for_resource_type("microsoft.network/LOADBALANCERS").unwrap();
    assert_eq!(lb.resolve("bytecount").unwrap().name, "ByteCount");
    assert_eq!(lb.resolve(" SYNCount ").unwrap().name, "SYNCount");
    let vmss = for_resource_type("Microsoft.Compute/virtualMachineScaleSets").unwrap();
    assert_eq!(
        vmss.resolve("percentage cpu").unwrap().name,
        "Percentage CPU"
    );
}

#[test]
fn display_names_without_spaces_are_aliases() {
    let lb = &LOAD_BALANCERS;
    assert_eq!(
        lb.resolve("HealthProbeStatus").unwrap().name,
        "DipAvailability"
    );
    assert_eq!(
        lb.resolve("healthprobestatus").unwrap().name,
        "DipAvailability"
    );
    assert_eq!(
        lb.resolve("Health Probe Status").unwrap().name,
        "DipAvailability"
    );
    assert_eq!(
        lb.resolve("DataPathAvailability").unwrap().name,
        "VipAvailability"
    );
    assert_eq!(
        SCALE_SETS.resolve("PercentageCPU").unwrap().name,
        "Percentage CPU"
    );
    assert!(lb.resolve("HealthProbe").is_none());
    assert!(lb.resolve("").is_none());
}

#[test]
fn names_and_aliases_are_unambiguous_within_a_namespace() {
    for ns in NAMESPACES {
        for m in ns.metrics {
            assert_eq!(ns.resolve(m.name).unwrap().name, m.name);
            assert_eq!(ns.resolve(&m.alias()).unwrap().name, m.name, "{}", m.name);
            assert!(m.supported.contains(&m.primary));
        }
    }
}

#[test]
fn load_balancer_metrics_match_azure() {
    let dip = LOAD_BALANCERS.resolve("DipAvailability").unwrap();
    assert_eq!(dip.display_name, "Health Probe Status");
    assert_eq!((dip.unit, dip.primary), (Unit::Count, Aggregation::Average));
    assert_eq!(dip.dimension("backendipaddress"), Some("BackendIPAddress"));
    let bytes = LOAD_BALANCERS.resolve("ByteCount").unwrap();
    assert_eq!(
        (bytes.unit, bytes.primary),
        (Unit::Bytes, Aggregation::Total)
    );
    assert_eq!(
        bytes.dimensions,
        ["FrontendIPAddress", "FrontendPort", "Direction"]
    );
    assert_eq!(LOAD_BALANCERS.metrics.len(), 8);
    assert_eq!(LOAD_BALANCERS.default_metric().name, "VipAvailability");
    assert_eq!(LOAD_BALANCERS.provider(), "Microsoft.Network");
    assert_eq!(LOAD_BALANCERS.resource_type(), "loadBalancers");
}

#[test]
fn scale_sets_split_by_vm_name_and_vms_have_no_dimensions() {
    let cpu = SCALE_SETS.resolve("Percentage CPU").unwrap();
    assert_eq!(cpu.dimensions, ["VMName"]);
    assert_eq!(cpu.unit, Unit::Percent);
    for ns in [&SCALE_SET_VMS, &VIRTUAL_MACHINES] {
        assert!(ns.metrics.iter().all(|m| m.dimensions.is_empty()));
        assert_eq!(ns.default_metric().name, "Percentage CPU");
    }
    assert!(for_resource_type("Microsoft.Network/publicIPAddresses").is_none());
}

#[test]
fn aggregation_parameter_names_are_the_enum_names() {
    assert_eq!(Aggregation::parse("average"), Some(Aggregation::Average));
    assert_eq!(Aggregation::parse(" TOTAL"), Some(Aggregation::Total));
    assert_eq!(Aggregation::parse("sum"), None);
    assert_eq!(Aggregation::parse("None"), None);
    assert_eq!(Aggregation::Count.field(), "count");
}
