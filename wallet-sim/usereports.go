package walletsim

import (
	"context"

	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
)

// MaxPendingUses bounds the reports kept for the next Sync; older ones are
// dropped first.
const MaxPendingUses = 100

// SetUseReports records the holder's choice for one document type: with
// on, every presentation of it is reported to the issuer at the next Sync
// (and the issuer notifies the holder); with off, nothing is. It is the
// holder's choice only: the default is off for every document. Enrolment
// tells the issuer whether any document is reported (notify_use), which is
// also what lets verifiers' own reports through.
func (w *Wallet) SetUseReports(docType string, on bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.d.UseReports == nil {
		w.d.UseReports = map[string]bool{}
	}
	if on {
		w.d.UseReports[docType] = true
	} else {
		delete(w.d.UseReports, docType)
		kept := w.d.PendingUses[:0]
		for _, u := range w.d.PendingUses {
			if u.DocType != docType {
				kept = append(kept, u)
			}
		}
		w.d.PendingUses = kept
	}
	return w.save()
}

// UseReports returns the document types whose uses are reported.
func (w *Wallet) UseReports() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for dt, on := range w.d.UseReports {
		if on {
			out = append(out, dt)
		}
	}
	return out
}

func (w *Wallet) anyUseReports() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.d.UseReports) > 0
}

// queueUse keeps a report of a presentation when the holder chose to
// report this document, in memory: respond saves it with the usage
// counters.
func (w *Wallet) queueUse(u oid4vci.UseReport) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.d.UseReports[u.DocType] {
		return
	}
	w.d.PendingUses = append(w.d.PendingUses, u)
	if n := len(w.d.PendingUses); n > MaxPendingUses {
		w.d.PendingUses = w.d.PendingUses[n-MaxPendingUses:]
	}
}

// sendUses sends the pending reports as device-key-signed "used"
// requests; those sent are removed, the rest stay for the next Sync.
func (w *Wallet) sendUses(ctx context.Context, cl *oid4vci.Client, iss, dev string, sign func(*oid4vci.DeviceRequest) (string, error)) int {
	w.mu.Lock()
	pending := append([]oid4vci.UseReport(nil), w.d.PendingUses...)
	w.mu.Unlock()
	sent := 0
	for _, u := range pending {
		req, err := sign(&oid4vci.DeviceRequest{Action: oid4vci.ActionUsed, Use: &u})
		if err == nil {
			var ur oid4vci.UseResponse
			err = w.device(ctx, cl, req, &ur)
		}
		if err != nil {
			w.log.WarnContext(ctx, "use report not sent; kept for the next sync", "doctype", u.DocType, "err", err)
			break
		}
		sent++
	}
	w.mu.Lock()
	w.d.PendingUses = w.d.PendingUses[min(sent, len(w.d.PendingUses)):]
	if err := w.save(); err != nil {
		w.log.Error("save wallet", "err", err)
	}
	w.mu.Unlock()
	return sent
}
