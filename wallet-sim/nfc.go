package walletsim

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/apdu"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/wallet-sim/se"
)

// NFC limits of the simulated phone (ISO/IEC 18013-5:2021 §8.3.3.1.2).
const (
	// DefaultNFCMaxCommandData and DefaultNFCMaxResponseData are what the
	// phone offers in its NFC carrier record: extended-length APDUs, which
	// ISO/IEC 18013-5 requires mdocs to support.
	DefaultNFCMaxCommandData  = 0xFFFF
	DefaultNFCMaxResponseData = 0x10000
	// DefaultNFCAnswerTimeout bounds how long an ENVELOPE waits for the
	// wallet's answer. A real phone keeps the reader waiting with
	// ISO/IEC 14443-4 waiting-time extensions; the holder consented before
	// the tap, so answering takes milliseconds, not seconds.
	DefaultNFCAnswerTimeout = 10 * time.Second
	// nfcNegotiatedFileSize is the NDEF file of negotiated handover: room
	// for a reader's Handover Request and the phone's Handover Select.
	nfcNegotiatedFileSize = 4096
	// nfcNDEFMLe is the largest READ BINARY answer of the NDEF tag (the CC's
	// MLe): what a short Le can ask for, so that any reader can read it.
	nfcNDEFMLe = 0xFF
)

// Application identifiers the phone answers to.
var (
	aidNDEF = []byte(mdoc.NDEFApplicationAID)
	aidMdoc = []byte(mdoc.MdocDataTransferAID)
)

// NFCOptions configure a presentation by NFC tap.
type NFCOptions struct {
	// Consent decides what is released. Required.
	Consent Consent
	// MAC selects deviceMac instead of deviceSignature.
	MAC bool
	// MaxCommandData and MaxResponseData are the limits announced in the
	// NFC carrier record; zero means the defaults above.
	MaxCommandData, MaxResponseData int
	// AnswerTimeout zero means DefaultNFCAnswerTimeout.
	AnswerTimeout time.Duration
	// Negotiated makes the phone ask for negotiated handover (TNEP): its
	// NDEF file offers the handover service, the reader writes its
	// Handover Request, and the phone answers with its Handover Select.
	// Without it the Handover Select is read as it is (static handover).
	Negotiated bool
	// JPKI serves the secure element's JPKI applet (the GP-SE token, with
	// its own PIN counters) beside the mdoc application under the JPKI
	// AID, as Android phones do for clinic readers. The wallet must hold
	// JPKI phone certificates.
	JPKI bool
}

// NFCDevice is the phone in an NFC reader's field: a card-emulated
// ISO/IEC 7816-4 device hosting the NFC Forum Type 4 Tag NDEF application
// (engagement by static handover: the Handover Select with the
// DeviceEngagement and an NFC carrier record), the mdoc application
// (ISO/IEC 18013-5:2021 §8.3.3.1.2: session messages in ENVELOPE commands
// and their responses, GET RESPONSE for the rest) and optionally the JPKI
// applet. Process answers one command APDU; the session runs the same
// consent, ReaderAuth enforcement and element rules as over BLE.
type NFCDevice struct {
	p    *Proximity
	opts NFCOptions

	cc, ndefFile []byte
	// hsTemplate is the Handover Select the phone answers a Handover
	// Request with (negotiated handover); tnepSelected is set once the
	// reader has selected the handover service.
	hsTemplate   []byte
	tnepSelected bool

	router *apdu.Router
	applet *se.JPKIApplet // nil unless NFCOptions.JPKI

	mu       sync.Mutex
	file     uint16 // selected Type 4 Tag file, 0 for none
	env      *mdoc.EnvelopeReader
	pending  []byte // response bytes not yet fetched by GET RESPONSE
	started  bool
	ended    bool
	in, out  chan []byte
	endedCh  chan struct{}
	endOnce  sync.Once
	removed  chan struct{}
	remOnce  sync.Once
	done     chan struct{}
	result   *SessionResult
	err      error
	ctx      context.Context
	cancel   context.CancelFunc
	exchange int
}

