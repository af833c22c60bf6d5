//! The platform metrics armlet emits, per resource type, with Azure's names, display names,
//! units, aggregations and dimensions.
//!
//! Sources: Azure Monitor's supported-metrics reference
//! (learn.microsoft.com/azure/azure-monitor/reference/supported-metrics/,
//! `microsoft-network-loadbalancers-metrics`, `microsoft-compute-virtualmachinescalesets-metrics`,
//! `microsoft-compute-virtualmachinescalesets-virtualmachines-metrics`,
//! `microsoft-compute-virtualmachines-metrics`). Every metric there is kept at `PT1M` and
//! queryable at the grains of [`super::timespan::GRAINS`].
//!
//! The first metric of a namespace is the one the metrics API returns when no `metricnames`
//! is given. [`Namespace::resolve`] accepts Azure's name and, as an armlet alias, the display
//! name with spaces removed: Azure tutorials write `HealthProbeStatus` for `DipAvailability`.

/// How values of one interval are combined (Azure's `AggregationType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Aggregation {
    Average,
    Count,
    Minimum,
    Maximum,
    Total,
}

impl Aggregation {
    pub const ALL: [Aggregation; 5] = [
        Aggregation::Average,
        Aggregation::Minimum,
        Aggregation::Maximum,
        Aggregation::Total,
        Aggregation::Count,
    ];

    /// The name in definitions and parameters: `Average`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Average => "Average",
            Self::Count => "Count",
            Self::Minimum => "Minimum",
            Self::Maximum => "Maximum",
            Self::Total => "Total",
        }
    }

    /// The field of a `MetricValue` that carries it: `average`, ...
    pub fn field(self) -> &'static str {
        match self {
            Self::Average => "average",
            Self::Count => "count",
            Self::Minimum => "minimum",
            Self::Maximum => "maximum",
            Self::Total => "total",
        }
    }

    /// Parses an `aggregation` parameter value, case-insensitively. Azure's parameter knows
    /// only the enum names (`sum` is rejected there; `orderby` accepts it, see the query).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// Azure's `MetricUnit` values armlet uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Bytes,
    Percent,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Bytes => "Bytes",
            Self::Percent => "Percent",
        }
    }
}

/// One metric of a resource type.
#[derive(Debug, PartialEq)]
pub struct MetricDefinition {
    /// Azure's name (`name.value`), e.g. `DipAvailability`, `Percentage CPU`.
    pub name: &'static str,
    /// The display name (`name.localizedValue`), e.g. `Health Probe Status`.
    pub display_name: &'static str,
    /// `displayDescription`.
    pub description: &'static str,
    pub unit: Unit,
    /// The aggregation used when a query names none.
    pub primary: Aggregation,
    pub supported: &'static [Aggregation],
    /// Canonical dimension names, in Azure's order.
    pub dimensions: &'static [&'static str],
}

impl MetricDefinition {
    /// The canonical spelling of a dimension of this metric, matched case-insensitively.
    pub fn dimension(&self, name: &str) -> Option<&'static str> {
        self.dimensions
            .iter()
            .copied()
            .find(|d| d.eq_ignore_ascii_case(name.trim()))
    }

    /// The alias: the display name without spaces (`HealthProbeStatus`).
    pub fn alias(&self) -> String {
        compact(self.display_name)
    }
}

/// The metrics of one resource type (Azure's metric namespace for it).
#[derive(Debug, PartialEq)]
pub struct Namespace {
    /// The resource type, canonical casing; also the metric namespace name.
    pub name: &'static str,
    pub metrics: &'static [MetricDefinition],
}

impl Namespace {
    /// A metric by Azure's name (case-insensitive), else by its alias (the display name
    /// without spaces, case-insensitive; spaces in `name` are ignored for this match).
    pub fn resolve(&self, name: &str) -> Option<&'static MetricDefinition> {
        let name = name.trim();
        self.metrics
            .iter()
            .find(|m| m.name.eq_ignore_ascii_case(name))
            .or_else(|| {
                let wanted = compact(name);
                self.metrics
                    .iter()
                    .find(|m| m.alias().eq_ignore_ascii_case(&wanted))
            })
    }

    /// The metric returned when a query names none.
    pub fn default_metric(&self) -> &'static MetricDefinition {
        &self.metrics[0]
    }

    /// `Microsoft.Network` of `Microsoft.Network/loadBalancers`.
    pub fn provider(&self) -> &'static str {
        self.name.split_once('/').map_or(self.name, |(p, _)| p)
    }

    /// `loadBalancers` of `Microsoft.Network/loadBalancers`.
    pub fn resource_type(&self) -> &'static str {
        self.name.split_once('/').map_or("", |(_, t)| t)
    }
}

fn compact(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The catalog of a resource type (`Microsoft.Network/loadBalancers`, ...), case-insensitively.
pub fn for_resource_type(type_name: &str) -> Option<&'static Namespace> {
    NAMESPACES
        .iter()
        .copied()
        .find(|n| n.name.eq_ignore_ascii_case(type_name))
}

pub static NAMESPACES: [&Namespace; 4] = [
    &LOAD_BALANCERS,
    &SCALE_SETS,
    &SCALE_SET_VMS,
    &VIRTUAL_MACHINES,
];

