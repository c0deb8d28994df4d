package walletsim

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/fsx"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/blesim"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
	"github.com/mynumber-mdoc/mnc/wallet-sim/se"
)

// Layout of a wallet home directory.
const (
	ElementDir  = "se"            // the secure element
	DataFile    = "wallet.sealed" // profile and credentials (sealed)
	HistoryLog  = "history.log"   // history, one sealed line per entry (historylog.go)
	dataPurpose = "wallet-data"
	dataVersion = 1
	// StagedSuffix names the copy of DataFile or HistoryLog a remote delete
	// writes under the element's next device key before it rotates the key,
	// and renames into place after (finishRemoteDelete).
	StagedSuffix = ".next"
	// MaxHistory bounds the history kept; the oldest entries are dropped.
	MaxHistory = 1000
	// MaxCredentials bounds the credentials one wallet holds.
	MaxCredentials = 32
	// MaxTrustedRoots bounds the reader and IACA roots a wallet keeps.
	MaxTrustedRoots = 64
)

// Credential states as the wallet knows them.
const (
	StateValid     = "valid"
	StateSuspended = "suspended"
	StateRevoked   = "revoked"
	StateUnknown   = "unknown"
)

// Credential is an mdoc held by the wallet.
type Credential struct {
	ID      string   `json:"id"`
	DocType string   `json:"doc_type"`
	KeyID   se.KeyID `json:"key_id"`
	// IssuerSigned is the CBOR as issued; presented items are copied from
	// it verbatim.
	IssuerSigned []byte `json:"issuer_signed"`
	// ConfigurationID is the OpenID4VCI credential configuration id.
	ConfigurationID string    `json:"configuration_id,omitempty"`
	IssuerURL       string    `json:"issuer_url,omitempty"`
	AddedAt         time.Time `json:"added_at"`
	ValidFrom       time.Time `json:"valid_from"`
	ValidUntil      time.Time `json:"valid_until"`
	ExpectedUpdate  time.Time `json:"expected_update,omitzero"`
	// StatusList is the MSO's status reference, nil when the issuer gave
	// none.
	StatusList *mdoc.StatusListRef `json:"status_list,omitempty"`
	// State is valid, suspended, revoked or unknown (status not checked or
	// unavailable); StatusCheckedAt says when it was last learnt.
	State           string    `json:"state"`
	StatusCheckedAt time.Time `json:"status_checked_at,omitzero"`
	// Presentations counts how often this credential was shown; a wallet
	// with a batch shows each one once (see credentialFor).
	Presentations int       `json:"presentations,omitempty"`
	LastUsedAt    time.Time `json:"last_used_at,omitzero"`
}

// JPKIInfo describes the JPKI smartphone certificates held in the element.
type JPKIInfo struct {
	SignCert  []byte    `json:"sign_cert"`
	AuthCert  []byte    `json:"auth_cert"`
	NotAfter  time.Time `json:"not_after"`
	Installed time.Time `json:"installed"`
}

// data is the sealed content of DataFile.
type data struct {
	Version   int       `json:"version"`
	Profile   Profile   `json:"profile"`
	CreatedAt time.Time `json:"created_at"`
	IssuerURL string    `json:"issuer_url,omitempty"`
	DeviceID  string    `json:"device_id,omitempty"`
	// UseReports is the holder's per-document choice to report uses to the
	// issuer (doctype → on); nothing is reported for other documents.
	// PendingUses are reports waiting for the next Sync.
	UseReports  map[string]bool     `json:"use_reports,omitempty"`
	PendingUses []oid4vci.UseReport `json:"pending_uses,omitempty"`
	// AppAttestKeyID is the App Attest key (apple profiles) whose
	// assertions authenticate device requests, and AppAttestCounter the
	// last counter used (the Secure Enclave keeps it; here the wallet).
	AppAttestKeyID   se.KeyID `json:"app_attest_key_id,omitempty"`
	AppAttestCounter uint32   `json:"app_attest_counter,omitempty"`
	// DeviceKeyID is the enrolled device key, which signs lifecycle
	// requests; with batches the credentials are bound to other keys.
	DeviceKeyID se.KeyID      `json:"device_key_id,omitempty"`
	Credentials []*Credential `json:"credentials"`
	JPKI        *JPKIInfo     `json:"jpki,omitempty"`
	ReaderRoots [][]byte      `json:"reader_roots,omitempty"`
	IACARoots   [][]byte      `json:"iaca_roots,omitempty"`
	// History is only in data files written before the history log
	// existed (same version: an older wallet opens as it was); load moves
	// it to Wallet.hl.legacy and the next write moves it into the log.
	History []HistoryEntry `json:"history,omitempty"`
	// HistoryHead anchors the history log: its head (last line's sequence
	// number and hash) when this file was saved, so that a log cut back
	// or put back from an older copy is found (historylog.go). Absent in
	// data files written before it existed: no check until the next save.
	HistoryHead *historyHead `json:"history_head,omitempty"`
	// RemoteDeletedAt is set when the wallet processed a remote delete
	// (device change, revocation elsewhere): keys and mdocs are gone.
	RemoteDeletedAt time.Time `json:"remote_deleted_at,omitzero"`
	RemoteDeleteWhy string    `json:"remote_delete_reason,omitempty"`
	// WipePending is the durable intent of a remote delete: saved with the
	// erased credentials, before anything else is written, and absent from
	// the data the finished wipe writes. Found at open, the wipe is
	// finished (finishRemoteDelete). Absent in older data files: nothing
	// pending.
	WipePending *wipeIntent `json:"wipe_pending,omitempty"`
	// Seq counts saves, so a stale copy is recognisable.
	Seq uint64 `json:"seq"`
}

