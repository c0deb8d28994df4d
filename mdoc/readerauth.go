package mdoc

import (
	"crypto"
	"crypto/x509"
	"io"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// ReaderAuthenticationBytes builds #6.24(bstr .cbor ReaderAuthentication)
// with ReaderAuthentication = ["ReaderAuthentication", SessionTranscript,
// ItemsRequestBytes] (ISO/IEC 18013-5:2021 §9.1.4). sessionTranscript is
// the untagged array, embedded verbatim.
func ReaderAuthenticationBytes(sessionTranscript []byte, itemsRequest EncodedCBOR) ([]byte, error) {
	inner, err := Marshal([]any{"ReaderAuthentication", cbor.RawMessage(sessionTranscript), itemsRequest})
	if err != nil {
		return nil, err
	}
	w, err := WrapEncodedCBOR(inner)
	if err != nil {
		return nil, err
	}
	return w.Raw, nil
}

// SignReaderAuth adds ReaderAuth: a detached COSE_Sign1 by the reader key
// with the reader certificate chain (reader certificate first) in x5chain.
func (d *DocRequest) SignReaderAuth(rand io.Reader, signer crypto.Signer, chain [][]byte, sessionTranscript []byte) error {
	payload, err := ReaderAuthenticationBytes(sessionTranscript, d.ItemsRequestBytes)
	if err != nil {
		return err
	}
	sig, err := sign1(rand, signer, payload, chain, nil, true, false)
	if err != nil {
		return err
	}
	d.ReaderAuth = sig
	return nil
}

// ReaderAuthResult is a verified reader: its certificate and the chain
// result it was trusted through.
type ReaderAuthResult struct {
	Certificate *x509.Certificate
	Chain       *ChainResult
}

// VerifyReaderAuth checks the DocRequest's ReaderAuth against trust (reader
// roots) at time at: the chain, the reader certificate's profile, and the
// signature over ReaderAuthenticationBytes. A missing ReaderAuth is an
// error: the caller decides whether unauthenticated readers may proceed.
func (d *DocRequest) VerifyReaderAuth(trust Trust, sessionTranscript []byte, at time.Time) (*ReaderAuthResult, error) {
	if len(d.ReaderAuth) == 0 {
		return nil, newError(CodeReaderAuthInvalid, "no readerAuth")
	}
	msg, err := ParseSign1(d.ReaderAuth)
	if err != nil {
		return nil, wrapError(CodeReaderAuthInvalid, err, "readerAuth")
	}
	chain := msg.X5Chain
	if len(chain) == 0 {
		return nil, newError(CodeReaderAuthInvalid, "readerAuth without x5chain")
	}
	if trust == nil {
		return nil, newError(CodeReaderAuthInvalid, "no reader trust configured")
	}
	cr, err := trust.VerifyChain(chain, at)
	if err != nil {
		return nil, wrapError(CodeReaderAuthInvalid, err, "reader certificate")
	}
	payload, err := ReaderAuthenticationBytes(sessionTranscript, d.ItemsRequestBytes)
	if err != nil {
		return nil, err
	}
	if err := msg.Verify(cr.PublicKey, payload); err != nil {
		return nil, wrapError(CodeReaderAuthInvalid, err, "readerAuth signature")
	}
	return &ReaderAuthResult{Certificate: cr.Leaf, Chain: cr}, nil
}
