package demo

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mynumber-mdoc/mnc/issuer"
	"github.com/mynumber-mdoc/mnc/issuer/store"
	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/applet"
	"github.com/mynumber-mdoc/mnc/jpki/testca"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/jpkiauth"
	"github.com/mynumber-mdoc/mnc/verifier/online"
	"github.com/mynumber-mdoc/mnc/verifier/policy"
	walletsim "github.com/mynumber-mdoc/mnc/wallet-sim"
)

// The holder, her card and her phones. Passwords follow the card rules
// (signature password 6–16 of A–Z and 0–9, auth PIN 4 digits); the phone's
// are separate from the card's, as the smartphone JPKI service requires.
var holder = testca.Person{Name: "佐藤\u3000花子", BirthDate: jpki.NewBirthDate(1990, time.July, 15), Sex: jpki.SexFemale,
	Address: "東京都千代田区霞が関1-2-3"}

const (
	newAddress        = "東京都港区芝公園4-2-8"
	cardPassword      = "CARD2026"
	cardPIN           = "1234"
	phonePassword     = "PHONE2026"
	phonePIN          = "5678"
	androidModel      = "Pixel 9"
	appleModel        = "iPhone16,1"
	blockedModel      = "Pixel 8"
	blockReason       = "CVE-2026-0042: secure element key extraction"
	insurerNumber     = "06139999"
	qualificationFrom = "2020-04-01"
	// qualificationUntil is set: the verifier fails a presentation that
	// lacks a requested element, and the issuer omits an open end.
	qualificationUntil = "2031-03-31"
)

// insuranceCSV is the insurer registry row for the holder, as the issuer
// imports it (issuer.InsuranceCSVHeader): she is insured, so enrolment also
// offers the health-insurance qualification document.
func insuranceCSV() string {
	return strings.Join(issuer.InsuranceCSVHeader, ",") + "\n" +
		strings.Join([]string{holder.Name, "1990-07-15", "2", holder.Address, insurerNumber, "千代", "12345", "01", "1", qualificationFrom, qualificationUntil, "30"}, ",") + "\n"
}

// storyState is what the steps hand on to each other.
type storyState struct {
	card      *testca.Credentials
	cardFile  string
	android   *walletsim.Wallet
	apple     *walletsim.Wallet
	androidID string
	appleID   string
	// shopAge is the android phone's in-person age presentation (step 3),
	// replayed after the device change (step 7).
	shopAge *Presentation
}

// step1: the card and the two wallets.
func (e *env) step1(ctx context.Context, s *Step) error {
	ca, err := e.openCA()
	if err != nil {
		return fmt.Errorf("open the JPKI test CA: %w", err)
	}
	creds, err := ca.IssueCard(holder, testca.IssueOptions{})
	if err != nil {
		return fmt.Errorf("issue the card: %w", err)
	}
	if err := ca.Save(); err != nil {
		return err
	}
	if err := e.publishCRLs(ca); err != nil {
		return fmt.Errorf("publish CRLs: %w", err)
	}
	e.st.card = creds
	e.st.cardFile = filepath.Join(e.work, "card.json")
	if _, err := applet.Create(e.st.cardFile, creds.AppletConfig(jpki.TokenCard, cardPassword, cardPIN)); err != nil {
		return fmt.Errorf("write the card: %w", err)
	}
	e.n.info("card for %s, born %s, %s: signature certificate serial %s, auth certificate serial %s (roots %q)",
		holder.Name, "1990-07-15", holder.Address, creds.SignCert.SerialNumber, creds.AuthCert.SerialNumber, ca.Root(jpki.KindSignature).Subject.Organization)
	v, err := e.jpki.VerifyDER(ctx, creds.SignCert.Raw, jpki.VerifyOptions{})
	got := "valid"
	if err != nil {
		got = "invalid: " + string(jpki.CodeOf(err))
	}
	e.record("card signature certificate (chain + CRL by DirName)", "valid", got)
	if v != nil && v.Certificate.Facts != nil {
		f := v.Certificate.Facts
		e.record("four basic facts read from subjectAltName otherName", fmt.Sprintf("%s / %s / %s / %s", holder.Name, holder.BirthDate.Gregorian(), holder.Sex.Unicode(), holder.Address),
			fmt.Sprintf("%s / %s / %s / %s", f.FullName, f.BirthDate.Gregorian(), f.Sex.Unicode(), f.Address))
	}
	if n, err := e.issuer.Service.ImportInsurance(ctx, strings.NewReader(insuranceCSV()), "mdoc-demo"); err != nil || n != 1 {
		return fmt.Errorf("import the insurer registry: %d rows, %v", n, err)
	}
	e.n.info("the insurer registry at the issuer lists her qualification (insurer %s, %s to %s)", insurerNumber, qualificationFrom, qualificationUntil)
	if e.st.android, err = e.newWallet("android", walletsim.Profile{Platform: walletsim.PlatformAndroid, Model: androidModel}); err != nil {
		return err
	}
	if e.st.apple, err = e.newWallet("apple", walletsim.Profile{Platform: walletsim.PlatformApple, Model: appleModel}); err != nil {
		return err
	}
	for _, w := range []*walletsim.Wallet{e.st.android, e.st.apple} {
		st := w.Status()
		e.record(fmt.Sprintf("%s wallet (%s, %s)", st.Profile.Platform, st.Profile.Model, st.Profile.OSVersion), "exists, no credentials",
			fmt.Sprintf("exists, %s", map[bool]string{true: "no credentials", false: fmt.Sprintf("%d credentials", st.Credentials)}[st.Credentials == 0]))
	}
	return nil
}

