package kubernetes

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/probe-exporter/probe-exporter/config"
	"github.com/probe-exporter/probe-exporter/discovery"
)

// Reasons a discovered object yields no target, for
// probe_exporter_discovery_skipped.
const (
	SkipHeadless      = "headless_service"
	SkipNoIngress     = "no_load_balancer_ingress"
	SkipNoNodePort    = "no_node_port"
	SkipNoServiceName = "no_service_name"
	SkipExecProbe     = "exec_probe"
	SkipNotRunning    = "container_not_running"
	SkipNoPodIP       = "no_pod_ip"
	SkipNoPorts       = "no_ports"
	SkipNodeNotFound  = "node_not_found"
)

var skipReasons = []string{SkipHeadless, SkipNoIngress, SkipNoNodePort, SkipNoServiceName, SkipExecProbe, SkipNotRunning, SkipNoPodIP, SkipNoPorts, SkipNodeNotFound, discovery.SkipInvalidHost}

// mechanism is this source's name in the shared discovery metrics.
const mechanism = "kubernetes"

// lookup gives builders the objects related to the one they build from.
type lookup interface {
	service(namespace, name string) *corev1.Service
	pod(namespace, name string) *corev1.Pod
	nodes() []*corev1.Node
	node(name string) *corev1.Node
	namespace(name string) *corev1.Namespace
}

// attachNode adds the node's metadata (attach_metadata.node), as
// Prometheus' addNodeLabels.
func (b *builder) attachNode(ls map[string]string, name string) {
	if !b.cfg.AttachMetadata.Node || name == "" {
		return
	}
	if n := b.look.node(name); n != nil {
		addObjectMeta(ls, &n.ObjectMeta, "node")
	}
}

// attachNamespace adds the namespace's metadata
// (attach_metadata.namespace), as Prometheus' addNamespaceLabels.
func (b *builder) attachNamespace(ls map[string]string, name string) {
	if !b.cfg.AttachMetadata.Namespace {
		return
	}
	if ns := b.look.namespace(name); ns != nil {
		addLabelsAndAnnotations(ls, &ns.ObjectMeta, "namespace")
	}
}

// builder turns one object of a role into a discovery.Group. It is pure:
// everything it needs comes in through its fields and lookup.
type builder struct {
	cfg    *Config
	labels labels.Selector
	fields fields.Selector
	look   lookup
	// accept says whether targets on a node are ours (scope node/mesh);
	// nil accepts every node.
	accept func(node string) bool
	// sourceNode is set in node and mesh scope: the source_node label.
	sourceNode string
}

func (b *builder) selected(objLabels map[string]string, f fields.Set) bool {
	return b.labels.Matches(labels.Set(objLabels)) && b.fields.Matches(f)
}

func (b *builder) onNode(node string) bool {
	return b.accept == nil || b.accept(node)
}

func (b *builder) defaults(ls map[string]string) map[string]string {
	if b.sourceNode != "" {
		ls["source_node"] = b.sourceNode
	}
	return ls
}

func metaFields(namespace, name string) fields.Set {
	return fields.Set{"metadata.namespace": namespace, "metadata.name": name}
}

func itoa(i int32) string { return strconv.Itoa(int(i)) }

