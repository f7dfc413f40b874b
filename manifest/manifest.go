// Package manifest reads Kubernetes workload manifests (as kubectl get
// -o yaml prints them, List and multi-document files included) and turns
// each container's own probes into a configuration that probes them from
// here: `probe-exporter check`.
package manifest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/probe-exporter/probe-exporter/config"
	"github.com/probe-exporter/probe-exporter/probe"
)

// Container is one container of a workload, with its probes.
type Container struct {
	Kind, Namespace, Workload, Name string
	Ports                           []corev1.ContainerPort
	Probes                          map[probe.Kind]*corev1.Probe
	// Selector finds the workload's pods (a Pod: nil, it is its own pod),
	// or is nil with SelectorProblem saying why it can't be told.
	Selector        labels.Selector
	SelectorProblem string
}

// Unrunnable is a probe that can't be run from here, and why.
type Unrunnable struct {
	Container Container
	Kind      probe.Kind
	Host      Host // where it would have run
	Reason    string
}

// Host is where a container's probes run: a static host, with labels
// saying which pod it is; or, with Reason set, a pod that can't be probed
// and why (its probes are reported, not run).
type Host struct {
	config.StaticHost
	Reason string
}

// Where says where each container's probes run.
type Where func(Container) ([]Host, error)

// AtHost runs every probe against host (a node port's node, a
// port-forward, a load balancer).
func AtHost(host string) Where {
	return func(Container) ([]Host, error) { return []Host{{StaticHost: config.StaticHost{Host: host}}}, nil }
}

// Read reads every workload in path: a file, a directory of .yaml, .yml
// and .json files, or "-" for r (standard input).
func Read(path string, stdin io.Reader) ([]Container, error) {
	if path == "-" {
		return decode(stdin, "<stdin>")
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	files := []string{path}
	if info.IsDir() {
		files = nil
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			switch filepath.Ext(e.Name()) {
			case ".yaml", ".yml", ".json":
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
	}
	var out []Container
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		cs, err := decode(fh, f)
		fh.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

// decode reads the documents of r.
func decode(r io.Reader, name string) ([]Container, error) {
	d := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	var out []Container
	for i := 1; ; i++ {
		var obj map[string]any
		if err := d.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("%s: document %d: %w", name, i, err)
		}
		if obj == nil {
			continue
		}
		cs, err := containers(obj)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, i, err)
		}
		out = append(out, cs...)
	}
}

// containers reads one object: a workload, or a List of them.
func containers(obj map[string]any) ([]Container, error) {
	kind, _ := obj["kind"].(string)
	if kind == "List" || strings.HasSuffix(kind, "List") {
		items, _ := obj["items"].([]any)
		var out []Container
		for _, it := range items {
			m, ok := it.(map[string]any)
			if !ok {
				continue
			}
			cs, err := containers(m)
			if err != nil {
				return nil, err
			}
			out = append(out, cs...)
		}
		return out, nil
	}
	podSpec, ok := podSpecs[kind]
	if !ok {
		return nil, nil // a Service, a ConfigMap: nothing to probe
	}
	spec, err := podSpec(obj)
	if err != nil {
		return nil, err
	}
	md, _ := obj["metadata"].(map[string]any)
	var meta struct{ Name, Namespace string }
	meta.Name, _ = md["name"].(string)
	meta.Namespace, _ = md["namespace"].(string)
	selector, problem, err := podSelector(kind, meta.Name, obj)
	if err != nil {
		return nil, err
	}
	var out []Container
	add := func(c corev1.Container) {
		probes := map[probe.Kind]*corev1.Probe{}
		for k, p := range map[probe.Kind]*corev1.Probe{probe.Startup: c.StartupProbe, probe.Liveness: c.LivenessProbe, probe.Readiness: c.ReadinessProbe} {
			if p != nil {
				probes[k] = p
			}
		}
		if len(probes) > 0 {
			out = append(out, Container{Kind: kind, Namespace: meta.Namespace, Workload: meta.Name, Name: c.Name, Ports: c.Ports, Probes: probes,
				Selector: selector, SelectorProblem: problem})
		}
	}
	for _, c := range spec.InitContainers {
		// Sidecars (restartPolicy: Always) are probed like containers.
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			add(c)
		}
	}
	for _, c := range spec.Containers {
		add(c)
	}
	return out, nil
}

