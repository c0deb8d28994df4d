package apdu

import "fmt"

// CLAChaining is the command-chaining bit of an interindustry CLA
// (ISO/IEC 7816-4 §5.4.1, bit b5; chaining itself is §5.3.3): set on
// every command of a chain but the last.
const CLAChaining = 0x10

// InsGetResponse is the ISO/IEC 7816-4 GET RESPONSE command, which
// fetches the bytes a 61XX status word announced.
const InsGetResponse = 0xC0

// Chain splits one command whose data is longer than a reader or card
// takes into a chain of commands (ISO/IEC 7816-4 §5.3.3 command
// chaining): each carries at most maxData bytes (1 to MaxExtendedNc),
// all but the last have CLAChaining set in cmd.CLA, and only the last
// carries cmd.Ne. Each command uses the short form when its lengths fit
// (so maxData ≤ 255 with Ne ≤ 256 gives short APDUs only). Empty data
// gives the single command.
func Chain(cmd Command, maxData int) ([][]byte, error) {
	if maxData < 1 || maxData > MaxExtendedNc {
		return nil, fmt.Errorf("apdu: chain: chunk size %d out of range 1..%d", maxData, MaxExtendedNc)
	}
	if cmd.CLA&0x80 != 0 {
		return nil, fmt.Errorf("apdu: chain: CLA %02X is proprietary; chaining is defined for interindustry classes", cmd.CLA)
	}
	data := cmd.Data
	var out [][]byte
	for {
		n := min(len(data), maxData)
		c := Command{CLA: cmd.CLA | CLAChaining, INS: cmd.INS, P1: cmd.P1, P2: cmd.P2, Data: data[:n]}
		last := n == len(data)
		if last {
			c.CLA, c.Ne = cmd.CLA, cmd.Ne
		}
		b, err := c.Bytes()
		if err != nil {
			return nil, fmt.Errorf("apdu: chain: %w", err)
		}
		out = append(out, b)
		if last {
			return out, nil
		}
		data = data[n:]
	}
}

// GetResponse returns the GET RESPONSE command for the SW2 of a 61XX
// status word: Le XX, or for 00 ("256 or more") the largest the reader
// takes — 256 in the short form when maxResponse ≤ 256, else 65,536 in
// the extended form.
func GetResponse(sw2 byte, maxResponse int) []byte {
	ne := int(sw2)
	if sw2 == 0 {
		ne = MaxShortNe
		if maxResponse > MaxShortNe {
			ne = min(maxResponse, MaxExtendedNe)
		}
	}
	b, err := (&Command{INS: InsGetResponse, Ne: ne}).Bytes()
	if err != nil {
		panic("apdu: " + err.Error()) // 1 ≤ ne ≤ MaxExtendedNe
	}
	return b
}