// StartNFC prepares a presentation by NFC: a fresh ephemeral key in the
// secure element, a DeviceEngagement without retrieval methods (the
// carriers are in the Handover Select) and the Handover Select offering
// NFC data retrieval. The session starts with the reader's first ENVELOPE.
func (w *Wallet) StartNFC(ctx context.Context, o NFCOptions) (*NFCDevice, error) {
	const op = "present"
	if o.Consent == nil {
		return nil, newErr(op, CodeConsentDenied, "no consent configured")
	}
	if err := w.requireCredentials(op); err != nil {
		return nil, err
	}
	if o.MaxCommandData <= 0 || o.MaxCommandData > DefaultNFCMaxCommandData {
		o.MaxCommandData = DefaultNFCMaxCommandData
	}
	if o.MaxResponseData <= 0 || o.MaxResponseData > DefaultNFCMaxResponseData {
		o.MaxResponseData = DefaultNFCMaxResponseData
	}
	if o.AnswerTimeout <= 0 {
		o.AnswerTimeout = DefaultNFCAnswerTimeout
	}
	eDevice, err := w.el.NewEphemeralKey()
	if err != nil {
		return nil, err
	}
	de, err := mdoc.NewDeviceEngagement(eDevice.PublicKey())
	if err != nil {
		return nil, fmt.Errorf("walletsim: device engagement: %w", err)
	}
	hs, err := mdoc.NewHandoverSelect(de, mdoc.NFCCarrier(mdoc.NFCOptions{
		MaxCommandDataLength: uint(o.MaxCommandData), MaxResponseDataLength: uint(o.MaxResponseData),
	}))
	if err != nil {
		return nil, fmt.Errorf("walletsim: handover select: %w", err)
	}
	cc := &mdoc.CapabilityContainer{
		MappingVersion: mdoc.T4TMappingVersion,
		MLe:            nfcNDEFMLe,
		MLc:            nfcNDEFMLe,
		NDEFFileID:     mdoc.DefaultNDEFFileID,
		ReadAccess:     mdoc.AccessGranted,
		WriteAccess:    mdoc.AccessDenied, // static handover: read-only
	}
	p := &Proximity{
		w:          w,
		opts:       ProximityOptions{Engagement: EngagementNFC, Consent: o.Consent, MAC: o.MAC},
		eDevice:    eDevice,
		engagement: de,
	}
	var ndefFile []byte
	if o.Negotiated {
		// The file offers the handover service and takes the reader's
		// writes; the Handover Select comes after the Handover Request.
		sp := mdoc.ServiceParameter{Version: mdoc.TNEPVersion, Service: mdoc.TNEPHandoverService, MaxNDEFSize: nfcNegotiatedFileSize - 2}
		ndefFile = ndefContent(mdoc.EncodeNDEF([]mdoc.NDEFRecord{sp.Record()}))
		cc.NDEFMaxSize, cc.WriteAccess = nfcNegotiatedFileSize, mdoc.AccessGranted
	} else {
		p.hs, p.handover = hs, mdoc.NFCHandover(hs, nil)
		ndefFile = ndefContent(hs)
		cc.NDEFMaxSize = uint16(len(ndefFile))
	}
	d := &NFCDevice{
		p: p, opts: o, cc: cc.Bytes(), ndefFile: ndefFile, hsTemplate: hs,
		in: make(chan []byte, 1), out: make(chan []byte, 1),
		endedCh: make(chan struct{}), removed: make(chan struct{}), done: make(chan struct{}),
	}
	apps := []apdu.Application{tagApp{d}, mdocApp{d}}
	if o.JPKI {
		if d.applet, err = w.el.OpenJPKI(); err != nil {
			return nil, &Error{Op: op, Code: CodeJPKI, Err: err}
		}
		apps = append(apps, jpkiApp{d})
	}
	if d.router, err = apdu.NewRouter(apps...); err != nil {
		return nil, fmt.Errorf("walletsim: NFC applications: %w", err)
	}
	d.ctx, d.cancel = context.WithCancel(ctx)
	return d, nil
}

// The three applications the phone hosts behind its router.
type (
	tagApp  struct{ d *NFCDevice }
	mdocApp struct{ d *NFCDevice }
	jpkiApp struct{ d *NFCDevice }
)

func (tagApp) AID() []byte  { return aidNDEF }
func (mdocApp) AID() []byte { return aidMdoc }
func (jpkiApp) AID() []byte { return []byte(jpkiAppletAID) }

func (a tagApp) Process(command []byte) []byte { return a.d.tag(command) }
func (a mdocApp) Process(command []byte) []byte {
	return a.d.mdocApp(command)
}
func (a jpkiApp) Process(command []byte) []byte { return a.d.jpki(command) }

// Deselect forgets the selected file.
func (a tagApp) Deselect() {
	a.d.mu.Lock()
	a.d.file = 0
	a.d.mu.Unlock()
}

// Deselect drops a half-received ENVELOPE chain and unfetched response
// bytes; a session in progress goes on (a reader may come back to it).
func (a mdocApp) Deselect() {
	a.d.mu.Lock()
	a.d.env, a.d.pending = nil, nil
	a.d.mu.Unlock()
}