// enrol enrols w with the holder's card.
func (e *env) enrol(ctx context.Context, w *walletsim.Wallet, cardFile string, jpkiCerts bool) (*walletsim.EnrolResult, error) {
	tr, err := walletsim.OpenCardFile(cardFile)
	if err != nil {
		return nil, fmt.Errorf("open the card: %w", err)
	}
	o := walletsim.EnrolOptions{IssuerURL: e.issuerURL, Card: tr, CardPassword: cardPassword,
		Progress: func(s string) { e.n.info("wallet: %s", s) }}
	if jpkiCerts {
		o.JPKIPassword, o.JPKIPIN = phonePassword, phonePIN
	}
	return w.Enrol(ctx, o)
}

// docTypes lists the distinct document types of cs: a wallet holds each
// as a batch of single-use credentials.
func docTypes(cs []walletsim.Credential) string {
	var d []string
	for _, c := range cs {
		d = append(d, c.DocType)
	}
	slices.Sort(d)
	return strings.Join(slices.Compact(d), " + ")
}

// step2: the android phone enrols.
func (e *env) step2(ctx context.Context, s *Step) error {
	r, err := e.enrol(ctx, e.st.android, e.st.cardFile, true)
	if err != nil {
		e.record("enrolment", "accepted", "refused: "+walletsim.CodeOf(err))
		return fmt.Errorf("enrol the android wallet: %w", err)
	}
	e.st.androidID = r.DeviceID
	e.record("enrolment", "accepted", "accepted")
	e.n.info("device id %s", r.DeviceID)
	e.record("documents issued (OpenID4VCI, mso_mdoc)", mdoc.DocTypeHIC+" + "+mdoc.DocTypeMNC, docTypes(r.Credentials))
	withStatus := 0
	for _, c := range r.Credentials {
		if c.StatusList != nil {
			withStatus++
		}
	}
	e.record("credentials carrying a Token Status List reference", fmt.Sprint(len(r.Credentials)), fmt.Sprint(withStatus))
	// A batch per document (OpenID4VCI batch issuance), each credential with
	// its own device key, so each presentation shows a fresh MSO.
	keys := map[string]bool{}
	for _, c := range r.Credentials {
		if c.DocType == mdoc.DocTypeMNC {
			keys[string(c.KeyID)] = true
		}
	}
	e.record("single-use My Number Card credentials in the batch, each with its own key", fmt.Sprint(walletsim.DefaultBatchSize), fmt.Sprint(len(keys)))
	e.recordBool("JPKI smartphone certificates installed", true, r.JPKI)
	info := e.st.android.Status().JPKI
	if info == nil {
		return errors.New("the wallet reports no JPKI certificates")
	}
	for _, c := range []struct {
		what string
		der  []byte
	}{{"phone signature certificate", info.SignCert}, {"phone auth certificate", info.AuthCert}} {
		got := "valid"
		v, err := e.jpki.VerifyDER(ctx, c.der, jpki.VerifyOptions{})
		if err != nil {
			got = "invalid: " + string(jpki.CodeOf(err))
		} else {
			got += " " + v.Certificate.Form.String()
		}
		e.record(c.what+" (derived from the card, chain + CRL)", "valid "+jpki.FormSmartphone.String(), got)
	}
	return nil
}

