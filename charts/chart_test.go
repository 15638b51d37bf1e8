package charts

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/orchestrate-dev/orchestrate/broker"
)

// roles are the roles the chart serves by default: every role but diag,
// which exists for tests.
var roles = []string{
	"ml-systems-architect", "data-pipeline-engineer", "data-science-analyst",
	"aws-cloud-architect", "backend-systems-engineer", "collector",
}

const allOptions = "ci/all-options-values.yaml"

// scenarios are the value sets the chart must render into valid objects.
var scenarios = []struct {
	name      string
	files     []string
	overrides map[string]any
	keda      bool
	bundled   bool
}{
	{name: "default values", keda: true},
	{name: "every option on", files: []string{allOptions}, keda: true, bundled: true},
	{name: "every option on without KEDA", files: []string{allOptions},
		overrides: map[string]any{"autoscaling": map[string]any{"keda": map[string]any{"enabled": false}}}, bundled: true},
}

func TestChartPassesHelmLint(t *testing.T) {
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	for _, values := range []string{"", allOptions} {
		t.Run("with values "+cmp.Or(values, "values.yaml"), func(t *testing.T) {
			vals := map[string]any{}
			if values != "" {
				v, err := chartutil.ReadValuesFile(chartDir + "/" + values)
				if err != nil {
					t.Fatal(err)
				}
				vals = v.AsMap()
			}
			linter := lint.AllWithKubeVersion(chartDir, vals, "work", kv)
			for _, msg := range linter.Messages {
				if msg.Severity >= support.WarningSev {
					t.Errorf("helm lint: %s", msg)
				}
			}
		})
	}
}

func TestChartRendersEveryRole(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			m := render(t, sc.files, sc.overrides)
			for _, role := range roles {
				if len(deploymentsOf(m, role)) == 0 {
					t.Errorf("role %s: no Deployment serves it", role)
				}
			}
			if sc.keda {
				for _, role := range roles {
					if !slices.ContainsFunc(m.ScaledObjs, func(so scaledObject) bool { return scaledRole(so) == role }) {
						t.Errorf("role %s: no ScaledObject scales it", role)
					}
				}
			}
		})
	}
}

// TestDefaultObjectCounts pins what a default install creates, so that a
// change to it is seen in review.
func TestDefaultObjectCounts(t *testing.T) {
	m := render(t, nil, nil)
	want := map[string]int{
		"Deployment": len(roles), "PodDisruptionBudget": len(roles), "ScaledObject": len(roles),
		"Secret": 1, "Job": 1,
	}
	if !maps.Equal(m.Kinds, want) {
		t.Errorf("objects by kind = %v, want %v", m.Kinds, want)
	}
	t.Logf("objects by kind: %v", m.Kinds)
}

func TestScaledObjectsTriggerOnTheBrokersConsumers(t *testing.T) {
	for _, sc := range scenarios {
		if !sc.keda {
			continue
		}
		t.Run(sc.name, func(t *testing.T) {
			m := render(t, sc.files, sc.overrides)
			deployments := map[string]appsv1.Deployment{}
			for _, d := range m.Deployments {
				deployments[d.Name] = d
			}
			for _, so := range m.ScaledObjs {
				d, ok := deployments[so.Spec.ScaleTargetRef.Name]
				if !ok || so.Spec.ScaleTargetRef.Kind != "Deployment" {
					t.Errorf("%s: scales %s %q, which the chart does not make", so.Name, so.Spec.ScaleTargetRef.Kind, so.Spec.ScaleTargetRef.Name)
					continue
				}
				role := workerArg(t, d, "--roles")
				checkReplicaBounds(t, so)
				var consumers []string
				for _, tr := range so.Spec.Triggers {
					if tr.Type != "nats-jetstream" {
						t.Errorf("%s: trigger of type %q", so.Name, tr.Type)
					}
					for k := range tr.Metadata {
						if !natsJetStreamMetadata[k] {
							t.Errorf("%s: trigger metadata %q is not a key of KEDA's nats-jetstream scaler", so.Name, k)
						}
					}
					if s := tr.Metadata["stream"]; s != broker.TasksStream {
						t.Errorf("%s: stream %q, want %q", so.Name, s, broker.TasksStream)
					}
					for _, k := range []string{"natsServerMonitoringEndpoint", "account"} {
						if tr.Metadata[k] == "" {
							t.Errorf("%s: trigger %s has no %s", so.Name, tr.Name, k)
						}
					}
					for _, k := range []string{"lagThreshold", "activationLagThreshold"} {
						n, err := strconv.Atoi(tr.Metadata[k])
						if err != nil || n < 0 || (k == "lagThreshold" && n == 0) {
							t.Errorf("%s: %s %q is not a count KEDA can use", so.Name, k, tr.Metadata[k])
						}
					}
					consumers = append(consumers, tr.Metadata["consumer"])
				}
				var want []string
				for _, p := range broker.Priorities {
					want = append(want, broker.ConsumerName(role, p))
				}
				if !slices.Equal(consumers, want) {
					t.Errorf("%s: triggers on consumers %v, want broker.ConsumerName's %v", so.Name, consumers, want)
				}
			}
		})
	}
}

