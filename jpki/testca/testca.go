// Package testca is a local certificate authority that stands in for J-LIS
// in tests and simulations: it makes JPKI signature and user-authentication
// roots with the real profile (single-tier, self-signed RSA-2048,
// sha256WithRSAEncryption), issues card certificates for test persons and
// smartphone certificates derived from a card certificate, revokes (with
// linked revocation of derived phone certificates) and publishes CRLs
// partitioned by DirName distribution point, the JPKI way.
//
// Roots are O=JPKI-TEST unless Options.Production is set, in which case
// they carry the production DN O=JPKI: they are still local keys, trusted
// only where configured, and exist so that production-mode verification
// can be exercised end to end.
//
// A CA made with Init or Open lives in a directory: ca.json holds the root
// keys (PKCS#8), the serial counter and the issuance and revocation
// records; roots.pem the root certificates; crl/ the published CRLs. The
// directory holds private keys of a test CA and nothing else: never use it
// for anything real.
package testca

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/fsx"
	"github.com/mynumber-mdoc/mnc/jpki"
)

// Defaults for validity periods.
const (
	DefaultRootValidity = 10 * 365 * 24 * time.Hour
	// DefaultCardValidity is 5 years, the signature certificate's term.
	DefaultCardValidity = 5 * 365 * 24 * time.Hour
	// DefaultCRLValidity is the time from thisUpdate to nextUpdate.
	DefaultCRLValidity = 24 * time.Hour
	// DefaultMunicipality names the CRL distribution point of persons
	// without one.
	DefaultMunicipality = "Chiyoda-ku"
	// KeyBits is the RSA modulus size of every key this CA makes.
	KeyBits = 2048
	// firstSerial is the first end-entity serial: small decimal serials
	// are easy to type in `jpki-sim revoke --serial`.
	firstSerial = 1001
)

// Options configure a CA.
type Options struct {
	// Production makes roots with the production DN (O=JPKI) instead of
	// O=JPKI-TEST.
	Production bool
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// GenerateKey makes RSA keys; nil means a fresh RSA-2048 key from
	// crypto/rand. Tests pass a KeyPool to keep key generation cheap.
	GenerateKey func() (*rsa.PrivateKey, error)
	// RootValidity is the root lifetime; zero means DefaultRootValidity.
	RootValidity time.Duration
	// OCSPURL, when set, is written into the authorityInfoAccess of every
	// end-entity certificate issued from now on.
	OCSPURL string
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *Options) newKey() (*rsa.PrivateKey, error) {
	if o.GenerateKey != nil {
		return o.GenerateKey()
	}
	return rsa.GenerateKey(rand.Reader, KeyBits)
}

// Root is one generation of one kind of root.
type Root struct {
	Kind       jpki.Kind
	Generation int
	Cert       *x509.Certificate
	key        *rsa.PrivateKey
}

// Record is what the CA remembers of an issued end-entity certificate.
type Record struct {
	Serial     *big.Int  `json:"serial"`
	Kind       jpki.Kind `json:"kind"`
	Form       jpki.Form `json:"form"`
	Generation int       `json:"generation"`
	// ID is the subject CN.
	ID string `json:"id"`
	// DistributionPoint is the DirName string form of its CRL DP.
	DistributionPoint string    `json:"distribution_point"`
	DistributionDER   []byte    `json:"distribution_point_der"`
	NotAfter          time.Time `json:"not_after"`
	// Parent is the serial of the card certificate a smartphone
	// certificate derives from (nil for card certificates).
	Parent *big.Int `json:"parent,omitempty"`
	// RevokedAt and Reason are set once revoked.
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	Reason    int        `json:"reason,omitempty"`
}

// Revoked reports whether the record has been revoked.
func (r *Record) Revoked() bool { return r.RevokedAt != nil }

// CA is a local JPKI certificate authority. It is safe for concurrent use.
type CA struct {
	mu         sync.Mutex
	dir        string
	opts       Options
	production bool
	roots      []*Root
	nextSerial int64
	crlNumber  int64
	records    []*Record
}

