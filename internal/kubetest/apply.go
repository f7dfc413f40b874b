package kubetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/restmapper"
)

// Apply creates the objects of a manifest file (namespaces, service
// accounts, RBAC, config maps), as an admin; existing ones are kept.
func (c *Cluster) Apply(t testing.TB, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, doc := range strings.Split(string(data), "\n---") {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(doc), nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		o := metav1.CreateOptions{}
		switch v := obj.(type) {
		case *corev1.Namespace:
			_, err = c.Client.CoreV1().Namespaces().Create(ctx, v, o)
		case *corev1.ServiceAccount:
			_, err = c.Client.CoreV1().ServiceAccounts(v.Namespace).Create(ctx, v, o)
		case *corev1.ConfigMap:
			_, err = c.Client.CoreV1().ConfigMaps(v.Namespace).Create(ctx, v, o)
		case *rbacv1.ClusterRole:
			_, err = c.Client.RbacV1().ClusterRoles().Create(ctx, v, o)
		case *rbacv1.ClusterRoleBinding:
			_, err = c.Client.RbacV1().ClusterRoleBindings().Create(ctx, v, o)
		case *rbacv1.Role:
			_, err = c.Client.RbacV1().Roles(v.Namespace).Create(ctx, v, o)
		case *rbacv1.RoleBinding:
			_, err = c.Client.RbacV1().RoleBindings(v.Namespace).Create(ctx, v, o)
		default:
			continue // workloads: nothing runs them here
		}
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("%s: creating %T: %v", path, obj, err)
		}
	}
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// DryRun sends every object of a manifest file (any kind the API server
// serves, CRDs included) as a server-side dry-run create, as an admin, and
// returns what the API server refused: validation (strict: an unknown
// field is an error) and admission run, and nothing is stored. A
// namespaced object without a namespace goes to "default"; an object that
// exists already counts as passed.
func (c *Cluster) DryRun(t testing.TB, path string) []error {
	t.Helper()
	return c.each(t, path, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"})
}

// Create creates every object of a manifest file, any kind (CRDs, custom
// resources), as an admin, and fails the test on an error. CRDs are
// waited for until they are established.
func (c *Cluster) Create(t testing.TB, path string) {
	t.Helper()
	for _, err := range c.each(t, path, metav1.CreateOptions{FieldValidation: "Strict"}) {
		t.Fatal(err)
	}
	ext := c.dynamic(t).Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	for _, u := range c.objects(t, path) {
		if u.GetKind() != "CustomResourceDefinition" {
			continue
		}
		deadline := time.Now().Add(30 * time.Second)
		for !established(t, ext, u.GetName()) {
			if time.Now().After(deadline) {
				t.Fatalf("CRD %s not established after 30s", u.GetName())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func established(t testing.TB, ext dynamic.NamespaceableResourceInterface, name string) bool {
	crd, err := ext.Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return false
	}
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

func (c *Cluster) dynamic(t testing.TB) *dynamic.DynamicClient {
	dyn, err := dynamic.NewForConfig(c.Admin)
	if err != nil {
		t.Fatal(err)
	}
	return dyn
}

// objects are a manifest file's documents.
func (c *Cluster) objects(t testing.TB, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []*unstructured.Unstructured
	d := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(string(data)), 4096)
	for i := 1; ; i++ {
		u := &unstructured.Unstructured{}
		if err := d.Decode(&u.Object); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("%s: document %d: %v", path, i, err)
			}
			return out
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
}

// each creates every object of path with opts, and returns the errors.
func (c *Cluster) each(t testing.TB, path string, opts metav1.CreateOptions) []error {
	t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(c.Admin)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	dyn := c.dynamic(t)
	var errs []error
	for _, u := range c.objects(t, path) {
		gvk := u.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s %s: %w", path, gvk.Kind, u.GetName(), err))
			continue
		}
		var res dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			ns := u.GetNamespace()
			if ns == "" {
				ns = "default"
			}
			res = dyn.Resource(m.Resource).Namespace(ns)
		}
		// AlreadyExists comes from storage, after validation and admission
		// passed: the object is fine (Apply created it before).
		if _, err := res.Create(context.Background(), u, opts); err != nil && !apierrors.IsAlreadyExists(err) {
			errs = append(errs, fmt.Errorf("%s: %s %s: %w", path, gvk.Kind, u.GetName(), err))
		}
	}
	return errs
}
