package walletsim

import (
	"context"
	"crypto/ecdh"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
	"github.com/mynumber-mdoc/mnc/wallet-sim/se"
)

// Element identifiers with a legal restriction: the individual number
// may be collected only where the My Number Act (番号法) allows it.
const ElementIndividualNumber = "individual_number_unicode"

// MaxDocRequests bounds the documents one request may ask for.
const MaxDocRequests = 8

// presentation is one request to answer.
type presentation struct {
	transport string
	// chosen are the credentials picked for this request's documents
	// (pickCredentials).
	chosen map[string]*Credential
	// transcript is the untagged SessionTranscript.
	transcript []byte
	// eReaderKey, when set with mac, selects deviceMac.
	eReaderKey *ecdh.PublicKey
	mac        bool
	// reader, when set, is a reader already authenticated by the online
	// protocol (signed request object); DocRequests then carry no
	// ReaderAuth. When nil, every DocRequest must carry a valid ReaderAuth.
	reader  *ReaderInfo
	consent Consent
}

// respond answers req: ReaderAuth, policy filters, consent, user
// verification, device authentication. It never fails: every refusal is a
// DeviceResponse (status 10 for an unauthenticated reader, document errors
// for documents not returned) plus a history entry saying why.
func (w *Wallet) respond(ctx context.Context, req *mdoc.DeviceRequest, p presentation) (*mdoc.DeviceResponse, HistoryEntry) {
	h := HistoryEntry{Time: w.now().UTC(), Kind: "presentation", Transport: p.transport}
	if len(req.DocRequests) == 0 || len(req.DocRequests) > MaxDocRequests {
		h.Outcome, h.Code = "refused", string(CodeRequestInvalid)
		h.Detail = fmt.Sprintf("%d document requests (1–%d allowed)", len(req.DocRequests), MaxDocRequests)
		return &mdoc.DeviceResponse{Version: mdoc.DeviceResponseVersion, Status: mdoc.DeviceResponseCBORValidationError}, h
	}

	// 1. Reader authentication, for every DocRequest, before anything else
	// is looked at. One bad ReaderAuth refuses the whole request: a reader
	// that cannot authenticate one request is not trusted with another.
	reader := p.reader
	w.mu.Lock()
	trust := w.readerTrust()
	w.mu.Unlock()
	if reader == nil {
		for i := range req.DocRequests {
			dr := &req.DocRequests[i]
			res, err := dr.VerifyReaderAuth(trust, p.transcript, w.now())
			if err != nil {
				h.Outcome, h.Code = "refused", string(CodeReaderAuthInvalid)
				h.Detail = fmt.Sprintf("request for %s: %v", dr.ItemsRequest.DocType, err)
				for _, d := range req.DocRequests {
					h.Documents = append(h.Documents, DocumentHistory{DocType: d.ItemsRequest.DocType, Requested: flatten(d.ItemsRequest.Elements()), Error: string(CodeReaderAuthInvalid)})
				}
				w.log.WarnContext(ctx, "reader authentication failed; nothing released", "err", err)
				return &mdoc.DeviceResponse{Version: mdoc.DeviceResponseVersion, Status: mdoc.DeviceResponseGeneralError}, h
			}
			ri := &ReaderInfo{Cert: res.Certificate, Subject: res.Certificate.Subject.String(), Issuer: res.Certificate.Issuer.String(), Roles: mdoc.ReaderRolesOf(res.Certificate)}
			if reader != nil && !reader.Cert.Equal(ri.Cert) {
				h.Outcome, h.Code, h.Detail = "refused", string(CodeReaderAuthInvalid), "document requests signed by different readers"
				return &mdoc.DeviceResponse{Version: mdoc.DeviceResponseVersion, Status: mdoc.DeviceResponseGeneralError}, h
			}
			reader = ri
		}
	}
	h.Reader, h.ReaderRoles = reader.Name(), reader.RoleNames()

	// 2. Per document: which credential, what may be offered, consent.
	var docs []mdoc.Document
	docErrors := map[string]int64{}
	var grant *se.Grant
	var uvErr error
	seen := map[string]bool{}
	var requested []string
	for _, dr := range req.DocRequests {
		requested = append(requested, dr.ItemsRequest.DocType)
	}
	p.chosen = w.pickCredentials(requested)
	for i := range req.DocRequests {
		ir := &req.DocRequests[i].ItemsRequest
		dh := DocumentHistory{DocType: ir.DocType, Requested: flatten(ir.Elements())}
		if seen[ir.DocType] {
			dh.Error = "duplicate_request"
			h.Documents = append(h.Documents, dh)
			continue
		}
		seen[ir.DocType] = true
		doc, err := w.answerDocument(ctx, ir, reader, p, &dh, &grant, &uvErr)
		if err != nil {
			dh.Error = CodeOf(err)
			if dh.Error == "" {
				dh.Error = err.Error()
			}
			docErrors[ir.DocType] = mdoc.ErrorDataNotReturned
		} else if doc == nil {
			docErrors[ir.DocType] = mdoc.ErrorDataNotReturned
		} else {
			docs = append(docs, *doc)
		}
		h.Documents = append(h.Documents, dh)
	}
	if len(docs) > 0 {
		// One data-file write per presentation, whatever the number of
		// documents: the usage counters (markUsed) and queued use reports
		// are durable before the response leaves, so that a crash never
		// lets a batch credential be shown twice. The history entry is
		// appended to the log by the caller once the outcome is known.
		w.mu.Lock()
		if err := w.save(); err != nil {
			w.log.ErrorContext(ctx, "save wallet", "err", err)
		}
		w.mu.Unlock()
	}
	switch {
	case len(docs) > 0:
		h.Outcome = "released"
	case uvErr != nil:
		h.Outcome, h.Code = "refused", CodeOf(uvErr)
		h.Detail = uvErr.Error()
	default:
		h.Outcome = "nothing_released"
	}
	return mdoc.NewDeviceResponse(docs, docErrors), h
}

