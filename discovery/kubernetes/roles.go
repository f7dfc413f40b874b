package kubernetes

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/probe-exporter/probe-exporter/discovery"
	"github.com/probe-exporter/probe-exporter/series"
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
	SkipWildcardHost  = "wildcard_host"
	SkipNoHost        = "no_host"
	// HTTPRoute: a parent Gateway not found, one without an address yet,
	// a RegularExpression path (no literal path to request).
	SkipNoGateway        = "gateway_not_found"
	SkipNoGatewayAddress = "no_gateway_address"
	SkipRegexPath        = "regex_path"
)

var skipReasons = []string{SkipHeadless, SkipNoIngress, SkipNoNodePort, SkipNoServiceName, SkipExecProbe, SkipNotRunning, SkipNoPodIP, SkipNoPorts, SkipNodeNotFound, SkipWildcardHost, SkipNoHost, SkipNoGateway, SkipNoGatewayAddress, SkipRegexPath, discovery.SkipInvalidHost}

// mechanism is this source's name in the shared discovery metrics.
const mechanism = "kubernetes"

// lookup gives builders the objects related to the one they build from.
type lookup interface {
	service(namespace, name string) *corev1.Service
	pod(namespace, name string) *corev1.Pod
	nodes() []*corev1.Node
	node(name string) *corev1.Node
	namespace(name string) *corev1.Namespace
	gateway(namespace, name string) *gatewayv1.Gateway
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
		ls[series.SourceNode] = b.sourceNode
	}
	return ls
}

func metaFields(namespace, name string) fields.Set {
	return fields.Set{"metadata.namespace": namespace, "metadata.name": name}
}

func itoa(i int32) string { return strconv.Itoa(int(i)) }

func addSkip(m map[string]int, reason string) map[string]int {
	if m == nil {
		m = map[string]int{}
	}
	m[reason]++
	return m
}