var ageItems = []mdoc.ItemsRequest{verifier.Items(mdoc.DocTypeMNC, map[string][]string{mdoc.NameSpaceISO23220: {"age_over_20"}})}

// shopAgeCheck is the shop's in-person age check with w; it records the
// verdict against want ("valid" or a code) and writes the artefacts.
func (e *env) shopAgeCheck(ctx context.Context, w *walletsim.Wallet, slug, description, want string) (*Presentation, error) {
	e.n.info("the phone shows its QR engagement; the shop's reader scans it and connects over BLE (simulated)")
	p, sr, err := e.proximity(ctx, w, e.shop, ageItems, false)
	if err != nil {
		e.record("in-person session", "completed", "failed: "+mdocCode(err))
		return nil, err
	}
	if len(sr.Presentations) == 1 {
		e.n.info("wallet: reader %q authenticated by ReaderAuth; released %s", sr.Presentations[0].Reader, list(released(sr.Presentations[0])))
	}
	valid := want == "valid"
	code := ""
	if !valid {
		code = want
	}
	e.record("verifier verdict", map[bool]string{true: "valid", false: expectInvalid(code)}[valid], verdict(p.Result.Valid, p.Result.Codes(), code))
	if valid {
		d := policy.AgeOver(p.Result, 20, time.Now())
		e.recordBool("policy: over 20", true, d.Allowed)
		e.record("elements disclosed", "age_over_20=true", list(disclosed(p.Result)))
	}
	return p, e.artifact(slug, description, "qr", p, valid, code)
}

// released lists what the wallet released in a presentation.
func released(h walletsim.HistoryEntry) []string {
	var out []string
	for _, d := range h.Documents {
		out = append(out, d.Released...)
	}
	return out
}

func mdocCode(err error) string {
	if c := walletsim.CodeOf(err); c != "" {
		return c
	}
	if c := mdoc.CodeOf(err); c != "" {
		return string(c)
	}
	return err.Error()
}

// step3: the shop checks age in person.
func (e *env) step3(ctx context.Context, s *Step) error {
	p, err := e.shopAgeCheck(ctx, e.st.android, "shop-age-qr", "android phone, shop reader without roles asks age_over_20 in person (QR, BLE, deviceSignature)", "valid")
	e.st.shopAge = p
	return err
}

// step4: the web shop, by OpenID4VP and by Annex C.
func (e *env) step4(ctx context.Context, s *Step) error {
	for _, proto := range []struct{ id, name, slug string }{
		{online.ProtocolOpenID4VP, "OpenID4VP 1.0 (DCQL, direct_post.jwt)", "webshop-age-openid4vp"},
		{online.ProtocolAnnexC, "ISO/IEC 18013-7 Annex C (HPKE)", "webshop-age-annexc"},
	} {
		e.n.info("web shop asks for age_over_20 by %s", proto.name)
		st, p, err := e.onlineCheck(ctx, e.st.android, proto.id, online.Purpose{Kind: online.PurposeAge, AgeOver: 20})
		if err != nil {
			e.record(proto.name, "valid", "failed: "+mdocCode(err))
			return err
		}
		allowed := st.Decision != nil && st.Decision.Allowed
		e.record(proto.name+": verifier verdict", "valid, over 20", fmt.Sprintf("%s, %s", verdict(st.Valid, st.Codes, ""), map[bool]string{true: "over 20", false: "not over 20"}[allowed]))
		if err := e.artifact(proto.slug, "android phone answers a web shop's age_over_20 request by "+proto.name, proto.id, p, true, ""); err != nil {
			return err
		}
	}
	return nil
}

var insuranceItems = []mdoc.ItemsRequest{
	verifier.Items(mdoc.DocTypeHIC, map[string][]string{mdoc.NameSpaceHIC: {"insurer_number", "insured_card_symbol", "insured_number", "insured_branch_number",
		"insured_relationship", "qualification_valid_from", "qualification_valid_until", "copayment_ratio"}}),
	verifier.Items(mdoc.DocTypeMNC, map[string][]string{mdoc.NameSpaceISO23220: {"family_name", "given_name", "birth_date"}}),
}