// endpointSlice: one target per endpoint address and port. Not-ready and
// terminating endpoints stay targets, with their conditions as labels: a
// failing backend shows red instead of vanishing.
func (b *builder) endpointSlice(eps *discoveryv1.EndpointSlice) discovery.Group {
	g := discovery.Group{Source: "endpointslice/" + eps.Namespace + "/" + eps.Name}
	if !b.selected(eps.Labels, metaFields(eps.Namespace, eps.Name)) {
		return g
	}
	svcName := eps.Labels[discoveryv1.LabelServiceName]
	svc := b.look.service(eps.Namespace, svcName)
	if !b.wantFamily(eps, svc) {
		return g
	}
	meta := map[string]string{
		namespaceLabel: eps.Namespace,
		metaPrefix + "endpointslice_address_type": string(eps.AddressType),
	}
	addObjectMeta(meta, &eps.ObjectMeta, "endpointslice")
	if svc != nil {
		serviceMeta(meta, svc)
	}
	b.attachNamespace(meta, eps.Namespace)
	slicePorts := map[string]int32{}
	for _, p := range eps.Ports {
		if p.Name != nil && p.Port != nil && *p.Name != "" {
			slicePorts[*p.Name] = *p.Port
		}
	}
	ports := eps.Ports
	if len(ports) == 0 {
		// As Prometheus: no port, no target (a headless Service declared
		// only for DNS); counted, so its absence is visible.
		if len(eps.Endpoints) > 0 {
			g.Skipped = addSkip(g.Skipped, SkipNoPorts)
		}
		return g
	}
	for _, ep := range eps.Endpoints {
		node := ""
		if ep.NodeName != nil {
			node = *ep.NodeName
		}
		if !b.onNode(node) {
			continue
		}
		var pod *corev1.Pod
		if r := ep.TargetRef; r != nil && r.Kind == "Pod" {
			pod = b.look.pod(r.Namespace, r.Name)
		}
		for _, p := range ports {
			for _, addr := range ep.Addresses {
				g.Targets = append(g.Targets, b.endpoint(eps, svcName, meta, slicePorts, &ep, &p, pod, node, addr))
			}
		}
	}
	return g
}

// wantFamily is the ipFamily filter. Only a dual-stack Service has slices
// of two families that would probe the same backends twice: with
// "primary" its secondary family's slices are left out; a single-stack
// Service (or one not known yet) keeps every slice. An explicit IPv4 or
// IPv6 keeps that family's slices. FQDN slices are never filtered: their
// addresses are DNS names, resolved when probed.
func (b *builder) wantFamily(eps *discoveryv1.EndpointSlice, svc *corev1.Service) bool {
	if eps.AddressType == discoveryv1.AddressTypeFQDN {
		return true
	}
	if b.cfg.IPFamily == "primary" {
		return svc == nil || len(svc.Spec.IPFamilies) < 2 || string(svc.Spec.IPFamilies[0]) == string(eps.AddressType)
	}
	return string(eps.AddressType) == b.cfg.IPFamily
}

