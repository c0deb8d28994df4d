package issuer

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/csv"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mynumber-mdoc/mnc/issuer/pki"
	"github.com/mynumber-mdoc/mnc/issuer/store"
	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
)

// Admin lifecycle actions.
const (
	ActionSuspend = "suspend" // 一時利用停止 (lost phone): reversible
	ActionResume  = "resume"  // phone found: credentials usable again
	ActionRevoke  = "revoke"  // 失効: permanent, with a remote delete
)

// AdminTarget names what a support operator acts on: one device, or every
// live device of a person (the lost-phone flow acts on the person).
type AdminTarget struct {
	DeviceID string
	PersonID string
}

// AdminChange suspends, resumes or revokes devices on behalf of a support
// operator. Repeating a call changes nothing (idempotent).
func (s *Service) AdminChange(ctx context.Context, t AdminTarget, action, reason, operator string) (*oid4vci.LifecycleResponse, error) {
	cp := store.ChangeParams{Now: s.now(), Reason: reason}
	switch {
	case t.DeviceID != "":
		if _, err := s.devices.Device(ctx, t.DeviceID); errors.Is(err, store.ErrNotFound) {
			return nil, oid4vci.NewError(oid4vci.CodeDeviceUnknown, "", "no device %q", t.DeviceID)
		}
		cp.DeviceIDs = []string{t.DeviceID}
	case t.PersonID != "":
		if _, err := s.devices.Person(ctx, t.PersonID); errors.Is(err, store.ErrNotFound) {
			return nil, oid4vci.NewError(oid4vci.CodeNotFound, "", "no person %q", t.PersonID)
		}
		cp.PersonID = t.PersonID
	default:
		return nil, oid4vci.NewError(oid4vci.CodeInvalidRequest, "", "name a device or a person")
	}
	switch action {
	case ActionSuspend:
		cp.From, cp.To = []string{store.DeviceActive}, store.DeviceSuspended
	case ActionResume:
		cp.From, cp.To = []string{store.DeviceSuspended}, store.DeviceActive
	case ActionRevoke:
		cp.From, cp.To, cp.QueueDelete = []string{store.DeviceActive, store.DeviceSuspended}, store.DeviceRevoked, true
	default:
		return nil, oid4vci.NewError(oid4vci.CodeInvalidRequest, "", "unknown action %q (suspend, resume, revoke)", action)
	}
	if cp.Reason == "" {
		cp.Reason = "support: " + action
	}
	if operator == "" {
		operator = "admin"
	}
	cp.Event = store.Event{Actor: operator, Action: "device_" + action + map[string]string{ActionSuspend: "ed", ActionResume: "d", ActionRevoke: "d"}[action],
		Detail: cp.Reason, Notify: true}
	return s.change(ctx, cp)
}

// BlockRequest is an emergency restriction of a model or OS version.
type BlockRequest struct {
	Kind   string `json:"kind"` // "model" or "os"
	Value  string `json:"value"`
	Reason string `json:"reason"`
	// SuspendExisting suspends the credentials of live devices that match;
	// nil means Config.SuspendOnBlock.
	SuspendExisting *bool `json:"suspend_existing,omitempty"`
}

func blockReason(kind, value string) string { return "blocked:" + kind + ":" + value }

// Block stops enrolment (and credential issuance) for a model or OS
// version at once and, when asked, suspends existing devices that match.
func (s *Service) Block(ctx context.Context, r BlockRequest, operator string) (*oid4vci.LifecycleResponse, error) {
	if r.Kind != store.BlockModel && r.Kind != store.BlockOS {
		return nil, oid4vci.NewError(oid4vci.CodeInvalidRequest, "", "kind %q, want model or os", r.Kind)
	}
	if r.Value == "" || len(r.Value) > oid4vci.MaxClaimLen || len(r.Reason) > 512 {
		return nil, oid4vci.NewError(oid4vci.CodeInvalidRequest, "", "value is required (at most %d bytes), reason at most 512 bytes", oid4vci.MaxClaimLen)
	}
	sus := s.cfg.SuspendOnBlock
	if r.SuspendExisting != nil {
		sus = *r.SuspendExisting
	}
	now := s.now()
	b := store.Block{Kind: r.Kind, Value: r.Value, Reason: r.Reason, SuspendExisting: sus, CreatedAt: now}
	if err := s.restrictions.PutBlock(ctx, b, store.Event{Actor: operator, Action: r.Kind + "_blocked", Detail: r.Value + ": " + r.Reason}); err != nil {
		return nil, err
	}
	s.invalidateBlocks()
	if !sus {
		return &oid4vci.LifecycleResponse{DeviceIDs: []string{}, State: store.DeviceActive}, nil
	}
	return s.change(ctx, store.ChangeParams{Block: &b, From: []string{store.DeviceActive}, To: store.DeviceSuspended, Reason: blockReason(r.Kind, r.Value), Now: now,
		Event: store.Event{Actor: operator, Action: "device_suspended", Detail: "emergency restriction: " + r.Kind + " " + r.Value, Notify: true}})
}

