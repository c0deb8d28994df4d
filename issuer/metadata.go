package issuer

import (
	"encoding/json"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func claims(ns string, ids ...string) []oid4vci.Claim {
	out := make([]oid4vci.Claim, 0, len(ids))
	for _, id := range ids {
		out = append(out, oid4vci.Claim{Path: []string{ns, id}})
	}
	return out
}

func credentialConfigurations() map[string]oid4vci.CredentialConfiguration {
	proof := map[string]oid4vci.ProofType{oid4vci.ProofTypeJWT: {
		ProofSigningAlgValuesSupported: []string{"ES256"},
		KeyAttestationsRequired:        &oid4vci.KeyAttestationsRequirement{KeyStorage: []string{oid4vci.KeyStorageHigh}},
	}}
	mnc := append(claims(mdoc.NameSpaceISO23220, "family_name", "given_name", "birth_date", "sex", "age_in_years", "age_birth_year",
		"age_over_18", "age_over_20", "issue_date", "expiry_date", "issuing_authority", "issuing_country"),
		claims(mdoc.NameSpaceJP, "full_name_unicode", "resident_address_unicode", "birth_date_unicode", "sex_unicode")...)
	hic := claims(mdoc.NameSpaceHIC, "insurer_number", "insured_card_symbol", "insured_number", "insured_branch_number",
		"insured_relationship", "qualification_valid_from", "qualification_valid_until", "copayment_ratio")
	mk := func(docType, name string, cl []oid4vci.Claim) oid4vci.CredentialConfiguration {
		return oid4vci.CredentialConfiguration{
			Format: oid4vci.FormatMsoMdoc, Doctype: docType,
			CryptographicBindingMethodsSupported: []string{oid4vci.BindingCOSEKey},
			CredentialSigningAlgValuesSupported:  []int{oid4vci.COSEAlgES256},
			ProofTypesSupported:                  proof,
			CredentialMetadata:                   &oid4vci.CredentialMetadata{Display: []oid4vci.Display{{Name: name, Locale: "ja-JP"}}, Claims: cl},
		}
	}
	return map[string]oid4vci.CredentialConfiguration{
		oid4vci.ConfigMNC: mk(mdoc.DocTypeMNC, "マイナンバーカード", mnc),
		oid4vci.ConfigHIC: mk(mdoc.DocTypeHIC, "健康保険資格情報", hic),
	}
}

// Metadata returns the credential issuer metadata.
func (s *Service) Metadata() *oid4vci.IssuerMetadata {
	u := s.cfg.IssuerURL
	m := &oid4vci.IssuerMetadata{
		CredentialIssuer: u, CredentialEndpoint: u + oid4vci.PathCredential, NonceEndpoint: u + oid4vci.PathNonce,
		NotificationEndpoint:              u + oid4vci.PathNotification,
		Display:                           []oid4vci.Display{{Name: "My Number Card smartphone credentials (development)", Locale: "en"}},
		CredentialConfigurationsSupported: s.configsMeta,
		MNC: &oid4vci.MNCEndpoints{Enrol: u + oid4vci.PathEnrol, CardRevoke: u + oid4vci.PathCardRevoke,
			DeviceRequest: u + oid4vci.PathDeviceRequest, StatusListBase: u + oid4vci.PathStatusList},
	}
	if s.cfg.BatchSize > 1 {
		m.BatchCredentialIssuance = &oid4vci.BatchCredentialIssuance{BatchSize: s.cfg.BatchSize}
	}
	if !s.cfg.Production {
		m.MNC.DevAttest = u + oid4vci.PathDevAttest
	}
	return m
}

// AuthorizationServerMetadata returns the RFC 8414 metadata: this issuer is
// its own authorization server for the pre-authorized code flow.
func (s *Service) AuthorizationServerMetadata() *oid4vci.AuthorizationServerMetadata {
	return &oid4vci.AuthorizationServerMetadata{
		Issuer: s.cfg.IssuerURL, TokenEndpoint: s.cfg.IssuerURL + oid4vci.PathToken,
		GrantTypesSupported: []string{oid4vci.GrantPreAuthorizedCode}, PreAuthorizedGrantAnonymousAccess: true,
		ResponseTypesSupported: []string{},
	}
}
