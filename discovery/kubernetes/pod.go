package kubernetes

import (
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/probe-exporter/probe-exporter/config"
	"github.com/probe-exporter/probe-exporter/discovery"
	"github.com/probe-exporter/probe-exporter/probe"
	"github.com/probe-exporter/probe-exporter/series"
)

func containerID(statuses []corev1.ContainerStatus, name string) string {
	if s := containerStatus(statuses, name); s != nil {
		return s.ContainerID
	}
	return ""
}

func containerStatus(statuses []corev1.ContainerStatus, name string) *corev1.ContainerStatus {
	for i := range statuses {
		if statuses[i].Name == name {
			return &statuses[i]
		}
	}
	return nil
}

// pod: one target per container port (a portless container gets one
// target on the pod IP), or with inheritProbes, one target per container
// that has probes, running them with the pod spec's own parameters.
func (b *builder) pod(pod *corev1.Pod) discovery.Group {
	g := discovery.Group{Source: "pod/" + pod.Namespace + "/" + pod.Name}
	f := metaFields(pod.Namespace, pod.Name)
	f["spec.nodeName"] = pod.Spec.NodeName
	f["status.phase"] = string(pod.Status.Phase)
	f["status.podIP"] = pod.Status.PodIP
	if !b.selected(pod.Labels, f) || !b.onNode(pod.Spec.NodeName) {
		return g
	}
	host := b.podIP(pod)
	if host == "" {
		g.Skipped = addSkip(g.Skipped, SkipNoPodIP)
		return g
	}
	if b.cfg.AttachMetadata.Node && b.look.node(pod.Spec.NodeName) == nil {
		// As Prometheus: with node metadata asked for, a pod whose node is
		// not known (not yet listed, or filtered out) has no target until
		// it is.
		g.Skipped = addSkip(g.Skipped, SkipNodeNotFound)
		return g
	}
	meta := map[string]string{}
	podMeta(meta, pod)
	b.attachNamespace(meta, pod.Namespace)
	b.attachNode(meta, pod.Spec.NodeName)
	base := map[string]string{"namespace": pod.Namespace, "pod": pod.Name}
	if pod.Spec.NodeName != "" {
		base[series.Node] = pod.Spec.NodeName
	}
	if b.cfg.InheritProbes {
		return b.inherited(g, pod, host, meta, base)
	}
	seen := map[discovery.ID]int{}
	all := append(append([]corev1.Container(nil), pod.Spec.Containers...), pod.Spec.InitContainers...)
	for i := range all {
		c := &all[i]
		init := i >= len(pod.Spec.Containers)
		statuses := pod.Status.ContainerStatuses
		if init {
			statuses = pod.Status.InitContainerStatuses
		}
		cm := clone(meta)
		containerMeta(cm, c, init)
		cm[metaPrefix+"pod_container_id"] = containerID(statuses, c.Name)
		labels := b.defaults(merge(map[string]string{"container": c.Name}, base))
		named := containerPorts(c)
		if len(c.Ports) == 0 {
			g.Targets = append(g.Targets, discovery.Target{ID: discovery.IDOf(c.Name), Host: host, NamedPorts: named, Meta: cm, Labels: labels})
			continue
		}
		for j := range c.Ports {
			cp := &c.Ports[j]
			pm := clone(cm)
			portMeta(pm, cp)
			// Identity: container, number and protocol (53/UDP and 53/TCP
			// are two targets, as in Prometheus), and which of the
			// declarations with those it is (a port declared twice).
			id := discovery.IDOf(c.Name, itoa(cp.ContainerPort), string(cp.Protocol))
			seen[id]++
			if n := seen[id]; n > 1 {
				id = discovery.IDOf(string(id), strconv.Itoa(n-1))
			}
			g.Targets = append(g.Targets, discovery.Target{
				ID: id, Host: host, Port: cp.ContainerPort,
				NamedPorts: named, Meta: pm, Labels: clone(labels),
			})
		}
	}
	return g
}

func (b *builder) podIP(pod *corev1.Pod) string {
	if b.cfg.IPFamily == "primary" {
		return pod.Status.PodIP
	}
	for _, ip := range pod.Status.PodIPs {
		if v6 := strings.Contains(ip.IP, ":"); v6 == (b.cfg.IPFamily == "IPv6") {
			return ip.IP
		}
	}
	return ""
}

func containerPorts(c *corev1.Container) map[string]int32 {
	named := map[string]int32{}
	for _, p := range c.Ports {
		if p.Name != "" {
			named[p.Name] = p.ContainerPort
		}
	}
	return named
}

// inherited builds one target per running container that has probes. Its
// identity includes the container ID, so a restarted container starts
// again from the initial values, as the kubelet does; initialDelaySeconds
// counts from the container's startedAt.
func (b *builder) inherited(g discovery.Group, pod *corev1.Pod, host string, meta, base map[string]string) discovery.Group {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return g // the kubelet's workers exit
	}
	type candidate struct {
		c      *corev1.Container
		status *corev1.ContainerStatus
		init   bool
	}
	var cs []candidate
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		cs = append(cs, candidate{c, containerStatus(pod.Status.ContainerStatuses, c.Name), false})
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		// Only restartable init containers (sidecars) may carry probes.
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			cs = append(cs, candidate{c, containerStatus(pod.Status.InitContainerStatuses, c.Name), true})
		}
	}
	for _, cand := range cs {
		c := cand.c
		var probes []config.KindProbe
		for _, kp := range []struct {
			kind probe.Kind
			p    *corev1.Probe
		}{{probe.Startup, c.StartupProbe}, {probe.Liveness, c.LivenessProbe}, {probe.Readiness, c.ReadinessProbe}} {
			if kp.p == nil {
				continue
			}
			if kp.p.Exec != nil {
				// exec needs pods/exec and runs in the container: not from
				// the network.
				g.Skipped = addSkip(g.Skipped, SkipExecProbe)
				continue
			}
			if pod.DeletionTimestamp != nil && kp.kind != probe.Readiness {
				continue // the kubelet stops liveness and startup of a deleted pod
			}
			probes = append(probes, config.KindProbe{Kind: kp.kind, Probe: probe.FromCore(kp.p)})
		}
		if len(probes) == 0 {
			continue
		}
		st := cand.status
		if st == nil || st.ContainerID == "" || st.State.Running == nil {
			g.Skipped = addSkip(g.Skipped, SkipNotRunning)
			continue
		}
		cm := clone(meta)
		containerMeta(cm, c, cand.init)
		cm[metaPrefix+"pod_container_id"] = st.ContainerID
		g.Targets = append(g.Targets, discovery.Target{
			ID:         discovery.IDOf(c.Name, st.ContainerID, strconv.Itoa(int(st.RestartCount))),
			Host:       host,
			NamedPorts: containerPorts(c),
			Meta:       cm,
			Labels:     b.defaults(merge(map[string]string{"container": c.Name}, base)),
			Since:      st.State.Running.StartedAt.Time,
			Probes:     probes,
		})
	}
	return g
}
