package kubernetes

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/probe-exporter/probe-exporter/discovery"
)

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
			ID:     discovery.IDOf(itoa(ord)),
			Host:   pod + "." + sts.Spec.ServiceName + "." + sts.Namespace + ".svc." + b.cfg.ClusterDomain,
			Meta:   m,
			Labels: b.defaults(map[string]string{"namespace": sts.Namespace, "statefulset": sts.Name, "pod": pod}),
		})
	}
	return g
}