// wipeIntent is a remote delete whose credentials are erased and whose
// crypto-erase of the secure element may not be finished.
type wipeIntent struct {
	// Entry is the history entry recording the deletion. It is written
	// only with the history resealed under the new device key, so a wipe
	// redone after a crash records it once.
	Entry HistoryEntry `json:"entry"`
}

// Options configure an opened wallet. Zero values: Now nil means time.Now;
// HTTPClient nil means a client with a 30 s timeout; Logger nil discards;
// Radio zero means blesim.DefaultRadio(); UVAttempts zero means 1.
type Options struct {
	Now        func() time.Time
	HTTPClient *http.Client
	Logger     *slog.Logger
	Radio      blesim.Radio
	// Authenticator verifies the holder before a device key is used.
	Authenticator Authenticator
	// UVAttempts is how many times the Authenticator is asked when a PIN
	// or match is wrong (an interactive prompt retries; flags do not).
	UVAttempts int
	// GenerateRSA is the secure element's test hook for JPKI keys.
	GenerateRSA func() (*rsa.PrivateKey, error)
	// ElementGrantTTL passes se.OpenOptions.GrantTTL.
	ElementGrantTTL time.Duration
	// BatchSize is how many credentials of each document to ask for, each
	// bound to its own key, so every presentation can show a fresh MSO
	// (ISO/IEC 18013-5:2021 Annex E privacy guidance; OpenID4VCI 1.0 batch
	// issuance). 0 is DefaultBatchSize; the issuer's batch_size caps it, and
	// 1 turns batches off.
	BatchSize int
	// IssuerRetries is how many times a request the issuer answered with
	// 429 or 503 and a Retry-After of at most oid4vci.DefaultMaxRetryWait
	// is sent again after that wait, as a phone wallet would
	// (oid4vci.Client.Retries). 0 is DefaultIssuerRetries; negative sends
	// every request once, for callers that count refusals (a load test).
	IssuerRetries int
}

// DefaultIssuerRetries is the wallet's default IssuerRetries.
const DefaultIssuerRetries = 2

// DefaultBatchSize is the wallet's default batch per document, and
// RefreshWhenUnused the count of unused credentials at or below which
// NeedsRefresh asks for a new batch.
const (
	DefaultBatchSize  = 5
	RefreshWhenUnused = 1
)

// Wallet is an opened wallet. Its methods are safe for concurrent use
// within one process; use one process per home at a time.
type Wallet struct {
	mu   sync.Mutex
	home string
	opts Options
	el   *se.Element
	d    data
	log  *slog.Logger
	// pendingAppAttest is the App Attest key made for an enrolment in
	// progress.
	pendingAppAttest se.KeyID
	// hl is the history log (historylog.go).
	hl historyLog
	// readerTS is the reader trust store built from d.ReaderRoots; nil
	// until first needed and after the roots change (see readerTrust).
	readerTS *mdoc.TrustStore
	// iacaTS is the issuer trust store built from d.IACARoots, kept the
	// same way (see iacaTrust).
	iacaTS *mdoc.TrustStore
	// parsed holds decoded credentials by id (see issuerSigned), guarded
	// by parsedMu.
	parsedMu sync.Mutex
	parsed   map[string]parsedCredential
	// crashAt is a test seam, nil outside tests. Consulted between the
	// writes of a remote delete, an error stops the operation there as a
	// crash would (every write is an atomic file replacement or rename, so
	// the files left equal a real crash's); consulted before a history
	// rewrite, it stands for a failed write.
	crashAt func(step string) error
}

