package verifier

import (
	"crypto/rand"
	"fmt"
	"io"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
)

// Items returns an ItemsRequest for docType asking for elements
// (namespace → identifiers) with intentToRetain false: the verifier does
// not keep what it reads unless a caller says otherwise.
func Items(docType string, elements map[string][]string) mdoc.ItemsRequest {
	ir := mdoc.ItemsRequest{DocType: docType, NameSpaces: map[string]map[string]bool{}}
	for ns, ids := range elements {
		ir.NameSpaces[ns] = map[string]bool{}
		for _, id := range ids {
			ir.NameSpaces[ns][id] = false
		}
	}
	return ir
}

// NewDeviceRequest builds a DeviceRequest (ISO/IEC 18013-5:2021
// §8.3.2.1.2.1) for items. When creds is not nil every DocRequest carries
// ReaderAuth signed over sessionTranscript (untagged), so the wallet can
// authenticate the reader and apply its role rules. rnd nil means
// crypto/rand.
func NewDeviceRequest(items []mdoc.ItemsRequest, creds *trust.ReaderCredentials, sessionTranscript []byte, rnd io.Reader) (*mdoc.DeviceRequest, error) {
	if len(items) == 0 {
		return nil, fmt.Errorf("verifier: device request without documents")
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	dr := &mdoc.DeviceRequest{Version: mdoc.DeviceRequestVersion}
	for _, it := range items {
		d, err := mdoc.NewDocRequest(it)
		if err != nil {
			return nil, fmt.Errorf("verifier: request %s: %w", it.DocType, err)
		}
		if creds != nil {
			if err := d.SignReaderAuth(rnd, creds.Key, creds.Chain, sessionTranscript); err != nil {
				return nil, fmt.Errorf("verifier: sign ReaderAuth for %s: %w", it.DocType, err)
			}
		}
		dr.DocRequests = append(dr.DocRequests, *d)
	}
	return dr, nil
}
