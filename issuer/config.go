package issuer

import (
	"crypto/x509"
	"log/slog"
	"time"

	"github.com/mynumber-mdoc/mnc/issuer/store"
	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
)

// Defaults of Config.
const (
	DefaultNonceTTL           = 5 * time.Minute
	DefaultOfferTTL           = 15 * time.Minute
	DefaultTokenTTL           = 10 * time.Minute
	DefaultCredentialValidity = 90 * 24 * time.Hour
	DefaultStatusListSize     = 1 << 17 // 131,072 entries, 32 KiB at 2 bits
	DefaultStatusListTTL      = 5 * time.Minute
	// MaxStatusListTTL bounds the ttl: verifiers cap the ttl they honour
	// (this project's at an hour) and find a token stale past it, and a
	// long ttl delays a revocation reaching them.
	MaxStatusListTTL          = time.Hour
	DefaultStatusListValidity = 24 * time.Hour
	DefaultMaxBody            = 64 << 10
	DefaultRateLimit          = 60 // requests per minute per client on nonce/token/enrol
	// DefaultBatchSize is batch_size (OpenID4VCI 1.0 §12.2.4): credentials
	// per request, each with its own device key, so the holder can show a
	// fresh MSO to every verifier (ISO/IEC 18013-5:2021 §E.8.5 privacy).
	DefaultBatchSize = 10
)

// VerifierUseReportConfig governs use reports from verifiers: they are
// taken only when Enabled and from a verifier holding one of Credentials
// (its name → lower-case hex SHA-256 of its bearer credential), and they are
// recorded only for holders who opted in to use reports (notify_use);
// otherwise they are dropped, with the same answer, so a verifier learns
// nothing about the holder's choice.
type VerifierUseReportConfig struct {
	Enabled     bool
	Credentials map[string]string
}

// ReasonDuplicateKey: two proofs of a batch use the same key.
const ReasonDuplicateKey = "duplicate_key"

// DefaultAllowedModels is the development allow-list of verified device
// models (models with a GlobalPlatform secure element). Production
// deployments configure their own.
var DefaultAllowedModels = []string{
	"iPhone15,2", "iPhone15,3", "iPhone15,4", "iPhone15,5", "iPhone16,1", "iPhone16,2", "iPhone17,1", "iPhone17,2", "iPhone17,3", "iPhone17,4",
	"Pixel 8", "Pixel 8 Pro", "Pixel 9", "Pixel 9 Pro", "SC-51E", "SO-51E", "SH-51E",
}

// Config configures a Service. Zero values take the defaults above.
type Config struct {
	// IssuerURL is the credential issuer identifier and the base of every
	// endpoint URL (e.g. "http://127.0.0.1:8080"). Required.
	IssuerURL string
	// Store keeps the state. Required.
	Store Storage
	// DocumentSigner signs MSOs. Required.
	DocumentSigner DocumentSigner
	// StatusListSigner signs status list tokens. Required.
	StatusListSigner StatusListSigner
	// CA publishes the CA certificates and CRLs, issues reader
	// certificates and revokes. Required.
	CA CertificateAuthority
	// KeyAttester, when set and not Production, serves the development
	// attestation endpoint.
	KeyAttester KeyAttestationSigner
	// JPKI verifies card signature certificates (chain + CRL).
	JPKI *jpki.Verifier
	// PhoneCA, when set, issues JPKI phone certificates at enrolment.
	PhoneCA PhoneCA
	// AuthLinks, when set, keeps the insurance registrations that online
	// qualification confirmation answers from; nil disables both
	// endpoints (unavailable).
	AuthLinks store.AuthLinks
	// AttestationRoots verify the wallet provider's key attestations (the
	// OpenID4VCI key-attestation JWT).
	AttestationRoots *x509.CertPool
	// Platform verifies the platforms' own attestations (Android Key
	// Attestation, App Attest) against which the wallet provider's
	// statement is checked.
	Platform PlatformConfig
	// AllowedModels is the allow-list; nil means DefaultAllowedModels.
	AllowedModels []string
	// Production disables the development attestation endpoint; the
	// caller also configures jpki.ModeProduction and PKCS#11 keys.
	Production bool
	// RequireTxCode adds a tx_code to enrolment offers, delivered to the
	// holder through the notification channel.
	RequireTxCode bool
	// SuspendOnBlock is the default of Block.SuspendExisting for admin
	// blocks that do not say.
	SuspendOnBlock bool

	NonceTTL           time.Duration
	OfferTTL           time.Duration
	TokenTTL           time.Duration
	CredentialValidity time.Duration
	StatusListSize     uint64
	// BatchSize caps proofs per credential request (1 disables batches);
	// zero is DefaultBatchSize, at most oid4vci.MaxProofs.
	BatchSize          int
	StatusListTTL      time.Duration
	StatusListValidity time.Duration
	// StatusListSigned, when set, is told each status list signed (its
	// iat and how long compressing and signing both forms took): the
	// metrics of the server show list age and signing time.
	StatusListSigned func(listID string, issuedAt time.Time, took time.Duration)
	MaxBody          int64
	// RateLimit is requests per minute per client IP on the nonce, token
	// and enrolment endpoints; negative disables.
	RateLimit int
	// VerifierUseReports lets verifiers report uses (POST
	// /mnc/verifier-use). Off by default.
	VerifierUseReports VerifierUseReportConfig
	// AdminToken authorises /admin endpoints; "" disables them.
	AdminToken string

	// Now is the clock of every protocol decision (expiry, validity,
	// rate limits, caches); nil means time.Now. Tests pin it.
	Now    func() time.Time
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.NonceTTL == 0 {
		c.NonceTTL = DefaultNonceTTL
	}
	if c.OfferTTL == 0 {
		c.OfferTTL = DefaultOfferTTL
	}
	if c.TokenTTL == 0 {
		c.TokenTTL = DefaultTokenTTL
	}
	if c.CredentialValidity == 0 {
		c.CredentialValidity = DefaultCredentialValidity
	}
	if c.StatusListSize == 0 {
		c.StatusListSize = DefaultStatusListSize
	}
	if c.StatusListTTL == 0 {
		c.StatusListTTL = DefaultStatusListTTL
	}
	if c.StatusListValidity == 0 {
		c.StatusListValidity = DefaultStatusListValidity
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.BatchSize > oid4vci.MaxProofs {
		c.BatchSize = oid4vci.MaxProofs
	}
	if c.MaxBody == 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.RateLimit == 0 {
		c.RateLimit = DefaultRateLimit
	}
	if c.AllowedModels == nil {
		c.AllowedModels = DefaultAllowedModels
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}