// Deselect: the applet ends its own session at the next SELECT.
func (jpkiApp) Deselect() {}

// jpkiAppletAID is the JPKI AP's AID on cards and GP-SE phones.
const jpkiAppletAID = "\xD3\x92\xF0\x00\x26\x01\x00\x00\x00\x01"

// HandoverSelect returns the Handover Select NDEF message the tag serves.
func (d *NFCDevice) HandoverSelect() []byte { return d.p.hs }

// ATR returns the answer to reset a PC/SC reader reports for the phone:
// the pseudo-ATR of an ISO/IEC 14443-4 device without historical bytes
// (PC/SC Part 3 §3.1.3.2.3: 3B 80 80 01 and TCK).
func (d *NFCDevice) ATR() []byte { return []byte{0x3B, 0x80, 0x80, 0x01, 0x01} }

// Reset is a power-on or reset of the field: every application is
// deselected. A session in progress is not ended by it (a reader may
// reset between engagement and data transfer).
func (d *NFCDevice) Reset() { d.router.Reset() }

// Remove ends the tap: the phone left the field. A session in progress
// ends as "closed".
func (d *NFCDevice) Remove() {
	d.remOnce.Do(func() { close(d.removed) })
}

// Done is closed when the mdoc session has ended.
func (d *NFCDevice) Done() <-chan struct{} { return d.done }

// Result returns the session's outcome once Done is closed.
func (d *NFCDevice) Result() (*SessionResult, error) {
	<-d.done
	return d.result, d.err
}

// Wait waits for the session to end, the phone to leave the field or ctx.
func (d *NFCDevice) Wait(ctx context.Context) (*SessionResult, error) {
	select {
	case <-d.done:
		return d.result, d.err
	case <-ctx.Done():
		d.Remove()
		d.cancel()
		return nil, &Error{Op: "present", Code: CodeSessionProtocol, Detail: "no NFC session completed", Err: ctx.Err()}
	}
}

// Close releases the device; a session in progress ends.
func (d *NFCDevice) Close() error {
	d.Remove()
	d.cancel()
	if d.applet != nil {
		return d.applet.Close()
	}
	return nil
}

// Exchanges returns how many command APDUs the phone has answered.
func (d *NFCDevice) Exchanges() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.exchange
}

func sw(code uint16) []byte { return []byte{byte(code >> 8), byte(code)} }

// Process answers one command APDU (ISO/IEC 7816-4): the router passes
// it to the selected application.
func (d *NFCDevice) Process(command []byte) []byte {
	d.mu.Lock()
	d.exchange++
	d.mu.Unlock()
	return d.router.Process(command)
}

