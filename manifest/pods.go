package manifest

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/probe-exporter/probe-exporter/config"
)

// AtPods runs each container's probes against the IPs of its workload's
// pods, found through the API server (the workload's namespace, or
// namespace when the manifest names none): what the kubelet probes, seen
// from here. A pod that is not running yet, or has no IP, is reported
// with its reason; pods that have finished (Succeeded, Failed) are left
// out, as nothing runs in them.
func AtPods(ctx context.Context, client kubernetes.Interface, namespace string) Where {
	// A workload's containers share its pods: one API call per workload.
	type workload struct{ kind, ns, name string }
	seen := map[workload][]Host{}
	return func(c Container) ([]Host, error) {
		ns := c.Namespace
		if ns == "" {
			ns = namespace
		}
		key := workload{c.Kind, ns, c.Workload}
		if hs, ok := seen[key]; ok {
			return hs, nil
		}
		hs, err := workloadPods(ctx, client, c, ns)
		if err == nil {
			seen[key] = hs
		}
		return hs, err
	}
}

// workloadPods are c's workload's pods in ns, as Hosts.
func workloadPods(ctx context.Context, client kubernetes.Interface, c Container, ns string) ([]Host, error) {
	none := func(reason string) []Host {
		return []Host{{StaticHost: config.StaticHost{Labels: map[string]string{"namespace": ns}}, Reason: reason}}
	}
	if c.SelectorProblem != "" {
		return none(c.SelectorProblem), nil
	}
	var pods []corev1.Pod
	if c.Selector == nil {
		p, err := client.CoreV1().Pods(ns).Get(ctx, c.Workload, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return none(fmt.Sprintf("no pod %s in namespace %s", c.Workload, ns)), nil
		}
		if err != nil {
			return nil, fmt.Errorf("pod %s/%s: %w", ns, c.Workload, err)
		}
		pods = []corev1.Pod{*p}
	} else {
		list, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: c.Selector.String()})
		if err != nil {
			return nil, fmt.Errorf("pods of %s %s/%s: %w", c.Kind, ns, c.Workload, err)
		}
		pods = list.Items
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	var hosts []Host
	for _, p := range pods {
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		labels := map[string]string{"namespace": ns, "pod": p.Name}
		if p.Spec.NodeName != "" {
			labels["node"] = p.Spec.NodeName
		}
		h := Host{StaticHost: config.StaticHost{Host: p.Status.PodIP, Labels: labels}}
		if p.Status.PodIP == "" {
			phase := p.Status.Phase
			if phase == "" {
				phase = corev1.PodPending
			}
			h.Reason = fmt.Sprintf("pod %s has no IP yet (%s)", p.Name, phase)
		}
		hosts = append(hosts, h)
	}
	if len(hosts) == 0 {
		what := "pod " + c.Workload
		if c.Selector != nil {
			what = fmt.Sprintf("pod matching %s", c.Selector)
		}
		return none(fmt.Sprintf("no running %s in namespace %s", what, ns)), nil
	}
	return hosts, nil
}