/// Every aggregation; the platform metrics armlet emits support all of them.
const ALL: &[Aggregation] = &Aggregation::ALL;

const fn metric(
    name: &'static str,
    display_name: &'static str,
    description: &'static str,
    unit: Unit,
    primary: Aggregation,
    dimensions: &'static [&'static str],
) -> MetricDefinition {
    MetricDefinition {
        name,
        display_name,
        description,
        unit,
        primary,
        supported: ALL,
        dimensions,
    }
}

const FRONTEND_TRAFFIC: &[&str] = &["FrontendIPAddress", "FrontendPort", "Direction"];
const SNAT_PORTS: &[&str] = &[
    "FrontendIPAddress",
    "BackendIPAddress",
    "ProtocolType",
    "IsAwaitingRemoval",
];

pub static LOAD_BALANCERS: Namespace = Namespace {
    name: "Microsoft.Network/loadBalancers",
    metrics: &[
        metric(
            "VipAvailability",
            "Data Path Availability",
            "Average Load Balancer data path availability per time duration",
            Unit::Count,
            Aggregation::Average,
            &["FrontendIPAddress", "FrontendPort"],
        ),
        metric(
            "DipAvailability",
            "Health Probe Status",
            "Average Load Balancer health probe status per time duration",
            Unit::Count,
            Aggregation::Average,
            &[
                "ProtocolType",
                "BackendPort",
                "FrontendIPAddress",
                "FrontendPort",
                "BackendIPAddress",
            ],
        ),
        metric(
            "ByteCount",
            "Byte Count",
            "Total number of Bytes transmitted within time period",
            Unit::Bytes,
            Aggregation::Total,
            FRONTEND_TRAFFIC,
        ),
        metric(
            "PacketCount",
            "Packet Count",
            "Total number of Packets transmitted within time period",
            Unit::Count,
            Aggregation::Total,
            FRONTEND_TRAFFIC,
        ),
        metric(
            "SYNCount",
            "SYN Count",
            "Total number of SYN Packets transmitted within time period",
            Unit::Count,
            Aggregation::Total,
            FRONTEND_TRAFFIC,
        ),
        metric(
            "SnatConnectionCount",
            "SNAT Connection Count",
            "Total number of new SNAT connections created within time period",
            Unit::Count,
            Aggregation::Total,
            &["FrontendIPAddress", "BackendIPAddress", "ConnectionState"],
        ),
        metric(
            "AllocatedSnatPorts",
            "Allocated SNAT Ports",
            "Total number of SNAT ports allocated within time period",
            Unit::Count,
            Aggregation::Average,
            SNAT_PORTS,
        ),
        metric(
            "UsedSnatPorts",
            "Used SNAT Ports",
            "Total number of SNAT ports used within time period",
            Unit::Count,
            Aggregation::Average,
            SNAT_PORTS,
        ),
    ],
};

/// The host metrics of a VM; scale sets add the `VMName` dimension.
const fn vm_metrics(dimensions: &'static [&'static str]) -> [MetricDefinition; 6] {
    [
        metric(
            "Percentage CPU",
            "Percentage CPU",
            "The percentage of allocated compute units that are currently in use by the Virtual Machine(s)",
            Unit::Percent,
            Aggregation::Average,
            dimensions,
        ),
        metric(
            "Available Memory Bytes",
            "Available Memory Bytes",
            "Amount of physical memory, in bytes, immediately available for allocation to a process or for system use in the Virtual Machine",
            Unit::Bytes,
            Aggregation::Average,
            dimensions,
        ),
        metric(
            "Network In Total",
            "Network In Total",
            "The number of bytes received on all network interfaces by the Virtual Machine(s) (Incoming Traffic)",
            Unit::Bytes,
            Aggregation::Total,
            dimensions,
        ),
        metric(
            "Network Out Total",
            "Network Out Total",
            "The number of bytes out on all network interfaces by the Virtual Machine(s) (Outgoing Traffic)",
            Unit::Bytes,
            Aggregation::Total,
            dimensions,
        ),
        metric(
            "Disk Read Bytes",
            "Disk Read Bytes",
            "Bytes read from disk during monitoring period",
            Unit::Bytes,
            Aggregation::Total,
            dimensions,
        ),
        metric(
            "Disk Write Bytes",
            "Disk Write Bytes",
            "Bytes written to disk during monitoring period",
            Unit::Bytes,
            Aggregation::Total,
            dimensions,
        ),
    ]
}

static SCALE_SET_METRICS: [MetricDefinition; 6] = vm_metrics(&["VMName"]);
static VM_METRICS: [MetricDefinition; 6] = vm_metrics(&[]);

pub static SCALE_SETS: Namespace = Namespace {
    name: "Microsoft.Compute/virtualMachineScaleSets",
    metrics: &SCALE_SET_METRICS,
};

pub static SCALE_SET_VMS: Namespace = Namespace {
    name: "Microsoft.Compute/virtualMachineScaleSets/virtualMachines",
    metrics: &VM_METRICS,
};

pub static VIRTUAL_MACHINES: Namespace = Namespace {
    name: "Microsoft.Compute/virtualMachines",
    metrics: &VM_METRICS,
};

#[cfg(test)]
#[path = "catalog_tests.rs"]
mod tests;
