package kubernetes

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/probe-exporter/probe-exporter/config"
	"github.com/probe-exporter/probe-exporter/discovery"
)

// The kubernetes: mechanism, registered once: an entry's block (decoded,
// defaulted and validated by its own methods) and its runtime.
func init() {
	discovery.Register(mechanism, func() config.Source { return &Config{} }, func(d discovery.Deps) discovery.Discoverer {
		return New(d.Ctx, Options{Kubeconfig: d.Kubeconfig, NodeName: d.NodeName, UserAgent: d.UserAgent, Logger: d.Logger}, d.Metrics, d.Registerer)
	})
}

// Config is an entry's kubernetes: block: which cluster, which objects,
// what becomes a target.
type Config struct {
	// Role is service, endpointslice, pod, statefulset, ingress or
	// httproute.
	Role string `yaml:"role"`
	// Namespaces to watch; empty means all.
	Namespaces []string `yaml:"namespaces"`
	// LabelSelector and FieldSelector filter objects as kubectl's do.
	LabelSelector string `yaml:"labelSelector"`
	FieldSelector string `yaml:"fieldSelector"`
	// Kubeconfig and Context choose the cluster; by default in-cluster,
	// then --kubeconfig, $KUBECONFIG, ~/.kube/config.
	Kubeconfig string `yaml:"kubeconfig"`
	Context    string `yaml:"context"`
	// Address is where the service role probes a Service: dns (default),
	// clusterIP, loadBalancer or nodePort; and where the ingress role's
	// requests connect: loadBalancer (default: the Ingress status'
	// address), service (ControllerService's DNS name) or dns (the rule's
	// host, as clients resolve it).
	Address string `yaml:"address"`
	// ControllerService is the ingress controller's Service,
	// "namespace/name", for the ingress role's address service.
	ControllerService string `yaml:"controllerService"`
	// ClusterDomain for service DNS names and StatefulSet pod names.
	ClusterDomain string `yaml:"clusterDomain"`
	// InheritProbes (pod role) runs each container's own probes.
	InheritProbes bool `yaml:"inheritProbes"`
	// Scope is cluster (default), node (only this node's endpoints or
	// pods, for a DaemonSet) or mesh (this node's plus MeshPeers others).
	Scope     string `yaml:"scope"`
	MeshPeers int32  `yaml:"meshPeers"`
	// IPFamily picks endpoint addresses on dual-stack clusters: primary
	// (default: the family of the first address), IPv4 or IPv6.
	IPFamily string `yaml:"ipFamily"`
	// AttachMetadata adds the node's and the namespace's labels and
	// annotations as __meta_* labels, as Prometheus' attach_metadata.
	AttachMetadata AttachMetadata `yaml:"attach_metadata"`
}

// AttachMetadata is Prometheus' kubernetes_sd attach_metadata.
type AttachMetadata struct {
	// Node: __meta_kubernetes_node_* of the target's node (roles pod and
	// endpointslice); needs get, list and watch on nodes.
	Node bool `yaml:"node"`
	// Namespace: __meta_kubernetes_namespace_* (roles pod, endpointslice,
	// service, statefulset); needs get, list and watch on namespaces.
	Namespace bool `yaml:"namespace"`
}

// Discovery roles and their options.
const (
	RoleService       = "service"
	RoleEndpointSlice = "endpointslice"
	RolePod           = "pod"
	RoleStatefulSet   = "statefulset"
	RoleIngress       = "ingress"
	RoleHTTPRoute     = "httproute"

	ScopeCluster = "cluster"
	ScopeNode    = "node"
	ScopeMesh    = "mesh"
)

// SetDefaults applies the block's defaults.
func (k *Config) SetDefaults() {
	if k.ClusterDomain == "" {
		k.ClusterDomain = "cluster.local"
	}
	if k.Role == RoleService && k.Address == "" {
		k.Address = "dns"
	}
	if k.Role == RoleIngress && k.Address == "" {
		k.Address = "loadBalancer"
	}
	if k.Scope == "" {
		k.Scope = ScopeCluster
	}
	if k.Scope == ScopeMesh && k.MeshPeers == 0 {
		k.MeshPeers = 3
	}
	if k.IPFamily == "" {
		k.IPFamily = "primary"
	}
}

// OwnProbes: with inheritProbes, targets bring their containers' probes.
func (k *Config) OwnProbes() bool { return k.InheritProbes }

