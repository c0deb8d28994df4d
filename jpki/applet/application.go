package applet

import (
	"bytes"

	"github.com/mynumber-mdoc/mnc/jpki"
)

// AID returns JPKI-AP's application identifier. With Process and
// Deselect it makes a Card an apdu.Application, so that a virtual card
// (an apdu.Router) can host it next to other applications, as a phone's
// secure element hosts the JPKI applet next to the wallet's NFC services.
func (c *Card) AID() []byte { return bytes.Clone(jpki.AID) }

// Process answers one command APDU: Transmit without its error result,
// which is always nil for the emulated chip.
func (c *Card) Process(command []byte) []byte {
	resp, _ := c.Transmit(command)
	return resp
}

// Deselect ends the session when another application is selected or the
// card is reset: nothing selected, no verification held (as Reset).
func (c *Card) Deselect() { c.Reset() }
