package walletsim

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/wallet-sim/se"
)

type served struct {
	res *SessionResult
	err error
}

// present runs one proximity session: the wallet serves, the test reader
// sends reqs and reads one answer, then ends with status 20.
func present(t *testing.T, w *Wallet, engagement string, consent Consent, reqs []docReq) (*reader, *mdoc.DeviceResponse, *uint, served) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := w.StartProximity(ProximityOptions{Engagement: engagement, Consent: consent})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan served, 1)
	go func() {
		res, err := p.Serve(ctx)
		done <- served{res, err}
	}()
	de := p.DeviceEngagement()
	handover := mdoc.QRHandover()
	if engagement == EngagementQR {
		// The reader scans the QR code.
		if de, err = mdoc.ParseQR(p.QR()); err != nil {
			t.Fatal(err)
		}
	} else {
		// The reader reads the Handover Select over NFC.
		hs := p.HandoverSelect()
		if de, err = mdoc.DeviceEngagementFromHandoverSelect(hs); err != nil {
			t.Fatal(err)
		}
		handover = mdoc.NFCHandover(hs, nil)
	}
	r := connectReader(t, ctx, w.opts.Radio, de, handover, reqs)
	resp, status := r.receive()
	r.end()
	return r, resp, status, <-done
}

var ageRequest = map[string]map[string]bool{mdoc.NameSpaceISO23220: {"age_over_20": false}}

func TestProximityRoundTripVerifies(t *testing.T) {
	p := fixturePKI(t)
	for _, tc := range []struct {
		platform   Platform
		engagement string
	}{{PlatformApple, EngagementQR}, {PlatformAndroid, EngagementNFC}} {
		t.Run(string(tc.platform)+"/"+tc.engagement, func(t *testing.T) {
			w := newTestWallet(t, tc.platform)
			req := map[string]map[string]bool{
				mdoc.NameSpaceISO23220: {"family_name": true, "age_over_20": false},
				mdoc.NameSpaceJP:       {"full_name_unicode": false},
			}
			r, resp, _, s := present(t, w, tc.engagement, Rules{ApproveAll: true}, []docReq{{docType: mdoc.DocTypeMNC, items: req, signer: p.readers["shop"]}})
			if s.err != nil {
				t.Fatalf("serve: %v", s.err)
			}
			if s.res.EndedBy != "reader_status_20" {
				t.Fatalf("ended by %q", s.res.EndedBy)
			}
			res := r.verify(resp, p)
			if !res.Valid {
				t.Fatalf("response does not verify: %v; history %+v", res.Errors, mustHistory(t, w))
			}
			got := res.Documents[0].Disclosed()
			if got[mdoc.NameSpaceISO23220]["family_name"] != "山田" || got[mdoc.NameSpaceJP]["full_name_unicode"] != "山田　花子" || got[mdoc.NameSpaceISO23220]["age_over_20"] != true {
				t.Fatalf("disclosed %v", got)
			}
			if len(got[mdoc.NameSpaceISO23220]) != 2 {
				t.Fatalf("released more than asked: %v", got)
			}
			h := mustHistory(t, w)
			last := h[len(h)-1]
			if last.Outcome != "released" || last.Transport != tc.engagement || last.Reader != "Test shop reader" || len(last.Documents[0].Released) != 3 {
				t.Fatalf("history %+v", last)
			}
		})
	}
}

func TestDeviceMAC(t *testing.T) {
	p := fixturePKI(t)
	w := newTestWallet(t, PlatformAndroid)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	px, err := w.StartProximity(ProximityOptions{Consent: Rules{ApproveAll: true}, MAC: true})
	if err != nil {
		t.Fatal(err)
	}
	go px.Serve(ctx)
	r := connectReader(t, ctx, w.opts.Radio, px.DeviceEngagement(), mdoc.QRHandover(), []docReq{{docType: mdoc.DocTypeMNC, items: ageRequest, signer: p.readers["shop"]}})
	resp, _ := r.receive()
	r.end()
	res := r.verify(resp, p)
	if !res.Valid || res.Documents[0].DeviceAuthMethod != "mac" {
		t.Fatalf("MAC response: valid %v method %q %v", res.Valid, res.Documents[0].DeviceAuthMethod, res.Documents[0].Errors)
	}
}

