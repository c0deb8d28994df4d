package reader

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"

	"github.com/mynumber-mdoc/mnc/internal/apdu"
	"github.com/mynumber-mdoc/mnc/internal/pcsc"
	"github.com/mynumber-mdoc/mnc/mdoc"
)

// Transmitter sends one command APDU to the tapped device and returns its
// response APDU: a PC/SC card handle, or anything else that speaks
// ISO/IEC 7816-4.
type Transmitter interface {
	Transmit(ctx context.Context, command []byte) ([]byte, error)
}

// Limits are what the reader's own NFC front end can carry in one APDU:
// extended length (65,535 command / 65,536 response data bytes) on most
// current readers, short APDUs (255 / 256) on older ones.
type Limits struct {
	MaxCommandData  int
	MaxResponseData int
}

// ExtendedLimits and ShortLimits are the two ISO/IEC 7816-4 length forms.
var (
	ExtendedLimits = Limits{MaxCommandData: 0xFFFF, MaxResponseData: 0x10000}
	ShortLimits    = Limits{MaxCommandData: 0xFF, MaxResponseData: 0x100}
)

// MaxNFCExchanges bounds the command APDUs of one mdoc message (ENVELOPE
// chain plus GET RESPONSE continuations) and of the NDEF read, so that a
// device answering 61XX forever, or a tag of 1-byte reads, cannot hold the
// reader: 4 MiB (mdoc.MaxMessageSize) in 256-byte short APDUs is 16,384.
const MaxNFCExchanges = mdoc.MaxMessageSize / 256

// NFCConfig configures an NFC session: Config without its Radio, and the
// reader's APDU limits (zero: ExtendedLimits; a *pcsc.Card's own Limits
// always bound them).
type NFCConfig struct {
	Config
	Limits Limits
}

// Engagement is what an NFC engagement read: the Handover Select NDEF
// message exactly as read (the SessionTranscript's handover embeds these
// bytes) and the NFC data-retrieval limits it offers.
type Engagement struct {
	HandoverSelect *mdoc.HandoverSelect
	NFC            *mdoc.NFCOptions
	// HandoverRequest is the Handover Request the reader wrote, exactly
	// as written, when the mdoc asked for negotiated handover; nil for
	// static handover.
	HandoverRequest []byte
}

func nfcError(code mdoc.Code, format string, args ...any) error {
	return &mdoc.Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

// transmit sends cmd and splits the response into data and status word.
func transmit(ctx context.Context, t Transmitter, what string, cmd *apdu.Command) (*apdu.Response, error) {
	b, err := cmd.Bytes()
	if err != nil {
		return nil, fmt.Errorf("reader: %s: %w", what, err)
	}
	rb, err := t.Transmit(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("reader: %s: %w", what, err)
	}
	r, err := apdu.ParseResponse(rb)
	if err != nil {
		return nil, &mdoc.Error{Code: mdoc.CodeMalformed, Detail: "reader: " + what, Err: err}
	}
	return r, nil
}

// SelectApplication selects an application by AID (ISO/IEC 7816-4
// §11.2.2, SELECT by DF name, first or only occurrence, no response data)
// and reports whether the device has it.
func SelectApplication(ctx context.Context, t Transmitter, aid []byte) (bool, error) {
	r, err := transmit(ctx, t, fmt.Sprintf("SELECT %X", aid), &apdu.Command{INS: 0xA4, P1: 0x04, P2: 0x00, Data: aid, Ne: 256})
	if err != nil {
		return false, err
	}
	return r.SW == apdu.SWOK, nil
}

// ReadEngagement reads the NFC Forum Type 4 Tag of an mdoc (ISO/IEC
// 18013-5:2021 §8.2.2.1): SELECT the NDEF application, SELECT and READ
// BINARY the Capability Container, SELECT the NDEF file and read its
// message (NLEN, then chunks of at most MLe). A Handover Select there is
// static handover. A TNEP Service Parameter offering the handover service
// means the mdoc asks for negotiated handover: the reader selects the
// service, checks the Status, writes its Handover Request (offering NFC
// data retrieval within lim) and reads the mdoc's Handover Select. Every
// length is checked against the CC and the file before it is used.
func ReadEngagement(ctx context.Context, t Transmitter, lim Limits) (*Engagement, error) {
	ok, err := SelectApplication(ctx, t, []byte(mdoc.NDEFApplicationAID))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, nfcError(mdoc.CodeNotMdocDevice, "reader: the device has no NDEF application")
	}
	if err := selectFile(ctx, t, mdoc.CapabilityContainerFileID); err != nil {
		return nil, err
	}
	ccb, err := readBinary(ctx, t, 0, mdoc.CapabilityContainerLen)
	if err != nil {
		return nil, err
	}
	cc, err := mdoc.ParseCapabilityContainer(ccb)
	if err != nil {
		return nil, fmt.Errorf("reader: capability container: %w", err)
	}
	if err := selectFile(ctx, t, cc.NDEFFileID); err != nil {
		return nil, err
	}
	msg, err := readNDEF(ctx, t, cc)
	if err != nil {
		return nil, err
	}
	eng := &Engagement{}
	if tn, err := mdoc.ParseTNEP(msg); err == nil && tn.Offers(mdoc.TNEPHandoverService) {
		if msg, eng.HandoverRequest, err = negotiate(ctx, t, cc, lim); err != nil {
			return nil, err
		}
	}
	hs, err := mdoc.ParseHandoverSelect(msg)
	if err != nil {
		return nil, fmt.Errorf("reader: handover select: %w", err)
	}
	nfc, err := hs.NFCCarrierOptions()
	if err != nil {
		return nil, fmt.Errorf("reader: NFC carrier: %w", err)
	}
	eng.HandoverSelect, eng.NFC = hs, nfc
	return eng, nil
}

