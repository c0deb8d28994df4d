// Package storetest is the storage test-suite every store.Store
// implementation must pass (SQLite always, PostgreSQL when
// MDOC_TEST_POSTGRES_DSN is set), plus helpers to reach a test PostgreSQL.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/issuer/store"
)

var t0 = time.Date(2026, 4, 1, 3, 0, 0, 0, time.UTC)

// Run runs the suite; open returns a fresh, empty store for each subtest.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	for _, tc := range []struct {
		name string
		f    func(*testing.T, store.Store)
	}{
		{"Nonces", testNonces},
		{"IssueConsumesNonce", testIssueNonce},
		{"EnrolReplacesDevice", testEnrolReplaces},
		{"ConcurrentEnrolment", testConcurrentEnrol},
		{"OffersAndTokens", testOffers},
		{"IssueAndStatus", testIssue},
		{"IssueBatch", testIssueBatch},
		{"ConcurrentBatches", testConcurrentBatches},
		{"Lifecycle", testLifecycle},
		{"LinkedRevocation", testLinked},
		{"Blocks", testBlocks},
		{"Insurance", testInsurance},
		{"AuditAndOutbox", testAuditOutbox},
		{"AppAttestCounters", testAppAttest},
		{"TxCodeDeliveryAndAttempts", testTxCode},
		{"CredentialByStatusAndNotifyUse", testCredentialByStatus},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.f(t, s)
		})
	}
}

func enrol(t *testing.T, s store.Store, person, device, card string) *store.EnrolResult {
	t.Helper()
	r, err := s.Enrol(context.Background(), enrolParams(person, device, card))
	if err != nil {
		t.Fatalf("enrol %s: %v", device, err)
	}
	return r
}

func enrolParams(person, device, card string) store.EnrolParams {
	return store.EnrolParams{
		PersonKey: person,
		Card:      store.CardCert{ID: card, Serial: "1", Issuer: "CN=test", NotAfter: t0.Add(365 * 24 * time.Hour), DER: []byte{0x30, 0x01, 0x02}},
		Device: store.Device{ID: device, DeviceKey: `{"kty":"EC"}`, KeyThumbprint: "tp-" + device, Model: "Pixel 9", OSVersion: "15",
			WalletProfile: "android", ValidUntil: t0.Add(365 * 24 * time.Hour)},
		OfferCodeHash: "code-" + device, Configs: []string{"jp.mnc"}, OfferExpires: t0.Add(10 * time.Minute), Now: t0,
		Event: store.Event{Actor: "card", Action: "enrolled", Notify: true},
	}
}

func issue(t *testing.T, s store.Store, device string) *store.Credential {
	t.Helper()
	c, err := s.IssueCredentials(context.Background(), store.IssueBatch{
		DeviceID: device, DocType: "org.iso.23220.1.jp.mnc", Count: 1, ListSize: 1 << 10, ValidFrom: t0, ValidUntil: t0.Add(time.Hour), Now: t0,
		Event: store.Event{Actor: "wallet", Action: "issued"},
		Sign:  func(int, store.StatusRef) error { return nil },
	})
	if err != nil {
		t.Fatalf("issue for %s: %v", device, err)
	}
	if len(c) != 1 {
		t.Fatalf("issue for %s: %d credentials, want 1", device, len(c))
	}
	return &c[0]
}

// issueBatch is IssueCredentials of n credentials with a signer that
// succeeds.
func issueBatch(s store.Store, device string, n int, size uint64) ([]store.Credential, error) {
	return s.IssueCredentials(context.Background(), store.IssueBatch{
		DeviceID: device, DocType: "org.iso.23220.1.jp.mnc", Count: n, ListSize: size, ValidFrom: t0, ValidUntil: t0.Add(time.Hour), Now: t0,
		Event: store.Event{Actor: "wallet", Action: "issued", DeviceID: device, Notify: true},
		Sign:  func(int, store.StatusRef) error { return nil },
	})
}

func testNonces(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.PutNonce(ctx, "n1", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.ConsumeNonce(ctx, "n1", t0); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if err := s.ConsumeNonce(ctx, "n1", t0); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("replay: %v, want ErrUsed", err)
	}
	s.PutNonce(ctx, "n2", t0.Add(time.Minute))
	if err := s.ConsumeNonce(ctx, "n2", t0.Add(2*time.Minute)); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("expired: %v, want ErrUsed", err)
	}
	if err := s.ConsumeNonce(ctx, "never", t0); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("unknown: %v", err)
	}
	if err := s.Purge(ctx, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
}

