package issuer

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/issuer/store"
	"github.com/mynumber-mdoc/mnc/issuer/store/postgres"
	"github.com/mynumber-mdoc/mnc/issuer/store/storetest"
	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/testca"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
)

const insuranceCSV = "full_name,birth_date,sex,address,insurer_number,insured_card_symbol,insured_number,insured_branch_number,insured_relationship,qualification_valid_from,qualification_valid_until,copayment_ratio\n" +
	"山田　太郎,1990-04-01,1,東京都千代田区千代田1-1,06139999,千代,12345,01,1,2020-04-01,,30\n"

func TestEnrolIssueVerify(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	if n, err := e.svc.ImportInsurance(ctx, strings.NewReader(insuranceCSV), "test"); err != nil || n != 1 {
		t.Fatalf("import: %d %v", n, err)
	}
	creds := e.newCard(taro, testca.IssueOptions{})
	w := e.newWallet(creds, "iPhone16,1")
	md, err := e.client.Metadata(ctx)
	if err != nil || md.CredentialConfigurationsSupported[oid4vci.ConfigMNC].Format != oid4vci.FormatMsoMdoc ||
		md.CredentialConfigurationsSupported[oid4vci.ConfigHIC].Doctype != mdoc.DocTypeHIC {
		t.Fatalf("metadata %+v %v", md, err)
	}
	r := w.enrol()
	if len(r.CredentialOffer.CredentialConfigurationIDs) != 2 {
		t.Fatalf("offer %v, want MNC and HIC (insured person)", r.CredentialOffer.CredentialConfigurationIDs)
	}
	docs, err := w.fetch(r.CredentialOffer, "")
	if err != nil {
		t.Fatal(err)
	}
	trust := mdoc.NewTrustStore(mdoc.PurposeDocumentSigner, true, e.pki.IACA)
	for cfg, is := range docs {
		dt := docTypeOf[cfg]
		if _, err := mdoc.VerifyIssuerAuth(&is.IssuerAuth, dt, &mdoc.VerifyOptions{Trust: trust, CurrentTime: e.clock()}); err != nil {
			t.Fatalf("%s issuer auth: %v", cfg, err)
		}
		for _, er := range mdoc.VerifyDigests(is.NameSpaces, &is.IssuerAuth.MSO) {
			if !er.Valid {
				t.Fatalf("%s element %s/%s digest invalid: %v", cfg, er.NameSpace, er.Identifier, er.Err)
			}
		}
		mso := is.IssuerAuth.MSO
		if pub, _ := mso.DeviceKeyInfo.DeviceKey.ECDSA(); pub == nil || !pub.Equal(&w.devKey.PublicKey) {
			t.Fatalf("%s: device key in MSO is not the wallet's", cfg)
		}
		if vu := mso.ValidityInfo.ValidUntil.Time(); vu.After(creds.SignCert.NotAfter) || vu.After(e.pki.DS.NotAfter) {
			t.Fatalf("%s validUntil %s beyond card %s / DS %s", cfg, vu, creds.SignCert.NotAfter, e.pki.DS.NotAfter)
		}
		if mso.Status == nil || mso.Status.StatusList == nil || !strings.HasPrefix(mso.Status.StatusList.URI, e.srv.URL+"/status/") {
			t.Fatalf("%s status %+v", cfg, mso.Status)
		}
		if st := e.status(is); st != mdoc.StatusValid {
			t.Fatalf("%s status %d", cfg, st)
		}
	}
	mnc := docs[oid4vci.ConfigMNC]
	want := map[string]any{"family_name": "山田", "given_name": "太郎", "sex": int64(1), "age_over_18": true, "issuing_country": "JP"}
	for id, v := range want {
		got, err := mnc.Item(mdoc.NameSpaceISO23220, id).Item.Value()
		if err != nil || got != v {
			t.Errorf("%s = %#v (%v), want %#v", id, got, err, v)
		}
	}
	for id, v := range map[string]any{"full_name_unicode": "山田　太郎", "birth_date_unicode": "1990年4月1日", "sex_unicode": "男", "resident_address_unicode": taro.Address} {
		got, _ := mnc.Item(mdoc.NameSpaceJP, id).Item.Value()
		if got != v {
			t.Errorf("%s = %#v, want %#v", id, got, v)
		}
	}
	if mnc.Item(mdoc.NameSpaceJP, "individual_number_unicode") != nil {
		t.Error("individual_number_unicode issued")
	}
	hic := docs[oid4vci.ConfigHIC]
	if v, _ := hic.Item(mdoc.NameSpaceHIC, "insurer_number").Item.Value(); v != "06139999" {
		t.Errorf("insurer_number %v", v)
	}
	// The JPKI phone certificates verify as smartphone certificates and end
	// no later than the card's.
	for _, c := range []string{r.JPKISignCertificate, r.JPKIAuthCertificate} {
		der, _ := oid4vci.DecodeCertificate(c)
		v, err := e.svc.cfg.JPKI.VerifyDER(ctx, der, jpki.VerifyOptions{CurrentTime: e.clock()})
		if err != nil {
			t.Fatalf("phone certificate: %v", err)
		}
		if v.Certificate.Form != jpki.FormSmartphone || v.Certificate.X509.NotAfter.After(creds.SignCert.NotAfter) {
			t.Fatalf("phone certificate form %s notAfter %s", v.Certificate.Form, v.Certificate.X509.NotAfter)
		}
	}
	// The offer is single use.
	if _, err := w.fetch(r.CredentialOffer, ""); oid4vci.CodeOf(err) != oid4vci.CodeInvalidGrant {
		t.Fatalf("reused offer: %v", err)
	}
	// JWT form of the status list is served too.
	b, err := e.client.StatusList(ctx, mnc.IssuerAuth.MSO.Status.StatusList.URI, MediaTypeStatusListJWT)
	if err != nil || strings.Count(string(b), ".") != 2 {
		t.Fatalf("JWT status list %q %v", b, err)
	}
	// Audit records the enrolment and issuance.
	a, _ := e.svc.Audit(ctx, w.deviceID, "", 10)
	if len(a) < 3 {
		t.Fatalf("audit %+v", a)
	}
}

