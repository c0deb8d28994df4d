package oid4vp

import (
	"sort"

	"github.com/mynumber-mdoc/mnc/mdoc"
)

// FormatMsoMdoc is the credential format identifier of ISO mdocs
// (OpenID4VP 1.0 Appendix B.2).
const FormatMsoMdoc = "mso_mdoc"

// Bounds on a DCQL query. A verifier asks for a handful of documents with
// at most a few dozen elements each; the limits leave room for that while
// keeping a hostile query from making the wallet loop or allocate without
// bound.
const (
	// MaxCredentialQueries bounds dcql_query.credentials.
	MaxCredentialQueries = 16
	// MaxClaimsPerQuery bounds the claims of one credential query.
	MaxClaimsPerQuery = 256
	// MaxClaimSets bounds claim_sets of one credential query and the
	// options of one credential set.
	MaxClaimSets = 16
	// MaxCredentialSets bounds dcql_query.credential_sets.
	MaxCredentialSets = 16
	// MaxIdentifierLength bounds ids, doctypes, namespaces and element
	// identifiers.
	MaxIdentifierLength = 256
)

// DCQLQuery is a Digital Credentials Query Language query (OpenID4VP 1.0
// §6.1): the credentials the verifier asks for and, optionally, which
// combinations of them satisfy it.
type DCQLQuery struct {
	Credentials    []CredentialQuery    `json:"credentials"`
	CredentialSets []CredentialSetQuery `json:"credential_sets,omitempty"`
}

// CredentialQuery asks for one credential (OpenID4VP 1.0 §6.1). For
// mso_mdoc, Meta carries the docType and every claim path is
// [namespace, element identifier] (Appendix B.2.3).
type CredentialQuery struct {
	ID       string       `json:"id"`
	Format   string       `json:"format"`
	Multiple bool         `json:"multiple,omitempty"`
	Meta     MdocMeta     `json:"meta"`
	Claims   []ClaimQuery `json:"claims,omitempty"`
	// ClaimSets lists alternative sets of claim IDs, most preferred
	// first (§6.4.1); when present every claim has an ID.
	ClaimSets [][]string `json:"claim_sets,omitempty"`
}

// MdocMeta is the mso_mdoc meta parameter (OpenID4VP 1.0 Appendix B.2.3).
type MdocMeta struct {
	DoctypeValue string `json:"doctype_value"`
}

// ClaimQuery names one data element (OpenID4VP 1.0 §6.3, Appendix B.2.3):
// Path is [namespace, element identifier]; IntentToRetain says whether the
// verifier will store the value (ISO/IEC 18013-5 intentToRetain). Values,
// when present, restricts acceptable values (the wallet returns the claim
// only when it matches one).
type ClaimQuery struct {
	ID             string   `json:"id,omitempty"`
	Path           []string `json:"path"`
	Values         []any    `json:"values,omitempty"`
	IntentToRetain bool     `json:"intent_to_retain,omitempty"`
}

// CredentialSetQuery says which combinations of credential queries satisfy
// the verifier (OpenID4VP 1.0 §6.2). Required absent means true.
type CredentialSetQuery struct {
	Options  [][]string `json:"options"`
	Required *bool      `json:"required,omitempty"`
}

// IsRequired reports whether the set must be satisfied (default true).
func (s *CredentialSetQuery) IsRequired() bool { return s.Required == nil || *s.Required }

// NewMdocCredentialQuery returns a credential query for docType asking for
// elements (namespace → identifiers), in a deterministic order, each with
// the given intentToRetain (false is the privacy-preserving default).
func NewMdocCredentialQuery(id, docType string, elements map[string][]string, intentToRetain bool) CredentialQuery {
	q := CredentialQuery{ID: id, Format: FormatMsoMdoc, Meta: MdocMeta{DoctypeValue: docType}}
	nss := make([]string, 0, len(elements))
	for ns := range elements {
		nss = append(nss, ns)
	}
	sort.Strings(nss)
	for _, ns := range nss {
		ids := append([]string(nil), elements[ns]...)
		sort.Strings(ids)
		for _, el := range ids {
			q.Claims = append(q.Claims, ClaimQuery{Path: []string{ns, el}, IntentToRetain: intentToRetain})
		}
	}
	return q
}

