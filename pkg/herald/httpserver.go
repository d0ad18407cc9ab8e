package herald

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// HTTPServer serves a handler on a listener with sane timeouts.
type HTTPServer struct {
	srv *http.Server
	ln  net.Listener
	log *slog.Logger
	err chan error
}

// Listen binds addr (":0" picks a free port) and starts serving h.
func Listen(addr string, h http.Handler, log *slog.Logger) (*HTTPServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &HTTPServer{
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		ln:  ln,
		log: log,
		err: make(chan error, 1),
	}
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.err <- err
	}()
	return s, nil
}

// Addr is the bound address, host:port.
func (s *HTTPServer) Addr() string { return s.ln.Addr().String() }

// Port is the bound port.
func (s *HTTPServer) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Shutdown stops accepting requests and waits for in-flight ones until ctx ends.
func (s *HTTPServer) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	return errors.Join(err, <-s.err)
}
