// Package vpcd is the card side of the vsmartcard virtual smart-card
// reader: it connects a virtual card (an apdu.Router hosting a phone's
// applications, or the emulated JPKI applet) to the vpcd driver that
// pcscd loads, so that any PC/SC client — internal/pcsc, OpenSC,
// pcsc_scan — talks to it through the real reader stack.
//
// # Protocol
//
// The driver (Debian package vsmartcard-vpcd, configured in
// /etc/reader.conf.d/vpcd) listens on TCP 127.0.0.1:35963 for reader 0
// and 35964 for reader 1; the card connects to it as a client. Every
// message, both ways, is a 2-byte big-endian length followed by that
// many bytes. A 1-byte message from the driver is a control: 00 power
// off, 01 power on, 02 reset, 04 get ATR (the card answers with its
// ATR); the first three get no answer. A longer message is a command
// APDU, answered with the response APDU.
//
// Connecting is inserting the card (or tapping a phone); closing the
// connection is removing it. pcscd notices both when it next polls the
// driver, which takes up to a few hundred milliseconds.
//
// # Limits
//
// The 2-byte length field caps every message at 65,535 bytes, below the
// longest extended command APDU (65,544 bytes) and response APDU (65,538
// bytes) of ISO/IEC 7816-4: through vpcd, command data stays under
// about 65,526 bytes and response data under 65,533. A card answer that
// does not fit is replaced with 6F00 and logged.
package vpcd