// Unblock lifts a restriction and resumes the devices it suspended (and
// only those: a device suspended for loss stays suspended).
func (s *Service) Unblock(ctx context.Context, kind, value, operator string) (*oid4vci.LifecycleResponse, error) {
	ok, err := s.restrictions.DeleteBlock(ctx, kind, value, store.Event{Actor: operator, Action: kind + "_unblocked", Detail: value})
	if err != nil {
		return nil, err
	}
	s.invalidateBlocks()
	if !ok {
		return nil, oid4vci.NewError(oid4vci.CodeNotFound, "", "no %s block for %q", kind, value)
	}
	return s.change(ctx, store.ChangeParams{Block: &store.Block{Kind: kind, Value: value}, From: []string{store.DeviceSuspended}, To: store.DeviceActive,
		OnlyReason: blockReason(kind, value), Reason: "restriction lifted", Now: s.now(),
		Event: store.Event{Actor: operator, Action: "device_resumed", Detail: "restriction lifted: " + kind + " " + value, Notify: true}})
}

// Bounds on the insurance CSV.
const (
	MaxInsuranceRows = 200000
	MaxInsuranceCSV  = 64 << 20
)

// InsuranceCSVHeader is the required header of the insurance registry CSV.
// Persons are matched by the four basic facts exactly as in their card
// certificate (see PersonKey); birth_date is YYYY-MM-DD (the era code is
// derived), sex 1/2/3, dates YYYY-MM-DD, qualification_valid_until may be
// empty, copayment_ratio a percentage (10, 20, 30).
var InsuranceCSVHeader = []string{"full_name", "birth_date", "sex", "address", "insurer_number", "insured_card_symbol", "insured_number",
	"insured_branch_number", "insured_relationship", "qualification_valid_from", "qualification_valid_until", "copayment_ratio"}

var insurerNumber = regexp.MustCompile(`^[0-9]{8}$`)

// ParseInsuranceCSV reads the registry CSV; errors name the line.
func ParseInsuranceCSV(r io.Reader) ([]store.Insurance, error) {
	cr := csv.NewReader(io.LimitReader(r, MaxInsuranceCSV))
	cr.FieldsPerRecord = len(InsuranceCSVHeader)
	hdr, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("insurance CSV header: %w", err)
	}
	for i, h := range InsuranceCSVHeader {
		if strings.TrimSpace(strings.TrimPrefix(hdr[i], "\ufeff")) != h {
			return nil, fmt.Errorf("insurance CSV header column %d is %q, want %q (header: %s)", i+1, hdr[i], h, strings.Join(InsuranceCSVHeader, ","))
		}
	}
	var out []store.Insurance
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("insurance CSV: %w", err)
		}
		if len(out) >= MaxInsuranceRows {
			return nil, fmt.Errorf("insurance CSV: more than %d rows", MaxInsuranceRows)
		}
		row, err := insuranceRow(rec)
		if err != nil {
			return nil, fmt.Errorf("insurance CSV line %d: %w", line, err)
		}
		out = append(out, row)
	}
	return out, nil
}

func insuranceRow(rec []string) (store.Insurance, error) {
	var r store.Insurance
	bd, err := time.Parse("2006-01-02", rec[1])
	if err != nil {
		return r, fmt.Errorf("birth_date %q: want YYYY-MM-DD", rec[1])
	}
	sex, err := jpki.ParseSex(rec[2])
	if err != nil {
		return r, fmt.Errorf("sex %q: %w", rec[2], err)
	}
	f := &jpki.Facts{FullName: rec[0], BirthDate: jpki.NewBirthDate(bd.Year(), bd.Month(), bd.Day()), Sex: sex, Address: rec[3]}
	if rec[0] == "" || rec[3] == "" {
		return r, errors.New("full_name and address are required")
	}
	if !insurerNumber.MatchString(rec[4]) {
		return r, fmt.Errorf("insurer_number %q: want 8 digits", rec[4])
	}
	rel, err := strconv.Atoi(rec[8])
	if err != nil || (rel != 1 && rel != 2) {
		return r, fmt.Errorf("insured_relationship %q: want 1 (insured) or 2 (dependant)", rec[8])
	}
	if _, err := mdoc.ParseFullDate(rec[9]); err != nil {
		return r, fmt.Errorf("qualification_valid_from %q: %w", rec[9], err)
	}
	if rec[10] != "" {
		if _, err := mdoc.ParseFullDate(rec[10]); err != nil {
			return r, fmt.Errorf("qualification_valid_until %q: %w", rec[10], err)
		}
	}
	cp, err := strconv.Atoi(rec[11])
	if err != nil || cp < 0 || cp > 100 {
		return r, fmt.Errorf("copayment_ratio %q: want a percentage", rec[11])
	}
	for _, v := range rec {
		if len(v) > 512 {
			return r, errors.New("a field is over 512 bytes")
		}
	}
	return store.Insurance{PersonKey: PersonKey(f), InsurerNumber: rec[4], InsuredCardSymbol: rec[5], InsuredNumber: rec[6], InsuredBranchNumber: rec[7],
		InsuredRelationship: rel, QualificationFrom: rec[9], QualificationUntil: rec[10], CopaymentRatioPercent: cp}, nil
}

