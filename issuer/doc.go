// Package issuer is the OpenID4VCI 1.0 mdoc issuer derived from the My
// Number Card: it turns a card-signed application into ISO/IEC 18013-5
// credentials in a wallet and keeps every phone credential tied to its
// card for life (DESIGN.md §2–§3).
//
// The Service holds the behaviour; Handler exposes it over HTTP (gin) with
// thin handlers. Errors are JSON {"error", "error_description", "reason"}
// with stable codes (package oid4vci); one function maps codes to HTTP
// statuses.
//
// # Endpoints
//
// OpenID4VCI 1.0 (pre-authorized code flow):
//
//	GET  /.well-known/openid-credential-issuer   issuer metadata: jp.mnc (org.iso.23220.1.jp.mnc) and jp.hic
//	                                              (jp.go.mhlw.hic.1), format mso_mdoc, binding cose_key,
//	                                              proofs.jwt ES256 with key_attestations_required
//	GET  /.well-known/oauth-authorization-server  token endpoint, pre-authorized grant
//	POST /nonce        {"c_nonce"}; single use, DefaultNonceTTL, Cache-Control: no-store; rate limited
//	POST /token        form: grant_type=urn:ietf:params:oauth:grant-type:pre-authorized_code,
//	                   pre-authorized_code, tx_code → {"access_token","token_type":"Bearer","expires_in"}; rate limited
//	POST /credential   Bearer token; {"credential_configuration_id","proofs":{"jwt":[proof]}} →
//	                   {"credentials":[{"credential": base64url(IssuerSigned)}],"notification_id"}.
//	                   The proof (typ openid4vci-proof+jwt, aud = issuer URL, fresh nonce) must be by the
//	                   device key bound at enrolment and carry a key_attestation that attests it.
//
// Enrolment and lifecycle (project extension, types in oid4vci):
//
//	POST /dev/attest            development stand-in for App Attest / Play Integrity: oid4vci.AttestRequest →
//	                            {"key_attestation"}; 403 forbidden in production mode, where the platforms'
//	                            attestation roots are configured instead
//	POST /mnc/enrol             {"application": card-signed JWS} → oid4vci.EnrolResponse (credential offer,
//	                            device id, replaced device, JPKI phone certificates)
//	POST /mnc/revoke-with-card  {"revocation": card-signed JWS} → oid4vci.LifecycleResponse; works from any
//	                            device model, including one not allowed to enrol
//	POST /mnc/device            {"request": device-key-signed JWS} with action revoke (→ LifecycleResponse),
//	                            refresh (→ EnrolResponse with a new offer; card certificate re-checked with
//	                            chain + CRL), poll (→ PollResponse with remote-delete commands), ack,
//	                            used (→ UseResponse: a presentation the wallet reports, with doctype,
//	                            verifier, channel, elements; always audited as credential_used and
//	                            notified to webhook/e-mail when the holder set notify_use at enrolment)
//	GET  /status/{list}         Token Status List (2 bits: 0 valid, 1 revoked, 2 suspended), CWT by default
//	                            (application/statuslist+cwt, x5chain = status-list signer issued by the IACA,
//	                            sub = this URL), JWT with Accept: application/statuslist+jwt;
//	                            Cache-Control max-age = ttl; re-signed when the list changes
//	GET  /pki/iaca.pem, /pki/reader-ca.pem, /pki/attestation-ca.pem
//	GET  /pki/iaca.crl, /pki/reader-ca.crl  DER CRLs (application/pkix-crl) at the distribution points the
//	                            IACA and reader CA advertise, signed by that CA: revoked Document Signer /
//	                            status-list signer (IACA) or reader certificates (reader CA); empty at
//	                            first; thisUpdate/nextUpdate 7 days, re-signed at half-life or on change.
//	                            While the current Document Signer is listed, /credential answers
//	                            server_error/document_signer_revoked; the next start rotates it (new key)
//
// Administration (Authorization: Bearer <admin token>):
//
//	POST   /admin/devices/{id}/{suspend|resume|revoke}   body {"reason"} optional; idempotent
//	POST   /admin/persons/{id}/{suspend|resume|revoke}   lost-phone flow for all of a person's devices
//	GET    /admin/devices?person=&limit=
//	GET    /admin/audit?device=&person=&limit=
//	GET    /admin/blocks · POST /admin/blocks {"kind":"model"|"os","value","reason","suspend_existing"}
//	DELETE /admin/blocks/{kind}/{value}                   lifts a block, resumes what it suspended
//	POST   /admin/insurance                               CSV (InsuranceCSVHeader), all rows or none
//	POST   /admin/reader-certificates                     {"public_key_pem","common_name","medical","individual_number"}
//	POST   /admin/crl-poll                                linked revocation now
//	POST   /admin/use                                     a verifier's use report {"status_list_uri","idx","verifier",
//	                                                      "channel","elements"} → UseResponse; audited, notified on opt-in
//	POST   /admin/pki/revoke                              {"ca":"iaca"|"reader-ca","certificate_pem","reason_code"}
//
// # Enrolment
//
// The application is a JWS RS256 signed by the card's signature key with
// x5c = [card signature certificate]. The issuer verifies it with jpki
// (chain to the configured roots, CRL by DirName distribution point,
// signature; test roots refused in production), requires a card (not
// smartphone) certificate, checks aud, iat and the single-use nonce, then the
// key attestation: chain to the attestation roots, the device key and the
// JPKI phone keys among attested_keys, not rooted, model on the allow-list,
// neither model nor OS version blocked, and the application's model and OS
// version equal to the attested ones. It then derives the person key from
// the four basic facts (PersonKey), issues the JPKI phone certificates
// (PhoneCA), and in one transaction records the card certificate and device,
// revokes the person's previous device with a queued remote delete, and
// creates the offer. The insurance document is offered only when the
// registry holds a qualification valid today for the person.
//
// # Transaction codes
//
// With Config.RequireTxCode the offer's pre-authorized code needs a 6-digit
// tx_code. The code is a second channel (OpenID4VCI 1.0 §4.1.1): it is sent
// only by e-mail to the application's contact_email (required then), as a
// store.EventTxCode outbox entry that the operator webhook never receives
// and whose payload is erased once delivered. The enrolment response, the
// audit log and the logs never carry it. store.MaxTxCodeAttempts wrong codes
// use the offer up.
//
// # JPKI phone certificates
//
// With a PhoneCA (development: the jpki/testca J-LIS stand-in) enrolment
// returns the phone's JPKI signature and authentication certificates. In
// production there is none (J-LIS issues them in its own service), and the
// EnrolResponse says so in jpki_not_issued {code: phone_ca_unavailable};
// the mdoc credentials are issued regardless.
//
// # Credentials
//
// Elements are derived as documented at MNCElements and HICElements.
// validUntil is the earliest of issuance + CredentialValidity, the card
// certificate's notAfter and the Document Signer's notAfter. Each MSO
// carries status.status_list {idx, uri}; the entry is allocated and the MSO
// signed inside the transaction that records the credential, so no
// credential exists without its status entry.
package issuer
