package scheduler

import (
	"log/slog"
	"sync"
	"time"
)

// logLimiter lets a flapping fleet log state changes at most burst at
// once and rate a second after that; what it holds back is counted and
// said in the next line it lets through.
type logLimiter struct {
	mu         sync.Mutex
	tokens     float64
	last       time.Time
	suppressed int
}

const (
	transitionLogRate  = 10 // lines a second, sustained
	transitionLogBurst = 50
)

func (l *logLimiter) log(log *slog.Logger, now time.Time, msg string, args ...any) {
	l.mu.Lock()
	if l.last.IsZero() {
		l.tokens = transitionLogBurst
	} else {
		l.tokens = min(transitionLogBurst, l.tokens+now.Sub(l.last).Seconds()*transitionLogRate)
	}
	l.last = now
	if l.tokens < 1 {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	l.tokens--
	held := l.suppressed
	l.suppressed = 0
	l.mu.Unlock()
	if held > 0 {
		args = append(args, "state_changes_not_logged", held)
	}
	log.Info(msg, args...)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
