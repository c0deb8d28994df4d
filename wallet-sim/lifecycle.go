package walletsim

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/mynumber-mdoc/mnc/jpki/card"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
	"github.com/mynumber-mdoc/mnc/wallet-sim/se"
)

// enrolledKey returns the key that signs lifecycle requests: the mdoc device
// key bound at enrolment (the issuer knows it by device id).
func (w *Wallet) enrolledKey(op string) (se.KeyID, string, string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.d.DeviceID == "" || len(w.d.Credentials) == 0 {
		return "", "", "", newErr(op, CodeNotEnrolled, "this wallet holds no enrolled credentials")
	}
	if w.d.DeviceKeyID != "" {
		return w.d.DeviceKeyID, w.d.DeviceID, w.d.IssuerURL, nil
	}
	return w.d.Credentials[0].KeyID, w.d.DeviceID, w.d.IssuerURL, nil
}

// signDeviceRequest makes a lifecycle request signed by the device key.
func (w *Wallet) signDeviceRequest(ctx context.Context, cl *oid4vci.Client, issuerURL, deviceID string, key se.KeyID, grant *se.Grant, action, commandID, reason string) (string, error) {
	nonce, err := cl.Nonce(ctx)
	if err != nil {
		return "", issuerErr(action, err)
	}
	s, err := w.el.Signer(key, grant)
	if err != nil {
		return "", &Error{Op: action, Code: CodeUserVerification, Err: err}
	}
	return oid4vci.SignDeviceRequest(s, &oid4vci.DeviceRequest{
		Audience: oid4vci.Audience{issuerURL}, Nonce: nonce, IssuedAt: w.now().Unix(),
		DeviceID: deviceID, Action: action, CommandID: commandID, Reason: reason,
	})
}

// Revoke revokes this device's credentials at the issuer (失効, from the
// device) and then deletes them here (削除): keys, mdocs and the JPKI applet.
func (w *Wallet) Revoke(ctx context.Context, reason string) (*oid4vci.LifecycleResponse, error) {
	const op = "revoke"
	key, dev, iss, err := w.enrolledKey(op)
	if err != nil {
		return nil, err
	}
	grant, err := w.userVerify(ctx, "revoke the My Number Card on this phone")
	if err != nil {
		return nil, err
	}
	cl := w.client(iss)
	req, err := w.signDeviceRequest(ctx, cl, iss, dev, key, grant, oid4vci.ActionRevoke, "", reason)
	if err != nil {
		return nil, err
	}
	var lr oid4vci.LifecycleResponse
	if err := w.device(ctx, cl, req, &lr); err != nil {
		return nil, issuerErr(op, err)
	}
	w.record(HistoryEntry{Time: w.now().UTC(), Kind: "revocation", Reader: iss, Outcome: "revoked", Detail: fmt.Sprintf("device %s revoked from the device (%d credential(s)): %s", dev, lr.CredentialsChanged, reason)})
	if err := w.RemoteDelete(ctx, "revoked from this device"); err != nil {
		return &lr, err
	}
	return &lr, nil
}

// RevokeWithCard revokes a person's phone credentials with the My Number
// Card alone (any device, including a model not allowed to enrol):
// deviceID "" revokes every device of the person. It needs no enrolment.
func (w *Wallet) RevokeWithCard(ctx context.Context, issuerURL string, t card.Transport, password, deviceID, reason string) (*oid4vci.LifecycleResponse, error) {
	const op = "revoke with card"
	cl := w.client(issuerURL)
	cc := card.New(t)
	if err := cc.Select(ctx); err != nil {
		return nil, &Error{Op: op, Code: CodeCard, Err: err}
	}
	if err := cc.VerifySignPassword(ctx, password); err != nil {
		return nil, &Error{Op: op, Code: CodeCard, Detail: "card signature password", Err: err}
	}
	der, err := cc.ReadSignCertificate(ctx)
	if err != nil {
		return nil, &Error{Op: op, Code: CodeCard, Err: err}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, &Error{Op: op, Code: CodeCard, Err: err}
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, newErr(op, CodeCard, "card key is not RSA")
	}
	nonce, err := cl.Nonce(ctx)
	if err != nil {
		return nil, issuerErr(op, err)
	}
	jws, err := oid4vci.SignCardRevocation(&oid4vci.CardRevocation{Audience: oid4vci.Audience{issuerURL}, Nonce: nonce, IssuedAt: w.now().Unix(), DeviceID: deviceID, Reason: reason}, der, cc.Signer(ctx, card.KeySign, pub))
	if err != nil {
		return nil, &Error{Op: op, Code: CodeCard, Err: err}
	}
	lr, err := cl.RevokeWithCard(ctx, jws)
	if err != nil {
		return nil, issuerErr(op, err)
	}
	w.record(HistoryEntry{Time: w.now().UTC(), Kind: "revocation", Reader: issuerURL, Outcome: "revoked", Detail: fmt.Sprintf("revoked with the card: devices %v", lr.DeviceIDs)})
	return lr, nil
}