// answerDocument returns the Document for one ItemsRequest, or nil when
// nothing is released. grant is shared across documents so the holder
// verifies once per request.
func (w *Wallet) answerDocument(ctx context.Context, ir *mdoc.ItemsRequest, reader *ReaderInfo, p presentation, dh *DocumentHistory, grant **se.Grant, uvErr *error) (*mdoc.Document, error) {
	const op = "present"
	cred := p.chosen[ir.DocType]
	if cred == nil {
		cred = w.credentialFor(ir.DocType)
	}
	if cred == nil {
		return nil, newErr(op, CodeCredentialNotFound, "no %s in this wallet", ir.DocType)
	}
	switch cred.State {
	case StateRevoked:
		return nil, newErr(op, CodeCredentialRevoked, "%s is revoked", cred.ID)
	case StateSuspended:
		return nil, newErr(op, CodeCredentialSuspended, "%s is suspended", cred.ID)
	}
	if now := w.now(); now.After(cred.ValidUntil) {
		return nil, newErr(op, CodeCredentialInvalid, "%s expired at %s; refresh it", cred.ID, cred.ValidUntil.Format("2006-01-02"))
	}
	is, err := w.issuerSigned(cred)
	if err != nil {
		return nil, &Error{Op: op, Code: CodeCredentialInvalid, Err: err}
	}
	items, withheld, notHeld := offerable(is, ir, reader)
	dh.Withheld = append(dh.Withheld, withheld...)
	for _, e := range notHeld {
		dh.Withheld = append(dh.Withheld, Withheld{Element: e, Reason: WithheldNotHeld})
	}
	if len(items) == 0 {
		return nil, nil
	}
	req := &ConsentRequest{Reader: reader, DocType: ir.DocType, CredentialID: cred.ID, Items: items, Withheld: withheld}
	var approved []ConsentItem
	if p.consent != nil {
		if approved, err = p.consent.Decide(ctx, req); err != nil {
			return nil, &Error{Op: op, Code: CodeConsentDenied, Err: err}
		}
	}
	// Only what was offered can be approved: a Consent returning anything
	// else (a bug, or a hostile plug-in) cannot widen the release.
	offered := map[string]ConsentItem{}
	for _, it := range items {
		offered[it.Element()] = it
	}
	selection := map[string][]string{}
	released := map[string]bool{}
	for _, a := range approved {
		it, ok := offered[a.Element()]
		if !ok || released[it.Element()] {
			continue
		}
		released[it.Element()] = true
		selection[it.NameSpace] = append(selection[it.NameSpace], it.Identifier)
	}
	for _, it := range items {
		if !released[it.Element()] {
			dh.Withheld = append(dh.Withheld, Withheld{Element: it.Element(), Reason: WithheldConsentDenied})
		}
	}
	if len(selection) == 0 {
		return nil, nil
	}
	if *grant == nil && *uvErr == nil {
		*grant, *uvErr = w.userVerify(ctx, fmt.Sprintf("share %d element(s) with %s", len(released), reader.Name()))
	}
	if *uvErr != nil {
		return nil, *uvErr
	}
	po := mdoc.PresentOptions{SessionTranscript: p.transcript}
	if p.mac && p.eReaderKey != nil {
		kx, err := w.el.KeyExchanger(cred.KeyID, *grant)
		if err != nil {
			return nil, &Error{Op: op, Code: CodeUserVerification, Err: err}
		}
		po.DeviceKeyAgreement, po.EReaderKey = kx, p.eReaderKey
	} else {
		s, err := w.el.Signer(cred.KeyID, *grant)
		if err != nil {
			if errors.Is(err, se.ErrKeyNotFound) {
				return nil, &Error{Op: op, Code: CodeCredentialInvalid, Detail: "device key missing", Err: err}
			}
			return nil, &Error{Op: op, Code: CodeUserVerification, Err: err}
		}
		po.DeviceSigner = s
	}
	doc, err := mdoc.Present(is, selection, po)
	if err != nil {
		return nil, fmt.Errorf("walletsim: present %s: %w", ir.DocType, err)
	}
	dh.Released = flatten(selection)
	w.markUsed(cred.ID)
	w.queueUse(oid4vci.UseReport{DocType: ir.DocType, Verifier: reader.Name(), Elements: dh.Released, Channel: p.transport, At: w.now().Unix()})
	return doc, nil
}