// step consults the crashAt seam.
func (w *Wallet) step(name string) error {
	if w.crashAt != nil {
		return w.crashAt(name)
	}
	return nil
}

// Init creates a wallet in home for profile p. pin is the device PIN for
// android profiles ("" for apple, which is biometric only).
func Init(home string, p Profile, pin string, o Options) (*Wallet, error) {
	const op = "init"
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(home, DataFile)); err == nil {
		return nil, newErr(op, CodeExists, "%s already holds a wallet", home)
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, fmt.Errorf("walletsim: init: %w", err)
	}
	el, err := se.Create(filepath.Join(home, ElementDir), se.Options{Policy: p.Policy(), PIN: pin, OpenOptions: o.elementOptions()})
	if err != nil {
		return nil, &Error{Op: op, Code: CodeUnsupportedProfile, Detail: "secure element", Err: err}
	}
	w := newWallet(home, o, el)
	// A log left by a wallet whose data file was removed is sealed under
	// another element's key: it is not this wallet's history.
	if err := os.Remove(w.hl.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("walletsim: init: %w", err)
	}
	w.d = data{Version: dataVersion, Profile: p, CreatedAt: w.now().UTC(), Credentials: []*Credential{}}
	if err := w.save(); err != nil {
		return nil, err
	}
	return w, nil
}

func (o Options) elementOptions() se.OpenOptions {
	return se.OpenOptions{Now: o.Now, GrantTTL: o.ElementGrantTTL, GenerateRSA: o.GenerateRSA}
}

func newWallet(home string, o Options, el *se.Element) *Wallet {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Wallet{home: home, opts: o, el: el, log: log, hl: historyLog{path: filepath.Join(home, HistoryLog)}}
}

// Open opens the wallet in home.
func Open(home string, o Options) (*Wallet, error) {
	const op = "open"
	if !se.Exists(filepath.Join(home, ElementDir)) {
		return nil, newErr(op, CodeNotInitialised, "no wallet in %s (run init first)", home)
	}
	el, err := se.Open(filepath.Join(home, ElementDir), o.elementOptions())
	if err != nil {
		return nil, fmt.Errorf("walletsim: open secure element: %w", err)
	}
	w := newWallet(home, o, el)
	if err := w.load(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *Wallet) load() error {
	if err := w.settleStaged(); err != nil {
		return fmt.Errorf("walletsim: open: %w", err)
	}
	b, err := fsx.ReadFile(filepath.Join(w.home, DataFile), se.MaxSealedSize)
	if errors.Is(err, os.ErrNotExist) {
		return newErr("open", CodeNotInitialised, "no wallet data in %s", w.home)
	}
	if err != nil {
		return fmt.Errorf("walletsim: read wallet data: %w", err)
	}
	pt, err := w.el.OpenData(dataPurpose, b)
	if err != nil {
		return fmt.Errorf("walletsim: unseal wallet data: %w", err)
	}
	var d data
	if err := json.Unmarshal(pt, &d); err != nil {
		return fmt.Errorf("walletsim: decode wallet data: %w", err)
	}
	if d.Version != dataVersion {
		return fmt.Errorf("walletsim: wallet data version %d, want %d", d.Version, dataVersion)
	}
	if d.Credentials == nil {
		d.Credentials = []*Credential{}
	}
	w.d = d
	w.hl.anchor = d.HistoryHead
	w.openHistory()
	if len(w.d.History) > 0 {
		if w.hl.lines > 0 || w.hl.corrupt != nil {
			// The log is written whole before the data file drops its
			// history (migrateHistory): a crash in between leaves both.
			w.log.Warn("wallet data still holds history already moved to the log; ignored", "entries", len(w.d.History))
		} else {
			w.hl.legacy = w.d.History[max(0, len(w.d.History)-MaxHistory):]
		}
	}
	w.d.History = nil
	if w.d.WipePending != nil {
		// A remote delete stopped before the element committed its wipe
		// (after the commit, settleStaged put the resealed data in place,
		// which carries no intent), or putting that data in place failed
		// and a later save kept the intent. The credentials are already
		// gone; the keys may not be: finish it before anything else uses
		// the wallet.
		if err := w.finishRemoteDelete(context.Background()); err != nil {
			return fmt.Errorf("walletsim: open: finish the interrupted remote delete: %w", err)
		}
		w.log.Warn("an interrupted remote delete was completed", "deleted_at", w.d.RemoteDeletedAt, "reason", w.d.RemoteDeleteWhy)
	}
	return nil
}

// settleStaged resolves the staged files (StagedSuffix) a remote delete
// leaves when it is interrupted between writing them and renaming them into
// place. It runs after se.Open, which has already settled the element: its
// device key is the old one if the wipe was not committed (the staged key
// is discarded), the new one if it was. Staged files are sealed under the
// staged key, so:
//
//   - a staged file the current key does not open was written for a wipe
//     that was never committed: removed; the intent in the data file
//     redoes the wipe.
//   - one it opens belongs to the committed wipe. If the file in place does
//     not open under the current key, it is from before the wipe (sealed
//     under the destroyed key): the staged file replaces it. If it does,
//     it was written after the commit (the rename failed and the wallet
//     went on), so it is the newer one and the staged file is dropped.
func (w *Wallet) settleStaged() error {
	dataOpens := func(path string) (bool, error) {
		b, err := fsx.ReadFile(path, se.MaxSealedSize)
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		_, err = w.el.OpenData(dataPurpose, b)
		return err == nil, nil
	}
	for _, f := range []struct {
		path  string
		opens func(string) (bool, error)
	}{
		{filepath.Join(w.home, DataFile), dataOpens},
		{w.hl.path, w.firstLineOpens},
	} {
		staged := f.path + StagedSuffix
		if _, err := os.Lstat(staged); errors.Is(err, os.ErrNotExist) {
			continue
		}
		ok, err := f.opens(staged)
		if err != nil {
			return fmt.Errorf("staged %s: %w", filepath.Base(staged), err)
		}
		if ok {
			if ok, err = f.opens(f.path); err != nil {
				return fmt.Errorf("%s: %w", filepath.Base(f.path), err)
			}
			if !ok {
				if err := fsx.Rename(staged, f.path); err != nil {
					return fmt.Errorf("put the wiped %s in place: %w", filepath.Base(f.path), err)
				}
				w.log.Warn("remote delete interrupted after the wipe: its resealed file put in place", "file", filepath.Base(f.path))
				continue
			}
		}
		if err := os.Remove(staged); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", filepath.Base(staged), err)
		}
		fsx.SyncDir(w.home)
	}
	return nil
}

