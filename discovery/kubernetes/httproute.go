package kubernetes

import (
	"strconv"
	"strings"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/probe-exporter/probe-exporter/discovery"
)

// httpRoute: one target per (parent Gateway listener, hostname, rule
// match with an Exact or PathPrefix path) of an HTTPRoute (Gateway API,
// gateway.networking.k8s.io/v1), labelled in the ingress role's style
// (__meta_kubernetes_httproute_*, __meta_kubernetes_gateway_*;
// __address__ the hostname). The probe GETs that hostname and path with
// the listener's scheme and port — the URL's host, Host header and TLS
// server name are the route's hostname — through the Gateway's first
// status address.
func (b *builder) httpRoute(rt *gatewayv1.HTTPRoute) discovery.Group {
	g := discovery.Group{Source: "httproute/" + rt.Namespace + "/" + rt.Name}
	if !b.selected(rt.Labels, metaFields(rt.Namespace, rt.Name)) {
		return g
	}
	meta := map[string]string{namespaceLabel: rt.Namespace}
	addObjectMeta(meta, &rt.ObjectMeta, "httproute")
	b.attachNamespace(meta, rt.Namespace)
	seen := map[discovery.ID]bool{}
	for _, ref := range rt.Spec.ParentRefs {
		if (ref.Group != nil && *ref.Group != gatewayv1.GroupName) || (ref.Kind != nil && *ref.Kind != "Gateway") {
			continue // a Service (mesh) or another kind of parent: no address to go through
		}
		ns := rt.Namespace
		if ref.Namespace != nil {
			ns = string(*ref.Namespace)
		}
		gw := b.look.gateway(ns, string(ref.Name))
		if gw == nil {
			g.Skipped = addSkip(g.Skipped, SkipNoGateway)
			continue
		}
		via := ""
		if len(gw.Status.Addresses) > 0 {
			via = gw.Status.Addresses[0].Value
		}
		if via == "" {
			g.Skipped = addSkip(g.Skipped, SkipNoGatewayAddress)
			continue
		}
		for _, l := range gw.Spec.Listeners {
			if (ref.SectionName != nil && *ref.SectionName != l.Name) || (ref.Port != nil && *ref.Port != l.Port) {
				continue
			}
			scheme := "http"
			switch l.Protocol {
			case gatewayv1.HTTPProtocolType:
			case gatewayv1.HTTPSProtocolType:
				scheme = "https"
			default:
				continue // TLS passthrough, TCP: not this route's
			}
			lm := clone(meta)
			lm[metaPrefix+"gateway_name"] = gw.Name
			lm[metaPrefix+"gateway_namespace"] = gw.Namespace
			lm[metaPrefix+"gateway_class_name"] = string(gw.Spec.GatewayClassName)
			lm[metaPrefix+"gateway_address"] = via
			lm[metaPrefix+"gateway_listener_name"] = string(l.Name)
			lm[metaPrefix+"gateway_listener_protocol"] = string(l.Protocol)
			lm[metaPrefix+"gateway_listener_port"] = strconv.Itoa(int(l.Port))
			for _, host := range routeHosts(rt, &l) {
				if strings.HasPrefix(host, "*.") {
					g.Skipped = addSkip(g.Skipped, SkipWildcardHost)
					continue
				}
				for _, r := range rt.Spec.Rules {
					for _, m := range routeMatches(&r) {
						if m.regex {
							g.Skipped = addSkip(g.Skipped, SkipRegexPath)
							continue
						}
						target, through := host, via
						if host == "" {
							target, through = via, "" // every host: the Gateway's own address
						}
						// One request through one Gateway is one target, whichever
						// listeners or match types lead to it; through another
						// address it is another probe (the probe's own address).
						id := discovery.IDOf(gw.Namespace, gw.Name, strconv.Itoa(int(l.Port)), scheme, host, m.path, through)
						if seen[id] {
							continue
						}
						seen[id] = true
						tm := clone(lm)
						tm[metaPrefix+"httproute_hostname"] = host
						tm[metaPrefix+"httproute_scheme"] = scheme
						tm[metaPrefix+"httproute_path"] = m.path
						tm[metaPrefix+"httproute_path_type"] = m.kind
						labels := map[string]string{"namespace": rt.Namespace, "httproute": rt.Name, "gateway": gw.Name, "path": m.path}
						if svc := backendService(&r, rt.Namespace); svc != "" {
							labels["service"] = svc
						}
						g.Targets = append(g.Targets, discovery.Target{
							ID:      id,
							Host:    target,
							Port:    int32(l.Port),
							Address: host,
							Meta:    tm,
							Labels:  b.defaults(labels),
							Route:   &discovery.Route{Scheme: strings.ToUpper(scheme), Path: m.path, Via: through},
						})
					}
				}
			}
		}
	}
	return g
}

// routeHosts are the hostnames a route is requested as on listener l:
// its own that the listener accepts (the Gateway API intersects them: a
// route hostname another listener's hostname excludes is not served
// there, so a probe of it would fail whatever the route does), else the
// listener's, else "" (any host).
func routeHosts(rt *gatewayv1.HTTPRoute, l *gatewayv1.Listener) []string {
	if len(rt.Spec.Hostnames) > 0 {
		var out []string
		for _, h := range rt.Spec.Hostnames {
			if l.Hostname == nil || listenerAccepts(string(*l.Hostname), string(h)) {
				out = append(out, string(h))
			}
		}
		return out
	}
	if l.Hostname != nil {
		return []string{string(*l.Hostname)}
	}
	return []string{""}
}

// listenerAccepts reports whether a listener's hostname takes a route's:
// equal, or a "*." suffix match (the Gateway API's wildcard takes any
// number of labels in front, unlike an Ingress's).
func listenerAccepts(listener, host string) bool {
	if listener == host {
		return true
	}
	suffix, wild := strings.CutPrefix(listener, "*")
	return wild && strings.HasSuffix(host, suffix) && len(host) > len(suffix) && !strings.HasPrefix(host, "*")
}

type routeMatch struct {
	path, kind string
	regex      bool
}

// routeMatches are a rule's path matches; a rule without matches (or a
// match without a path) matches the prefix "/", as the API defaults it.
func routeMatches(r *gatewayv1.HTTPRouteRule) []routeMatch {
	if len(r.Matches) == 0 {
		return []routeMatch{{path: "/", kind: string(gatewayv1.PathMatchPathPrefix)}}
	}
	out := make([]routeMatch, 0, len(r.Matches))
	for _, m := range r.Matches {
		rm := routeMatch{path: "/", kind: string(gatewayv1.PathMatchPathPrefix)}
		if m.Path != nil {
			if m.Path.Value != nil {
				rm.path = *m.Path.Value
			}
			if m.Path.Type != nil {
				rm.kind = string(*m.Path.Type)
			}
		}
		rm.regex = rm.kind != string(gatewayv1.PathMatchExact) && rm.kind != string(gatewayv1.PathMatchPathPrefix)
		out = append(out, rm)
	}
	return out
}

// backendService is the rule's first backend, when it is a Service in
// the route's namespace: the service label is read with the route's
// namespace label (ProbeRoutePathBroken), so one in another namespace
// is left unnamed rather than matched with a namesake.
func backendService(r *gatewayv1.HTTPRouteRule, namespace string) string {
	for _, br := range r.BackendRefs {
		if (br.Group == nil || *br.Group == "") && (br.Kind == nil || *br.Kind == "Service") {
			if br.Namespace != nil && string(*br.Namespace) != namespace {
				return ""
			}
			return string(br.Name)
		}
	}
	return ""
}