func TestDeviceChangeRevokesOldPhone(t *testing.T) {
	e := newEnv(t, envOptions{})
	creds := e.newCard(taro, testca.IssueOptions{})
	old := e.newWallet(creds, "iPhone15,2")
	r1 := old.enrol()
	docs, err := old.fetch(r1.CredentialOffer, "")
	if err != nil {
		t.Fatal(err)
	}
	neu := e.newWallet(creds, "Pixel 9")
	r2 := neu.enrol()
	if r2.ReplacedDeviceID != old.deviceID {
		t.Fatalf("replaced %q, want %q", r2.ReplacedDeviceID, old.deviceID)
	}
	if _, err := neu.fetch(r2.CredentialOffer, ""); err != nil {
		t.Fatal(err)
	}
	if st := e.status(docs[oid4vci.ConfigMNC]); st != mdoc.StatusInvalid {
		t.Fatalf("old phone's credential status %d, want revoked", st)
	}
	var poll oid4vci.PollResponse
	if err := old.device(oid4vci.ActionPoll, "", &poll); err != nil {
		t.Fatal(err)
	}
	if poll.State != oid4vci.StateRevoked || len(poll.Commands) != 1 || poll.Commands[0].Action != oid4vci.RemoteActionDelete {
		t.Fatalf("poll %+v", poll)
	}
	if err := old.device(oid4vci.ActionAck, poll.Commands[0].CommandID, &poll); err != nil || len(poll.Commands) != 0 {
		t.Fatalf("ack %+v %v", poll, err)
	}
	// The old phone cannot get credentials any more.
	var ref oid4vci.EnrolResponse
	wantCode(t, old.device(oid4vci.ActionRefresh, "", &ref), oid4vci.CodeDeviceInactive, "")
	devs, _ := e.st.Devices(context.Background(), "", 0)
	live := 0
	for _, d := range devs {
		if d.State != store.DeviceRevoked {
			live++
		}
	}
	if live != 1 {
		t.Fatalf("%d live devices", live)
	}
}

