package mdoc

// Document types and namespaces this project issues: the My Number Card
// document in the ISO/IEC 23220-2 namespaces and the health-insurance
// document.
const (
	// DocTypeMNC is the My Number Card document, compatible with the one
	// Apple Wallet carries in Japan.
	DocTypeMNC = "org.iso.23220.1.jp.mnc"
	// NameSpaceISO23220 holds the ISO/IEC 23220-2 common elements.
	NameSpaceISO23220 = "org.iso.23220.1"
	// NameSpaceJP holds the Japanese-specific elements.
	NameSpaceJP = "org.iso.23220.1.jp"

	// DocTypeHIC is the provisional health-insurance qualification
	// document; no public namespace exists yet, so roles keep it
	// configurable and default to this.
	DocTypeHIC = "jp.go.mhlw.hic.1"
	// NameSpaceHIC is its namespace.
	NameSpaceHIC = "jp.go.mhlw.hic.1"

	// DocTypeMDL and NameSpaceMDL are the ISO 18013-5 mDL (Annex D vectors
	// and peers' test documents).
	DocTypeMDL   = "org.iso.18013.5.1.mDL"
	NameSpaceMDL = "org.iso.18013.5.1"
)
