package jpki

import (
	"context"
	"crypto"
	"encoding/base64"
	"fmt"

	"github.com/lestrrat-go/jwx/v3/cert"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// MaxJWSLen bounds a compact JWS accepted by VerifyJWS: an application
// signed with the card is a small JSON document plus one certificate.
const MaxJWSLen = 1 << 20

// JWSResult is the outcome of VerifyJWS.
type JWSResult struct {
	*Verified
	// Payload is the verified payload.
	Payload []byte
	// Facts are the signer's basic facts.
	Facts *Facts
	// Protected is the protected header as signed.
	Protected jws.Headers
}

// SignJWS returns a compact JWS (RS256) over payload whose protected header
// carries x5c = [certDER] and any extra fields in hdr (typ, nonce, …).
// signer is the signature key: for a card, a card.Signer that sends the
// DigestInfo to the applet, so the key never leaves the chip.
func SignJWS(payload, certDER []byte, signer crypto.Signer, hdr map[string]any) ([]byte, error) {
	h := jws.NewHeaders()
	for k, v := range hdr {
		if err := h.Set(k, v); err != nil {
			return nil, fmt.Errorf("jpki: jws header %s: %w", k, err)
		}
	}
	var chain cert.Chain
	if err := chain.Add([]byte(base64.StdEncoding.EncodeToString(certDER))); err != nil {
		return nil, fmt.Errorf("jpki: jws x5c: %w", err)
	}
	if err := h.Set(jws.X509CertChainKey, &chain); err != nil {
		return nil, fmt.Errorf("jpki: jws x5c: %w", err)
	}
	out, err := jws.Sign(payload, jws.WithKey(jwa.RS256(), signer, jws.WithProtectedHeaders(h)))
	if err != nil {
		return nil, fmt.Errorf("jpki: sign jws: %w", err)
	}
	return out, nil
}

// VerifyJWS checks a compact JWS signed with a JPKI signature key, the form
// the issuer accepts for card-signed applications: exactly one signature,
// alg RS256, x5c in the protected header whose first certificate is the
// signature certificate (further entries are ignored: trust comes from the
// configured roots), which is verified with chain and revocation.
// opts.Kind is forced to KindSignature.
func (v *Verifier) VerifyJWS(ctx context.Context, compact []byte, opts VerifyOptions) (*JWSResult, error) {
	if len(compact) > MaxJWSLen {
		return nil, newError(CodeMalformed, "JWS is %d bytes, over the %d-byte limit", len(compact), MaxJWSLen)
	}
	msg, err := jws.Parse(compact, jws.WithCompact())
	if err != nil {
		return nil, wrapError(CodeMalformed, err, "parse JWS")
	}
	sigs := msg.Signatures()
	if len(sigs) != 1 {
		return nil, newError(CodeMalformed, "JWS has %d signatures, want 1", len(sigs))
	}
	prot := sigs[0].ProtectedHeaders()
	alg, ok := prot.Algorithm()
	if !ok || alg != jwa.RS256() {
		return nil, newError(CodeUnsupported, "JWS alg %v, want RS256", alg)
	}
	chain, ok := prot.X509CertChain()
	if !ok || chain.Len() == 0 {
		return nil, newError(CodeMalformed, "JWS protected header has no x5c")
	}
	b64, _ := chain.Get(0)
	der, err := base64.StdEncoding.DecodeString(string(b64))
	if err != nil {
		return nil, wrapError(CodeMalformed, err, "JWS x5c[0]")
	}
	c, err := ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	if c.Kind != KindSignature {
		return nil, newError(CodeProfile, "%s certificate in JWS x5c; a signature certificate is required", c.Kind)
	}
	payload, err := jws.Verify(compact, jws.WithKey(jwa.RS256(), c.X509.PublicKey))
	if err != nil {
		return nil, wrapError(CodeSignatureInvalid, err, "JWS by signature certificate serial %s", c.X509.SerialNumber)
	}
	opts.Kind = KindSignature
	vr, err := v.Verify(ctx, c, opts)
	if err != nil {
		return nil, err
	}
	return &JWSResult{Verified: vr, Payload: payload, Facts: c.Facts, Protected: prot}, nil
}