// Refresh asks for fresh credentials for the same device key before they
// expire (no card needed while the card certificate is valid) and replaces
// the held ones.
func (w *Wallet) Refresh(ctx context.Context) ([]Credential, error) {
	const op = "refresh"
	key, dev, iss, err := w.enrolledKey(op)
	if err != nil {
		return nil, err
	}
	grant, err := w.userVerify(ctx, "refresh your credentials")
	if err != nil {
		return nil, err
	}
	cl := w.client(iss)
	req, err := w.signDeviceRequest(ctx, cl, iss, dev, key, grant, oid4vci.ActionRefresh, "", "")
	if err != nil {
		return nil, err
	}
	var er oid4vci.EnrolResponse
	if err := w.device(ctx, cl, req, &er); err != nil {
		return nil, issuerErr(op, err)
	}
	ki, err := w.el.Key(key)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	old := make(map[string]bool)
	for _, c := range w.d.Credentials {
		old[c.ID] = true
	}
	prev := w.d.Credentials
	w.d.Credentials = []*Credential{}
	w.mu.Unlock()
	creds, err := w.redeemOffer(ctx, cl, iss, &er.CredentialOffer, "", ki, grant, "", func(string) {})
	if err != nil {
		w.mu.Lock()
		w.d.Credentials = append(prev, w.d.Credentials...)
		w.save()
		w.mu.Unlock()
		return nil, err
	}
	// The replaced batch's keys are no longer needed.
	w.mu.Lock()
	for _, c := range prev {
		if c.KeyID != key && !w.keyInUse(c.KeyID) {
			if err := w.el.DeleteKey(c.KeyID); err != nil && !errors.Is(err, se.ErrKeyNotFound) {
				w.log.Warn("delete replaced credential key", "key", c.KeyID, "err", err)
			}
		}
	}
	w.mu.Unlock()
	w.record(HistoryEntry{Time: w.now().UTC(), Kind: "refresh", Reader: iss, Outcome: "refreshed", Detail: fmt.Sprintf("%d credential(s) replaced", len(creds))})
	return creds, nil
}

// NeedsRefresh reports whether any credential expires within window (or
// passed its expectedUpdate), or a document held as a batch has
// RefreshWhenUnused or fewer credentials never shown.
func (w *Wallet) NeedsRefresh(window time.Duration) bool {
	now := w.now()
	held, unused := map[string]int{}, map[string]int{}
	for _, c := range w.Credentials() {
		if c.ValidUntil.Sub(now) < window || (!c.ExpectedUpdate.IsZero() && now.After(c.ExpectedUpdate)) {
			return true
		}
		held[c.DocType]++
		if c.Presentations == 0 && c.State != StateRevoked && c.State != StateSuspended {
			unused[c.DocType]++
		}
	}
	for dt, n := range held {
		if n > 1 && unused[dt] <= RefreshWhenUnused {
			return true
		}
	}
	return false
}

// SyncResult reports what Sync learnt.
type SyncResult struct {
	DeviceState   string
	RemoteDeleted bool
	States        map[string]string // credential id → state
	// UsesReported counts the use reports sent (documents the holder chose
	// to report).
	UsesReported int
}