// readNDEF reads the NDEF file's message: NLEN, then the message in
// chunks of at most MLe, each length checked first.
func readNDEF(ctx context.Context, t Transmitter, cc *mdoc.CapabilityContainer) ([]byte, error) {
	nlenb, err := readBinary(ctx, t, 0, 2)
	if err != nil {
		return nil, err
	}
	nlen := int(binary.BigEndian.Uint16(nlenb))
	switch {
	case nlen == 0:
		return nil, nfcError(mdoc.CodeMalformed, "reader: the NDEF file is empty (NLEN 0)")
	case nlen > int(cc.NDEFMaxSize)-2:
		return nil, nfcError(mdoc.CodeMalformed, "reader: NLEN %d exceeds the NDEF file size %d", nlen, cc.NDEFMaxSize)
	case nlen > mdoc.MaxNDEFMessageSize:
		return nil, nfcError(mdoc.CodeLimitExceeded, "reader: NDEF message of %d bytes exceeds %d", nlen, mdoc.MaxNDEFMessageSize)
	}
	msg := make([]byte, 0, nlen)
	for len(msg) < nlen {
		n := min(int(cc.MLe), nlen-len(msg))
		b, err := readBinary(ctx, t, 2+len(msg), n)
		if err != nil {
			return nil, err
		}
		msg = append(msg, b...)
	}
	return msg, nil
}

// writeNDEF writes msg into the NDEF file as T4T §5.4.5 prescribes: NLEN
// 0000 first, then the message in chunks of at most MLc, then NLEN.
func writeNDEF(ctx context.Context, t Transmitter, cc *mdoc.CapabilityContainer, msg []byte) error {
	if cc.WriteAccess != mdoc.AccessGranted {
		return nfcError(mdoc.CodeUnsupported, "reader: the NDEF file is read-only (write access %02X)", cc.WriteAccess)
	}
	if len(msg)+2 > int(cc.NDEFMaxSize) {
		return nfcError(mdoc.CodeLimitExceeded, "reader: NDEF message of %d bytes does not fit the file of %d", len(msg), cc.NDEFMaxSize)
	}
	if err := updateBinary(ctx, t, 0, []byte{0, 0}); err != nil {
		return err
	}
	for off := 0; off < len(msg); {
		n := min(int(cc.MLc), len(msg)-off, 0xFF)
		if err := updateBinary(ctx, t, 2+off, msg[off:off+n]); err != nil {
			return err
		}
		off += n
	}
	return updateBinary(ctx, t, 0, binary.BigEndian.AppendUint16(nil, uint16(len(msg))))
}

func updateBinary(ctx context.Context, t Transmitter, off int, data []byte) error {
	if off > 0x7FFF {
		return nfcError(mdoc.CodeLimitExceeded, "reader: UPDATE BINARY offset %d beyond 32767", off)
	}
	r, err := transmit(ctx, t, "UPDATE BINARY", &apdu.Command{INS: 0xD6, P1: byte(off >> 8), P2: byte(off), Data: data})
	if err != nil {
		return err
	}
	if r.SW != apdu.SWOK {
		return nfcError(mdoc.CodeNFCStatus, "reader: UPDATE BINARY at %d answered %04X", off, r.SW)
	}
	return nil
}