func TestRevokeFromDeviceIsIdempotent(t *testing.T) {
	e := newEnv(t, envOptions{})
	w := e.newWallet(e.newCard(taro, testca.IssueOptions{}), "iPhone16,1")
	docs, err := w.fetch(w.enrol().CredentialOffer, "")
	if err != nil {
		t.Fatal(err)
	}
	var r oid4vci.LifecycleResponse
	if err := w.device(oid4vci.ActionRevoke, "", &r); err != nil || !r.Changed || r.CredentialsChanged != 1 {
		t.Fatalf("revoke %+v %v", r, err)
	}
	if st := e.status(docs[oid4vci.ConfigMNC]); st != mdoc.StatusInvalid {
		t.Fatalf("status %d", st)
	}
	r = oid4vci.LifecycleResponse{}
	if err := w.device(oid4vci.ActionRevoke, "", &r); err != nil || r.Changed {
		t.Fatalf("second revoke %+v %v", r, err)
	}
}

func adminPost(t *testing.T, e *env, path, body string) *http.Response {
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer admin-secret")
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestSuspendResumeLostPhone(t *testing.T) {
	e := newEnv(t, envOptions{})
	w := e.newWallet(e.newCard(taro, testca.IssueOptions{}), "iPhone16,1")
	docs, err := w.fetch(w.enrol().CredentialOffer, "")
	if err != nil {
		t.Fatal(err)
	}
	d, _ := e.st.Device(context.Background(), w.deviceID)
	if resp := adminPost(t, e, "/admin/persons/"+d.PersonID+"/suspend", `{"reason":"lost phone reported by phone"}`); resp.StatusCode != 200 {
		t.Fatalf("suspend: %d", resp.StatusCode)
	}
	if st := e.status(docs[oid4vci.ConfigMNC]); st != mdoc.StatusSuspended {
		t.Fatalf("status %d, want suspended", st)
	}
	var ref oid4vci.EnrolResponse
	wantCode(t, w.device(oid4vci.ActionRefresh, "", &ref), oid4vci.CodeDeviceInactive, "suspended")
	// Without the token the admin API refuses.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/admin/persons/"+d.PersonID+"/resume", nil)
	if resp, _ := e.srv.Client().Do(req); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unauthenticated admin call: %d", resp.StatusCode)
	}
	if resp := adminPost(t, e, "/admin/persons/"+d.PersonID+"/resume", ""); resp.StatusCode != 200 {
		t.Fatalf("resume: %d", resp.StatusCode)
	}
	if st := e.status(docs[oid4vci.ConfigMNC]); st != mdoc.StatusValid {
		t.Fatalf("status %d after resume", st)
	}
	// Not found: revoke.
	if resp := adminPost(t, e, "/admin/persons/"+d.PersonID+"/revoke", ""); resp.StatusCode != 200 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if st := e.status(docs[oid4vci.ConfigMNC]); st != mdoc.StatusInvalid {
		t.Fatalf("status %d after revoke", st)
	}
	if resp := adminPost(t, e, "/admin/persons/"+d.PersonID+"/resume", ""); resp.StatusCode != 200 {
		t.Fatalf("resume after revoke: %d", resp.StatusCode)
	}
	if st := e.status(docs[oid4vci.ConfigMNC]); st != mdoc.StatusInvalid {
		t.Fatal("a revoked credential was resumed")
	}
}

