// Package parity holds the differential tests that judge probe-exporter
// by its peers' own code: Prometheus' kubernetes_sd (discovery/kubernetes
// of github.com/prometheus/prometheus, imported as a library) against the
// exporter's Kubernetes discovery, on the same objects of a real
// kube-apiserver.
//
// It is a module of its own so that Prometheus' dependency graph never
// moves the exporter's pinned dependencies: `make test` runs it with
// `go test` from this directory.
package parity
