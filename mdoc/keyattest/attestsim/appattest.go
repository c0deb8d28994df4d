package attestsim

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/big"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/mynumber-mdoc/mnc/mdoc/keyattest"
)

var encMode = func() cbor.EncMode {
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return em
}()

// AppAttestOptions describe a simulated App Attest attestation.
type AppAttestOptions struct {
	AppID          string // "TEAMID.bundle.id"
	ClientDataHash []byte
	// Environment "" is development (the aaguid appattestdevelop).
	Environment keyattest.Environment
	OSVersion   string
	// NotBefore zero is now minus a minute; the credential certificate is
	// valid three days, as Apple's are.
	NotBefore time.Time
	// Counter is the authenticator data counter (tests; real ones are 0).
	Counter uint32
}

// AttestApple returns an attestation object (CBOR) for the App Attest key
// pub and its key id (SHA-256 of the uncompressed point), as
// DCAppAttestService.attestKey would.
func (c *CA) AttestApple(pub *ecdsa.PublicKey, o AppAttestOptions) (obj, keyID []byte, err error) {
	ek, err := pub.ECDH()
	if err != nil {
		return nil, nil, fmt.Errorf("attestsim: %w", err)
	}
	point := ek.Bytes()
	kid := sha256.Sum256(point)
	aaguid := keyattest.AAGUIDDevelopment
	if o.Environment == keyattest.Production {
		aaguid = keyattest.AAGUIDProduction
	}
	coseKey, err := encMode.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: point[1:33], -3: point[33:]})
	if err != nil {
		return nil, nil, err
	}
	rp := sha256.Sum256([]byte(o.AppID))
	ad := append([]byte{}, rp[:]...)
	ad = append(ad, 0x40)
	ad = binary.BigEndian.AppendUint32(ad, o.Counter)
	ad = append(ad, aaguid[:]...)
	ad = binary.BigEndian.AppendUint16(ad, uint16(len(kid)))
	ad = append(ad, kid[:]...)
	ad = append(ad, coseKey...)
	h := sha256.New()
	h.Write(ad)
	h.Write(o.ClientDataHash)
	nonceExt, err := asn1.Marshal(struct {
		Nonce []byte `asn1:"explicit,tag:1"`
	}{h.Sum(nil)})
	if err != nil {
		return nil, nil, err
	}
	exts := []pkix.Extension{{Id: asn1.ObjectIdentifier(keyattest.OIDAppAttestNonce), Value: nonceExt}}
	if o.OSVersion != "" {
		osExt := keyattest.DERSequence(keyattest.DERExplicit(1400, keyattest.DEROctetString([]byte(o.OSVersion))))
		exts = append(exts, pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 8, 7}, Value: osExt})
	}
	nb := o.NotBefore
	if nb.IsZero() {
		nb = time.Now().Add(-time.Minute)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return nil, nil, err
	}
	t := &x509.Certificate{
		SerialNumber:    serial,
		Subject:         pkix.Name{CommonName: hex.EncodeToString(kid[:]), OrganizationalUnit: []string{"AAA Certification"}, Organization: []string{"MNC development"}},
		NotBefore:       nb,
		NotAfter:        nb.Add(72 * time.Hour),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtraExtensions: exts,
	}
	cert, err := x509.CreateCertificate(rand.Reader, t, c.Intermediate, pub, c.interKey)
	if err != nil {
		return nil, nil, fmt.Errorf("attestsim: credCert: %w", err)
	}
	obj, err = encMode.Marshal(map[string]any{
		"fmt":      keyattest.FormatAppleAppAttest,
		"attStmt":  map[string]any{"x5c": [][]byte{cert, c.Intermediate.Raw}, "receipt": []byte("simulated receipt")},
		"authData": ad,
	})
	return obj, kid[:], err
}

// Assert returns an App Attest assertion by key over clientDataHash with
// the given counter, as DCAppAttestService.generateAssertion would.
func Assert(key crypto.Signer, appID string, counter uint32, clientDataHash []byte) ([]byte, error) {
	rp := sha256.Sum256([]byte(appID))
	ad := append(append([]byte{}, rp[:]...), 0x40)
	ad = binary.BigEndian.AppendUint32(ad, counter)
	h := sha256.New()
	h.Write(ad)
	h.Write(clientDataHash)
	nonce := h.Sum(nil)
	d := sha256.Sum256(nonce)
	sig, err := key.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	return encMode.Marshal(map[string]any{"signature": sig, "authenticatorData": ad})
}
