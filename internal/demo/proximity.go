package demo

import (
	"crypto/ecdh"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/verifier"
)

// Presentation is one mdoc presentation as a verifier received it: the
// exact bytes an outside verifier needs to reach the same verdict.
type Presentation struct {
	// DeviceResponse is the decrypted DeviceResponse, verbatim.
	DeviceResponse []byte
	// Transcript is the SessionTranscript the device authenticated over.
	Transcript *mdoc.SessionTranscript
	// EReaderKey is the reader's ephemeral key (proximity only): needed to
	// check a deviceMac.
	EReaderKey *ecdh.PrivateKey
	// DeviceRequest is the request sent, encoded (nil for OpenID4VP, whose
	// request is a DCQL query).
	DeviceRequest []byte
	// Request is what was asked, for the request comparison.
	Request verifier.Request
	// Result is the verifier's verdict.
	Result *verifier.Result
	// StatusLists are the Token Status List tokens the verdict used, by
	// uri (empty when none was fetched).
	StatusLists map[string][]byte
	// MAC is true when the wallet was asked for deviceMac.
	MAC bool
}