// Sync asks the issuer for pending remote commands and processes them (a
// remote delete wipes keys and mdocs, then is acknowledged), and refreshes
// each credential's state from its status list (valid, suspended,
// revoked), so `list` shows a suspension.
func (w *Wallet) Sync(ctx context.Context) (*SyncResult, error) {
	const op = "sync"
	res := &SyncResult{States: map[string]string{}}
	key, dev, iss, err := w.enrolledKey(op)
	if err != nil {
		return nil, err
	}
	cl := w.client(iss)
	// Lifecycle requests are signed by the device key, which (like every
	// use of it) needs user verification.
	grant, err := w.userVerify(ctx, "check the status of your credentials")
	if err != nil {
		return nil, err
	}
	req, err := w.signDeviceRequest(ctx, cl, iss, dev, key, grant, oid4vci.ActionPoll, "", "")
	if err != nil {
		return nil, err
	}
	var pr oid4vci.PollResponse
	if err := w.device(ctx, cl, req, &pr); err != nil {
		return nil, issuerErr(op+": poll", err)
	}
	res.DeviceState = pr.State
	for _, cmd := range pr.Commands {
		if cmd.Action != oid4vci.RemoteActionDelete {
			continue
		}
		// Sign the acknowledgement before the wipe destroys the key.
		ack, err := w.signDeviceRequest(ctx, cl, iss, dev, key, grant, oid4vci.ActionAck, cmd.CommandID, "")
		if err != nil {
			return nil, err
		}
		if err := w.RemoteDelete(ctx, "remote delete: "+cmd.Reason); err != nil {
			return nil, err
		}
		var ar oid4vci.PollResponse
		if err := w.device(ctx, cl, ack, &ar); err != nil {
			w.log.WarnContext(ctx, "remote delete done but not acknowledged", "err", err)
		}
		res.RemoteDeleted = true
		return res, nil
	}
	w.checkStatuses(ctx, cl, pr.State, res)
	res.UsesReported = w.sendUses(ctx, cl, iss, dev, func(r *oid4vci.DeviceRequest) (string, error) {
		nonce, err := cl.Nonce(ctx)
		if err != nil {
			return "", issuerErr("used", err)
		}
		s, err := w.el.Signer(key, grant)
		if err != nil {
			return "", err
		}
		r.Audience, r.Nonce, r.IssuedAt, r.DeviceID = oid4vci.Audience{iss}, nonce, w.now().Unix(), dev
		return oid4vci.SignDeviceRequest(s, r)
	})
	return res, nil
}

// checkStatuses updates each credential's state from its status list. A
// token that cannot be fetched or verified leaves the state unknown — it is
// never read as valid.
func (w *Wallet) checkStatuses(ctx context.Context, cl *oid4vci.Client, deviceState string, res *SyncResult) {
	w.mu.Lock()
	roots := parseRoots(w.d.IACARoots)
	creds := w.d.Credentials
	w.mu.Unlock()
	now := w.now()
	for _, c := range creds {
		state := StateUnknown
		if c.StatusList == nil {
			state = StateValid
		} else if st, err := w.statusOf(ctx, cl, c.StatusList, roots, now); err == nil {
			switch st {
			case mdoc.StatusValid:
				state = StateValid
			case mdoc.StatusSuspended:
				state = StateSuspended
			default:
				state = StateRevoked
			}
		} else {
			w.log.WarnContext(ctx, "status unavailable", "credential", c.ID, "err", err)
		}
		// The issuer's device state is authoritative when it is worse.
		switch deviceState {
		case oid4vci.StateRevoked:
			state = StateRevoked
		case oid4vci.StateSuspended:
			if state != StateRevoked {
				state = StateSuspended
			}
		}
		res.States[c.ID] = state
		w.mu.Lock()
		c.State, c.StatusCheckedAt = state, now.UTC()
		w.mu.Unlock()
	}
	w.mu.Lock()
	w.save()
	w.mu.Unlock()
}

func (w *Wallet) statusOf(ctx context.Context, cl *oid4vci.Client, ref *mdoc.StatusListRef, roots []*x509.Certificate, now time.Time) (uint8, error) {
	b, err := cl.StatusList(ctx, ref.URI, mdoc.StatusListCWTType)
	if err != nil {
		return 0, err
	}
	tok, err := mdoc.ParseStatusListToken(b)
	if err != nil {
		return 0, err
	}
	certs, err := tok.Certificates()
	if err != nil || len(certs) == 0 {
		return 0, fmt.Errorf("status list token without x5chain")
	}
	if len(roots) > 0 {
		ts := mdoc.NewTrustStore(mdoc.PurposeStatusList, false, roots...)
		if _, err := ts.VerifyChain(tok.X5Chain, now); err != nil {
			return 0, err
		}
	}
	if err := tok.Verify(certs[0].PublicKey, ref.URI, now); err != nil {
		return 0, err
	}
	return tok.Status(ref.Idx)
}
