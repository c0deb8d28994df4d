// Package card is the reader side of the JPKI applet protocol: it drives
// any APDU transport (an in-memory applet, a PC/SC reader through
// internal/pcsc, an NFC phone) to select JPKI-AP, read certificates,
// verify the PIN or password and sign, and maps ISO/IEC 7816 status words to *Error values with stable codes.
package card

import (
	"context"
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mynumber-mdoc/mnc/internal/apdu"
	"github.com/mynumber-mdoc/mnc/jpki"
)

// Transport is the project's APDU transport (internal/apdu.Transport),
// named here so that callers of this package need not import it.
type Transport = apdu.Transport

// TransportFunc adapts a function to Transport.
type TransportFunc = apdu.TransportFunc

// InMemory adapts a transport without context, such as *applet.Card,
// checking ctx before each command.
func InMemory(t interface {
	Transmit(command []byte) ([]byte, error)
}) Transport {
	return TransportFunc(func(ctx context.Context, command []byte) ([]byte, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return t.Transmit(command)
	})
}

// Key names one of the two key pairs.
type Key int

// The two JPKI key pairs.
const (
	KeyAuth Key = iota + 1
	KeySign
)

func (k Key) String() string {
	if k == KeySign {
		return "signature"
	}
	return "auth"
}

// readChunk is the READ BINARY size: short APDUs, Le 00 = 256 bytes, work
// with every reader and card.
const readChunk = apdu.MaxShortNe

// Client drives a JPKI applet over a Transport. It is not safe for
// concurrent use: a card session is sequential.
type Client struct {
	t Transport
}

// New returns a client over t.
func New(t Transport) *Client { return &Client{t: t} }

// transmit sends cmd and returns the response, mapping transport failures
// and unparsable responses.
func (c *Client) transmit(ctx context.Context, op string, cmd *apdu.Command) (*apdu.Response, error) {
	b, err := cmd.Bytes()
	if err != nil {
		return nil, &Error{Op: op, Code: CodeMalformed, Err: err}
	}
	out, err := c.t.Transmit(ctx, b)
	if err != nil {
		return nil, &Error{Op: op, Code: CodeTransport, Err: err}
	}
	resp, err := apdu.ParseResponse(out)
	if err != nil {
		return nil, &Error{Op: op, Code: CodeMalformed, Err: err}
	}
	return resp, nil
}

// statusError maps a status word other than success to an *Error.
func statusError(op string, sw uint16) error {
	if n, ok := apdu.RetriesLeft(sw); ok {
		if n == 0 {
			return &Error{Op: op, Code: CodeLocked, SW: sw}
		}
		return &Error{Op: op, Code: CodeWrongPIN, SW: sw, TriesLeft: n}
	}
	switch sw {
	case apdu.SWAuthMethodBlocked:
		return &Error{Op: op, Code: CodeLocked, SW: sw}
	case apdu.SWSecurityNotSatisfied:
		return &Error{Op: op, Code: CodeSecurityStatus, SW: sw}
	case apdu.SWFileNotFound:
		return &Error{Op: op, Code: CodeNotFound, SW: sw}
	}
	return &Error{Op: op, Code: CodeCard, SW: sw}
}

func (c *Client) run(ctx context.Context, op string, cmd *apdu.Command) ([]byte, error) {
	resp, err := c.transmit(ctx, op, cmd)
	if err != nil {
		return nil, err
	}
	if resp.SW != apdu.SWOK {
		return nil, statusError(op, resp.SW)
	}
	return resp.Data, nil
}

// Select selects JPKI-AP. It also ends any verification held on the card.
func (c *Client) Select(ctx context.Context) error {
	_, err := c.run(ctx, "select JPKI-AP", &apdu.Command{CLA: 0x00, INS: 0xA4, P1: 0x04, P2: 0x0C, Data: jpki.AID})
	return err
}

func (c *Client) selectEF(ctx context.Context, ef uint16) error {
	_, err := c.run(ctx, fmt.Sprintf("select EF %04X", ef), &apdu.Command{CLA: 0x00, INS: 0xA4, P1: 0x02, P2: 0x0C, Data: []byte{byte(ef >> 8), byte(ef)}})
	return err
}

// readBinary reads n bytes at off from the selected EF; it may return fewer
// at the end of the file.
func (c *Client) readBinary(ctx context.Context, op string, off, n int) ([]byte, bool, error) {
	if off > 0x7FFF {
		return nil, false, &Error{Op: op, Code: CodeMalformed, Err: fmt.Errorf("offset %d beyond 15 bits", off)}
	}
	resp, err := c.transmit(ctx, op, &apdu.Command{CLA: 0x00, INS: 0xB0, P1: byte(off >> 8), P2: byte(off), Ne: n})
	if err != nil {
		return nil, false, err
	}
	switch resp.SW {
	case apdu.SWOK:
		return resp.Data, false, nil
	case apdu.SWEndOfFile:
		return resp.Data, true, nil
	}
	return nil, false, statusError(op, resp.SW)
}

