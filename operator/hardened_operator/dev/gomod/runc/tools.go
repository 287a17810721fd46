//go:build tools

// Package tools pins runc for `hardened dev build-assets --node`.
package tools

import (
	_ "github.com/opencontainers/runc"
)
