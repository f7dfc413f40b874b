package kubernetes

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/probe-exporter/probe-exporter/discovery"
	"github.com/probe-exporter/probe-exporter/series"
)

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
		t.Labels[series.Node] = node
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
	t.ID = discovery.IDOf(addr, m[metaPrefix+"endpointslice_port"], m[metaPrefix+"endpointslice_port_name"])
	return t
}

func merge32(dst, src map[string]int32) {
	for k, v := range src {
		dst[k] = v
	}
}
