package pcsc_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/apdu"
	"github.com/mynumber-mdoc/mnc/internal/pcsc"
	"github.com/mynumber-mdoc/mnc/internal/pcsc/pcsctest"
	"github.com/mynumber-mdoc/mnc/internal/vpcd"
)

// testCard answers: INS 01 echoes its data, INS 02 returns Ne bytes,
// INS 03 stalls for two seconds, anything else 9000.
type testCard struct {
	calls  atomic.Int32
	resets atomic.Int32
}

func (c *testCard) Process(cmd []byte) []byte {
	c.calls.Add(1)
	a, err := apdu.ParseCommand(cmd)
	if err != nil {
		return []byte{0x67, 0x00}
	}
	r := apdu.Response{SW: apdu.SWOK}
	switch a.INS {
	case 0x01:
		r.Data = a.Data
	case 0x02:
		r.Data = make([]byte, a.Ne)
		for i := range r.Data {
			r.Data[i] = byte(i)
		}
	case 0x03:
		time.Sleep(2 * time.Second)
	}
	return r.Bytes()
}

func (c *testCard) Reset() { c.resets.Add(1) }

func open(t *testing.T, opts ...pcsc.Option) *pcsc.Context {
	t.Helper()
	opts = append([]pcsc.Option{pcsc.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	pc, err := pcsc.Open(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}

func connect(t *testing.T, pc *pcsc.Context, reader string) *pcsc.Card {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pc.Wait(ctx, reader)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRealReadersAndWait(t *testing.T) {
	slot := pcsctest.Require(t)
	pc := open(t)
	ctx := context.Background()
	readers, err := pc.Readers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range readers {
		found = found || r == slot.Reader
		if strings.ContainsRune(r, 0) {
			t.Errorf("reader name %q keeps NUL padding", r)
		}
	}
	if !found {
		t.Fatalf("%q not in %q", slot.Reader, readers)
	}
	// No card yet: Wait times out with ErrNoCard.
	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := pc.Wait(wctx, slot.Reader); !errors.Is(err, pcsc.ErrNoCard) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait without card: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Wait overran its deadline: %v", d)
	}
	// Unknown reader: ErrNoReader naming the real ones.
	_, err = pc.Wait(ctx, "No Such Reader 00 00")
	if !errors.Is(err, pcsc.ErrNoReader) || !strings.Contains(err.Error(), slot.Reader) {
		t.Fatalf("unknown reader: %v", err)
	}
}

func TestRealTransmitTraceAndRemoval(t *testing.T) {
	slot := pcsctest.Require(t)
	tc := &testCard{}
	conn := slot.Insert(t, vpcd.NewCard(nil, tc))
	pc := open(t)
	card := connect(t, pc, slot.Reader)
	var log bytes.Buffer
	tr := apdu.Trace(card, &log)
	ctx := context.Background()
	resp, err := tr.Transmit(ctx, []byte{0x00, 0x01, 0x00, 0x00, 0x03, 0xAA, 0xBB, 0xCC})
	if err != nil || !bytes.Equal(resp, []byte{0xAA, 0xBB, 0xCC, 0x90, 0x00}) {
		t.Fatalf("echo: % X %v", resp, err)
	}
	if got := log.String(); got != "> 0001000003AABBCC\n< AABBCC9000\n" {
		t.Fatalf("trace %q", got)
	}

	// Removal: WaitRemoved notices, Transmit fails with ErrCardRemoved.
	done := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		done <- card.WaitRemoved(wctx)
	}()
	time.Sleep(300 * time.Millisecond)
	removedAt := time.Now()
	conn.Close()
	if err := <-done; err != nil {
		t.Fatalf("WaitRemoved: %v", err)
	}
	t.Logf("removal noticed after %v", time.Since(removedAt).Round(time.Millisecond))
	if _, err := card.Transmit(ctx, []byte{0x00, 0x01, 0x00, 0x00}); !errors.Is(err, pcsc.ErrCardRemoved) {
		t.Fatalf("Transmit after removal: %v", err)
	}
	if err := card.Close(); err != nil {
		t.Fatalf("Close after removal: %v", err)
	}
}

// TestRealRemovalWithoutWait checks that a Transmit on a card that left
// (without WaitRemoved) maps pcscd's answer to ErrCardRemoved.
func TestRealRemovalWithoutWait(t *testing.T) {
	slot := pcsctest.Require(t)
	conn := slot.Insert(t, vpcd.NewCard(nil, &testCard{}))
	pc := open(t)
	card := connect(t, pc, slot.Reader)
	conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	for ctx.Err() == nil {
		// Until pcscd polls the driver, the command may still be sent
		// to a card that is gone; the driver then fails it.
		if _, err = card.Transmit(ctx, []byte{0x00, 0x01, 0x00, 0x00}); err != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !errors.Is(err, pcsc.ErrCardRemoved) {
		t.Fatalf("Transmit after removal: %v", err)
	}
}

func TestRealLimits(t *testing.T) {
	slot := pcsctest.Require(t)
	tc := &testCard{}
	slot.Insert(t, vpcd.NewCard(nil, tc))
	ctx := context.Background()

	t.Run("extended", func(t *testing.T) {
		pc := open(t)
		card := connect(t, pc, slot.Reader)
		l := card.Limits()
		if l.MaxCommandData != 65526 || l.MaxResponseData != 65533 {
			t.Fatalf("vpcd limits %+v", l)
		}
		for _, n := range []int{256, 3000, l.MaxCommandData} {
			data := bytes.Repeat([]byte{0x5A}, n)
			cmd, _ := (&apdu.Command{INS: 0x01, Data: data, Ne: min(n, l.MaxResponseData)}).Bytes()
			start := time.Now()
			resp, err := card.Transmit(ctx, cmd)
			if err != nil || !bytes.Equal(resp[:len(resp)-2], data) {
				t.Fatalf("echo %d bytes: %d bytes back, %v", n, len(resp), err)
			}
			t.Logf("echo of %d bytes took %v", n, time.Since(start).Round(time.Microsecond))
		}
		cmd, _ := (&apdu.Command{INS: 0x02, Ne: l.MaxResponseData}).Bytes()
		resp, err := card.Transmit(ctx, cmd)
		if err != nil || len(resp) != l.MaxResponseData+2 {
			t.Fatalf("largest response: %d bytes, %v", len(resp), err)
		}
	})

	t.Run("short", func(t *testing.T) {
		pc := open(t, pcsc.WithLimits(pcsc.Short))
		card := connect(t, pc, slot.Reader)
		if card.Limits() != pcsc.Short {
			t.Fatalf("limits %+v", card.Limits())
		}
		cmd, _ := (&apdu.Command{INS: 0x02, Ne: 256}).Bytes()
		if resp, err := card.Transmit(ctx, cmd); err != nil || len(resp) != 258 {
			t.Fatalf("short read: %d bytes, %v", len(resp), err)
		}
		before := tc.calls.Load()
		cmd, _ = (&apdu.Command{INS: 0x01, Data: make([]byte, 256)}).Bytes()
		if _, err := card.Transmit(ctx, cmd); !errors.Is(err, pcsc.ErrLimitExceeded) {
			t.Fatalf("256-byte command to a short reader: %v", err)
		}
		if tc.calls.Load() != before {
			t.Fatal("over-limit command reached the card")
		}
	})
}

func TestRealCancel(t *testing.T) {
	slot := pcsctest.Require(t)
	slot.Insert(t, vpcd.NewCard(nil, &testCard{}))
	pc := open(t)
	card := connect(t, pc, slot.Reader)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := card.Transmit(ctx, []byte{0x00, 0x03, 0x00, 0x00})
	if !errors.Is(err, pcsc.ErrCanceled) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stalled Transmit: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Transmit returned %v after its deadline", d)
	}
	if _, err := card.Transmit(context.Background(), []byte{0x00, 0x01, 0x00, 0x00}); !errors.Is(err, pcsc.ErrCanceled) {
		t.Fatalf("Transmit after an interrupted one: %v", err)
	}
	// The context is unaffected: a new session works once the card has
	// answered the stalled command.
	time.Sleep(2 * time.Second)
	card2 := connect(t, pc, slot.Reader)
	if resp, err := card2.Transmit(context.Background(), []byte{0x00, 0x01, 0x00, 0x00}); err != nil || !bytes.Equal(resp, []byte{0x90, 0x00}) {
		t.Fatalf("new session: % X %v", resp, err)
	}
}

// TestRealNewTapAfterClose removes a card, closes its session before
// pcscd has noticed, and taps again: the new card must show up (a reset
// in Close would have hidden it; see Card.Close).
func TestRealNewTapAfterClose(t *testing.T) {
	slot := pcsctest.Require(t)
	conn := slot.Insert(t, vpcd.NewCard(nil, &testCard{}))
	pc := open(t)
	card := connect(t, pc, slot.Reader)
	conn.Close()
	if err := card.Close(); err != nil {
		t.Fatalf("Close after removal: %v", err)
	}
	start := time.Now()
	slot.Insert(t, vpcd.NewCard(nil, &testCard{}))
	card2 := connect(t, pc, slot.Reader)
	t.Logf("second tap seen after %v", time.Since(start).Round(time.Millisecond))
	if resp, err := card2.Transmit(context.Background(), []byte{0x00, 0x01, 0x00, 0x00}); err != nil || !bytes.Equal(resp, []byte{0x90, 0x00}) {
		t.Fatalf("second tap: % X %v", resp, err)
	}
}
