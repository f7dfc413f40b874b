package main

import (
	"fmt"
	"os"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// kubeClient is a client for what the exporter writes to Kubernetes
// (Events): --kubeconfig if set, else in-cluster, else $KUBECONFIG or
// ~/.kube/config.
func kubeClient(kubeconfig string) (kubernetes.Interface, error) {
	rc, err := rest.InClusterConfig()
	if err != nil || kubeconfig != "" {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		rules.ExplicitPath = kubeconfig
		rc, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("kubernetes client configuration: %w", err)
		}
	}
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