// podSpecs read the pod template of each workload kind.
var podSpecs = map[string]func(map[string]any) (*corev1.PodSpec, error){
	"Pod":         specOf(func(p *corev1.Pod) *corev1.PodSpec { return &p.Spec }),
	"Deployment":  specOf(func(d *appsv1.Deployment) *corev1.PodSpec { return &d.Spec.Template.Spec }),
	"StatefulSet": specOf(func(s *appsv1.StatefulSet) *corev1.PodSpec { return &s.Spec.Template.Spec }),
	"DaemonSet":   specOf(func(s *appsv1.DaemonSet) *corev1.PodSpec { return &s.Spec.Template.Spec }),
	"ReplicaSet":  specOf(func(s *appsv1.ReplicaSet) *corev1.PodSpec { return &s.Spec.Template.Spec }),
	"Job":         specOf(func(j *batchv1.Job) *corev1.PodSpec { return &j.Spec.Template.Spec }),
	"CronJob":     specOf(func(j *batchv1.CronJob) *corev1.PodSpec { return &j.Spec.JobTemplate.Spec.Template.Spec }),
}

// specOf decodes an object into T and returns its pod spec.
func specOf[T any](spec func(*T) *corev1.PodSpec) func(map[string]any) (*corev1.PodSpec, error) {
	return func(obj map[string]any) (*corev1.PodSpec, error) {
		var v T
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, &v); err != nil {
			return nil, err
		}
		return spec(&v), nil
	}
}

var invalidName = regexp.MustCompile(`[^a-zA-Z0-9_-]`)

// EntryName is the configuration entry (the target label) of a container.
func EntryName(c Container) string {
	n := invalidName.ReplaceAllString(strings.ToLower(c.Kind)+"_"+c.Workload+"_"+c.Name, "_")
	if n == "" || (n[0] >= '0' && n[0] <= '9') || n[0] == '-' {
		n = "_" + n
	}
	return n
}

// Labels are a container's series labels: what it is and where.
func Labels(c Container) map[string]string {
	l := map[string]string{"workload_kind": strings.ToLower(c.Kind), "workload": c.Workload, "container": c.Name}
	if c.Namespace != "" {
		l["namespace"] = c.Namespace
	}
	return l
}

// ownHost is the host a probe names itself, or "".
func ownHost(p *corev1.Probe) string {
	switch {
	case p.HTTPGet != nil:
		return p.HTTPGet.Host
	case p.TCPSocket != nil:
		return p.TCPSocket.Host
	}
	return ""
}

// Config is the configuration that probes every container's probes where
// says, and the probes it can't run from here: exec probes (they run
// inside the container), ports named nowhere in the container, and pods
// that where can't reach (each with its reason).
//
// A probe that names its own host (httpGet.host, tcpSocket.host) is not
// run unless ownHosts: a manifest is data from elsewhere, and it would
// point this host's probes anywhere (a cloud metadata address included);
// it is reported, with the host it names.
// Options say how Config runs the probes.
type Options struct {
	// OwnHosts sends a probe that names its own host there, as the
	// kubelet would; off, it is reported and not sent.
	OwnHosts bool
	// Forwards send probes of container ports to local ports (a
	// port-forward); with any, a port not forwarded is reported.
	Forwards []Forward
}

