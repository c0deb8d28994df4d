package walletsim

import (
	"math"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vp"
)

// dcqlSelection is one credential query the wallet answers, narrowed to the
// claims it will offer the holder.
type dcqlSelection struct {
	query *oid4vp.CredentialQuery
	items mdoc.ItemsRequest
}

// planDCQL decides what to offer for a DCQL query (OpenID4VP 1.0 §6.4):
//
//   - a credential query is satisfiable when the wallet holds a credential
//     of its doctype that can deliver every claim of one claim set — the
//     first such set in the verifier's order of preference — or, without
//     claim_sets, every claim. A claim can be delivered when the element is
//     held (age_over_NN by its §7.2.5 answer), the wallet's release policy
//     allows it to this reader, and, when the claim has values, the held
//     value equals one of them;
//   - with credential_sets, each set contributes its first option whose
//     credential queries are all satisfiable; a required set (the default)
//     with none makes the whole query unsatisfiable (ok false), an optional
//     one is skipped; queries no chosen option names are not answered;
//   - without credential_sets every satisfiable query is answered (the
//     verifier judges what is missing).
//
// Consent comes after this: the holder may still release less.
func (w *Wallet) planDCQL(q *oid4vp.DCQLQuery, reader *ReaderInfo) (sel []dcqlSelection, unsatisfied []string, ok bool) {
	satisfiable := map[string]*dcqlSelection{}
	for i := range q.Credentials {
		cq := &q.Credentials[i]
		if s := w.planCredentialQuery(cq, reader); s != nil {
			satisfiable[cq.ID] = s
		} else {
			unsatisfied = append(unsatisfied, cq.ID)
		}
	}
	if len(q.CredentialSets) == 0 {
		for i := range q.Credentials {
			if s := satisfiable[q.Credentials[i].ID]; s != nil {
				sel = append(sel, *s)
			}
		}
		return sel, unsatisfied, true
	}
	chosen := map[string]bool{}
	for _, set := range q.CredentialSets {
		found := false
		for _, option := range set.Options {
			all := len(option) > 0
			for _, id := range option {
				if satisfiable[id] == nil {
					all = false
					break
				}
			}
			if all {
				for _, id := range option {
					chosen[id] = true
				}
				found = true
				break
			}
		}
		if !found && set.IsRequired() {
			return nil, unsatisfied, false
		}
	}
	// Keep the verifier's order of credential queries.
	for i := range q.Credentials {
		if id := q.Credentials[i].ID; chosen[id] {
			sel = append(sel, *satisfiable[id])
		}
	}
	return sel, unsatisfied, true
}

// planCredentialQuery returns the claims of cq the wallet offers, or nil
// when it cannot satisfy cq. A query without claims asks for the whole
// credential; it passes through unchanged and consent decides.
func (w *Wallet) planCredentialQuery(cq *oid4vp.CredentialQuery, reader *ReaderInfo) *dcqlSelection {
	if cq.Format != oid4vp.FormatMsoMdoc {
		return nil
	}
	// The credential's state (revoked, suspended, expired) is judged when
	// answering, which records the precise code in the history.
	cred := w.credentialFor(cq.Meta.DoctypeValue)
	if cred == nil {
		return nil
	}
	if len(cq.Claims) == 0 {
		return &dcqlSelection{query: cq, items: cq.ItemsRequest()}
	}
	is, err := w.issuerSigned(cred)
	if err != nil {
		return nil
	}
	deliverable := func(c *oid4vp.ClaimQuery) bool {
		if len(c.Path) != 2 {
			return false
		}
		ir := &mdoc.ItemsRequest{DocType: cq.Meta.DoctypeValue, NameSpaces: map[string]map[string]bool{c.Path[0]: {c.Path[1]: c.IntentToRetain}}}
		items, _, _ := offerable(is, ir, reader)
		if len(items) != 1 {
			return false
		}
		if len(c.Values) == 0 {
			return true
		}
		it := is.Item(items[0].NameSpace, items[0].Identifier)
		if it == nil {
			return false
		}
		v, err := it.Item.Value()
		if err != nil {
			return false
		}
		for _, want := range c.Values {
			if dcqlValueEqual(v, want) {
				return true
			}
		}
		return false
	}
	var claims []oid4vp.ClaimQuery
	if len(cq.ClaimSets) == 0 {
		for i := range cq.Claims {
			if !deliverable(&cq.Claims[i]) {
				return nil
			}
		}
		claims = cq.Claims
	} else {
		byID := map[string]*oid4vp.ClaimQuery{}
		for i := range cq.Claims {
			byID[cq.Claims[i].ID] = &cq.Claims[i]
		}
		for _, set := range cq.ClaimSets {
			all := len(set) > 0
			var picked []oid4vp.ClaimQuery
			for _, id := range set {
				c := byID[id]
				if c == nil || !deliverable(c) {
					all = false
					break
				}
				picked = append(picked, *c)
			}
			if all {
				claims = picked
				break
			}
		}
		if claims == nil {
			return nil
		}
	}
	sub := oid4vp.CredentialQuery{ID: cq.ID, Format: cq.Format, Meta: cq.Meta, Claims: claims}
	return &dcqlSelection{query: cq, items: sub.ItemsRequest()}
}

// dcqlValueEqual compares a held element value (decoded CBOR) with a DCQL
// values entry (decoded JSON: string, float64, bool). OpenID4VP 1.0 §6.3
// asks for type and value to match exactly; numbers compare by value
// because JSON has one number type.
func dcqlValueEqual(held, want any) bool {
	switch w := want.(type) {
	case string:
		h, ok := held.(string)
		return ok && h == w
	case bool:
		h, ok := held.(bool)
		return ok && h == w
	case float64:
		var h float64
		switch x := held.(type) {
		case uint64:
			h = float64(x)
		case int64:
			h = float64(x)
		case int:
			h = float64(x)
		case float64:
			h = x
		default:
			return false
		}
		return !math.IsNaN(w) && h == w
	}
	return false
}