func TestReaderAuthEnforced(t *testing.T) {
	p := fixturePKI(t)
	for _, tc := range []struct {
		name string
		req  docReq
	}{
		{"missing", docReq{docType: mdoc.DocTypeMNC, items: ageRequest}},
		{"untrusted CA", docReq{docType: mdoc.DocTypeMNC, items: ageRequest, signer: p.readers["rogue"]}},
		{"other transcript", docReq{docType: mdoc.DocTypeMNC, items: ageRequest, signer: p.readers["shop"], badTranscript: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newTestWallet(t, PlatformAndroid)
			consentAsked := false
			consent := ConsentFunc(func(context.Context, *ConsentRequest) ([]ConsentItem, error) {
				consentAsked = true
				return nil, nil
			})
			_, resp, _, s := present(t, w, EngagementQR, consent, []docReq{tc.req})
			if s.err != nil {
				t.Fatal(s.err)
			}
			if resp.Status != mdoc.DeviceResponseGeneralError || len(resp.Documents) != 0 {
				t.Fatalf("status %d with %d documents, want 10 and none", resp.Status, len(resp.Documents))
			}
			if consentAsked {
				t.Fatal("holder was asked to consent for an unauthenticated reader")
			}
			h := mustHistory(t, w)
			if last := h[len(h)-1]; last.Outcome != "refused" || last.Code != string(CodeReaderAuthInvalid) {
				t.Fatalf("history %+v", last)
			}
		})
	}
	// One good and one bad DocRequest: still nothing.
	w := newTestWallet(t, PlatformAndroid)
	_, resp, _, _ := present(t, w, EngagementQR, Rules{ApproveAll: true}, []docReq{
		{docType: mdoc.DocTypeMNC, items: ageRequest, signer: p.readers["shop"]},
		{docType: mdoc.DocTypeHIC, items: map[string]map[string]bool{mdoc.NameSpaceHIC: {"insurer_number": false}}},
	})
	if resp.Status != mdoc.DeviceResponseGeneralError || len(resp.Documents) != 0 {
		t.Fatalf("mixed: status %d, %d documents", resp.Status, len(resp.Documents))
	}
}

func TestInsuranceOnlyForMedicalInstitutions(t *testing.T) {
	p := fixturePKI(t)
	hic := map[string]map[string]bool{mdoc.NameSpaceHIC: {"insurer_number": false, "insured_number": false}}
	for _, tc := range []struct {
		reader string
		want   int
	}{{"shop", 0}, {"city", 0}, {"clinic", 2}} {
		t.Run(tc.reader, func(t *testing.T) {
			w := newTestWallet(t, PlatformAndroid)
			var offered []ConsentItem
			consent := ConsentFunc(func(_ context.Context, req *ConsentRequest) ([]ConsentItem, error) {
				offered = req.Items
				return req.Items, nil
			})
			r, resp, _, _ := present(t, w, EngagementQR, consent, []docReq{{docType: mdoc.DocTypeHIC, items: hic, signer: p.readers[tc.reader]}})
			if len(offered) != tc.want {
				t.Fatalf("offered %d elements to %s, want %d", len(offered), tc.reader, tc.want)
			}
			if tc.want == 0 {
				if len(resp.Documents) != 0 || resp.DocumentErrors[0][mdoc.DocTypeHIC] != mdoc.ErrorDataNotReturned {
					t.Fatalf("non-medical reader got %d documents, errors %v", len(resp.Documents), resp.DocumentErrors)
				}
				h := mustHistory(t, w)
				wh := h[len(h)-1].Documents[0].Withheld
				if len(wh) != 2 || wh[0].Reason != WithheldNotMedical {
					t.Fatalf("withheld %+v", wh)
				}
				return
			}
			if res := r.verify(resp, p); !res.Valid || len(res.Documents[0].Disclosed()[mdoc.NameSpaceHIC]) != 2 {
				t.Fatalf("clinic: valid %v", res.Valid)
			}
		})
	}
}

