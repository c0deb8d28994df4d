package mdoc

import "crypto/sha256"

// Handover identifiers of the online presentation protocols.
const (
	// OpenID4VPHandoverID names the redirect-based OpenID4VP handover
	// (OpenID4VP 1.0 Appendix B.2.6.1).
	OpenID4VPHandoverID = "OpenID4VPHandover"
	// OpenID4VPDCAPIHandoverID names the OpenID4VP handover over the W3C
	// Digital Credentials API (OpenID4VP 1.0 Appendix B.2.6.2).
	OpenID4VPDCAPIHandoverID = "OpenID4VPDCAPIHandover"
	// AnnexCHandoverID names the ISO/IEC 18013-7 Annex C (org-iso-mdoc)
	// handover and EncryptionInfo/EncryptedResponse arrays.
	AnnexCHandoverID = "dcapi"
)

// mustMarshal encodes values whose types cannot fail to encode (strings,
// byte strings, nil, raw CBOR built here).
func mustMarshal(v any) []byte {
	b, err := Marshal(v)
	if err != nil {
		panic("mdoc: encoding a handover: " + err.Error())
	}
	return b
}

// QRHandover returns the handover of QR engagement: CBOR null (ISO/IEC
// 18013-5:2021 §9.1.5.1).
func QRHandover() []byte { return []byte{0xf6} }

// NFCHandover returns the handover of NFC engagement (ISO/IEC 18013-5:2021
// §9.1.5.1): [HandoverSelect, HandoverRequest / null], the NDEF messages as
// exchanged. handoverRequest is nil for static handover.
func NFCHandover(handoverSelect, handoverRequest []byte) []byte {
	var req any
	if handoverRequest != nil {
		req = handoverRequest
	}
	return mustMarshal([]any{handoverSelect, req})
}

// jwkThumbprintOrNull returns the thumbprint as a bstr, or null when absent
// (no encrypted response).
func jwkThumbprintOrNull(t []byte) any {
	if t == nil {
		return nil
	}
	return t
}

// OpenID4VPHandover returns the handover of a redirect-based OpenID4VP
// presentation (OpenID4VP 1.0 Appendix B.2.6.1):
//
//	["OpenID4VPHandover", SHA-256(CBOR([client_id, nonce, jwk_thumbprint / null, response_uri]))]
//
// jwkThumbprint is the RFC 7638 SHA-256 thumbprint of the verifier's
// response-encryption key, nil when the response is not encrypted. The
// strings come from the JSON request, so they are valid UTF-8.
func OpenID4VPHandover(clientID, nonce string, jwkThumbprint []byte, responseURI string) []byte {
	info := mustMarshal([]any{clientID, nonce, jwkThumbprintOrNull(jwkThumbprint), responseURI})
	h := sha256.Sum256(info)
	return mustMarshal([]any{OpenID4VPHandoverID, h[:]})
}

// OpenID4VPDCAPIHandover returns the handover of an OpenID4VP presentation
// over the Digital Credentials API (OpenID4VP 1.0 Appendix B.2.6.2):
//
//	["OpenID4VPDCAPIHandover", SHA-256(CBOR([origin, nonce, jwk_thumbprint / null]))]
//
// origin is the web origin the browser reports (e.g. "https://example.com").
func OpenID4VPDCAPIHandover(origin, nonce string, jwkThumbprint []byte) []byte {
	info := mustMarshal([]any{origin, nonce, jwkThumbprintOrNull(jwkThumbprint)})
	h := sha256.Sum256(info)
	return mustMarshal([]any{OpenID4VPDCAPIHandoverID, h[:]})
}

// AnnexCHandover returns the handover of ISO/IEC 18013-7 Annex C
// (org-iso-mdoc over the Digital Credentials API):
//
//	["dcapi", SHA-256(CBOR([Base64EncryptionInfo, SerializedOrigin]))]
//
// encryptionInfoB64 is the EncryptionInfo exactly as the reader sent it
// (base64url text, see EncryptionInfo.Base64), origin the web origin.
func AnnexCHandover(encryptionInfoB64 string, origin string) []byte {
	info := mustMarshal([]any{encryptionInfoB64, origin})
	h := sha256.Sum256(info)
	return mustMarshal([]any{AnnexCHandoverID, h[:]})
}