func (b *builder) endpoint(eps *discoveryv1.EndpointSlice, svcName string, groupMeta map[string]string, slicePorts map[string]int32,
	ep *discoveryv1.Endpoint, p *discoveryv1.EndpointPort, pod *corev1.Pod, node, addr string) discovery.Target {
	m := clone(groupMeta)
	t := discovery.Target{Host: addr, Meta: m, Labels: b.defaults(map[string]string{"namespace": eps.Namespace})}
	if svcName != "" {
		t.Labels["service"] = svcName
	}
	if p.Port != nil {
		t.Port = *p.Port
		m[metaPrefix+"endpointslice_port"] = itoa(*p.Port)
	}
	if p.Name != nil {
		m[metaPrefix+"endpointslice_port_name"] = *p.Name
	}
	if p.Protocol != nil {
		m[metaPrefix+"endpointslice_port_protocol"] = string(*p.Protocol)
	}
	if p.AppProtocol != nil {
		m[metaPrefix+"endpointslice_port_app_protocol"] = *p.AppProtocol
	}
	// __meta_* as Prometheus: set only when the condition is. The default
	// labels as the API defines the conditions: an unset ready means
	// ready, an unset serving follows ready, an unset terminating is false.
	for name, c := range map[string]*bool{"ready": ep.Conditions.Ready, "serving": ep.Conditions.Serving, "terminating": ep.Conditions.Terminating} {
		if c != nil {
			m[metaPrefix+"endpointslice_endpoint_conditions_"+name] = boolString(*c)
		}
	}
	ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
	serving := ready
	if ep.Conditions.Serving != nil {
		serving = *ep.Conditions.Serving
	}
	terminating := ep.Conditions.Terminating != nil && *ep.Conditions.Terminating
	t.Labels["ready"], t.Labels["serving"], t.Labels["terminating"] = boolString(ready), boolString(serving), boolString(terminating)
	if ep.Hostname != nil {
		m[metaPrefix+"endpointslice_endpoint_hostname"] = *ep.Hostname
		t.Labels["hostname"] = *ep.Hostname
	}
	if node != "" {
		m[metaPrefix+"endpointslice_endpoint_node_name"] = node
		t.Labels["node"] = node
	}
	if r := ep.TargetRef; r != nil && r.Kind == "Node" {
		b.attachNode(m, r.Name)
	} else {
		b.attachNode(m, node)
	}
	if ep.Zone != nil {
		m[metaPrefix+"endpointslice_endpoint_zone"] = *ep.Zone
		t.Labels["zone"] = *ep.Zone
	}
	if r := ep.TargetRef; r != nil {
		m[metaPrefix+"endpointslice_address_target_kind"] = r.Kind
		m[metaPrefix+"endpointslice_address_target_name"] = r.Name
		if r.Kind == "Pod" {
			t.Labels["pod"] = r.Name
		}
	}
	for k, v := range ep.DeprecatedTopology {
		n := sanitize(k)
		m[metaPrefix+"endpointslice_endpoint_topology_"+n] = v
		m[metaPrefix+"endpointslice_endpoint_topology_present_"+n] = "true"
	}
	t.NamedPorts = slicePorts
	if pod != nil {
		podMeta(m, pod)
		// The kubelet resolves names against the pod's container ports;
		// they win over the slice's (service) port names.
		named := make(map[string]int32, len(slicePorts)+4)
		merge32(named, slicePorts)
		// Container-port labels as Prometheus' endpointslice role: of each
		// container, then init container (sidecars serve too), the first
		// port with the endpoint's number, whatever its protocol; a later
		// container that declares the number too wins, as there.
		all := append(append([]corev1.Container(nil), pod.Spec.Containers...), pod.Spec.InitContainers...)
		for i := range all {
			c := &all[i]
			init := i >= len(pod.Spec.Containers)
			for j := range c.Ports {
				cp := &c.Ports[j]
				if cp.Name != "" {
					if _, taken := named[cp.Name]; !taken || !init {
						named[cp.Name] = cp.ContainerPort
					}
				}
			}
			if p.Port == nil {
				continue
			}
			for j := range c.Ports {
				if c.Ports[j].ContainerPort == *p.Port {
					containerMeta(m, c, init)
					portMeta(m, &c.Ports[j])
					break
				}
			}
		}
		t.NamedPorts = named
	}
	// Identity: address and port. Conditions and other labels may change
	// without resetting the probe's state.
	t.ID = addr + "|" + m[metaPrefix+"endpointslice_port"] + "|" + m[metaPrefix+"endpointslice_port_name"]
	return t
}

func merge32(dst, src map[string]int32) {
	for k, v := range src {
		dst[k] = v
	}
}

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

// service: one target per Service port, at the address the config chose.
func (b *builder) service(svc *corev1.Service) discovery.Group {
	g := discovery.Group{Source: "service/" + svc.Namespace + "/" + svc.Name}
	if !b.selected(svc.Labels, metaFields(svc.Namespace, svc.Name)) {
		return g
	}
	meta := map[string]string{}
	serviceMeta(meta, svc)
	b.attachNamespace(meta, svc.Namespace)
	meta[metaPrefix+"service_type"] = string(svc.Spec.Type)
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		meta[metaPrefix+"service_external_name"] = svc.Spec.ExternalName
	} else {
		meta[metaPrefix+"service_cluster_ip"] = svc.Spec.ClusterIP
	}
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		meta[metaPrefix+"service_loadbalancer_ip"] = loadBalancerIPs(svc)
	}
	named := map[string]int32{}
	for _, p := range svc.Spec.Ports {
		if p.Name != "" {
			if b.cfg.Address == "nodePort" {
				named[p.Name] = p.NodePort
			} else {
				named[p.Name] = p.Port
			}
		}
	}
	for _, p := range svc.Spec.Ports {
		m := clone(meta)
		m[metaPrefix+"service_port_name"] = p.Name
		m[metaPrefix+"service_port_number"] = itoa(p.Port)
		m[metaPrefix+"service_port_protocol"] = string(p.Protocol)
		hosts, port, skip := b.serviceAddresses(svc, &p)
		if skip != "" {
			g.Skipped = addSkip(g.Skipped, skip)
			continue
		}
		// __address__ as Prometheus builds it for relabel_configs; the
		// probe goes to the full name unless relabeling rewrites it.
		promAddr := ""
		if b.cfg.Address == "dns" {
			promAddr = net.JoinHostPort(svc.Name+"."+svc.Namespace+".svc", itoa(p.Port))
		}
		for _, h := range hosts {
			g.Targets = append(g.Targets, discovery.Target{
				ID:         p.Name + "|" + itoa(p.Port) + "|" + h,
				Host:       h,
				Port:       port,
				Address:    promAddr,
				NamedPorts: named,
				Meta:       m,
				Labels:     b.defaults(map[string]string{"namespace": svc.Namespace, "service": svc.Name}),
			})
		}
	}
	return g
}