func TestLinkedRevocationByCRLPoll(t *testing.T) {
	e := newEnv(t, envOptions{})
	creds := e.newCard(taro, testca.IssueOptions{})
	w := e.newWallet(creds, "iPhone16,1")
	docs, err := w.fetch(w.enrol().CredentialOffer, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ca.Revoke(creds.SignCert.SerialNumber, jpki.ReasonAffiliationChanged, e.clock()); err != nil {
		t.Fatal(err)
	}
	e.publishCRLs()
	n, err := e.svc.PollCRLs(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("poll revoked %d devices: %v", n, err)
	}
	if st := e.status(docs[oid4vci.ConfigMNC]); st != mdoc.StatusInvalid {
		t.Fatalf("status %d", st)
	}
	var poll oid4vci.PollResponse
	if err := w.device(oid4vci.ActionPoll, "", &poll); err != nil || len(poll.Commands) != 1 {
		t.Fatalf("remote delete after linked revocation: %+v %v", poll, err)
	}
	// The revoked card cannot enrol again.
	w2 := e.newWallet(creds, "Pixel 9")
	_, err = w2.tryEnrol(nil)
	wantCode(t, err, oid4vci.CodeCardRejected, string(jpki.CodeRevoked))
}

func TestBlockedModel(t *testing.T) {
	e := newEnv(t, envOptions{})
	creds := e.newCard(taro, testca.IssueOptions{})
	w := e.newWallet(creds, "iPhone16,1")
	docs, err := w.fetch(w.enrol().CredentialOffer, "")
	if err != nil {
		t.Fatal(err)
	}
	if resp := adminPost(t, e, "/admin/blocks", `{"kind":"model","value":"iPhone16,1","reason":"CVE-2026-0001","suspend_existing":true}`); resp.StatusCode != 200 {
		t.Fatalf("block %d", resp.StatusCode)
	}
	if st := e.status(docs[oid4vci.ConfigMNC]); st != mdoc.StatusSuspended {
		t.Fatalf("status %d, want suspended by the emergency restriction", st)
	}
	other := e.newWallet(creds, "iPhone16,1")
	_, err = other.tryEnrol(nil)
	wantCode(t, err, oid4vci.CodeDeviceNotAllowed, oid4vci.ReasonModelBlocked)
	// A phone that may not enrol still revokes the old one with the card.
	unverified := e.newWallet(creds, "Galaxy Experimental")
	_, err = unverified.tryEnrol(nil)
	wantCode(t, err, oid4vci.CodeDeviceNotAllowed, oid4vci.ReasonModelNotAllowed)
	lr, err := unverified.revokeWithCard("")
	if err != nil || len(lr.DeviceIDs) != 1 || lr.DeviceIDs[0] != w.deviceID {
		t.Fatalf("revoke with card: %+v %v", lr, err)
	}
	if st := e.status(docs[oid4vci.ConfigMNC]); st != mdoc.StatusInvalid {
		t.Fatalf("status %d", st)
	}
	// Unblocking does not bring a revoked credential back.
	req, _ := http.NewRequest(http.MethodDelete, e.srv.URL+"/admin/blocks/model/iPhone16,1", nil)
	req.Header.Set("Authorization", "Bearer admin-secret")
	if resp, err := e.srv.Client().Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("unblock %v %v", resp, err)
	}
	if st := e.status(docs[oid4vci.ConfigMNC]); st != mdoc.StatusInvalid {
		t.Fatalf("status %d after unblock", st)
	}
	if _, err := other.tryEnrol(nil); err != nil {
		t.Fatalf("enrol after unblock: %v", err)
	}
}

func TestRefreshWithoutCard(t *testing.T) {
	e := newEnv(t, envOptions{})
	w := e.newWallet(e.newCard(taro, testca.IssueOptions{}), "iPhone16,1")
	first, err := w.fetch(w.enrol().CredentialOffer, "")
	if err != nil {
		t.Fatal(err)
	}
	e.advance(30 * 24 * time.Hour)
	e.publishCRLs()
	var r oid4vci.EnrolResponse
	if err := w.device(oid4vci.ActionRefresh, "", &r); err != nil {
		t.Fatal(err)
	}
	docs, err := w.fetch(r.CredentialOffer, "")
	if err != nil {
		t.Fatal(err)
	}
	a := first[oid4vci.ConfigMNC].IssuerAuth.MSO.ValidityInfo.ValidUntil.Time()
	b := docs[oid4vci.ConfigMNC].IssuerAuth.MSO.ValidityInfo.ValidUntil.Time()
	if !b.After(a) {
		t.Fatalf("refreshed validUntil %s not after %s", b, a)
	}
}

