//! Log Analytics, the pure part: the tables a workspace holds (`AzureMetrics`, what a
//! diagnostic setting with `AllMetrics` exports, and `ALBHealthEvent`, what the
//! `LoadBalancerHealthEvent` log category exports), typed values and result tables as the
//! query API returns them, and [`kql`], the subset of the Kusto Query Language armlet answers.
//!
//! - [`value`]: Kusto's scalar types and values, and how the query API writes them in JSON.
//! - [`azure_metrics`]: the `AzureMetrics` table: its columns and one row per exported minute.
//! - [`alb_health_event`]: the `ALBHealthEvent` table: one row per load balancer health event.
//! - [`kql`]: lexer, parser and evaluator of the query subset.

pub mod alb_health_event;
pub mod azure_metrics;
pub mod kql;
pub mod value;

pub use value::{ColumnType, Table, Value};

/// The Log Analytics workspace resource type.
pub const WORKSPACE_TYPE: &str = "Microsoft.OperationalInsights/workspaces";
