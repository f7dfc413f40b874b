package web

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Flapping serves the embedded default's demo target: 200 for 30 s, then
// 503 for 30 s, and so on, from start.
func Flapping(start time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		phase := int(time.Since(start)/(30*time.Second)) % 2
		if phase == 1 {
			http.Error(w, "down (demo: 30 s up, 30 s down)", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "up (demo: 30 s up, 30 s down); phase "+strconv.Itoa(phase))
	})
}