// step5: the clinic, by mdoc and by JPKI; a shop asking for insurance.
func (e *env) step5(ctx context.Context, s *Step) error {
	e.n.info("clinic reader (certificate marks a medical institution) asks for the insurance document and name/birth date, with deviceMac")
	p, _, err := e.proximity(ctx, e.st.android, e.clinic, insuranceItems, true)
	if err != nil {
		e.record("clinic session", "completed", "failed: "+mdocCode(err))
		return err
	}
	e.record("verifier verdict (mdoc)", "valid", verdict(p.Result.Valid, p.Result.Codes(), ""))
	for _, d := range p.Result.Documents {
		for _, er := range d.Errors {
			e.n.info("%s: %s: %s", d.DocType, er.Code, er.Message)
		}
	}
	for _, er := range p.Result.Errors {
		e.n.info("%s: %s", er.Code, er.Message)
	}
	d := policy.Insurance(p.Result, time.Now(), policy.InsuranceOptions{})
	e.record("policy: insurance qualification", "qualified ("+policy.CodeOK+")", map[bool]string{true: "qualified", false: "not qualified"}[d.Allowed]+" ("+d.Code+")")
	method := ""
	if doc := p.Result.Document(mdoc.DocTypeHIC); doc != nil {
		method = doc.DeviceAuthMethod
		if v := doc.Elements[mdoc.NameSpaceHIC]["insurer_number"]; v != nil {
			e.n.info("insurer number %v, copayment %v%%", v, doc.Elements[mdoc.NameSpaceHIC]["copayment_ratio"])
		}
	}
	e.record("device authentication", "mac", method)
	if err := e.artifact("clinic-insurance-qr-mac", "android phone presents the insurance and identity documents to a medical-institution reader (QR, BLE, deviceMac)", "qr", p, true, ""); err != nil {
		return err
	}

	e.n.info("clinic JPKI path: the reader fetches a nonce from the issuer, the phone signs it with the JPKI auth key after its PIN")
	client := &oid4vci.Client{BaseURL: e.issuerURL}
	nonce, err := client.Nonce(ctx)
	if err != nil {
		return fmt.Errorf("issuer nonce: %w", err)
	}
	ar, err := e.st.android.JPKIAuth(ctx, phonePIN, []byte(nonce))
	if err != nil {
		e.record("JPKI authentication at the clinic", "valid", "failed: "+mdocCode(err))
		return err
	}
	res := jpkiauth.VerifyAuth(ctx, e.jpki, []byte(nonce), ar.Certificate, ar.Signature, time.Now())
	e.record("verifier verdict (JPKI auth: signature, chain, CRL)", "valid", verdict(res.Valid, res.Codes(), ""))
	// Online qualification confirmation: the clinic's reader certificate
	// signs the question; the issuer links the phone's auth certificate
	// to the person it issued it to.
	req := &oid4vci.QualificationRequest{Audience: oid4vci.Audience{e.issuerURL}, Nonce: nonce, AuthProof: oid4vci.NewAuthProof(ar.Certificate, ar.Signature)}
	compact, err := oid4vci.SignQualificationRequest(req, e.clinic.Chain, e.clinic.Key)
	if err != nil {
		return err
	}
	got := "no answer"
	if q, err := client.ConfirmQualification(ctx, compact); err != nil {
		got = "refused: " + err.Error()
	} else if q.Qualified && q.Qualification != nil {
		got = "qualified (insurer " + q.Qualification.InsurerNumber + ")"
	} else {
		got = "not qualified: " + q.Code
	}
	e.record("online qualification confirmation (issuer)", "qualified (insurer "+insurerNumber+")", got)

	e.n.info("a shop reader (no medical role) asks the same phone for the insurance document")
	hic := insuranceItems[:1]
	p, sr, err := e.proximity(ctx, e.st.android, e.shop, hic, false)
	if err != nil {
		e.record("shop session", "completed", "failed: "+mdocCode(err))
		return err
	}
	var why []string
	for _, h := range sr.Presentations {
		for _, d := range h.Documents {
			for _, w := range d.Withheld {
				why = append(why, w.Reason)
			}
		}
	}
	slices.Sort(why)
	why = slices.Compact(why)
	e.record("wallet withholds, because", walletsim.WithheldNotMedical, strings.Join(why, ","))
	e.record("elements disclosed", "nothing", list(disclosed(p.Result)))
	e.record("verifier verdict", expectInvalid(string(mdoc.CodeElementNotReturned)), verdict(p.Result.Valid, p.Result.Codes(), string(mdoc.CodeElementNotReturned)))
	return e.artifact("shop-insurance-refused", "a reader without the medical-institution role asks for the insurance document: nothing is returned", "qr", p, false, string(mdoc.CodeElementNotReturned))
}

