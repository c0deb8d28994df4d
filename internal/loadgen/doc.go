// Package loadgen is the bounded load tool behind cmd/mnc-load: it drives
// an issuer and an online verifier with simulated wallets (package
// walletsim) — online presentations over OpenID4VP and credential
// issuance — for a fixed time or number of operations, and reports
// throughput, latency percentiles and the servers' CPU time per operation
// as a multiple of the raw P-256 cost measured in the same run.
//
// With no target URLs it builds mdoc-issuer and mdoc-verifier once into a
// temporary directory and starts them as child processes on loopback on
// their embedded defaults (a fresh data directory each), so that their CPU
// time is theirs alone. Targets are loopback only unless AllowRemote is
// set: the tool generates real traffic and must not be pointed at someone
// else's server by a typo.
package loadgen