func TestRefusals(t *testing.T) {
	e := newEnv(t, envOptions{})
	creds := e.newCard(taro, testca.IssueOptions{})
	ctx := context.Background()

	t.Run("replayed nonce", func(t *testing.T) {
		w := e.newWallet(creds, "iPhone16,1")
		app := w.application(nil)
		if _, err := e.client.Enrol(ctx, app); err != nil {
			t.Fatal(err)
		}
		_, err := e.client.Enrol(ctx, app)
		wantCode(t, err, oid4vci.CodeInvalidNonce, oid4vci.ReasonNonceUnknown)
	})
	t.Run("wrong audience in application", func(t *testing.T) {
		w := e.newWallet(creds, "iPhone16,1")
		_, err := w.tryEnrol(func(a *oid4vci.CardApplication) { a.Audience = oid4vci.Audience{"https://evil.example"} })
		wantCode(t, err, oid4vci.CodeInvalidApplication, oid4vci.ReasonWrongAudience)
	})
	t.Run("tampered application", func(t *testing.T) {
		w := e.newWallet(creds, "iPhone16,1")
		parts := strings.Split(w.application(nil), ".")
		parts[1] = parts[1][:10] + "x" + parts[1][11:]
		_, err := e.client.Enrol(ctx, strings.Join(parts, "."))
		if c := oid4vci.CodeOf(err); c != oid4vci.CodeCardRejected && c != oid4vci.CodeInvalidApplication {
			t.Fatalf("tampered: %v", err)
		}
		if oid4vci.CodeOf(err) == oid4vci.CodeCardRejected && oid4vci.ReasonOf(err) != string(jpki.CodeSignatureInvalid) {
			t.Fatalf("tampered: %v", err)
		}
	})
	t.Run("expired card certificate", func(t *testing.T) {
		old := e.newCard(testca.Person{Name: "古川　花子", BirthDate: jpki.NewBirthDate(1960, 1, 2), Sex: jpki.SexFemale, Address: "大阪府"},
			testca.IssueOptions{NotBefore: e.clock().Add(-3 * 365 * 24 * time.Hour), Validity: 365 * 24 * time.Hour})
		w := e.newWallet(old, "iPhone16,1")
		_, err := w.tryEnrol(nil)
		wantCode(t, err, oid4vci.CodeCardRejected, string(jpki.CodeExpired))
	})
	t.Run("rooted device", func(t *testing.T) {
		w := e.newWallet(creds, "Pixel 9")
		w.rooted = true
		_, err := w.tryEnrol(nil)
		wantCode(t, err, oid4vci.CodeDeviceNotAllowed, oid4vci.ReasonRooted)
	})
	t.Run("device key not attested", func(t *testing.T) {
		w := e.newWallet(creds, "Pixel 9")
		other := e.newWallet(creds, "Pixel 9")
		_, err := w.tryEnrol(func(a *oid4vci.CardApplication) { a.KeyAttestation = other.attest() })
		wantCode(t, err, oid4vci.CodeInvalidKeyAttestation, oid4vci.ReasonKeyNotAttested)
	})
	t.Run("model differs from attestation", func(t *testing.T) {
		w := e.newWallet(creds, "Pixel 9")
		_, err := w.tryEnrol(func(a *oid4vci.CardApplication) { a.DeviceModel = "Pixel 8" })
		wantCode(t, err, oid4vci.CodeDeviceNotAllowed, oid4vci.ReasonAttestationModel)
	})
	t.Run("proofs", func(t *testing.T) {
		w := e.newWallet(creds, "iPhone16,1")
		r := w.enrol()
		code, _ := r.CredentialOffer.OfferCode()
		tok, err := e.client.Token(ctx, code, "")
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.credential(tok.AccessToken, oid4vci.ConfigMNC, w.proof(w.nonce(), "https://evil.example"))
		wantCode(t, err, oid4vci.CodeInvalidProof, oid4vci.ReasonWrongAudience)
		n := w.nonce()
		if _, err := w.credential(tok.AccessToken, oid4vci.ConfigMNC, w.proof(n, e.srv.URL)); err != nil {
			t.Fatal(err)
		}
		_, err = w.credential(tok.AccessToken, oid4vci.ConfigMNC, w.proof(n, e.srv.URL))
		wantCode(t, err, oid4vci.CodeInvalidNonce, oid4vci.ReasonNonceUnknown)
		thief := e.newWallet(creds, "iPhone16,1")
		_, err = thief.credential(tok.AccessToken, oid4vci.ConfigMNC, thief.proof(thief.nonce(), e.srv.URL))
		wantCode(t, err, oid4vci.CodeInvalidProof, oid4vci.ReasonKeyMismatch)
		_, err = w.credential(tok.AccessToken, oid4vci.ConfigHIC, w.proof(w.nonce(), e.srv.URL))
		wantCode(t, err, oid4vci.CodeCredentialRequestDenied, "")
		_, err = w.credential("bogus", oid4vci.ConfigMNC, w.proof(w.nonce(), e.srv.URL))
		wantCode(t, err, oid4vci.CodeInvalidToken, "")
	})
	t.Run("request too large", func(t *testing.T) {
		_, err := e.client.Enrol(ctx, strings.Repeat("a", DefaultMaxBody))
		wantCode(t, err, oid4vci.CodeRequestTooLarge, "")
	})
	// A JSON body is read one way only: what a proxy or a WAF in front of
	// the issuer sees is what the issuer acts on. The token is bogus, so a
	// body that got past decoding would be answered invalid_token (401).
	t.Run("request body read one way", func(t *testing.T) {
		for name, body := range map[string]string{
			"empty":            "",
			"duplicate member": `{"notification_id":"a","notification_id":"b","event":"credential_accepted"}`,
			"trailing data":    `{"notification_id":"a","event":"credential_accepted"} {}`,
			"not JSON":         `notification_id=a`,
		} {
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+oid4vci.PathNotification, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer bogus")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var out struct {
				Error string `json:"error"`
			}
			json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || out.Error != oid4vci.CodeInvalidRequest {
				t.Errorf("%s: HTTP %d %q, want 400 %s", name, resp.StatusCode, out.Error, oid4vci.CodeInvalidRequest)
			}
		}
	})
}

