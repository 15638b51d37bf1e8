package charts

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

// chartDir is the chart under test.
var chartDir = filepath.Join("orchestrate")

// kubeVersion is the oldest Kubernetes the chart supports (Chart.yaml's
// kubeVersion): the preStop sleep action is on by default from 1.30.
const kubeVersion = "v1.30.0"

// manifest is what one install of the chart would apply.
type manifest struct {
	Deployments  []appsv1.Deployment
	StatefulSets []appsv1.StatefulSet
	Services     []corev1.Service
	Secrets      []corev1.Secret
	PDBs         []policyv1.PodDisruptionBudget
	HPAs         []autoscalingv2.HorizontalPodAutoscaler
	Jobs         []batchv1.Job
	ScaledObjs   []scaledObject
	// Kinds counts the objects by kind.
	Kinds map[string]int
	Notes string
}

// apiVersions are the group versions the chart may use for each kind.
var apiVersions = map[string]string{
	"Deployment": "apps/v1", "StatefulSet": "apps/v1", "Service": "v1", "Secret": "v1",
	"PodDisruptionBudget": "policy/v1", "HorizontalPodAutoscaler": "autoscaling/v2",
	"Job": "batch/v1", "ScaledObject": "keda.sh/v1alpha1",
}

// render renders the chart as `helm install orch` into namespace work
// would, with the values of the files (relative to the chart) laid over
// values.yaml and then overrides, and decodes every object strictly.
func render(t *testing.T, files []string, overrides map[string]any) *manifest {
	t.Helper()
	chrt, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	vals := map[string]any{}
	for _, f := range files {
		v, err := chartutil.ReadValuesFile(filepath.Join(chartDir, f))
		if err != nil {
			t.Fatalf("read values %s: %v", f, err)
		}
		vals = chartutil.CoalesceTables(v.AsMap(), vals)
	}
	vals = chartutil.CoalesceTables(overrides, vals)
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = *kv
	rv, err := chartutil.ToRenderValues(chrt, vals,
		chartutil.ReleaseOptions{Name: "orch", Namespace: "work", IsInstall: true, Revision: 1}, caps)
	if err != nil {
		t.Fatalf("values: %v", err)
	}
	out, err := engine.Render(chrt, rv)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	m := &manifest{Kinds: map[string]int{}}
	for _, name := range slices.Sorted(maps.Keys(out)) {
		if strings.HasSuffix(name, "NOTES.txt") {
			m.Notes = out[name]
			continue
		}
		for _, doc := range slices.Sorted(maps.Values(releaseutil.SplitManifests(out[name]))) {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			if err := m.add([]byte(doc)); err != nil {
				t.Errorf("%s: %v\n%s", name, err, doc)
			}
		}
	}
	return m
}

// add decodes one object into its API type, rejecting unknown fields.
func (m *manifest) add(doc []byte) error {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return fmt.Errorf("parse: %w", err)
	}
	want, ok := apiVersions[head.Kind]
	if !ok {
		return fmt.Errorf("kind %q: the test knows no API type for it", head.Kind)
	}
	if head.APIVersion != want {
		return fmt.Errorf("%s: apiVersion %q, want %q", head.Kind, head.APIVersion, want)
	}
	m.Kinds[head.Kind]++
	switch head.Kind {
	case "Deployment":
		return decodeInto(doc, &m.Deployments)
	case "StatefulSet":
		return decodeInto(doc, &m.StatefulSets)
	case "Service":
		return decodeInto(doc, &m.Services)
	case "Secret":
		return decodeInto(doc, &m.Secrets)
	case "PodDisruptionBudget":
		return decodeInto(doc, &m.PDBs)
	case "HorizontalPodAutoscaler":
		return decodeInto(doc, &m.HPAs)
	case "Job":
		return decodeInto(doc, &m.Jobs)
	default:
		return decodeInto(doc, &m.ScaledObjs)
	}
}

func decodeInto[T any](doc []byte, into *[]T) error {
	var v T
	if err := yaml.UnmarshalStrict(doc, &v); err != nil {
		return fmt.Errorf("decode strictly: %w", err)
	}
	*into = append(*into, v)
	return nil
}
