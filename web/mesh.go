package web

import (
	"encoding/json"
	"net/http"
	"slices"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/probe-exporter/probe-exporter/status"
)

// meshPage serves /api/v1/mesh: who reaches whom, in mesh mode. The
// status page shows the same as a matrix.
type meshPage struct{}

func (meshPage) Link() web.LandingLinks { return web.LandingLinks{} }

func (meshPage) Routes(mux *http.ServeMux, s *Site) {
	mux.Handle("GET /api/v1/mesh", s.View(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		res := meshResponse{Status: "success"}
		if s.allScope(r.URL.Query()) {
			peers, ok := s.askAcross(r.Context(), r.URL.Query(), status.Query{}, false, true)
			if !ok {
				return // the client left
			}
			res.Data, res.Replicas = s.mergeMesh(peers.mesh)
		} else {
			res.Data = status.Mesh(s.Probes)
		}
		if s.Replicas != nil {
			res.Replica = s.Replicas.Self
		}
		_ = json.NewEncoder(w).Encode(res)
	})))
}

// meshResponse is /api/v1/mesh's body.
type meshResponse struct {
	Status   string          `json:"status"`
	Data     []status.Reach  `json:"data"`
	Replica  string          `json:"replica,omitempty"`
	Replicas []ReplicaAnswer `json:"replicas,omitempty"`
}

// meshMatrix lays status.Mesh out for the page.
type meshMatrix struct {
	Nodes []string
	Rows  []meshRow
}

type meshRow struct {
	Source string
	Cells  []*status.Reach // lined up with Nodes; nil: not probed
}

func matrix(rs []status.Reach) meshMatrix {
	var m meshMatrix
	seen := map[string]bool{}
	for _, r := range rs {
		if !seen[r.Node] {
			seen[r.Node] = true
			m.Nodes = append(m.Nodes, r.Node)
		}
	}
	slices.Sort(m.Nodes)
	col := map[string]int{}
	for i, n := range m.Nodes {
		col[n] = i
	}
	for i := range rs {
		r := &rs[i]
		if len(m.Rows) == 0 || m.Rows[len(m.Rows)-1].Source != r.SourceNode {
			m.Rows = append(m.Rows, meshRow{Source: r.SourceNode, Cells: make([]*status.Reach, len(m.Nodes))})
		}
		m.Rows[len(m.Rows)-1].Cells[col[r.Node]] = r
	}
	return m
}
