package issuer

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/mynumber-mdoc/mnc/issuer/pki"
	"github.com/mynumber-mdoc/mnc/issuer/store"
	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
)

// Audit actions of the qualification service.
const (
	ActionInsuranceRegistered = "insurance_registered"
	ActionQualificationAsked  = "qualification_confirmed"
)

func authCertID(der []byte) string {
	h := sha256.Sum256(der)
	return hex.EncodeToString(h[:])
}

// RegisterInsurance handles the holder's マイナ保険証 registration: a JWS
// signed by the card's signature key (chain, CRL and card form checked as
// for enrolment) carrying the card's user-authentication certificate and
// its signature over the same fresh nonce. Both keys of one card are
// proved, so nobody can link another person's (public) auth certificate
// to themselves. The link names the person of the signature certificate.
func (s *Service) RegisterInsurance(ctx context.Context, compact string) (*oid4vci.InsuranceRegistrationResponse, error) {
	if s.cfg.AuthLinks == nil {
		return nil, oid4vci.NewError(oid4vci.CodeInvalidRequest, oid4vci.QualificationUnavailable, "this issuer keeps no insurance registrations")
	}
	now := s.now()
	res, err := s.verifyCard(ctx, compact, oid4vci.TypInsuranceRegistration)
	if err != nil {
		return nil, err
	}
	reg, err := oid4vci.ParseInsuranceRegistration(res.Payload, oid4vci.CheckOptions{Audience: s.cfg.IssuerURL, Now: now})
	if err != nil {
		return nil, err
	}
	if err := s.consumeNonce(ctx, reg.Nonce); err != nil {
		return nil, err
	}
	certDER, sig, err := reg.AuthProof.Decode(oid4vci.CodeInvalidRequest)
	if err != nil {
		return nil, err
	}
	ar, err := s.cfg.JPKI.VerifyAuth(ctx, []byte(reg.Nonce), certDER, sig, jpki.VerifyOptions{CurrentTime: now})
	if err != nil {
		return nil, cardRejected(err)
	}
	if ar.Form != jpki.FormCard {
		return nil, oid4vci.NewError(oid4vci.CodeCardRejected, string(jpki.CodeProfile), "register the card's own auth certificate; phone certificates are linked at enrolment")
	}
	personKey := PersonKey(res.Facts)
	ev := store.Event{Actor: "holder", Action: ActionInsuranceRegistered, Detail: fmt.Sprintf("auth_serial=%s", ar.SerialNumber)}
	if p, err := s.devices.PersonByKey(ctx, personKey); err == nil {
		ev.PersonID = p.ID
	}
	if err := s.cfg.AuthLinks.LinkAuthCertificate(ctx, store.AuthLink{CertID: authCertID(certDER), PersonKey: personKey, Source: "registration"}, ev, now); err != nil {
		return nil, fmt.Errorf("link auth certificate: %w", err)
	}
	out := &oid4vci.InsuranceRegistrationResponse{Linked: true}
	if ins, err := s.insurance.Insurance(ctx, personKey); err == nil {
		out.Qualified = insuranceValidAt(ins, now)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("read insurance: %w", err)
	}
	return out, nil
}

// cardRejected maps a jpki verification error to the card_rejected error
// with the jpki code as reason.
func cardRejected(err error) error {
	code := jpki.CodeOf(err)
	if code == "" {
		return fmt.Errorf("verify JPKI authentication: %w", err)
	}
	return &oid4vci.Error{Code: oid4vci.CodeCardRejected, Reason: string(code), Description: err.Error(), Err: err}
}

