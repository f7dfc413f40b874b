package kubernetes

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestStripKeepsWhatRolesRead: what the informers' transform drops changes
// no target the endpointslice role builds, and what it keeps is compact:
// exact endpoint arrays (decoding leaves up to twice the length), no
// hints, target references of kind, namespace and name.
func TestStripKeepsWhatRolesRead(t *testing.T) {
	slice := func() *discoveryv1.EndpointSlice {
		eps := &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Name: "web-x", Namespace: "shop", UID: "u", ResourceVersion: "7",
				Labels:          map[string]string{discoveryv1.LabelServiceName: "web"},
				OwnerReferences: []metav1.OwnerReference{{Kind: "Service", Name: "web"}},
				ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kube-controller-manager"}}},
			AddressType: discoveryv1.AddressTypeIPv4,
		}
		// As decoding does: one at a time, so the array grows past them.
		for _, p := range []string{"http", "admin", "metrics"} {
			eps.Ports = append(eps.Ports, discoveryv1.EndpointPort{Name: ptr(p), Port: ptr(int32(8080 + len(eps.Ports)))})
		}
		for i, ip := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"} {
			ep := discoveryv1.Endpoint{
				Addresses: []string{ip}, NodeName: ptr("node-a"), Zone: ptr("z1"),
				Conditions: discoveryv1.EndpointConditions{Ready: ptr(i%2 == 0)},
				Hints:      &discoveryv1.EndpointHints{ForZones: []discoveryv1.ForZone{{Name: "z1"}}},
			}
			switch i {
			case 0, 1:
				ep.TargetRef = &corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "web-" + ip, UID: "uid", APIVersion: "v1", ResourceVersion: "9", FieldPath: "spec"}
			case 2:
				ep.TargetRef = &corev1.ObjectReference{Kind: "Node", Name: "node-b", UID: "uid"}
			}
			eps.Endpoints = append(eps.Endpoints, ep)
		}
		return eps
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-192.0.2.1", Namespace: "shop"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}}}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}}
	look := &objects{services: []*corev1.Service{svc}, pods: []*corev1.Pod{pod},
		nodeList: []*corev1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}}, {ObjectMeta: metav1.ObjectMeta{Name: "node-b"}}}}
	cfg := Config{Role: RoleEndpointSlice, AttachMetadata: AttachMetadata{Node: true}}

	full := slice()
	if cap(full.Endpoints) == len(full.Endpoints) {
		t.Fatal("the fixture's array is exact: it tests nothing")
	}
	stripped := slice()
	if _, err := strip(stripped); err != nil {
		t.Fatal(err)
	}
	want := newBuilder(cfg, look).endpointSlice(full)
	got := newBuilder(cfg, look).endpointSlice(stripped)
	if len(want.Targets) != 15 || !reflect.DeepEqual(got, want) {
		t.Errorf("stripping changed the targets:\n got %+v\nwant %+v", got, want)
	}
	if cap(stripped.Endpoints) != len(stripped.Endpoints) || cap(stripped.Ports) != len(stripped.Ports) {
		t.Errorf("arrays of %d endpoints, %d ports kept at capacity %d, %d", len(stripped.Endpoints), len(stripped.Ports), cap(stripped.Endpoints), cap(stripped.Ports))
	}
	for _, ep := range stripped.Endpoints {
		if ep.Hints != nil {
			t.Error("hints kept")
		}
		if r := ep.TargetRef; r != nil && (r.UID != "" || r.APIVersion != "" || r.ResourceVersion != "" || r.FieldPath != "") {
			t.Errorf("target reference kept %+v", *r)
		}
	}
	if stripped.UID != "" || stripped.OwnerReferences != nil || stripped.ManagedFields != nil || stripped.ResourceVersion != "7" {
		t.Errorf("metadata %+v", stripped.ObjectMeta)
	}
}
