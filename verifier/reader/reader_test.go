package reader_test

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/blesim"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/reader"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
	testpki "github.com/mynumber-mdoc/mnc/verifier/verifiertest"
)

// testMdoc is the mdoc side of a proximity session, written in the test
// with the mdoc primitives: it advertises, checks ReaderAuth, releases the
// requested elements it holds and answers.
type testMdoc struct {
	radio     blesim.Radio
	is        *mdoc.IssuerSigned
	devKey    *ecdsa.PrivateKey
	readers   mdoc.Trust
	mac       bool
	tamper    bool // corrupt the encrypted response
	gotStatus chan uint
	err       chan error
}

func (m *testMdoc) start(t *testing.T) string {
	t.Helper()
	eDev, _ := ecdh.P256().GenerateKey(rand.Reader)
	uuid := make([]byte, 16)
	rand.Read(uuid)
	ble, err := mdoc.NewBLERetrieval(mdoc.BLEOptions{PeripheralServerMode: true, PeripheralServerUUID: uuid})
	if err != nil {
		t.Fatal(err)
	}
	de, err := mdoc.NewDeviceEngagement(eDev.PublicKey(), ble)
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.radio.Advertise(uuid)
	if err != nil {
		t.Fatal(err)
	}
	m.gotStatus, m.err = make(chan uint, 1), make(chan error, 1)
	go func() {
		defer p.Close()
		m.err <- m.serve(p, de, eDev)
	}()
	return mdoc.EncodeQR(de)
}

func (m *testMdoc) serve(p *blesim.Peripheral, de *mdoc.DeviceEngagement, eDev *ecdh.PrivateKey) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := p.Accept(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	msg, err := conn.Receive()
	if err != nil {
		return err
	}
	est, err := mdoc.ParseSessionEstablishment(msg)
	if err != nil {
		return err
	}
	eReader, err := est.PublicKey()
	if err != nil {
		return err
	}
	deb := de.Bytes()
	st, err := mdoc.NewSessionTranscript(&deb, &est.EReaderKey, mdoc.QRHandover())
	if err != nil {
		return err
	}
	sess, err := mdoc.NewSessionEncryption(mdoc.RoleMDoc, eDev, eReader, st.Bytes())
	if err != nil {
		return err
	}
	plain, err := sess.Decrypt(est.Data)
	if err != nil {
		return err
	}
	dr, err := mdoc.ParseDeviceRequest(plain)
	if err != nil {
		return err
	}
	var docs []mdoc.Document
	for _, d := range dr.DocRequests {
		// Enforce ReaderAuth: an unauthenticated reader gets nothing.
		if _, err := d.VerifyReaderAuth(m.readers, st.Raw, testpki.Now); err != nil {
			b, _ := mdoc.NewSessionStatus(mdoc.SessionStatusTermination).Encode()
			conn.Send(b)
			conn.End()
			return err
		}
		o := mdoc.PresentOptions{SessionTranscript: st.Raw, DeviceSigner: m.devKey}
		if m.mac {
			k, _ := m.devKey.ECDH()
			o = mdoc.PresentOptions{SessionTranscript: st.Raw, DeviceKeyAgreement: k, EReaderKey: eReader}
		}
		doc, err := mdoc.Present(m.is, d.ItemsRequest.Elements(), o)
		if err != nil {
			return err
		}
		docs = append(docs, *doc)
	}
	rb, err := mdoc.NewDeviceResponse(docs, nil).Encode()
	if err != nil {
		return err
	}
	enc, err := sess.Encrypt(rb)
	if err != nil {
		return err
	}
	if m.tamper {
		enc[len(enc)-1] ^= 1
	}
	out, _ := (&mdoc.SessionData{Data: enc}).Encode()
	if err := conn.Send(out); err != nil {
		return err
	}
	end, err := conn.Receive()
	if err != nil {
		return err
	}
	sd, err := mdoc.ParseSessionData(end)
	if err != nil {
		return err
	}
	if sd.Status != nil {
		m.gotStatus <- *sd.Status
	}
	if _, err := conn.Receive(); !errors.Is(err, blesim.ErrEnded) {
		return errors.New("reader did not write State end")
	}
	return nil
}

