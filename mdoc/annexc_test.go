package mdoc

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
)

type annexCFixture struct {
	priv *ecdh.PrivateKey
	info *EncryptionInfo
	b64  string
	st   *SessionTranscript
}

func newAnnexCFixture(t testing.TB, origin string) *annexCFixture {
	t.Helper()
	priv, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, 16)
	rand.Read(nonce)
	info, err := NewEncryptionInfo(nonce, priv.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	st, err := AnnexCSessionTranscript(info.Base64(), origin)
	if err != nil {
		t.Fatal(err)
	}
	return &annexCFixture{priv: priv, info: info, b64: info.Base64(), st: st}
}

func TestAnnexCRoundTrip(t *testing.T) {
	fx := newAnnexCFixture(t, "https://verifier.example")
	resp := annexD(t, "device_response")

	// Wallet side: parse the reader's EncryptionInfo, rebuild the
	// transcript from the text and origin, seal.
	info, err := ParseEncryptionInfoBase64(fx.b64)
	if err != nil {
		t.Fatal(err)
	}
	if info.Base64() != fx.b64 || !bytes.Equal(info.Nonce, fx.info.Nonce) {
		t.Fatal("EncryptionInfo changed in a round trip")
	}
	pub, err := info.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	walletST, err := AnnexCSessionTranscript(fx.b64, "https://verifier.example")
	if err != nil {
		t.Fatal(err)
	}
	// The Annex C transcript is [null, null, ["dcapi", hash]].
	if !bytes.HasPrefix(walletST.Raw, []byte{0x83, 0xf6, 0xf6, 0x82, 0x65, 'd', 'c', 'a', 'p', 'i', 0x58, 0x20}) {
		t.Fatalf("transcript %x", walletST.Raw)
	}
	sealed, err := SealAnnexC(pub, walletST, resp)
	if err != nil {
		t.Fatal(err)
	}
	er, err := ParseEncryptedResponse(sealed)
	if err != nil || len(er.Enc) != 65 || len(er.CipherText) != len(resp)+16 {
		t.Fatalf("EncryptedResponse enc %d, ct %d, %v", len(er.Enc), len(er.CipherText), err)
	}

	// Reader side.
	got, err := OpenAnnexC(fx.priv, fx.st, sealed)
	if err != nil || !bytes.Equal(got, resp) {
		t.Fatalf("OpenAnnexC: %v", err)
	}

	// Another origin, another EncryptionInfo, a tag-24 wrapped info, a
	// wrong key or a tampered ciphertext all fail.
	otherOrigin, _ := AnnexCSessionTranscript(fx.b64, "https://evil.example")
	other := newAnnexCFixture(t, "https://verifier.example")
	otherInfo, _ := AnnexCSessionTranscript(other.b64, "https://verifier.example")
	wrapped, _ := ParseSessionTranscript(fx.st.Raw)
	wrapped.Raw = fx.st.Bytes() // tag-24 wrapped, which Annex C does not use
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	for _, tc := range []struct {
		name string
		priv *ecdh.PrivateKey
		st   *SessionTranscript
		msg  []byte
	}{
		{"other origin", fx.priv, otherOrigin, sealed},
		{"other encryption info", fx.priv, otherInfo, sealed},
		{"tag-24 info", fx.priv, wrapped, sealed},
		{"wrong key", other.priv, fx.st, sealed},
		{"tampered", fx.priv, fx.st, tampered},
	} {
		if _, err := OpenAnnexC(tc.priv, tc.st, tc.msg); !errors.Is(err, ErrSessionEncryption) {
			t.Errorf("%s: err = %v, want session_encryption", tc.name, err)
		}
	}
}

func TestAnnexCRejects(t *testing.T) {
	fx := newAnnexCFixture(t, "https://verifier.example")
	p384, _ := ecdh.P384().GenerateKey(rand.Reader)
	if _, err := NewEncryptionInfo(make([]byte, 8), fx.priv.PublicKey()); err == nil {
		t.Error("8-byte nonce accepted")
	}
	if _, err := NewEncryptionInfo(make([]byte, 16), p384.PublicKey()); CodeOf(err) != CodeUnsupported {
		t.Errorf("P-384 recipient: %v", err)
	}
	if _, err := SealAnnexC(p384.PublicKey(), fx.st, []byte{1}); CodeOf(err) != CodeUnsupported {
		t.Errorf("seal to P-384: %v", err)
	}
	if _, err := OpenAnnexC(p384, fx.st, []byte{1}); CodeOf(err) != CodeUnsupported {
		t.Errorf("open with P-384: %v", err)
	}
	if _, err := SealAnnexC(fx.priv.PublicKey(), nil, []byte{1}); err == nil {
		t.Error("seal without transcript")
	}
	for name, s := range map[string]string{
		"padded":     fx.b64 + "=",
		"whitespace": fx.b64[:4] + " " + fx.b64[4:],
		"std alpha":  strings.ReplaceAll(fx.b64, "_", "/") + "+",
		"empty":      "",
		"huge":       strings.Repeat("A", 4*maxEncryptionInfoSize),
	} {
		if _, err := ParseEncryptionInfoBase64(s); CodeOf(err) == "" {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	ck, _ := NewCOSEKey(fx.priv.PublicKey())
	ck384, _ := NewCOSEKey(p384.PublicKey())
	for name, b := range map[string][]byte{
		"wrong id":   engCBOR(t, []any{"mdoc", map[string]any{"nonce": []byte{1}, "recipientPublicKey": ck}}),
		"no nonce":   engCBOR(t, []any{"dcapi", map[string]any{"recipientPublicKey": ck}}),
		"no key":     engCBOR(t, []any{"dcapi", map[string]any{"nonce": []byte{1}}}),
		"P-384 key":  engCBOR(t, []any{"dcapi", map[string]any{"nonce": []byte{1}, "recipientPublicKey": ck384}}),
		"three":      engCBOR(t, []any{"dcapi", map[string]any{"nonce": []byte{1}, "recipientPublicKey": ck}, 0}),
		"not array":  engCBOR(t, map[string]any{"nonce": []byte{1}}),
		"key as tag": engCBOR(t, []any{"dcapi", map[string]any{"nonce": []byte{1}, "recipientPublicKey": tag24(ck.Raw)}}),
	} {
		if _, err := ParseEncryptionInfo(b); CodeOf(err) == "" {
			t.Errorf("EncryptionInfo %s: err = %v", name, err)
		}
	}
	for name, b := range map[string][]byte{
		"wrong id":  engCBOR(t, []any{"x", map[string]any{"enc": []byte{1}, "cipherText": []byte{1}}}),
		"no enc":    engCBOR(t, []any{"dcapi", map[string]any{"cipherText": []byte{1}}}),
		"no ct":     engCBOR(t, []any{"dcapi", map[string]any{"enc": []byte{1}}}),
		"bad enc":   engCBOR(t, []any{"dcapi", map[string]any{"enc": []byte{4, 1}, "cipherText": make([]byte, 32)}}),
		"not array": {0xa0},
	} {
		_, err := OpenAnnexC(fx.priv, fx.st, b)
		if CodeOf(err) == "" {
			t.Errorf("EncryptedResponse %s: err = %v", name, err)
		}
	}
}
