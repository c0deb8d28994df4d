package walletsim

import (
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
	"github.com/mynumber-mdoc/mnc/wallet-sim/se"
)

// A batch: credential i of each document shares key i. Presentations use
// each key once, documents asked together come from one key, and a refresh
// is due when at most RefreshWhenUnused unused sets remain.
func TestBatchSelection(t *testing.T) {
	w, err := Init(t.TempDir(), Profile{Platform: PlatformApple, Model: "iPhone17,1"}, "", Options{Authenticator: StaticAuth{Biometric: se.BiometricMatch}})
	if err != nil {
		t.Fatal(err)
	}
	until := time.Now().Add(90 * 24 * time.Hour)
	const n = 3
	for i := 0; i < n; i++ {
		k := se.KeyID(string(rune('a' + i)))
		for _, dt := range []string{mdoc.DocTypeMNC, mdoc.DocTypeHIC} {
			w.d.Credentials = append(w.d.Credentials, &Credential{ID: dt + string(k), DocType: dt, KeyID: k, State: StateUnknown, ValidUntil: until})
		}
	}
	if w.NeedsRefresh(time.Hour) {
		t.Fatal("fresh batch needs refresh")
	}
	// Age check (MNC alone) uses key a.
	c := w.credentialFor(mdoc.DocTypeMNC)
	w.markUsed(c.ID)
	if c.KeyID != "a" {
		t.Fatalf("first MNC from key %s", c.KeyID)
	}
	// Clinic (HIC + MNC): one key, not a; b is the unused set.
	got := w.pickCredentials([]string{mdoc.DocTypeHIC, mdoc.DocTypeMNC})
	if got[mdoc.DocTypeHIC] == nil || got[mdoc.DocTypeHIC].KeyID != got[mdoc.DocTypeMNC].KeyID || got[mdoc.DocTypeMNC].KeyID != "b" {
		t.Fatalf("picked %+v / %+v", got[mdoc.DocTypeHIC], got[mdoc.DocTypeMNC])
	}
	w.markUsed(got[mdoc.DocTypeHIC].ID)
	w.markUsed(got[mdoc.DocTypeMNC].ID)
	// Next MNC: c, never the shown a or b.
	if c := w.credentialFor(mdoc.DocTypeMNC); c.KeyID != "c" {
		t.Fatalf("third MNC from key %s", c.KeyID)
	}
	if !w.NeedsRefresh(time.Hour) {
		t.Fatal("one unused MNC left and no refresh asked")
	}
	// A suspended or revoked set is not chosen.
	for _, c := range w.d.Credentials {
		if c.KeyID == "c" {
			c.State = StateSuspended
		}
	}
	if c := w.credentialFor(mdoc.DocTypeMNC); c.State == StateSuspended {
		t.Fatal("suspended credential chosen over usable ones")
	}
}

// Use reports are the holder's choice per document: off by default, queued
// only for documents switched on, dropped when switched off.
func TestUseReportsByHolderChoice(t *testing.T) {
	w, err := Init(t.TempDir(), Profile{Platform: PlatformApple, Model: "iPhone17,1"}, "", Options{Authenticator: StaticAuth{Biometric: se.BiometricMatch}})
	if err != nil {
		t.Fatal(err)
	}
	use := func(dt string) oid4vci.UseReport {
		return oid4vci.UseReport{DocType: dt, Verifier: "Konbini", Channel: "nfc"}
	}
	w.queueUse(use(mdoc.DocTypeMNC))
	if len(w.d.PendingUses) != 0 || w.anyUseReports() {
		t.Fatal("a use was queued without the holder's choice")
	}
	if err := w.SetUseReports(mdoc.DocTypeHIC, true); err != nil {
		t.Fatal(err)
	}
	w.queueUse(use(mdoc.DocTypeMNC))
	w.queueUse(use(mdoc.DocTypeHIC))
	if len(w.d.PendingUses) != 1 || w.d.PendingUses[0].DocType != mdoc.DocTypeHIC || !w.anyUseReports() {
		t.Fatalf("pending %+v", w.d.PendingUses)
	}
	for i := 0; i < MaxPendingUses+5; i++ {
		w.queueUse(use(mdoc.DocTypeHIC))
	}
	if len(w.d.PendingUses) != MaxPendingUses {
		t.Fatalf("%d pending, bound %d", len(w.d.PendingUses), MaxPendingUses)
	}
	if err := w.SetUseReports(mdoc.DocTypeHIC, false); err != nil {
		t.Fatal(err)
	}
	if len(w.d.PendingUses) != 0 || w.anyUseReports() {
		t.Fatal("switching off kept reports")
	}
}
