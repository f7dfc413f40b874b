package kubetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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
// field is an error) and admission run, and nothing is stored. A namespaced object without a namespace goes to
// "default"; an object that exists already counts as passed.
func (c *Cluster) DryRun(t testing.TB, path string) []error {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(c.Admin)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	dyn, err := dynamic.NewForConfig(c.Admin)
	if err != nil {
		t.Fatal(err)
	}
	var errs []error
	d := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(string(data)), 4096)
	for i := 1; ; i++ {
		var u unstructured.Unstructured
		if err := d.Decode(&u.Object); err != nil {
			if !errors.Is(err, io.EOF) {
				errs = append(errs, fmt.Errorf("%s: document %d: %w", path, i, err))
			}
			return errs
		}
		if len(u.Object) == 0 {
			continue
		}
		gvk := u.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s %s: %w", path, gvk.Kind, u.GetName(), err))
			continue
		}
		ri := dyn.Resource(m.Resource)
		var res dynamic.ResourceInterface = ri
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			ns := u.GetNamespace()
			if ns == "" {
				ns = "default"
			}
			res = ri.Namespace(ns)
		}
		// AlreadyExists comes from storage, after validation and admission
		// passed: the object is fine (Apply created it before).
		if _, err := res.Create(context.Background(), &u, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"}); err != nil && !apierrors.IsAlreadyExists(err) {
			errs = append(errs, fmt.Errorf("%s: %s %s: %w", path, gvk.Kind, u.GetName(), err))
		}
	}
}