// ReadToken reads EF 0006 and returns the token label.
func (c *Client) ReadToken(ctx context.Context) (jpki.Token, error) {
	if err := c.selectEF(ctx, jpki.EFTokenInfo); err != nil {
		return "", err
	}
	b, _, err := c.readBinary(ctx, "read token info", 0, jpki.TokenInfoLen)
	if err != nil {
		return "", err
	}
	return jpki.Token(strings.TrimRight(string(b), " \x00")), nil
}

// ReadCertificate selects a certificate EF and reads one DER certificate
// from it: the length comes from the DER header, so padding after the
// certificate (as on real cards) is never read.
func (c *Client) ReadCertificate(ctx context.Context, ef uint16) ([]byte, error) {
	op := fmt.Sprintf("read certificate EF %04X", ef)
	if err := c.selectEF(ctx, ef); err != nil {
		return nil, err
	}
	head, _, err := c.readBinary(ctx, op, 0, 4)
	if err != nil {
		return nil, err
	}
	total, err := derLength(head)
	if err != nil {
		return nil, &Error{Op: op, Code: CodeMalformed, Err: err}
	}
	out := make([]byte, 0, total)
	for len(out) < total {
		n := min(total-len(out), readChunk)
		chunk, eof, err := c.readBinary(ctx, op, len(out), n)
		if err != nil {
			return nil, err
		}
		out = append(out, chunk...)
		if len(chunk) == 0 || (eof && len(out) < total) {
			return nil, &Error{Op: op, Code: CodeMalformed, Err: fmt.Errorf("file ends at %d of %d bytes", len(out), total)}
		}
	}
	return out[:total], nil
}

// derLength returns the total length of the DER SEQUENCE whose first bytes
// are head, bounded by jpki.MaxCertificateLen.
func derLength(head []byte) (int, error) {
	if len(head) < 2 || head[0] != 0x30 {
		return 0, errors.New("not a DER SEQUENCE")
	}
	var n, hdr int
	switch l := head[1]; {
	case l < 0x80:
		n, hdr = int(l), 2
	case l == 0x81 && len(head) >= 3:
		n, hdr = int(head[2]), 3
	case l == 0x82 && len(head) >= 4:
		n, hdr = int(head[2])<<8|int(head[3]), 4
	default:
		return 0, errors.New("unsupported DER length")
	}
	if n+hdr > jpki.MaxCertificateLen {
		return 0, fmt.Errorf("certificate of %d bytes is over the %d-byte limit", n+hdr, jpki.MaxCertificateLen)
	}
	return n + hdr, nil
}

// ReadAuthCertificate reads the user-authentication certificate. On phone
// tokens VerifyAuthPIN must come first.
func (c *Client) ReadAuthCertificate(ctx context.Context) ([]byte, error) {
	return c.ReadCertificate(ctx, jpki.EFAuthCert)
}

// ReadAuthCACertificate reads the root that issued the auth certificate.
func (c *Client) ReadAuthCACertificate(ctx context.Context) ([]byte, error) {
	return c.ReadCertificate(ctx, jpki.EFAuthCACert)
}

// ReadSignCertificate reads the signature certificate; VerifySignPassword
// must come first.
func (c *Client) ReadSignCertificate(ctx context.Context) ([]byte, error) {
	return c.ReadCertificate(ctx, jpki.EFSignCert)
}

// ReadSignCACertificate reads the root that issued the signature
// certificate.
func (c *Client) ReadSignCACertificate(ctx context.Context) ([]byte, error) {
	return c.ReadCertificate(ctx, jpki.EFSignCACert)
}

func pinEF(k Key) uint16 {
	if k == KeySign {
		return jpki.EFSignPIN
	}
	return jpki.EFAuthPIN
}

func keyEF(k Key) uint16 {
	if k == KeySign {
		return jpki.EFSignKey
	}
	return jpki.EFAuthKey
}

// normalize applies the client-side rule for k and returns the bytes to
// send. Signature passwords are upper-cased first, as JPKI client software
// does; a value that still breaks the rule is refused without being sent,
// so that a typo does not cost a try.
func normalize(op string, k Key, value string) ([]byte, error) {
	var err error
	if k == KeySign {
		value = strings.ToUpper(value)
		err = jpki.ValidateSignPassword(value)
	} else {
		err = jpki.ValidateAuthPIN(value)
	}
	if err != nil {
		return nil, &Error{Op: op, Code: CodeInvalidPIN, Err: err}
	}
	return []byte(value), nil
}

// Verify verifies the auth PIN (KeyAuth) or signature password (KeySign).
// A wrong value gives CodeWrongPIN with the tries left; a blocked one
// CodeLocked.
func (c *Client) Verify(ctx context.Context, k Key, value string) error {
	op := "verify " + k.String() + " PIN"
	data, err := normalize(op, k, value)
	if err != nil {
		return err
	}
	if err := c.selectEF(ctx, pinEF(k)); err != nil {
		return err
	}
	_, err = c.run(ctx, op, &apdu.Command{CLA: 0x00, INS: 0x20, P1: 0x00, P2: 0x80, Data: data})
	return err
}

