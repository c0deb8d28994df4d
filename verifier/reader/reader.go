// Package reader is the verifier's proximity reader (ISO/IEC 18013-5:2021
// §9.1.1, §8.3.3.1.1): from a scanned "mdoc:" QR code it parses the
// DeviceEngagement, connects to the mdoc over the simulated BLE transport
// (mdoc/blesim, mdoc peripheral server mode, the service UUID from the
// engagement), sends SessionEstablishment with an encrypted DeviceRequest
// carrying ReaderAuth, decrypts the SessionData holding the DeviceResponse,
// ends the session (SessionData status 20, then GATT State end) and
// verifies the response.
package reader

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/blesim"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
)

// DefaultTimeout bounds a whole session when the context has no deadline:
// the holder has to consent on the phone, which takes seconds, not minutes.
const DefaultTimeout = 2 * time.Minute

// Config configures a reader.
type Config struct {
	// Radio is the simulated air shared with the wallet.
	Radio blesim.Radio
	// Credentials sign ReaderAuth; nil sends an unauthenticated request
	// (wallets may refuse it, and must refuse restricted elements).
	Credentials *trust.ReaderCredentials
	// Verify configures verification of the response; the session fills
	// in SessionTranscript, EReaderKey and Request.
	Verify verifier.Options
	// Rand nil means crypto/rand.
	Rand io.Reader
	// Logger nil means slog.Default().
	Logger *slog.Logger
}

// Outcome is a finished session: the verified result, the request sent and
// the transcript it was bound to.
type Outcome struct {
	Result            *verifier.Result
	DeviceRequest     *mdoc.DeviceRequest
	SessionTranscript *mdoc.SessionTranscript
	// DeviceRequestBytes is the DeviceRequest as sent, and DeviceResponse
	// the decrypted response as received: with SessionTranscript and
	// EReaderKey (needed to check a deviceMac) they let anyone re-verify
	// the presentation later, offline.
	DeviceRequestBytes []byte
	DeviceResponse     []byte
	EReaderKey         *ecdh.PrivateKey
}

// Run runs one proximity session for items with the mdoc that showed qr.
// Transport and protocol failures are errors (with mdoc codes where one
// applies, e.g. session_encryption); a completed exchange always yields an
// Outcome whose Result says whether the presentation is valid.
func Run(ctx context.Context, qr string, items []mdoc.ItemsRequest, cfg Config) (*Outcome, error) {
	ctx, cancel, log, rnd := cfg.session(ctx)
	defer cancel()
	de, err := mdoc.ParseQR(qr)
	if err != nil {
		return nil, fmt.Errorf("reader: parse QR engagement: %w", err)
	}
	uuid, err := peripheralUUID(de)
	if err != nil {
		return nil, err
	}
	ps, err := prepare(de, mdoc.QRHandover(), items, cfg.Credentials, rnd)
	if err != nil {
		return nil, err
	}

	log.InfoContext(ctx, "reader: connecting to mdoc", "uuid", fmt.Sprintf("%x", uuid))
	conn, err := cfg.Radio.Connect(ctx, uuid)
	if err != nil {
		return nil, fmt.Errorf("reader: connect over BLE: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	if err := conn.Send(ps.establishment); err != nil {
		return nil, fmt.Errorf("reader: send SessionEstablishment: %w", err)
	}
	msg, err := conn.Receive()
	if err != nil {
		if errors.Is(err, blesim.ErrEnded) {
			return nil, &mdoc.Error{Code: mdoc.CodeSessionEncryption, Detail: "reader: the mdoc ended the session without a response (refused or failed to decrypt)"}
		}
		return nil, fmt.Errorf("reader: receive response: %w", err)
	}
	plain, status, err := ps.open(msg)
	if status != 0 {
		endWith(conn, status)
	}
	if err != nil {
		if status == 0 {
			_ = conn.End()
		}
		return nil, err
	}
	// End the session: SessionData status 20, then GATT State end.
	endWith(conn, mdoc.SessionStatusTermination)
	return ps.outcome(ctx, plain, cfg.Verify, log), nil
}

// session returns what every session needs from cfg: ctx bounded by
// DefaultTimeout when it has no deadline, the logger and the randomness.
func (cfg Config) session(ctx context.Context) (context.Context, context.CancelFunc, *slog.Logger, io.Reader) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	rnd := cfg.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	cancel := context.CancelFunc(func() {})
	if _, ok := ctx.Deadline(); !ok {
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
	}
	return ctx, cancel, log, rnd
}

// prepared is a reader session up to the transport: the ephemeral key,
// the transcript, the request and the encoded SessionEstablishment.
type prepared struct {
	eReader       *ecdh.PrivateKey
	st            *mdoc.SessionTranscript
	dr            *mdoc.DeviceRequest
	drb           []byte
	sess          *mdoc.SessionEncryption
	establishment []byte
}

