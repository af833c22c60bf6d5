//! A rule's metric, read from the metrics store as the [`MetricSeries`] evaluation takes.
//!
//! The rule names a metric of `metricResourceUri` (the scale set by default, or another
//! resource such as a load balancer), by Azure's name or the catalogue's alias
//! (`HealthProbeStatus` for `DipAvailability`). The window is the rule's `timeWindow` of
//! complete minutes before now (the minute in progress is still being written), cut into
//! `timeGrain` grains. Within a grain each series' minutes are merged and read with the
//! metric's primary aggregation (the value Azure Monitor charts for it: the average of
//! `Percentage CPU`, the total of `ByteCount`). The "instances" whose values `statistic`
//! combines are the `VMName` series of a scale-set metric; a resource without instances
//! (a load balancer) has one value per grain, all its series that pass the rule's
//! dimension filters merged.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::metrics::catalog::{self, MetricDefinition};
use crate::metrics::series::{Aggregate, MinutePoint, minute_of};
use crate::model::autoscale::MetricTrigger;
use crate::model::error::{ArmError, ArmResult};
use crate::model::id::ResourceId;
use crate::runtime::autoscale::aggregate::{self, MetricSeries, dimensions_match, grain_count};
use crate::store::Store;

/// The dimension that tells a scale set's instances apart.
const INSTANCE_DIMENSION: &str = "VMName";

/// The resource and catalogue definition of a rule's metric, or Azure's `UnsupportedMetric`
/// (azure-cli#25986: "resource: <uri>, metricnamespace: metricNamespace is null,
/// metricname: <name>").
pub fn resolve(trigger: &MetricTrigger) -> ArmResult<(ResourceId, &'static MetricDefinition)> {
    let unsupported = || {
        let namespace = match trigger.metric_namespace.as_str() {
            "" => "metricNamespace is null".to_string(),
            ns => ns.to_string(),
        };
        ArmError::bad_request(
            "UnsupportedMetric",
            format!(
                "resource: {}, metricnamespace: {namespace}, metricname: {}",
                trigger.metric_resource_uri, trigger.metric_name
            ),
        )
    };
    let resource = ResourceId::parse(&trigger.metric_resource_uri)?;
    let namespace = catalog::for_resource_type(&resource.type_name()).ok_or_else(unsupported)?;
    if !trigger.metric_namespace.is_empty()
        && !trigger
            .metric_namespace
            .eq_ignore_ascii_case(namespace.name)
    {
        return Err(unsupported());
    }
    let definition = namespace
        .resolve(&trigger.metric_name)
        .ok_or_else(unsupported)?;
    Ok((resource, definition))
}

/// The interval a rule reads at `now`: its time window of complete minutes.
pub fn window(trigger: &MetricTrigger, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    aggregate::window(trigger, minute_of(now))
}

/// Cuts the minutes of `[from, from + timeWindow)` into grains of per-instance values.
pub fn series(
    points: &[MinutePoint],
    definition: &MetricDefinition,
    trigger: &MetricTrigger,
    from: DateTime<Utc>,
) -> MetricSeries {
    let grain = trigger.time_grain.as_secs().max(60) as i64;
    let count = grain_count(trigger);
    let instanced = definition.dimension(INSTANCE_DIMENSION);
    let mut grains: Vec<BTreeMap<String, Aggregate>> = vec![BTreeMap::new(); count];
    for p in points {
        if !dimensions_match(trigger.dimensions.as_deref(), &p.dimensions) {
            continue;
        }
        let offset = (p.minute - from).num_seconds();
        let Some(slot) = usize::try_from(offset / grain)
            .ok()
            .filter(|_| offset >= 0)
            .and_then(|i| grains.get_mut(i))
        else {
            continue;
        };
        let instance = instanced
            .and_then(|d| {
                p.dimensions
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(d))
                    .map(|(_, v)| v.to_ascii_lowercase())
            })
            .unwrap_or_default();
        slot.entry(instance)
            .and_modify(|a| a.merge(&p.value))
            .or_insert(p.value);
    }
    MetricSeries::new(
        grains
            .into_iter()
            .map(|g| {
                let values: Vec<f64> = g
                    .values()
                    .filter_map(|a| a.value(definition.primary))
                    .collect();
                (!values.is_empty()).then_some(values)
            })
            .collect(),
    )
}