// testIssueNonce: a batch's nonce is consumed with its recording, and a
// batch whose nonce is unknown, used or expired records nothing.
func testIssueNonce(t *testing.T, s store.Store) {
	ctx := context.Background()
	enrol(t, s, "nora", "n1", "cardn1")
	enrol(t, s, "nils", "n2", "cardn2")
	batch := func(device, nonce string, now time.Time) store.IssueBatch {
		return store.IssueBatch{
			DeviceID: device, DocType: "org.iso.23220.1.jp.mnc", Count: 2, ListSize: 1 << 10, ValidFrom: t0, ValidUntil: t0.Add(time.Hour), Now: now,
			Event: store.Event{Actor: "wallet", Action: "issued", DeviceID: device, Notify: true}, Nonce: nonce,
			Sign: func(int, store.StatusRef) error { return nil },
		}
	}
	recorded := func(device string) (creds, audits, notes int) {
		t.Helper()
		c, err := s.Credentials(ctx, device)
		if err != nil {
			t.Fatal(err)
		}
		a, err := s.Audit(ctx, device, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range a {
			if e.Action == "issued" {
				audits++
			}
		}
		ns, err := s.PendingNotifications(ctx, t0.Add(time.Hour), 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range ns {
			if n.DeviceID == device && n.Event == "issued" {
				notes++
			}
		}
		return len(c), audits, notes
	}
	for _, n := range []string{"good", "late"} {
		if err := s.PutNonce(ctx, n, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.IssueCredentials(ctx, batch("n1", "never", t0)); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("unknown nonce: %v, want ErrUsed", err)
	}
	if _, err := s.IssueCredentials(ctx, batch("n1", "late", t0.Add(2*time.Minute))); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("expired nonce: %v, want ErrUsed", err)
	}
	if c, a, o := recorded("n1"); c != 0 || a != 0 || o != 0 {
		t.Fatalf("refused batches recorded %d credentials, %d audit entries, %d notifications", c, a, o)
	}
	if got, err := s.IssueCredentials(ctx, batch("n1", "good", t0)); err != nil || len(got) != 2 {
		t.Fatalf("fresh nonce: %d credentials, %v", len(got), err)
	}
	if c, a, o := recorded("n1"); c != 2 || a != 2 || o != 1 {
		t.Fatalf("recorded %d credentials, %d audit entries, %d notifications; want 2, 2, 1", c, a, o)
	}
	// Consumed: neither a replayed batch nor ConsumeNonce finds it.
	if _, err := s.IssueCredentials(ctx, batch("n1", "good", t0)); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("replayed nonce: %v, want ErrUsed", err)
	}
	if err := s.ConsumeNonce(ctx, "good", t0); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("nonce after its batch: %v, want ErrUsed", err)
	}
	if c, _, _ := recorded("n1"); c != 2 {
		t.Fatalf("%d credentials after the replay, want 2", c)
	}
	// A batch refused for its device keeps its nonce.
	if err := s.PutNonce(ctx, "kept", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ChangeDevices(ctx, store.ChangeParams{DeviceIDs: []string{"n2"}, From: []string{store.DeviceActive}, To: store.DeviceSuspended, Now: t0}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.IssueCredentials(ctx, batch("n2", "kept", t0)); !errors.Is(err, store.ErrDeviceState) {
		t.Fatalf("suspended device: %v, want ErrDeviceState", err)
	}
	if err := s.ConsumeNonce(ctx, "kept", t0); err != nil {
		t.Fatalf("nonce of a batch refused for its device: %v, want it kept", err)
	}
}

func testEnrolReplaces(t *testing.T, s store.Store) {
	ctx := context.Background()
	r1 := enrol(t, s, "alice", "d1", "card1")
	if r1.ReplacedDeviceID != "" {
		t.Fatalf("first enrolment replaced %q", r1.ReplacedDeviceID)
	}
	c1 := issue(t, s, "d1")
	r2 := enrol(t, s, "alice", "d2", "card1")
	if r2.ReplacedDeviceID != "d1" || r2.RevokedCreds != 1 || r2.PersonID != r1.PersonID {
		t.Fatalf("re-enrol = %+v", r2)
	}
	d1, _ := s.Device(ctx, "d1")
	if d1.State != store.DeviceRevoked {
		t.Fatalf("old device %s", d1.State)
	}
	creds, _ := s.Credentials(ctx, "d1")
	if len(creds) != 1 || creds[0].State != store.CredentialRevoked || creds[0].ID != c1.ID {
		t.Fatalf("old credentials %+v", creds)
	}
	cmds, _ := s.PendingCommands(ctx, "d1")
	if len(cmds) != 1 || cmds[0].Action != "delete" {
		t.Fatalf("remote delete %+v", cmds)
	}
	if ok, err := s.AckCommand(ctx, "d1", cmds[0].ID, t0); !ok || err != nil {
		t.Fatalf("ack %v %v", ok, err)
	}
	if ok, err := s.AckCommand(ctx, "d1", cmds[0].ID, t0); ok || err != nil {
		t.Fatalf("second ack %v %v", ok, err)
	}
	if _, err := s.AckCommand(ctx, "d2", cmds[0].ID, t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ack by another device: %v", err)
	}
	if cmds, _ := s.PendingCommands(ctx, "d1"); len(cmds) != 0 {
		t.Fatalf("pending after ack %+v", cmds)
	}
	// Another person is unaffected.
	enrol(t, s, "bob", "d3", "card3")
	if d2, _ := s.Device(ctx, "d2"); d2.State != store.DeviceActive {
		t.Fatalf("alice's d2 is %s after bob enrolled", d2.State)
	}
	if _, err := s.IssueCredentials(ctx, store.IssueBatch{DeviceID: "d1", Count: 1, ListSize: 1024, Now: t0, Sign: func(int, store.StatusRef) error { return nil }}); !errors.Is(err, store.ErrDeviceState) {
		t.Fatalf("issue to revoked device: %v", err)
	}
}

func testConcurrentEnrol(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 6
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := s.Enrol(ctx, enrolParams("carol", fmt.Sprintf("c%d", i), "cardc"))
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent enrolment failed: %v", err)
		}
	}
	p, err := s.PersonByKey(ctx, "carol")
	if err != nil {
		t.Fatal(err)
	}
	devs, _ := s.Devices(ctx, p.ID, 0)
	live := 0
	for _, d := range devs {
		if d.State != store.DeviceRevoked {
			live++
		}
	}
	if len(devs) != n || live != 1 {
		t.Fatalf("%d devices, %d live; want %d and 1", len(devs), live, n)
	}
}