// save seals and writes the data atomically. Callers hold w.mu (or own w
// exclusively).
func (w *Wallet) save() error {
	if err := w.migrateHistory(); err != nil {
		return err
	}
	w.d.Seq++
	head := w.hl.head()
	w.d.HistoryHead = head
	b, err := json.Marshal(&w.d)
	if err != nil {
		return fmt.Errorf("walletsim: encode wallet data: %w", err)
	}
	sealed, err := w.el.SealData(dataPurpose, b)
	if err != nil {
		return fmt.Errorf("walletsim: seal wallet data: %w", err)
	}
	if err := fsx.WriteFile(filepath.Join(w.home, DataFile), sealed, 0o600); err != nil {
		return fmt.Errorf("walletsim: save wallet data: %w", err)
	}
	w.hl.anchor = head
	return nil
}

func (w *Wallet) now() time.Time {
	if w.opts.Now != nil {
		return w.opts.Now()
	}
	return time.Now()
}

// Home returns the wallet's directory.
func (w *Wallet) Home() string { return w.home }

// Profile returns the simulated device.
func (w *Wallet) Profile() Profile {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.d.Profile
}

// Status is an overview of the wallet for `show`.
type Status struct {
	Profile         Profile
	DeviceID        string
	IssuerURL       string
	Credentials     int
	JPKI            *JPKIInfo
	Element         se.Status
	ReaderRoots     int
	IACARoots       int
	RemoteDeletedAt time.Time
	RemoteDeleteWhy string
}

// Status returns the overview.
func (w *Wallet) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return Status{
		Profile: w.d.Profile, DeviceID: w.d.DeviceID, IssuerURL: w.d.IssuerURL,
		Credentials: len(w.d.Credentials), JPKI: w.d.JPKI, Element: w.el.Status(),
		ReaderRoots: len(w.d.ReaderRoots), IACARoots: len(w.d.IACARoots),
		RemoteDeletedAt: w.d.RemoteDeletedAt, RemoteDeleteWhy: w.d.RemoteDeleteWhy,
	}
}

// Credentials returns copies of the held credentials, in the order added.
func (w *Wallet) Credentials() []Credential {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Credential, len(w.d.Credentials))
	for i, c := range w.d.Credentials {
		out[i] = *c
	}
	return out
}

