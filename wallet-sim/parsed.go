package walletsim

import (
	"bytes"

	"github.com/mynumber-mdoc/mnc/mdoc"
)

// parsedCredential is a credential's IssuerSigned as decoded, with the
// bytes it was decoded from.
type parsedCredential struct {
	raw []byte
	is  *mdoc.IssuerSigned
}

// issuerSigned returns cred's IssuerSigned, decoded once and kept while the
// wallet holds the credential: a presentation reads its credential twice
// (planning a DCQL answer, then answering) and decoding it was an eighth of
// a simulated wallet's CPU in a load run. An entry is used only for the
// same bytes, so a refreshed credential is decoded anew. Callers must not
// modify the result, nor hold w.mu: a new entry is stored under w.mu and
// then w.parsedMu, the order forgetParsed's callers use.
func (w *Wallet) issuerSigned(cred *Credential) (*mdoc.IssuerSigned, error) {
	w.parsedMu.Lock()
	e, ok := w.parsed[cred.ID]
	w.parsedMu.Unlock()
	if ok && bytes.Equal(e.raw, cred.IssuerSigned) {
		return e.is, nil
	}
	is, err := mdoc.ParseIssuerSigned(cred.IssuerSigned)
	if err != nil {
		return nil, err
	}
	// Stored under w.mu, so that a remote delete (which forgets every
	// entry under w.mu) cannot slip between the check and the store.
	w.mu.Lock()
	defer w.mu.Unlock()
	held := make(map[string]bool, len(w.d.Credentials))
	for _, c := range w.d.Credentials {
		held[c.ID] = true
	}
	w.parsedMu.Lock()
	defer w.parsedMu.Unlock()
	// Entries of credentials deleted, replaced or wiped go; so does
	// cred's own, unless the wallet still holds it.
	for id := range w.parsed {
		if !held[id] {
			delete(w.parsed, id)
		}
	}
	if held[cred.ID] {
		if w.parsed == nil {
			w.parsed = map[string]parsedCredential{}
		}
		w.parsed[cred.ID] = parsedCredential{raw: bytes.Clone(cred.IssuerSigned), is: is}
	}
	return is, nil
}

// forgetParsed drops every decoded credential (a remote delete).
func (w *Wallet) forgetParsed() {
	w.parsedMu.Lock()
	clear(w.parsed)
	w.parsedMu.Unlock()
}
