// Package interop holds interoperability tests against software written
// outside this project: npm_test.go drives the npm OpenID4VCI 1.0 client
// @openid4vc/openid4vci (npmwallet/wallet.mjs) against mdoc-issuer. The
// tests skip, loudly, when node or the npm registry is unavailable.
package interop