// Elements returns the requested elements as namespace → sorted
// identifiers, the shape mdoc.VerifyOptions.Request and
// mdoc.IssuerSigned.Select take. It is empty when Claims is absent (which
// DCQL defines as "all claims": callers decide whether to honour that).
func (q *CredentialQuery) Elements() map[string][]string {
	out := map[string][]string{}
	for _, c := range q.Claims {
		if len(c.Path) != 2 {
			continue
		}
		out[c.Path[0]] = append(out[c.Path[0]], c.Path[1])
	}
	for ns := range out {
		sort.Strings(out[ns])
	}
	return out
}

// ClaimSetElements returns the elements of claim set i (an index into
// ClaimSets), or all claims when ClaimSets is absent and i is 0.
func (q *CredentialQuery) ClaimSetElements(i int) map[string][]string {
	if len(q.ClaimSets) == 0 {
		if i != 0 {
			return nil
		}
		return q.Elements()
	}
	if i < 0 || i >= len(q.ClaimSets) {
		return nil
	}
	want := map[string]bool{}
	for _, id := range q.ClaimSets[i] {
		want[id] = true
	}
	sub := CredentialQuery{}
	for _, c := range q.Claims {
		if want[c.ID] {
			sub.Claims = append(sub.Claims, c)
		}
	}
	return sub.Elements()
}

// ItemsRequest returns the query as an ISO/IEC 18013-5 ItemsRequest, so a
// wallet can run the same consent and reader-role rules as in proximity.
func (q *CredentialQuery) ItemsRequest() mdoc.ItemsRequest {
	ir := mdoc.ItemsRequest{DocType: q.Meta.DoctypeValue, NameSpaces: map[string]map[string]bool{}}
	for _, c := range q.Claims {
		if len(c.Path) != 2 {
			continue
		}
		if ir.NameSpaces[c.Path[0]] == nil {
			ir.NameSpaces[c.Path[0]] = map[string]bool{}
		}
		ir.NameSpaces[c.Path[0]][c.Path[1]] = ir.NameSpaces[c.Path[0]][c.Path[1]] || c.IntentToRetain
	}
	return ir
}

// Credential returns the credential query with the given id, or nil.
func (q *DCQLQuery) Credential(id string) *CredentialQuery {
	for i := range q.Credentials {
		if q.Credentials[i].ID == id {
			return &q.Credentials[i]
		}
	}
	return nil
}

// validID reports whether s is a DCQL identifier: non-empty, at most
// MaxIdentifierLength, only alphanumerics, underscore and hyphen (§6.1).
func validID(s string) bool {
	if s == "" || len(s) > MaxIdentifierLength {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
		default:
			return false
		}
	}
	return true
}

// Validate checks the query against OpenID4VP 1.0 §6 and this profile:
// only mso_mdoc credentials, unique IDs, every claim path
// [namespace, element], claim_sets and credential_sets referring to
// existing IDs, and the Max… bounds. Failures are CodeInvalidRequest
// (CodeLimitExceeded for bounds).
func (q *DCQLQuery) Validate() error {
	if len(q.Credentials) == 0 {
		return errorf(CodeInvalidRequest, "dcql_query has no credentials")
	}
	if len(q.Credentials) > MaxCredentialQueries {
		return errorf(mdoc.CodeLimitExceeded, "dcql_query has %d credentials, limit %d", len(q.Credentials), MaxCredentialQueries)
	}
	if len(q.CredentialSets) > MaxCredentialSets {
		return errorf(mdoc.CodeLimitExceeded, "dcql_query has %d credential_sets, limit %d", len(q.CredentialSets), MaxCredentialSets)
	}
	ids := map[string]bool{}
	for i := range q.Credentials {
		c := &q.Credentials[i]
		if !validID(c.ID) {
			return errorf(CodeInvalidRequest, "credential query %d: invalid id %q", i, c.ID)
		}
		if ids[c.ID] {
			return errorf(CodeInvalidRequest, "credential query id %q repeated", c.ID)
		}
		ids[c.ID] = true
		if err := c.validate(); err != nil {
			return err
		}
	}
	for i, s := range q.CredentialSets {
		if len(s.Options) == 0 {
			return errorf(CodeInvalidRequest, "credential set %d has no options", i)
		}
		if len(s.Options) > MaxClaimSets {
			return errorf(mdoc.CodeLimitExceeded, "credential set %d has %d options, limit %d", i, len(s.Options), MaxClaimSets)
		}
		for _, opt := range s.Options {
			if len(opt) == 0 || len(opt) > MaxCredentialQueries {
				return errorf(CodeInvalidRequest, "credential set %d has an empty or oversized option", i)
			}
			for _, id := range opt {
				if !ids[id] {
					return errorf(CodeInvalidRequest, "credential set %d names unknown credential %q", i, id)
				}
			}
		}
	}
	return nil
}