// VerifyAuthPIN verifies the 4-digit auth PIN.
func (c *Client) VerifyAuthPIN(ctx context.Context, pin string) error {
	return c.Verify(ctx, KeyAuth, pin)
}

// VerifySignPassword verifies the signature password.
func (c *Client) VerifySignPassword(ctx context.Context, password string) error {
	return c.Verify(ctx, KeySign, password)
}

// TriesLeft asks the card how many tries remain for k's PIN (VERIFY with
// no data), without spending one. A blocked PIN gives 0 and no error.
func (c *Client) TriesLeft(ctx context.Context, k Key) (int, error) {
	op := "read " + k.String() + " PIN tries"
	if err := c.selectEF(ctx, pinEF(k)); err != nil {
		return 0, err
	}
	resp, err := c.transmit(ctx, op, &apdu.Command{CLA: 0x00, INS: 0x20, P1: 0x00, P2: 0x80})
	if err != nil {
		return 0, err
	}
	if n, ok := apdu.RetriesLeft(resp.SW); ok {
		return n, nil
	}
	if resp.SW == apdu.SWAuthMethodBlocked {
		return 0, nil
	}
	return 0, statusError(op, resp.SW)
}

// ChangePIN sets a new auth PIN or signature password. The current one
// must have been verified in this session (Verify).
func (c *Client) ChangePIN(ctx context.Context, k Key, newValue string) error {
	op := "change " + k.String() + " PIN"
	data, err := normalize(op, k, newValue)
	if err != nil {
		return err
	}
	if err := c.selectEF(ctx, pinEF(k)); err != nil {
		return err
	}
	_, err = c.run(ctx, op, &apdu.Command{CLA: 0x00, INS: 0x24, P1: 0x01, P2: 0x80, Data: data})
	return err
}

// Sign has the card sign a DigestInfo with key k (raw PKCS#1 v1.5). The
// matching PIN must have been verified in this session.
func (c *Client) Sign(ctx context.Context, k Key, digestInfo []byte) ([]byte, error) {
	if err := c.selectEF(ctx, keyEF(k)); err != nil {
		return nil, err
	}
	return c.run(ctx, "sign with "+k.String()+" key", &apdu.Command{CLA: 0x80, INS: 0x2A, P1: 0x00, P2: 0x80, Data: digestInfo, Ne: apdu.MaxShortNe})
}

// SignChallenge signs a server nonce with the auth key: the DigestInfo of
// SHA-256(nonce), what jpki.Verifier.VerifyAuth checks.
func (c *Client) SignChallenge(ctx context.Context, nonce []byte) ([]byte, error) {
	return c.Sign(ctx, KeyAuth, jpki.DigestInfoSHA256(nonce))
}

// Authenticate runs a whole user authentication on a card: select, verify
// the PIN, read the auth certificate, sign the nonce. It returns the
// certificate and signature for jpki.Verifier.VerifyAuth.
func (c *Client) Authenticate(ctx context.Context, pin string, nonce []byte) (certDER, signature []byte, err error) {
	if err := c.Select(ctx); err != nil {
		return nil, nil, err
	}
	if err := c.VerifyAuthPIN(ctx, pin); err != nil {
		return nil, nil, err
	}
	if certDER, err = c.ReadAuthCertificate(ctx); err != nil {
		return nil, nil, err
	}
	if signature, err = c.SignChallenge(ctx, nonce); err != nil {
		return nil, nil, err
	}
	return certDER, signature, nil
}

// Signer returns a crypto.Signer that signs with key k on the card, for
// use with jpki.SignJWS or crypto/x509. pub is the key's public half (from
// its certificate); the matching PIN must be verified before signing.
// Only PKCS#1 v1.5 with SHA-256, SHA-384 or SHA-512 is supported.
func (c *Client) Signer(ctx context.Context, k Key, pub *rsa.PublicKey) crypto.Signer {
	return &cardSigner{ctx: ctx, c: c, k: k, pub: pub}
}

type cardSigner struct {
	ctx context.Context
	c   *Client
	k   Key
	pub *rsa.PublicKey
}

// DigestInfo prefixes (RFC 8017 §9.2 note 1).
var digestInfoPrefix = map[crypto.Hash][]byte{
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

func (s *cardSigner) Public() crypto.PublicKey { return s.pub }

func (s *cardSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if _, pss := opts.(*rsa.PSSOptions); pss {
		return nil, errors.New("jpki: card: the card signs PKCS#1 v1.5 only")
	}
	prefix, ok := digestInfoPrefix[opts.HashFunc()]
	if !ok || len(digest) != opts.HashFunc().Size() {
		return nil, fmt.Errorf("jpki: card: unsupported digest %v", opts.HashFunc())
	}
	return s.c.Sign(s.ctx, s.k, append(append([]byte(nil), prefix...), digest...))
}