// New returns an in-memory CA with a first generation of signature and
// auth roots.
func New(opts Options) (*CA, error) {
	ca := &CA{opts: opts, production: opts.Production, nextSerial: firstSerial}
	if err := ca.addGeneration(); err != nil {
		return nil, err
	}
	return ca, nil
}

// Init makes a new CA in dir (created if needed) and saves it. It refuses a
// directory that already holds a CA.
func Init(dir string, opts Options) (*CA, error) {
	if _, err := os.Stat(filepath.Join(dir, stateFile)); err == nil {
		return nil, fmt.Errorf("testca: %s already holds a CA", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("testca: %w", err)
	}
	ca, err := New(opts)
	if err != nil {
		return nil, err
	}
	ca.dir = dir
	if err := ca.Save(); err != nil {
		return nil, err
	}
	return ca, nil
}

// Dir returns the CA directory ("" for an in-memory CA).
func (ca *CA) Dir() string { return ca.dir }

// Production reports whether the roots carry the production DN.
func (ca *CA) Production() bool { return ca.production }

// Rollover adds a new generation of both roots under the same DNs with new
// keys. Later certificates are issued by the new generation; earlier ones
// stay valid under theirs, and each generation signs the CRLs of its own
// certificates.
func (ca *CA) Rollover() error {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if err := ca.addGeneration(); err != nil {
		return err
	}
	return ca.saveLocked()
}

func (ca *CA) addGeneration() error {
	gen := 1
	for _, r := range ca.roots {
		gen = max(gen, r.Generation+1)
	}
	for _, kind := range []jpki.Kind{jpki.KindSignature, jpki.KindAuth} {
		key, err := ca.opts.newKey()
		if err != nil {
			return fmt.Errorf("testca: root key: %w", err)
		}
		cert, err := ca.makeRoot(kind, key)
		if err != nil {
			return err
		}
		ca.roots = append(ca.roots, &Root{Kind: kind, Generation: gen, Cert: cert, key: key})
	}
	return nil
}

func (ca *CA) org() string {
	if ca.production {
		return jpki.OrganizationProduction
	}
	return jpki.OrganizationTest
}

func kindOU(kind jpki.Kind) string {
	if kind == jpki.KindAuth {
		return jpki.OUAuth
	}
	return jpki.OUSignature
}

// rdn is one single-valued RDN. pkix.Name would merge repeated OUs into
// one multi-valued RDN, which is not the JPKI form.
func rdn(oid asn1.ObjectIdentifier, v string) pkix.RelativeDistinguishedNameSET {
	return pkix.RelativeDistinguishedNameSET{{Type: oid, Value: v}}
}

var (
	oidC  = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidO  = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidL  = asn1.ObjectIdentifier{2, 5, 4, 7}
	oidCN = asn1.ObjectIdentifier{2, 5, 4, 3}
)

func marshalName(rdns ...pkix.RelativeDistinguishedNameSET) []byte {
	der, err := asn1.Marshal(pkix.RDNSequence(rdns))
	if err != nil {
		panic("testca: marshal name: " + err.Error()) // only fixed string types
	}
	return der
}

// rootName is C=JP, O=JPKI[-TEST], OU=<kind>, OU=Japan Agency for Local
// Authority Information Systems, the DN of the J-LIS roots.
func (ca *CA) rootName(kind jpki.Kind) []byte {
	return marshalName(rdn(oidC, "JP"), rdn(oidO, ca.org()), rdn(oidOU, kindOU(kind)), rdn(oidOU, jpki.OUJLIS))
}

// distributionPoint is the DirName of the CRL of one municipality for one
// root kind and generation.
func (ca *CA) distributionPoint(kind jpki.Kind, gen int, municipality string) []byte {
	return marshalName(rdn(oidC, "JP"), rdn(oidO, ca.org()), rdn(oidOU, kindOU(kind)),
		rdn(oidOU, "CRL Distribution Points"), rdn(oidOU, municipality), rdn(oidCN, fmt.Sprintf("CRLDP-G%d", gen)))
}

func randomSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
}

func (ca *CA) makeRoot(kind jpki.Kind, key *rsa.PrivateKey) (*x509.Certificate, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := ca.opts.now()
	validity := ca.opts.RootValidity
	if validity == 0 {
		validity = DefaultRootValidity
	}
	name := ca.rootName(kind)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		RawSubject:            name,
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SignatureAlgorithm:    x509.SHA256WithRSA,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("testca: create root: %w", err)
	}
	return x509.ParseCertificate(der)
}

