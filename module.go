// Package orchestrate carries the module's go.mod and go.sum. The projects
// the specialists generate pin the same dependency versions from them, so
// that they build offline from the module cache the orchestrator was built
// with.
package orchestrate

import _ "embed"

// GoMod is the module's go.mod.
//
//go:embed go.mod
var GoMod []byte

// GoSum is the module's go.sum.
//
//go:embed go.sum
var GoSum []byte