func (c *CredentialQuery) validate() error {
	if c.Format != FormatMsoMdoc {
		return errorf(mdoc.CodeUnsupported, "credential query %q: format %q (only %s)", c.ID, c.Format, FormatMsoMdoc)
	}
	if c.Meta.DoctypeValue == "" || len(c.Meta.DoctypeValue) > MaxIdentifierLength {
		return errorf(CodeInvalidRequest, "credential query %q: missing or oversized meta.doctype_value", c.ID)
	}
	if len(c.Claims) > MaxClaimsPerQuery {
		return errorf(mdoc.CodeLimitExceeded, "credential query %q: %d claims, limit %d", c.ID, len(c.Claims), MaxClaimsPerQuery)
	}
	if len(c.ClaimSets) > MaxClaimSets {
		return errorf(mdoc.CodeLimitExceeded, "credential query %q: %d claim_sets, limit %d", c.ID, len(c.ClaimSets), MaxClaimSets)
	}
	claimIDs := map[string]bool{}
	paths := map[[2]string]bool{}
	for j, cl := range c.Claims {
		if len(cl.Path) != 2 {
			return errorf(CodeInvalidRequest, "credential query %q claim %d: mso_mdoc path must be [namespace, element]", c.ID, j)
		}
		for _, p := range cl.Path {
			if p == "" || len(p) > MaxIdentifierLength {
				return errorf(CodeInvalidRequest, "credential query %q claim %d: empty or oversized path component", c.ID, j)
			}
		}
		k := [2]string{cl.Path[0], cl.Path[1]}
		if paths[k] {
			return errorf(CodeInvalidRequest, "credential query %q: claim %v repeated", c.ID, cl.Path)
		}
		paths[k] = true
		if len(cl.Values) > MaxClaimsPerQuery {
			return errorf(mdoc.CodeLimitExceeded, "credential query %q claim %d: too many values", c.ID, j)
		}
		if cl.ID != "" {
			if !validID(cl.ID) {
				return errorf(CodeInvalidRequest, "credential query %q claim %d: invalid id %q", c.ID, j, cl.ID)
			}
			if claimIDs[cl.ID] {
				return errorf(CodeInvalidRequest, "credential query %q: claim id %q repeated", c.ID, cl.ID)
			}
			claimIDs[cl.ID] = true
		} else if len(c.ClaimSets) > 0 {
			return errorf(CodeInvalidRequest, "credential query %q claim %d: claim_sets requires claim ids", c.ID, j)
		}
	}
	if len(c.ClaimSets) > 0 && len(c.Claims) == 0 {
		return errorf(CodeInvalidRequest, "credential query %q: claim_sets without claims", c.ID)
	}
	for _, set := range c.ClaimSets {
		if len(set) == 0 {
			return errorf(CodeInvalidRequest, "credential query %q: empty claim set", c.ID)
		}
		for _, id := range set {
			if !claimIDs[id] {
				return errorf(CodeInvalidRequest, "credential query %q: claim set names unknown claim %q", c.ID, id)
			}
		}
	}
	return nil
}