func setup(t *testing.T) (*testpki.Issuer, *testpki.Reader, *mdoc.IssuerSigned, *ecdsa.PrivateKey, *trust.ReaderCredentials) {
	t.Helper()
	is, _ := testpki.NewIssuer("prox")
	rd, err := testpki.NewReader(mdoc.ReaderRoles{}, "")
	if err != nil {
		t.Fatal(err)
	}
	dev := testpki.DeviceKey()
	doc, err := is.Issue(mdoc.DocTypeMNC, testpki.MNCElements(mdoc.FullDate{Year: 1990, Month: 4, Day: 1}, map[int]bool{20: true}), dev, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := trust.NewReaderCredentials([]*x509Cert{rd.Cert}, rd.Key)
	if err != nil {
		t.Fatal(err)
	}
	return is, rd, doc, dev, creds
}

func TestProximityRoundTrip(t *testing.T) {
	is, rd, doc, dev, creds := setup(t)
	for _, mac := range []bool{false, true} {
		radio := blesim.Radio{Dir: t.TempDir(), MTU: 64}
		m := &testMdoc{radio: radio, is: doc, devKey: dev, readers: mdoc.NewTrustStore(mdoc.PurposeReaderAuth, false, rd.CA), mac: mac}
		qr := m.start(t)
		out, err := reader.Run(context.Background(), qr, []mdoc.ItemsRequest{verifier.Items(mdoc.DocTypeMNC, map[string][]string{mdoc.NameSpaceISO23220: {"age_over_20", "family_name"}})},
			reader.Config{Radio: radio, Credentials: creds, Verify: verifier.Options{Trust: trust.NewIACAsFromCertificates([]*x509Cert{is.IACA}), CurrentTime: testpki.Now}})
		if err != nil {
			t.Fatalf("mac=%v: %v", mac, err)
		}
		if !out.Result.Valid || out.Result.Documents[0].Elements[mdoc.NameSpaceISO23220]["age_over_20"] != true {
			t.Fatalf("mac=%v: %v %+v", mac, out.Result.Codes(), out.Result.Documents[0].Elements)
		}
		if err := <-m.err; err != nil {
			t.Fatalf("mdoc: %v", err)
		}
		if st := <-m.gotStatus; st != mdoc.SessionStatusTermination {
			t.Fatalf("end status %d", st)
		}
		if out.DeviceRequest.DocRequests[0].ItemsRequest.NameSpaces[mdoc.NameSpaceISO23220]["family_name"] {
			t.Fatal("intentToRetain defaulted to true")
		}
		// The recorded exchange re-verifies offline to the same verdict.
		again := verifier.Verify(context.Background(), out.DeviceResponse, verifier.Options{
			Trust: trust.NewIACAsFromCertificates([]*x509Cert{is.IACA}), CurrentTime: testpki.Now,
			SessionTranscript: out.SessionTranscript.Raw, EReaderKey: out.EReaderKey,
		})
		if !again.Valid {
			t.Fatalf("mac=%v: recorded response does not re-verify: %v", mac, again.Codes())
		}
		if req, err := mdoc.ParseDeviceRequest(out.DeviceRequestBytes); err != nil || len(req.DocRequests) != 1 {
			t.Fatalf("recorded DeviceRequest: %v", err)
		}
	}
}

func TestProximityRefusals(t *testing.T) {
	is, rd, doc, dev, creds := setup(t)
	iacas := trust.NewIACAsFromCertificates([]*x509Cert{is.IACA})
	items := []mdoc.ItemsRequest{verifier.Items(mdoc.DocTypeMNC, map[string][]string{mdoc.NameSpaceISO23220: {"age_over_20"}})}

	// Tampered session data: decryption fails with session_encryption.
	radio := blesim.Radio{Dir: t.TempDir()}
	m := &testMdoc{radio: radio, is: doc, devKey: dev, readers: mdoc.NewTrustStore(mdoc.PurposeReaderAuth, false, rd.CA), tamper: true}
	qr := m.start(t)
	_, err := reader.Run(context.Background(), qr, items, reader.Config{Radio: radio, Credentials: creds, Verify: verifier.Options{Trust: iacas, CurrentTime: testpki.Now}})
	if mdoc.CodeOf(err) != mdoc.CodeSessionEncryption {
		t.Fatalf("tampered: %v", err)
	}
	<-m.err
	if st := <-m.gotStatus; st != mdoc.SessionStatusEncryptionError {
		t.Fatalf("reader sent status %d, want 10", st)
	}

	// No ReaderAuth: this mdoc refuses and ends the session.
	radio = blesim.Radio{Dir: t.TempDir()}
	m = &testMdoc{radio: radio, is: doc, devKey: dev, readers: mdoc.NewTrustStore(mdoc.PurposeReaderAuth, false, rd.CA)}
	qr = m.start(t)
	_, err = reader.Run(context.Background(), qr, items, reader.Config{Radio: radio, Verify: verifier.Options{Trust: iacas, CurrentTime: testpki.Now}})
	if err == nil {
		t.Fatal("session without ReaderAuth completed")
	}
	if e := <-m.err; mdoc.CodeOf(e) != mdoc.CodeReaderAuthInvalid {
		t.Fatalf("mdoc side: %v", e)
	}

	// Not an mdoc: QR.
	if _, err := reader.Run(context.Background(), "https://example.com", items, reader.Config{Radio: radio}); err == nil {
		t.Fatal("bad QR accepted")
	}
	// Engagement without BLE.
	eDev, _ := ecdh.P256().GenerateKey(rand.Reader)
	de, _ := mdoc.NewDeviceEngagement(eDev.PublicKey())
	if _, err := reader.Run(context.Background(), mdoc.EncodeQR(de), items, reader.Config{Radio: radio}); mdoc.CodeOf(err) != mdoc.CodeUnsupported {
		t.Fatalf("no BLE: %v", err)
	}
}
