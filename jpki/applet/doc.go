// Package applet emulates the JPKI applet (JPKI-AP) at the APDU level, as
// it runs on the My Number Card (token JPKIAPICCTOKEN2) and on a phone's
// secure element (JPKIAPGPSETOKEN on Android GP-SE, JPKIAPIOSTOKEN on
// iPhone), following the JPKI-AP interface published by J-LIS (公的個人認証
// サービス 利用者クライアントソフト API仕様).
//
// A Card answers command APDUs through Transmit. It holds the two key
// pairs, the four certificate files, the token label and the two
// reference data (the 4-digit auth PIN, 3 tries, and the 6–16 character
// A–Z0–9 signature password, 5 tries). Private keys never leave it: there
// is no accessor, and the only operation on them is SIGN after the
// matching VERIFY.
//
// Supported commands (CLA 00 unless noted):
//
//	SELECT      00 A4 04 0C Lc AID        select JPKI-AP (clears verification)
//	SELECT      00 A4 02 0C 02 EF         select an elementary file
//	READ BINARY 00 B0 off-hi off-lo Le    read the selected certificate/token EF
//	VERIFY      00 20 00 80 [Lc data]     with a PIN EF selected; no data: 63Cx
//	CHANGE REF  00 24 01 80 Lc new        new PIN/password, after VERIFY
//	SIGN        80 2A 00 80 Lc DI Le      raw PKCS#1 v1.5 over a DigestInfo,
//	                                      with the key EF selected and its PIN verified
//
// Reading EF 0001 (signature certificate) needs the signature password;
// on phone tokens reading EF 000A (auth certificate) needs the auth PIN.
// Status words: 6982 security status not satisfied, 6983 blocked, 63Cx
// wrong with x tries left, 6A82 file not found, 6986 command not allowed
// on this EF, 6A86 wrong P1-P2, 6700 wrong length, 6D00/6E00 unknown
// INS/CLA.
//
// # State file
//
// A card bound to a path (Create, Open) persists its state as JSON and
// rewrites it atomically (temporary file and rename) on every change of a
// retry counter or reference data, so counters survive restarts as on a
// chip. The file holds the private keys in PKCS#8: it IS the simulated
// chip. Keep it like a key file (it is written 0600); it is for tests and
// simulations only.
package applet