func testOffers(t *testing.T, s store.Store) {
	ctx := context.Background()
	p := enrolParams("dave", "dd1", "cardd")
	p.TxCodeHash = "tx"
	if _, err := s.Enrol(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RedeemOffer(ctx, "code-dd1", "wrong", "tok", t0.Add(time.Hour), t0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("wrong tx code: %v", err)
	}
	g, err := s.RedeemOffer(ctx, "code-dd1", "tx", "tok", t0.Add(time.Hour), t0)
	if err != nil || g.DeviceID != "dd1" || len(g.Configs) != 1 {
		t.Fatalf("redeem %+v %v", g, err)
	}
	if _, err := s.RedeemOffer(ctx, "code-dd1", "tx", "tok2", t0.Add(time.Hour), t0); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("second redeem: %v", err)
	}
	if g, err := s.Token(ctx, "tok", t0); err != nil || g.DeviceID != "dd1" {
		t.Fatalf("token %+v %v", g, err)
	}
	if _, err := s.Token(ctx, "tok", t0.Add(2*time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired token: %v", err)
	}
	if err := s.CreateOffer(ctx, "dd1", "refresh-code", "", []string{"jp.mnc", "jp.hic"}, t0.Add(time.Minute), store.Event{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RedeemOffer(ctx, "refresh-code", "", "tok3", t0.Add(time.Hour), t0.Add(2*time.Minute)); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("expired offer: %v", err)
	}
}

func testIssue(t *testing.T, s store.Store) {
	ctx := context.Background()
	enrol(t, s, "erin", "e1", "carde")
	seen := map[store.StatusRef]bool{}
	for i := 0; i < 40; i++ {
		c := issue(t, s, "e1")
		ref := store.StatusRef{ListID: c.ListID, Idx: c.Idx}
		if seen[ref] {
			t.Fatalf("status entry %+v allocated twice", ref)
		}
		seen[ref] = true
		if c.Idx >= 1<<10 {
			t.Fatalf("idx %d out of list", c.Idx)
		}
	}
	// A failing signer leaves no credential and no allocation visible.
	before, _ := s.Credentials(ctx, "e1")
	_, err := s.IssueCredentials(ctx, store.IssueBatch{DeviceID: "e1", Count: 1, ListSize: 1 << 10, Now: t0, Sign: func(int, store.StatusRef) error { return errors.New("hsm down") }})
	if err == nil {
		t.Fatal("issue with failing signer succeeded")
	}
	after, _ := s.Credentials(ctx, "e1")
	if len(after) != len(before) {
		t.Fatalf("failed issuance left a credential: %d → %d", len(before), len(after))
	}
	lists, _ := s.StatusLists(ctx)
	if len(lists) != 1 {
		t.Fatalf("lists %v", lists)
	}
	v1, entries, err := s.StatusEntries(ctx, lists[0])
	if err != nil || len(entries) != 0 {
		t.Fatalf("entries %v %v", entries, err)
	}
	s.ChangeDevices(ctx, store.ChangeParams{DeviceIDs: []string{"e1"}, From: []string{store.DeviceActive}, To: store.DeviceSuspended, Now: t0})
	v2, entries, _ := s.StatusEntries(ctx, lists[0])
	if v2 <= v1 || len(entries) != 40 {
		t.Fatalf("after suspend: version %d→%d, %d entries", v1, v2, len(entries))
	}
	for _, st := range entries {
		if st != store.CredentialSuspended {
			t.Fatalf("entry %s", st)
		}
	}
	// A small list fills up and a second one is created.
	enrol(t, s, "fay", "f1", "cardf")
	for i := 0; i < 5; i++ {
		if _, err := s.IssueCredentials(ctx, store.IssueBatch{DeviceID: "f1", Count: 1, ListSize: 4, Now: t0, Sign: func(int, store.StatusRef) error { return nil }}); err != nil {
			t.Fatalf("small list issue %d: %v", i, err)
		}
	}
	if lists, _ := s.StatusLists(ctx); len(lists) < 2 {
		t.Fatalf("no new list when full: %v", lists)
	}
}

func testLifecycle(t *testing.T, s store.Store) {
	ctx := context.Background()
	enrol(t, s, "gus", "g1", "cardg")
	issue(t, s, "g1")
	susp := store.ChangeParams{PersonID: mustPerson(t, s, "gus"), From: []string{store.DeviceActive}, To: store.DeviceSuspended, Reason: "lost", Now: t0,
		Event: store.Event{Actor: "admin", Action: "suspended"}}
	r, err := s.ChangeDevices(ctx, susp)
	if err != nil || len(r.DeviceIDs) != 1 || r.CredentialsChanged != 1 {
		t.Fatalf("suspend %+v %v", r, err)
	}
	r, _ = s.ChangeDevices(ctx, susp)
	if len(r.DeviceIDs) != 0 {
		t.Fatalf("second suspend changed %v", r.DeviceIDs)
	}
	if _, err := s.IssueCredentials(ctx, store.IssueBatch{DeviceID: "g1", Count: 1, ListSize: 1024, Now: t0, Sign: func(int, store.StatusRef) error { return nil }}); !errors.Is(err, store.ErrDeviceState) {
		t.Fatalf("issue while suspended: %v", err)
	}
	r, _ = s.ChangeDevices(ctx, store.ChangeParams{DeviceIDs: []string{"g1"}, From: []string{store.DeviceSuspended}, To: store.DeviceActive, Now: t0})
	if len(r.DeviceIDs) != 1 || r.CredentialsChanged != 1 {
		t.Fatalf("resume %+v", r)
	}
	creds, _ := s.Credentials(ctx, "g1")
	if creds[0].State != store.CredentialValid {
		t.Fatalf("after resume %s", creds[0].State)
	}
	r, _ = s.ChangeDevices(ctx, store.ChangeParams{DeviceIDs: []string{"g1"}, From: []string{store.DeviceActive, store.DeviceSuspended}, To: store.DeviceRevoked, Now: t0})
	if len(r.DeviceIDs) != 1 {
		t.Fatalf("revoke %+v", r)
	}
	r, _ = s.ChangeDevices(ctx, store.ChangeParams{DeviceIDs: []string{"g1"}, From: []string{store.DeviceSuspended}, To: store.DeviceActive, Now: t0})
	if len(r.DeviceIDs) != 0 {
		t.Fatal("resumed a revoked device")
	}
	creds, _ = s.Credentials(ctx, "g1")
	if creds[0].State != store.CredentialRevoked {
		t.Fatalf("after revoke %s", creds[0].State)
	}
}

func mustPerson(t *testing.T, s store.Store, key string) string {
	p, err := s.PersonByKey(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return p.ID
}

func testLinked(t *testing.T, s store.Store) {
	ctx := context.Background()
	enrol(t, s, "hana", "h1", "cardh")
	issue(t, s, "h1")
	live, _ := s.LiveCardCerts(ctx)
	if len(live) != 1 || live[0].ID != "cardh" || len(live[0].DER) != 3 {
		t.Fatalf("live cards %+v", live)
	}
	s.MarkCardRevoked(ctx, "cardh", t0)
	r, err := s.ChangeDevices(ctx, store.ChangeParams{CardCert: "cardh", From: []string{store.DeviceActive, store.DeviceSuspended}, To: store.DeviceRevoked,
		QueueDelete: true, Reason: "card revoked", Now: t0})
	if err != nil || len(r.DeviceIDs) != 1 || r.CredentialsChanged != 1 {
		t.Fatalf("linked revoke %+v %v", r, err)
	}
	if c, _ := s.CardCert(ctx, "cardh"); !c.Revoked {
		t.Fatal("card not marked revoked")
	}
	// DeviceCard reads what Device and CardCert read, in one go.
	d, c, err := s.DeviceCard(ctx, "h1")
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != "h1" || d.State != store.DeviceRevoked || d.CardCertID != "cardh" || d.DeviceKey != `{"kty":"EC"}` || !d.ValidUntil.Equal(t0.Add(365*24*time.Hour)) {
		t.Fatalf("DeviceCard device %+v", d)
	}
	if c.ID != "cardh" || !c.Revoked || !c.RevokedAt.Equal(t0) || c.Serial != "1" || c.Issuer != "CN=test" || len(c.DER) != 3 || !c.NotAfter.Equal(t0.Add(365*24*time.Hour)) {
		t.Fatalf("DeviceCard card %+v", c)
	}
	if want, _ := s.Device(ctx, "h1"); !reflect.DeepEqual(d, want) {
		t.Fatalf("DeviceCard device %+v, Device %+v", d, want)
	}
	if want, _ := s.CardCert(ctx, "cardh"); !reflect.DeepEqual(c, want) {
		t.Fatalf("DeviceCard card %+v, CardCert %+v", c, want)
	}
	if _, _, err := s.DeviceCard(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeviceCard of an unknown device: %v, want ErrNotFound", err)
	}
	if live, _ := s.LiveCardCerts(ctx); len(live) != 0 {
		t.Fatalf("still live %+v", live)
	}
}

func testBlocks(t *testing.T, s store.Store) {
	ctx := context.Background()
	b := store.Block{Kind: store.BlockModel, Value: "Pixel 9", Reason: "CVE", SuspendExisting: true, CreatedAt: t0}
	if err := s.PutBlock(ctx, b, store.Event{Actor: "admin", Action: "model_blocked"}); err != nil {
		t.Fatal(err)
	}
	b.Reason = "CVE-2"
	s.PutBlock(ctx, b, store.Event{})
	bl, _ := s.Blocks(ctx)
	if len(bl) != 1 || bl[0].Reason != "CVE-2" || !bl[0].SuspendExisting {
		t.Fatalf("blocks %+v", bl)
	}
	enrol(t, s, "ian", "i1", "cardi")
	r, _ := s.ChangeDevices(ctx, store.ChangeParams{Block: &b, From: []string{store.DeviceActive}, To: store.DeviceSuspended, Reason: "blocked:model:Pixel 9", Now: t0})
	if len(r.DeviceIDs) != 1 {
		t.Fatalf("block suspend %+v", r)
	}
	if ok, _ := s.DeleteBlock(ctx, store.BlockModel, "Pixel 9", store.Event{Actor: "admin", Action: "model_unblocked"}); !ok {
		t.Fatal("unblock")
	}
	if ok, _ := s.DeleteBlock(ctx, store.BlockModel, "Pixel 9", store.Event{}); ok {
		t.Fatal("second unblock changed")
	}
	r, _ = s.ChangeDevices(ctx, store.ChangeParams{Block: &b, From: []string{store.DeviceSuspended}, To: store.DeviceActive, OnlyReason: "lost", Now: t0})
	if len(r.DeviceIDs) != 0 {
		t.Fatal("resumed a device suspended for another reason")
	}
	r, _ = s.ChangeDevices(ctx, store.ChangeParams{Block: &b, From: []string{store.DeviceSuspended}, To: store.DeviceActive, OnlyReason: "blocked:model:Pixel 9", Now: t0})
	if len(r.DeviceIDs) != 1 {
		t.Fatal("unblock did not resume")
	}
}

func testInsurance(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.Insurance(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	row := store.Insurance{PersonKey: "k", InsurerNumber: "06123456", InsuredCardSymbol: "記号", InsuredNumber: "123", InsuredBranchNumber: "01",
		InsuredRelationship: 1, QualificationFrom: "2024-04-01", CopaymentRatioPercent: 30}
	if n, err := s.PutInsurance(ctx, []store.Insurance{row}, store.Event{Actor: "admin", Action: "insurance_import"}); n != 1 || err != nil {
		t.Fatal(n, err)
	}
	row.CopaymentRatioPercent = 20
	s.PutInsurance(ctx, []store.Insurance{row}, store.Event{})
	got, err := s.Insurance(ctx, "k")
	if err != nil || got.CopaymentRatioPercent != 20 || got.InsuredCardSymbol != "記号" {
		t.Fatalf("%+v %v", got, err)
	}
}

func testAuditOutbox(t *testing.T, s store.Store) {
	ctx := context.Background()
	enrol(t, s, "jo", "j1", "cardj")
	a, err := s.Audit(ctx, "j1", "", 10)
	if err != nil || len(a) != 1 || a[0].Action != "enrolled" {
		t.Fatalf("audit %+v %v", a, err)
	}
	n, err := s.PendingNotifications(ctx, t0, 10)
	if err != nil || len(n) != 1 || n[0].Event != "enrolled" || n[0].DeviceID != "j1" {
		t.Fatalf("outbox %+v %v", n, err)
	}
	s.MarkNotification(ctx, n[0].ID, false, "connection refused", t0.Add(time.Minute))
	if n, _ := s.PendingNotifications(ctx, t0, 10); len(n) != 0 {
		t.Fatal("retry not deferred")
	}
	n, _ = s.PendingNotifications(ctx, t0.Add(time.Minute), 10)
	if len(n) != 1 || n[0].Attempts != 1 || n[0].LastError != "connection refused" {
		t.Fatalf("retry %+v", n)
	}
	s.MarkNotification(ctx, n[0].ID, true, "", t0)
	if n, _ := s.PendingNotifications(ctx, t0.Add(time.Hour), 10); len(n) != 0 {
		t.Fatal("delivered still pending")
	}
}

// testTxCode: a tx_code is queued for the holder's e-mail only, never
// audited, erased from the outbox once delivered; wrong codes are counted
// and MaxTxCodeAttempts of them use the offer up.
func testTxCode(t *testing.T, s store.Store) {
	ctx := context.Background()
	p := enrolParams("p-tx", "dtx", "c-tx")
	p.TxCode, p.TxCodeHash = "123456", "h-123456"
	if _, err := s.Enrol(ctx, p); err == nil {
		t.Fatal("tx_code without the holder's e-mail accepted")
	}
	p.Event.Email = "holder@example.jp"
	if _, err := s.Enrol(ctx, p); err != nil {
		t.Fatal(err)
	}
	a, _ := s.Audit(ctx, "dtx", "", 100)
	for _, e := range a {
		if strings.Contains(e.Detail, "123456") {
			t.Fatalf("tx_code in audit %+v", e)
		}
	}
	ns, _ := s.PendingNotifications(ctx, t0, 100)
	var tx *store.Notification
	for i := range ns {
		if ns[i].Event == store.EventTxCode {
			tx = &ns[i]
		}
	}
	if tx == nil || tx.Email != "holder@example.jp" || !strings.Contains(tx.Payload, "123456") {
		t.Fatalf("tx_code outbox row %+v", tx)
	}
	if err := s.MarkNotification(ctx, tx.ID, true, "", t0); err != nil {
		t.Fatal(err)
	}
	for range store.MaxTxCodeAttempts - 1 {
		if _, err := s.RedeemOffer(ctx, "code-dtx", "h-wrong", "tok-x", t0.Add(time.Hour), t0); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("wrong code: %v", err)
		}
	}
	if _, err := s.RedeemOffer(ctx, "code-dtx", "h-123456", "tok-tx", t0.Add(time.Hour), t0); err != nil {
		t.Fatalf("right code after %d wrong: %v", store.MaxTxCodeAttempts-1, err)
	}
	p2 := enrolParams("p-tx2", "dtx2", "c-tx2")
	p2.TxCode, p2.TxCodeHash, p2.Event.Email = "654321", "h-654321", "holder@example.jp"
	if _, err := s.Enrol(ctx, p2); err != nil {
		t.Fatal(err)
	}
	for range store.MaxTxCodeAttempts {
		s.RedeemOffer(ctx, "code-dtx2", "h-wrong", "tok-y", t0.Add(time.Hour), t0)
	}
	if _, err := s.RedeemOffer(ctx, "code-dtx2", "h-654321", "tok-tx2", t0.Add(time.Hour), t0); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("right code after the attempt limit: %v, want ErrUsed", err)
	}
}

func testCredentialByStatus(t *testing.T, s store.Store) {
	ctx := context.Background()
	p := enrolParams("p-use", "duse", "c-use")
	p.Device.NotifyUse = true
	if _, err := s.Enrol(ctx, p); err != nil {
		t.Fatal(err)
	}
	if d, err := s.Device(ctx, "duse"); err != nil || !d.NotifyUse {
		t.Fatalf("notify_use not kept: %+v %v", d, err)
	}
	c := issue(t, s, "duse")
	got, err := s.CredentialByStatus(ctx, c.ListID, c.Idx)
	if err != nil || got.ID != c.ID || got.DeviceID != "duse" {
		t.Fatalf("by status %+v %v", got, err)
	}
	if _, err := s.CredentialByStatus(ctx, c.ListID, c.Idx+1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("empty entry: %v", err)
	}
	if got, err := s.Credential(ctx, c.ID); err != nil || got.ID != c.ID || got.DeviceID != "duse" || got.ListID != c.ListID || got.Idx != c.Idx ||
		got.DocType != c.DocType || got.State != c.State || !got.ValidUntil.Equal(c.ValidUntil) || !got.IssuedAt.Equal(c.IssuedAt) {
		t.Fatalf("by id %+v %v, want %+v", got, err, c)
	}
	if _, err := s.Credential(ctx, c.ID+"x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
}

func testAppAttest(t *testing.T, st store.Store) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	if _, err := st.AppAttestKey(ctx, "dev_none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no key: %v", err)
	}
	if err := st.PutAppAttestKey(ctx, store.AppAttestKey{DeviceID: "dev_a", KeyID: "kid-a", PublicKey: []byte{1, 2, 3}, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	k, err := st.AppAttestKey(ctx, "dev_a")
	if err != nil || k.KeyID != "kid-a" || k.Counter != 0 || string(k.PublicKey) != "\x01\x02\x03" {
		t.Fatalf("read back %+v %v", k, err)
	}
	if err := st.AdvanceAppAttestCounter(ctx, "kid-a", 1); err != nil {
		t.Fatal(err)
	}
	for _, c := range []uint32{1, 0} {
		if err := st.AdvanceAppAttestCounter(ctx, "kid-a", c); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("counter %d after 1: %v", c, err)
		}
	}
	if err := st.AdvanceAppAttestCounter(ctx, "kid-a", 7); err != nil {
		t.Fatal(err)
	}
	if k, _ := st.AppAttestKey(ctx, "dev_a"); k.Counter != 7 {
		t.Fatalf("counter %d", k.Counter)
	}
	if err := st.AdvanceAppAttestCounter(ctx, "kid-unknown", 9); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown key: %v", err)
	}
}

// testIssueBatch: IssueCredentials reserves, signs outside any transaction
// and records; whatever goes wrong in between records nothing and never
// hands a reserved entry out again.
func testIssueBatch(t *testing.T, s store.Store) {
	ctx := context.Background()
	revoke := func(device string) {
		t.Helper()
		if _, err := s.ChangeDevices(ctx, store.ChangeParams{DeviceIDs: []string{device}, From: []string{store.DeviceActive}, To: store.DeviceRevoked, Now: t0}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name     string
		size     uint64
		n        int
		before   func(device string)              // before the call
		sign     func(device string, i int) error // inside Sign
		wantErr  error                            // nil: success
		wantSign int                              // Sign calls
	}{
		{name: "ok", size: 1 << 10, n: 5, wantSign: 5},
		{name: "device inactive before reserve", size: 1 << 10, n: 5, before: revoke, wantErr: store.ErrDeviceState},
		{name: "device revoked between reserve and record", size: 1 << 10, n: 5, wantErr: store.ErrDeviceState, wantSign: 5,
			sign: func(device string, i int) error {
				if i == 0 {
					revoke(device)
				}
				return nil
			}},
		{name: "signer error", size: 1 << 10, n: 5, wantErr: errHSM, wantSign: 3,
			sign: func(_ string, i int) error {
				if i == 2 {
					return errHSM
				}
				return nil
			}},
		// 8 entries: a first batch of 5 leaves 3, so the second batch
		// spills into a new list.
		{name: "list spill", size: 8, n: 5, wantSign: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			person := strings.ReplaceAll(tc.name, " ", "-")
			device := "dev-" + person
			enrol(t, s, person, device, "card-"+person)
			// A batch before the one under test: its entries must not be
			// handed out again, whatever happens next.
			prev, err := issueBatch(s, device, tc.n, tc.size)
			if err != nil {
				t.Fatal(err)
			}
			used := map[store.StatusRef]bool{}
			for _, c := range prev {
				used[store.StatusRef{ListID: c.ListID, Idx: c.Idx}] = true
			}
			auditBefore, _ := s.Audit(ctx, device, "", 1000)
			outboxBefore, _ := s.PendingNotifications(ctx, t0, 1000)
			if tc.before != nil {
				tc.before(device)
			}
			var signed []store.StatusRef
			creds, err := s.IssueCredentials(ctx, store.IssueBatch{
				DeviceID: device, DocType: "org.iso.23220.1.jp.mnc", Count: tc.n, ListSize: tc.size, ValidFrom: t0, ValidUntil: t0.Add(time.Hour), Now: t0,
				Event: store.Event{Actor: "wallet", Action: "issued", DeviceID: device, Notify: true},
				Sign: func(i int, ref store.StatusRef) error {
					signed = append(signed, ref)
					if used[ref] {
						t.Errorf("entry %+v handed out twice", ref)
					}
					used[ref] = true
					if ref.Idx >= tc.size {
						t.Errorf("idx %d outside a list of %d", ref.Idx, tc.size)
					}
					if tc.sign != nil {
						return tc.sign(device, i)
					}
					return nil
				},
			})
			if len(signed) != tc.wantSign {
				t.Errorf("Sign called %d times, want %d", len(signed), tc.wantSign)
			}
			auditAfter, _ := s.Audit(ctx, device, "", 1000)
			outboxAfter, _ := s.PendingNotifications(ctx, t0, 1000)
			issued := 0
			for _, a := range auditAfter[:len(auditAfter)-len(auditBefore)] {
				if a.Action == "issued" {
					issued++
				}
			}
			all, _ := s.Credentials(ctx, device)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || creds != nil {
					t.Fatalf("got %d credentials, %v; want %v", len(creds), err, tc.wantErr)
				}
				if len(all) != len(prev) || issued != 0 || len(outboxAfter) != len(outboxBefore) {
					t.Fatalf("failed batch recorded %d credentials, %d audit rows, %d notifications",
						len(all)-len(prev), issued, len(outboxAfter)-len(outboxBefore))
				}
				if tc.before != nil || tc.sign == nil {
					return
				}
				// The entries the failed batch reserved are gaps: the
				// next batch (of another device) gets fresh ones.
				enrol(t, s, person+"-next", device+"-next", "card-"+person+"-next")
				next, err := issueBatch(s, device+"-next", tc.n, tc.size)
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range next {
					if ref := (store.StatusRef{ListID: c.ListID, Idx: c.Idx}); used[ref] {
						t.Fatalf("reserved entry %+v reused after a failed batch", ref)
					}
				}
				return
			}
			if err != nil || len(creds) != tc.n {
				t.Fatalf("got %d credentials, %v; want %d", len(creds), err, tc.n)
			}
			lists := map[string]bool{}
			for i, c := range creds {
				if c.ListID != signed[i].ListID || c.Idx != signed[i].Idx || c.State != store.CredentialValid || c.DeviceID != device {
					t.Fatalf("credential %d = %+v, signed at %+v", i, c, signed[i])
				}
				got, err := s.CredentialByStatus(ctx, c.ListID, c.Idx)
				if err != nil || got.ID != c.ID {
					t.Fatalf("credential %d not recorded at its entry: %+v %v", i, got, err)
				}
				lists[c.ListID] = true
			}
			if tc.size == 8 && len(lists) != 2 {
				t.Fatalf("batch over a list boundary used lists %v, want 2", lists)
			}
			// One audit row per credential, one notification per batch.
			if issued != tc.n || len(outboxAfter)-len(outboxBefore) != 1 {
				t.Fatalf("%d audit rows and %d notifications for a batch of %d; want %d and 1", issued, len(outboxAfter)-len(outboxBefore), tc.n, tc.n)
			}
		})
	}
}