func TestIndividualNumberOnlyForAuthorisedReaders(t *testing.T) {
	p := fixturePKI(t)
	req := map[string]map[string]bool{mdoc.NameSpaceJP: {ElementIndividualNumber: true, "full_name_unicode": false}}
	for _, tc := range []struct {
		reader string
		want   bool
	}{{"shop", false}, {"clinic", false}, {"city", true}} {
		t.Run(tc.reader, func(t *testing.T) {
			w := newTestWallet(t, PlatformApple)
			r, resp, _, _ := present(t, w, EngagementQR, Rules{ApproveAll: true}, []docReq{{docType: mdoc.DocTypeMNC, items: req, signer: p.readers[tc.reader]}})
			res := r.verify(resp, p)
			if !res.Valid {
				t.Fatalf("invalid: %v", res.Documents[0].Errors)
			}
			_, got := res.Documents[0].Disclosed()[mdoc.NameSpaceJP][ElementIndividualNumber]
			if got != tc.want {
				t.Fatalf("%s got individual number: %v", tc.reader, got)
			}
		})
	}
}

func TestAgeAnsweredWithAgeOverOnly(t *testing.T) {
	p := fixturePKI(t)
	for _, tc := range []struct {
		asked    string
		released string // "" for none
	}{
		{"age_over_20", "age_over_20"},
		{"age_over_19", "age_over_20"}, // nearest true MM ≥ NN
		{"age_over_21", ""},            // only true values issued above 20: nothing answers it
		{"age_over_16", "age_over_18"},
	} {
		t.Run(tc.asked, func(t *testing.T) {
			w := newTestWallet(t, PlatformAndroid)
			var offered []ConsentItem
			consent := ConsentFunc(func(_ context.Context, req *ConsentRequest) ([]ConsentItem, error) {
				offered = req.Items
				return req.Items, nil
			})
			r, resp, _, _ := present(t, w, EngagementQR, consent, []docReq{{docType: mdoc.DocTypeMNC, items: map[string]map[string]bool{mdoc.NameSpaceISO23220: {tc.asked: false}}, signer: p.readers["shop"]}})
			var ids []string
			for _, d := range resp.Documents {
				for _, it := range d.IssuerSigned.NameSpaces[mdoc.NameSpaceISO23220] {
					ids = append(ids, it.Item.ElementIdentifier)
				}
			}
			if tc.released == "" {
				if len(ids) != 0 || len(offered) != 0 {
					t.Fatalf("released %v for %s", ids, tc.asked)
				}
				return
			}
			if !slices.Equal(ids, []string{tc.released}) {
				t.Fatalf("released %v, want [%s]", ids, tc.released)
			}
			if offered[0].Requested != "" && offered[0].Requested != tc.asked {
				t.Fatalf("consent item %+v", offered[0])
			}
			// The verifier sees a valid document (request check off: the
			// §7.2.5 substitution is not the element it asked for).
			res := mdoc.VerifyDeviceResponse(resp, &mdoc.VerifyOptions{Trust: mdoc.NewTrustStore(mdoc.PurposeDocumentSigner, true, p.iaca), SessionTranscript: r.st.Raw})
			if !res.Valid {
				t.Fatalf("invalid: %v", res.Documents[0].Errors)
			}
		})
	}
}