// Config makes the configuration that runs each container's probes where
// says, and lists the probes that can't be run from here.
func Config(cs []Container, where Where, o Options) (*config.Config, []Unrunnable, error) {
	var (
		entries []map[string]any
		skipped []Unrunnable
		seen    = map[string]int{}
	)
	for _, c := range cs {
		hosts, err := where(c)
		if err != nil {
			return nil, nil, err
		}
		var static []config.StaticHost
		kinds := make([]probe.Kind, 0, len(c.Probes))
		for k := range c.Probes {
			kinds = append(kinds, k)
		}
		sort.Slice(kinds, func(i, j int) bool { return kinds[i] < kinds[j] })
		for _, h := range hosts {
			if h.Reason != "" {
				for _, k := range kinds {
					skipped = append(skipped, Unrunnable{c, k, h, h.Reason})
				}
				continue
			}
			static = append(static, h.StaticHost)
		}
		name := EntryName(c)
		if seen[name]++; seen[name] > 1 {
			name = fmt.Sprintf("%s_%d", name, seen[name])
		}
		entry := map[string]any{"name": name, "labels": Labels(c), "static": static}
		probes := 0
		for _, k := range kinds {
			p := c.Probes[k]
			reason := ""
			m := probe.FromCore(p)
			err := resolveNamedPorts(m, c.Ports)
			own := ownHost(p)
			switch {
			case p.Exec != nil:
				reason = "exec probes run inside the container: not runnable from here"
			case err != nil:
				reason = err.Error()
			case own != "" && !o.OwnHosts:
				reason = fmt.Sprintf("the probe names its own host %q: not sent there (--allow-probe-host sends it)", own)
			case len(o.Forwards) > 0:
				if err := forwardPorts(m, o.Forwards, c.Ports); err != nil {
					reason = err.Error()
				}
			}
			if reason != "" {
				for _, h := range static {
					if own != "" {
						h.Host = own // reported with the host it names
					}
					skipped = append(skipped, Unrunnable{c, k, Host{StaticHost: h}, reason})
				}
				continue
			}
			entry[k.String()+"Probe"] = m
			probes++
		}
		if probes > 0 && len(static) > 0 {
			entries = append(entries, entry)
		}
	}
	text, err := yaml.Marshal(map[string]any{"targets": entries})
	if err != nil {
		return nil, nil, err
	}
	cfg, err := config.Parse(text, "<manifests>")
	if err != nil {
		return nil, nil, err
	}
	return cfg, skipped, nil
}

// resolveNamedPorts replaces a probe's named port with the number the
// container's ports give it, as the kubelet does.
func resolveNamedPorts(p *probe.Probe, ports []corev1.ContainerPort) error {
	for _, port := range []*probe.IntOrString{httpPort(p), tcpPort(p)} {
		if port == nil || !port.IsString {
			continue
		}
		found := false
		for _, cp := range ports {
			if cp.Name == port.StrVal {
				*port, found = probe.IntOrString{IntVal: cp.ContainerPort}, true
			}
		}
		if !found {
			return fmt.Errorf("unable to find port %q in the container's ports", port.StrVal)
		}
	}
	return nil
}

func httpPort(p *probe.Probe) *probe.IntOrString {
	if p.HTTPGet == nil {
		return nil
	}
	return &p.HTTPGet.Port
}

func tcpPort(p *probe.Probe) *probe.IntOrString {
	if p.TCPSocket == nil {
		return nil
	}
	return &p.TCPSocket.Port
}

// podSelector is how a workload's pods are found: its spec.selector (a
// Job's defaults to its template's labels, or the job-name label the Job
// controller sets), a CronJob's job template labels; a Pod is its own.
func podSelector(kind, name string, obj map[string]any) (labels.Selector, string, error) {
	if kind == "Pod" {
		return nil, "", nil
	}
	spec, _ := obj["spec"].(map[string]any)
	template := spec
	if kind == "CronJob" {
		jt, _ := spec["jobTemplate"].(map[string]any)
		template, _ = jt["spec"].(map[string]any)
	}
	if sel, ok := spec["selector"].(map[string]any); ok && kind != "CronJob" {
		var ls metav1.LabelSelector
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(sel, &ls); err != nil {
			return nil, "", fmt.Errorf("spec.selector: %w", err)
		}
		s, err := metav1.LabelSelectorAsSelector(&ls)
		if err != nil {
			return nil, "", fmt.Errorf("spec.selector: %w", err)
		}
		if !s.Empty() {
			return s, "", nil
		}
	}
	t, _ := template["template"].(map[string]any)
	md, _ := t["metadata"].(map[string]any)
	if ls, ok := md["labels"].(map[string]any); ok && len(ls) > 0 {
		set := labels.Set{}
		for k, v := range ls {
			set[k], _ = v.(string)
		}
		return labels.SelectorFromSet(set), "", nil
	}
	if kind == "Job" {
		return labels.SelectorFromSet(labels.Set{batchv1.JobNameLabel: name}), "", nil
	}
	return nil, fmt.Sprintf("%s %s has no selector or template labels: its pods can't be found", strings.ToLower(kind), name), nil
}
