package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/online"
	"github.com/mynumber-mdoc/mnc/verifier/reader"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
	walletsim "github.com/mynumber-mdoc/mnc/wallet-sim"
)

// sessionTimeout bounds one presentation: the holder's consent is scripted.
const sessionTimeout = 30 * time.Second

// maxJSONBody bounds the JSON the story reads from its own servers.
const maxJSONBody = 4 << 20

// approveAll is the holder's scripted consent: release whatever the
// wallet's policy allows (the policy filters still apply).
var approveAll = walletsim.Rules{ApproveAll: true}

// proximity runs one in-person presentation: the wallet shows its QR
// engagement and serves the session over the simulated BLE radio; the
// reader scans it, authenticates with creds and verifies the response.
func (e *env) proximity(ctx context.Context, w *walletsim.Wallet, creds *trust.ReaderCredentials, items []mdoc.ItemsRequest, mac bool) (*Presentation, *walletsim.SessionResult, error) {
	ctx, cancel := context.WithTimeout(ctx, sessionTimeout)
	defer cancel()
	p, err := w.StartProximity(walletsim.ProximityOptions{Consent: approveAll, MAC: mac, Radio: e.radio})
	if err != nil {
		return nil, nil, fmt.Errorf("wallet: start proximity: %w", err)
	}
	defer p.Close()
	type served struct {
		r   *walletsim.SessionResult
		err error
	}
	done := make(chan served, 1)
	go func() {
		r, err := p.Serve(ctx)
		done <- served{r, err}
	}()
	e.status.reset()
	out, err := reader.Run(ctx, p.QR(), items, reader.Config{Radio: e.radio, Credentials: creds, Logger: e.log,
		Verify: verifier.Options{Trust: e.iacas, Status: e.status, Logger: e.log}})
	if err != nil {
		cancel()
		<-done
		return nil, nil, err
	}
	s := <-done
	if s.err != nil {
		return nil, nil, fmt.Errorf("wallet session: %w", s.err)
	}
	pres := &Presentation{
		DeviceResponse: out.DeviceResponse, Transcript: out.SessionTranscript, EReaderKey: out.EReaderKey,
		DeviceRequest: out.DeviceRequestBytes, Request: verifier.RequestFromDeviceRequest(out.DeviceRequest),
		Result: out.Result, StatusLists: e.status.take(), MAC: mac,
	}
	return pres, s.r, nil
}

// onlineCheck creates a transaction at the online verifier over HTTP, has
// the wallet answer its invocation, and reads the verdict back over HTTP.
func (e *env) onlineCheck(ctx context.Context, w *walletsim.Wallet, protocol string, purpose online.Purpose) (*online.Status, *Presentation, error) {
	ctx, cancel := context.WithTimeout(ctx, sessionTimeout)
	defer cancel()
	var c online.Created
	if err := e.postJSON(ctx, e.onlineURL+"/api/transactions", online.CreateRequest{Protocol: protocol, Purpose: purpose}, &c); err != nil {
		return nil, nil, fmt.Errorf("create transaction: %w", err)
	}
	e.n.info("verifier shows %s (%s…)", c.Page, c.Invocation[:min(len(c.Invocation), 48)])
	e.status.reset()
	if _, err := w.PresentOnline(ctx, c.Invocation, walletsim.OnlineOptions{Consent: approveAll}); err != nil {
		return nil, nil, fmt.Errorf("wallet: %w", err)
	}
	var st online.Status
	if err := e.getJSON(ctx, c.StatusURI, c.Secret, &st); err != nil {
		return nil, nil, fmt.Errorf("transaction status: %w", err)
	}
	pres, err := e.tap.presentation(c.ID)
	if err != nil {
		return &st, nil, err
	}
	pres.StatusLists = e.status.take()
	return &st, pres, nil
}

func (e *env) postJSON(ctx context.Context, url string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return e.doJSON(req, out)
}

// getJSON GETs url; a non-empty bearer is sent as the Authorization
// (the online verifier releases a transaction's outcome only to the
// holder of its secret).
func (e *env) getJSON(ctx context.Context, url, bearer string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return e.doJSON(req, out)
}

func (e *env) doJSON(req *http.Request, out any) error {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxJSONBody))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: HTTP %d: %s", req.Method, req.URL, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL, err)
	}
	return nil
}

// verdict renders a result for a check: "valid", or "invalid: <code>" when
// the result carries want among its codes, else all its codes.
func verdict(valid bool, codes []string, want string) string {
	if valid {
		return "valid"
	}
	if want != "" && slices.Contains(codes, want) {
		return "invalid: " + want
	}
	if len(codes) == 0 {
		return "invalid"
	}
	return "invalid: " + strings.Join(codes, ",")
}

// expectInvalid is the rendering of an expected refusal with code.
func expectInvalid(code string) string { return "invalid: " + code }

// disclosed lists the disclosed elements of a result as "doc/ns/id=value",
// sorted.
func disclosed(r *verifier.Result) []string {
	var out []string
	for _, d := range r.Documents {
		for ns, els := range d.Elements {
			for id, v := range els {
				out = append(out, fmt.Sprintf("%s=%v", shortElement(ns, id), v))
			}
		}
	}
	slices.Sort(out)
	return out
}

func shortElement(ns, id string) string {
	switch ns {
	case mdoc.NameSpaceISO23220:
		return id
	default:
		return ns + "/" + id
	}
}

// list renders a list for the transcript, "nothing" when empty.
func list(s []string) string {
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}

// artifact writes a presentation's artefacts when asked to.
func (e *env) artifact(slug, description, transport string, p *Presentation, valid bool, code string) error {
	if e.o.ArtifactsDir == "" || p == nil {
		return nil
	}
	// Verify offline at the time of the presentation, rounded up to the
	// second RFC 3339 carries: never before the status token's iat.
	at := time.Now().Add(time.Second).Truncate(time.Second)
	dir, err := WriteArtifact(e.o.ArtifactsDir, &Artifact{Step: e.cur.N, Name: e.artifactName(e.cur.N, slug), Description: description,
		Transport: transport, Presentation: p, IACA: e.issuer.PKI.IACA, Valid: valid, Code: code, At: at})
	if err != nil {
		return err
	}
	e.artifacts = append(e.artifacts, dir)
	e.n.info("artefacts: %s", dir)
	return nil
}