// jst is Japan Standard Time (qualification dates are JST dates).
var jst = time.FixedZone("JST", 9*60*60)

// step6: a web site logs in with JPKI, over the verifier's HTTP API.
func (e *env) step6(ctx context.Context, s *Step) error {
	var ch online.JPKIChallenge
	if err := e.postJSON(ctx, e.onlineURL+"/jpki/challenge", struct{}{}, &ch); err != nil {
		return fmt.Errorf("JPKI challenge: %w", err)
	}
	nonce, err := base64.StdEncoding.DecodeString(ch.Nonce)
	if err != nil {
		return fmt.Errorf("JPKI challenge nonce: %w", err)
	}
	e.n.info("web site %s/jpki/challenge → challenge %s; the phone signs it with its JPKI auth key after the PIN", e.onlineURL, ch.ID)
	ar, err := e.st.android.JPKIAuth(ctx, phonePIN, nonce)
	if err != nil {
		e.record("JPKI login", "valid", "failed: "+mdocCode(err))
		return err
	}
	login := online.JPKILogin{ID: ch.ID, Certificate: base64.StdEncoding.EncodeToString(ar.Certificate), Signature: base64.StdEncoding.EncodeToString(ar.Signature)}
	var res verifier.Result
	if err := e.postJSON(ctx, e.onlineURL+"/jpki/login", login, &res); err != nil {
		return fmt.Errorf("JPKI login: %w", err)
	}
	e.record("login verdict (signature, chain, CRL)", "valid", verdict(res.Valid, res.Codes(), ""))
	if res.Valid {
		el := res.Documents[0].Elements[jpkiauth.NameSpace]
		e.n.info("logged in as %v (%v certificate); nothing personal is disclosed by the auth certificate", el["id"], el["form"])
		e.record("personal data disclosed", "none (opaque id only)", map[bool]string{true: "none (opaque id only)", false: "some"}[len(el) > 0 && el["full_name"] == nil])
	}
	var replay verifier.Result
	if err := e.postJSON(ctx, e.onlineURL+"/jpki/login", login, &replay); err != nil {
		return fmt.Errorf("JPKI login replay: %w", err)
	}
	e.record("the same signed challenge replayed", expectInvalid(jpkiauth.CodeChallengeUnknown), verdict(replay.Valid, replay.Codes(), jpkiauth.CodeChallengeUnknown))
	return nil
}

