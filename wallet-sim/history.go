package walletsim

import "time"

// HistoryEntry is one event in the wallet's own log: every presentation
// (what was asked, what was released, to whom) and every lifecycle step.
type HistoryEntry struct {
	Time time.Time `json:"time"`
	// Kind is presentation, enrolment, refresh, revocation, remote_delete,
	// jpki, insurance, or history_reset (a new log replaced a damaged one;
	// Detail says what was found).
	Kind string `json:"kind"`
	// Transport is qr, nfc, oid4vp or annexc for presentations.
	Transport string `json:"transport,omitempty"`
	// Reader names the relying party: its certificate subject, client_id
	// or origin.
	Reader      string            `json:"reader,omitempty"`
	ReaderRoles []string          `json:"reader_roles,omitempty"`
	Documents   []DocumentHistory `json:"documents,omitempty"`
	// Outcome is released, refused, nothing_released, error, or for
	// lifecycle entries what happened.
	Outcome string `json:"outcome"`
	Code    string `json:"code,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

// DocumentHistory is what happened to one requested document. Elements are
// written "namespace/identifier".
type DocumentHistory struct {
	DocType   string     `json:"doc_type"`
	Requested []string   `json:"requested"`
	Released  []string   `json:"released,omitempty"`
	Withheld  []Withheld `json:"withheld,omitempty"`
	Error     string     `json:"error,omitempty"`
}

// Withheld is an element the wallet did not release, and why: a policy
// reason (not_medical_institution, not_authorised_individual_number,
// age_not_answerable), not_held, or consent_denied.
type Withheld struct {
	Element string `json:"element"`
	Reason  string `json:"reason"`
}

// Reasons elements are withheld.
const (
	WithheldNotMedical       = "not_medical_institution"
	WithheldIndividualNumber = "not_authorised_individual_number"
	WithheldAgeNotAnswerable = "age_not_answerable"
	WithheldNotHeld          = "not_held"
	WithheldConsentDenied    = "consent_denied"
)
