package kubetest

import (
	"context"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
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
