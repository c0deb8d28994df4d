package issuer

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/mynumber-mdoc/mnc/jpki/testca"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
)

// batchKeys makes n fresh keys and a wallet-provider key attestation of
// them together with the enrolled device key (the batch contract).
func (w *wallet) batchKeys(n int) ([]*ecdsa.PrivateKey, string) {
	t := w.e.t
	keys := make([]*ecdsa.PrivateKey, n)
	jwks := []*oid4vci.JWK{jwk(t, &w.devKey.PublicKey)}
	for i := range keys {
		keys[i], _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		jwks = append(jwks, jwk(t, &keys[i].PublicKey))
	}
	ka, err := w.e.client.Attest(context.Background(), &oid4vci.AttestRequest{Keys: jwks, DeviceModel: w.model, OSVersion: w.os, WalletProfile: oid4vci.WalletProfileApple})
	if err != nil {
		t.Fatal(err)
	}
	return keys, ka
}

func (w *wallet) batchProofs(keys []*ecdsa.PrivateKey, ka, nonce string) []string {
	var out []string
	for _, k := range keys {
		p, err := oid4vci.SignProof(k, oid4vci.ProofOptions{Audience: w.e.srv.URL, Nonce: nonce, IssuedAt: w.e.clock(), KeyAttestation: ka})
		if err != nil {
			w.e.t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func (w *wallet) token() string {
	code, err := w.enrolment.CredentialOffer.OfferCode()
	if err != nil {
		w.e.t.Fatal(err)
	}
	tok, err := w.e.client.Token(context.Background(), code, "")
	if err != nil {
		w.e.t.Fatal(err)
	}
	return tok.AccessToken
}

func (w *wallet) batch(tok string, proofs []string) (*oid4vci.CredentialResponse, error) {
	return w.e.client.Credential(context.Background(), tok, &oid4vci.CredentialRequest{CredentialConfigurationID: oid4vci.ConfigMNC, Proofs: &oid4vci.Proofs{JWT: proofs}})
}

func parseAll(t *testing.T, r *oid4vci.CredentialResponse) []*mdoc.IssuerSigned {
	var out []*mdoc.IssuerSigned
	for _, c := range r.Credentials {
		b, err := base64.RawURLEncoding.DecodeString(c.Credential)
		if err != nil {
			t.Fatal(err)
		}
		is, err := mdoc.ParseIssuerSigned(b)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, is)
	}
	return out
}

// seen is what one verifier learns from a presentation that could link it
// to another: the MSO, the device key, every digest and the status entry.
type seen struct {
	mso       []byte
	deviceKey string
	digests   map[string]bool
	status    string
}

func observe(t *testing.T, is *mdoc.IssuerSigned) seen {
	mso := is.IssuerAuth.MSO
	pub, err := mso.DeviceKeyInfo.DeviceKey.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	ek, _ := pub.(*ecdsa.PublicKey).ECDH()
	s := seen{mso: is.IssuerAuth.Raw, deviceKey: fmt.Sprintf("%x", ek.Bytes()), digests: map[string]bool{},
		status: fmt.Sprintf("%s#%d", mso.Status.StatusList.URI, mso.Status.StatusList.Idx)}
	for _, ds := range mso.ValueDigests {
		for _, d := range ds {
			s.digests[fmt.Sprintf("%x", d)] = true
		}
	}
	return s
}

func TestBatchIssuance(t *testing.T) {
	e := newEnv(t, envOptions{})
	if m := e.svc.Metadata(); m.BatchCredentialIssuance == nil || m.BatchCredentialIssuance.BatchSize != DefaultBatchSize {
		t.Fatalf("metadata batch_credential_issuance %+v", m.BatchCredentialIssuance)
	}
	w := e.newWallet(e.newCard(taro, testca.IssueOptions{}), "iPhone16,1")
	w.enrol()
	tok := w.token()

	keys, ka := w.batchKeys(DefaultBatchSize + 1)
	_, err := w.batch(tok, w.batchProofs(keys, ka, w.nonce()))
	wantCode(t, err, oid4vci.CodeInvalidProof, oid4vci.ReasonTooLarge)
	keys = keys[:4]
	proofs := w.batchProofs(keys, ka, w.nonce())
	_, err = w.batch(tok, append(proofs, proofs[0]))
	wantCode(t, err, oid4vci.CodeInvalidProof, ReasonDuplicateKey)
	_, err = w.batch(tok, append(w.batchProofs(keys[:2], ka, w.nonce()), w.batchProofs(keys[2:], ka, w.nonce())...))
	wantCode(t, err, oid4vci.CodeInvalidNonce, "")
	// Keys the wallet provider did not attest with the enrolled device key.
	other := e.newWallet(e.newCard(taro, testca.IssueOptions{}), "iPhone16,1")
	okeys, oka := other.batchKeys(2)
	_, err = w.batch(tok, w.batchProofs(okeys, oka, w.nonce()))
	wantCode(t, err, oid4vci.CodeInvalidProof, oid4vci.ReasonKeyMismatch)

	resp, err := w.batch(tok, w.batchProofs(keys, ka, w.nonce()))
	if err != nil {
		t.Fatal(err)
	}
	creds := parseAll(t, resp)
	if len(creds) != len(keys) {
		t.Fatalf("%d credentials for %d proofs", len(creds), len(keys))
	}
	for i, is := range creds {
		pub, _ := is.IssuerAuth.MSO.DeviceKeyInfo.DeviceKey.PublicKey()
		if !keys[i].PublicKey.Equal(pub) {
			t.Errorf("credential %d is bound to another key than proof %d", i, i)
		}
	}
	// Two verifiers, each shown a different credential of the batch, find
	// nothing in common: not the MSO, device key, any digest, or the status
	// entry. (The disclosed values themselves are the same person's, which
	// is what selective disclosure limits.)
	for i := range creds {
		for j := i + 1; j < len(creds); j++ {
			a, b := observe(t, creds[i]), observe(t, creds[j])
			if bytes.Equal(a.mso, b.mso) || a.deviceKey == b.deviceKey || a.status == b.status {
				t.Errorf("credentials %d and %d share an MSO, device key or status entry", i, j)
			}
			for d := range a.digests {
				if b.digests[d] {
					t.Errorf("credentials %d and %d share digest %s", i, j, d)
				}
			}
		}
	}
	// Lifecycle covers the whole batch.
	if _, err := e.svc.AdminChange(context.Background(), AdminTarget{DeviceID: w.deviceID}, ActionSuspend, "lost", "test"); err != nil {
		t.Fatal(err)
	}
	for i, is := range creds {
		if st := e.status(is); st != mdoc.StatusSuspended {
			t.Errorf("credential %d status %d after suspend", i, st)
		}
	}
	if _, err := e.svc.AdminChange(context.Background(), AdminTarget{DeviceID: w.deviceID}, ActionRevoke, "stolen", "test"); err != nil {
		t.Fatal(err)
	}
	for i, is := range creds {
		if st := e.status(is); st != mdoc.StatusInvalid {
			t.Errorf("credential %d status %d after revoke", i, st)
		}
	}
}

// BenchmarkIssuance measures the cost per credential of a batch against a
// single issuance (proof verification, key attestation, signing, storage).
func BenchmarkIssuance(b *testing.B) {
	for _, n := range []int{1, 5, 10} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			e := newEnv(b, envOptions{})
			e.svc.cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			w := e.newWallet(e.newCard(taro, testca.IssueOptions{}), "iPhone16,1")
			w.enrol()
			tok := w.token()
			keys, ka := w.batchKeys(n)
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				proofs := w.batchProofs(keys, ka, w.nonce())
				b.StartTimer()
				if _, err := w.batch(tok, proofs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/credential")
		})
	}
}