func TestElementConsentHonoured(t *testing.T) {
	p := fixturePKI(t)
	req := map[string]map[string]bool{
		mdoc.NameSpaceISO23220: {"family_name": false, "given_name": false, "birth_date": false},
		mdoc.NameSpaceJP:       {"resident_address_unicode": true},
	}
	w := newTestWallet(t, PlatformAndroid)
	rules := Rules{Approve: []string{"family_name", mdoc.NameSpaceJP + "/*"}, Deny: []string{"resident_address_unicode"}}
	r, resp, _, _ := present(t, w, EngagementQR, rules, []docReq{{docType: mdoc.DocTypeMNC, items: req, signer: p.readers["shop"]}})
	res := r.verify(resp, p)
	if !res.Valid {
		t.Fatalf("invalid: %v", res.Documents[0].Errors)
	}
	got := res.Documents[0].Disclosed()
	if len(got[mdoc.NameSpaceISO23220]) != 1 || got[mdoc.NameSpaceISO23220]["family_name"] != "山田" || len(got[mdoc.NameSpaceJP]) != 0 {
		t.Fatalf("disclosed %v, want family_name only", got)
	}
	// Refusing everything returns no document, with the document error.
	w2 := newTestWallet(t, PlatformAndroid)
	_, resp, _, _ = present(t, w2, EngagementQR, Rules{}, []docReq{{docType: mdoc.DocTypeMNC, items: req, signer: p.readers["shop"]}})
	if len(resp.Documents) != 0 || resp.Status != mdoc.DeviceResponseOK || resp.DocumentErrors[0][mdoc.DocTypeMNC] != mdoc.ErrorDataNotReturned {
		t.Fatalf("all denied: %v", resp)
	}
	h := mustHistory(t, w2)
	if last := h[len(h)-1]; last.Outcome != "nothing_released" || len(last.Documents[0].Withheld) != 4 {
		t.Fatalf("history %+v", last)
	}
}

func TestConsentCannotWidenRelease(t *testing.T) {
	p := fixturePKI(t)
	w := newTestWallet(t, PlatformAndroid)
	sneaky := ConsentFunc(func(_ context.Context, req *ConsentRequest) ([]ConsentItem, error) {
		return append(req.Items, ConsentItem{NameSpace: mdoc.NameSpaceJP, Identifier: ElementIndividualNumber}, ConsentItem{NameSpace: mdoc.NameSpaceISO23220, Identifier: "birth_date"}), nil
	})
	_, resp, _, _ := present(t, w, EngagementQR, sneaky, []docReq{{docType: mdoc.DocTypeMNC, items: ageRequest, signer: p.readers["shop"]}})
	for _, d := range resp.Documents {
		for ns, items := range d.IssuerSigned.NameSpaces {
			for _, it := range items {
				if it.Item.ElementIdentifier != "age_over_20" {
					t.Fatalf("released %s/%s not offered", ns, it.Item.ElementIdentifier)
				}
			}
		}
	}
}

func TestUserVerificationFailureReleasesNothing(t *testing.T) {
	p := fixturePKI(t)
	w := newTestWallet(t, PlatformApple)
	w.opts.Authenticator = StaticAuth{Biometric: se.BiometricNoMatch}
	_, resp, _, _ := present(t, w, EngagementQR, Rules{ApproveAll: true}, []docReq{{docType: mdoc.DocTypeMNC, items: ageRequest, signer: p.readers["shop"]}})
	if len(resp.Documents) != 0 {
		t.Fatal("released without user verification")
	}
	h := mustHistory(t, w)
	if last := h[len(h)-1]; last.Outcome != "refused" || last.Code != string(se.CodeBiometricNoMatch) {
		t.Fatalf("history %+v", last)
	}
	// Apple has no PIN fallback.
	w.opts.Authenticator = StaticAuth{PIN: "123456"}
	_, resp, _, _ = present(t, w, EngagementQR, Rules{ApproveAll: true}, []docReq{{docType: mdoc.DocTypeMNC, items: ageRequest, signer: p.readers["shop"]}})
	if h := mustHistory(t, w); len(resp.Documents) != 0 || h[len(h)-1].Code != string(se.CodeMethodNotAllowed) {
		t.Fatalf("apple PIN: %d docs, %+v", len(resp.Documents), h[len(h)-1])
	}
}

func TestRevokedOrSuspendedCredentialNotPresented(t *testing.T) {
	p := fixturePKI(t)
	for _, state := range []string{StateRevoked, StateSuspended} {
		w := newTestWallet(t, PlatformAndroid)
		w.mu.Lock()
		for _, c := range w.d.Credentials {
			c.State = state
		}
		w.mu.Unlock()
		_, resp, _, _ := present(t, w, EngagementQR, Rules{ApproveAll: true}, []docReq{{docType: mdoc.DocTypeMNC, items: ageRequest, signer: p.readers["shop"]}})
		if len(resp.Documents) != 0 {
			t.Fatalf("%s credential presented", state)
		}
		h := mustHistory(t, w)
		if got := h[len(h)-1].Documents[0].Error; got != "credential_"+state {
			t.Fatalf("%s: history error %q", state, got)
		}
	}
}

