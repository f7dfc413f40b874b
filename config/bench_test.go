package config_test

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/probe-exporter/probe-exporter/config"
	"github.com/probe-exporter/probe-exporter/internal/memtest"
)

// BenchmarkLoad parses a file of 100k static hosts, plain and with a label
// each, and reports the peak heap of config.Parse next to the peak of
// yaml.v3 building the document's node tree alone (the floor: yaml.v3 has
// no streaming decoder, so the whole tree exists once, however the rest is
// done). "x-node-tree" is the first over the second, in the same run.
func BenchmarkLoad(b *testing.B) {
	shapes := []struct{ name, host string }{
		{"plain", "      - {host: 10.%d.%d.%d, port: 80}\n"},
		{"labelled", "      - {host: 10.%d.%d.%d, port: 80, labels: {zone: z%[3]d}}\n"},
	}
	for _, shape := range shapes {
		var sb strings.Builder
		sb.WriteString("targets:\n  - name: big\n    static:\n")
		for i := 0; i < 100_000; i++ {
			fmt.Fprintf(&sb, shape.host, i>>16&255, i>>8&255, i&255)
		}
		sb.WriteString("    readinessProbe: {tcpSocket: {port: 80}}\n")
		data := []byte(sb.String())
		b.Run(fmt.Sprintf("hosts=100k/%s", shape.name), func(b *testing.B) {
			var floor uint64
			b.Run("node-tree", func(b *testing.B) {
				// The same collection pace Parse sets for big files.
				defer debug.SetGCPercent(debug.SetGCPercent(10))
				floor = peakHeap(b, func() error {
					var n yaml.Node
					return yaml.Unmarshal(data, &n)
				})
			})
			b.Run("parse", func(b *testing.B) {
				peak := peakHeap(b, func() error {
					_, err := config.Parse(data, "big.yaml")
					return err
				})
				if floor > 0 {
					b.ReportMetric(float64(peak)/float64(floor), "x-node-tree")
				}
			})
		})
	}
}

// BenchmarkLoadInvalid is the costliest file per byte found: entries of
// nothing ("- {}", 5 bytes, two errors each), every one an error past the
// 100 reported. Its work must stay a small multiple of the node tree's,
// as for a valid file (a field table built per entry made it 3x the time
// and 6x the garbage).
func BenchmarkLoadInvalid(b *testing.B) {
	data := []byte("targets:\n" + strings.Repeat("- {}\n", 200_000))
	var floor uint64
	b.Run("entries=200k/node-tree", func(b *testing.B) {
		defer debug.SetGCPercent(debug.SetGCPercent(10))
		floor = peakHeap(b, func() error {
			var n yaml.Node
			return yaml.Unmarshal(data, &n)
		})
	})
	b.Run("entries=200k/parse", func(b *testing.B) {
		peak := peakHeap(b, func() error {
			var es config.Errors
			if _, err := config.Parse(data, "flood.yaml"); !errors.As(err, &es) || len(es) != 101 {
				return fmt.Errorf("want 100 errors and a count of the rest, got %v", err)
			}
			return nil
		})
		if floor > 0 {
			b.ReportMetric(float64(peak)/float64(floor), "x-node-tree")
		}
	})
}

// peakHeap runs f b.N times and reports the highest live heap seen while
// it ran, above the heap before it started.
func peakHeap(b *testing.B, f func() error) uint64 {
	b.ReportAllocs()
	peak := memtest.PeakHeap(func() {
		for i := 0; i < b.N; i++ {
			if err := f(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(peak)/(1<<20), "peak-MB")
	return peak
}
