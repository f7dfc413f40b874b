package prober

import "net"

// NewDialer is the default probe dialer. The kubelet's ProbeDialer
// sets SO_LINGER {on, 1s} hoping to shorten TIME-WAIT (kubernetes#89898).
// On Linux that only makes close() block until the FIN is acknowledged:
// the bytes on the wire and the TIME-WAIT period are the same, and the
// blocking close cost 2.5x the CPU of a plain dial+close in BenchmarkTCP.
// So we don't set it; README lists this among our deviations.
//
// Its ControlContext asks the attempt's DialGuard, if any, about each
// address right before it is connected (see WithDialGuard).
func NewDialer() *net.Dialer { return &net.Dialer{ControlContext: guardControl} }
