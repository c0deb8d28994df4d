package keyattest_test

import (
	"bytes"
	"testing"

	"github.com/mynumber-mdoc/mnc/mdoc/keyattest"
)

func TestParseKeyDescription(t *testing.T) {
	good := keyattest.EncodeKeyDescription(goodParams())
	kd, err := keyattest.ParseKeyDescription(good)
	if err != nil {
		t.Fatal(err)
	}
	hw := kd.HardwareEnforced
	if kd.AttestationVersion != 300 || kd.AttestationSecurityLevel != keyattest.SecurityStrongBox || !bytes.Equal(kd.AttestationChallenge, []byte("nonce-1")) ||
		hw.RootOfTrust == nil || !hw.RootOfTrust.DeviceLocked || hw.Model != "Pixel 9" || *hw.OSVersion != 150000 ||
		kd.SoftwareEnforced.AttestationApplicationID.Packages[0].Name != "jp.mnc.wallet" {
		t.Errorf("parsed %+v", kd)
	}
	seq := func(elems ...[]byte) []byte { return keyattest.DERSequence(elems...) }
	i, e, o := keyattest.DERInt, keyattest.DEREnum, keyattest.DEROctetString
	empty := seq()
	cases := map[string][]byte{
		"trailing data after SEQUENCE":  append(append([]byte{}, good...), 0),
		"trailing element in SEQUENCE":  seq(i(3), e(1), i(3), e(1), o(nil), o(nil), empty, empty, i(0)),
		"security level as INTEGER":     seq(i(3), i(1), i(3), e(1), o(nil), o(nil), empty, empty),
		"security level 3":              seq(i(3), e(3), i(3), e(1), o(nil), o(nil), empty, empty),
		"challenge as INTEGER":          seq(i(3), e(1), i(3), e(1), i(5), o(nil), empty, empty),
		"missing hardwareEnforced":      seq(i(3), e(1), i(3), e(1), o(nil), o(nil), empty),
		"osVersion as OCTET STRING":     seq(i(3), e(1), i(3), e(1), o(nil), o(nil), empty, seq(keyattest.DERExplicit(705, o([]byte("13"))))),
		"implicit (primitive) tag":      seq(i(3), e(1), i(3), e(1), o(nil), o(nil), empty, seq(keyattest.DERElement(2, false, 705, []byte{1}))),
		"repeated rootOfTrust":          seq(i(3), e(1), i(3), e(1), o(nil), o(nil), empty, seq(keyattest.DERExplicit(705, i(1)), keyattest.DERExplicit(705, i(2)))),
		"rootOfTrust BOOLEAN not DER":   seq(i(3), e(1), i(3), e(1), o(nil), o(nil), empty, seq(keyattest.DERExplicit(704, seq(o(nil), keyattest.DERElement(0, false, 1, []byte{1}), e(0))))),
		"explicit tag trailing data":    seq(i(3), e(1), i(3), e(1), o(nil), o(nil), empty, seq(keyattest.DERExplicit(705, append(i(1), i(2)...)))),
		"not a SEQUENCE":                o(good),
		"truncated":                     good[:len(good)-3],
		"challenge over 128 bytes":      seq(i(3), e(1), i(3), e(1), o(make([]byte, 129)), o(nil), empty, empty),
		"indefinite length":             {0x30, 0x80, 0, 0},
		"non-minimal high tag":          seq(i(3), e(1), i(3), e(1), o(nil), o(nil), empty, seq([]byte{0xbf, 0x80, 0x85, 0x41, 0x03, 0x02, 0x01, 0x01})),
		"attestationApplicationId junk": seq(i(3), e(1), i(3), e(1), o(nil), o(nil), seq(keyattest.DERExplicit(709, o([]byte{1, 2, 3}))), empty),
	}
	for name, der := range cases {
		if _, err := keyattest.ParseKeyDescription(der); err == nil {
			t.Errorf("%s: accepted", name)
		} else if c := keyattest.CodeOf(err); c != keyattest.CodeMalformed && c != keyattest.CodeTooLarge {
			t.Errorf("%s: code %s", name, c)
		}
	}
	// Unknown tags are skipped, in any order (leniency, as Google's parser).
	lenient := seq(i(3), e(1), i(3), e(1), o(nil), o(nil), empty, seq(keyattest.DERExplicit(706, i(202401)), keyattest.DERExplicit(705, i(140000)), keyattest.DERExplicit(724, o([]byte("future")))))
	kd, err = keyattest.ParseKeyDescription(lenient)
	if err != nil || *kd.HardwareEnforced.OSVersion != 140000 {
		t.Errorf("lenient: %v", err)
	}
}
