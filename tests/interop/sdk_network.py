"""The Azure SDK for Python (azure-mgmt-network) against armlet. Two steps, each printing one
JSON line of what it saw:

  setup RG PIP  creates a virtual network, the tutorial's load balancer (frontend on public IP
                PIP, one backend pool) and a NIC in that pool, each with begin_create_or_update
                and its poller;
  query RG      reads the load balancer and its children back, asks for the NIC's inbound NAT
                port mappings and a rule's health (both long-running POSTs), then deletes the NIC.
"""
import json
import os
import sys

from azure.identity import ClientSecretCredential
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient

endpoint = os.environ["ARMLET_ENDPOINT"]
ca = os.environ["ARMLET_CA"]
sub = os.environ["ARMLET_SUBSCRIPTION"]
tenant = os.environ["ARMLET_TENANT"]
audience = "https://management.core.windows.net/"

cred = ClientSecretCredential(tenant, "sdk-client", "sdk-secret", authority=endpoint,
                              disable_instance_discovery=True, connection_verify=ca)
kwargs = dict(base_url=endpoint, credential_scopes=[audience + ".default"], connection_verify=ca,
              polling_interval=1)
network = NetworkManagementClient(cred, sub, **kwargs)
LB = "myLoadBalancer"


def arm_id(rg, rest):
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/{rest}"


def setup(rg, pip):
    ResourceManagementClient(cred, sub, **kwargs).resource_groups.create_or_update(
        rg, {"location": "eastus"})
    # Bodies as the REST API shapes them (this SDK sends dicts as they are).
    vnet = network.virtual_networks.begin_create_or_update(rg, "vnet", {
        "location": "eastus",
        "properties": {
            "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [{"name": "default", "properties": {"addressPrefix": "10.0.0.0/24"}}],
        },
    }).result()
    poller = network.load_balancers.begin_create_or_update(rg, LB, {
        "location": "eastus",
        "sku": {"name": "Standard"},
        "properties": {
            "frontendIPConfigurations": [{
                "name": "myFrontend",
                "properties": {"publicIPAddress": {"id": arm_id(rg, f"publicIPAddresses/{pip}")}},
            }],
            "backendAddressPools": [{"name": "vmssBackendPool"}],
        },
    })
    lb = poller.result()
    nic = network.network_interfaces.begin_create_or_update(rg, "nic1", {
        "location": "eastus",
        "properties": {"ipConfigurations": [{
            "name": "ipconfig1",
            "properties": {
                "subnet": {"id": vnet.subnets[0].id},
                "loadBalancerBackendAddressPools": [{"id": lb.backend_address_pools[0].id}],
            },
        }]},
    }).result()
    print(json.dumps({
        "lb_status": poller.status(),
        "lb_id": lb.id,
        "frontend_ip": lb.frontend_ip_configurations[0].public_ip_address.id,
        "pools": [p.name for p in lb.backend_address_pools],
        "probes": [p.name for p in lb.probes],
        "nic_ip": nic.ip_configurations[0].private_ip_address,
        "nic_ip_config": nic.ip_configurations[0].id,
    }))


def query(rg):
    lb = network.load_balancers.get(rg, LB)
    pool = network.load_balancer_backend_address_pools.get(rg, LB, "vmssBackendPool")
    probe = network.load_balancer_probes.get(rg, LB, "httpHealthProbe")
    rules = [r.name for r in network.load_balancer_load_balancing_rules.list(rg, LB)]
    nat_pools = [p.name for p in lb.inbound_nat_pools]
    nic = network.network_interfaces.get(rg, "nic1")
    config_id = nic.ip_configurations[0].id
    mappings = network.load_balancers.begin_list_inbound_nat_rule_port_mappings(
        rg, LB, "vmssBackendPool", {"ipConfiguration": {"id": config_id}}).result()
    health = network.load_balancer_load_balancing_rules.begin_health(rg, LB, "httpRule").result()
    ip = network.public_ip_addresses.get(rg, "lb-public-ip")
    network.network_interfaces.begin_delete(rg, "nic1").result()
    print(json.dumps({
        "backend_ip_configurations": [c.id for c in pool.backend_ip_configurations or []],
        "pool_rules": sorted(r.id.rsplit("/", 1)[1] for r in pool.load_balancing_rules or []),
        "probe": {"protocol": probe.protocol, "port": probe.port, "path": probe.request_path,
                  "interval": probe.interval_in_seconds, "number": probe.number_of_probes,
                  "rules": [r.id.rsplit("/", 1)[1] for r in probe.load_balancing_rules or []]},
        "rules": rules,
        "nat_pools": nat_pools,
        "mappings": [m.as_dict() for m in mappings.inbound_nat_rule_port_mappings],
        "health": health.as_dict(),
        "ip_configuration": ip.ip_configuration.id if ip.ip_configuration else None,
        "nics_after": [n.name for n in network.network_interfaces.list(rg)],
    }))


if sys.argv[1] == "setup":
    setup(sys.argv[2], sys.argv[3])
else:
    query(sys.argv[2])