// negotiate runs TNEP negotiated handover (ISO/IEC 18013-5:2021 §8.2.2.1,
// TNEP 1.0 §5): select the handover service, expect a success Status,
// write the Handover Request offering NFC data retrieval within lim, and
// read the mdoc's Handover Select. It returns the Handover Select message
// and the request exactly as written.
func negotiate(ctx context.Context, t Transmitter, cc *mdoc.CapabilityContainer, lim Limits) (hs, hr []byte, err error) {
	if err := writeNDEF(ctx, t, cc, mdoc.EncodeNDEF([]mdoc.NDEFRecord{mdoc.ServiceSelectRecord(mdoc.TNEPHandoverService)})); err != nil {
		return nil, nil, err
	}
	st, err := readNDEF(ctx, t, cc)
	if err != nil {
		return nil, nil, err
	}
	if tn, err := mdoc.ParseTNEP(st); err != nil || tn.Status == nil || *tn.Status != mdoc.TNEPStatusSuccess {
		return nil, nil, nfcError(mdoc.CodeNFCStatus, "reader: the mdoc did not accept the handover service (TNEP status)")
	}
	var rnd [2]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, nil, err
	}
	hr, err = mdoc.NewHandoverRequest(binary.BigEndian.Uint16(rnd[:]), mdoc.NFCCarrier(mdoc.NFCOptions{
		MaxCommandDataLength: uint(lim.MaxCommandData), MaxResponseDataLength: uint(lim.MaxResponseData)}))
	if err != nil {
		return nil, nil, err
	}
	if err := writeNDEF(ctx, t, cc, hr); err != nil {
		return nil, nil, err
	}
	hs, err = readNDEF(ctx, t, cc)
	if err != nil {
		return nil, nil, err
	}
	return hs, hr, nil
}

// selectFile selects an elementary file of the Type 4 Tag by identifier
// (T4T §5.4.3: P1 00, P2 0C, no response data).
func selectFile(ctx context.Context, t Transmitter, id uint16) error {
	r, err := transmit(ctx, t, fmt.Sprintf("SELECT file %04X", id), &apdu.Command{INS: 0xA4, P1: 0x00, P2: 0x0C, Data: binary.BigEndian.AppendUint16(nil, id)})
	if err != nil {
		return err
	}
	if r.SW != apdu.SWOK {
		return nfcError(mdoc.CodeNFCStatus, "reader: SELECT file %04X answered %04X", id, r.SW)
	}
	return nil
}

// readBinary reads exactly n bytes at off; a shorter or longer answer is
// malformed (the reader only asks for what the CC and NLEN announced).
func readBinary(ctx context.Context, t Transmitter, off, n int) ([]byte, error) {
	if off > 0x7FFF {
		return nil, nfcError(mdoc.CodeLimitExceeded, "reader: READ BINARY offset %d beyond 32767", off)
	}
	r, err := transmit(ctx, t, "READ BINARY", &apdu.Command{INS: 0xB0, P1: byte(off >> 8), P2: byte(off), Ne: n})
	if err != nil {
		return nil, err
	}
	if r.SW != apdu.SWOK {
		return nil, nfcError(mdoc.CodeNFCStatus, "reader: READ BINARY at %d answered %04X", off, r.SW)
	}
	if len(r.Data) != n {
		return nil, nfcError(mdoc.CodeMalformed, "reader: READ BINARY at %d returned %d bytes, asked %d", off, len(r.Data), n)
	}
	return r.Data, nil
}

// nfcTransport exchanges session messages with the mdoc application
// (ISO/IEC 18013-5:2021 §8.3.3.1.2): a message goes out as BER-TLV 53 in
// ENVELOPE commands (CLA 10 while chaining, 00 last, Le on the last) and
// comes back in the response, continued by GET RESPONSE while the mdoc
// answers 61XX.
type nfcTransport struct {
	t        Transmitter
	cmdChunk int // data bytes per ENVELOPE
	respMax  int // Le of the last ENVELOPE and of GET RESPONSE after 6100
}

func (n *nfcTransport) exchange(ctx context.Context, msg []byte) ([]byte, error) {
	cmds := mdoc.EncodeEnvelopes(msg, n.cmdChunk, n.respMax)
	if len(cmds) > MaxNFCExchanges {
		return nil, nfcError(mdoc.CodeLimitExceeded, "reader: ENVELOPE chain of %d commands exceeds %d", len(cmds), MaxNFCExchanges)
	}
	var resp []byte
	for i, cmd := range cmds {
		rb, err := n.t.Transmit(ctx, cmd)
		if err != nil {
			return nil, fmt.Errorf("reader: ENVELOPE: %w", err)
		}
		if i < len(cmds)-1 {
			r, err := apdu.ParseResponse(rb)
			if err != nil {
				return nil, &mdoc.Error{Code: mdoc.CodeMalformed, Detail: "reader: ENVELOPE", Err: err}
			}
			if r.SW != apdu.SWOK {
				return nil, nfcError(mdoc.CodeNFCStatus, "reader: chained ENVELOPE answered %04X", r.SW)
			}
		}
		resp = rb
	}
	// The mdoc answers the status-20 message without one: 9000 alone.
	if len(resp) == 2 && resp[0] == 0x90 && resp[1] == 0x00 {
		return nil, nil
	}
	in := mdoc.NewEnvelopeReader(0)
	in.MaxResponse = n.respMax
	for i := 0; ; i++ {
		getResponse, err := in.WriteResponse(resp)
		if err != nil {
			if len(resp) >= 2 && mdoc.CodeOf(err) == mdoc.CodeMalformed && resp[len(resp)-2] != 0x61 && !(resp[len(resp)-2] == 0x90 && resp[len(resp)-1] == 0) {
				return nil, nfcError(mdoc.CodeNFCStatus, "reader: the mdoc answered %02X%02X", resp[len(resp)-2], resp[len(resp)-1])
			}
			return nil, fmt.Errorf("reader: response: %w", err)
		}
		if in.Done() {
			return in.Message()
		}
		if len(resp) == 2 {
			// 61XX without data: a device that never hands over its
			// answer would keep the reader asking for ever.
			return nil, nfcError(mdoc.CodeNFCStatus, "reader: GET RESPONSE returned no data and %02X%02X", resp[0], resp[1])
		}
		if i >= MaxNFCExchanges {
			return nil, nfcError(mdoc.CodeLimitExceeded, "reader: more than %d GET RESPONSE commands", MaxNFCExchanges)
		}
		if resp, err = n.t.Transmit(ctx, getResponse); err != nil {
			return nil, fmt.Errorf("reader: GET RESPONSE: %w", err)
		}
	}
}