func checkReplicaBounds(t *testing.T, so scaledObject) {
	t.Helper()
	lo, hi := so.Spec.MinReplicaCount, so.Spec.MaxReplicaCount
	if lo == nil || hi == nil || *lo < 0 || *hi < 1 || *lo > *hi {
		t.Errorf("%s: replicas from %v to %v", so.Name, deref(lo), deref(hi))
	}
}

func TestLagThresholdDefaultsToConcurrency(t *testing.T) {
	m := render(t, nil, nil)
	for _, so := range m.ScaledObjs {
		d := deploymentNamed(t, m, so.Spec.ScaleTargetRef.Name)
		want := workerArg(t, d, "--max-agents")
		for _, tr := range so.Spec.Triggers {
			if got := tr.Metadata["lagThreshold"]; got != want {
				t.Errorf("%s: lagThreshold %s, want the pool's concurrency %s", so.Name, got, want)
			}
		}
	}
}

func TestScaleToZeroIsAllowed(t *testing.T) {
	m := render(t, nil, nil)
	for _, so := range m.ScaledObjs {
		if deref(so.Spec.MinReplicaCount) != 0 {
			t.Errorf("%s: minReplicaCount %d, want 0 by default", so.Name, deref(so.Spec.MinReplicaCount))
		}
	}
}

func TestHPAOnlyWithoutKEDA(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			m := render(t, sc.files, sc.overrides)
			if sc.keda {
				if len(m.HPAs) != 0 {
					t.Errorf("%d HorizontalPodAutoscalers beside KEDA's ScaledObjects, want none", len(m.HPAs))
				}
				return
			}
			if len(m.ScaledObjs) != 0 {
				t.Errorf("%d ScaledObjects with KEDA disabled", len(m.ScaledObjs))
			}
			if len(m.HPAs) != len(m.Deployments) {
				t.Errorf("%d HorizontalPodAutoscalers for %d Deployments", len(m.HPAs), len(m.Deployments))
			}
			for _, h := range m.HPAs {
				deploymentNamed(t, m, h.Spec.ScaleTargetRef.Name)
				if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 {
					t.Errorf("%s: minReplicas %v: nothing would wake a pool at zero without KEDA", h.Name, h.Spec.MinReplicas)
				}
				if len(h.Spec.Metrics) != 1 || h.Spec.Metrics[0].Resource == nil || h.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU {
					t.Errorf("%s: metrics %+v, want CPU", h.Name, h.Spec.Metrics)
				}
			}
		})
	}
}

