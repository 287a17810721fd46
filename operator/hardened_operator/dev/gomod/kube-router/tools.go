//go:build tools

// Package tools pins kube-router for `hardened dev build-assets --node`: only its network
// policy controller runs on the dev node (dev/netpol.py), to enforce NetworkPolicies.
package tools

import (
	_ "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"
)
