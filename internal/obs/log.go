package obs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
)

// Log formats of --log-format.
const (
	LogText = "text"
	LogJSON = "json"
)

// NewLogger returns a logger writing format (LogText or LogJSON) to w at
// level, whose records carry the request id of the context they were
// logged with. An unknown format is an error naming the accepted ones, for
// the caller to report as a usage error.
func NewLogger(w io.Writer, format string, level slog.Level) (*slog.Logger, error) {
	o := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch format {
	case LogText, "":
		h = slog.NewTextHandler(w, o)
	case LogJSON:
		h = slog.NewJSONHandler(w, o)
	default:
		return nil, fmt.Errorf("--log-format %q: want %s or %s", format, LogText, LogJSON)
	}
	return slog.New(requestIDHandler{h}), nil
}

// requestIDHandler adds request_id to records logged with a context that
// carries one.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(a)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id ctx carries, or "". A *gin.Context is
// looked through to its request: gin only falls back to the request's
// context when the engine sets ContextWithFallback, which the servers'
// engines do not, and handlers log with the gin context.
func RequestID(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	if id, ok := ctx.Value(requestIDKey{}).(string); ok {
		return id
	}
	if r, ok := ctx.Value(gin.ContextRequestKey).(*http.Request); ok && r != nil {
		if id, ok := r.Context().Value(requestIDKey{}).(string); ok {
			return id
		}
	}
	return ""
}