func TestWorkersProbeTheServedPort(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			m := render(t, sc.files, sc.overrides)
			for _, d := range workers(m) {
				c := d.Spec.Template.Spec.Containers[0]
				addr := workerArg(t, d, "--http")
				served, err := strconv.Atoi(strings.TrimPrefix(addr, ":"))
				if err != nil {
					t.Fatalf("%s: --http %q is not :PORT", d.Name, addr)
				}
				probes := map[string]*corev1.Probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe}
				for path, p := range probes {
					if p == nil || p.HTTPGet == nil {
						t.Errorf("%s: no HTTP probe of %s", d.Name, path)
						continue
					}
					if p.HTTPGet.Path != path {
						t.Errorf("%s: probe of %s gets %s", d.Name, path, p.HTTPGet.Path)
					}
					if port := containerPort(c, p.HTTPGet.Port.String()); port != served {
						t.Errorf("%s: probe of %s on port %q (%d), the worker serves %d", d.Name, path, p.HTTPGet.Port.String(), port, served)
					}
				}
				ann := d.Spec.Template.Annotations
				if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != strconv.Itoa(served) || ann["prometheus.io/path"] != "/metrics" {
					t.Errorf("%s: scrape annotations %v", d.Name, ann)
				}
			}
		})
	}
}

func TestWorkersDrainWithinTheirTerminationGrace(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			m := render(t, sc.files, sc.overrides)
			for _, d := range workers(m) {
				spec := d.Spec.Template.Spec
				grace, err := time.ParseDuration(workerArg(t, d, "--grace"))
				if err != nil {
					t.Fatalf("%s: --grace: %v", d.Name, err)
				}
				pre := spec.Containers[0].Lifecycle
				if pre == nil || pre.PreStop == nil || pre.PreStop.Sleep == nil || pre.PreStop.Sleep.Seconds <= 0 {
					t.Errorf("%s: no preStop sleep before the drain", d.Name)
					continue
				}
				// The kubelet counts the preStop hook against the period.
				needed := time.Duration(pre.PreStop.Sleep.Seconds)*time.Second + grace
				if spec.TerminationGracePeriodSeconds == nil || time.Duration(*spec.TerminationGracePeriodSeconds)*time.Second <= needed {
					t.Errorf("%s: terminationGracePeriodSeconds %v, want more than preStop %ds + --grace %v",
						d.Name, spec.TerminationGracePeriodSeconds, pre.PreStop.Sleep.Seconds, grace)
				}
				env := map[string]corev1.EnvVar{}
				for _, e := range spec.Containers[0].Env {
					env[e.Name] = e
				}
				for _, name := range []string{"ORCHESTRATE_NATS_URL", "ORCHESTRATE_REDIS_URL"} {
					if e := env[name]; e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
						t.Errorf("%s: %s not from a Secret", d.Name, name)
					}
				}
				if env["ORCHESTRATE_LOG_FORMAT"].Value != "json" {
					t.Errorf("%s: ORCHESTRATE_LOG_FORMAT %q, want json", d.Name, env["ORCHESTRATE_LOG_FORMAT"].Value)
				}
			}
		})
	}
}

func TestEveryPoolHasAPodDisruptionBudget(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			m := render(t, sc.files, sc.overrides)
			for _, d := range workers(m) {
				n := 0
				for _, pdb := range m.PDBs {
					if pdb.Spec.Selector != nil && maps.Equal(pdb.Spec.Selector.MatchLabels, d.Spec.Selector.MatchLabels) {
						n++
					}
				}
				if n != 1 {
					t.Errorf("%s: %d PodDisruptionBudgets select its pods, want 1", d.Name, n)
				}
			}
		})
	}
}

