package issuer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/mynumber-mdoc/mnc/jpki/testca"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
)

func hashHex(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

// Use reports by the holder's choice: a verifier reports only when the
// issuer enables it and the verifier holds a use-report credential, and
// the report is recorded only for a holder who opted in. Lifecycle notices
// reach every holder.
func TestVerifierUseReports(t *testing.T) {
	ctx := context.Background()
	refs := map[*wallet]*mdoc.StatusListRef{}
	report := func(e *env, w *wallet, cred string) (int, []byte) {
		ref := refs[w]
		if ref == nil {
			docs, err := w.fetch(w.enrolment.CredentialOffer, "")
			if err != nil {
				t.Fatal(err)
			}
			ref = docs[oid4vci.ConfigMNC].IssuerAuth.MSO.Status.StatusList
			refs[w] = ref
		}
		b, _ := json.Marshal(VerifierUseReport{StatusListURI: ref.URI, Idx: ref.Idx, Verifier: "claims to be someone else", Channel: "nfc"})
		return adminDo(t, e, http.MethodPost, PathVerifierUse, "application/json", string(b), cred)
	}

	// Off by default.
	off := newEnv(t, envOptions{})
	w := off.newWallet(off.newCard(taro, testca.IssueOptions{}), "iPhone16,1")
	w.notifyUse = true
	w.enrol()
	if st, b := report(off, w, "anything"); st != http.StatusForbidden || errorCode(t, b) != oid4vci.CodeForbidden {
		t.Fatalf("reports while off: %d %s", st, b)
	}

	e := newEnv(t, envOptions{verifierUse: VerifierUseReportConfig{Enabled: true, Credentials: map[string]string{"Chiyoda Clinic": hashHex("clinic-secret")}}})
	rc := newReceivers(t, e)
	in := e.newWallet(e.newCard(taro, testca.IssueOptions{}), "iPhone16,1")
	in.email, in.notifyUse = "taro@example.jp", true
	in.enrol()
	if st, _ := report(e, in, "wrong-secret"); st != http.StatusUnauthorized {
		t.Fatalf("unknown credential: %d", st)
	}
	if st, b := report(e, in, "clinic-secret"); st != http.StatusAccepted {
		t.Fatalf("opted-in holder: %d %s", st, b)
	}
	a, _ := e.svc.Audit(ctx, in.deviceID, "", 100)
	if !hasAudit(a, EventCredentialUsed, `verifier="Chiyoda Clinic"`) || hasAudit(a, EventCredentialUsed, "someone else") {
		t.Fatalf("use not recorded under the verifier's credential name: %+v", a)
	}

	hanako := testca.Person{Name: "佐藤　花子", BirthDate: taro.BirthDate, Sex: taro.Sex, Address: taro.Address}
	out := e.newWallet(e.newCard(hanako, testca.IssueOptions{}), "iPhone16,1")
	out.email = "hanako@example.jp" // no notify_use
	out.enrol()
	st, b := report(e, out, "clinic-secret")
	if st != http.StatusAccepted {
		t.Fatalf("holder without opt-in: %d %s (the answer must not differ)", st, b)
	}
	a, _ = e.svc.Audit(ctx, out.deviceID, "", 100)
	if hasAudit(a, EventCredentialUsed, "") {
		t.Fatalf("use recorded for a holder who did not opt in: %+v", a)
	}
	// Lifecycle notices reach her all the same.
	if _, err := e.svc.AdminChange(ctx, AdminTarget{DeviceID: out.deviceID}, ActionSuspend, "lost phone", "support"); err != nil {
		t.Fatal(err)
	}
	rc.flush(t)
	got := false
	for _, m := range rc.smtp.Messages() {
		got = got || (m.To[0] == "hanako@example.jp" && strings.Contains(m.Data, "lost phone"))
	}
	if !got {
		t.Fatal("no suspension notice to a holder without use reports")
	}
}
