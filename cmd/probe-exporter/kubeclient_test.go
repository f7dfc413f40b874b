package main

import (
	"math"
	"strings"
	"testing"
)

// TestFeedbackQPS: the feedback client's rate is a rate: client-go would
// read 0 as its default of 5 and a negative rate as no limit at all.
func TestFeedbackQPS(t *testing.T) {
	for _, qps := range []float64{0, -1, math.NaN()} {
		if _, err := kubeClient("", qps); err == nil || !strings.Contains(err.Error(), "--kubernetes.feedback-qps") {
			t.Errorf("qps %v: %v, want an error naming the flag", qps, err)
		}
	}
}
