package keyattest

// DER encoding helpers for the simulator (attestsim) and tests: enough of
// X.690 to write a KeyDescription, including high-tag-number identifiers
// that golang.org/x/crypto/cryptobyte cannot write.

// DERElement encodes one element with the given class (0 universal, 2
// context-specific), constructed bit, tag number and content.
func DERElement(class int, constructed bool, tag int, content []byte) []byte {
	id := byte(class << 6)
	if constructed {
		id |= 0x20
	}
	var out []byte
	if tag < 31 {
		out = append(out, id|byte(tag))
	} else {
		out = append(out, id|0x1f)
		var t []byte
		for v := tag; v > 0; v >>= 7 {
			t = append([]byte{byte(v & 0x7f)}, t...)
		}
		for i := 0; i < len(t)-1; i++ {
			t[i] |= 0x80
		}
		out = append(out, t...)
	}
	n := len(content)
	switch {
	case n < 0x80:
		out = append(out, byte(n))
	case n < 0x100:
		out = append(out, 0x81, byte(n))
	case n < 0x10000:
		out = append(out, 0x82, byte(n>>8), byte(n))
	default:
		out = append(out, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	return append(out, content...)
}

// DERSequence encodes a SEQUENCE of already-encoded elements.
func DERSequence(elems ...[]byte) []byte {
	return DERElement(classUniversal, true, tagSequence, concat(elems))
}

// DERSet encodes a SET of already-encoded elements (in the given order).
func DERSet(elems ...[]byte) []byte { return DERElement(classUniversal, true, tagSet, concat(elems)) }

// DEROctetString encodes an OCTET STRING.
func DEROctetString(b []byte) []byte { return DERElement(classUniversal, false, tagOctetString, b) }

// DERBool encodes a BOOLEAN.
func DERBool(v bool) []byte {
	if v {
		return DERElement(classUniversal, false, tagBoolean, []byte{0xff})
	}
	return DERElement(classUniversal, false, tagBoolean, []byte{0})
}

// DERInt encodes an INTEGER; DEREnum an ENUMERATED.
func DERInt(v int64) []byte  { return DERElement(classUniversal, false, tagInteger, intContent(v)) }
func DEREnum(v int64) []byte { return DERElement(classUniversal, false, tagEnumerated, intContent(v)) }

// DERExplicit wraps an element in an explicit context-specific tag.
func DERExplicit(tag int, elem []byte) []byte { return DERElement(classContext, true, tag, elem) }

func intContent(v int64) []byte {
	var b []byte
	for {
		b = append([]byte{byte(v)}, b...)
		if (v < 0x80 && v >= -0x80) || len(b) == 8 {
			break
		}
		v >>= 8
	}
	return b
}

func concat(elems [][]byte) []byte {
	var out []byte
	for _, e := range elems {
		out = append(out, e...)
	}
	return out
}

// KeyDescriptionParams describe a KeyDescription to encode.
type KeyDescriptionParams struct {
	AttestationVersion  int64 // 0 is 300 (KeyMint 3)
	SecurityLevel       SecurityLevel
	Challenge           []byte
	Locked              bool
	BootState           VerifiedBootState
	OSVersion           int64 // e.g. 150000
	OSPatchLevel        int64 // YYYYMM
	PackageName         string
	SigningCertDigest   []byte
	Brand, Manufacturer string
	Model, Device       string
	HardwareEnforcedApp bool // put attestationApplicationId in hardwareEnforced (never real; for tests)
	OmitApplicationID   bool
}

// EncodeKeyDescription encodes p as a KeyDescription (DER), with the
// authorization tags in ascending order as KeyMint emits them.
func EncodeKeyDescription(p KeyDescriptionParams) []byte {
	ver := p.AttestationVersion
	if ver == 0 {
		ver = 300
	}
	bootKey := make([]byte, 32)
	bootHash := make([]byte, 32)
	rot := DERSequence(DEROctetString(bootKey), DERBool(p.Locked), DEREnum(int64(p.BootState)), DEROctetString(bootHash))
	var appID []byte
	if !p.OmitApplicationID {
		appID = DERSequence(
			DERSet(DERSequence(DEROctetString([]byte(p.PackageName)), DERInt(1))),
			DERSet(DEROctetString(p.SigningCertDigest)),
		)
	}
	var sw, hw [][]byte
	if appID != nil && !p.HardwareEnforcedApp {
		sw = append(sw, DERExplicit(tagAttestationApplicationID, DEROctetString(appID)))
	}
	hw = append(hw,
		DERExplicit(tagPurpose, DERSet(DERInt(2), DERInt(3))),
		DERExplicit(tagAlgorithm, DERInt(3)),
		DERExplicit(tagKeySize, DERInt(256)),
		DERExplicit(tagOrigin, DERInt(0)),
		DERExplicit(tagRootOfTrust, rot),
		DERExplicit(tagOSVersion, DERInt(p.OSVersion)),
		DERExplicit(tagOSPatchLevel, DERInt(p.OSPatchLevel)),
	)
	if appID != nil && p.HardwareEnforcedApp {
		hw = append(hw, DERExplicit(tagAttestationApplicationID, DEROctetString(appID)))
	}
	for _, id := range []struct {
		tag int
		v   string
	}{{tagIDBrand, p.Brand}, {tagIDDevice, p.Device}, {tagIDManufacturer, p.Manufacturer}, {tagIDModel, p.Model}} {
		if id.v != "" {
			hw = append(hw, DERExplicit(id.tag, DEROctetString([]byte(id.v))))
		}
	}
	hw = append(hw, DERExplicit(tagVendorPatchLevel, DERInt(p.OSPatchLevel*100+1)), DERExplicit(tagBootPatchLevel, DERInt(p.OSPatchLevel*100+1)))
	return DERSequence(
		DERInt(ver), DEREnum(int64(p.SecurityLevel)), DERInt(ver), DEREnum(int64(p.SecurityLevel)),
		DEROctetString(p.Challenge), DEROctetString(nil),
		DERSequence(sw...), DERSequence(hw...),
	)
}