// loadBalancerIPs is Prometheus' __meta_kubernetes_service_loadbalancer_ip:
// the status' ingress IPs joined with commas, else the deprecated
// spec.loadBalancerIP.
func loadBalancerIPs(svc *corev1.Service) string {
	var ips []string
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if in.IP != "" {
			ips = append(ips, in.IP)
		}
	}
	if len(ips) > 0 {
		return strings.Join(ips, ",")
	}
	return svc.Spec.LoadBalancerIP //nolint:staticcheck // Prometheus' fallback
}

func (b *builder) serviceAddresses(svc *corev1.Service, p *corev1.ServicePort) ([]string, int32, string) {
	switch b.cfg.Address {
	case "clusterIP":
		if ip := svc.Spec.ClusterIP; ip == "" || ip == corev1.ClusterIPNone {
			return nil, 0, SkipHeadless // nothing to probe at "None"
		}
		return []string{svc.Spec.ClusterIP}, p.Port, ""
	case "loadBalancer":
		var hosts []string
		for _, in := range svc.Status.LoadBalancer.Ingress {
			switch {
			case in.IP != "":
				hosts = append(hosts, in.IP)
			case in.Hostname != "":
				hosts = append(hosts, in.Hostname)
			}
		}
		if len(hosts) == 0 {
			return nil, 0, SkipNoIngress
		}
		return hosts, p.Port, ""
	case "nodePort":
		if p.NodePort == 0 {
			return nil, 0, SkipNoNodePort
		}
		var hosts []string
		for _, n := range b.look.nodes() {
			if a := nodeAddress(n); a != "" {
				hosts = append(hosts, a)
			}
		}
		return hosts, p.NodePort, ""
	}
	return []string{svc.Name + "." + svc.Namespace + ".svc." + b.cfg.ClusterDomain}, p.Port, ""
}

// nodeAddress prefers the InternalIP, then the ExternalIP, then the
// hostname, as a bastion outside the cluster would reach a node.
func nodeAddress(n *corev1.Node) string {
	for _, kind := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP, corev1.NodeHostName} {
		for _, a := range n.Status.Addresses {
			if a.Type == kind && a.Address != "" {
				return a.Address
			}
		}
	}
	return ""
}

