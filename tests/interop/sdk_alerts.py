"""The Azure SDK for Python (azure-mgmt-monitor, its model classes) against armlet: an action
group and the tutorial's metric alert on load balancer `lb` of group `rg` — create, PATCH
(the SDK's `update`), get, list, status, a test notification through the SDK's LRO poller,
a refused rule, delete. Prints one JSON line of what it saw."""
import json
import os
import sys
from datetime import timedelta

from azure.core.exceptions import HttpResponseError
from azure.identity import ClientSecretCredential
from azure.mgmt.monitor import MonitorManagementClient
from azure.mgmt.monitor.models import (
    ActionGroupPatchBody, ActionGroupResource, EmailReceiver, MetricAlertAction,
    MetricAlertResource, MetricAlertResourcePatch, MetricAlertSingleResourceMultipleMetricCriteria,
    MetricCriteria, NotificationRequestBody, WebhookReceiver,
)

endpoint = os.environ["ARMLET_ENDPOINT"]
ca = os.environ["ARMLET_CA"]
sub = os.environ["ARMLET_SUBSCRIPTION"]
tenant = os.environ["ARMLET_TENANT"]
audience = "https://management.core.windows.net/"
hook = sys.argv[1]

cred = ClientSecretCredential(tenant, "sdk-client", "sdk-secret", authority=endpoint,
                              disable_instance_discovery=True, connection_verify=ca)
client = MonitorManagementClient(cred, sub, base_url=endpoint,
                                 credential_scopes=[audience + ".default"], connection_verify=ca,
                                 polling_interval=1)
lb = f"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb"

ag = client.action_groups.create_or_update("rg", "sdkGroup", ActionGroupResource(
    location="Global", group_short_name="sdk", enabled=True,
    webhook_receivers=[WebhookReceiver(name="hook", service_uri=hook, use_common_alert_schema=True)],
    email_receivers=[EmailReceiver(name="mail", email_address="ops@example.com")]))
patched_ag = client.action_groups.update("rg", "sdkGroup", ActionGroupPatchBody(
    tags={"by": "sdk"}, enabled=False))

criteria = MetricAlertSingleResourceMultipleMetricCriteria(all_of=[MetricCriteria(
    name="cond0", metric_name="HealthProbeStatus", operator="LessThan", threshold=100,
    time_aggregation="Average")])
rule = client.metric_alerts.create_or_update("rg", "sdkRule", MetricAlertResource(
    location="global", description="One or more VMSS instances failed the health probe",
    severity=2, enabled=True, scopes=[lb], evaluation_frequency=timedelta(minutes=1),
    window_size=timedelta(minutes=5), criteria=criteria,
    actions=[MetricAlertAction(action_group_id=ag.id, web_hook_properties={"team": "web"})]))
patched = client.metric_alerts.update("rg", "sdkRule", MetricAlertResourcePatch(
    severity=1, enabled=False))
got = client.metric_alerts.get("rg", "sdkRule")
by_group = [r.name for r in client.metric_alerts.list_by_resource_group("rg")]
by_sub = [r.name for r in client.metric_alerts.list_by_subscription()]
status = client.metric_alerts_status.list("rg", "sdkRule")

test = client.action_groups.begin_create_notifications_at_action_group_resource_level(
    "rg", "sdkGroup", NotificationRequestBody(
        alert_type="metricstaticthreshold",
        webhook_receivers=[WebhookReceiver(name="t", service_uri=hook, use_common_alert_schema=True)],
        email_receivers=[EmailReceiver(name="m", email_address="ops@example.com")])).result(timeout=60)

bad_criteria = MetricAlertSingleResourceMultipleMetricCriteria(all_of=[MetricCriteria(
    name="cond0", metric_name="NoSuchMetric", operator="LessThan", threshold=1,
    time_aggregation="Average")])
try:
    client.metric_alerts.create_or_update("rg", "bad", MetricAlertResource(
        location="global", severity=2, enabled=True, scopes=[lb],
        evaluation_frequency=timedelta(minutes=1), window_size=timedelta(minutes=5),
        criteria=bad_criteria))
    refused = None
except HttpResponseError as e:
    refused = {"status": e.status_code, "code": e.error.code, "message": e.error.message}

client.metric_alerts.delete("rg", "sdkRule")
client.action_groups.delete("rg", "sdkGroup")
print(json.dumps({
    "ag": {"location": ag.location, "short": ag.group_short_name,
           "hook_common": ag.webhook_receivers[0].use_common_alert_schema},
    "patched_ag": {"enabled": patched_ag.enabled, "tags": patched_ag.tags},
    "rule": {"location": rule.location, "severity": rule.severity,
             "window": str(rule.window_size), "metric": rule.criteria.all_of[0].metric_name,
             "team": rule.actions[0].web_hook_properties.get("team")},
    "patched": {"severity": patched.severity, "enabled": patched.enabled,
                "window": str(patched.window_size)},
    "got_severity": got.severity, "by_group": by_group, "by_sub": by_sub,
    "status": [s.properties.status for s in (status.value or [])],
    "test": {"state": test.state,
             "actions": sorted((a.name, a.status) for a in (test.action_details or []))},
    "refused": refused,
    "after_delete": [r.name for r in client.metric_alerts.list_by_resource_group("rg")],
}))
