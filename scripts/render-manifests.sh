#!/usr/bin/env bash
# Renders the plain manifests (deploy/kubernetes/cipherlens.yaml) from the
# Helm chart with its default values, for clusters installed without Helm.
# sensor/tests/deploy_chart.rs fails when the file differs from a fresh
# render: run this after changing the chart.
set -euo pipefail
cd "$(dirname "$0")/.."
helm=${HELM:-/opt/cipherlens-tools/bin/helm}
export HELM_CACHE_HOME=${HELM_CACHE_HOME:-$(mktemp -d)} HELM_CONFIG_HOME=${HELM_CONFIG_HOME:-$(mktemp -d)} \
    HELM_DATA_HOME=${HELM_DATA_HOME:-$(mktemp -d)}
{
    cat << 'HEADER'
# Rendered from deploy/helm/cipherlens with its default values by
# scripts/render-manifests.sh; edit the chart, not this file.
# kubectl apply -f deploy/kubernetes/cipherlens.yaml
---
apiVersion: v1
kind: Namespace
metadata:
  name: cipherlens
HEADER
    "$helm" template cipherlens deploy/helm/cipherlens --namespace cipherlens
} > deploy/kubernetes/cipherlens.yaml
