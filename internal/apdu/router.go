package apdu

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
)

// Application is one application of a virtual card, as hosted by a
// Router: the NFC Forum Type 4 Tag NDEF application, the ISO/IEC 18013-5
// mdoc application, the JPKI applet.
//
// Process answers one command APDU with a response APDU (data ‖ SW1-SW2)
// and never fails: a card's only way to say no is a status word. It
// receives the SELECT that selected it, so it can answer it (with FCI if
// P2 asks) and start a fresh session; it is only called while selected.
// Deselect tells it that another application was selected or the card
// was reset or powered off: session state (verified PINs, selected files,
// half-received messages) must go.
type Application interface {
	AID() []byte
	Process(command []byte) []byte
	Deselect()
}

// SELECT by DF name: the ISO/IEC 7816-4 SELECT command with P1 04.
const (
	InsSelect      = 0xA4
	SelectByDFName = 0x04
)

// Router status words (ISO/IEC 7816-4 §5.6, Table 6).
const (
	// SWLogicalChannelNotSupported (6881) answers a command on a logical
	// channel other than the basic one: the router keeps one selection.
	SWLogicalChannelNotSupported uint16 = 0x6881
)

// Router is the card side of a virtual card hosting several applications
// by AID, as a phone's NFC controller routes APDUs to host-card-emulation
// services and secure-element applets.
//
// A SELECT by DF name (CLA with the basic channel, INS A4, P1 04) whose
// data equals a registered AID deselects the current application and
// passes the SELECT to the matching one, which stays selected if it
// answers a normal or warning status (9000, 61XX, 62XX, 63XX). Any other
// command goes to the selected application.
//
// With no application selected, a non-SELECT command is answered 6985
// (conditions of use not satisfied, ISO/IEC 7816-4 §5.6 Table 6). A
// SELECT of an AID no application has is answered 6A82 (file or
// application not found) and leaves the current application selected, so
// a reader probing for an application the card lacks does not break the
// session in progress. AIDs match exactly: selection by a truncated DF
// name and P2 "next occurrence" (ISO/IEC 7816-4 SELECT) are not
// supported. Commands whose CLA names a logical channel other than 0
// (§5.4.1, §5.4.2) get 6881. A command shorter than its four header
// bytes gets 6700.
//
// A Router is safe for concurrent use; it processes one command at a
// time, as a card does.
type Router struct {
	mu       sync.Mutex
	apps     []Application
	selected Application
}

// AID length bounds: a 5-byte registered application provider identifier
// and up to 11 bytes of proprietary extension (ISO/IEC 7816-5).
const (
	minAIDLen = 5
	maxAIDLen = 16
)

// NewRouter returns a Router hosting apps, with none selected. AIDs must
// be 5 to 16 bytes (ISO/IEC 7816-5) and distinct.
func NewRouter(apps ...Application) (*Router, error) {
	seen := map[string]bool{}
	for i, a := range apps {
		if a == nil {
			return nil, fmt.Errorf("apdu: router: application %d is nil", i)
		}
		aid := a.AID()
		if len(aid) < minAIDLen || len(aid) > maxAIDLen {
			return nil, fmt.Errorf("apdu: router: application %d: AID %X is %d bytes, want %d to %d", i, aid, len(aid), minAIDLen, maxAIDLen)
		}
		if seen[string(aid)] {
			return nil, fmt.Errorf("apdu: router: AID %X registered twice", aid)
		}
		seen[string(aid)] = true
	}
	if len(apps) == 0 {
		return nil, errors.New("apdu: router: no applications")
	}
	return &Router{apps: apps}, nil
}

// Reset deselects the current application, as a power-on or a warm reset
// of the card does (ISO/IEC 7816-3 cold and warm reset; ISO/IEC 14443-4
// activation after a new tap).
func (r *Router) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.selected != nil {
		r.selected.Deselect()
		r.selected = nil
	}
}

// Selected returns the AID of the selected application, or nil.
func (r *Router) Selected() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.selected == nil {
		return nil
	}
	return bytes.Clone(r.selected.AID())
}

// Process answers one command APDU.
func (r *Router) Process(command []byte) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(command) < 4 {
		return swBytes(SWWrongLength)
	}
	if channel(command[0]) != 0 {
		return swBytes(SWLogicalChannelNotSupported)
	}
	if command[0]&0x80 == 0 && command[1] == InsSelect && command[2] == SelectByDFName {
		return r.selectApp(command)
	}
	if r.selected == nil {
		return swBytes(SWConditionsNotSatisfied)
	}
	return r.selected.Process(command)
}

func (r *Router) selectApp(command []byte) []byte {
	c, err := ParseCommand(command)
	if err != nil {
		return swBytes(SWWrongLength)
	}
	var app Application
	for _, a := range r.apps {
		if bytes.Equal(a.AID(), c.Data) {
			app = a
			break
		}
	}
	if app == nil {
		return swBytes(SWFileNotFound)
	}
	if r.selected != nil {
		r.selected.Deselect()
		r.selected = nil
	}
	resp := app.Process(command)
	if len(resp) >= 2 && normalOrWarning(resp[len(resp)-2]) {
		r.selected = app
	}
	return resp
}

// normalOrWarning reports whether SW1 means the command was processed:
// 90 (with 00), 61 (more data), 62 and 63 (warnings), ISO/IEC 7816-4 §5.6
// Table 5.
func normalOrWarning(sw1 byte) bool {
	return sw1 == 0x90 || sw1 == SW1BytesAvailable || sw1 == 0x62 || sw1 == 0x63
}

// channel returns the logical channel number a CLA byte names (ISO/IEC
// 7816-4 §5.4.1): bits 2-1 for the first interindustry values (000x xxxx),
// 4 + bits 4-1 for the further ones (01xx xxxx). Proprietary classes (1xxx
// xxxx) are taken to use the basic channel, as the JPKI applet's 80 does.
func channel(cla byte) int {
	switch {
	case cla&0x80 != 0:
		return 0
	case cla&0x40 != 0:
		return 4 + int(cla&0x0F)
	case cla&0xE0 == 0:
		return int(cla & 0x03)
	}
	return 0 // 001x xxxx is reserved; let the application judge it
}

func swBytes(sw uint16) []byte { return []byte{byte(sw >> 8), byte(sw)} }