func TestNotificationEndpoint(t *testing.T) {
	e := newEnv(t, envOptions{})
	if m := e.svc.Metadata(); m.NotificationEndpoint != e.srv.URL+oid4vci.PathNotification {
		t.Fatalf("notification_endpoint %q", m.NotificationEndpoint)
	}
	w := e.newWallet(e.newCard(taro, testca.IssueOptions{}), "iPhone16,1")
	w.enrol()
	tok := w.token()
	keys, ka := w.batchKeys(2)
	resp, err := w.batch(tok, w.batchProofs(keys, ka, w.nonce()))
	if err != nil {
		t.Fatal(err)
	}
	if resp.NotificationID == "" {
		t.Fatal("no notification_id")
	}
	ctx := context.Background()
	if err := e.client.Notify(ctx, tok, &oid4vci.NotificationRequest{NotificationID: resp.NotificationID, Event: oid4vci.EventCredentialAccepted}); err != nil {
		t.Fatal(err)
	}
	audit, _ := e.svc.Audit(ctx, w.deviceID, "", 50)
	found := false
	for _, a := range audit {
		found = found || a.Action == "notification_credential_accepted"
	}
	if !found {
		t.Errorf("notification not in the audit log: %+v", audit)
	}
	err = e.client.Notify(ctx, tok, &oid4vci.NotificationRequest{NotificationID: "cred_unknown", Event: oid4vci.EventCredentialDeleted})
	wantCode(t, err, oid4vci.CodeInvalidNotificationID, "")
	err = e.client.Notify(ctx, tok, &oid4vci.NotificationRequest{NotificationID: resp.NotificationID, Event: "credential_lost"})
	wantCode(t, err, oid4vci.CodeInvalidNotificationRequest, "")
	err = e.client.Notify(ctx, tok, &oid4vci.NotificationRequest{NotificationID: resp.NotificationID, Event: oid4vci.EventCredentialFailure, EventDescription: "bad \"quote\""})
	wantCode(t, err, oid4vci.CodeInvalidNotificationRequest, "")
	err = e.client.Notify(ctx, "bogus", &oid4vci.NotificationRequest{NotificationID: resp.NotificationID, Event: oid4vci.EventCredentialAccepted})
	wantCode(t, err, oid4vci.CodeInvalidToken, "")
	// Another device's token cannot notify about this issuance.
	other := e.newWallet(e.newCard(testca.Person{Name: "佐藤　花子", BirthDate: taro.BirthDate, Sex: taro.Sex, Address: taro.Address}, testca.IssueOptions{}), "iPhone16,1")
	other.enrol()
	err = e.client.Notify(ctx, other.token(), &oid4vci.NotificationRequest{NotificationID: resp.NotificationID, Event: oid4vci.EventCredentialDeleted})
	wantCode(t, err, oid4vci.CodeInvalidNotificationID, "")
}