func (w *Wallet) credentialFor(docType string) *Credential {
	w.mu.Lock()
	defer w.mu.Unlock()
	// Prefer a valid credential never shown (so two verifiers never see the
	// same MSO, device key, digests or status entry), then the valid one
	// shown least; among equals the one added first, so a batch is used in
	// order. Invalid ones are returned only when nothing valid is held, so
	// the answer can say why.
	var best *Credential
	usable := func(c *Credential) bool { return c.State != StateRevoked && c.State != StateSuspended }
	better := func(c, b *Credential) bool {
		if usable(c) != usable(b) {
			return usable(c)
		}
		return c.Presentations < b.Presentations
	}
	for _, c := range w.d.Credentials {
		if c.DocType != docType {
			continue
		}
		if best == nil || better(c, best) {
			cc := *c
			best = &cc
		}
	}
	return best
}

// pickCredentials chooses, for the documents of one request, credentials
// bound to one key when the wallet holds such a set (credential i of each
// document of a batch shares key i): the valid set shown least, earliest
// issued first. Documents not covered are left to credentialFor.
func (w *Wallet) pickCredentials(docTypes []string) map[string]*Credential {
	w.mu.Lock()
	defer w.mu.Unlock()
	byKey := map[se.KeyID]map[string]*Credential{}
	var order []se.KeyID
	for _, c := range w.d.Credentials {
		if c.State == StateRevoked || c.State == StateSuspended || !slices.Contains(docTypes, c.DocType) {
			continue
		}
		m := byKey[c.KeyID]
		if m == nil {
			m = map[string]*Credential{}
			byKey[c.KeyID] = m
			order = append(order, c.KeyID)
		}
		if m[c.DocType] == nil {
			m[c.DocType] = c
		}
	}
	var best map[string]*Credential
	bestUses := 0
	for _, k := range order {
		m := byKey[k]
		if len(m) != len(uniq(docTypes)) {
			continue
		}
		uses := 0
		for _, c := range m {
			uses += c.Presentations
		}
		if best == nil || uses < bestUses {
			best, bestUses = m, uses
		}
	}
	out := map[string]*Credential{}
	for dt, c := range best {
		cc := *c
		out[dt] = &cc
	}
	return out
}

