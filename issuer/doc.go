// Package issuer is the OpenID4VCI 1.0 mdoc issuer derived from the My
// Number Card: it turns a card-signed application into ISO/IEC 18013-5
// credentials in a wallet and keeps every phone credential tied to its
// card for life.
//
// The Service holds the behaviour; Handler exposes it over HTTP (gin) with
// thin handlers. Errors are JSON {"error", "error_description", "reason"}
// with stable codes (package oid4vci); one function maps codes to HTTP
// statuses. A database that cannot be reached is 503
// temporarily_unavailable with Retry-After on every endpoint that needs
// it; requests succeed again, without a restart, once it is back.
//
// # Endpoints
//
// OpenID4VCI 1.0 (pre-authorized code flow):
//
//	GET  /.well-known/openid-credential-issuer   issuer metadata: jp.mnc (org.iso.23220.1.jp.mnc) and jp.hic
//	                                              (jp.go.mhlw.hic.1), format mso_mdoc, binding cose_key,
//	                                              proofs.jwt ES256 with key_attestations_required,
//	                                              batch_credential_issuance {batch_size}, notification_endpoint
//	GET  /.well-known/oauth-authorization-server  token endpoint, pre-authorized grant
//	POST /nonce        {"c_nonce"}; single use, DefaultNonceTTL, Cache-Control: no-store; rate limited
//	POST /token        form: grant_type=urn:ietf:params:oauth:grant-type:pre-authorized_code,
//	                   pre-authorized_code, tx_code → {"access_token","token_type":"Bearer","expires_in"}; rate limited
//	POST /credential   Bearer token; {"credential_configuration_id","proofs":{"jwt":[proof, …]}} →
//	                   {"credentials":[{"credential": base64url(IssuerSigned)}, …],"notification_id"}:
//	                   one credential per proof (up to batch_size), each with its own MSO, salts and
//	                   status entry. See "Wallet-provider contract" for the proofs' keys.
//	POST /notification Bearer token of the issuance; {"notification_id","event","event_description"} →
//	                   204; event credential_accepted, credential_failure or credential_deleted,
//	                   recorded in the audit log (OpenID4VCI 1.0 §11)
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
//	POST /mnc/verifier-use      a verifier's use report (VerifierUseReport), Bearer = its use-report credential;
//	                            only with Config.VerifierUseReports.Enabled (else 403); 202 whatever the holder
//	                            chose, recorded and notified only when the holder opted in (notify_use)
//	GET  /status/{list}         Token Status List (2 bits: 0 valid, 1 revoked, 2 suspended), CWT by default
//	                            (application/statuslist+cwt, x5chain = status-list signer issued by the IACA,
//	                            sub = this URL), JWT with Accept: application/statuslist+jwt;
//	                            re-signed when the list changes and, when fetched, once half its ttl has
//	                            passed (verifiers hold a token fresh until iat + ttl); Cache-Control
//	                            max-age = what is left until iat + ttl
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
//	POST   /admin/use                                     a use report entered by support {"status_list_uri","idx","verifier",
//	                                                      "channel","elements"} → UseResponse; recorded and notified only
//	                                                      when the holder opted in
//	POST   /admin/pki/revoke                              {"ca":"iaca"|"reader-ca","certificate_pem","reason_code"}
//
// # Enrolment
//
// The application is a JWS RS256 signed by the card's signature key with
// x5c = [card signature certificate]. The issuer verifies it with jpki
// (chain to the configured roots, CRL by DirName distribution point,
// signature; test roots refused in production), requires a card (not
// smartphone) certificate, checks aud, iat and the single-use nonce, then the
// device: the platform attestation (PlatformConfig; Android Key Attestation
// or App Attest, bound to the nonce and the device key), the wallet
// provider's key attestation (chain to the attestation roots, the device key
// and the JPKI phone keys among attested_keys) checked against the
// platform's facts, not rooted, the model (as the platform attests it where
// it does) on the allow-list, neither model nor OS version blocked, and the
// application's model and OS version equal to the attested ones. It then derives the person key from
// the four basic facts (PersonKey), issues the JPKI phone certificates
// (PhoneCA), and in one transaction records the card certificate and device,
// revokes the person's previous device with a queued remote delete, and
// creates the offer. The insurance document is offered only when the
// registry holds a qualification valid today for the person.
//
// # Wallet-provider contract
//
// What a wallet (and its provider) must send, beyond OpenID4VCI 1.0:
//
//   - Key attestation (OpenID4VCI 1.0 Appendix D.1): a JWT with typ
//     key-attestation+jwt (the draft keyattestation+jwt, which libraries
//     still emit, is accepted), ES256, x5c chaining to a wallet-provider root
//     the issuer trusts (--attestation-roots), iat and exp (lifetime ≤ 24 h),
//     attested_keys. device_model, os_version, wallet_profile, rooted are
//     optional project claims: when present they must agree with the
//     platform attestation; when absent the platform's facts (or the
//     card-signed application's device_model) are used.
//   - Platform attestation, in the card application's platform_attestation
//     (required in production): android-key — the KeyStore certificate
//     chain of the mdoc device key, generated with
//     setAttestationChallenge(UTF-8 bytes of the application's nonce), by the
//     configured package signed with the configured certificate; the device
//     must be hardware-backed (TEE or StrongBox), verified boot, locked; or
//     apple-appattest — the attestation object of an App Attest key with
//     clientDataHash = SHA-256(nonce ‖ "." ‖ JWK thumbprint of the device
//     key), from the configured app id, in the configured environment. See
//     package keyattest for the checks and oid4vci.PlatformAttestation for
//     the wire form.
//   - App Attest devices authenticate later device requests (/mnc/device)
//     with app_attest_assertion: an assertion by the enrolled App Attest key
//     over clientDataHash = SHA-256(the request JWS), counter above the last
//     one seen (stored; required in production, checked when present in
//     development).
//   - Proof keys: a proof may be by the device key bound at enrolment, or by
//     another key that the proof's key attestation attests together with
//     that device key (the wallet provider vouches that both live in the
//     same secure element). A batch uses one new key per proof, all proofs
//     carrying the same c_nonce; a repeated key is refused.
//   - A development issuer runs on http://127.0.0.1: clients must be told to
//     allow http (e.g. npm @openid4vc's setGlobalConfig({allowInsecureUrls:
//     true})); internal/interop tests exactly that client.
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
// carries status.status_list {idx, uri}. The credentials of a request are
// issued together (store.Credentials.IssueCredentials): their entries are
// reserved in a short transaction, the MSOs signed outside any transaction,
// and the credentials recorded in one transaction that re-checks the
// device, so no credential exists without its status entry and signing
// never holds the lock other issuances wait for. Entries reserved by a
// failed issuance are never reused; they read valid in the list but no
// credential carries them. A request notifies the holder once, however
// many credentials it issued; the audit log has a row per credential.
package issuer