// tag serves the read-only NFC Forum Type 4 Tag (T4T §5.4): SELECT of the
// CC or NDEF file by identifier, and READ BINARY within the file.
func (d *NFCDevice) tag(command []byte) []byte {
	cmd, err := apdu.ParseCommand(command)
	if err != nil {
		return sw(apdu.SWWrongLength)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch cmd.INS {
	case apdu.InsSelect:
		if cmd.P1 == apdu.SelectByDFName {
			d.file = 0 // the application itself, selected by the router
			return sw(apdu.SWOK)
		}
		// SELECT by file identifier
		if cmd.P1 != 0x00 || len(cmd.Data) != 2 {
			return sw(apdu.SWIncorrectP1P2)
		}
		switch id := binary.BigEndian.Uint16(cmd.Data); id {
		case mdoc.CapabilityContainerFileID, mdoc.DefaultNDEFFileID:
			d.file = id
			return sw(apdu.SWOK)
		default:
			d.file = 0
			return sw(apdu.SWFileNotFound)
		}
	case 0xB0: // READ BINARY
		var f []byte
		switch d.file {
		case mdoc.CapabilityContainerFileID:
			f = d.cc
		case mdoc.DefaultNDEFFileID:
			f = d.ndefFile
		default:
			return sw(apdu.SWConditionsNotSatisfied)
		}
		if cmd.P1&0x80 != 0 {
			return sw(apdu.SWIncorrectP1P2) // short EF identifier: not offered
		}
		off := int(cmd.P1)<<8 | int(cmd.P2)
		if off > len(f) {
			return sw(apdu.SWWrongOffset)
		}
		if cmd.Ne == 0 {
			return sw(apdu.SWWrongLength)
		}
		want := min(cmd.Ne, nfcNDEFMLe)
		n := min(want, len(f)-off)
		out := bytes.Clone(f[off : off+n])
		if n < want {
			// The end of the file came before Ne bytes.
			return append(out, sw(apdu.SWEndOfFile)...)
		}
		return append(out, sw(apdu.SWOK)...)
	case 0xD6: // UPDATE BINARY
		return d.updateNDEF(cmd)
	}
	return sw(apdu.SWINSNotSupported)
}

func (d *NFCDevice) jpki(command []byte) []byte {
	resp, err := d.applet.Transmit(d.ctx, command)
	if err != nil || len(resp) < 2 {
		return sw(apdu.SWMemoryFailure)
	}
	return resp
}

// mdocApp handles ENVELOPE and GET RESPONSE of the mdoc application
// (ISO/IEC 18013-5:2021 §8.3.3.1.2).
func (d *NFCDevice) mdocApp(raw []byte) []byte {
	cmd, err := apdu.ParseCommand(raw)
	if err != nil {
		return sw(apdu.SWWrongLength)
	}
	switch cmd.INS {
	case apdu.InsSelect:
		return sw(apdu.SWOK)
	case mdoc.InsEnvelope:
		return d.envelope(cmd, raw)
	case mdoc.InsGetResponse:
		d.mu.Lock()
		defer d.mu.Unlock()
		if len(d.pending) == 0 {
			return sw(apdu.SWConditionsNotSatisfied)
		}
		return d.nextChunk(cmd.Ne)
	}
	return sw(apdu.SWINSNotSupported)
}

// nextChunk returns up to ne pending response bytes (at most the phone's
// MaxResponseData): 9000 when they are the last, else 61XX with XX the
// bytes still available, 00 for 256 or more (ISO/IEC 18013-5:2021
// §8.3.3.1.2, ISO/IEC 7816-4 §5.3.4). Called with d.mu held.
func (d *NFCDevice) nextChunk(ne int) []byte {
	n := min(ne, d.opts.MaxResponseData, len(d.pending))
	out := bytes.Clone(d.pending[:n])
	d.pending = d.pending[n:]
	switch rest := len(d.pending); {
	case rest == 0:
		d.pending = nil
		return append(out, sw(apdu.SWOK)...)
	case rest < 256:
		return append(out, 0x61, byte(rest))
	default:
		return append(out, 0x61, 0x00)
	}
}

func (d *NFCDevice) envelope(cmd *apdu.Command, raw []byte) []byte {
	d.mu.Lock()
	if d.ended {
		d.mu.Unlock()
		return sw(apdu.SWConditionsNotSatisfied)
	}
	// A new ENVELOPE abandons whatever GET RESPONSE did not fetch.
	d.pending = nil
	if d.env == nil {
		d.env = mdoc.NewEnvelopeReader(0)
	}
	last, err := d.env.WriteCommand(raw)
	if err != nil {
		d.env = nil
		d.mu.Unlock()
		if mdoc.CodeOf(err) == mdoc.CodeLimitExceeded {
			return sw(apdu.SWWrongLength)
		}
		return sw(apdu.SWIncorrectData)
	}
	if !last {
		d.mu.Unlock()
		return sw(apdu.SWOK)
	}
	msg, err := d.env.Message()
	d.env = nil
	if err != nil {
		d.mu.Unlock()
		return sw(apdu.SWIncorrectData)
	}
	if !d.started {
		d.started = true
		go d.run()
	}
	d.mu.Unlock()

	select {
	case d.in <- bytes.Clone(msg):
	case <-d.endedCh:
		return sw(apdu.SWConditionsNotSatisfied)
	}
	timer := time.NewTimer(d.opts.AnswerTimeout)
	defer timer.Stop()
	select {
	case reply := <-d.out:
		d.mu.Lock()
		defer d.mu.Unlock()
		d.pending = mdoc.EncodeEnvelopeTLV(reply)
		return d.nextChunk(cmd.Ne)
	case <-d.endedCh:
		// The session ended without an answer: the reader's status 20
		// (nothing to answer) or a failure already reported with its
		// status in the session.
		return sw(apdu.SWOK)
	case <-timer.C:
		return sw(0x6F00) // no precise diagnosis: the wallet did not answer in time
	}
}

// run is the session: the same state machine as over BLE.
func (d *NFCDevice) run() {
	res, err := d.p.session(d.ctx, nfcConn{d})
	d.end()
	d.result, d.err = res, err
	close(d.done)
}

func (d *NFCDevice) end() {
	d.endOnce.Do(func() {
		d.mu.Lock()
		d.ended = true
		d.mu.Unlock()
		close(d.endedCh)
	})
}

// nfcConn adapts the APDU exchange to the session's message transport:
// a message is one complete ENVELOPE chain and its answer the response
// chain to the last ENVELOPE.
type nfcConn struct{ d *NFCDevice }

func (c nfcConn) Send(msg []byte) error {
	select {
	case c.d.out <- msg:
		return nil
	case <-c.d.removed:
		return io.ErrClosedPipe
	case <-c.d.ctx.Done():
		return c.d.ctx.Err()
	}
}

func (c nfcConn) Receive() ([]byte, error) {
	select {
	case m := <-c.d.in:
		return m, nil
	case <-c.d.removed:
		return nil, io.EOF
	case <-c.d.ctx.Done():
		return nil, errors.Join(io.EOF, c.d.ctx.Err())
	}
}

// End ends the session on the phone's side; the pending ENVELOPE, if any,
// is answered 9000 without data.
func (c nfcConn) End() error {
	c.d.end()
	return nil
}

// ndefContent is an NDEF file's content: NLEN ‖ message.
func ndefContent(msg []byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...)
}