// Credential returns the credential with id (or the only credential of
// docType when id is a docType).
func (w *Wallet) Credential(id string) (*Credential, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.d.Credentials {
		if c.ID == id || c.DocType == id {
			cc := *c
			return &cc, nil
		}
	}
	return nil, newErr("credential", CodeCredentialNotFound, "no credential %q in this wallet", id)
}

// TrustReaderRoots adds reader CA certificates whose readers may request
// data (ReaderAuth and signed online requests are verified against them).
func (w *Wallet) TrustReaderRoots(certs ...*x509.Certificate) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	roots := addRoots(w.d.ReaderRoots, certs)
	if len(roots) > MaxTrustedRoots {
		return newErr("trust", CodeRequestInvalid, "at most %d reader roots", MaxTrustedRoots)
	}
	w.d.ReaderRoots, w.readerTS = roots, nil
	return w.save()
}

// TrustIACA adds issuer roots (IACA certificates) the wallet checks issued
// credentials and status lists against.
func (w *Wallet) TrustIACA(certs ...*x509.Certificate) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	roots := addRoots(w.d.IACARoots, certs)
	if len(roots) > MaxTrustedRoots {
		return newErr("trust", CodeRequestInvalid, "at most %d IACA roots", MaxTrustedRoots)
	}
	w.d.IACARoots, w.iacaTS = roots, nil
	return w.save()
}

func addRoots(have [][]byte, certs []*x509.Certificate) [][]byte {
next:
	for _, c := range certs {
		for _, h := range have {
			if string(h) == string(c.Raw) {
				continue next
			}
		}
		have = append(have, c.Raw)
	}
	return have
}

