// Package se simulates the secure element of a phone wallet (Apple's Secure
// Enclave, an Android StrongBox or GP-SE) as the wallet simulator needs it.
//
// What it guarantees, and how the tests hold it to that:
//
//   - Keys are generated inside and never leave: callers get opaque key IDs
//     and operation handles (crypto.Signer, crypto/ecdh.KeyExchanger) whose
//     only methods sign or agree keys. No exported function, method or field
//     returns private key material.
//   - Access control per key: a key created with UserAuth needs a fresh
//     Grant from Authenticate, made with a method the element's Policy
//     allows — the device PIN, or a biometric check simulated by an explicit
//     "match" / "no match" input. Wrong PINs count down to a lockout;
//     failed biometric matches lock biometrics out.
//   - State is sealed at rest: one file, AES-256-GCM under the device key,
//     written atomically. The device key is a 32-byte file next to it that
//     stands in for the hardware-bound key of a real element (which no
//     software could read); copying the sealed file to another device, or
//     editing it, makes it unreadable (CodeSealedState).
//   - Wipe is crypto-erase: a new device key replaces the old one and an
//     empty state is sealed under it, so neither the keys nor any data sealed
//     before (SealData) can be recovered, even from a backup of the old file.
//     It runs in two stages, PrepareWipe and CommitWipe, with the state
//     write as the commit point, so that a crash anywhere leaves an element
//     that opens (wiped or not: Open finishes or forgets the wipe), and the
//     caller can seal what it keeps under the new key (SealDataStaged)
//     before the old one is gone.
//   - The JPKI smartphone applet (token JPKIAPGPSETOKEN) runs inside, on the
//     jpki/applet emulation: its RSA keys are generated here, its reference
//     data and retry counters persist in the sealed state.
package se
