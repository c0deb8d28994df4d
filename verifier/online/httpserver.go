package online

import (
	"log/slog"
	"net/http"
	"time"
)

// Timeouts and limits of the listening HTTP server. Every connection a
// client opens costs a descriptor and a goroutine until the server lets go
// of it; without a read timeout a client that sends headers and then
// dribbles its body holds both for as long as it likes, and a few hundred
// such clients exhaust the process (issue 11 measured 500 slow-body
// connections holding 510 descriptors for more than 70 s with only
// ReadHeaderTimeout set).
const (
	// ReadHeaderTimeout bounds the request line and headers.
	ReadHeaderTimeout = 5 * time.Second
	// ReadTimeout bounds the whole request including its body. The
	// largest body is one encrypted DeviceResponse (MaxBody, a few MiB at
	// most, tens of KiB in practice); 20 s carries even MaxBody at about
	// 2 Mbit/s.
	ReadTimeout = 20 * time.Second
	// WriteTimeout bounds writing a response, measured from the end of
	// the request headers; verification takes milliseconds.
	WriteTimeout = 30 * time.Second
	// IdleTimeout closes keep-alive connections that carry no request.
	IdleTimeout = 60 * time.Second
	// MaxHeaderBytes bounds request headers (Go's default is 1 MiB); the
	// largest legitimate header here is a cookie or bearer secret.
	MaxHeaderBytes = 16 << 10
)

// ServerLimits are the HTTP server's timeouts and header limit; the zero
// value of each field means the package constant of the same name.
type ServerLimits struct {
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	MaxHeaderBytes                                            int
}

// NewHTTPServer returns an http.Server for h with the timeouts and header
// limit above (overridden by l where set), logging server errors to log
// (nil means slog.Default()).
func NewHTTPServer(h http.Handler, l ServerLimits, log *slog.Logger) *http.Server {
	pick := func(v, d time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		return d
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = MaxHeaderBytes
	}
	if log == nil {
		log = slog.Default()
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: pick(l.ReadHeaderTimeout, ReadHeaderTimeout),
		ReadTimeout:       pick(l.ReadTimeout, ReadTimeout),
		WriteTimeout:      pick(l.WriteTimeout, WriteTimeout),
		IdleTimeout:       pick(l.IdleTimeout, IdleTimeout),
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
