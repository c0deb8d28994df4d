package oid4vci

import (
	"encoding/json"
	"net/url"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
)

// Well-known paths and protocol constants (OpenID4VCI 1.0).
const (
	// WellKnownIssuerPath is where issuer metadata is served (§12.2.2).
	WellKnownIssuerPath = "/.well-known/openid-credential-issuer"
	// WellKnownOAuthPath is the authorization server metadata (RFC 8414);
	// this issuer is its own authorization server.
	WellKnownOAuthPath = "/.well-known/oauth-authorization-server"

	// FormatMsoMdoc is the credential format of ISO 18013-5 mdocs
	// (Appendix A.2).
	FormatMsoMdoc = "mso_mdoc"
	// BindingCOSEKey is the cryptographic binding method of an mdoc: the
	// device key as a COSE_Key in the MSO.
	BindingCOSEKey = "cose_key"
	// ProofTypeJWT is the proof type this issuer accepts (§F.1).
	ProofTypeJWT = "jwt"
	// GrantPreAuthorizedCode is the pre-authorized code grant type (§3.5).
	GrantPreAuthorizedCode = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
	// OfferScheme is the URI scheme of a credential offer by value (§4.1).
	OfferScheme = "openid-credential-offer://"

	// ConfigMNC and ConfigHIC are the credential configuration ids of the
	// two documents this project issues.
	ConfigMNC = "jp.mnc"
	ConfigHIC = "jp.hic"

	// COSEAlgES256 is the COSE algorithm id of ES256, the only
	// credential signing algorithm (IssuerAuth).
	COSEAlgES256 = -7
)

// Key storage and user authentication values of key attestations
// (OpenID4VCI 1.0 Appendix D.2, ISO 18045 attack potential levels).
const (
	KeyStorageHigh         = "iso_18045_high"
	KeyStorageModerate     = "iso_18045_moderate"
	UserAuthenticationHigh = "iso_18045_high"
)

// IssuerMetadata is the Credential Issuer Metadata (§12.2.4).
type IssuerMetadata struct {
	CredentialIssuer                  string                             `json:"credential_issuer"`
	AuthorizationServers              []string                           `json:"authorization_servers,omitempty"`
	CredentialEndpoint                string                             `json:"credential_endpoint"`
	NonceEndpoint                     string                             `json:"nonce_endpoint,omitempty"`
	NotificationEndpoint              string                             `json:"notification_endpoint,omitempty"`
	Display                           []Display                          `json:"display,omitempty"`
	CredentialConfigurationsSupported map[string]CredentialConfiguration `json:"credential_configurations_supported"`
	// BatchCredentialIssuance advertises batch issuance (§12.2.4): up to
	// BatchSize proofs per request, one credential each.
	BatchCredentialIssuance *BatchCredentialIssuance `json:"batch_credential_issuance,omitempty"`
	// MNC lists the project's enrolment and lifecycle endpoints.
	MNC *MNCEndpoints `json:"mnc_endpoints,omitempty"`
}

// BatchCredentialIssuance is the batch_credential_issuance metadata member.
type BatchCredentialIssuance struct {
	BatchSize int `json:"batch_size"`
}

// MNCEndpoints are the project extension endpoints, absolute URLs.
type MNCEndpoints struct {
	Enrol          string `json:"enrol"`
	CardRevoke     string `json:"card_revoke"`
	DeviceRequest  string `json:"device_request"`
	DevAttest      string `json:"dev_attest,omitempty"` // absent in production mode
	StatusListBase string `json:"status_list_base"`
}

// Display is a display entry (§12.2.4).
type Display struct {
	Name   string `json:"name"`
	Locale string `json:"locale,omitempty"`
}

// CredentialConfiguration describes one credential the issuer offers
// (§12.2.4, Appendix A.2.2 for mso_mdoc).
type CredentialConfiguration struct {
	Format                               string               `json:"format"`
	Doctype                              string               `json:"doctype"`
	Scope                                string               `json:"scope,omitempty"`
	CryptographicBindingMethodsSupported []string             `json:"cryptographic_binding_methods_supported"`
	CredentialSigningAlgValuesSupported  []int                `json:"credential_signing_alg_values_supported,omitempty"`
	ProofTypesSupported                  map[string]ProofType `json:"proof_types_supported"`
	CredentialMetadata                   *CredentialMetadata  `json:"credential_metadata,omitempty"`
}

// ProofType describes a supported proof type.
type ProofType struct {
	ProofSigningAlgValuesSupported []string                    `json:"proof_signing_alg_values_supported"`
	KeyAttestationsRequired        *KeyAttestationsRequirement `json:"key_attestations_required,omitempty"`
}

// KeyAttestationsRequirement says that proofs must carry a key attestation
// and which levels it must state (§12.2.4).
type KeyAttestationsRequirement struct {
	KeyStorage         []string `json:"key_storage,omitempty"`
	UserAuthentication []string `json:"user_authentication,omitempty"`
}

