package apdu

import (
	"bytes"
	"testing"
)

func TestChain(t *testing.T) {
	data := make([]byte, 600)
	for i := range data {
		data[i] = byte(i)
	}
	cmds, err := Chain(Command{CLA: 0x00, INS: 0xC3, Data: data, Ne: 256}, 255)
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) != 3 {
		t.Fatalf("%d commands", len(cmds))
	}
	var got []byte
	for i, b := range cmds {
		c, err := ParseCommand(b)
		if err != nil {
			t.Fatal(err)
		}
		last := i == len(cmds)-1
		if (c.CLA == CLAChaining) == last || c.INS != 0xC3 {
			t.Fatalf("command %d: CLA %02X INS %02X", i, c.CLA, c.INS)
		}
		if wantNe := map[bool]int{true: 256, false: 0}[last]; c.Ne != wantNe {
			t.Fatalf("command %d: Ne %d", i, c.Ne)
		}
		if len(b) > 4+1+255+1 || b[4] == 0 {
			t.Fatalf("command %d is not short: % X…", i, b[:8])
		}
		got = append(got, c.Data...)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("chain does not carry the data")
	}
	// Extended chunks, extended Ne on the last only.
	cmds, err = Chain(Command{CLA: 0x00, INS: 0xC3, Data: data, Ne: MaxExtendedNe}, 500)
	if err != nil || len(cmds) != 2 || cmds[0][0] != CLAChaining || cmds[1][0] != 0 {
		t.Fatalf("extended chain: %d commands, %v", len(cmds), err)
	}
	if c, _ := ParseCommand(cmds[0]); c.Ne != 0 || len(c.Data) != 500 {
		t.Fatalf("first extended command %+v", c)
	}
	// No data: one command.
	if cmds, err := Chain(Command{INS: 0xB0, Ne: 10}, 255); err != nil || len(cmds) != 1 || !bytes.Equal(cmds[0], []byte{0, 0xB0, 0, 0, 10}) {
		t.Fatalf("empty chain % X %v", cmds, err)
	}
	for _, bad := range []struct {
		cmd Command
		max int
	}{{Command{INS: 0xC3}, 0}, {Command{INS: 0xC3}, MaxExtendedNc + 1}, {Command{CLA: 0x80, INS: 0x2A}, 255}, {Command{Ne: MaxExtendedNe + 1}, 255}} {
		if _, err := Chain(bad.cmd, bad.max); err == nil {
			t.Errorf("Chain(%+v, %d) accepted", bad.cmd, bad.max)
		}
	}
}

func TestGetResponse(t *testing.T) {
	for _, tc := range []struct {
		sw2  byte
		max  int
		want []byte
	}{
		{0x20, 65536, []byte{0, 0xC0, 0, 0, 0x20}},
		{0x00, 256, []byte{0, 0xC0, 0, 0, 0x00}},
		{0x00, 65536, []byte{0, 0xC0, 0, 0, 0, 0, 0}},
		{0x00, 65533, []byte{0, 0xC0, 0, 0, 0, 0xFF, 0xFD}},
	} {
		if got := GetResponse(tc.sw2, tc.max); !bytes.Equal(got, tc.want) {
			t.Errorf("GetResponse(%02X, %d) = % X, want % X", tc.sw2, tc.max, got, tc.want)
		}
	}
}
