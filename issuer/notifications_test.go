package issuer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/mynumber-mdoc/mnc/issuer/notify"
	"github.com/mynumber-mdoc/mnc/issuer/notify/notifytest"
	"github.com/mynumber-mdoc/mnc/issuer/store"
	"github.com/mynumber-mdoc/mnc/jpki/testca"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
)

// receivers are the holder's mailbox and the operator webhook, fed by a
// notification worker over the env's store.
type receivers struct {
	smtp    *notifytest.SMTPServer
	webhook *notifytest.Webhook
	worker  *notify.Worker
}

func newReceivers(t *testing.T, e *env) *receivers {
	r := &receivers{smtp: notifytest.NewSMTPServer(t), webhook: notifytest.NewWebhook(t)}
	r.worker = &notify.Worker{Outbox: e.st, Webhook: &notify.Webhook{URL: r.webhook.URL}, SMTP: &notify.SMTP{Addr: r.smtp.Addr, From: "issuer@example.jp"},
		Now: e.clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return r
}

func (r *receivers) flush(t *testing.T) {
	t.Helper()
	if _, err := r.worker.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

var txCodeInMail = regexp.MustCompile(`receive your credential: ([0-9]{6})\r\n`)

// TestTxCodeFlow: with RequireTxCode the code reaches the holder's e-mail
// and nothing else (not the response, the audit log, the operator webhook
// or, once delivered, the outbox); the right code works once, a wrong one
// is refused with its reason, and wrong guesses burn the offer.
func TestTxCodeFlow(t *testing.T) {
	e := newEnv(t, envOptions{txCode: true})
	rc := newReceivers(t, e)
	ctx := context.Background()

	w := e.newWallet(e.newCard(taro, testca.IssueOptions{}), "iPhone16,1")
	_, err := w.tryEnrol(nil)
	wantCode(t, err, oid4vci.CodeInvalidApplication, oid4vci.ReasonContactRequired)
	_, err = w.tryEnrol(func(a *oid4vci.CardApplication) { a.ContactEmail = "Taro <taro@example.jp>\r\nBcc: x@evil" })
	wantCode(t, err, oid4vci.CodeInvalidApplication, oid4vci.ReasonContactInvalid)

	w.email = "taro@example.jp"
	r := w.enrol()
	grant := r.CredentialOffer.Grants.PreAuthorizedCode
	if grant.TxCode == nil || grant.TxCode.Length != TxCodeLength || grant.TxCode.InputMode != "numeric" || !strings.Contains(grant.TxCode.Description, "t***@example.jp") {
		t.Fatalf("offer tx_code %+v", grant.TxCode)
	}
	rc.flush(t)
	var code string
	for _, m := range rc.smtp.Messages() {
		if sm := txCodeInMail.FindStringSubmatch(m.Data); sm != nil {
			if len(m.To) != 1 || m.To[0] != "taro@example.jp" {
				t.Fatalf("tx_code mailed to %v", m.To)
			}
			code = sm[1]
		}
	}
	if code == "" {
		t.Fatalf("no tx_code e-mail among %d messages", len(rc.smtp.Messages()))
	}
	// The code is nowhere else.
	respJSON, _ := json.Marshal(r)
	if strings.Contains(string(respJSON), code) {
		t.Fatal("tx_code in the enrolment response")
	}
	for _, m := range rc.webhook.Messages() {
		if m.Event == store.EventTxCode || strings.Contains(string(m.Data), code) {
			t.Fatalf("tx_code reached the operator webhook: %+v", m)
		}
	}
	if len(rc.webhook.Messages()) == 0 {
		t.Fatal("webhook got nothing (device_enrolled expected)")
	}
	audit, _ := e.svc.Audit(ctx, "", "", 1000)
	for _, a := range audit {
		if strings.Contains(a.Detail, code) {
			t.Fatalf("tx_code in audit: %+v", a)
		}
	}
	db, err := sql.Open("sqlite", e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var payload string
	if err := db.QueryRow(`SELECT payload FROM outbox WHERE event = ?`, store.EventTxCode).Scan(&payload); err != nil || strings.Contains(payload, code) {
		t.Fatalf("delivered tx_code outbox payload %q (%v), want erased", payload, err)
	}

	// A wrong code is refused with its reason and does not use the offer…
	wrong := "000000"
	if code == wrong {
		wrong = "000001"
	}
	_, err = w.fetch(r.CredentialOffer, wrong)
	wantCode(t, err, oid4vci.CodeInvalidGrant, "tx_code")
	_, err = w.fetch(r.CredentialOffer, "")
	wantCode(t, err, oid4vci.CodeInvalidGrant, "tx_code")
	// …the right one works…
	docs, err := w.fetch(r.CredentialOffer, code)
	if err != nil || docs[oid4vci.ConfigMNC] == nil {
		t.Fatalf("right tx_code: %v", err)
	}
	// …once.
	_, err = w.fetch(r.CredentialOffer, code)
	wantCode(t, err, oid4vci.CodeInvalidGrant, "")

	// Guessing: MaxTxCodeAttempts wrong codes burn the offer, after which
	// even the right code is refused.
	w2 := e.newWallet(e.newCard(taro, testca.IssueOptions{}), "Pixel 9")
	w2.email = "taro@example.jp"
	r2 := w2.enrol()
	for range store.MaxTxCodeAttempts {
		_, err = w2.fetch(r2.CredentialOffer, "999999x")
		wantCode(t, err, oid4vci.CodeInvalidGrant, "tx_code")
	}
	rc.flush(t)
	msgs := rc.smtp.Messages()
	sm := txCodeInMail.FindStringSubmatch(msgs[len(msgs)-1].Data)
	for _, m := range msgs {
		if strings.Contains(m.Data, w2.deviceID) {
			if s := txCodeInMail.FindStringSubmatch(m.Data); s != nil {
				sm = s
			}
		}
	}
	if sm == nil {
		t.Fatal("no tx_code mail for the second device")
	}
	_, err = w2.fetch(r2.CredentialOffer, sm[1])
	wantCode(t, err, oid4vci.CodeInvalidGrant, "")
}

// TestUseNotification: the wallet reports a presentation with a
// device-key-signed "used" request; it is audited always and notified (to
// the webhook and the holder's e-mail) only when the holder opted in.
func TestUseNotification(t *testing.T) {
	e := newEnv(t, envOptions{})
	rc := newReceivers(t, e)
	ctx := context.Background()

	w := e.newWallet(e.newCard(taro, testca.IssueOptions{}), "iPhone16,1")
	w.email, w.notifyUse = "taro@example.jp", true
	r := w.enrol()
	docs, err := w.fetch(r.CredentialOffer, "")
	if err != nil {
		t.Fatal(err)
	}
	rc.flush(t)
	before := len(rc.webhook.Messages())
	use := &oid4vci.UseReport{DocType: mdoc.DocTypeMNC, Verifier: "Konbini Store 123", Channel: "nfc",
		Elements: []string{mdoc.NameSpaceISO23220 + "/age_over_20"}}
	ur, err := w.reportUse(use)
	if err != nil || !ur.Notified || ur.DeviceID != w.deviceID {
		t.Fatalf("report use: %+v %v", ur, err)
	}
	rc.flush(t)
	var hook *notify.Message
	for _, m := range rc.webhook.Messages()[before:] {
		if m.Event == EventCredentialUsed {
			hook = &m
		}
	}
	if hook == nil || hook.DeviceID != w.deviceID || !strings.Contains(string(hook.Data), "Konbini Store 123") || !strings.Contains(string(hook.Data), "age_over_20") {
		t.Fatalf("webhook credential_used %+v", hook)
	}
	mailed := false
	for _, m := range rc.smtp.Messages() {
		if strings.Contains(m.Data, "Subject: Your My Number credential was used") && m.To[0] == "taro@example.jp" {
			mailed = true
		}
	}
	if !mailed {
		t.Fatal("no credential_used e-mail")
	}
	a, _ := e.svc.Audit(ctx, w.deviceID, "", 100)
	if !hasAudit(a, EventCredentialUsed, "Konbini Store 123") {
		t.Fatalf("audit %+v", a)
	}

	// A verifier reports the use through the admin API, naming the
	// credential as its MSO does (status list URI and index).
	ref := docs[oid4vci.ConfigMNC].IssuerAuth.MSO.Status.StatusList
	vr, _ := json.Marshal(VerifierUseReport{StatusListURI: ref.URI, Idx: ref.Idx, Verifier: "Chiyoda Clinic reader 7", Channel: "nfc"})
	if st, b := adminDo(t, e, http.MethodPost, "/admin/use", "application/json", string(vr), ""); st != http.StatusUnauthorized {
		t.Fatalf("verifier report without token: %d %s", st, b)
	}
	st, b := adminDo(t, e, http.MethodPost, "/admin/use", "application/json", string(vr), "admin-secret")
	if st != http.StatusOK || !strings.Contains(string(b), `"notified":true`) {
		t.Fatalf("verifier report: %d %s", st, b)
	}
	rc.flush(t)
	found := false
	for _, m := range rc.webhook.Messages() {
		found = found || (m.Event == EventCredentialUsed && strings.Contains(string(m.Data), "Chiyoda Clinic reader 7") && strings.Contains(string(m.Data), `"actor":"verifier"`))
	}
	if !found {
		t.Fatal("no credential_used webhook for the verifier's report")
	}
	vr, _ = json.Marshal(VerifierUseReport{StatusListURI: ref.URI, Idx: ref.Idx + 100000, Verifier: "x"})
	if st, b := adminDo(t, e, http.MethodPost, "/admin/use", "application/json", string(vr), "admin-secret"); st != http.StatusNotFound || errorCode(t, b) != oid4vci.CodeNotFound {
		t.Fatalf("unknown entry: %d %s", st, b)
	}
	vr, _ = json.Marshal(VerifierUseReport{StatusListURI: "http://elsewhere/status/x", Idx: 0, Verifier: "x"})
	if st, b := adminDo(t, e, http.MethodPost, "/admin/use", "application/json", string(vr), "admin-secret"); st != http.StatusBadRequest {
		t.Fatalf("foreign list: %d %s", st, b)
	}

	// A report needs a doctype; it is replay-proof (single-use nonce) like
	// every device request, and needs the device key.
	_, err = w.reportUse(&oid4vci.UseReport{})
	wantCode(t, err, oid4vci.CodeInvalidDeviceRequest, oid4vci.ReasonMalformed)
	signed, err := oid4vci.SignDeviceRequest(w.devKey, &oid4vci.DeviceRequest{Audience: oid4vci.Audience{e.srv.URL}, Nonce: w.nonce(),
		IssuedAt: e.clock().Unix(), DeviceID: w.deviceID, Action: oid4vci.ActionUsed, Use: use})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.client.Device(ctx, signed, &oid4vci.UseResponse{}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, e.client.Device(ctx, signed, &oid4vci.UseResponse{}), oid4vci.CodeInvalidNonce, oid4vci.ReasonNonceUnknown)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forged, _ := oid4vci.SignDeviceRequest(other, &oid4vci.DeviceRequest{Audience: oid4vci.Audience{e.srv.URL}, Nonce: w.nonce(),
		IssuedAt: e.clock().Unix(), DeviceID: w.deviceID, Action: oid4vci.ActionUsed, Use: use})
	wantCode(t, e.client.Device(ctx, forged, &oid4vci.UseResponse{}), oid4vci.CodeInvalidDeviceRequest, oid4vci.ReasonSignature)

	// A holder who did not opt in: audited, not notified.
	w2 := e.newWallet(e.newCard(testca.Person{Name: "佐藤　花子", BirthDate: taro.BirthDate, Sex: 2, Address: taro.Address}, testca.IssueOptions{}), "Pixel 9")
	w2.email = "hanako@example.jp"
	w2.enrol()
	rc.flush(t)
	n := len(rc.webhook.Messages())
	ur, err = w2.reportUse(use)
	if err != nil || ur.Notified {
		t.Fatalf("no opt-in: %+v %v", ur, err)
	}
	rc.flush(t)
	if got := len(rc.webhook.Messages()); got != n {
		t.Fatalf("notification sent without opt-in (%d → %d)", n, got)
	}
	a, _ = e.svc.Audit(ctx, w2.deviceID, "", 100)
	if !hasAudit(a, EventCredentialUsed, "Konbini") {
		t.Fatalf("use without opt-in not audited: %+v", a)
	}
}

func hasAudit(a []storeAudit, action, detail string) bool {
	for _, x := range a {
		if x.Action == action && strings.Contains(x.Detail, detail) {
			return true
		}
	}
	return false
}

// TestPhoneCAUnavailable: without a smartphone JPKI CA (production has
// none: J-LIS issues those) enrolment still issues the mdoc and says
// explicitly why no phone certificates came back.
func TestPhoneCAUnavailable(t *testing.T) {
	e := newEnv(t, envOptions{noPhoneCA: true})
	w := e.newWallet(e.newCard(taro, testca.IssueOptions{}), "iPhone16,1")
	r := w.enrol()
	if r.JPKISignCertificate != "" || r.JPKINotIssued == nil || r.JPKINotIssued.Code != oid4vci.NoticePhoneCAUnavailable || r.JPKINotIssued.Description == "" {
		t.Fatalf("jpki_not_issued %+v sign %q", r.JPKINotIssued, r.JPKISignCertificate)
	}
	if _, err := w.fetch(r.CredentialOffer, ""); err != nil {
		t.Fatalf("mdoc issuance without phone CA: %v", err)
	}
	// With a phone CA and keys: issued, no notice.
	e2 := newEnv(t, envOptions{})
	w2 := e2.newWallet(e2.newCard(taro, testca.IssueOptions{}), "iPhone16,1")
	if r := w2.enrol(); r.JPKINotIssued != nil || r.JPKISignCertificate == "" {
		t.Fatalf("with phone CA: notice %+v", r.JPKINotIssued)
	}
	// Without JPKI keys in the application: the other notice.
	r3, err := w2.tryEnrol(func(a *oid4vci.CardApplication) { a.JPKISignKey, a.JPKIAuthKey = nil, nil })
	if err != nil || r3.JPKINotIssued == nil || r3.JPKINotIssued.Code != oid4vci.NoticeNoJPKIKeys {
		t.Fatalf("no keys: %+v %v", r3, err)
	}
}
