package manifest

import (
	"strings"
	"testing"
)

// TestPodSelector: how each workload kind's pods are found.
func TestPodSelector(t *testing.T) {
	for _, c := range []struct {
		name, doc, want, problem string
	}{
		{"a Pod is its own", "kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, readinessProbe: {tcpSocket: {port: 1}}}]}", "", ""},
		{"a Deployment's selector", `kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}, matchExpressions: [{key: tier, operator: In, values: [front]}]}
  template: {metadata: {labels: {app: web, tier: front, extra: x}}, spec: {containers: [{name: c, readinessProbe: {tcpSocket: {port: 1}}}]}}`, "app=web,tier in (front)", ""},
		{"a Job without a selector: its template's labels", `kind: Job
metadata: {name: j}
spec: {template: {metadata: {labels: {app: batch}}, spec: {containers: [{name: c, readinessProbe: {tcpSocket: {port: 1}}}]}}}`, "app=batch", ""},
		{"a Job without labels: the controller's job-name", `kind: Job
metadata: {name: j}
spec: {template: {spec: {containers: [{name: c, readinessProbe: {tcpSocket: {port: 1}}}]}}}`, "batch.kubernetes.io/job-name=j", ""},
		{"a CronJob: its job template's labels", `kind: CronJob
metadata: {name: cj}
spec: {schedule: "* * * * *", jobTemplate: {spec: {template: {metadata: {labels: {app: nightly}}, spec: {containers: [{name: c, readinessProbe: {tcpSocket: {port: 1}}}]}}}}}`, "app=nightly", ""},
		{"a DaemonSet with neither", `kind: DaemonSet
metadata: {name: ds}
spec: {template: {spec: {containers: [{name: c, readinessProbe: {tcpSocket: {port: 1}}}]}}}`, "", "daemonset ds has no selector or template labels"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cs, err := decode(strings.NewReader(c.doc), "test")
			if err != nil || len(cs) != 1 {
				t.Fatalf("%v, %d containers", err, len(cs))
			}
			got := ""
			if cs[0].Selector != nil {
				got = cs[0].Selector.String()
			}
			if got != c.want || !strings.HasPrefix(cs[0].SelectorProblem, c.problem) || (c.problem == "") != (cs[0].SelectorProblem == "") {
				t.Errorf("selector %q, problem %q; want %q, %q", got, cs[0].SelectorProblem, c.want, c.problem)
			}
		})
	}
}