// ConfirmQualification answers a medical institution reader (online
// qualification confirmation): the request must be signed by a reader
// certificate of this issuer's reader CA with the medical-institution
// role, not revoked; it carries a JPKI user authentication (card or phone
// applet, after its PIN) over a fresh nonce of this issuer, checked for
// chain, CRL and signature. The answer carries only the qualification
// elements of the linked person, never their name or address.
func (s *Service) ConfirmQualification(ctx context.Context, compact string) (*oid4vci.QualificationResponse, error) {
	now := s.now()
	roots := x509.NewCertPool()
	roots.AddCert(s.cfg.CA.CACertificate(pki.CRLReaderCA))
	req, reader, err := oid4vci.VerifyQualificationRequest(compact, oid4vci.VerifyQualificationOptions{
		CheckOptions: oid4vci.CheckOptions{Audience: s.cfg.IssuerURL, Now: now},
		Roots:        roots,
		CheckReader: func(leaf *x509.Certificate) error {
			if !mdoc.ReaderRolesOf(leaf).MedicalInstitution {
				return errors.New("the reader certificate does not mark a medical institution")
			}
			revoked, err := s.cfg.CA.IsRevoked(pki.CRLReaderCA, leaf)
			if err != nil {
				return fmt.Errorf("reader revocation: %w", err)
			}
			if revoked {
				return errors.New("the reader certificate is revoked")
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	if err := s.consumeNonce(ctx, req.Nonce); err != nil {
		return nil, err
	}
	certDER, sig, err := req.AuthProof.Decode(oid4vci.CodeInvalidRequest)
	if err != nil {
		return nil, err
	}
	ar, err := s.cfg.JPKI.VerifyAuth(ctx, []byte(req.Nonce), certDER, sig, jpki.VerifyOptions{CurrentTime: now})
	if err != nil {
		return nil, cardRejected(err)
	}
	out := &oid4vci.QualificationResponse{CheckedAt: now.UTC()}
	if s.cfg.AuthLinks == nil {
		out.Code, out.Description = oid4vci.QualificationUnavailable, "this issuer keeps no insurance registrations"
		return out, nil
	}
	personKey, personID, err := s.personOfAuthCert(ctx, ar, certDER)
	if err != nil {
		return nil, err
	}
	ev := store.Event{Actor: "reader:" + reader.Subject.CommonName, Action: ActionQualificationAsked, PersonID: personID,
		Detail: fmt.Sprintf("auth_serial=%s form=%s", ar.SerialNumber, ar.Form)}
	switch {
	case personKey == "":
		out.Code, out.Description = oid4vci.QualificationNotLinked, "this auth certificate is not registered for health-insurance use"
	default:
		ins, err := s.insurance.Insurance(ctx, personKey)
		switch {
		case errors.Is(err, store.ErrNotFound):
			out.Code, out.Description = oid4vci.QualificationNoRecord, "no qualification on record"
		case err != nil:
			return nil, fmt.Errorf("read insurance: %w", err)
		case !insuranceValidAt(ins, now):
			out.Code, out.Description = oid4vci.QualificationNotValid, fmt.Sprintf("qualification valid %s to %s", ins.QualificationFrom, ins.QualificationUntil)
		default:
			out.Qualified, out.Code = true, oid4vci.QualificationOK
			out.Qualification = &oid4vci.Qualification{
				InsurerNumber: ins.InsurerNumber, InsuredCardSymbol: ins.InsuredCardSymbol, InsuredNumber: ins.InsuredNumber,
				InsuredBranchNumber: ins.InsuredBranchNumber, InsuredRelationship: ins.InsuredRelationship,
				ValidFrom: ins.QualificationFrom, ValidUntil: ins.QualificationUntil, CopaymentRatio: ins.CopaymentRatioPercent,
			}
		}
	}
	ev.Detail += " outcome=" + out.Code
	if err := s.audit.AddEvent(ctx, ev, now); err != nil {
		return nil, fmt.Errorf("audit qualification: %w", err)
	}
	return out, nil
}

// personOfAuthCert finds the person of a verified auth certificate: a
// phone certificate through the device the issuer issued it to (a live
// one), a card certificate through its registration. "" when unlinked.
func (s *Service) personOfAuthCert(ctx context.Context, ar *jpki.AuthResult, der []byte) (personKey, personID string, err error) {
	if ar.Form == jpki.FormSmartphone {
		d, err := s.cfg.AuthLinks.DeviceByJPKIAuthSerial(ctx, ar.SerialNumber.String())
		if errors.Is(err, store.ErrNotFound) || (err == nil && d.State != store.DeviceActive) {
			return "", "", nil
		}
		if err != nil {
			return "", "", fmt.Errorf("find device of the phone auth certificate: %w", err)
		}
		p, err := s.devices.Person(ctx, d.PersonID)
		if err != nil {
			return "", "", fmt.Errorf("read person: %w", err)
		}
		return p.Key, p.ID, nil
	}
	l, err := s.cfg.AuthLinks.AuthLink(ctx, authCertID(der))
	if errors.Is(err, store.ErrNotFound) {
		return "", "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("read auth link: %w", err)
	}
	if p, err := s.devices.PersonByKey(ctx, l.PersonKey); err == nil {
		personID = p.ID
	}
	return l.PersonKey, personID, nil
}
