package vpcd

import (
	"net"
	"syscall"
)

// quickACK asks Linux to acknowledge the next segments at once
// (TCP_QUICKACK, which the kernel clears again by itself, so it is set
// before every read). The vpcd driver writes each message as two sends,
// length then payload; with Nagle's algorithm on its socket the payload
// waits for the ACK of the length, and a delayed ACK costs about 40 ms
// per APDU — most of a tap's time budget for a handful of APDUs.
func quickACK(c net.Conn) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}