// AddressFamily is ipFamily when it names one: the entry's probes then
// resolve names (service DNS names, FQDN slices) to that family too.
func (k *Config) AddressFamily() string {
	if k.IPFamily == "primary" {
		return ""
	}
	return k.IPFamily
}

var (
	roles            = []string{RoleService, RoleEndpointSlice, RolePod, RoleStatefulSet, RoleIngress, RoleHTTPRoute}
	addresses        = []string{"dns", "clusterIP", "loadBalancer", "nodePort"}
	ingressAddresses = []string{"loadBalancer", "service", "dns"}
	scopes           = []string{ScopeCluster, ScopeNode, ScopeMesh}
	families         = []string{"primary", "IPv4", "IPv6"}
)

// Validate checks the block as the API server and kubectl would check
// its parts (names, selectors), and the combinations.
func (k *Config) Validate(v config.Checker, path string) {
	if k.Role == "" {
		v.Add(path+".role", "Required value: one of %s", quoteAll(roles))
	} else {
		v.OneOf(path+".role", k.Role, roles)
	}
	for i, ns := range k.Namespaces {
		if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
			v.Invalid(fmt.Sprintf("%s.namespaces[%d]", path, i), ns, strings.Join(msgs, "; "))
		}
	}
	if _, err := labels.Parse(k.LabelSelector); err != nil {
		v.Invalid(path+".labelSelector", k.LabelSelector, err.Error())
	}
	if _, err := fields.ParseSelector(k.FieldSelector); err != nil {
		v.Invalid(path+".fieldSelector", k.FieldSelector, err.Error())
	}
	if msgs := validation.IsDNS1123Subdomain(k.ClusterDomain); len(msgs) > 0 {
		v.Invalid(path+".clusterDomain", k.ClusterDomain, strings.Join(msgs, "; "))
	}
	switch {
	case k.Role == RoleService:
		v.OneOf(path+".address", k.Address, addresses)
	case k.Role == RoleIngress:
		v.OneOf(path+".address", k.Address, ingressAddresses)
	case k.Address != "":
		v.Add(path+".address", "Forbidden: only for roles service and ingress")
	}
	switch ns, name, ok := strings.Cut(k.ControllerService, "/"); {
	case k.Role == RoleIngress && k.Address == "service" && k.ControllerService == "":
		v.Add(path+".controllerService", "Required value: the ingress controller's Service, namespace/name, for address service")
	case k.ControllerService == "":
	case k.Role != RoleIngress || k.Address != "service":
		v.Add(path+".controllerService", "Forbidden: only for role ingress with address service")
	case !ok || len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1035Label(name)) > 0:
		v.Invalid(path+".controllerService", k.ControllerService, "must be namespace/name of a Service")
	}
	if k.InheritProbes && k.Role != RolePod {
		v.Add(path+".inheritProbes", "Forbidden: only for role pod")
	}
	if v.OneOf(path+".scope", k.Scope, scopes) && k.Scope != ScopeCluster && k.Role != RoleEndpointSlice && k.Role != RolePod {
		v.Add(path+".scope", "Forbidden: scope %s needs role endpointslice or pod (targets with a node)", k.Scope)
	}
	switch {
	case k.MeshPeers < 0:
		v.Invalid(path+".meshPeers", k.MeshPeers, "must be greater than or equal to 0")
	case k.MeshPeers > 0 && k.Scope != ScopeMesh:
		v.Add(path+".meshPeers", "Forbidden: only with scope mesh")
	}
	v.OneOf(path+".ipFamily", k.IPFamily, families)
	if k.AttachMetadata.Node && k.Role != RolePod && k.Role != RoleEndpointSlice {
		v.Add(path+".attach_metadata.node", "Forbidden: only for roles pod and endpointslice (targets with a node), as in Prometheus")
	}
}

// NeedsNodeName: scope node and mesh need to know this exporter's node.
func (k *Config) NeedsNodeName() bool { return k.Scope != ScopeCluster }

// Preflight is what Start would refuse (discovery.Preflight): scope node
// and mesh without the exporter's node name.
func (k *Config) Preflight(h discovery.Host) error {
	if k.NeedsNodeName() && h.NodeName == "" {
		return fmt.Errorf("scope %s needs the node name: --node-name or $NODE_NAME (the downward API's spec.nodeName)", k.Scope)
	}
	return nil
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