func TestProductionMode(t *testing.T) {
	e := newEnv(t, envOptions{production: true, platform: PlatformConfig{
		AndroidPackage: "jp.example.wallet", AndroidSigningDigests: [][]byte{make([]byte, 32)}, AppleAppID: "ABCDE12345.jp.example.wallet"}})
	creds := e.newCard(taro, testca.IssueOptions{})
	w := e.newWallet(creds, "iPhone16,1")
	// The attestation stand-in is off in production; sign one directly
	// with the attestation key to reach the card check.
	_, err := e.client.Attest(context.Background(), &oid4vci.AttestRequest{Keys: []*oid4vci.JWK{jwk(t, &w.devKey.PublicKey)}, DeviceModel: "m", OSVersion: "1", WalletProfile: "apple"})
	wantCode(t, err, oid4vci.CodeForbidden, "")
	app := &oid4vci.CardApplication{Audience: oid4vci.Audience{e.srv.URL}, Nonce: w.nonce(), IssuedAt: e.clock().Unix(),
		DeviceKey: jwk(t, &w.devKey.PublicKey), KeyAttestation: "x.y.z", DeviceModel: w.model, OSVersion: w.os}
	s, err := oid4vci.SignCardApplication(app, w.cardCert.Raw, w.cardSigner())
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.client.Enrol(context.Background(), s)
	wantCode(t, err, oid4vci.CodeCardRejected, string(jpki.CodeTestRootInProduction))
}

