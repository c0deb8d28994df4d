package walletsim

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/blesim"
)

// Engagement methods.
const (
	EngagementQR  = "qr"
	EngagementNFC = "nfc"
)

// ProximityOptions configure one proximity presentation.
type ProximityOptions struct {
	// Engagement is EngagementQR (default) or EngagementNFC (static
	// handover: the Handover Select is what a reader reads over NFC).
	Engagement string
	// Consent decides what is released. Required.
	Consent Consent
	// MAC selects deviceMac instead of deviceSignature.
	MAC bool
	// Radio is the simulated BLE air; zero means the wallet's Options.Radio
	// or blesim.DefaultRadio().
	Radio blesim.Radio
}

// Proximity is a proximity presentation in progress: the engagement is
// shown and the simulated BLE peripheral advertises until a reader
// connects (Serve) or Close.
type Proximity struct {
	w          *Wallet
	opts       ProximityOptions
	eDevice    ecdh.KeyExchanger
	engagement *mdoc.DeviceEngagement
	handover   []byte
	hs         []byte
	uuid       []byte
	periph     *blesim.Peripheral
}

// StartProximity makes a fresh ephemeral key in the secure element, builds
// the DeviceEngagement (BLE retrieval, mdoc peripheral server mode, with a
// random service UUID), and starts advertising that UUID on the simulated
// radio.
func (w *Wallet) StartProximity(o ProximityOptions) (*Proximity, error) {
	const op = "present"
	if o.Consent == nil {
		return nil, newErr(op, CodeConsentDenied, "no consent configured")
	}
	if err := w.requireCredentials(op); err != nil {
		return nil, err
	}
	if o.Engagement == "" {
		o.Engagement = EngagementQR
	}
	if o.Engagement != EngagementQR && o.Engagement != EngagementNFC {
		return nil, newErr(op, CodeSessionProtocol, "engagement %q: use qr or nfc", o.Engagement)
	}
	if o.Radio.Dir == "" {
		o.Radio = w.opts.Radio
		if o.Radio.Dir == "" {
			o.Radio = blesim.DefaultRadio()
		}
	}
	eDevice, err := w.el.NewEphemeralKey()
	if err != nil {
		return nil, err
	}
	uuid := make([]byte, 16)
	rand.Read(uuid)
	uuid[6] = uuid[6]&0x0f | 0x40 // RFC 4122 version 4
	uuid[8] = uuid[8]&0x3f | 0x80
	ble, err := mdoc.NewBLERetrieval(mdoc.BLEOptions{PeripheralServerMode: true, PeripheralServerUUID: uuid})
	if err != nil {
		return nil, fmt.Errorf("walletsim: BLE retrieval: %w", err)
	}
	de, err := mdoc.NewDeviceEngagement(eDevice.PublicKey(), ble)
	if err != nil {
		return nil, fmt.Errorf("walletsim: device engagement: %w", err)
	}
	p := &Proximity{w: w, opts: o, eDevice: eDevice, engagement: de, uuid: uuid}
	switch o.Engagement {
	case EngagementQR:
		p.handover = mdoc.QRHandover()
	case EngagementNFC:
		hs, err := mdoc.NewHandoverSelect(de, mdoc.HandoverCarrier{
			Record:     mdoc.NDEFRecord{TNF: mdoc.TNFMedia, Type: []byte(mdoc.BLECarrierRecordType), ID: []byte("0"), Payload: bleOOB(uuid)},
			PowerState: mdoc.CarrierPowerActive,
		})
		if err != nil {
			return nil, fmt.Errorf("walletsim: handover select: %w", err)
		}
		p.hs = hs
		p.handover = mdoc.NFCHandover(hs, nil)
	}
	if p.periph, err = o.Radio.Advertise(uuid); err != nil {
		return nil, &Error{Op: op, Code: CodeSessionProtocol, Detail: "advertise", Err: err}
	}
	return p, nil
}

// bleOOB is the Bluetooth LE OOB data of the BLE carrier configuration
// record (Bluetooth Core Supplement Part A): LE Role "peripheral only" and
// the complete list of 128-bit service UUIDs (little-endian on air).
func bleOOB(uuid []byte) []byte {
	b := []byte{0x02, 0x1c, 0x00, 0x11, 0x07}
	for i := len(uuid) - 1; i >= 0; i-- {
		b = append(b, uuid[i])
	}
	return b
}

// QR returns the QR code content: "mdoc:" + base64url(DeviceEngagement).
func (p *Proximity) QR() string { return mdoc.EncodeQR(p.engagement) }

// HandoverSelect returns the NFC Handover Select NDEF message (nil for QR
// engagement).
func (p *Proximity) HandoverSelect() []byte { return p.hs }

// DeviceEngagement returns the engagement shown to the reader.
func (p *Proximity) DeviceEngagement() *mdoc.DeviceEngagement { return p.engagement }

// ServiceUUID returns the advertised BLE service UUID.
func (p *Proximity) ServiceUUID() []byte { return p.uuid }

// Close stops advertising.
func (p *Proximity) Close() error {
	if p.periph == nil {
		return nil
	}
	return p.periph.Close()
}

// SessionResult is what a proximity session did.
type SessionResult struct {
	// Presentations are the requests answered, in order (a reader may send
	// several in one session).
	Presentations []HistoryEntry
	// EndedBy is "reader_status_20", "reader_end", "closed" or an error
	// code.
	EndedBy string
}