// step7: device change.
func (e *env) step7(ctx context.Context, s *Step) error {
	e.n.info("she enrols the apple wallet with the same card (device change, 機種変更)")
	r, err := e.enrol(ctx, e.st.apple, e.st.cardFile, true)
	if err != nil {
		e.record("apple enrolment", "accepted", "refused: "+walletsim.CodeOf(err))
		return err
	}
	e.st.appleID = r.DeviceID
	e.record("apple enrolment replaces the android device", e.st.androidID, r.ReplacedDeviceID)
	e.record("documents issued to the apple wallet", mdoc.DocTypeHIC+" + "+mdoc.DocTypeMNC, docTypes(r.Credentials))
	sync, err := e.st.android.Sync(ctx)
	if err != nil && !errors.Is(err, &walletsim.Error{Code: walletsim.CodeRemoteDeleted}) {
		e.record("android sync", "remote delete processed", "failed: "+mdocCode(err))
		return err
	}
	e.recordBool("android wallet processed the remote delete", true, sync != nil && sync.RemoteDeleted)
	e.record("credentials left on the android phone", "0", fmt.Sprint(len(e.st.android.Credentials())))
	devs, err := e.issuer.Service.Devices(ctx, "", 10)
	if err != nil {
		return err
	}
	state := ""
	for _, d := range devs {
		if d.ID == e.st.androidID {
			state = d.State
		}
	}
	e.record("android device at the issuer", oid4vci.StateRevoked, state)

	e.n.info("someone replays the android phone's step-3 response to a verifier")
	old := e.st.shopAge
	e.status.reset()
	res := verifier.Verify(ctx, old.DeviceResponse, verifier.Options{Trust: e.iacas, Status: e.status, SessionTranscript: old.Transcript.Raw,
		EReaderKey: old.EReaderKey, Request: old.Request, Logger: e.log})
	replay := &Presentation{DeviceResponse: old.DeviceResponse, Transcript: old.Transcript, DeviceRequest: old.DeviceRequest, Request: old.Request,
		Result: res, StatusLists: e.status.take()}
	code := string(mdoc.CodeStatusInvalid)
	e.record("verifier verdict on the replayed response", expectInvalid(code), verdict(res.Valid, res.Codes(), code))
	if err := e.artifact("replay-old-phone", "the android phone's in-person age response from step 3, verified again after the device change", "replay", replay, false, code); err != nil {
		return err
	}
	e.n.info("the apple wallet now presents in the shop")
	if _, err := e.shopAgeCheck(ctx, e.st.apple, "shop-age-qr-apple", "apple phone after the device change, shop asks age_over_20 in person", "valid"); err != nil {
		return err
	}
	e.n.info("and online, the way Safari hands a request to Apple Wallet (ISO/IEC 18013-7 Annex C)")
	st, p, err := e.onlineCheck(ctx, e.st.apple, online.ProtocolAnnexC, online.Purpose{Kind: online.PurposeAge, AgeOver: 20})
	if err != nil {
		e.record("apple wallet online", "valid", "failed: "+mdocCode(err))
		return err
	}
	e.record("apple wallet, Annex C: verifier verdict", "valid, over 20", fmt.Sprintf("%s, %s", verdict(st.Valid, st.Codes, ""), map[bool]string{true: "over 20", false: "not over 20"}[st.Decision != nil && st.Decision.Allowed]))
	return e.artifact("webshop-age-annexc-apple", "apple phone after the device change answers a web shop's age_over_20 request by ISO/IEC 18013-7 Annex C", online.ProtocolAnnexC, p, true, "")
}

// personOf returns the person id of a device at the issuer.
func (e *env) personOf(ctx context.Context, deviceID string) (string, error) {
	devs, err := e.issuer.Service.Devices(ctx, "", 50)
	if err != nil {
		return "", err
	}
	for _, d := range devs {
		if d.ID == deviceID {
			return d.PersonID, nil
		}
	}
	return "", fmt.Errorf("device %s unknown at the issuer", deviceID)
}

// step8: loss, suspension, found, resumed.
func (e *env) step8(ctx context.Context, s *Step) error {
	person, err := e.personOf(ctx, e.st.appleID)
	if err != nil {
		return err
	}
	e.n.info("she calls support: the phone is lost; support suspends all her phone credentials (一時利用停止)")
	lr, err := e.issuer.Service.AdminChange(ctx, issuer.AdminTarget{PersonID: person}, issuer.ActionSuspend, "phone reported lost", "support-desk")
	if err != nil {
		return fmt.Errorf("suspend: %w", err)
	}
	e.record("issuer: devices suspended", "1", fmt.Sprint(len(lr.DeviceIDs)))
	code := string(mdoc.CodeStatusSuspended)
	if _, err := e.shopAgeCheck(ctx, e.st.apple, "shop-age-suspended", "the lost apple phone presents while suspended", code); err != nil {
		return err
	}
	if _, err := e.st.apple.Sync(ctx); err != nil {
		return fmt.Errorf("apple sync: %w", err)
	}
	e.record("the wallet's own view after sync", walletsim.StateSuspended, credState(e.st.apple, mdoc.DocTypeMNC))
	e.n.info("the phone is found: support lifts the suspension")
	if _, err := e.issuer.Service.AdminChange(ctx, issuer.AdminTarget{PersonID: person}, "resume", "phone found", "support-desk"); err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	if _, err := e.st.apple.Sync(ctx); err != nil {
		return fmt.Errorf("apple sync: %w", err)
	}
	e.record("the wallet's own view after sync", walletsim.StateValid, credState(e.st.apple, mdoc.DocTypeMNC))
	_, err = e.shopAgeCheck(ctx, e.st.apple, "shop-age-resumed", "the found apple phone presents after the suspension was lifted", "valid")
	return err
}

