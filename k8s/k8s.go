// Package k8s writes the Kubernetes manifests that run one cell's load as
// shards on a cluster: an Indexed Job whose pod i runs `concbench attack
// --shard i/N` against a target, all behind one wall-clock start barrier,
// each printing its results directory as one framed line on stdout
// (shard.Emit) so that `kubectl logs` collects them for `concbench k8s
// collect`, which merges them (shard.Merge).
//
// Kubernetes does the placing: required pod anti-affinity puts every shard
// on its own node (or preferred, to allow sharing), and requests equal to
// limits of whole CPUs make the pods Guaranteed, so a node running the
// kubelet's static CPU manager gives each one exclusive CPUs. The manifests
// are built from Kubernetes' own API types, so what is printed is what the
// API server reads.
package k8s

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/concbench/concbench/units"
)

// Options describe one sharded cell on a cluster.
type Options struct {
	// Name names the Job (and the ConfigMap of a plan file): a DNS label.
	Name      string
	Namespace string // empty: the namespace kubectl uses
	Image     string
	// Plan is a built-in plan name, or, with PlanData, the file name the
	// plan is mounted as from a ConfigMap.
	Plan     string
	PlanData []byte
	Scenario string
	Rate     float64 // the whole cell's; 0: the scenario's only rate
	Target   string
	// AllowRemote is passed to every shard: a cluster's target is never on
	// the pods' loopback.
	AllowRemote bool
	Shards      int
	// StartAt is the shards' start barrier; Deadline bounds the Job's run
	// (activeDeadlineSeconds).
	StartAt  time.Time
	Deadline time.Duration
	// CPU is each shard's whole CPUs (requests = limits); Memory its memory.
	CPU    int
	Memory string
	// SoftSpread asks for preferred anti-affinity: shards may share a node
	// when there are fewer nodes than shards.
	SoftSpread bool
	// Extra are more `concbench attack` flags (--duration 30s ...).
	Extra []string
}

// Mount is where a plan file is mounted in the pods.
const Mount = "/etc/concbench"

// ResultsDir is each pod's results directory (an emptyDir).
const ResultsDir = "/results"

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// Validate checks what the manifests need.
func (o Options) Validate() error {
	switch {
	case !dnsLabel.MatchString(o.Name) || len(o.Name) > 52: // the Job controller appends -INDEX-XXXXX to pod names
		return fmt.Errorf("--name %q: want a DNS label of at most 52 characters (a-z, 0-9, -)", o.Name)
	case o.Namespace != "" && !dnsLabel.MatchString(o.Namespace):
		return fmt.Errorf("--namespace %q: want a DNS label", o.Namespace)
	case o.Image == "":
		return fmt.Errorf("--image is required (build it with the Dockerfile)")
	case o.Target == "":
		return fmt.Errorf("--target is required")
	case o.Shards < 1:
		return fmt.Errorf("--shards %d: want ≥ 1", o.Shards)
	case o.CPU < 1:
		return fmt.Errorf("--cpu %d: want ≥ 1 whole CPU (fractions are never exclusive)", o.CPU)
	case o.StartAt.IsZero():
		return fmt.Errorf("no start time")
	}
	if _, err := resource.ParseQuantity(o.Memory); err != nil {
		return fmt.Errorf("--memory %q: %v", o.Memory, err)
	}
	return nil
}