// ImportInsurance loads the registry CSV in one transaction (all rows or
// none).
func (s *Service) ImportInsurance(ctx context.Context, r io.Reader, operator string) (int, error) {
	rows, err := ParseInsuranceCSV(r)
	if err != nil {
		return 0, &oid4vci.Error{Code: oid4vci.CodeInvalidRequest, Description: err.Error(), Err: err}
	}
	return s.insurance.PutInsurance(ctx, rows, store.Event{Actor: operator, Action: "insurance_imported", Detail: fmt.Sprintf("%d rows", len(rows))})
}

// Audit lists audit entries, newest first.
func (s *Service) Audit(ctx context.Context, deviceID, personID string, limit int) ([]store.AuditEntry, error) {
	return s.audit.Audit(ctx, deviceID, personID, limit)
}

// Devices lists devices, newest first.
func (s *Service) Devices(ctx context.Context, personID string, limit int) ([]store.Device, error) {
	return s.devices.Devices(ctx, personID, limit)
}

// ReaderCertificateRequest asks for a verifier's reader certificate.
type ReaderCertificateRequest struct {
	PublicKeyPEM     string `json:"public_key_pem"`
	CommonName       string `json:"common_name"`
	Medical          bool   `json:"medical"`
	IndividualNumber bool   `json:"individual_number"`
	ValidityDays     int    `json:"validity_days,omitempty"`
}

// IssueReaderCertificate certifies a verifier's reader key under the reader
// CA; Medical marks a medical institution (may receive insurance
// elements), IndividualNumber a reader authorised for the My Number.
func (s *Service) IssueReaderCertificate(ctx context.Context, r ReaderCertificateRequest, operator string) ([]byte, error) {
	blk, _ := pem.Decode([]byte(r.PublicKeyPEM))
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, oid4vci.NewError(oid4vci.CodeInvalidRequest, "", "public_key_pem must be a PEM PUBLIC KEY (PKIX)")
	}
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, oid4vci.NewError(oid4vci.CodeInvalidRequest, "", "public key: %v", err)
	}
	if r.CommonName == "" || len(r.CommonName) > 128 || r.ValidityDays < 0 || r.ValidityDays > 825 {
		return nil, oid4vci.NewError(oid4vci.CodeInvalidRequest, "", "common_name (1–128 bytes) is required; validity_days at most 825")
	}
	c, err := s.cfg.CA.IssueReaderCertificate(pub.(crypto.PublicKey), pki.ReaderCertificateOptions{
		CommonName: r.CommonName, Roles: mdoc.ReaderRoles{MedicalInstitution: r.Medical, IndividualNumber: r.IndividualNumber},
		Validity: time.Duration(r.ValidityDays) * 24 * time.Hour, Now: s.now(),
	})
	if err != nil {
		return nil, oid4vci.NewError(oid4vci.CodeInvalidRequest, "", "reader certificate: %v", err)
	}
	if err := s.audit.AddEvent(ctx, store.Event{Actor: operator, Action: "reader_certificate_issued",
		Detail: fmt.Sprintf("cn=%s serial=%s medical=%v individual_number=%v", r.CommonName, c.SerialNumber, r.Medical, r.IndividualNumber)}, s.now()); err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), nil
}

type (
	storeDevice = store.Device
	storeAudit  = store.AuditEntry
)

// CertificateRevocationRequest asks to put a certificate issued by this
// issuer's IACA (Document Signer, status-list signer) or reader CA (a
// verifier's reader certificate) on that CA's CRL.
type CertificateRevocationRequest struct {
	// CA is "iaca" or "reader-ca".
	CA             string `json:"ca"`
	CertificatePEM string `json:"certificate_pem"`
	// ReasonCode is the RFC 5280 CRLReason (0 unspecified, 1 keyCompromise,
	// 4 superseded, 5 cessationOfOperation).
	ReasonCode int `json:"reason_code"`
}

