package counter

import (
	"context"
	"strings"
	"testing"

	"github.com/mynumber-mdoc/mnc/jpki/card"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
)

type fakeDevice func(cmd []byte) ([]byte, error)

func (f fakeDevice) Transmit(_ context.Context, cmd []byte) ([]byte, error) { return f(cmd) }

func TestTapTellsDevicesApart(t *testing.T) {
	selects := func(ndef, jpki bool) fakeDevice {
		return func(cmd []byte) ([]byte, error) {
			if len(cmd) > 5 && cmd[1] == 0xA4 && cmd[2] == 0x04 {
				aid := string(cmd[5 : 5+int(cmd[4])])
				if (aid == mdoc.NDEFApplicationAID && ndef) || (aid == string(jpkiAID) && jpki) {
					return []byte{0x90, 0x00}, nil
				}
			}
			return []byte{0x6A, 0x82}, nil
		}
	}
	for _, tc := range []struct {
		name string
		dev  fakeDevice
		cfg  Config
		kind string
		code string
	}{
		{"nothing answers", selects(false, false), Config{}, "", CodeNotSupported},
		{"mdoc forced on a card", selects(false, true), Config{Mode: KindMdoc}, KindMdoc, CodeNotSupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Tap(context.Background(), tc.dev, tc.cfg)
			if err != nil || v.Code != tc.code || v.OK || v.Kind != tc.kind {
				t.Fatalf("%+v %v", v, err)
			}
		})
	}
	gone := fakeDevice(func([]byte) ([]byte, error) { return nil, card.ErrTransport })
	if _, err := Tap(context.Background(), gone, Config{}); CodeOf(err) != CodeRemoved {
		t.Fatalf("removed: %v", err)
	}
	if _, err := Tap(context.Background(), gone, Config{Mode: "bluetooth"}); err == nil || !strings.Contains(err.Error(), "mode") {
		t.Fatalf("bad mode: %v", err)
	}
}

func TestItems(t *testing.T) {
	ins := Items(CheckInsurance, 0)
	if len(ins) != 2 || ins[0].DocType != mdoc.DocTypeHIC || ins[1].DocType != mdoc.DocTypeMNC {
		t.Fatalf("insurance items %+v", ins)
	}
	age := Items(CheckAge, 18)
	if len(age) != 1 || len(age[0].NameSpaces[mdoc.NameSpaceISO23220]) != 1 {
		t.Fatalf("age items %+v", age)
	}
	if _, ok := age[0].NameSpaces[mdoc.NameSpaceISO23220]["age_over_18"]; !ok {
		t.Fatalf("age items lack age_over_18: %+v", age)
	}
}

func TestVerdictText(t *testing.T) {
	v := &Verdict{Kind: KindJPKI, Check: CheckInsurance, OK: true, Code: oid4vci.QualificationOK, JPKI: &JPKIOutcome{Token: "JPKIAPICCTOKEN2", TriesLeft: 3},
		Qualification: &oid4vci.QualificationResponse{Qualified: true, Qualification: &oid4vci.Qualification{InsurerNumber: "06139999", ValidFrom: "2020-04-01", CopaymentRatio: 30}}}
	txt := v.Text()
	for _, want := range []string{"OK  jpki insurance: qualified", "PIN tries left 3", "insurer 06139999", "copayment 30%"} {
		if !strings.Contains(txt, want) {
			t.Errorf("text lacks %q:\n%s", want, txt)
		}
	}
	ng := (&Verdict{Kind: KindJPKI, Check: "jpki_auth", Code: CodeWrongPIN, Message: "wrong PIN, 2 tries left"}).Text()
	if !strings.HasPrefix(ng, "NG  jpki jpki_auth: wrong_pin (wrong PIN, 2 tries left)") {
		t.Errorf("NG text: %q", ng)
	}
}
