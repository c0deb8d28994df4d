// Package oid4vp holds the wire types and cryptographic helpers of online
// mdoc presentation shared by the verifier and the wallet simulator:
//
//   - OpenID for Verifiable Presentations 1.0 with the mso_mdoc credential
//     format: DCQL queries (§6), the signed request object (RFC 9101,
//     typ "oauth-authz-req+jwt") passed by reference from an
//     "openid4vp://" authorization request, the x509_san_dns / x509_hash
//     client identifier prefixes (§5.9.3) that bind client_id to the
//     verifier's reader certificate, the vp_token response (§8.1) and its
//     encryption for response mode direct_post.jwt (§8.3: JWE ECDH-ES with
//     A128GCM or A256GCM), and the mdoc SessionTranscript built from the
//     OpenID4VPHandover (Appendix B.2.6.1).
//   - ISO/IEC 18013-7 Annex C (org-iso-mdoc): the JSON envelope a reader
//     serves ({"deviceRequest", "encryptionInfo"}) and the one the wallet
//     answers with ({"response"}), on top of mdoc's EncryptionInfo and
//     HPKE helpers.
//
// The package has no HTTP server code: it defines what travels, not who
// serves it. Every parser bounds its input (Max… constants) and every
// failure is an *mdoc.Error whose Code is stable: the mdoc codes
// (malformed, limit_exceeded, unsupported, reader_auth_invalid,
// session_encryption) where they fit and the OpenID error names
// (invalid_request, invalid_request_object, invalid_client) otherwise.
package oid4vp