func parseRoots(ders [][]byte) []*x509.Certificate {
	var out []*x509.Certificate
	for _, d := range ders {
		if c, err := x509.ParseCertificate(d); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// readerTrust returns the reader roots as an mdoc trust store. Callers
// hold w.mu. The store is kept until the roots change (TrustReaderRoots
// drops it), so its cache of verified reader chains spares a relying
// party's chain check on each of its presentations, as a phone's wallet
// keeps its trust decisions in memory.
func (w *Wallet) readerTrust() *mdoc.TrustStore {
	if w.readerTS == nil {
		w.readerTS = mdoc.NewTrustStore(mdoc.PurposeReaderAuth, false, parseRoots(w.d.ReaderRoots)...)
	}
	return w.readerTS
}

// iacaTrust returns the IACA roots as an mdoc trust store for Document
// Signer chains, or nil when the wallet trusts no IACA. Callers hold w.mu.
// Kept like readerTrust's store: a batch of credentials from one issuer
// then costs one chain check, not one per credential.
func (w *Wallet) iacaTrust() *mdoc.TrustStore {
	if w.iacaTS == nil && len(w.d.IACARoots) > 0 {
		w.iacaTS = mdoc.NewTrustStore(mdoc.PurposeDocumentSigner, false, parseRoots(w.d.IACARoots)...)
	}
	return w.iacaTS
}

// NewDeviceKey makes a device key for a new credential in the secure
// element: P-256, usable only after user verification.
func (w *Wallet) NewDeviceKey(label string) (se.KeyInfo, error) {
	return w.el.GenerateKey(label, se.Access{UserAuth: true})
}

// AddCredential stores an issued mdoc bound to device key keyID. It checks
// that the MSO's device key is that key (an issuer binding another key
// would make the credential unusable, or someone else's) and, when IACA
// roots are configured, the IssuerAuth chain and signature.
func (w *Wallet) AddCredential(keyID se.KeyID, issuerSigned []byte, configID, issuerURL string) (*Credential, error) {
	const op = "add credential"
	is, err := mdoc.ParseIssuerSigned(issuerSigned)
	if err != nil {
		return nil, &Error{Op: op, Code: CodeCredentialInvalid, Err: err}
	}
	ki, err := w.el.Key(keyID)
	if err != nil {
		return nil, &Error{Op: op, Code: CodeCredentialInvalid, Err: err}
	}
	mso := &is.IssuerAuth.MSO
	dk, err := mso.DeviceKeyInfo.DeviceKey.ECDSA()
	if err != nil || !dk.Equal(ki.Public) {
		return nil, newErr(op, CodeCredentialInvalid, "the MSO binds another device key than the one generated for it")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if ts := w.iacaTrust(); ts != nil {
		vo := &mdoc.VerifyOptions{Trust: ts, CurrentTime: w.now()}
		if _, err := mdoc.VerifyIssuerAuth(&is.IssuerAuth, mso.DocType, vo); err != nil {
			return nil, &Error{Op: op, Code: CodeCredentialInvalid, Detail: "issuer signature", Err: err}
		}
		if bad := firstBadDigest(is); bad != nil {
			return nil, &Error{Op: op, Code: CodeCredentialInvalid, Err: bad}
		}
	}
	c := &Credential{
		ID: credentialID(mso.DocType, ki.ID), DocType: mso.DocType, KeyID: keyID, IssuerSigned: issuerSigned,
		ConfigurationID: configID, IssuerURL: issuerURL, AddedAt: w.now().UTC(),
		ValidFrom: mso.ValidityInfo.ValidFrom.Time(), ValidUntil: mso.ValidityInfo.ValidUntil.Time(), State: StateUnknown,
	}
	if mso.ValidityInfo.ExpectedUpdate != nil {
		c.ExpectedUpdate = mso.ValidityInfo.ExpectedUpdate.Time()
	}
	if mso.Status != nil && mso.Status.StatusList != nil {
		ref := *mso.Status.StatusList
		c.StatusList = &ref
	} else {
		c.State = StateValid
	}
	if len(w.d.Credentials) >= MaxCredentials {
		return nil, newErr(op, CodeCredentialInvalid, "wallet holds %d credentials already", MaxCredentials)
	}
	w.d.Credentials = append(w.d.Credentials, c)
	if err := w.save(); err != nil {
		return nil, err
	}
	cc := *c
	return &cc, nil
}

func firstBadDigest(is *mdoc.IssuerSigned) error {
	for _, r := range mdoc.VerifyDigests(is.NameSpaces, &is.IssuerAuth.MSO) {
		if !r.Valid {
			if r.Err != nil {
				return r.Err
			}
			return fmt.Errorf("element %s/%s does not match its digest", r.NameSpace, r.Identifier)
		}
	}
	return nil
}

func credentialID(docType string, k se.KeyID) string {
	short := docType
	switch docType {
	case mdoc.DocTypeMNC:
		short = "mnc"
	case mdoc.DocTypeHIC:
		short = "hic"
	}
	return short + "-" + string(k)[:8]
}

// DeleteCredential removes a credential and destroys its device key
// (削除 on the device only; it does not revoke anything at the issuer).
func (w *Wallet) DeleteCredential(id string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, c := range w.d.Credentials {
		if c.ID == id {
			w.d.Credentials = append(w.d.Credentials[:i], w.d.Credentials[i+1:]...)
			if err := w.save(); err != nil {
				return err
			}
			if !w.keyInUse(c.KeyID) {
				if err := w.el.DeleteKey(c.KeyID); err != nil && !errors.Is(err, se.ErrKeyNotFound) {
					return err
				}
			}
			return nil
		}
	}
	return newErr("delete", CodeCredentialNotFound, "no credential %q", id)
}

func (w *Wallet) keyInUse(k se.KeyID) bool {
	for _, c := range w.d.Credentials {
		if c.KeyID == k {
			return true
		}
	}
	return false
}

// RemoteDelete processes a remote delete (削除): the credentials are erased
// from the wallet data, then the secure element is crypto-erased (device
// keys and the JPKI applet destroyed, device key rotated). The profile and
// the history stay, with an entry recording the deletion.
//
// The erasure is saved first, with the intent to wipe (data.WipePending),
// so a crash never leaves mdocs whose keys' deletion is not noted, and
// every later step rolls forward from that intent (finishRemoteDelete).
func (w *Wallet) RemoteDelete(ctx context.Context, reason string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(w.d.Credentials)
	now := w.now().UTC()
	w.d.Credentials = []*Credential{}
	w.forgetParsed()
	w.d.JPKI = nil
	w.d.RemoteDeletedAt = now
	w.d.RemoteDeleteWhy = reason
	// A delete this process started but could not finish (its intent is
	// saved) keeps its entry: it counted the credentials, now gone.
	if w.d.WipePending == nil {
		w.d.WipePending = &wipeIntent{Entry: HistoryEntry{
			Time: now, Kind: "remote_delete", Outcome: "deleted",
			Detail: fmt.Sprintf("%d credential(s), device keys and JPKI certificates deleted: %s", n, reason),
		}}
	}
	if err := w.save(); err != nil {
		return err
	}
	if err := w.step("intent saved"); err != nil {
		return err
	}
	if err := w.finishRemoteDelete(ctx); err != nil {
		return err
	}
	w.log.InfoContext(ctx, "remote delete processed", "credentials", n, "reason", reason)
	return nil
}

// finishRemoteDelete crypto-erases the secure element for the remote delete
// w.d.WipePending records, and reseals the data and the history under the
// element's new device key. RemoteDelete calls it after saving the intent;
// load calls it when it finds the intent, after a crash. Callers hold w.mu
// (or own w exclusively).
//
// Rotating the device key destroys the key everything on disk is sealed
// under, so what must survive the wipe is written under the new key before
// the old one is gone, to staged files, and the element's commit decides
// which set is current. Steps, and what a crash after each leaves:
//
//  1. The history is read under the old key (no write).
//  2. se PrepareWipe writes the new key beside the old one.
//  3. The data, intent cleared and anchored to the new log, is sealed
//     under the new key to DataFile+StagedSuffix;
//  4. the history, with the deletion entry, to HistoryLog+StagedSuffix.
//     After 1–4, se.Open finds the state still under the old key, so it
//     discards the staged key; settleStaged removes the staged files (they
//     do not open); the intent, still in the data file, redoes all this.
//  5. se CommitWipe writes the emptied state under the new key (the commit
//     point), then renames the new key over the old one. After the state
//     write, se.Open finishes the rename; then the staged files open under
//     the current key and the files in place do not, so settleStaged puts
//     them in place: the wipe is done, and the data has no intent left.
//  6. The staged data is renamed into place;
//  7. the staged history too. A crash between them is settled as after 5.
//
// A crash during the recovery is a crash at one of these points of the
// redone sequence; a second open after a finished one changes nothing.
func (w *Wallet) finishRemoteDelete(ctx context.Context) error {
	intent := w.d.WipePending
	// Only a data file written before the history log holds history to
	// move; the save of the intent moved it already, but the new log must
	// not lose it if that ever changes.
	if err := w.migrateHistory(); err != nil {
		return err
	}
	entries, last := w.historyAfterDelete(ctx, intent.Entry)
	if err := w.el.PrepareWipe(); err != nil {
		return fmt.Errorf("walletsim: remote delete: %w", err)
	}
	if err := w.step("key staged"); err != nil {
		return err
	}
	staged := stagedSealer{w.el}
	// The new log names the anchor on disk as the one it replaces, as
	// every rewrite does; the new data anchors the new log's head, so the
	// two are consistent the moment both are in place.
	logBytes, head, err := encodeHistoryLog(staged, entries, last, w.hl.anchor)
	if err != nil {
		return err
	}
	d := w.d
	d.WipePending = nil
	d.Seq++
	d.HistoryHead = &head
	b, err := json.Marshal(&d)
	if err != nil {
		return fmt.Errorf("walletsim: encode wallet data: %w", err)
	}
	sealed, err := staged.SealData(dataPurpose, b)
	if err != nil {
		return fmt.Errorf("walletsim: seal wallet data: %w", err)
	}
	dataPath := filepath.Join(w.home, DataFile)
	if err := fsx.WriteFile(dataPath+StagedSuffix, sealed, 0o600); err != nil {
		return fmt.Errorf("walletsim: remote delete: stage wallet data: %w", err)
	}
	if err := w.step("data staged"); err != nil {
		return err
	}
	if err := fsx.WriteFile(w.hl.path+StagedSuffix, logBytes, 0o600); err != nil {
		return fmt.Errorf("walletsim: remote delete: stage history: %w", err)
	}
	if err := w.step("history staged"); err != nil {
		return err
	}
	if err := w.el.CommitWipe(); err != nil {
		return fmt.Errorf("walletsim: remote delete: wipe secure element: %w", err)
	}
	if err := w.step("committed"); err != nil {
		return err
	}
	// If a rename below fails, the wallet in memory keeps the intent: a
	// later save records it under the new key, and the next open settles
	// the staged files and finishes the delete again.
	if err := fsx.Rename(dataPath+StagedSuffix, dataPath); err != nil {
		return fmt.Errorf("walletsim: remote delete: put the resealed wallet data in place: %w", err)
	}
	w.d = d
	w.hl.anchor = &head
	if err := w.step("data renamed"); err != nil {
		return err
	}
	if err := fsx.Rename(w.hl.path+StagedSuffix, w.hl.path); err != nil {
		return fmt.Errorf("walletsim: remote delete: put the resealed history in place: %w", err)
	}
	w.hl.setLog(head, len(entries), len(logBytes))
	return w.step("history renamed")
}

// historyAfterDelete reads the history while the old device key still
// opens it and returns the log to write under the new key: its last
// entries, then deleted, the last numbered last.
func (w *Wallet) historyAfterDelete(ctx context.Context, deleted HistoryEntry) (entries []HistoryEntry, last uint64) {
	sc, herr := w.scanHistory(MaxHistory)
	entries, last = sc.last(MaxHistory), sc.seq
	if herr != nil {
		w.log.WarnContext(ctx, "remote delete: history log damaged; only the entries before the damage are kept", "err", herr)
		// After the wipe nothing can read the damaged log, so keeping it
		// would keep nothing: the new log says what was lost instead. The
		// scan stops at the damage, or reads a whole chain the anchor
		// does not accept; either way entries are those it could read.
		w.hl.corrupt = herr // saves keep the anchor until the log is rewritten
		kept := entries[max(0, len(entries)-(MaxHistory-2)):]
		entries = append(kept[:len(kept):len(kept)], HistoryEntry{
			Time: w.now().UTC(), Kind: "history_reset", Outcome: "reset",
			Detail: fmt.Sprintf("the history log was damaged when the device key was rotated; the %d entries that could be read were kept: %v", len(kept), herr),
		})
		last++
	}
	if n := len(entries); n > 0 && entries[n-1].Kind == deleted.Kind && entries[n-1].Time.Equal(deleted.Time) && entries[n-1].Detail == deleted.Detail {
		// A delete redone after the resealed log was put in place but the
		// resealed data was not (its rename failed and a later save kept
		// the intent): the deletion is recorded already.
		return entries, last
	}
	entries = append(entries[max(0, len(entries)-(MaxHistory-1)):len(entries):len(entries)], deleted)
	return entries, last + 1
}

// stagedSealer seals history lines under the device key a wipe in progress
// rotates to (se.Element.SealDataStaged); nothing reads with it.
type stagedSealer struct{ el *se.Element }

func (s stagedSealer) SealData(purpose string, data []byte) ([]byte, error) {
	return s.el.SealDataStaged(purpose, data)
}

func (s stagedSealer) OpenData(string, []byte) ([]byte, error) {
	return nil, errors.New("walletsim: a staged log is written, not read")
}

// History returns the presentation and lifecycle history, at most
// MaxHistory entries, oldest first. A damaged log gives the entries before
// the damage and an *Error with CodeHistoryCorrupt.
func (w *Wallet) History() ([]HistoryEntry, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.readHistory()
}

// record appends e to the history. A failure is logged, not returned: the
// presentation or lifecycle step it records has happened.
func (w *Wallet) record(e HistoryEntry) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.appendHistory(e); err != nil {
		w.log.Error("history not saved", "err", err)
	}
}

// userVerify asks the Authenticator and the secure element for a grant.
func (w *Wallet) userVerify(ctx context.Context, reason string) (*se.Grant, error) {
	const op = "user verification"
	if w.opts.Authenticator == nil {
		return nil, newErr(op, CodeUserVerification, "no authenticator configured (give --pin or --biometric)")
	}
	attempts := max(w.opts.UVAttempts, 1)
	var last error
	for range attempts {
		a, err := w.opts.Authenticator.Verify(ctx, reason, w.el.Policy())
		if err != nil {
			return nil, &Error{Op: op, Code: CodeUserVerification, Err: err}
		}
		g, err := w.el.Authenticate(a)
		if err == nil {
			return g, nil
		}
		last = err
		if c := se.CodeOf(err); c != se.CodeWrongPIN && c != se.CodeBiometricNoMatch {
			break
		}
	}
	return nil, &Error{Op: op, Code: CodeUserVerification, Err: last}
}

// deviceKeyPublic returns the public key of a credential's device key.
func (w *Wallet) deviceKeyPublic(k se.KeyID) (*ecdsa.PublicKey, error) {
	ki, err := w.el.Key(k)
	if err != nil {
		return nil, err
	}
	return ki.Public, nil
}

// requireCredentials fails a presentation before it starts when the wallet
// holds nothing to present: a wallet that lost its credentials to a remote
// delete says so (remote_deleted), one never enrolled says not_enrolled,
// instead of advertising an engagement no reader can be answered on.
func (w *Wallet) requireCredentials(op string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.d.Credentials) > 0 {
		return nil
	}
	if !w.d.RemoteDeletedAt.IsZero() {
		return newErr(op, CodeRemoteDeleted, "this wallet's credentials were deleted at %s (%s); enrol again with the card", w.d.RemoteDeletedAt.Format(time.RFC3339), w.d.RemoteDeleteWhy)
	}
	return newErr(op, CodeNotEnrolled, "this wallet holds no credentials")
}
