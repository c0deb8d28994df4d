// Package cardsim puts a simulated My Number Card — a jpki/applet card
// file — into a PC/SC reader: it serves the JPKI applet through the
// vsmartcard vpcd driver (internal/vpcd), so that any PC/SC client, the
// project's own reader (internal/pcsc with jpki/card) or third-party JPKI
// software, reads it as it would a real card on an NFC reader.
//
// The applet keeps its state in the card file: every change of a PIN or
// password retry counter, and every new PIN, is written back atomically
// (temporary file and rename) before the card answers, as a chip's
// non-volatile memory would, so a wrong PIN entered through a reader costs
// a try that survives a restart.
package cardsim

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/mynumber-mdoc/mnc/internal/apdu"
	"github.com/mynumber-mdoc/mnc/internal/vpcd"
	"github.com/mynumber-mdoc/mnc/jpki/applet"
)

// Options configure Serve. The zero value serves to reader 0 of the
// local vpcd driver and logs to slog.Default().
type Options struct {
	// Addr is the vpcd driver address; empty means vpcd.DefaultAddr
	// (reader "Virtual PCD 00 00").
	Addr string
	// Logger receives insertions, removals and the session's visible
	// events (never PINs); nil means slog.Default().
	Logger *slog.Logger
}

// Serve opens the card file at path and serves it until ctx ends (the
// card is then removed and Serve returns nil) or the driver goes away.
func Serve(ctx context.Context, path string, opts Options) error {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	a, err := applet.Open(path)
	if err != nil {
		return fmt.Errorf("cardsim: %w", err)
	}
	card, err := NewCard(a, log)
	if err != nil {
		return err
	}
	info := a.Info()
	addr := opts.Addr
	if addr == "" {
		addr = vpcd.DefaultAddr
	}
	log.Info("cardsim: serving card", "file", path, "token", info.Token, "driver", addr,
		"auth_pin_tries_left", info.AuthPINTriesLeft, "sign_password_tries_left", info.SignPWTriesLeft)
	if err := vpcd.Serve(ctx, addr, card, vpcd.WithLogger(log)); err != nil {
		return fmt.Errorf("cardsim: serve %s: %w", path, err)
	}
	return nil
}

// NewCard returns the virtual card for an applet: an apdu.Router hosting
// JPKI-AP, with vpcd.DefaultATR, logging what a card holder would see of
// a session (the application selected, PIN checks with the tries left,
// signatures) to log. It never logs command data.
func NewCard(a *applet.Card, log *slog.Logger) (vpcd.Card, error) {
	if log == nil {
		log = slog.Default()
	}
	r, err := apdu.NewRouter(&loggedApp{Application: a, log: log})
	if err != nil {
		return nil, fmt.Errorf("cardsim: %w", err)
	}
	return vpcd.NewCard(nil, &session{Router: r, log: log}), nil
}

// session logs resets: each is the start of a new reader session.
type session struct {
	*apdu.Router
	log *slog.Logger
}

func (s *session) Reset() {
	s.Router.Reset()
	s.log.Debug("cardsim: card reset")
}

// loggedApp logs the JPKI commands a holder cares about, from the
// command header and the status word only.
type loggedApp struct {
	apdu.Application
	log *slog.Logger
}

func (l *loggedApp) Process(command []byte) []byte {
	resp := l.Application.Process(command)
	if len(command) < 4 || len(resp) < 2 {
		return resp
	}
	sw := uint16(resp[len(resp)-2])<<8 | uint16(resp[len(resp)-1])
	swHex := fmt.Sprintf("%04X", sw)
	switch ins, p1 := command[1], command[2]; {
	case ins == apdu.InsSelect && p1 == apdu.SelectByDFName:
		l.log.Info("cardsim: reader selected JPKI-AP", "sw", swHex)
	case ins == apdu.InsVerify && len(command) > 4:
		switch n, retries := apdu.RetriesLeft(sw); {
		case sw == apdu.SWOK:
			l.log.Info("cardsim: PIN verified")
		case retries:
			l.log.Warn("cardsim: wrong PIN", "tries_left", n)
		case sw == apdu.SWAuthMethodBlocked:
			l.log.Warn("cardsim: PIN blocked")
		default:
			l.log.Info("cardsim: VERIFY refused", "sw", swHex)
		}
	case ins == apdu.InsChangeReferenceData:
		l.log.Info("cardsim: CHANGE REFERENCE DATA", "sw", swHex)
	case command[0] == 0x80 && ins == 0x2A:
		l.log.Info("cardsim: signature", "sw", swHex)
	}
	return resp
}
