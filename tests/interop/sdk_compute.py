"""The Azure SDK for Python (azure-mgmt-compute) against armlet, with the SDK's model classes
as users write them (current SDKs send a plain dict verbatim, so dicts would test nothing of
the SDK's serialization). The network (VNet `vnet`/`sub`, load balancer `lb` with pool
`pool`) exists already.

  scale RG    creates scale set `sdk` with 2 instances, PATCHes its capacity to 3 with
              VirtualMachineScaleSetUpdate(sku=Sku(...)), and prints one JSON line with the
              capacity and instance count after each step.
"""
import json
import os
import sys

from azure.identity import ClientSecretCredential
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.compute.models import (
    ApiEntityReference, ImageReference, Sku, SubResource, UpgradePolicy, VirtualMachineScaleSet,
    VirtualMachineScaleSetIPConfiguration, VirtualMachineScaleSetNetworkConfiguration,
    VirtualMachineScaleSetNetworkProfile, VirtualMachineScaleSetOSProfile,
    VirtualMachineScaleSetStorageProfile, VirtualMachineScaleSetUpdate,
    VirtualMachineScaleSetVMProfile,
)

endpoint = os.environ["ARMLET_ENDPOINT"]
ca = os.environ["ARMLET_CA"]
sub = os.environ["ARMLET_SUBSCRIPTION"]
tenant = os.environ["ARMLET_TENANT"]
cred = ClientSecretCredential(tenant, "sdk-client", "sdk-secret", authority=endpoint,
                              disable_instance_discovery=True, connection_verify=ca)
compute = ComputeManagementClient(cred, sub, base_url=endpoint, connection_verify=ca,
                                  credential_scopes=["https://management.core.windows.net/.default"],
                                  polling_interval=1)


def scale(rg):
    net = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network"
    vmss = VirtualMachineScaleSet(
        location="eastus",
        sku=Sku(name="Standard_D2s_v3", tier="Standard", capacity=2),
        upgrade_policy=UpgradePolicy(mode="Manual"),
        orchestration_mode="Uniform",
        virtual_machine_profile=VirtualMachineScaleSetVMProfile(
            os_profile=VirtualMachineScaleSetOSProfile(computer_name_prefix="sdk", admin_username="azureuser"),
            storage_profile=VirtualMachineScaleSetStorageProfile(image_reference=ImageReference(
                publisher="Canonical", offer="0001-com-ubuntu-server-jammy", sku="22_04-lts-gen2",
                version="latest")),
            network_profile=VirtualMachineScaleSetNetworkProfile(network_interface_configurations=[
                VirtualMachineScaleSetNetworkConfiguration(name="nic", primary=True, ip_configurations=[
                    VirtualMachineScaleSetIPConfiguration(
                        name="ipc", subnet=ApiEntityReference(id=f"{net}/virtualNetworks/vnet/subnets/sub"),
                        load_balancer_backend_address_pools=[
                            SubResource(id=f"{net}/loadBalancers/lb/backendAddressPools/pool")]),
                ]),
            ]),
        ),
    )
    created = compute.virtual_machine_scale_sets.begin_create_or_update(rg, "sdk", vmss).result()
    count = lambda: len(list(compute.virtual_machine_scale_set_vms.list(rg, "sdk")))
    print(json.dumps({"step": "created", "capacity": created.sku.capacity, "instances": count()}))
    update = VirtualMachineScaleSetUpdate(sku=Sku(name="Standard_D2s_v3", capacity=3))
    patched = compute.virtual_machine_scale_sets.begin_update(rg, "sdk", update).result()
    print(json.dumps({"step": "patched", "capacity": patched.sku.capacity, "instances": count(),
                      "mode": patched.upgrade_policy.mode}))


if __name__ == "__main__":
    {"scale": scale}[sys.argv[1]](*sys.argv[2:])