var errHSM = errors.New("hsm down")

// testConcurrentBatches: batches issued at once (as by several replicas)
// get distinct entries, including across list boundaries, and do not
// deadlock: reservations queueing three deep on the list row is what made
// a lock-then-update reservation deadlock on PostgreSQL.
func testConcurrentBatches(t *testing.T, s store.Store) {
	const workers, batches, n, size = 8, 6, 5, 64
	for w := range workers {
		enrol(t, s, fmt.Sprintf("conc-%d", w), fmt.Sprintf("conc-d%d", w), fmt.Sprintf("conc-c%d", w))
	}
	var mu sync.Mutex
	seen := map[store.StatusRef]string{}
	var wg sync.WaitGroup
	errs := make(chan error, workers*batches)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range batches {
				creds, err := issueBatch(s, fmt.Sprintf("conc-d%d", w), n, size)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for _, c := range creds {
					ref := store.StatusRef{ListID: c.ListID, Idx: c.Idx}
					if other, dup := seen[ref]; dup {
						errs <- fmt.Errorf("entry %+v given to %s and %s", ref, other, c.ID)
					}
					seen[ref] = c.ID
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(seen) != workers*batches*n {
		t.Fatalf("%d entries for %d credentials", len(seen), workers*batches*n)
	}
}

// EventHookBatch checks a store's event hook (sqlstore's SetEventHook,
// passed as setHook) for batch issuance: a recorded batch is heard as one
// action per credential; a batch refused because the device changed
// meanwhile is not heard at all.
func EventHookBatch(t *testing.T, s store.Store, setHook func(func(actions []string))) {
	var mu sync.Mutex
	var heard []string
	setHook(func(a []string) {
		mu.Lock()
		defer mu.Unlock()
		heard = append(heard, a...)
	})
	enrol(t, s, "hook", "hook-d1", "hook-c1")
	if _, err := issueBatch(s, "hook-d1", 3, 1<<10); err != nil {
		t.Fatal(err)
	}
	_, err := s.IssueCredentials(context.Background(), store.IssueBatch{
		DeviceID: "hook-d1", Count: 2, ListSize: 1 << 10, Now: t0, Event: store.Event{Actor: "wallet", Action: "issued"},
		Sign: func(i int, _ store.StatusRef) error {
			if i == 0 {
				_, err := s.ChangeDevices(context.Background(), store.ChangeParams{DeviceIDs: []string{"hook-d1"}, From: []string{store.DeviceActive}, To: store.DeviceSuspended, Now: t0})
				return err
			}
			return nil
		},
	})
	if !errors.Is(err, store.ErrDeviceState) {
		t.Fatalf("batch for a device suspended meanwhile: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	n := 0
	for _, a := range heard {
		if a == "issued" {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("hook heard %v: %d issued, want 3", heard, n)
	}
}

// EntriesAhead checks status-entry allocation across two stores on one
// database (two replicas, a and b), in lists large enough that a store may
// reserve entries ahead of need and hand them out from memory later: no
// entry is handed out twice, whichever store hands it out and in whatever
// order the stores alternate, every entry lies inside its list, and a
// device that is no longer active gets no credential even when entries
// are held for it.
func EntriesAhead(t *testing.T, a, b store.Store) {
	ctx := context.Background()
	const size = 1 << 17
	enrol(t, a, "ahead-p1", "ahead-d1", "ahead-c1")
	enrol(t, b, "ahead-p2", "ahead-d2", "ahead-c2")
	used := map[store.StatusRef]string{}
	take := func(s store.Store, name, device string, n int) {
		t.Helper()
		creds, err := issueBatch(s, device, n, size)
		if err != nil {
			t.Fatalf("store %s, %d for %s: %v", name, n, device, err)
		}
		for _, c := range creds {
			ref := store.StatusRef{ListID: c.ListID, Idx: c.Idx}
			if prev, ok := used[ref]; ok {
				t.Fatalf("entry %+v handed out by store %s and again by store %s", ref, prev, name)
			}
			if c.Idx >= size {
				t.Fatalf("idx %d outside a list of %d", c.Idx, size)
			}
			used[ref] = name
		}
	}
	// Alternate single credentials and batches over more than one block
	// of entries held ahead by each store.
	for i := 0; i < 45; i++ {
		take(a, "a", "ahead-d1", 1)
		take(b, "b", "ahead-d2", 1+i%5)
		if i%7 == 0 {
			take(b, "b", "ahead-d1", 1) // a device's credentials from either replica
		}
	}
	// Revoked while the stores hold entries: refused, nothing recorded.
	before, err := a.Credentials(ctx, "ahead-d1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.ChangeDevices(ctx, store.ChangeParams{DeviceIDs: []string{"ahead-d1"}, From: []string{store.DeviceActive}, To: store.DeviceRevoked, Now: t0}); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]store.Store{"a": a, "b": b} {
		if _, err := issueBatch(s, "ahead-d1", 2, size); !errors.Is(err, store.ErrDeviceState) {
			t.Fatalf("store %s issued to a revoked device: %v, want ErrDeviceState", name, err)
		}
	}
	after, err := a.Credentials(ctx, "ahead-d1")
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("revoked device has %d credentials, had %d", len(after), len(before))
	}
	// The stores go on handing out fresh entries after the refusals.
	take(a, "a", "ahead-d2", 3)
	take(b, "b", "ahead-d2", 3)
}