// RunNFC runs one mdoc session over NFC with a tapped device: the Type 4
// Tag engagement (static or negotiated handover), SELECT of the mdoc
// application, the SessionEstablishment with ReaderAuth, the response,
// and SessionData status 20; then it verifies the response against the
// transcript whose NFC handover holds the Handover Select (and the
// Handover Request, when negotiated) exactly as exchanged (ISO/IEC
// 18013-5:2021 §9.1.5.1). Like Run, a completed exchange always yields an
// Outcome; transport and protocol failures are errors with mdoc codes.
func RunNFC(ctx context.Context, t Transmitter, items []mdoc.ItemsRequest, cfg NFCConfig) (*Outcome, error) {
	ctx, cancel, log, rnd := cfg.session(ctx)
	defer cancel()
	lim := cfg.Limits
	if lim.MaxCommandData <= 0 || lim.MaxResponseData <= 0 {
		lim = ExtendedLimits
	}
	// A PC/SC card knows what its reader and stack can carry: never ask
	// for more.
	if c, ok := t.(interface{ Limits() pcsc.Limits }); ok {
		l := c.Limits()
		lim = Limits{MaxCommandData: min(lim.MaxCommandData, l.MaxCommandData), MaxResponseData: min(lim.MaxResponseData, l.MaxResponseData)}
	}
	eng, err := ReadEngagement(ctx, t, lim)
	if err != nil {
		return nil, err
	}
	if eng.NFC == nil {
		return nil, nfcError(mdoc.CodeUnsupported, "reader: the mdoc offers no NFC data retrieval in its Handover Select")
	}
	hs := eng.HandoverSelect
	ps, err := prepare(hs.DeviceEngagement, mdoc.NFCHandover(hs.Raw, eng.HandoverRequest), items, cfg.Credentials, rnd)
	if err != nil {
		return nil, err
	}
	ok, err := SelectApplication(ctx, t, []byte(mdoc.MdocDataTransferAID))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, nfcError(mdoc.CodeNotMdocDevice, "reader: the device refused SELECT of the mdoc application")
	}
	tr := &nfcTransport{
		t:        t,
		cmdChunk: min(lim.MaxCommandData, int(eng.NFC.MaxCommandDataLength)),
		respMax:  min(lim.MaxResponseData, int(eng.NFC.MaxResponseDataLength)),
	}
	log.InfoContext(ctx, "reader: NFC engagement read", "handover_select_bytes", len(hs.Raw), "command_chunk", tr.cmdChunk, "response_max", tr.respMax)
	msg, err := tr.exchange(ctx, ps.establishment)
	if err != nil {
		return nil, err
	}
	if msg == nil {
		return nil, &mdoc.Error{Code: mdoc.CodeSessionEncryption, Detail: "reader: the mdoc ended the session without a response (refused or failed to decrypt)"}
	}
	plain, status, err := ps.open(msg)
	if status != 0 {
		tr.end(ctx, status)
	}
	if err != nil {
		return nil, err
	}
	tr.end(ctx, mdoc.SessionStatusTermination)
	return ps.outcome(ctx, plain, cfg.Verify, log), nil
}

// end sends SessionData with status (20: termination, or an error status)
// in an ENVELOPE. The mdoc answers it without a message; what it answers
// does not change the outcome, so errors are not reported.
func (n *nfcTransport) end(ctx context.Context, status uint) {
	if b, err := mdoc.NewSessionStatus(status).Encode(); err == nil {
		_, _ = n.exchange(ctx, b)
	}
}