// currentRoot returns the newest generation of kind.
func (ca *CA) currentRoot(kind jpki.Kind) *Root {
	var cur *Root
	for _, r := range ca.roots {
		if r.Kind == kind && (cur == nil || r.Generation > cur.Generation) {
			cur = r
		}
	}
	return cur
}

// Root returns the current generation's root certificate of kind.
func (ca *CA) Root(kind jpki.Kind) *x509.Certificate {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return ca.currentRoot(kind).Cert
}

// Roots returns every root certificate, all generations, both kinds.
func (ca *CA) Roots() []*x509.Certificate {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	out := make([]*x509.Certificate, 0, len(ca.roots))
	for _, r := range ca.roots {
		out = append(out, r.Cert)
	}
	return out
}

// TrustRoots returns the roots as a jpki.Roots for a Verifier.
func (ca *CA) TrustRoots() *jpki.Roots {
	r, err := jpki.NewRoots(ca.Roots()...)
	if err != nil {
		panic("testca: own roots rejected: " + err.Error()) // they are made to pass
	}
	return r
}

// RootsPEM returns every root certificate in PEM.
func (ca *CA) RootsPEM() []byte {
	var b bytes.Buffer
	for _, c := range ca.Roots() {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// Records returns copies of the issuance records in issue order.
func (ca *CA) Records() []Record {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	out := make([]Record, len(ca.records))
	for i, r := range ca.records {
		out[i] = *r
	}
	return out
}

func (ca *CA) record(serial *big.Int) *Record {
	for _, r := range ca.records {
		if r.Serial.Cmp(serial) == 0 {
			return r
		}
	}
	return nil
}

// Person is a test resident: the four basic facts and the municipality
// whose CRL lists the certificates.
type Person struct {
	// Name is 氏名, family and given name separated by U+3000.
	Name string
	// NameSubstitutes marks character indices of Name that are substitute
	// characters; they are encoded in the name mask.
	NameSubstitutes []int
	// BirthDate carries the era code: jpki.NewBirthDate derives it from the
	// date; set Era to override it or to jpki.EraUnknown.
	BirthDate jpki.BirthDate
	Sex       jpki.Sex
	Address   string
	// AddressSubstitutes is as NameSubstitutes, for Address.
	AddressSubstitutes []int
	// Municipality names the CRL distribution point; "" means
	// DefaultMunicipality.
	Municipality string
}

// Facts returns the basic facts that will be written into the signature
// certificate; masks are always written, all zeros when nothing is
// substituted.
func (p *Person) Facts() (*jpki.Facts, error) {
	if p.Name == "" || p.Address == "" {
		return nil, errors.New("testca: person needs a name and an address")
	}
	if p.Sex < jpki.SexMale || p.Sex > jpki.SexUnknown {
		return nil, fmt.Errorf("testca: sex code %d is not 1, 2 or 3", int(p.Sex))
	}
	if err := p.BirthDate.Validate(); err != nil {
		return nil, fmt.Errorf("testca: birth date: %w", err)
	}
	if len(p.Name) > jpki.MaxOtherNameValueLen || len(p.Address) > jpki.MaxOtherNameValueLen {
		return nil, errors.New("testca: name or address too long")
	}
	fam, given, _ := strings.Cut(p.Name, jpki.NameSeparator)
	return &jpki.Facts{
		FullName: p.Name, FamilyName: fam, GivenName: given,
		NameMask: jpki.MaskFor(p.Name, p.NameSubstitutes...), NameSubstitutes: p.NameSubstitutes,
		Sex: p.Sex, BirthDate: p.BirthDate, Address: p.Address,
		AddressMask: jpki.MaskFor(p.Address, p.AddressSubstitutes...), AddressSubstitutes: p.AddressSubstitutes,
	}, nil
}

// IssueOptions tune one issuance.
type IssueOptions struct {
	// NotBefore is the start of validity; zero means the CA's now.
	NotBefore time.Time
	// Validity is the lifetime; zero means DefaultCardValidity. Smartphone
	// certificates are capped at the card certificate's notAfter.
	Validity time.Duration
	// Mutate, when set, edits each certificate template before signing.
	// Tests use it to make certificates that break the profile.
	Mutate func(*x509.Certificate)
}

// Credentials are the two certificates, their keys and their roots, as put
// on a card or phone.
type Credentials struct {
	SignCert   *x509.Certificate
	SignKey    *rsa.PrivateKey
	SignCACert *x509.Certificate
	AuthCert   *x509.Certificate
	AuthKey    *rsa.PrivateKey
	AuthCACert *x509.Certificate
}

// IssueCard issues a signature and an auth certificate for p, each with a
// new key pair, as J-LIS does for a My Number Card.
func (ca *CA) IssueCard(p Person, o IssueOptions) (*Credentials, error) {
	facts, err := p.Facts()
	if err != nil {
		return nil, err
	}
	signKey, err := ca.opts.newKey()
	if err != nil {
		return nil, fmt.Errorf("testca: signature key: %w", err)
	}
	authKey, err := ca.opts.newKey()
	if err != nil {
		return nil, fmt.Errorf("testca: auth key: %w", err)
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	now := ca.opts.now()
	notBefore := o.NotBefore
	if notBefore.IsZero() {
		notBefore = now
	}
	validity := o.Validity
	if validity == 0 {
		validity = DefaultCardValidity
	}
	muni := p.Municipality
	if muni == "" {
		muni = DefaultMunicipality
	}
	spec := issueSpec{form: jpki.FormCard, notBefore: notBefore, notAfter: notBefore.Add(validity), municipality: muni, mutate: o.Mutate}
	spec.kind, spec.facts, spec.pub = jpki.KindSignature, facts, &signKey.PublicKey
	signCert, signRoot, err := ca.issueLocked(spec)
	if err != nil {
		return nil, err
	}
	spec.kind, spec.facts, spec.pub = jpki.KindAuth, nil, &authKey.PublicKey
	authCert, authRoot, err := ca.issueLocked(spec)
	if err != nil {
		return nil, err
	}
	if err := ca.saveLocked(); err != nil {
		return nil, err
	}
	return &Credentials{SignCert: signCert, SignKey: signKey, SignCACert: signRoot.Cert, AuthCert: authCert, AuthKey: authKey, AuthCACert: authRoot.Cert}, nil
}

// IssueSmartphoneCertificate issues a smartphone certificate of kind for
// pub, a key generated inside the phone's secure element, derived from the
// card certificate card: a new certificate (new serial, new subject id),
// never a copy. A signature certificate copies the four basic facts of card,
// which must then be a card signature certificate. notAfter is capped at
// card's notAfter, and revoking card revokes the phone certificate too.
func (ca *CA) IssueSmartphoneCertificate(card *x509.Certificate, kind jpki.Kind, pub *rsa.PublicKey, o IssueOptions) (*x509.Certificate, error) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	cert, err := ca.issuePhoneLocked(card, kind, pub, o)
	if err != nil {
		return nil, err
	}
	if err := ca.saveLocked(); err != nil {
		return nil, err
	}
	return cert, nil
}

// IssueSmartphone makes both phone certificates from the card's signature
// certificate, generating the two key pairs as the phone's secure element
// would, and returns them ready for a phone applet.
func (ca *CA) IssueSmartphone(cardSign *x509.Certificate, o IssueOptions) (*Credentials, error) {
	signKey, err := ca.opts.newKey()
	if err != nil {
		return nil, fmt.Errorf("testca: signature key: %w", err)
	}
	authKey, err := ca.opts.newKey()
	if err != nil {
		return nil, fmt.Errorf("testca: auth key: %w", err)
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	signCert, err := ca.issuePhoneLocked(cardSign, jpki.KindSignature, &signKey.PublicKey, o)
	if err != nil {
		return nil, err
	}
	authCert, err := ca.issuePhoneLocked(cardSign, jpki.KindAuth, &authKey.PublicKey, o)
	if err != nil {
		return nil, err
	}
	if err := ca.saveLocked(); err != nil {
		return nil, err
	}
	return &Credentials{
		SignCert: signCert, SignKey: signKey, SignCACert: ca.rootOfLocked(signCert).Cert,
		AuthCert: authCert, AuthKey: authKey, AuthCACert: ca.rootOfLocked(authCert).Cert,
	}, nil
}

func (ca *CA) rootOfLocked(c *x509.Certificate) *Root {
	for _, r := range ca.roots {
		if bytes.Equal(r.Cert.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(r.Cert) == nil {
			return r
		}
	}
	return nil
}

func (ca *CA) issuePhoneLocked(card *x509.Certificate, kind jpki.Kind, pub *rsa.PublicKey, o IssueOptions) (*x509.Certificate, error) {
	parsed, err := jpki.NewCertificate(card)
	if err != nil {
		return nil, fmt.Errorf("testca: card certificate: %w", err)
	}
	if parsed.Form != jpki.FormCard {
		return nil, fmt.Errorf("testca: smartphone certificates derive from a card certificate, not a %s one", parsed.Form)
	}
	if kind == jpki.KindSignature && parsed.Kind != jpki.KindSignature {
		return nil, errors.New("testca: a smartphone signature certificate derives from the card's signature certificate")
	}
	if ca.rootOfLocked(card) == nil {
		return nil, errors.New("testca: card certificate was not issued by this CA")
	}
	rec := ca.record(card.SerialNumber)
	if rec == nil {
		return nil, fmt.Errorf("testca: no record of card certificate serial %s", card.SerialNumber)
	}
	if rec.Revoked() {
		return nil, fmt.Errorf("testca: card certificate serial %s is revoked", card.SerialNumber)
	}
	now := ca.opts.now()
	notBefore := o.NotBefore
	if notBefore.IsZero() {
		notBefore = now
	}
	if !notBefore.Before(card.NotAfter) || now.After(card.NotAfter) {
		return nil, fmt.Errorf("testca: card certificate serial %s has expired", card.SerialNumber)
	}
	validity := o.Validity
	if validity == 0 {
		validity = DefaultCardValidity
	}
	notAfter := notBefore.Add(validity)
	if notAfter.After(card.NotAfter) {
		notAfter = card.NotAfter // the phone credential never outlives the card (smartphone JPKI service rule)
	}
	muni := municipalityOf(rec.DistributionPoint)
	spec := issueSpec{kind: kind, form: jpki.FormSmartphone, pub: pub, notBefore: notBefore, notAfter: notAfter,
		municipality: muni, parent: card.SerialNumber, mutate: o.Mutate}
	if kind == jpki.KindSignature {
		spec.facts = parsed.Facts
	}
	cert, _, err := ca.issueLocked(spec)
	return cert, err
}

// municipalityOf recovers the municipality OU from a distribution point
// string made by distributionPoint.
func municipalityOf(dp string) string {
	for _, part := range strings.Split(dp, ",") {
		if v, ok := strings.CutPrefix(part, "OU="); ok && v != jpki.OUSignature && v != jpki.OUAuth && v != "CRL Distribution Points" {
			return v
		}
	}
	return DefaultMunicipality
}

type issueSpec struct {
	kind                jpki.Kind
	form                jpki.Form
	pub                 *rsa.PublicKey
	facts               *jpki.Facts
	notBefore, notAfter time.Time
	municipality        string
	parent              *big.Int
	mutate              func(*x509.Certificate)
}

// policyInformation is one PolicyInformation without qualifiers.
type policyInformation struct {
	Policy asn1.ObjectIdentifier
}

func policyFor(kind jpki.Kind, form jpki.Form) asn1.ObjectIdentifier {
	switch {
	case kind == jpki.KindSignature && form == jpki.FormCard:
		return jpki.OIDPolicySignatureCard
	case kind == jpki.KindSignature:
		return jpki.OIDPolicySignatureSmartphone
	case form == jpki.FormCard:
		return jpki.OIDPolicyAuthCard
	}
	return jpki.OIDPolicyAuthSmartphone
}

func (ca *CA) issueLocked(s issueSpec) (*x509.Certificate, *Root, error) {
	root := ca.currentRoot(s.kind)
	serial := big.NewInt(ca.nextSerial)
	idBytes := make([]byte, 10)
	if _, err := rand.Read(idBytes); err != nil {
		return nil, nil, err
	}
	id := strings.ToUpper(hex.EncodeToString(idBytes))
	dpDER := ca.distributionPoint(s.kind, root.Generation, s.municipality)
	dpExt, err := jpki.MarshalDistributionPoints(dpDER)
	if err != nil {
		return nil, nil, err
	}
	policies, err := asn1.Marshal([]policyInformation{{Policy: policyFor(s.kind, s.form)}})
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:       serial,
		NotBefore:          s.notBefore,
		NotAfter:           s.notAfter,
		SignatureAlgorithm: x509.SHA256WithRSA,
		ExtraExtensions: []pkix.Extension{
			{Id: asn1.ObjectIdentifier{2, 5, 29, 31}, Value: dpExt},
			// The auth profile wants certificatePolicies critical, which
			// crypto/x509 never writes, so both kinds carry it by hand.
			{Id: asn1.ObjectIdentifier{2, 5, 29, 32}, Critical: s.kind == jpki.KindAuth, Value: policies},
		},
	}
	if ca.opts.OCSPURL != "" {
		tmpl.OCSPServer = []string{ca.opts.OCSPURL}
	}
	switch s.kind {
	case jpki.KindSignature:
		tmpl.RawSubject = marshalName(rdn(oidC, "JP"), rdn(oidL, s.municipality), rdn(oidCN, id))
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
		san, err := jpki.MarshalOtherNames(s.facts.OtherNames())
		if err != nil {
			return nil, nil, err
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Value: san})
	case jpki.KindAuth:
		tmpl.RawSubject = marshalName(rdn(oidC, "JP"), rdn(oidCN, id))
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	if s.mutate != nil {
		s.mutate(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root.Cert, s.pub, root.key)
	if err != nil {
		return nil, nil, fmt.Errorf("testca: create %s certificate: %w", s.kind, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	dp, err := jpki.DirNameString(dpDER)
	if err != nil {
		return nil, nil, err
	}
	ca.nextSerial++
	ca.records = append(ca.records, &Record{
		Serial: serial, Kind: s.kind, Form: s.form, Generation: root.Generation, ID: cert.Subject.CommonName,
		DistributionPoint: dp, DistributionDER: dpDER, NotAfter: cert.NotAfter, Parent: s.parent,
	})
	return cert, root, nil
}

// Revoke revokes the certificate with serial at time at (zero: now) for
// an RFC 5280 reason code, and with it every smartphone certificate derived
// from it (linked revocation, as the smartphone JPKI service does). It
// returns every serial newly revoked; revoking a revoked certificate is an
// error.
func (ca *CA) Revoke(serial *big.Int, reason int, at time.Time) ([]*big.Int, error) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	rec := ca.record(serial)
	if rec == nil {
		return nil, fmt.Errorf("testca: no certificate with serial %s", serial)
	}
	if rec.Revoked() {
		return nil, fmt.Errorf("testca: certificate serial %s is already revoked", serial)
	}
	if reason == jpki.ReasonRemoveFromCRL || reason < 0 || reason > jpki.ReasonAACompromise || reason == 7 {
		return nil, fmt.Errorf("testca: reason %d cannot be used to revoke", reason)
	}
	if at.IsZero() {
		at = ca.opts.now()
	}
	at = at.UTC().Truncate(time.Second)
	var out []*big.Int
	var revoke func(r *Record)
	revoke = func(r *Record) {
		if r.Revoked() {
			return
		}
		t := at
		r.RevokedAt, r.Reason = &t, reason
		out = append(out, r.Serial)
		for _, child := range ca.records {
			if child.Parent != nil && child.Parent.Cmp(r.Serial) == 0 {
				revoke(child)
			}
		}
	}
	revoke(rec)
	if err := ca.saveLocked(); err != nil {
		return nil, err
	}
	return out, nil
}

// CRL is one published CRL.
type CRL struct {
	// DistributionPoint is the DirName string form it covers.
	DistributionPoint string
	Kind              jpki.Kind
	Generation        int
	// FileName is jpki.CRLFileName(DistributionPoint).
	FileName string
	DER      []byte
	Entries  int
}

// CRLs makes one CRL per distribution point in use (and one for the
// default municipality of each root generation), each signed by the root
// generation that issued its certificates and carrying an
// issuingDistributionPoint, valid from thisUpdate (zero: now) for validity
// (zero: DefaultCRLValidity).
func (ca *CA) CRLs(thisUpdate time.Time, validity time.Duration) ([]CRL, error) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if thisUpdate.IsZero() {
		thisUpdate = ca.opts.now()
	}
	if validity == 0 {
		validity = DefaultCRLValidity
	}
	type dpKey struct {
		kind jpki.Kind
		gen  int
		dp   string
	}
	dps := map[dpKey][]byte{}
	var order []dpKey
	add := func(k dpKey, der []byte) {
		if _, ok := dps[k]; !ok {
			dps[k] = der
			order = append(order, k)
		}
	}
	for _, r := range ca.roots {
		der := ca.distributionPoint(r.Kind, r.Generation, DefaultMunicipality)
		s, _ := jpki.DirNameString(der)
		add(dpKey{r.Kind, r.Generation, s}, der)
	}
	for _, rec := range ca.records {
		add(dpKey{rec.Kind, rec.Generation, rec.DistributionPoint}, rec.DistributionDER)
	}
	ca.crlNumber++
	var out []CRL
	for _, k := range order {
		var root *Root
		for _, r := range ca.roots {
			if r.Kind == k.kind && r.Generation == k.gen {
				root = r
			}
		}
		var entries []x509.RevocationListEntry
		for _, rec := range ca.records {
			if rec.Revoked() && rec.Kind == k.kind && rec.Generation == k.gen && rec.DistributionPoint == k.dp {
				entries = append(entries, x509.RevocationListEntry{SerialNumber: rec.Serial, RevocationTime: *rec.RevokedAt, ReasonCode: rec.Reason})
			}
		}
		idp, err := jpki.MarshalIssuingDistributionPoint(dps[k])
		if err != nil {
			return nil, err
		}
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
			Number:                    big.NewInt(ca.crlNumber),
			ThisUpdate:                thisUpdate,
			NextUpdate:                thisUpdate.Add(validity),
			RevokedCertificateEntries: entries,
			ExtraExtensions:           []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 28}, Critical: true, Value: idp}},
		}, root.Cert, root.key)
		if err != nil {
			return nil, fmt.Errorf("testca: create CRL for %s: %w", k.dp, err)
		}
		out = append(out, CRL{DistributionPoint: k.dp, Kind: k.kind, Generation: k.gen, FileName: jpki.CRLFileName(k.dp), DER: der, Entries: len(entries)})
	}
	if err := ca.saveLocked(); err != nil {
		return nil, err
	}
	return out, nil
}

