// Package charts holds no code: it is the home of the test that renders
// the Helm chart in orchestrate/ offline, with the Helm library, and checks
// every object it makes against the Kubernetes API types and KEDA's
// ScaledObject schema. Only this package imports Helm and k8s.io/api, so
// the orchestrator's binary and the projects it generates never link them.
//
// Run it with
//
//	go test ./charts/...
package charts
