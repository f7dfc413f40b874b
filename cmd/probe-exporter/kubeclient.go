package main

import (
	"fmt"
	"os"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// kubeClient is a client for what the exporter writes to Kubernetes
// (Events, readiness gates): --kubeconfig if set, else in-cluster, else
// $KUBECONFIG or ~/.kube/config; qps requests a second at most, in
// bursts of twice that (client-go's default, 5, would take 400 s to
// write the gates of 1,000 pods at start: a read and a write each).
func kubeClient(kubeconfig string, qps float64) (kubernetes.Interface, error) {
	if !(qps > 0) { // client-go reads 0 as its default and a negative rate as none
		return nil, fmt.Errorf("--kubernetes.feedback-qps=%v: must be more than 0", qps)
	}
	rc, err := rest.InClusterConfig()
	if err != nil || kubeconfig != "" {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		rules.ExplicitPath = kubeconfig
		rc, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("kubernetes client configuration: %w", err)
		}
	}
	rc.QPS, rc.Burst = float32(qps), int(2*qps)
	return kubernetes.NewForConfig(rc)
}

// eventSource is what Events say they come from: this exporter's node,
// else its pod's name (the hostname), as in "… failed from node-1: …".
func eventSource(nodeName string) string {
	if nodeName != "" {
		return nodeName
	}
	if h, err := os.Hostname(); err == nil {
		return h
	}
	return "probe-exporter"
}