func addSkip(m map[string]int, reason string) map[string]int {
	if m == nil {
		m = map[string]int{}
	}
	m[reason]++
	return m
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
		base["node"] = pod.Spec.NodeName
	}
	if b.cfg.InheritProbes {
		return b.inherited(g, pod, host, meta, base)
	}
	seen := map[string]int{}
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
			g.Targets = append(g.Targets, discovery.Target{ID: c.Name, Host: host, NamedPorts: named, Meta: cm, Labels: labels})
			continue
		}
		for j := range c.Ports {
			cp := &c.Ports[j]
			pm := clone(cm)
			portMeta(pm, cp)
			// Identity: container, number and protocol (53/UDP and 53/TCP
			// are two targets, as in Prometheus), and which of the
			// declarations with those it is (a port declared twice).
			id := c.Name + "|" + itoa(cp.ContainerPort) + "|" + string(cp.Protocol)
			seen[id]++
			if n := seen[id]; n > 1 {
				id += "|" + strconv.Itoa(n-1)
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
			kind config.Kind
			p    *corev1.Probe
		}{{config.Startup, c.StartupProbe}, {config.Liveness, c.LivenessProbe}, {config.Readiness, c.ReadinessProbe}} {
			if kp.p == nil {
				continue
			}
			if kp.p.Exec != nil {
				// exec needs pods/exec and runs in the container: not from
				// the network.
				g.Skipped = addSkip(g.Skipped, SkipExecProbe)
				continue
			}
			if pod.DeletionTimestamp != nil && kp.kind != config.Readiness {
				continue // the kubelet stops liveness and startup of a deleted pod
			}
			probes = append(probes, config.KindProbe{Kind: kp.kind, Probe: convertProbe(kp.p)})
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
			ID:         c.Name + "|" + st.ContainerID + "|" + strconv.Itoa(int(st.RestartCount)),
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

// convertProbe copies a core/v1 Probe into our schema and applies the
// API defaults (already applied by the API server, but a zero must never
// reach a prober).
func convertProbe(p *corev1.Probe) *config.Probe {
	out := &config.Probe{
		InitialDelaySeconds:           p.InitialDelaySeconds,
		TimeoutSeconds:                p.TimeoutSeconds,
		PeriodSeconds:                 p.PeriodSeconds,
		SuccessThreshold:              p.SuccessThreshold,
		FailureThreshold:              p.FailureThreshold,
		TerminationGracePeriodSeconds: p.TerminationGracePeriodSeconds,
	}
	port := func(v intstr.IntOrString) config.IntOrString {
		if v.Type == intstr.String {
			return config.IntOrString{IsString: true, StrVal: v.StrVal}
		}
		return config.IntOrString{IntVal: v.IntVal}
	}
	switch {
	case p.HTTPGet != nil:
		h := &config.HTTPGetAction{Path: p.HTTPGet.Path, Port: port(p.HTTPGet.Port), Host: p.HTTPGet.Host, Scheme: string(p.HTTPGet.Scheme)}
		for _, hd := range p.HTTPGet.HTTPHeaders {
			h.HTTPHeaders = append(h.HTTPHeaders, config.HTTPHeader{Name: hd.Name, Value: hd.Value})
		}
		out.HTTPGet = h
	case p.TCPSocket != nil:
		out.TCPSocket = &config.TCPSocketAction{Port: port(p.TCPSocket.Port), Host: p.TCPSocket.Host}
	case p.GRPC != nil:
		out.GRPC = &config.GRPCAction{Port: p.GRPC.Port, Service: p.GRPC.Service}
	}
	out.SetDefaults()
	return out
}

// statefulSet: every ordinal's stable DNS name, whether its pod exists or
// not, so a missing pod is a red target rather than an absent one. The
// name is resolved when probed: DNS health is part of the check.
func (b *builder) statefulSet(sts *appsv1.StatefulSet) discovery.Group {
	g := discovery.Group{Source: "statefulset/" + sts.Namespace + "/" + sts.Name}
	if !b.selected(sts.Labels, metaFields(sts.Namespace, sts.Name)) {
		return g
	}
	if sts.Spec.ServiceName == "" {
		g.Skipped = addSkip(g.Skipped, SkipNoServiceName)
		return g
	}
	replicas, start := int32(1), int32(0)
	if sts.Spec.Replicas != nil {
		replicas = *sts.Spec.Replicas
	}
	if sts.Spec.Ordinals != nil {
		start = sts.Spec.Ordinals.Start
	}
	meta := map[string]string{namespaceLabel: sts.Namespace, metaPrefix + "statefulset_service_name": sts.Spec.ServiceName}
	addObjectMeta(meta, &sts.ObjectMeta, "statefulset")
	b.attachNamespace(meta, sts.Namespace)
	for ord := start; ord < start+replicas; ord++ {
		pod := fmt.Sprintf("%s-%d", sts.Name, ord)
		m := clone(meta)
		m[metaPrefix+"statefulset_pod_name"] = pod
		m[metaPrefix+"statefulset_pod_ordinal"] = itoa(ord)
		g.Targets = append(g.Targets, discovery.Target{
			ID:     itoa(ord),
			Host:   pod + "." + sts.Spec.ServiceName + "." + sts.Namespace + ".svc." + b.cfg.ClusterDomain,
			Meta:   m,
			Labels: b.defaults(map[string]string{"namespace": sts.Namespace, "statefulset": sts.Name, "pod": pod}),
		})
	}
	return g
}
