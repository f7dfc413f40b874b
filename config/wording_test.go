package config_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/probe-exporter/probe-exporter/config"
	"github.com/probe-exporter/probe-exporter/internal/kubetest"
)

// TestProbeWordingMatchesTheAPIServer validates the same probes twice: as
// a container's probe, by a real kube-apiserver (a server-side dry run of a
// Pod), and in our config. Every field error the API server gives must be
// ours, at the same path under the probe, with the API's exact words (ours
// may add a hint after them, in parentheses); and we give no other.
func TestProbeWordingMatchesTheAPIServer(t *testing.T) {
	t.Parallel()
	c := kubetest.Start(t)
	ctx := context.Background()
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "wording"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ kind, probe string }{
		{"readiness", `{tcpSocket: {port: 80}, terminationGracePeriodSeconds: 10}`},
		{"readiness", `{tcpSocket: {port: 80}, terminationGracePeriodSeconds: 0}`},
		{"liveness", `{tcpSocket: {port: 80}, terminationGracePeriodSeconds: -1}`},
		{"startup", `{tcpSocket: {port: 80}, terminationGracePeriodSeconds: 0}`},
		{"liveness", `{tcpSocket: {port: 80}, successThreshold: 2}`},
		{"startup", `{tcpSocket: {port: 80}, successThreshold: 3}`},
		{"liveness", `{tcpSocket: {port: 80}, successThreshold: -1}`},
		{"readiness", `{tcpSocket: {port: 80}, successThreshold: -1}`},
		{"readiness", `{tcpSocket: {port: 80}, initialDelaySeconds: -1, timeoutSeconds: -2, periodSeconds: -3, failureThreshold: -4}`},
		{"readiness", `{periodSeconds: 5}`},
		{"readiness", `{httpGet: {port: 80}, tcpSocket: {port: 80}}`},
		{"liveness", `{tcpSocket: {port: 80}, grpc: {port: 0}}`},
		{"readiness", `{httpGet: {port: 80}, tcpSocket: {port: 0}, grpc: {port: 9}}`},
		{"readiness", `{httpGet: {port: 80, scheme: FTP}}`},
		{"readiness", `{httpGet: {port: 80, scheme: https}}`},
		{"readiness", `{httpGet: {port: 80, httpHeaders: [{name: "Bad Header", value: x}]}}`},
		{"readiness", `{httpGet: {port: 0}}`},
		{"readiness", `{httpGet: {port: 70000}}`},
		{"readiness", `{tcpSocket: {port: -1}}`},
		{"readiness", `{grpc: {port: 0}}`},
		{"readiness", `{grpc: {port: 65536}}`},
		{"readiness", `{tcpSocket: {port: "Http_Port"}}`},
		{"readiness", `{tcpSocket: {port: "abcdefghijklmnop"}}`},
		{"readiness", `{tcpSocket: {port: "8080"}}`},
		{"readiness", `{httpGet: {port: "a--b"}}`},
		{"readiness", `{httpGet: {port: "-ab-"}}`},
		{"readiness", `{httpGet: {port: "Http--Port-too-long"}}`},
		{"liveness", `{exec: {command: []}}`},
		{"readiness", `{httpGet: {port: http, path: /healthz}}`}, // valid: no errors on either side
	}
	for _, tc := range cases {
		t.Run(tc.kind+" "+tc.probe, func(t *testing.T) {
			api := apiErrors(t, c, tc.kind, tc.probe)
			ours := ourErrors(t, tc.kind, tc.probe)
			if len(api) != len(ours) {
				t.Errorf("the API server gives %d errors, we give %d:\n  API:  %s\n  ours: %s", len(api), len(ours), strings.Join(api, "\n        "), strings.Join(ours, "\n        "))
				return
			}
			for i := range api {
				if !sameWords(api[i], ours[i]) {
					t.Errorf("API: %s\nours: %s", api[i], ours[i])
				}
			}
		})
	}
}

// sameWords: ours is the API's error, or the API's followed by a hint in
// parentheses.
func sameWords(api, ours string) bool {
	return ours == api || strings.HasPrefix(ours, api+" (")
}

// apiErrors are the API server's field errors for the probe, as
// "<path under the probe>: <message>", sorted.
func apiErrors(t *testing.T, c *kubetest.Cluster, kind, probe string) []string {
	t.Helper()
	var p corev1.Probe
	if err := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(probe), 4096).Decode(&p); err != nil {
		t.Fatal(err)
	}
	ctr := corev1.Container{Name: "c", Image: "c:1", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}
	switch kind {
	case "readiness":
		ctr.ReadinessProbe = &p
	case "liveness":
		ctr.LivenessProbe = &p
	case "startup":
		ctr.StartupProbe = &p
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "w-", Namespace: "wording"}, Spec: corev1.PodSpec{Containers: []corev1.Container{ctr}}}
	_, err := c.Client.CoreV1().Pods("wording").Create(context.Background(), pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err == nil {
		return nil
	}
	var se *apierrors.StatusError
	if !errors.As(err, &se) || se.ErrStatus.Details == nil {
		t.Fatalf("dry run: %v", err)
	}
	prefix := "spec.containers[0]." + kind + "Probe"
	var out []string
	for _, cause := range se.ErrStatus.Details.Causes {
		if !strings.HasPrefix(cause.Field, prefix) {
			t.Fatalf("an error outside the probe: %s: %s", cause.Field, cause.Message)
		}
		out = append(out, strings.TrimPrefix(cause.Field, prefix)+": "+cause.Message)
	}
	sort.Strings(out)
	return out
}

// headerIndex: ours points at the header's name; the API at the list.
var headerIndex = regexp.MustCompile(`\.httpHeaders\[\d+\]\.name`)

// ourErrors are ours for the same probe on a discovered entry (whose
// targets bring named ports, as a container does), in the same form.
func ourErrors(t *testing.T, kind, probe string) []string {
	t.Helper()
	cfg := fmt.Sprintf("targets:\n  - name: w\n    kubernetes: {role: endpointslice}\n    %sProbe: %s\n", kind, probe)
	_, err := config.Parse([]byte(cfg), "wording.yaml")
	if err == nil {
		return nil
	}
	var es config.Errors
	if !errors.As(err, &es) {
		t.Fatalf("not field errors: %v", err)
	}
	prefix := "targets[0]." + kind + "Probe"
	var out []string
	for _, e := range es {
		if !strings.HasPrefix(e.Path, prefix) {
			t.Fatalf("an error outside the probe: %s", e.Error())
		}
		out = append(out, headerIndex.ReplaceAllString(strings.TrimPrefix(e.Path, prefix), ".httpHeaders")+": "+e.Msg)
	}
	sort.Strings(out)
	return out
}
