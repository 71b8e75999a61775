package k8s

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func testOptions() Options {
	return Options{
		Name: "cb-plain", Namespace: "bench", Image: "registry.example/concbench:v1",
		Plan: "plans/mine.yaml", PlanData: []byte("name: mine\nmodels: [goroutine]\n"),
		Scenario: "plain", Rate: 20000, Target: "http://10.1.2.3:8080", AllowRemote: true,
		Shards: 4, StartAt: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC), Deadline: 5 * time.Minute,
		CPU: 1, Memory: "512Mi", Extra: []string{"--duration", "30s"},
	}
}

// docs splits a YAML stream into its documents.
func docs(b []byte) [][]byte {
	var out [][]byte
	for d := range bytes.SplitSeq(b, []byte("\n---\n")) {
		out = append(out, d)
	}
	return out
}

// TestManifestsGolden: the output matches the golden file, and decodes
// strictly (no unknown or duplicate field) into Kubernetes' own types with
// the shape the sharding needs.
func TestManifestsGolden(t *testing.T) {
	got, err := Write(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "job.golden.yaml")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		out := filepath.Join("testdata", "job.out.yaml")
		_ = os.WriteFile(out, got, 0o644)
		t.Errorf("manifests differ from %s (got written to %s; -update to accept)", golden, out)
	}

	d := docs(got)
	if len(d) != 2 {
		t.Fatalf("%d documents; want a ConfigMap and a Job", len(d))
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(d[0], &cm); err != nil {
		t.Fatalf("ConfigMap: %v", err)
	}
	var job batchv1.Job
	if err := yaml.UnmarshalStrict(d[1], &job); err != nil {
		t.Fatalf("Job: %v", err)
	}
	s := job.Spec
	if cm.Kind != "ConfigMap" || job.Kind != "Job" || job.APIVersion != "batch/v1" || job.Namespace != "bench" {
		t.Errorf("kinds %s, %s %s in %s; want ConfigMap, batch/v1 Job in bench", cm.Kind, job.APIVersion, job.Kind, job.Namespace)
	}
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion || *s.Completions != 4 || *s.Parallelism != 4 {
		t.Errorf("job spec %+v; want Indexed, 4 completions, parallelism 4", s)
	}
	pod := s.Template.Spec
	c := pod.Containers[0]
	args := strings.Join(c.Args, " ")
	for _, want := range []string{"attack ", "--shard $(JOB_COMPLETION_INDEX)/4", "--start-at 2026-12-03T12:00:00Z", "--plan /etc/concbench/mine.yaml", "--rate 20000", "--emit", "--allow-remote", "--duration 30s"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
	if cpu := c.Resources.Limits.Cpu(); cpu.Cmp(*c.Resources.Requests.Cpu()) != 0 || cpu.Value() != 1 {
		t.Errorf("resources %+v; want 1 whole CPU requested and limited", c.Resources)
	}
	anti := pod.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	if len(anti) != 1 || anti[0].TopologyKey != corev1.LabelHostname || anti[0].LabelSelector.MatchLabels["app.kubernetes.io/instance"] != "cb-plain" {
		t.Errorf("anti-affinity %+v; want one shard per node", anti)
	}
	if cm.Data["mine.yaml"] != "name: mine\nmodels: [goroutine]\n" || !slices.ContainsFunc(pod.Volumes, func(v corev1.Volume) bool { return v.ConfigMap != nil && v.ConfigMap.Name == cm.Name }) {
		t.Errorf("plan ConfigMap %v not mounted in %+v", cm.Data, pod.Volumes)
	}
}

func TestOptionsRefused(t *testing.T) {
	for _, f := range []func(*Options){
		func(o *Options) { o.Name = "Bad_Name" },
		func(o *Options) { o.Image = "" },
		func(o *Options) { o.Shards = 0 },
		func(o *Options) { o.CPU = 0 },
		func(o *Options) { o.Memory = "lots" },
	} {
		o := testOptions()
		f(&o)
		if _, err := Write(o); err == nil {
			t.Errorf("Write(%+v) = nil error; want one", o)
		}
	}
}

// TestKubectlDryRun hands the manifests to kubectl's client-side dry run.
// kubectl maps kinds through the API server's discovery even then, so it
// needs a reachable cluster: skipped without one.
func TestKubectlDryRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs kubectl")
	}
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Skip("kubectl not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := Write(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"apply", "--dry-run=client", "-f", "-"}
	if exec.CommandContext(ctx, "kubectl", "version", "--request-timeout=3s").Run() != nil {
		// No cluster: client dry run still asks the API server's discovery
		// to map kinds to resources (and GETs the object, to patch it). A
		// discovery stub that knows ConfigMaps and Jobs, and has none,
		// stands in for it. It serves no OpenAPI schema, so kubectl's schema
		// validation is off: TestGolden's strict decode into k8s.io/api's
		// own types is that check.
		srv := httptest.NewServer(http.HandlerFunc(discoveryStub))
		defer srv.Close()
		args = append([]string{"--server", srv.URL, "--validate=false"}, args...)
	}
	cmd := exec.CommandContext(ctx, "kubectl", args...)
	cmd.Stdin = bytes.NewReader(got)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(t.TempDir(), "none"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	for _, want := range []string{"configmap/cb-plain-plan created (dry run)", "job.batch/cb-plain created (dry run)"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("kubectl apply --dry-run=client said %q; want %q", out, want)
		}
	}
}

// discoveryStub answers kubectl's discovery for core/v1 ConfigMaps and
// batch/v1 Jobs, and 404 for everything else (no such object yet).
func discoveryStub(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	body, ok := map[string]string{
		"/api":           `{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"127.0.0.1"}]}`,
		"/api/v1":        `{"kind":"APIResourceList","groupVersion":"v1","resources":[{"name":"configmaps","singularName":"configmap","namespaced":true,"kind":"ConfigMap","verbs":["create","get","patch"]}]}`,
		"/apis":          `{"kind":"APIGroupList","apiVersion":"v1","groups":[{"name":"batch","versions":[{"groupVersion":"batch/v1","version":"v1"}],"preferredVersion":{"groupVersion":"batch/v1","version":"v1"}}]}`,
		"/apis/batch/v1": `{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"batch/v1","resources":[{"name":"jobs","singularName":"job","namespaced":true,"kind":"Job","verbs":["create","get","patch"]}]}`,
	}[r.URL.Path]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		body = `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`
	}
	_, _ = io.WriteString(w, body)
}
