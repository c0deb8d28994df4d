package walletsim

import (
	"context"
	"io"
	"testing"

	"github.com/mynumber-mdoc/mnc/mdoc"
)

// fakeConn feeds scripted reader messages to a session and collects what
// the wallet sends.
type fakeConn struct {
	in   [][]byte
	sent [][]byte
}

func (c *fakeConn) Send(b []byte) error { c.sent = append(c.sent, b); return nil }
func (c *fakeConn) End() error          { return nil }
func (c *fakeConn) Receive() ([]byte, error) {
	if len(c.in) == 0 {
		return nil, io.EOF
	}
	b := c.in[0]
	c.in = c.in[1:]
	return b, nil
}

// FuzzSession feeds arbitrary reader messages (a SessionEstablishment, then
// a SessionData) to the mdoc side of a session. Whatever arrives, the wallet
// must not panic, must release nothing without a valid ReaderAuth (the
// fuzzer cannot forge one), and must answer every bad message with a
// status-only SessionData.
func FuzzSession(f *testing.F) {
	w := newTestWallet(f, PlatformAndroid)
	p, err := w.StartProximity(ProximityOptions{Consent: Rules{ApproveAll: true}})
	if err != nil {
		f.Fatal(err)
	}
	p.Close()
	est, _ := mdoc.NewSessionEstablishment(p.eDevice.PublicKey(), []byte{1, 2, 3})
	eb, _ := est.Encode()
	f.Add(eb, []byte{})
	st, _ := mdoc.NewSessionStatus(mdoc.SessionStatusTermination).Encode()
	f.Add(eb, st)
	f.Add([]byte{0xa0}, []byte{0xa1, 0x64, 'd', 'a', 't', 'a', 0x41, 0x00})
	f.Fuzz(func(t *testing.T, first, second []byte) {
		c := &fakeConn{in: [][]byte{first, second}}
		res, _ := p.session(context.Background(), c)
		for _, h := range res.Presentations {
			if h.Outcome == "released" {
				t.Fatalf("released data to a fuzzed reader: %+v", h)
			}
		}
		for _, b := range c.sent {
			sd, err := mdoc.ParseSessionData(b)
			if err != nil {
				t.Fatalf("wallet sent an unparsable message %x", b)
			}
			if len(sd.Data) > 0 && len(res.Presentations) == 0 {
				t.Fatalf("wallet sent data without a presentation")
			}
		}
	})
}