// prepare builds the session for an engagement and its handover
// (ISO/IEC 18013-5:2021 §9.1.5.1): a fresh EReaderKey on the curve of
// EDeviceKey (§9.1.1.4), the SessionTranscript over the engagement bytes
// as received, and the DeviceRequest (with ReaderAuth over that
// transcript) encrypted into a SessionEstablishment.
func prepare(de *mdoc.DeviceEngagement, handover []byte, items []mdoc.ItemsRequest, creds *trust.ReaderCredentials, rnd io.Reader) (*prepared, error) {
	eDevice, err := de.EDeviceKey()
	if err != nil {
		return nil, fmt.Errorf("reader: EDeviceKey: %w", err)
	}
	eReader, err := eDevice.Curve().GenerateKey(rnd)
	if err != nil {
		return nil, fmt.Errorf("reader: ephemeral key: %w", err)
	}
	// Build SessionEstablishment first for its EReaderKeyBytes: the
	// transcript must embed exactly the bytes sent.
	est, err := mdoc.NewSessionEstablishment(eReader.PublicKey(), []byte{0})
	if err != nil {
		return nil, fmt.Errorf("reader: session establishment: %w", err)
	}
	deb := de.Bytes()
	st, err := mdoc.NewSessionTranscript(&deb, &est.EReaderKey, handover)
	if err != nil {
		return nil, fmt.Errorf("reader: session transcript: %w", err)
	}
	dr, err := verifier.NewDeviceRequest(items, creds, st.Raw, rnd)
	if err != nil {
		return nil, err
	}
	drb, err := dr.Encode()
	if err != nil {
		return nil, fmt.Errorf("reader: encode DeviceRequest: %w", err)
	}
	sess, err := mdoc.NewSessionEncryption(mdoc.RoleReader, eReader, eDevice, st.Bytes())
	if err != nil {
		return nil, fmt.Errorf("reader: session keys: %w", err)
	}
	if est.Data, err = sess.Encrypt(drb); err != nil {
		return nil, fmt.Errorf("reader: encrypt DeviceRequest: %w", err)
	}
	estb, err := est.Encode()
	if err != nil {
		return nil, fmt.Errorf("reader: encode SessionEstablishment: %w", err)
	}
	return &prepared{eReader: eReader, st: st, dr: dr, drb: drb, sess: sess, establishment: estb}, nil
}

// open decrypts the mdoc's SessionData. On failure it returns the status
// the reader should end the session with (0: none, just end).
func (ps *prepared) open(msg []byte) (plain []byte, endStatus uint, err error) {
	sd, err := mdoc.ParseSessionData(msg)
	if err != nil {
		return nil, mdoc.SessionStatusDecodingError, fmt.Errorf("reader: SessionData: %w", err)
	}
	if len(sd.Data) == 0 {
		return nil, 0, &mdoc.Error{Code: mdoc.CodeSessionEncryption, Detail: fmt.Sprintf("reader: the mdoc answered status %d without data", *sd.Status)}
	}
	plain, err = ps.sess.Decrypt(sd.Data)
	if err != nil {
		return nil, mdoc.SessionStatusEncryptionError, fmt.Errorf("reader: decrypt DeviceResponse: %w", err)
	}
	return plain, 0, nil
}

// outcome verifies the decrypted DeviceResponse against the request and
// transcript of the session.
func (ps *prepared) outcome(ctx context.Context, plain []byte, vo verifier.Options, log *slog.Logger) *Outcome {
	vo.SessionTranscript = ps.st.Raw
	vo.EReaderKey = ps.eReader
	vo.Request = verifier.RequestFromDeviceRequest(ps.dr)
	res := verifier.Verify(ctx, plain, vo)
	log.InfoContext(ctx, "reader: presentation verified", "valid", res.Valid, "codes", res.Codes())
	return &Outcome{Result: res, DeviceRequest: ps.dr, SessionTranscript: ps.st, DeviceRequestBytes: ps.drb, DeviceResponse: plain, EReaderKey: ps.eReader}
}

func endWith(conn *blesim.Conn, status uint) {
	if b, err := mdoc.NewSessionStatus(status).Encode(); err == nil {
		_ = conn.Send(b)
	}
	_ = conn.End()
}

// peripheralUUID returns the service UUID of the engagement's BLE retrieval
// method in mdoc peripheral server mode.
func peripheralUUID(de *mdoc.DeviceEngagement) ([]byte, error) {
	for _, m := range de.DeviceRetrievalMethods {
		if m.Type != mdoc.RetrievalBLE {
			continue
		}
		o, err := m.BLEOptions()
		if err != nil {
			return nil, fmt.Errorf("reader: BLE options: %w", err)
		}
		if o.PeripheralServerMode && len(o.PeripheralServerUUID) == 16 {
			return o.PeripheralServerUUID, nil
		}
	}
	return nil, &mdoc.Error{Code: mdoc.CodeUnsupported, Detail: "reader: the engagement offers no BLE peripheral server mode with a UUID"}
}
