package probe

// Handler is a probe's action: *ExecAction, *HTTPGetAction,
// *TCPSocketAction or *GRPCAction. Callers switch on its type once, where
// they need the handler's own fields.
type Handler interface {
	// Field is the handler's field in the schema: exec, httpGet,
	// tcpSocket or grpc.
	Field() string
}

// Field names the handler in the schema.
func (*ExecAction) Field() string      { return "exec" }
func (*HTTPGetAction) Field() string   { return "httpGet" }
func (*TCPSocketAction) Field() string { return "tcpSocket" }
func (*GRPCAction) Field() string      { return "grpc" }

// Handler is the probe's action: the first one set in the API's order
// (exec, httpGet, tcpSocket, grpc), as the kubelet's prober picks it; nil
// when none is. Validation refuses a probe with more than one.
func (p *Probe) Handler() Handler {
	if hs := p.handlers(); len(hs) > 0 {
		return hs[0]
	}
	return nil
}

// handlers is every handler set, in the API's order.
func (p *Probe) handlers() []Handler {
	var hs []Handler
	if p.Exec != nil {
		hs = append(hs, p.Exec)
	}
	if p.HTTPGet != nil {
		hs = append(hs, p.HTTPGet)
	}
	if p.TCPSocket != nil {
		hs = append(hs, p.TCPSocket)
	}
	if p.GRPC != nil {
		hs = append(hs, p.GRPC)
	}
	return hs
}

// Port is the port the handler names: zero when it names none (exec, or
// a port left to the target).
func Port(h Handler) IntOrString {
	switch h := h.(type) {
	case *HTTPGetAction:
		return h.Port
	case *TCPSocketAction:
		return h.Port
	case *GRPCAction:
		return IntOrString{IntVal: h.Port}
	}
	return IntOrString{}
}
