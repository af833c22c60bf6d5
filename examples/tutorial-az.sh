#!/usr/bin/env bash
# The tutorial's walk-through with the az CLI against a running armlet:
#   cargo run --release &      # in another shell
#   examples/tutorial-az.sh
# Then: curl http://<the public IP printed below>/
set -euo pipefail
eval "$(cargo run --release -q -- az-env)"
RG=myResourceGroup
work=$(mktemp -d)
printf '#cloud-config\nruncmd:\n  - echo hello from cloud-init\n' > "$work/cloud-init.txt"

az group create -n $RG -l eastus -o none
az network public-ip create --name lb-public-ip --resource-group $RG --location eastus --sku Standard --allocation-method Static -o none
az network lb create --name myLoadBalancer --resource-group $RG --sku Standard --public-ip-address lb-public-ip --frontend-ip-name myFrontend --backend-pool-name vmssBackendPool -o none
az network lb probe create --name httpHealthProbe --resource-group $RG --lb-name myLoadBalancer --protocol Http --port 80 --path "/health" --interval 15 --threshold 2 -o none
az network lb probe create --name httpsHealthProbe --resource-group $RG --lb-name myLoadBalancer --protocol Https --port 443 --path "/health" --interval 15 --threshold 2 -o none
az network lb rule create --name httpRule --resource-group $RG --lb-name myLoadBalancer --frontend-ip-name myFrontend --backend-pool-name vmssBackendPool --probe-name httpHealthProbe --protocol Tcp --frontend-port 80 --backend-port 80 --idle-timeout 15 --enable-tcp-reset true -o none
az network lb rule create --name httpsRule --resource-group $RG --lb-name myLoadBalancer --frontend-ip-name myFrontend --backend-pool-name vmssBackendPool --probe-name httpsHealthProbe --protocol Tcp --frontend-port 443 --backend-port 443 --idle-timeout 15 --enable-tcp-reset true -o none
az network lb inbound-nat-pool create --name sshNatPool --resource-group $RG --lb-name myLoadBalancer --frontend-ip-name myFrontend --protocol Tcp --frontend-port-range-start 50000 --frontend-port-range-end 50099 --backend-port 22 -o none
(cd "$work" && az vmss create --name myVMSS --resource-group $RG --location eastus --image Ubuntu2204 --vm-sku Standard_D2s_v3 --instance-count 3 --admin-username azureuser --generate-ssh-keys --vnet-name myVNet --subnet mySubnet --lb myLoadBalancer --backend-pool-name vmssBackendPool --upgrade-policy-mode Rolling --health-probe httpHealthProbe --custom-data cloud-init.txt --orchestration-mode Uniform -o none)
az vmss update --name myVMSS --resource-group $RG --set upgradePolicy.rollingUpgradePolicy.maxBatchInstancePercent=20 --set upgradePolicy.rollingUpgradePolicy.maxUnhealthyInstancePercent=20 --set upgradePolicy.rollingUpgradePolicy.maxUnhealthyUpgradedInstancePercent=5 --set upgradePolicy.rollingUpgradePolicy.pauseTimeBetweenBatches="PT2S" -o none
az vmss list-instances -n myVMSS -g $RG -o table
ip=$(az network public-ip show -n lb-public-ip -g $RG --query ipAddress -o tsv)
echo "The load balancer's frontend: http://$ip/  (instance k's banner: $ip:5000k)"
# New instances get traffic after their first successful probe (intervalInSeconds 15).
for _ in $(seq 60); do curl -sf -m 2 "http://$ip/health" >/dev/null && break; sleep 1; done
for i in 1 2 3 4 5 6; do curl -s "http://$ip/" | head -c 120; echo; done
