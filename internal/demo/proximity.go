package demo

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/blesim"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
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

// proximityReader is the verifier side of an ISO/IEC 18013-5 proximity
// session over mdoc/blesim. It follows verifier/reader.Run step for step
// (QR engagement, SessionEstablishment with ReaderAuth, SessionData, status
// 20 and GATT end, §9.3 verification with package verifier) but keeps the
// decrypted DeviceResponse and the ephemeral key, which reader.Outcome does
// not expose and which the artefacts need. (Requested in the report:
// Outcome.DeviceResponse and Outcome.EReaderKey in verifier/reader, after
// which this can call reader.Run.)
type proximityReader struct {
	Radio       blesim.Radio
	Credentials *trust.ReaderCredentials
	Verify      verifier.Options
}

// Run runs one session with the mdoc that showed qr.
func (r *proximityReader) Run(ctx context.Context, qr string, items []mdoc.ItemsRequest) (*Presentation, error) {
	de, err := mdoc.ParseQR(qr)
	if err != nil {
		return nil, fmt.Errorf("reader: parse QR engagement: %w", err)
	}
	uuid, err := peripheralUUID(de)
	if err != nil {
		return nil, err
	}
	eDevice, err := de.EDeviceKey()
	if err != nil {
		return nil, fmt.Errorf("reader: EDeviceKey: %w", err)
	}
	eReader, err := eDevice.Curve().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("reader: ephemeral key: %w", err)
	}
	est, err := mdoc.NewSessionEstablishment(eReader.PublicKey(), []byte{0})
	if err != nil {
		return nil, fmt.Errorf("reader: session establishment: %w", err)
	}
	deb := de.Bytes()
	st, err := mdoc.NewSessionTranscript(&deb, &est.EReaderKey, mdoc.QRHandover())
	if err != nil {
		return nil, fmt.Errorf("reader: session transcript: %w", err)
	}
	dr, err := verifier.NewDeviceRequest(items, r.Credentials, st.Raw, nil)
	if err != nil {
		return nil, fmt.Errorf("reader: device request: %w", err)
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
	conn, err := r.Radio.Connect(ctx, uuid)
	if err != nil {
		return nil, fmt.Errorf("reader: connect over BLE: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	if err := conn.Send(estb); err != nil {
		return nil, fmt.Errorf("reader: send SessionEstablishment: %w", err)
	}
	msg, err := conn.Receive()
	if err != nil {
		if errors.Is(err, blesim.ErrEnded) {
			return nil, &mdoc.Error{Code: mdoc.CodeSessionEncryption, Detail: "reader: the mdoc ended the session without a response"}
		}
		return nil, fmt.Errorf("reader: receive response: %w", err)
	}
	sd, err := mdoc.ParseSessionData(msg)
	if err != nil {
		endWith(conn, mdoc.SessionStatusDecodingError)
		return nil, fmt.Errorf("reader: SessionData: %w", err)
	}
	if len(sd.Data) == 0 {
		_ = conn.End()
		return nil, &mdoc.Error{Code: mdoc.CodeSessionEncryption, Detail: "reader: the mdoc answered a status without data"}
	}
	plain, err := sess.Decrypt(sd.Data)
	if err != nil {
		endWith(conn, mdoc.SessionStatusEncryptionError)
		return nil, fmt.Errorf("reader: decrypt DeviceResponse: %w", err)
	}
	endWith(conn, mdoc.SessionStatusTermination)

	vo := r.Verify
	vo.SessionTranscript = st.Raw
	vo.EReaderKey = eReader
	vo.Request = verifier.RequestFromDeviceRequest(dr)
	return &Presentation{DeviceResponse: plain, Transcript: st, EReaderKey: eReader, DeviceRequest: drb, Request: vo.Request,
		Result: verifier.Verify(ctx, plain, vo)}, nil
}

func endWith(conn *blesim.Conn, status uint) {
	if b, err := mdoc.NewSessionStatus(status).Encode(); err == nil {
		_ = conn.Send(b)
	}
	_ = conn.End()
}

// peripheralUUID returns the service UUID of the engagement's BLE
// retrieval method in mdoc peripheral server mode.
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