// updateNDEF takes a reader's write into the NDEF file of negotiated
// handover (NFC Forum T4T §5.4.5 and TNEP 1.0 §5): the reader sets NLEN to
// 0, writes the message, then writes NLEN; a non-zero NLEN completes the
// message, which the phone answers by replacing the file's content.
// Called with d.mu held.
func (d *NFCDevice) updateNDEF(cmd *apdu.Command) []byte {
	if d.file != mdoc.DefaultNDEFFileID || !d.opts.Negotiated {
		return sw(apdu.SWSecurityNotSatisfied) // static handover: read-only
	}
	if cmd.P1&0x80 != 0 {
		return sw(apdu.SWIncorrectP1P2)
	}
	off := int(cmd.P1)<<8 | int(cmd.P2)
	if len(cmd.Data) == 0 || len(cmd.Data) > nfcNDEFMLe || off+len(cmd.Data) > nfcNegotiatedFileSize {
		return sw(apdu.SWWrongLength)
	}
	if need := off + len(cmd.Data); need > len(d.ndefFile) {
		d.ndefFile = append(d.ndefFile, make([]byte, need-len(d.ndefFile))...)
	}
	copy(d.ndefFile[off:], cmd.Data)
	if off > 1 {
		return sw(apdu.SWOK)
	}
	nlen := int(binary.BigEndian.Uint16(d.ndefFile))
	if nlen == 0 {
		return sw(apdu.SWOK)
	}
	if 2+nlen > len(d.ndefFile) {
		d.ndefFile = ndefContent(mdoc.EncodeNDEF([]mdoc.NDEFRecord{mdoc.TNEPStatusRecord(mdoc.TNEPStatusProtocolError)}))
		return sw(apdu.SWOK)
	}
	d.ndefFile = ndefContent(d.negotiate(bytes.Clone(d.ndefFile[2 : 2+nlen])))
	return sw(apdu.SWOK)
}

// negotiate answers one message the reader wrote: a Service Select of the
// handover service with a success Status, then a Handover Request with the
// Handover Select. Anything else gets a protocol-error Status and leaves
// the phone where it was.
func (d *NFCDevice) negotiate(msg []byte) []byte {
	fail := mdoc.EncodeNDEF([]mdoc.NDEFRecord{mdoc.TNEPStatusRecord(mdoc.TNEPStatusProtocolError)})
	recs, err := mdoc.ParseNDEF(msg)
	if err != nil || recs[0].TNF != mdoc.TNFWellKnown {
		return fail
	}
	switch string(recs[0].Type) {
	case "Ts":
		name, err := mdoc.ParseServiceSelect(recs[0].Payload)
		if err != nil || name != mdoc.TNEPHandoverService {
			return fail
		}
		d.tnepSelected = true
		return mdoc.EncodeNDEF([]mdoc.NDEFRecord{mdoc.TNEPStatusRecord(mdoc.TNEPStatusSuccess)})
	case "Hr":
		if !d.tnepSelected {
			return fail
		}
		hr, err := mdoc.ParseHandoverRequest(msg)
		if err != nil {
			return fail
		}
		if o, err := hr.NFCCarrierOptions(); err != nil || o == nil {
			return fail // the reader offers no NFC data retrieval, the only carrier here
		}
		// The transcript carries both messages exactly as exchanged.
		d.p.hs, d.p.handover = d.hsTemplate, mdoc.NFCHandover(d.hsTemplate, hr.Raw)
		return d.hsTemplate
	}
	return fail
}