// Objects returns the manifests' objects: the plan's ConfigMap (when the
// plan is a file) and the Job.
func Objects(o Options) ([]any, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	labels := map[string]string{
		"app.kubernetes.io/name":       "concbench",
		"app.kubernetes.io/component":  "load-generator",
		"app.kubernetes.io/instance":   o.Name,
		"app.kubernetes.io/managed-by": "concbench",
	}
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: o.Namespace, Labels: labels}
	}
	planArg := o.Plan
	var objs []any
	var volumes []corev1.Volume
	mounts := []corev1.VolumeMount{{Name: "results", MountPath: ResultsDir}}
	volumes = append(volumes, corev1.Volume{Name: "results", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	if o.PlanData != nil {
		file := path.Base(o.Plan)
		cm := &corev1.ConfigMap{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: meta(o.Name + "-plan"),
			Data:       map[string]string{file: string(o.PlanData)},
		}
		objs = append(objs, cm)
		volumes = append(volumes, corev1.Volume{Name: "plan", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: cm.Name}}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "plan", MountPath: Mount, ReadOnly: true})
		planArg = path.Join(Mount, file)
	}

	args := []string{"attack",
		"--plan", planArg,
		"--target", o.Target,
		// The Job controller sets JOB_COMPLETION_INDEX in every pod of an
		// Indexed Job; Kubernetes expands $(VAR) in args from the env.
		"--shard", "$(JOB_COMPLETION_INDEX)/" + strconv.Itoa(o.Shards),
		"--start-at", o.StartAt.UTC().Format(time.RFC3339Nano),
		"--out", ResultsDir,
		"--emit",
	}
	if o.Scenario != "" {
		args = append(args, "--scenario", o.Scenario)
	}
	if o.Rate > 0 {
		args = append(args, "--rate", units.Plain(o.Rate))
	}
	if o.AllowRemote {
		args = append(args, "--allow-remote")
	}
	args = append(args, o.Extra...)

	cpu := resource.MustParse(strconv.Itoa(o.CPU))
	mem := resource.MustParse(o.Memory)
	res := corev1.ResourceList{corev1.ResourceCPU: cpu, corev1.ResourceMemory: mem}
	n := int32(o.Shards)
	indexed := batchv1.IndexedCompletion
	noRetry := int32(0) // a retried shard starts after the barrier: merge would refuse it anyway
	deadline := int64(o.Deadline.Seconds())
	term := int64(10)
	nonRoot, noEscalation, readOnly := true, false, true

	spread := corev1.PodAffinityTerm{
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/instance": o.Name}},
		TopologyKey:   corev1.LabelHostname,
	}
	anti := &corev1.PodAntiAffinity{}
	if o.SoftSpread {
		anti.PreferredDuringSchedulingIgnoredDuringExecution = []corev1.WeightedPodAffinityTerm{{Weight: 100, PodAffinityTerm: spread}}
	} else {
		anti.RequiredDuringSchedulingIgnoredDuringExecution = []corev1.PodAffinityTerm{spread}
	}

	job := &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: meta(o.Name),
		Spec: batchv1.JobSpec{
			CompletionMode:        &indexed,
			Completions:           &n,
			Parallelism:           &n,
			BackoffLimit:          &noRetry,
			ActiveDeadlineSeconds: &deadline,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					RestartPolicy:                 corev1.RestartPolicyNever,
					TerminationGracePeriodSeconds: &term,
					Affinity:                      &corev1.Affinity{PodAntiAffinity: anti},
					SecurityContext:               &corev1.PodSecurityContext{RunAsNonRoot: &nonRoot},
					Containers: []corev1.Container{{
						Name:    "attack",
						Image:   o.Image,
						Command: []string{"/concbench"},
						Args:    args,
						Env: []corev1.EnvVar{{
							// Also set by the Job controller (1.26+); spelled
							// out for older clusters, from the pod's annotation.
							Name: "JOB_COMPLETION_INDEX",
							ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
								FieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']"}},
						}},
						Resources:    corev1.ResourceRequirements{Requests: res, Limits: res},
						VolumeMounts: mounts,
						SecurityContext: &corev1.SecurityContext{
							AllowPrivilegeEscalation: &noEscalation,
							ReadOnlyRootFilesystem:   &readOnly,
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
					}},
					Volumes: volumes,
				},
			},
		},
	}
	return append(objs, job), nil
}

// Write prints the objects as one YAML stream.
func Write(o Options) ([]byte, error) {
	objs, err := Objects(o)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# concbench k8s: %d shards of one cell against %s, starting %s.\n", o.Shards, o.Target, o.StartAt.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "# Apply before the start (pods that start later make the merged cell invalid), then collect:\n")
	ns := ""
	if o.Namespace != "" {
		ns = " -n " + o.Namespace
	}
	fmt.Fprintf(&b, "#   kubectl wait%s --for=condition=complete --timeout=%s job/%s\n", ns, o.Deadline.Round(time.Second), o.Name)
	fmt.Fprintf(&b, "#   kubectl logs%s -l app.kubernetes.io/instance=%s --tail=-1 --max-log-requests=%d | concbench k8s collect --out results/%s\n", ns, o.Name, max(o.Shards, 5), o.Name)
	for i, obj := range objs {
		y, err := yaml.Marshal(obj)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(stripNulls(y))
	}
	return b.Bytes(), nil
}

// stripNulls drops the "creationTimestamp: null" and "status: {}" lines
// that marshalling leaves in objects that were never stored: noise, which
// kubectl ignores.
func stripNulls(y []byte) []byte {
	var out []string
	for _, l := range strings.SplitAfter(string(y), "\n") {
		if t := strings.TrimSpace(l); t == "creationTimestamp: null" || l == "status: {}\n" {
			continue
		}
		out = append(out, l)
	}
	return []byte(strings.Join(out, ""))
}
