// Package replicas finds the other replicas of this exporter (the pods
// of its Deployment, StatefulSet or DaemonSet, through the Kubernetes API
// or a DNS SRV name) and asks each for its view, so that any replica can
// answer for all: one status page, one mesh matrix. The fan-out is
// bounded (at most Max replicas asked, each within Timeout), and a slow or
// dead replica costs only its own rows: it is named as not answering.
package replicas

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/probe-exporter/probe-exporter/discovery"
)

// Replica is another exporter answering the same questions: its name (a
// pod's, or a host's) and the base URL of its web endpoints.
type Replica struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// Source lists the replicas, this one included or not (answers from
// this replica are told apart by name and dropped).
type Source interface {
	Replicas(ctx context.Context) ([]Replica, error)
}

// Kubernetes lists the running pods of Namespace that match Selector
// (this replica's own labels: its workload's selector) and reach them at
// their pod IP on Port.
type Kubernetes struct {
	Client    kubernetes.Interface
	Namespace string
	Selector  string
	Port      int
}

// Replicas implements Source.
func (k *Kubernetes) Replicas(ctx context.Context) ([]Replica, error) {
	pods, err := k.Client.CoreV1().Pods(k.Namespace).List(ctx, metav1.ListOptions{LabelSelector: k.Selector})
	if err != nil {
		return nil, fmt.Errorf("listing the replicas' pods: %w", err)
	}
	var out []Replica
	for _, p := range pods.Items {
		// A pod's IP is discovered data: only an IP address is dialed.
		if p.Status.Phase != corev1.PodRunning || net.ParseIP(p.Status.PodIP) == nil || p.DeletionTimestamp != nil {
			continue
		}
		out = append(out, Replica{Name: p.Name, URL: "http://" + net.JoinHostPort(p.Status.PodIP, strconv.Itoa(k.Port)) + "/"})
	}
	return out, nil
}

// DNS lists the targets of an SRV name (a headless Service's port:
// _http._tcp.probe-exporter.monitoring.svc.cluster.local).
type DNS struct {
	Name     string
	Resolver *net.Resolver
}

// Replicas implements Source.
func (d *DNS) Replicas(ctx context.Context) ([]Replica, error) {
	_, srvs, err := d.Resolver.LookupSRV(ctx, "", "", d.Name)
	if err != nil {
		return nil, fmt.Errorf("looking up the replicas: %w", err)
	}
	var out []Replica
	for _, s := range srvs {
		host := strings.TrimSuffix(s.Target, ".")
		if !discovery.ValidHost(host) {
			continue // an answer is discovered data: only a host name or address is dialed
		}
		out = append(out, Replica{Name: host, URL: "http://" + net.JoinHostPort(host, strconv.Itoa(int(s.Port))) + "/"})
	}
	return out, nil
}

// Answer is one replica's answer to a fan-out: its body, or why there is
// none.
type Answer struct {
	Replica Replica
	Body    []byte
	Err     error
}

// Asker asks the replicas: at most Max of them, each within Timeout, no
// answer over MaxBody bytes.
type Asker struct {
	Client  *http.Client
	Max     int
	Timeout time.Duration
	MaxBody int64
}

// Ask GETs path (relative to each replica's URL) from every replica at
// once and returns their answers in the replicas' order; one that
// fails, times out or answers anything but 200 has Err set.
func (a *Asker) Ask(ctx context.Context, rs []Replica, path string) []Answer {
	if len(rs) > a.Max {
		rs = rs[:a.Max]
	}
	out := make([]Answer, len(rs))
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = a.ask(ctx, r, path)
		}()
	}
	wg.Wait()
	return out
}

func (a *Asker) ask(ctx context.Context, r Replica, path string) Answer {
	ctx, cancel := context.WithTimeout(ctx, a.Timeout)
	defer cancel()
	ans := Answer{Replica: r}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL+path, nil)
	if err != nil {
		ans.Err = err
		return ans
	}
	res, err := a.Client.Do(req)
	if err != nil {
		ans.Err = err
		return ans
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		ans.Err = fmt.Errorf("answered %s", res.Status)
		return ans
	}
	ans.Body, ans.Err = io.ReadAll(io.LimitReader(res.Body, a.MaxBody+1))
	if ans.Err == nil && int64(len(ans.Body)) > a.MaxBody {
		ans.Body, ans.Err = nil, fmt.Errorf("answered more than %d bytes", a.MaxBody)
	}
	return ans
}
