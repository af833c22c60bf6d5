"""The Azure SDK for Python against armlet: create, list and delete a resource group
(the delete through the SDK's LRO poller). Prints one JSON line of what it saw."""
import json
import os
import sys

from azure.identity import ClientSecretCredential
from azure.mgmt.resource.resources import ResourceManagementClient

endpoint = os.environ["ARMLET_ENDPOINT"]
ca = os.environ["ARMLET_CA"]
sub = os.environ["ARMLET_SUBSCRIPTION"]
tenant = os.environ["ARMLET_TENANT"]
audience = "https://management.core.windows.net/"

cred = ClientSecretCredential(tenant, "sdk-client", "sdk-secret", authority=endpoint,
                              disable_instance_discovery=True, connection_verify=ca)
client = ResourceManagementClient(cred, sub, base_url=endpoint,
                                  credential_scopes=[audience + ".default"], connection_verify=ca,
                                  polling_interval=1)
name = sys.argv[1]
created = client.resource_groups.create_or_update(name, {"location": "westeurope", "tags": {"by": "sdk"}})
listed = [g.name for g in client.resource_groups.list()]
exists_before = client.resource_groups.check_existence(name)
poller = client.resource_groups.begin_delete(name)
poller.result(timeout=60)
exists_after = client.resource_groups.check_existence(name)
print(json.dumps({
    "created": created.name, "location": created.location, "tags": created.tags,
    "listed": listed, "exists_before": exists_before, "exists_after": exists_after,
    "poller_status": poller.status(),
}))