// PublishCRLs writes CRLs(thisUpdate, validity) into dir ("": the CA's
// crl/ directory) as jpki.CRLDir expects, plus index.json mapping each
// distribution point to its file for people.
func (ca *CA) PublishCRLs(dir string, thisUpdate time.Time, validity time.Duration) ([]CRL, error) {
	if dir == "" {
		if ca.dir == "" {
			return nil, errors.New("testca: in-memory CA: give a CRL directory")
		}
		dir = filepath.Join(ca.dir, "crl")
	}
	crls, err := ca.CRLs(thisUpdate, validity)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("testca: %w", err)
	}
	index := map[string]string{}
	for _, c := range crls {
		if err := fsx.WriteFile(filepath.Join(dir, c.FileName), c.DER, 0o644); err != nil {
			return nil, fmt.Errorf("testca: publish CRL: %w", err)
		}
		index[c.DistributionPoint] = c.FileName
	}
	b, _ := json.MarshalIndent(index, "", "  ")
	if err := fsx.WriteFile(filepath.Join(dir, "index.json"), append(b, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("testca: publish CRL index: %w", err)
	}
	return crls, nil
}

// CRLDir returns the CA's default CRL directory ("" for in-memory).
func (ca *CA) CRLDir() string {
	if ca.dir == "" {
		return ""
	}
	return filepath.Join(ca.dir, "crl")
}