func TestReplayedAndReorderedMessagesRejected(t *testing.T) {
	p := fixturePKI(t)
	for _, tc := range []string{"replay", "reorder"} {
		t.Run(tc, func(t *testing.T) {
			w := newTestWallet(t, PlatformAndroid)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			px, err := w.StartProximity(ProximityOptions{Consent: Rules{ApproveAll: true}})
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan served, 1)
			go func() { res, err := px.Serve(ctx); done <- served{res, err} }()
			reqs := []docReq{{docType: mdoc.DocTypeMNC, items: ageRequest, signer: p.readers["shop"]}}
			r := connectReader(t, ctx, w.opts.Radio, px.DeviceEngagement(), mdoc.QRHandover(), reqs)
			if resp, _ := r.receive(); len(resp.Documents) != 1 {
				t.Fatal("first request not answered")
			}
			var msg []byte
			switch tc {
			case "replay":
				// Re-send the first request's ciphertext (counter 1) as
				// SessionData: the wallet expects counter 2.
				ct := r.sessReplayCiphertext(reqs)
				msg, _ = (&mdoc.SessionData{Data: ct}).Encode()
			case "reorder":
				// Encrypt two requests, send the second (counter 3) first.
				r.sess.Encrypt(r.deviceRequest(reqs))
				ct, _ := r.sess.Encrypt(r.deviceRequest(reqs))
				msg, _ = (&mdoc.SessionData{Data: ct}).Encode()
			}
			if err := r.conn.Send(msg); err != nil {
				t.Fatal(err)
			}
			resp, status := r.receive()
			if resp != nil || status == nil || *status != mdoc.SessionStatusEncryptionError {
				t.Fatalf("got response %v status %v, want status 10 only", resp, status)
			}
			s := <-done
			if !errors.Is(s.err, ErrSessionEncryption) {
				t.Fatalf("serve: %v", s.err)
			}
			h := mustHistory(t, w)
			if len(h) == 0 || h[len(h)-1].Code != string(CodeSessionEncryption) {
				t.Fatalf("history %+v", h[len(h)-1])
			}
		})
	}
}

// sessReplayCiphertext re-creates the ciphertext of the first request
// (reader counter 1) with a fresh reader-role session over the same keys.
func (r *reader) sessReplayCiphertext(reqs []docReq) []byte {
	eDev, _ := r.de.EDeviceKey()
	s, err := mdoc.NewSessionEncryption(mdoc.RoleReader, r.eKey, eDev, r.st.Bytes())
	if err != nil {
		r.t.Fatal(err)
	}
	ct, err := s.Encrypt(r.deviceRequest(reqs))
	if err != nil {
		r.t.Fatal(err)
	}
	return ct
}

func TestSecondRequestInSession(t *testing.T) {
	p := fixturePKI(t)
	w := newTestWallet(t, PlatformAndroid)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	px, _ := w.StartProximity(ProximityOptions{Consent: Rules{ApproveAll: true}})
	done := make(chan served, 1)
	go func() { res, err := px.Serve(ctx); done <- served{res, err} }()
	reqs := []docReq{{docType: mdoc.DocTypeMNC, items: ageRequest, signer: p.readers["shop"]}}
	r := connectReader(t, ctx, w.opts.Radio, px.DeviceEngagement(), mdoc.QRHandover(), reqs)
	r.receive()
	ct, _ := r.sess.Encrypt(r.deviceRequest([]docReq{{docType: mdoc.DocTypeMNC, items: map[string]map[string]bool{mdoc.NameSpaceISO23220: {"family_name": false}}, signer: p.readers["shop"]}}))
	msg, _ := (&mdoc.SessionData{Data: ct}).Encode()
	r.conn.Send(msg)
	resp, _ := r.receive()
	if res := r.verify(resp, p); !res.Valid || res.Documents[0].Disclosed()[mdoc.NameSpaceISO23220]["family_name"] != "山田" {
		t.Fatal("second request not answered correctly")
	}
	r.end()
	if s := <-done; s.err != nil || len(s.res.Presentations) != 2 {
		t.Fatalf("serve: %v, %d presentations", s.err, len(s.res.Presentations))
	}
}

