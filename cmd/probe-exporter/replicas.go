package main

import (
	"errors"
	"net"
	"net/http"
	"os"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/probe-exporter/probe-exporter/replicas"
	exporterweb "github.com/probe-exporter/probe-exporter/web"
)

// replicaSite is how the status views find the other replicas, from the
// --web.replicas.* flags; nil when none is configured.
func replicaSite(f *flags, kubeconfig string) (*exporterweb.Replicas, error) {
	self := *f.replicaSelf
	if self == "" {
		self, _ = os.Hostname()
	}
	r := &exporterweb.Replicas{Self: self, Asker: &replicas.Asker{
		// Its own transport: never a proxy, and no connection kept past a view.
		Client: &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}},
		Max:    *f.replicaMax, Timeout: *f.replicaTimeout, MaxBody: 4 << 20, // 1,000 rows are about 1.5 MB
	}}
	switch {
	case *f.replicaSelector != "" && *f.replicaSRV != "":
		return nil, errors.New("--web.replicas.kubernetes-selector and --web.replicas.dns-srv: give one")
	case *f.replicaSelector != "":
		if _, err := labels.Parse(*f.replicaSelector); err != nil {
			return nil, err
		}
		if *f.replicaNamespace == "" {
			return nil, errors.New("--web.replicas.kubernetes-selector needs --web.replicas.namespace (or $POD_NAMESPACE)")
		}
		client, err := kubeClient(kubeconfig, 5)
		if err != nil {
			return nil, err
		}
		r.Source = &replicas.Kubernetes{Client: client, Namespace: *f.replicaNamespace, Selector: *f.replicaSelector, Port: *f.replicaPort}
	case *f.replicaSRV != "":
		r.Source = &replicas.DNS{Name: *f.replicaSRV, Resolver: net.DefaultResolver}
	default:
		return nil, nil
	}
	if *f.replicaTimeout <= 0 || *f.replicaMax < 1 {
		return nil, errors.New("--web.replicas.timeout and --web.replicas.max must be more than 0")
	}
	return r, nil
}
