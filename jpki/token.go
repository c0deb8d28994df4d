package jpki

import (
	"errors"
	"fmt"
	"strings"
)

// AID is the application identifier of the JPKI applet (JPKI-AP).
var AID = []byte{0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01}

// Elementary file identifiers of JPKI-AP (J-LIS, JPKI-AP interface).
const (
	EFSignCert   uint16 = 0x0001 // signature certificate (reading needs the signature password)
	EFSignCACert uint16 = 0x0002 // root that issued the signature certificate
	EFTokenInfo  uint16 = 0x0006 // token label, padded with spaces
	EFAuthCert   uint16 = 0x000A // auth certificate (reading needs the PIN on phone tokens)
	EFAuthCACert uint16 = 0x000B // root that issued the auth certificate
	EFAuthKey    uint16 = 0x0017 // auth private key: SIGN only
	EFAuthPIN    uint16 = 0x0018 // auth PIN reference data: VERIFY, CHANGE REFERENCE DATA
	EFSignKey    uint16 = 0x001A // signature private key: SIGN only
	EFSignPIN    uint16 = 0x001B // signature password reference data
)

// TokenInfoLen is the length of EF 0006: the label padded with spaces.
const TokenInfoLen = 20

// Token is the label in EF 0006 that names the kind of token.
type Token string

// Token labels, read from EF 0006 (token information).
const (
	TokenCard Token = "JPKIAPICCTOKEN2" // My Number Card
	TokenGPSE Token = "JPKIAPGPSETOKEN" // Android GP-SE
	TokenIOS  Token = "JPKIAPIOSTOKEN"  // iPhone
)

// Phone reports whether t is a smartphone token. On those the auth
// certificate is read only after the PIN (so on the Android GP-SE token;
// this project applies it to the iPhone token too).
func (t Token) Phone() bool { return t == TokenGPSE || t == TokenIOS }

// Form returns the certificate form the token carries.
func (t Token) Form() Form {
	if t.Phone() {
		return FormSmartphone
	}
	return FormCard
}

// ParseToken accepts a label or one of "card", "gpse", "android", "ios",
// "iphone".
func ParseToken(s string) (Token, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "card", strings.ToLower(string(TokenCard)):
		return TokenCard, nil
	case "gpse", "android", strings.ToLower(string(TokenGPSE)):
		return TokenGPSE, nil
	case "ios", "iphone", strings.ToLower(string(TokenIOS)):
		return TokenIOS, nil
	}
	return "", fmt.Errorf("jpki: unknown token %q (want card, gpse or ios)", s)
}

// Reference data rules of the card and the smartphone JPKI service: the
// auth PIN is 4 digits with 3 tries; the signature password is 6–16
// characters of A–Z and 0–9 with 5 tries.
const (
	AuthPINTries      = 3
	SignPasswordTries = 5
	AuthPINLen        = 4
	SignPasswordMin   = 6
	SignPasswordMax   = 16
)

// ValidateAuthPIN checks the auth PIN rule: exactly 4 digits.
func ValidateAuthPIN(pin string) error {
	if len(pin) != AuthPINLen {
		return fmt.Errorf("jpki: auth PIN must be %d digits, got %d characters", AuthPINLen, len(pin))
	}
	for i := 0; i < len(pin); i++ {
		if pin[i] < '0' || pin[i] > '9' {
			return errors.New("jpki: auth PIN must be digits only")
		}
	}
	return nil
}

// ValidateSignPassword checks the signature password rule: 6–16
// characters, each A–Z or 0–9.
func ValidateSignPassword(pw string) error {
	if len(pw) < SignPasswordMin || len(pw) > SignPasswordMax {
		return fmt.Errorf("jpki: signature password must be %d-%d characters, got %d", SignPasswordMin, SignPasswordMax, len(pw))
	}
	for i := 0; i < len(pw); i++ {
		c := pw[i]
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return errors.New("jpki: signature password must use only A-Z and 0-9")
		}
	}
	return nil
}
