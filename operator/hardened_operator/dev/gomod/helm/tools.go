//go:build tools

// Package tools pins the helm CLI for `hardened dev build-assets --node` (the README's
// in-cluster quickstart runs `helm install` on the local node).
package tools

import (
	_ "helm.sh/helm/v4/cmd/helm"
)