/// The rule's series at `now`; a metric the catalogue does not know has no data (the
/// setting was validated when written, but a template may have named another resource's).
pub async fn fetch(
    store: &Store,
    trigger: &MetricTrigger,
    now: DateTime<Utc>,
) -> Result<MetricSeries, sqlx::Error> {
    let Ok((resource, definition)) = resolve(trigger) else {
        return Ok(MetricSeries::default());
    };
    let (from, to) = window(trigger, now);
    let points = store
        .metric_minutes(&resource.key(), definition.name, from, to)
        .await?;
    Ok(series(&points, definition, trigger, from))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::metrics::series::dimensions;
    use crate::model::autoscale::{
        ComparisonOperator, Dimension, DimensionOperator, Statistic, TimeAggregation,
    };

    const VMSS: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/web";
    const LB: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb";

    fn trigger(name: &str, uri: &str, grain_minutes: u64, window_minutes: u64) -> MetricTrigger {
        MetricTrigger {
            metric_name: name.into(),
            metric_namespace: String::new(),
            metric_resource_uri: uri.into(),
            metric_resource_location: None,
            time_grain: Duration::from_secs(60 * grain_minutes),
            statistic: Statistic::Average,
            time_window: Duration::from_secs(60 * window_minutes),
            time_aggregation: TimeAggregation::Average,
            operator: ComparisonOperator::GreaterThan,
            threshold: 70.0,
            dimensions: None,
            divide_per_instance: false,
        }
    }

    fn t(m: u32, s: u32) -> DateTime<Utc> {
        format!("2024-05-01T10:{m:02}:{s:02}Z").parse().unwrap()
    }

    fn cpu(vm: &str, at: DateTime<Utc>, values: &[f64]) -> MinutePoint {
        MinutePoint::new(
            VMSS,
            "Percentage CPU",
            dimensions([("VMName", vm)]),
            at,
            Aggregate::from_samples(values).unwrap(),
        )
    }

    #[test]
    fn metrics_resolve_by_name_or_alias_and_others_are_unsupported() {
        let (id, def) = resolve(&trigger("percentage cpu", VMSS, 1, 5)).unwrap();
        assert_eq!((id.name(), def.name), ("web", "Percentage CPU"));
        let (_, def) = resolve(&trigger("HealthProbeStatus", LB, 1, 5)).unwrap();
        assert_eq!(def.name, "DipAvailability");
        let e = resolve(&trigger("Requests", VMSS, 1, 5)).unwrap_err();
        assert_eq!(e.code, "UnsupportedMetric");
        assert_eq!(
            e.message,
            format!(
                "resource: {VMSS}, metricnamespace: metricNamespace is null, metricname: Requests"
            )
        );
        let mut other_namespace = trigger("Percentage CPU", VMSS, 1, 5);
        other_namespace.metric_namespace = "azure.vm.linux.guestmetrics".into();
        assert_eq!(
            resolve(&other_namespace).unwrap_err().code,
            "UnsupportedMetric"
        );
        other_namespace.metric_namespace = "microsoft.compute/virtualmachinescalesets".into();
        assert!(resolve(&other_namespace).is_ok());
        let web = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/serverfarms/p";
        assert_eq!(
            resolve(&trigger("CpuPercentage", web, 1, 5))
                .unwrap_err()
                .code,
            "UnsupportedMetric"
        );
    }

    #[test]
    fn the_window_is_complete_minutes_before_now() {
        let (from, to) = window(&trigger("Percentage CPU", VMSS, 1, 5), t(10, 42));
        assert_eq!((from, to), (t(5, 0), t(10, 0)));
    }

    #[test]
    fn each_vm_is_an_instance_of_each_grain() {
        let tr = trigger("Percentage CPU", VMSS, 1, 3);
        let points = [
            cpu("web_0", t(0, 0), &[10.0, 30.0]),
            cpu("web_1", t(0, 0), &[80.0]),
            // Two writes of one minute of one VM (flushes) merge into one value.
            cpu("web_0", t(2, 0), &[50.0]),
            cpu("web_0", t(2, 30), &[70.0]),
            // Outside the window.
            cpu("web_1", t(3, 0), &[99.0]),
        ];
        let def = resolve(&tr).unwrap().1;
        let s = series(&points, def, &tr, t(0, 0));
        assert_eq!(
            s.grains,
            vec![Some(vec![20.0, 80.0]), None, Some(vec![60.0])]
        );
    }

    #[test]
    fn coarser_grains_merge_minutes_and_dimension_filters_apply() {
        let mut tr = trigger("Percentage CPU", VMSS, 2, 4);
        tr.dimensions = Some(vec![Dimension {
            dimension_name: "vmname".into(),
            operator: DimensionOperator::NotEquals,
            values: vec!["WEB_1".into()],
        }]);
        let points = [
            cpu("web_0", t(0, 0), &[10.0]),
            cpu("web_0", t(1, 0), &[30.0]),
            cpu("web_1", t(1, 0), &[90.0]),
            cpu("web_2", t(3, 0), &[40.0]),
        ];
        let def = resolve(&tr).unwrap().1;
        let s = series(&points, def, &tr, t(0, 0));
        assert_eq!(s.grains, vec![Some(vec![20.0]), Some(vec![40.0])]);
    }

    #[test]
    fn a_load_balancer_has_one_value_per_grain_of_the_matching_series() {
        let tr = trigger("ByteCount", LB, 1, 2);
        let bytes = |port: &str, dir: &str, at, v| {
            MinutePoint::new(
                LB,
                "ByteCount",
                dimensions([("FrontendPort", port), ("Direction", dir)]),
                at,
                Aggregate::sample(v),
            )
        };
        let points = [
            bytes("80", "In", t(0, 0), 100.0),
            bytes("80", "Out", t(0, 0), 400.0),
            bytes("443", "In", t(0, 10), 50.0),
            bytes("80", "In", t(1, 0), 10.0),
        ];
        let def = resolve(&tr).unwrap().1;
        // ByteCount is a total: the series of a grain add up.
        let s = series(&points, def, &tr, t(0, 0));
        assert_eq!(s.grains, vec![Some(vec![550.0]), Some(vec![10.0])]);
        let mut inbound = tr.clone();
        inbound.dimensions = Some(vec![Dimension {
            dimension_name: "Direction".into(),
            operator: DimensionOperator::Equals,
            values: vec!["in".into()],
        }]);
        let s = series(&points, def, &inbound, t(0, 0));
        assert_eq!(s.grains, vec![Some(vec![150.0]), Some(vec![10.0])]);
    }

    #[tokio::test]
    async fn fetch_reads_the_store() {
        let store = Store::in_memory().await.unwrap();
        store
            .write_metric_minutes(&[
                cpu("web_0", t(7, 0), &[40.0]),
                cpu("web_1", t(8, 0), &[60.0]),
                cpu("web_1", t(10, 0), &[100.0]),
            ])
            .await
            .unwrap();
        let s = fetch(&store, &trigger("Percentage CPU", VMSS, 1, 5), t(10, 30))
            .await
            .unwrap();
        assert_eq!(
            s.grains,
            vec![None, None, Some(vec![40.0]), Some(vec![60.0]), None]
        );
        let unknown = fetch(&store, &trigger("Nope", VMSS, 1, 5), t(10, 30))
            .await
            .unwrap();
        assert!(unknown.grains.is_empty());
    }
}
