package kubernetes

import (
	"net"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/probe-exporter/probe-exporter/discovery"
)

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
				ID:         discovery.IDOf(p.Name, itoa(p.Port), h),
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
