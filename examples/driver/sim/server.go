package sim

import (
	"context"
	"net"
	"net/http"
	"time"
)

// Server is a simulator listening on a loopback address.
type Server struct {
	*Sim
	// URL is the base URL, e.g. "http://127.0.0.1:41234"; the vendor API is
	// under URL+"/v1", the simctl admin endpoint under URL+"/admin".
	URL  string
	http *http.Server
}

// Start starts a simulator on addr (e.g. "127.0.0.1:0").
func Start(addr string, opts Options) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := New(opts)
	srv := &Server{Sim: s, URL: "http://" + ln.Addr().String(), http: &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
	}}
	go func() { _ = srv.http.Serve(ln) }()
	return srv, nil
}

// Close stops the server.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return s.http.Shutdown(ctx)
}