func TestBrokerInitIsAHookBeforeWorkers(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			m := render(t, sc.files, sc.overrides)
			if len(m.Jobs) != 1 {
				t.Fatalf("%d Jobs, want the broker-init one", len(m.Jobs))
			}
			j := m.Jobs[0]
			hooks := strings.Split(j.Annotations["helm.sh/hook"], ",")
			// Bundled servers only exist after install.
			wantInstall := "pre-install"
			if sc.bundled {
				wantInstall = "post-install"
			}
			if !slices.Contains(hooks, wantInstall) || !slices.Contains(hooks, "pre-upgrade") {
				t.Errorf("hooks %v, want %s and pre-upgrade", hooks, wantInstall)
			}
			if p := j.Annotations["helm.sh/hook-delete-policy"]; !strings.Contains(p, "before-hook-creation") {
				t.Errorf("hook-delete-policy %q: a second upgrade would find the Job of the first", p)
			}
			args := j.Spec.Template.Spec.Containers[0].Args
			if len(args) < 2 || args[0] != "broker" || args[1] != "init" {
				t.Errorf("args %v, want broker init", args)
			}
			served := map[string]bool{}
			for _, d := range workers(m) {
				served[workerArg(t, d, "--roles")] = true
			}
			if got, want := flagValue(args, "--roles"), strings.Join(slices.Sorted(maps.Keys(served)), ","); got != want {
				t.Errorf("broker init --roles %q, want the pools' %q", got, want)
			}
			// The Job reads the chart's connection Secret, which must exist
			// before it: an earlier pre-install hook.
			for _, s := range m.Secrets {
				sw, _ := strconv.Atoi(s.Annotations["helm.sh/hook-weight"])
				jw, _ := strconv.Atoi(j.Annotations["helm.sh/hook-weight"])
				if !strings.Contains(s.Annotations["helm.sh/hook"], "pre-install") || sw >= jw {
					t.Errorf("Secret %s: hook %q weight %d, want pre-install before the Job's weight %d",
						s.Name, s.Annotations["helm.sh/hook"], sw, jw)
				}
			}
		})
	}
}

func TestNotesTellHowToSubmit(t *testing.T) {
	m := render(t, []string{allOptions}, nil)
	for _, want := range []string{"kubectl -n work port-forward svc/orch-orchestrate-nats 4222:4222", "orchestrate submit"} {
		if !strings.Contains(m.Notes, want) {
			t.Errorf("NOTES.txt lacks %q:\n%s", want, m.Notes)
		}
	}
}

// workers are the Deployments of worker pools.
func workers(m *manifest) []appsv1.Deployment {
	var ds []appsv1.Deployment
	for _, d := range m.Deployments {
		if c := d.Spec.Template.Spec.Containers; len(c) > 0 && len(c[0].Args) > 0 && c[0].Args[0] == "worker" {
			ds = append(ds, d)
		}
	}
	return ds
}

func deploymentsOf(m *manifest, role string) []appsv1.Deployment {
	var ds []appsv1.Deployment
	for _, d := range workers(m) {
		if flagValue(d.Spec.Template.Spec.Containers[0].Args, "--roles") == role {
			ds = append(ds, d)
		}
	}
	return ds
}

func deploymentNamed(t *testing.T, m *manifest, name string) appsv1.Deployment {
	t.Helper()
	for _, d := range m.Deployments {
		if d.Name == name {
			return d
		}
	}
	t.Fatalf("no Deployment %s", name)
	return appsv1.Deployment{}
}

// scaledRole is the role whose consumers a ScaledObject's first trigger
// reads, by the broker's naming rule.
func scaledRole(so scaledObject) string {
	if len(so.Spec.Triggers) == 0 {
		return ""
	}
	c := so.Spec.Triggers[0].Metadata["consumer"]
	for _, p := range broker.Priorities {
		if role, ok := strings.CutSuffix(strings.TrimPrefix(c, "tasks-"), "-"+string(p)); ok && broker.ConsumerName(role, p) == c {
			return role
		}
	}
	return ""
}

func workerArg(t *testing.T, d appsv1.Deployment, flag string) string {
	t.Helper()
	v := flagValue(d.Spec.Template.Spec.Containers[0].Args, flag)
	if v == "" {
		t.Fatalf("%s: worker has no %s", d.Name, flag)
	}
	return v
}

// flagValue is the value of flag in args, given as "--flag value" or
// "--flag=value".
func flagValue(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return ""
}

// containerPort resolves a probe's port, a number or a port's name.
func containerPort(c corev1.Container, port string) int {
	if n, err := strconv.Atoi(port); err == nil {
		return n
	}
	for _, p := range c.Ports {
		if p.Name == port {
			return int(p.ContainerPort)
		}
	}
	return -1
}

func deref(p *int32) int32 {
	if p == nil {
		return -1
	}
	return *p
}
