"""Log Analytics through az's own code, run with the az CLI's Python in the config dir
`armlet az-env` prepares: the client factory of `az vm monitor log show` (azure-monitor-query's
LogsQueryClient at `cloud.endpoints.log_analytics_resource_id`, with az's credentials) runs a
query, and az core resolves the host the `log-analytics` extension's generated client would
use (its metadata index `logAnalyticslogAnalyticsResourceId`). Prints one JSON line."""
import json
import sys
import types

from azure.cli.core import get_default_cli
from azure.cli.core.aaz._client import AAZBaseClient
from azure.cli.command_modules.vm._client_factory import cf_log_analytics_data_plane

customer, query = sys.argv[1], sys.argv[2]
cli = get_default_cli()
client = cf_log_analytics_data_plane(cli, None)
result = client.query_workspace(customer, query, timespan=None)
table = result.tables[0]
extension_host = AAZBaseClient.get_cloud_endpoint(
    types.SimpleNamespace(cli_ctx=cli), "logAnalyticslogAnalyticsResourceId")
print(json.dumps({
    "columns": list(table.columns),
    "rows": [[v if isinstance(v, (int, float, str)) or v is None else str(v) for v in row] for row in table.rows],
    "core_endpoint": cli.cloud.endpoints.log_analytics_resource_id,
    "extension_endpoint": extension_host,
}))
