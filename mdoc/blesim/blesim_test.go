package blesim

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"
)

func TestSessionOverSimulatedBLE(t *testing.T) {
	radio := Radio{Dir: t.TempDir(), MTU: 64}
	uuid := make([]byte, 16)
	rand.Read(uuid)
	p, err := radio.Advertise(uuid)
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 5000) // many chunks at MTU 64
	rand.Read(big)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		c, err := p.Accept(ctx)
		if err != nil {
			done <- err
			return
		}
		msg, err := c.Receive()
		if err != nil {
			done <- err
			return
		}
		if err := c.Send(append([]byte("echo:"), msg...)); err != nil {
			done <- err
			return
		}
		_, err = c.Receive()
		if !errors.Is(err, ErrEnded) {
			done <- errors.New("peripheral did not see State end: " + errString(err))
			return
		}
		done <- nil
	}()
	c, err := radio.Connect(ctx, uuid)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(big); err != nil {
		t.Fatal(err)
	}
	got, err := c.Receive()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, append([]byte("echo:"), big...)) {
		t.Fatal("message changed in transit")
	}
	if err := c.End(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// One session per advertisement: the rendezvous entry is gone.
	if _, err := radio.Connect(ctx, uuid); err == nil {
		t.Fatal("connected to a peripheral that stopped advertising")
	}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

func TestConnectErrors(t *testing.T) {
	radio := Radio{Dir: t.TempDir()}
	if _, err := radio.Connect(context.Background(), make([]byte, 16)); err == nil {
		t.Error("connect to nothing succeeded")
	}
	if _, err := radio.Connect(context.Background(), make([]byte, 3)); err == nil {
		t.Error("short UUID accepted")
	}
	if _, err := (Radio{Dir: t.TempDir(), MTU: 10}).Advertise(make([]byte, 16)); err == nil {
		t.Error("MTU below 23 accepted")
	}
}
