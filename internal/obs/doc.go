// Package obs is the operational surface shared by the issuer and the
// verifier servers: Prometheus metrics at /metrics (request counts and
// latency by route and status, plus whatever the server registers),
// liveness at /healthz, readiness at /readyz (the server's own checks:
// store and keys usable), request ids (X-Request-ID honoured or
// generated, carried in the request context and added to every log line
// written with that context), and the slog logger of --log-format.
//
// Both servers wrap their gin engine with Handler, so the operational
// endpoints and the request metrics are the same code in both, and the
// engines themselves stay unaware of them.
package obs