// CredentialMetadata is display and claim information (§12.2.4).
type CredentialMetadata struct {
	Display []Display `json:"display,omitempty"`
	Claims  []Claim   `json:"claims,omitempty"`
}

// Claim describes one data element: path = [namespace, identifier].
type Claim struct {
	Path      []string  `json:"path"`
	Mandatory bool      `json:"mandatory,omitempty"`
	Display   []Display `json:"display,omitempty"`
}

// AuthorizationServerMetadata is the subset of RFC 8414 metadata a wallet
// needs for the pre-authorized code flow.
type AuthorizationServerMetadata struct {
	Issuer                                 string   `json:"issuer"`
	TokenEndpoint                          string   `json:"token_endpoint"`
	GrantTypesSupported                    []string `json:"grant_types_supported"`
	PreAuthorizedGrantAnonymousAccess      bool     `json:"pre-authorized_grant_anonymous_access_supported"`
	ResponseTypesSupported                 []string `json:"response_types_supported"`
	TokenEndpointAuthMethodsSupported      []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	DPoPSigningAlgValuesSupported          []string `json:"dpop_signing_alg_values_supported,omitempty"`
	AuthorizationResponseIssParamSupported bool     `json:"authorization_response_iss_parameter_supported,omitempty"`
}

// CredentialOffer is a Credential Offer (§4.1.1).
type CredentialOffer struct {
	CredentialIssuer           string   `json:"credential_issuer"`
	CredentialConfigurationIDs []string `json:"credential_configuration_ids"`
	Grants                     *Grants  `json:"grants,omitempty"`
}

// Grants holds the grants of an offer; only the pre-authorized code grant is
// used by this project.
type Grants struct {
	PreAuthorizedCode *PreAuthorizedCodeGrant `json:"urn:ietf:params:oauth:grant-type:pre-authorized_code,omitempty"`
}

// PreAuthorizedCodeGrant is the pre-authorized code grant of an offer.
type PreAuthorizedCodeGrant struct {
	PreAuthorizedCode string  `json:"pre-authorized_code"`
	TxCode            *TxCode `json:"tx_code,omitempty"`
}

// TxCode announces that the token request needs a transaction code sent to
// the holder over a second channel (§4.1.1).
type TxCode struct {
	InputMode   string `json:"input_mode,omitempty"` // "numeric" (default) or "text"
	Length      int    `json:"length,omitempty"`
	Description string `json:"description,omitempty"`
}

// URI returns the offer by value as an openid-credential-offer:// URI.
func (o *CredentialOffer) URI() (string, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return "", err
	}
	return OfferScheme + "?credential_offer=" + url.QueryEscape(string(b)), nil
}

// MaxOfferLen bounds a credential offer by value.
const MaxOfferLen = 16 << 10

// ParseOfferURI parses a credential offer by value from an
// openid-credential-offer:// URI (or a bare JSON object).
func ParseOfferURI(s string) (*CredentialOffer, error) {
	if len(s) > MaxOfferLen {
		return nil, NewError(CodeInvalidRequest, ReasonTooLarge, "credential offer is %d bytes, over %d", len(s), MaxOfferLen)
	}
	raw := s
	if strings.HasPrefix(s, OfferScheme) {
		u, err := url.Parse(s)
		if err != nil {
			return nil, wrapErr(CodeInvalidRequest, ReasonMalformed, err, "parse offer URI")
		}
		raw = u.Query().Get("credential_offer")
	}
	var o CredentialOffer
	if err := decodeJSON([]byte(raw), &o); err != nil {
		return nil, wrapErr(CodeInvalidRequest, ReasonMalformed, err, "decode credential offer")
	}
	if o.CredentialIssuer == "" || len(o.CredentialConfigurationIDs) == 0 {
		return nil, NewError(CodeInvalidRequest, ReasonMalformed, "credential offer lacks credential_issuer or credential_configuration_ids")
	}
	return &o, nil
}

// TokenRequest is the token request of the pre-authorized code grant (§6.1),
// sent form-encoded.
type TokenRequest struct {
	GrantType         string
	PreAuthorizedCode string
	TxCode            string
}

// Form returns the request as form values.
func (r *TokenRequest) Form() url.Values {
	v := url.Values{}
	v.Set("grant_type", r.GrantType)
	v.Set("pre-authorized_code", r.PreAuthorizedCode)
	if r.TxCode != "" {
		v.Set("tx_code", r.TxCode)
	}
	return v
}

// MaxCodeLen bounds pre-authorized codes, tx codes and access tokens.
const MaxCodeLen = 512

