package walletsim

import (
	"bufio"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"strings"

	"github.com/mynumber-mdoc/mnc/mdoc"
)

// ReaderInfo describes the relying party as the wallet verified it.
type ReaderInfo struct {
	// Subject is the reader certificate's subject (or "" when none).
	Subject string
	// Issuer is the reader CA's subject.
	Issuer string
	// Roles are read from the verified reader certificate's policies.
	Roles mdoc.ReaderRoles
	// ClientID and Origin identify an online verifier.
	ClientID string
	Origin   string
	Cert     *x509.Certificate
}

// Name is a short label for prompts and history.
func (r *ReaderInfo) Name() string {
	switch {
	case r == nil:
		return "(unknown reader)"
	case r.Cert != nil && r.Cert.Subject.CommonName != "":
		return r.Cert.Subject.CommonName
	case r.Subject != "":
		return r.Subject
	case r.ClientID != "":
		return r.ClientID
	}
	return r.Origin
}

// RoleNames lists the roles for display.
func (r *ReaderInfo) RoleNames() []string {
	var out []string
	if r == nil {
		return nil
	}
	if r.Roles.MedicalInstitution {
		out = append(out, "medical_institution")
	}
	if r.Roles.IndividualNumber {
		out = append(out, "individual_number")
	}
	return out
}

// ConsentItem is one element the holder may release.
type ConsentItem struct {
	NameSpace  string
	Identifier string
	// Requested is the identifier the reader asked for when the wallet
	// answers with another (age_over_NN answered by age_over_MM, §7.2.5);
	// "" when they are the same.
	Requested      string
	IntentToRetain bool
}

// Element is "namespace/identifier".
func (i ConsentItem) Element() string { return i.NameSpace + "/" + i.Identifier }

// ConsentRequest is what the holder is asked about one document. Withheld
// lists what the wallet's policy refuses whatever the holder says; it is
// shown, never offered.
type ConsentRequest struct {
	Reader       *ReaderInfo
	DocType      string
	CredentialID string
	Items        []ConsentItem
	Withheld     []Withheld
}

// Consent is the holder's element-by-element approval. Decide returns the
// approved subset of req.Items; anything else it returns is ignored.
type Consent interface {
	Decide(ctx context.Context, req *ConsentRequest) ([]ConsentItem, error)
}

// ConsentFunc adapts a function to Consent (tests script consent with it).
type ConsentFunc func(ctx context.Context, req *ConsentRequest) ([]ConsentItem, error)

// Decide calls f.
func (f ConsentFunc) Decide(ctx context.Context, req *ConsentRequest) ([]ConsentItem, error) {
	return f(ctx, req)
}

// Rules is consent given in advance, e.g. on the command line. A pattern is
// an identifier ("age_over_20"), "namespace/identifier", "namespace/*" or
// "*". Deny wins over Approve; with neither matching, the element is not
// released.
type Rules struct {
	ApproveAll bool
	Approve    []string
	Deny       []string
}

// Decide implements Consent.
func (r Rules) Decide(_ context.Context, req *ConsentRequest) ([]ConsentItem, error) {
	var out []ConsentItem
	for _, it := range req.Items {
		if matchAny(r.Deny, it) {
			continue
		}
		if r.ApproveAll || matchAny(r.Approve, it) {
			out = append(out, it)
		}
	}
	return out, nil
}

func matchAny(patterns []string, it ConsentItem) bool {
	for _, p := range patterns {
		switch {
		case p == "*", p == it.Identifier, p == it.Element(), p == it.NameSpace+"/*":
			return true
		case it.Requested != "" && (p == it.Requested || p == it.NameSpace+"/"+it.Requested):
			return true
		}
	}
	return false
}

// Prompt asks the holder on a terminal, element by element:
// y (release), n (withhold), a (release this and all remaining), q (withhold
// this and all remaining). End of input withholds the rest.
type Prompt struct {
	In  io.Reader
	Out io.Writer
	r   *bufio.Reader
}

// Decide implements Consent.
func (p *Prompt) Decide(ctx context.Context, req *ConsentRequest) ([]ConsentItem, error) {
	if p.r == nil {
		p.r = bufio.NewReader(p.In)
	}
	fmt.Fprintf(p.Out, "\n%s asks for %s", req.Reader.Name(), req.DocType)
	if roles := req.Reader.RoleNames(); len(roles) > 0 {
		fmt.Fprintf(p.Out, " (certified: %s)", strings.Join(roles, ", "))
	}
	fmt.Fprintln(p.Out)
	for _, w := range req.Withheld {
		fmt.Fprintf(p.Out, "  will not be shared: %s (%s)\n", w.Element, w.Reason)
	}
	var out []ConsentItem
	for i, it := range req.Items {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		label := it.Element()
		if it.Requested != "" {
			label += " (answers " + it.Requested + ")"
		}
		if it.IntentToRetain {
			label += " [reader will keep it]"
		}
		fmt.Fprintf(p.Out, "  share %s? [y/n/a/q] ", label)
		line, err := p.r.ReadString('\n')
		ans := strings.ToLower(strings.TrimSpace(line))
		switch {
		case ans == "y" || ans == "yes":
			out = append(out, it)
		case ans == "a" || ans == "all":
			out = append(out, req.Items[i:]...)
			return out, nil
		case ans == "q" || ans == "quit":
			return out, nil
		}
		if err != nil { // EOF: withhold the rest
			return out, nil
		}
	}
	return out, nil
}