func credState(w *walletsim.Wallet, docType string) string {
	c, err := w.Credential(docType)
	if err != nil {
		return "none"
	}
	return c.State
}

// step9: the card certificate is revoked; linked revocation follows.
func (e *env) step9(ctx context.Context, s *Step) error {
	e.n.info("she moves: the municipality revokes the card's signature certificate (address change) and J-LIS publishes the CRLs")
	ca, err := e.openCA()
	if err != nil {
		return err
	}
	revoked, err := ca.Revoke(e.st.card.SignCert.SerialNumber, jpki.ReasonAffiliationChanged, time.Now())
	if err != nil {
		return fmt.Errorf("revoke the card certificate: %w", err)
	}
	if err := ca.Save(); err != nil {
		return err
	}
	if err := e.publishCRLs(ca); err != nil {
		return err
	}
	e.n.info("J-LIS: the card's signature certificate and the %d phone certificate(s) derived from it are revoked", len(revoked)-1)
	e.n.info("the issuer's CRL poll runs (mdoc-issuer serve does it every %s; crl-poll does it now)", "10m")
	n, err := e.issuer.Service.PollCRLs(ctx)
	if err != nil {
		return fmt.Errorf("CRL poll: %w", err)
	}
	e.record("issuer: devices revoked by linked revocation", "1", fmt.Sprint(n))
	if info := e.st.apple.Status().JPKI; info != nil {
		_, err := e.jpki.VerifyDER(ctx, info.SignCert, jpki.VerifyOptions{})
		e.record("apple phone's JPKI signature certificate", "invalid: "+string(jpki.CodeRevoked), "invalid: "+string(jpki.CodeOf(err)))
	}
	_, err = e.shopAgeCheck(ctx, e.st.apple, "shop-age-card-revoked", "the apple phone presents after the card certificate was revoked (linked revocation)", string(mdoc.CodeStatusInvalid))
	return err
}

// step10: emergency restriction of a model.
func (e *env) step10(ctx context.Context, s *Step) error {
	e.n.info("the municipality issues her a new card certificate for the new address")
	ca, err := e.openCA()
	if err != nil {
		return err
	}
	moved := holder
	moved.Address = newAddress
	creds, err := ca.IssueCard(moved, testca.IssueOptions{})
	if err != nil {
		return fmt.Errorf("issue the new card certificate: %w", err)
	}
	if err := ca.Save(); err != nil {
		return err
	}
	if err := e.publishCRLs(ca); err != nil {
		return err
	}
	cardFile := filepath.Join(e.work, "card-new.json")
	if _, err := applet.Create(cardFile, creds.AppletConfig(jpki.TokenCard, cardPassword, cardPIN)); err != nil {
		return fmt.Errorf("write the new card: %w", err)
	}
	e.n.info("security team: %s is put on the emergency block-list (%s)", blockedModel, blockReason)
	suspend := false
	if _, err := e.issuer.Service.Block(ctx, issuer.BlockRequest{Kind: store.BlockModel, Value: blockedModel, Reason: blockReason, SuspendExisting: &suspend}, "security-team"); err != nil {
		return fmt.Errorf("block the model: %w", err)
	}
	w, err := e.newWallet("blocked", walletsim.Profile{Platform: walletsim.PlatformAndroid, Model: blockedModel})
	if err != nil {
		return err
	}
	_, err = e.enrol(ctx, w, cardFile, false)
	got := "accepted"
	var we *walletsim.Error
	if errors.As(err, &we) {
		got = "refused: " + string(we.Code)
		e.n.info("wallet: %s", we.Detail)
	} else if err != nil {
		got = "failed: " + err.Error()
	}
	e.record("enrolment on "+blockedModel, "refused: "+string(walletsim.CodeDeviceNotAllowed), got)
	detail := ""
	if we != nil {
		detail = we.Detail
	}
	e.recordBool("the refusal names the reason ("+oid4vci.ReasonModelBlocked+", the CVE)", true,
		strings.Contains(detail, oid4vci.ReasonModelBlocked) && strings.Contains(detail, "CVE-2026-0042"))
	return nil
}