// Serve waits for a reader, runs the session and records every
// presentation in the history. Errors of the reader's making end the
// session with the status ISO/IEC 18013-5 §9.1.1.3 prescribes (10 for a
// message that does not decrypt — a wrong key, a replay, a reordering —
// 11 for one that does not decode) and are returned with their code.
func (p *Proximity) Serve(ctx context.Context) (*SessionResult, error) {
	defer p.periph.Close()
	conn, err := p.periph.Accept(ctx)
	if err != nil {
		return nil, &Error{Op: "present", Code: CodeSessionProtocol, Detail: "no reader connected", Err: err}
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	return p.session(ctx, conn)
}

// conn is the part of blesim.Conn a session uses.
type conn interface {
	Send([]byte) error
	Receive() ([]byte, error)
	End() error
}

func (p *Proximity) session(ctx context.Context, c conn) (*SessionResult, error) {
	const op = "session"
	w := p.w
	res := &SessionResult{}
	fail := func(status uint, code Code, err error) (*SessionResult, error) {
		if b, e := mdoc.NewSessionStatus(status).Encode(); e == nil {
			c.Send(b)
		}
		c.End()
		res.EndedBy = string(code)
		e := &Error{Op: op, Code: code, Err: err}
		w.record(HistoryEntry{Time: w.now().UTC(), Kind: "presentation", Transport: p.opts.Engagement, Outcome: "error", Code: string(code), Detail: err.Error()})
		return res, e
	}

	msg, err := c.Receive()
	if err != nil {
		res.EndedBy = "reader_end"
		return res, &Error{Op: op, Code: CodeSessionProtocol, Detail: "waiting for SessionEstablishment", Err: err}
	}
	est, err := mdoc.ParseSessionEstablishment(msg)
	if err != nil {
		return fail(mdoc.SessionStatusDecodingError, CodeSessionDecoding, err)
	}
	eReader, err := est.PublicKey()
	if err != nil {
		return fail(mdoc.SessionStatusDecodingError, CodeSessionDecoding, err)
	}
	if eReader.Curve() != p.eDevice.Curve() {
		return fail(mdoc.SessionStatusEncryptionError, CodeSessionEncryption, errors.New("EReaderKey is on another curve than EDeviceKey"))
	}
	deb := p.engagement.Bytes()
	st, err := mdoc.NewSessionTranscript(&deb, &est.EReaderKey, p.handover)
	if err != nil {
		return fail(mdoc.SessionStatusDecodingError, CodeSessionDecoding, err)
	}
	sess, err := mdoc.NewSessionEncryption(mdoc.RoleMDoc, p.eDevice, eReader, st.Bytes())
	if err != nil {
		return fail(mdoc.SessionStatusEncryptionError, CodeSessionEncryption, err)
	}
	ciphertext := est.Data
	// final is set when the reader's last message carried a request and
	// status 20 together: answer it, then end (ISO/IEC 18013-5 §9.1.1.4).
	final := false
	for {
		pt, err := sess.Decrypt(ciphertext)
		if err != nil {
			return fail(mdoc.SessionStatusEncryptionError, CodeSessionEncryption, err)
		}
		req, err := mdoc.ParseDeviceRequest(pt)
		if err != nil {
			return fail(mdoc.SessionStatusDecodingError, CodeSessionDecoding, err)
		}
		resp, h := w.respond(ctx, req, presentation{
			transport: p.opts.Engagement, transcript: st.Raw, eReaderKey: eReader, mac: p.opts.MAC, consent: p.opts.Consent,
		})
		w.record(h)
		res.Presentations = append(res.Presentations, h)
		rb, err := resp.Encode()
		if err != nil {
			return fail(mdoc.SessionStatusTermination, CodeSessionProtocol, err)
		}
		ct, err := sess.Encrypt(rb)
		if err != nil {
			return fail(mdoc.SessionStatusEncryptionError, CodeSessionEncryption, err)
		}
		reply := &mdoc.SessionData{Data: ct}
		if final {
			// The response goes out with our own status 20 in the same
			// message, then the transport ends.
			t := uint(mdoc.SessionStatusTermination)
			reply.Status = &t
		}
		out, err := reply.Encode()
		if err != nil {
			return fail(mdoc.SessionStatusTermination, CodeSessionProtocol, err)
		}
		if err := c.Send(out); err != nil {
			res.EndedBy = "closed"
			return res, &Error{Op: op, Code: CodeSessionProtocol, Detail: "send response", Err: err}
		}
		if final {
			c.End()
			res.EndedBy = "reader_status_20"
			return res, nil
		}
		// The reader either ends the session (status 20 or GATT State end)
		// or sends another request, possibly with status 20 (answer it,
		// then end).
		next, err := c.Receive()
		switch {
		case errors.Is(err, blesim.ErrEnded):
			res.EndedBy = "reader_end"
			return res, nil
		case errors.Is(err, io.EOF):
			res.EndedBy = "closed"
			return res, nil
		case err != nil:
			res.EndedBy = "closed"
			return res, &Error{Op: op, Code: CodeSessionProtocol, Err: err}
		}
		sd, err := mdoc.ParseSessionData(next)
		if err != nil {
			return fail(mdoc.SessionStatusDecodingError, CodeSessionDecoding, err)
		}
		if sd.Status != nil {
			if *sd.Status != mdoc.SessionStatusTermination {
				// 10 or 11: the reader could not read our last message;
				// any data beside it is not acted on.
				c.End()
				res.EndedBy = fmt.Sprintf("reader_status_%d", *sd.Status)
				return res, newErr(op, CodeSessionProtocol, "reader ended the session with status %d", *sd.Status)
			}
			if len(sd.Data) == 0 {
				c.End()
				res.EndedBy = "reader_status_20"
				return res, nil
			}
			final = true
		}
		ciphertext = sd.Data
	}
}
