package kubernetes

import (
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Meta label names are Prometheus kubernetes_sd's, exactly, so relabeling
// written for Prometheus works here unchanged.
const (
	metaPrefix     = "__meta_kubernetes_"
	namespaceLabel = metaPrefix + "namespace"
)

var invalidLabelChars = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// sanitize is Prometheus' strutil.SanitizeLabelName.
func sanitize(name string) string {
	return invalidLabelChars.ReplaceAllString(name, "_")
}

// addObjectMeta adds <role>_name, _label_*, _labelpresent_*,
// _annotation_* and _annotationpresent_* as Prometheus does.
func addObjectMeta(ls map[string]string, m *metav1.ObjectMeta, role string) {
	ls[metaPrefix+role+"_name"] = m.Name
	addLabelsAndAnnotations(ls, m, role)
}

// addLabelsAndAnnotations adds <role>_label_*, _labelpresent_*,
// _annotation_* and _annotationpresent_*, without the name: attached
// namespace metadata has no _name (the target's namespace label says it).
func addLabelsAndAnnotations(ls map[string]string, m *metav1.ObjectMeta, role string) {
	for k, v := range m.Labels {
		n := sanitize(k)
		ls[metaPrefix+role+"_label_"+n] = v
		ls[metaPrefix+role+"_labelpresent_"+n] = "true"
	}
	for k, v := range m.Annotations {
		n := sanitize(k)
		ls[metaPrefix+role+"_annotation_"+n] = v
		ls[metaPrefix+role+"_annotationpresent_"+n] = "true"
	}
}

// serviceMeta are the labels of a Service shared by the service and
// endpointslice roles.
func serviceMeta(ls map[string]string, svc *corev1.Service) {
	ls[namespaceLabel] = svc.Namespace
	addObjectMeta(ls, &svc.ObjectMeta, "service")
}

// podMeta is Prometheus' podLabels.
func podMeta(ls map[string]string, pod *corev1.Pod) {
	ls[namespaceLabel] = pod.Namespace
	ls[metaPrefix+"pod_ip"] = pod.Status.PodIP
	ls[metaPrefix+"pod_ready"] = podReady(pod)
	ls[metaPrefix+"pod_phase"] = string(pod.Status.Phase)
	ls[metaPrefix+"pod_node_name"] = pod.Spec.NodeName
	ls[metaPrefix+"pod_host_ip"] = pod.Status.HostIP
	ls[metaPrefix+"pod_uid"] = string(pod.UID)
	addObjectMeta(ls, &pod.ObjectMeta, "pod")
	if ref := metav1.GetControllerOf(pod); ref != nil {
		if ref.Kind != "" {
			ls[metaPrefix+"pod_controller_kind"] = ref.Kind
		}
		if ref.Name != "" {
			ls[metaPrefix+"pod_controller_name"] = ref.Name
		}
	}
}

func podReady(pod *corev1.Pod) string {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return strings.ToLower(string(c.Status))
		}
	}
	return "unknown"
}

// containerMeta are the container labels of the pod role, and of the
// endpointslice role without the ID (Prometheus sets it only for pods).
func containerMeta(ls map[string]string, c *corev1.Container, init bool) {
	ls[metaPrefix+"pod_container_name"] = c.Name
	ls[metaPrefix+"pod_container_image"] = c.Image
	ls[metaPrefix+"pod_container_init"] = boolString(init)
}

func portMeta(ls map[string]string, p *corev1.ContainerPort) {
	ls[metaPrefix+"pod_container_port_name"] = p.Name
	ls[metaPrefix+"pod_container_port_number"] = itoa(p.ContainerPort)
	ls[metaPrefix+"pod_container_port_protocol"] = string(p.Protocol)
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func merge(dst, src map[string]string) map[string]string {
	for k, v := range src {
		dst[k] = v
	}
	return dst
}

func clone(m map[string]string) map[string]string {
	return merge(make(map[string]string, len(m)+8), m)
}