// ParseTokenRequest reads and checks a token request from form values.
func ParseTokenRequest(v url.Values) (*TokenRequest, error) {
	r := &TokenRequest{GrantType: v.Get("grant_type"), PreAuthorizedCode: v.Get("pre-authorized_code"), TxCode: v.Get("tx_code")}
	if r.GrantType != GrantPreAuthorizedCode {
		return nil, NewError(CodeUnsupportedGrantType, "", "grant_type %q is not supported; use %s", r.GrantType, GrantPreAuthorizedCode)
	}
	if r.PreAuthorizedCode == "" {
		return nil, NewError(CodeInvalidRequest, ReasonMalformed, "pre-authorized_code is missing")
	}
	if len(r.PreAuthorizedCode) > MaxCodeLen || len(r.TxCode) > MaxCodeLen {
		return nil, NewError(CodeInvalidRequest, ReasonTooLarge, "code over %d bytes", MaxCodeLen)
	}
	return r, nil
}

// TokenResponse is the token endpoint's answer (§6.2).
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// NonceResponse is the nonce endpoint's answer (§7.2).
type NonceResponse struct {
	CNonce string `json:"c_nonce"`
}

// CredentialRequest is a credential request (§8.2).
type CredentialRequest struct {
	CredentialConfigurationID string  `json:"credential_configuration_id,omitempty"`
	CredentialIdentifier      string  `json:"credential_identifier,omitempty"`
	Proofs                    *Proofs `json:"proofs,omitempty"`
}

// Proofs holds the key proofs of a credential request (§8.2.1).
type Proofs struct {
	JWT []string `json:"jwt,omitempty"`
}

// MaxProofs bounds proofs.jwt: the largest batch_size an issuer may
// advertise (OpenID4VCI 1.0 §8.2: one credential per proof, each with its
// own key, for unlinkable presentations). An issuer refuses more than its
// own batch_size.
const MaxProofs = 32

// Validate checks the structure of a credential request.
func (r *CredentialRequest) Validate() error {
	if r.CredentialIdentifier != "" {
		return NewError(CodeInvalidCredentialRequest, ReasonMalformed, "credential_identifier is not supported; use credential_configuration_id")
	}
	if r.CredentialConfigurationID == "" {
		return NewError(CodeInvalidCredentialRequest, ReasonMalformed, "credential_configuration_id is missing")
	}
	if r.Proofs == nil || len(r.Proofs.JWT) == 0 {
		return NewError(CodeInvalidProof, ReasonMalformed, "proofs.jwt is missing")
	}
	if len(r.Proofs.JWT) > MaxProofs {
		return NewError(CodeInvalidProof, ReasonTooLarge, "%d proofs, over %d", len(r.Proofs.JWT), MaxProofs)
	}
	return nil
}

// CredentialResponse is the credential endpoint's answer (§8.3).
type CredentialResponse struct {
	Credentials    []IssuedCredential `json:"credentials"`
	NotificationID string             `json:"notification_id,omitempty"`
}

// IssuedCredential carries one credential: for mso_mdoc the base64url
// (no padding) encoding of IssuerSigned (Appendix A.2.4).
type IssuedCredential struct {
	Credential string `json:"credential"`
}

func decodeJSON(b []byte, v any) error {
	// Unknown members are ignored (extensions are allowed everywhere in
	// OpenID4VCI), and so is a member name in another case: it is not
	// taken for the member, as encoding/json would. Trailing data and
	// duplicate member names are refused. These json/v2 semantics
	// (go-json-experiment/json) read a message one way only, and decode
	// proofs and key attestations several times faster than encoding/json.
	return jsonv2.Unmarshal(b, v)
}

// Notification events (OpenID4VCI 1.0 §11.1).
const (
	EventCredentialAccepted = "credential_accepted"
	EventCredentialFailure  = "credential_failure"
	EventCredentialDeleted  = "credential_deleted"
)

// Notification error codes (OpenID4VCI 1.0 §11.3).
const (
	CodeInvalidNotificationID      = "invalid_notification_id"
	CodeInvalidNotificationRequest = "invalid_notification_request"
)

// MaxEventDescription bounds event_description.
const MaxEventDescription = 1024

// NotificationRequest is the body of a notification (§11.1).
type NotificationRequest struct {
	NotificationID   string `json:"notification_id"`
	Event            string `json:"event"`
	EventDescription string `json:"event_description,omitempty"`
}

// Validate checks a notification request's shape.
func (n *NotificationRequest) Validate() error {
	if n.NotificationID == "" || len(n.NotificationID) > MaxCodeLen {
		return NewError(CodeInvalidNotificationRequest, ReasonMalformed, "notification_id is missing or too long")
	}
	switch n.Event {
	case EventCredentialAccepted, EventCredentialFailure, EventCredentialDeleted:
	default:
		return NewError(CodeInvalidNotificationRequest, ReasonMalformed, "event %q, want credential_accepted, credential_failure or credential_deleted", n.Event)
	}
	if len(n.EventDescription) > MaxEventDescription {
		return NewError(CodeInvalidNotificationRequest, ReasonTooLarge, "event_description over %d bytes", MaxEventDescription)
	}
	for _, r := range n.EventDescription {
		// §11.1: ASCII only, excluding '"' and '\\'.
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return NewError(CodeInvalidNotificationRequest, ReasonMalformed, "event_description must be printable ASCII without quote or backslash")
		}
	}
	return nil
}