func testConcurrentEnrolment(t *testing.T, o envOptions) {
	e := newEnv(t, o)
	creds := e.newCard(taro, testca.IssueOptions{})
	const n = 2
	apps := make([]string, n)
	for i := range apps {
		apps[i] = e.newWallet(creds, "iPhone16,1").application(nil)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range apps {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errs[i] = e.client.Enrol(context.Background(), apps[i])
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("enrolment failed: %v", err)
		}
	}
	devs, _ := e.st.Devices(context.Background(), "", 0)
	live := 0
	for _, d := range devs {
		if d.State != store.DeviceRevoked {
			live++
		}
	}
	if len(devs) != n || live != 1 {
		t.Fatalf("%d devices, %d active; want %d and exactly 1", len(devs), live, n)
	}
}

func TestConcurrentEnrolmentSQLite(t *testing.T) { testConcurrentEnrolment(t, envOptions{}) }

func TestConcurrentEnrolmentPostgres(t *testing.T) {
	testConcurrentEnrolment(t, envOptions{store: func(t testing.TB) store.Store {
		s, err := postgres.Open(context.Background(), storetest.PostgresDSN(t))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}})
}

var _ = x509.Certificate{}

// TestCredentialNonceRace: one credential request sent many times at once
// (a replaying client, or a wallet retrying without waiting) is served
// once; the others are refused for their nonce and record nothing. The
// nonce is consumed in the recording transaction, so this is the store's
// single use under concurrency, on both databases.
func TestCredentialNonceRace(t *testing.T) {
	for _, db := range []struct {
		name string
		o    func() envOptions
	}{{"sqlite", func() envOptions { return envOptions{} }}, {"postgres", postgresEnv}} {
		t.Run(db.name, func(t *testing.T) {
			e := newEnv(t, db.o())
			ctx := context.Background()
			w := e.newWallet(e.newCard(taro, testca.IssueOptions{}), "iPhone16,1")
			r := w.enrol()
			code, _ := r.CredentialOffer.OfferCode()
			tok, err := e.svc.Token(ctx, &oid4vci.TokenRequest{GrantType: oid4vci.GrantPreAuthorizedCode, PreAuthorizedCode: code})
			if err != nil {
				t.Fatal(err)
			}
			n, err := e.svc.Nonce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			keys, ka := w.batchKeys(3)
			var jwts []string
			for _, k := range keys {
				p, err := oid4vci.SignProof(k, oid4vci.ProofOptions{Audience: e.srv.URL, Nonce: n, IssuedAt: e.clock(), KeyAttestation: ka})
				if err != nil {
					t.Fatal(err)
				}
				jwts = append(jwts, p)
			}
			req := &oid4vci.CredentialRequest{CredentialConfigurationID: oid4vci.ConfigMNC, Proofs: &oid4vci.Proofs{JWT: jwts}}
			before, err := e.st.Credentials(ctx, r.DeviceID)
			if err != nil {
				t.Fatal(err)
			}
			const senders = 8
			errs := make([]error, senders)
			var wg sync.WaitGroup
			for i := range senders {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = e.svc.Credential(ctx, tok.AccessToken, req)
				}()
			}
			wg.Wait()
			served := 0
			for _, err := range errs {
				if err == nil {
					served++
					continue
				}
				wantCode(t, err, oid4vci.CodeInvalidNonce, oid4vci.ReasonNonceUnknown)
			}
			if served != 1 {
				t.Fatalf("%d of %d identical requests served, want 1", served, senders)
			}
			after, err := e.st.Credentials(ctx, r.DeviceID)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(after) - len(before); got != len(keys) {
				t.Fatalf("%d credentials recorded, want %d", got, len(keys))
			}
		})
	}
}