// RevokeIssuerCertificate adds a certificate to the IACA or reader CA CRL
// (served at /pki/iaca.crl, /pki/reader-ca.crl) and audits it. Idempotent.
func (s *Service) RevokeIssuerCertificate(ctx context.Context, r CertificateRevocationRequest, operator string) error {
	if r.CA != pki.CRLIACA && r.CA != pki.CRLReaderCA {
		return oid4vci.NewError(oid4vci.CodeInvalidRequest, "", "ca must be %q or %q", pki.CRLIACA, pki.CRLReaderCA)
	}
	if r.ReasonCode < 0 || r.ReasonCode > 10 || r.ReasonCode == 7 {
		return oid4vci.NewError(oid4vci.CodeInvalidRequest, "", "reason_code %d is not an RFC 5280 CRLReason", r.ReasonCode)
	}
	blk, _ := pem.Decode([]byte(r.CertificatePEM))
	if blk == nil || blk.Type != "CERTIFICATE" {
		return oid4vci.NewError(oid4vci.CodeInvalidRequest, "", "certificate_pem must be a PEM CERTIFICATE")
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return oid4vci.NewError(oid4vci.CodeInvalidRequest, "", "certificate: %v", err)
	}
	if err := s.cfg.CA.Revoke(r.CA, c, r.ReasonCode, s.now()); errors.Is(err, pki.ErrNotIssuedByCA) {
		return oid4vci.NewError(oid4vci.CodeInvalidRequest, "not_issued_by_ca", "%v", err)
	} else if err != nil {
		return fmt.Errorf("revoke certificate %s: %w", c.SerialNumber, err)
	}
	return s.audit.AddEvent(ctx, store.Event{Actor: operator, Action: "certificate_revoked",
		Detail: fmt.Sprintf("ca=%s serial=%s subject=%q reason=%d", r.CA, c.SerialNumber, c.Subject.String(), r.ReasonCode)}, s.now())
}

// VerifierUseReport is a verifier's report that it accepted a credential,
// naming it as its MSO does: the status list URI and index.
type VerifierUseReport struct {
	StatusListURI string   `json:"status_list_uri"`
	Idx           uint64   `json:"idx"`
	Verifier      string   `json:"verifier"`
	Channel       string   `json:"channel,omitempty"`
	Elements      []string `json:"elements,omitempty"`
}

// ReportUseByVerifier records a use reported by a verifier (through the
// operator's admin API: verifiers hold no holder key): audited always as
// credential_used with actor "verifier", notified when the holder opted in.
func (s *Service) ReportUseByVerifier(ctx context.Context, r VerifierUseReport) (*oid4vci.UseResponse, error) {
	listID, ok := strings.CutPrefix(r.StatusListURI, s.cfg.IssuerURL+oid4vci.PathStatusList)
	if !ok || listID == "" || len(listID) > 32 {
		return nil, oid4vci.NewError(oid4vci.CodeInvalidRequest, "", "status_list_uri is not one of this issuer's status lists")
	}
	u := &oid4vci.UseReport{DocType: "-", Verifier: r.Verifier, Channel: r.Channel, Elements: r.Elements}
	if err := u.Validate(); err != nil || r.Verifier == "" {
		return nil, oid4vci.NewError(oid4vci.CodeInvalidRequest, "", "verifier (1–%d bytes, one line), channel and at most %d elements are required", oid4vci.MaxClaimLen, oid4vci.MaxUseElements)
	}
	c, err := s.creds.CredentialByStatus(ctx, listID, r.Idx)
	if errors.Is(err, store.ErrNotFound) {
		return nil, oid4vci.NewError(oid4vci.CodeNotFound, "", "no credential at %s index %d", r.StatusListURI, r.Idx)
	}
	if err != nil {
		return nil, err
	}
	dev, err := s.devices.Device(ctx, c.DeviceID)
	if err != nil {
		return nil, fmt.Errorf("read device %s: %w", c.DeviceID, err)
	}
	now := s.now()
	detail := fmt.Sprintf("doctype=%s verifier=%q channel=%s at=%s elements=%s credential=%s", c.DocType, r.Verifier, r.Channel,
		now.UTC().Format(time.RFC3339), strings.Join(r.Elements, ","), c.ID)
	if err := s.audit.AddEvent(ctx, store.Event{Actor: "verifier", Action: EventCredentialUsed, PersonID: dev.PersonID, DeviceID: dev.ID, Detail: detail,
		Notify: dev.NotifyUse, Email: dev.ContactEmail}, now); err != nil {
		return nil, fmt.Errorf("record use of %s: %w", c.ID, err)
	}
	return &oid4vci.UseResponse{DeviceID: dev.ID, Notified: dev.NotifyUse}, nil
}
