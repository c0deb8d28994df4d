// Package apdu is the project's one ISO/IEC 7816-4 APDU codec and the
// pieces every card path shares:
//
//   - Command and Response encode and parse command and response APDUs,
//     short and extended (ISO/IEC 7816-4 §5.1), with bounded,
//     cryptobyte-based parsing of hostile input; the status words
//     (ISO/IEC 7816-4 §5.6) are named constants.
//   - Transport is the reader side: send one command APDU, get the
//     response APDU. The JPKI client (jpki/card), the mdoc NFC reader and
//     the PC/SC reader (internal/pcsc) all speak it.
//   - Chain and GetResponse build command chains (ISO/IEC 7816-4 §5.3.3)
//     and GET RESPONSE commands within a reader's limits.
//   - Trace decorates a Transport with a hex log of every exchange,
//     masking PINs and passwords.
//   - Router is the card side of a virtual card hosting several
//     applications, selected by AID with the ISO/IEC 7816-4 SELECT
//     command, as a phone does for NFC: the Type 4 Tag NDEF application,
//     the mdoc application and the JPKI applet.
package apdu
