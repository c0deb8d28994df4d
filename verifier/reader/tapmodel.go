package reader

import (
	"context"
	"sync"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/pcsc"
)

// Meter is a Transmitter that records every exchange it forwards: the
// sizes of command and response and the time the device took. It is how
// taps are measured (exchanges and bytes per tap) and what the air-time
// model below is fed with.
type Meter struct {
	T Transmitter

	mu        sync.Mutex
	Exchanges []Exchange
}

// Exchange is one command APDU and its response.
type Exchange struct {
	Command, Response int           // bytes
	Took              time.Duration // from sending the command to the response
	// INS is the command's instruction byte; AID the application a
	// SELECT by DF name asked for (nil otherwise).
	INS byte
	AID []byte
}

// Transmit implements Transmitter.
func (m *Meter) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	start := time.Now()
	resp, err := m.T.Transmit(ctx, cmd)
	m.mu.Lock()
	e := Exchange{Command: len(cmd), Response: len(resp), Took: time.Since(start)}
	if len(cmd) >= 4 {
		e.INS = cmd[1]
		if cmd[1] == 0xA4 && cmd[2] == 0x04 && len(cmd) > 5 && int(cmd[4]) <= len(cmd)-5 {
			e.AID = append([]byte(nil), cmd[5:5+int(cmd[4])]...)
		}
	}
	m.Exchanges = append(m.Exchanges, e)
	m.mu.Unlock()
	return resp, err
}

// Since returns the exchanges from the first SELECT of aid on (e.g. the
// mdoc application: the data transfer after the engagement).
func (m *Meter) Since(aid []byte) []Exchange {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, e := range m.Exchanges {
		if string(e.AID) == string(aid) {
			return append([]Exchange(nil), m.Exchanges[i:]...)
		}
	}
	return nil
}

// Totals returns the exchanges, bytes each way and the summed device time.
func (m *Meter) Totals() (n, out, back int, took time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.Exchanges {
		out += e.Command
		back += e.Response
		took += e.Took
	}
	return len(m.Exchanges), out, back, took
}

// AirModel estimates the time an exchange sequence takes on an ISO/IEC
// 14443 link. Its constants and where they come from:
//
//   - BitRate: 106, 212, 424 or 848 kbit/s (ISO/IEC 14443-2); readers and
//     phones commonly settle on 424 kbit/s for Type A and B.
//   - FrameSize: the receiver's maximum frame size (FSC/FSD; ISO/IEC
//     14443-4 §5.2.3 default 256 bytes, the common phone value). An APDU
//     longer than a frame minus the block overhead is chained in I-blocks,
//     each acknowledged by an R(ACK) block.
//   - BlockOverhead: PCB and CRC_B, 3 bytes per block (ISO/IEC 14443-4
//     §7.1; no CID or NAD).
//   - BitsPerByte: 10 — a start bit, 8 data bits and a stop bit per
//     character on Type B (ISO/IEC 14443-3 §7.1.1); Type A's 9-bit
//     characters with parity are a little cheaper, so this errs slow.
//   - Turnaround: the frame delay and start-of-frame guard per frame, 150
//     µs (Type B TR0 + TR1 at 106 kbit/s are about 75 µs each, ISO/IEC
//     14443-3 §7.10; Type A FDT ≥ 1172/fc ≈ 86 µs), counted for every
//     frame in either direction.
//
// Device processing is not modelled: it is the Took the Meter measured
// with the real device code, added as is.
type AirModel struct {
	BitRate       float64 // bits per second
	FrameSize     int
	BlockOverhead int
	BitsPerByte   float64
	Turnaround    time.Duration
}

// DefaultAirModel is the 424 kbit/s link with the defaults above.
var DefaultAirModel = AirModel{BitRate: 424_000, FrameSize: 256, BlockOverhead: 3, BitsPerByte: 10, Turnaround: 150 * time.Microsecond}

// frames returns the I-blocks an APDU of n bytes needs.
func (a AirModel) frames(n int) int {
	per := a.FrameSize - a.BlockOverhead
	if n <= 0 || per <= 0 {
		return 1
	}
	return (n + per - 1) / per
}

// Time returns the modelled air time of the exchanges plus the device
// time measured for them.
func (a AirModel) Time(ex []Exchange) time.Duration {
	var total time.Duration
	byteTime := func(n int) time.Duration {
		return time.Duration(float64(n) * a.BitsPerByte / a.BitRate * float64(time.Second))
	}
	for _, e := range ex {
		for _, n := range []int{e.Command, e.Response} {
			f := a.frames(n)
			// Every I-block carries the overhead; every block but the last
			// is answered by a 3-byte R(ACK) from the other side.
			total += byteTime(n + f*a.BlockOverhead + (f-1)*a.BlockOverhead)
			total += time.Duration(2*f-1) * a.Turnaround
		}
		total += e.Took
	}
	return total
}

// Limits passes on the limits of a PC/SC card under the Meter (so that
// RunNFC still clips to them), else the extended-length maximum.
func (m *Meter) Limits() pcsc.Limits {
	if l, ok := m.T.(interface{ Limits() pcsc.Limits }); ok {
		return l.Limits()
	}
	return pcsc.Extended
}
