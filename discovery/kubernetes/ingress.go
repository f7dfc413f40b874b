package kubernetes

import (
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/probe-exporter/probe-exporter/discovery"
)

// ingress: one target per (rule host, path) of an Ingress, labelled as
// Prometheus' ingress role labels it (__address__ the rule's host,
// __meta_kubernetes_ingress_scheme https when a TLS block names the
// host). The probe GETs that host and path with that scheme — the URL's
// host, Host header and TLS server name are the rule's — through the
// controller: the Ingress status' load-balancer address (address
// loadBalancer, the default), the controller Service's DNS name (address
// service), or wherever DNS sends the host (address dns: what clients
// do).
func (b *builder) ingress(in *networkingv1.Ingress) discovery.Group {
	g := discovery.Group{Source: "ingress/" + in.Namespace + "/" + in.Name}
	if !b.selected(in.Labels, metaFields(in.Namespace, in.Name)) {
		return g
	}
	meta := map[string]string{namespaceLabel: in.Namespace}
	if cls := in.Spec.IngressClassName; cls != nil {
		meta[metaPrefix+"ingress_class_name"] = *cls
	}
	addObjectMeta(meta, &in.ObjectMeta, "ingress")
	b.attachNamespace(meta, in.Namespace)

	via, skip := b.ingressVia(in)
	for _, rule := range in.Spec.Rules {
		scheme := "http"
		for _, tls := range in.Spec.TLS {
			for _, pattern := range tls.Hosts {
				if hostMatches(pattern, rule.Host) {
					scheme = "https"
				}
			}
		}
		for _, r := range rulePaths(rule) {
			if skip != "" {
				g.Skipped = addSkip(g.Skipped, skip)
				continue
			}
			host, through := rule.Host, via
			switch {
			case strings.HasPrefix(host, "*."):
				// A wildcard names no host to send.
				g.Skipped = addSkip(g.Skipped, SkipWildcardHost)
				continue
			case host == "" && via == "":
				g.Skipped = addSkip(g.Skipped, SkipNoHost)
				continue
			case host == "":
				// Every host: the controller's own address is the request's.
				host, through = via, ""
			}
			m := clone(meta)
			m[metaPrefix+"ingress_scheme"] = scheme
			m[metaPrefix+"ingress_host"] = rule.Host
			m[metaPrefix+"ingress_path"] = r.path
			port := int32(80)
			if scheme == "https" {
				port = 443
			}
			labels := map[string]string{"namespace": in.Namespace, "ingress": in.Name, "path": r.path}
			if r.service != "" {
				labels["service"] = r.service // the backend: ProbeRoutePathBroken compares with it
			}
			g.Targets = append(g.Targets, discovery.Target{
				ID:      discovery.IDOf(rule.Host, r.path, scheme, through),
				Host:    host,
				Port:    port,
				Address: rule.Host, // Prometheus' __address__: the host alone
				Meta:    m,
				Labels:  b.defaults(labels),
				Route:   &discovery.Route{Scheme: strings.ToUpper(scheme), Path: r.path, Via: through},
			})
		}
	}
	return g
}

type rulePath struct{ path, service string }

// rulePaths are a rule's paths ("/" for none or an empty one, as
// Prometheus' pathsFromIngressPaths) and the Service each sends to.
func rulePaths(rule networkingv1.IngressRule) []rulePath {
	if rule.HTTP == nil {
		return []rulePath{{path: "/"}}
	}
	out := make([]rulePath, 0, len(rule.HTTP.Paths))
	for _, p := range rule.HTTP.Paths {
		r := rulePath{path: p.Path}
		if r.path == "" {
			r.path = "/"
		}
		if p.Backend.Service != nil {
			r.service = p.Backend.Service.Name
		}
		out = append(out, r)
	}
	return out
}

// ingressVia is where the Ingress's requests connect, by address: its
// first load-balancer address, the controller Service's name, or none
// (dns); else why there is none.
func (b *builder) ingressVia(in *networkingv1.Ingress) (string, string) {
	switch b.cfg.Address {
	case "dns":
		return "", ""
	case "service":
		ns, name, _ := strings.Cut(b.cfg.ControllerService, "/")
		return name + "." + ns + ".svc." + b.cfg.ClusterDomain, ""
	}
	for _, lb := range in.Status.LoadBalancer.Ingress {
		switch {
		case lb.IP != "":
			return lb.IP, ""
		case lb.Hostname != "":
			return lb.Hostname, ""
		}
	}
	return "", SkipNoIngress
}

// hostMatches is Prometheus' matchesHostnamePattern: equal, or a "*."
// pattern matching one leading label.
func hostMatches(pattern, host string) bool {
	if pattern == host {
		return true
	}
	p, h := strings.Split(pattern, "."), strings.Split(host, ".")
	if p[0] != "*" || len(p) != len(h) {
		return false
	}
	for i := 1; i < len(p); i++ {
		if p[i] != h[i] {
			return false
		}
	}
	return true
}
