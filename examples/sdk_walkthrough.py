"""The walk-through with the Azure SDK for Python against a running armlet.

    python examples/sdk_walkthrough.py   # needs azure-identity azure-mgmt-resource azure-mgmt-network
Environment: ARMLET_ENDPOINT (default https://localhost:8443), ARMLET_CA (default the CA in
~/.local/share/armlet/tls/ca.pem)."""
import os

from azure.identity import ClientSecretCredential
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient

endpoint = os.environ.get("ARMLET_ENDPOINT", "https://localhost:8443")
ca = os.environ.get("ARMLET_CA", os.path.expanduser("~/.local/share/armlet/tls/ca.pem"))
sub = "00000000-0000-0000-0000-000000000001"
cred = ClientSecretCredential("00000000-0000-0000-0000-0000000000aa", "app", "secret",
                              authority=endpoint, disable_instance_discovery=True, connection_verify=ca)
kw = dict(base_url=endpoint, credential_scopes=["https://management.core.windows.net/.default"],
          connection_verify=ca, polling_interval=1)
resources = ResourceManagementClient(cred, sub, **kw)
network = NetworkManagementClient(cred, sub, **kw)

resources.resource_groups.create_or_update("sdk-rg", {"location": "eastus"})
ip = network.public_ip_addresses.begin_create_or_update(
    "sdk-rg", "sdk-ip", {"location": "eastus", "sku": {"name": "Standard"},
                         "public_ip_allocation_method": "Static"}).result()
lb_id = f"/subscriptions/{sub}/resourceGroups/sdk-rg/providers/Microsoft.Network/loadBalancers/sdk-lb"
lb = network.load_balancers.begin_create_or_update("sdk-rg", "sdk-lb", {
    "location": "eastus", "sku": {"name": "Standard"},
    "frontend_ip_configurations": [{"name": "fe", "public_ip_address": {"id": ip.id}}],
    "backend_address_pools": [{"name": "pool"}],
    "probes": [{"name": "http", "protocol": "Http", "port": 80, "request_path": "/health",
                "interval_in_seconds": 15, "number_of_probes": 2}],
    "load_balancing_rules": [{"name": "web", "protocol": "Tcp", "frontend_port": 80, "backend_port": 80,
                              "frontend_ip_configuration": {"id": f"{lb_id}/frontendIPConfigurations/fe"},
                              "backend_address_pool": {"id": f"{lb_id}/backendAddressPools/pool"},
                              "probe": {"id": f"{lb_id}/probes/http"}}],
}).result()
print("load balancer", lb.name, "frontend", ip.ip_address)
