// Package oid4vci holds the wire format of OpenID for Verifiable Credential
// Issuance 1.0 as this project speaks it, shared by the issuer and the
// wallet simulator: issuer metadata, credential offers with the
// pre-authorized code grant, token, nonce and credential messages, error
// responses, and the proof JWT (typ "openid4vci-proof+jwt") built and
// verified with internal/jose (a narrow compact-JWS implementation checked
// against lestrrat-go/jwx/v3 and the npm wallet in its tests).
//
// It also defines the project's two extensions:
//
//   - Key attestation (OID4VCI 1.0 Appendix D, typ "key-attestation+jwt"):
//     a JWT with an x5c chain to a device-attestation CA, listing the keys
//     generated in the phone's secure element (attested_keys) and the
//     project claims device_model, os_version, rooted, wallet_profile and
//     device_id. SignKeyAttestation stands in for Apple App Attest / Google
//     Play Integrity; VerifyKeyAttestation checks it.
//   - Card application (typ "mnc-card-application+jwt"): the enrolment
//     request, a JWS RS256 signed by the My Number Card's signature key with
//     x5c = [card signature certificate], binding the mdoc device key, its
//     key attestation, a fresh c_nonce and the phone's JPKI key pairs.
//     The issuer verifies the signature and certificate with jpki; this
//     package parses and checks the claims (ParseCardApplication).
//
// and the lifecycle requests: revocation with the card (CardRevocation,
// usable from any device model), and device-key-signed requests
// (DeviceRequest) to revoke, refresh, poll for remote-delete commands and
// acknowledge them.
//
// The package has no HTTP server code; Client is a small HTTP client for the
// endpoints documented in package issuer.
//
// Every parser bounds its input (MaxJWTLen, MaxAttestedKeys, …) and fails
// closed with an *Error whose Code is an OID4VCI error code and whose Reason
// is a finer, stable project code.
package oid4vci