func TestGarbageSessionEstablishment(t *testing.T) {
	w := newTestWallet(t, PlatformAndroid)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	px, _ := w.StartProximity(ProximityOptions{Consent: Rules{ApproveAll: true}})
	done := make(chan served, 1)
	go func() { res, err := px.Serve(ctx); done <- served{res, err} }()
	o, _ := px.DeviceEngagement().DeviceRetrievalMethods[0].BLEOptions()
	c, err := w.opts.Radio.Connect(ctx, o.PeripheralServerUUID)
	if err != nil {
		t.Fatal(err)
	}
	c.Send([]byte{0xa1, 0x00})
	b, err := c.Receive()
	if err != nil {
		t.Fatal(err)
	}
	sd, err := mdoc.ParseSessionData(b)
	if err != nil || sd.Status == nil || *sd.Status != mdoc.SessionStatusDecodingError {
		t.Fatalf("status message %v %v", sd, err)
	}
	if s := <-done; CodeOf(s.err) != string(CodeSessionDecoding) {
		t.Fatalf("serve: %v", s.err)
	}
}

// TestRequestWithTermination sends the second request together with status
// 20 (ISO/IEC 18013-5 §9.1.1.4): the wallet answers it, marks its reply
// with status 20 and ends the session; a request beside status 10 is not
// answered.
func TestRequestWithTermination(t *testing.T) {
	p := fixturePKI(t)
	for _, tc := range []struct {
		status    uint
		answered  bool
		endedBy   string
		wantError bool
	}{
		{mdoc.SessionStatusTermination, true, "reader_status_20", false},
		{mdoc.SessionStatusEncryptionError, false, "reader_status_10", true},
	} {
		w := newTestWallet(t, PlatformAndroid)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		px, err := w.StartProximity(ProximityOptions{Consent: Rules{ApproveAll: true}})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan served, 1)
		go func() { res, err := px.Serve(ctx); done <- served{res, err} }()
		reqs := []docReq{{docType: mdoc.DocTypeMNC, items: ageRequest, signer: p.readers["shop"]}}
		r := connectReader(t, ctx, w.opts.Radio, px.DeviceEngagement(), mdoc.QRHandover(), reqs)
		if resp, st := r.receive(); resp == nil || st != nil {
			t.Fatalf("first answer: %v status %v", resp, st)
		}
		ct, _ := r.sess.Encrypt(r.deviceRequest([]docReq{{docType: mdoc.DocTypeMNC, items: map[string]map[string]bool{mdoc.NameSpaceISO23220: {"family_name": false}}, signer: p.readers["shop"]}}))
		status := tc.status
		msg, _ := (&mdoc.SessionData{Data: ct, Status: &status}).Encode()
		r.conn.Send(msg)
		s := <-done
		cancel()
		if s.res == nil || s.res.EndedBy != tc.endedBy || (s.err != nil) != tc.wantError {
			t.Fatalf("status %d: serve %+v, %v", tc.status, s.res, s.err)
		}
		if n := len(s.res.Presentations); (n == 2) != tc.answered {
			t.Fatalf("status %d: %d presentations", tc.status, n)
		}
		if !tc.answered {
			continue
		}
		resp, st := r.receive()
		if resp == nil || st == nil || *st != mdoc.SessionStatusTermination {
			t.Fatalf("final answer: %v status %v", resp, st)
		}
		if res := r.verify(resp, p); !res.Valid || res.Documents[0].Disclosed()[mdoc.NameSpaceISO23220]["family_name"] != "山田" {
			t.Fatal("request beside status 20 not answered correctly")
		}
		if _, err := r.conn.Receive(); err == nil {
			t.Fatal("wallet kept the session open after status 20")
		}
	}
}