func uniq(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return slices.Compact(c)
}

// markUsed counts a presentation of credential id, in memory: respond
// saves once for all the documents it releases.
func (w *Wallet) markUsed(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.d.Credentials {
		if c.ID == id {
			c.Presentations++
			c.LastUsedAt = w.now().UTC()
			if c.Presentations > 1 {
				w.log.Warn("credential shown again: no unused credential of this document is left; refresh for a new batch", "credential", c.ID, "doctype", c.DocType)
			}
		}
	}
}

// offerable applies the wallet's release policy to an ItemsRequest
// against the held document: health-insurance elements only to medical
// institutions, the My Number only to authorised readers, age_over_NN
// answered by the §7.2.5 choice and never by birth_date. It returns the
// items the holder may be asked about, the policy refusals and the
// elements not held.
func offerable(is *mdoc.IssuerSigned, ir *mdoc.ItemsRequest, reader *ReaderInfo) (items []ConsentItem, withheld []Withheld, notHeld []string) {
	seen := map[string]bool{}
	for _, ns := range slices.Sorted(maps.Keys(ir.NameSpaces)) {
		ids := ir.NameSpaces[ns]
		// Issued age_over values of this namespace, for §7.2.5.
		issuedAge := map[int]bool{}
		for _, b := range is.NameSpaces[ns] {
			if nn, ok := mdoc.ParseAgeOver(b.Item.ElementIdentifier); ok {
				if v, err := b.Item.Value(); err == nil {
					if bv, ok := v.(bool); ok {
						issuedAge[nn] = bv
					}
				}
			}
		}
		for _, id := range slices.Sorted(maps.Keys(ids)) {
			el := ns + "/" + id
			switch {
			case (ns == mdoc.NameSpaceHIC || ir.DocType == mdoc.DocTypeHIC) && !reader.Roles.MedicalInstitution:
				withheld = append(withheld, Withheld{Element: el, Reason: WithheldNotMedical})
				continue
			case id == ElementIndividualNumber && !reader.Roles.IndividualNumber:
				withheld = append(withheld, Withheld{Element: el, Reason: WithheldIndividualNumber})
				continue
			}
			it := ConsentItem{NameSpace: ns, Identifier: id, IntentToRetain: ids[id]}
			if nn, ok := mdoc.ParseAgeOver(id); ok {
				mm, ok := mdoc.NearestAgeOver(nn, issuedAge)
				if !ok {
					withheld = append(withheld, Withheld{Element: el, Reason: WithheldAgeNotAnswerable})
					continue
				}
				if mm != nn {
					it.Identifier, it.Requested = mdoc.AgeOverID(mm), id
				}
			}
			if is.Item(ns, it.Identifier) == nil {
				notHeld = append(notHeld, el)
				continue
			}
			if seen[it.Element()] {
				continue
			}
			seen[it.Element()] = true
			items = append(items, it)
		}
	}
	return items, withheld, notHeld
}

func flatten(m map[string][]string) []string {
	var out []string
	for ns, ids := range m {
		for _, id := range ids {
			out = append(out, ns+"/"+id)
		}
	}
	sort.Strings(out)
	return out
}
