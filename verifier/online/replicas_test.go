package online_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/mynumber-mdoc/mnc/verifier/online"
	"github.com/mynumber-mdoc/mnc/verifier/online/pgstore"
)

// postgresDSN is the test database, as the issuer's store tests use it
// (.ci/run sets it); without it the replica tests skip.
func postgresDSN(t *testing.T) string {
	dsn := os.Getenv("MDOC_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("MDOC_TEST_POSTGRES_DSN not set")
	}
	return dsn
}

// twoReplicas opens two stores on the database — two verifier processes
// would each have their own pool — behind one round-robin base URL.
func twoReplicas(t *testing.T) *env {
	dsn := postgresDSN(t)
	var stores []online.Store
	for range 2 {
		s, err := pgstore.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		stores = append(stores, s)
	}
	return newEnvWith(t, nil, stores)
}

// TestReplicasShareTransactions: with two replicas taking requests in
// turn, every step of an OpenID4VP transaction (create, request object,
// response, outcome) lands on a replica that did not serve the step before
// it, and the flow completes; the outcome is read once across both.
func TestReplicasShareTransactions(t *testing.T) {
	e := twoReplicas(t)
	c := e.create(online.ProtocolOpenID4VP, online.Purpose{Kind: online.PurposeAge, AgeOver: 20})
	form, ru := e.oid4vpWallet(c.Invocation, "") // fetches the request object from the other replica
	code, m := post(t, ru, formType, form)
	if ruri, _ := m["redirect_uri"].(string); code != http.StatusOK || !strings.HasPrefix(ruri, e.ts.URL+"/tx/"+c.ID+"#response_code=") {
		t.Fatalf("post: %d %v", code, m)
	}
	st := e.statusOf(c.ID)
	if st.State != online.StateDone || !st.Valid || st.Decision == nil || !st.Decision.Allowed {
		t.Fatalf("outcome through the other replica: %+v", st)
	}
	// Collected once: the second read, on the other replica, is refused.
	if code, _ := e.read(c.ID, "Bearer "+e.secrets[c.ID], ""); code != http.StatusConflict {
		t.Fatalf("second read: %d, want %d", code, http.StatusConflict)
	}
}

// TestReplicasSingleUse: the same response posted many times at once,
// spread over both replicas, is accepted exactly once.
func TestReplicasSingleUse(t *testing.T) {
	e := twoReplicas(t)
	c := e.create(online.ProtocolOpenID4VP, online.Purpose{Kind: online.PurposeAge, AgeOver: 20})
	form, ru := e.oid4vpWallet(c.Invocation, "")
	const n = 8
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _ = post(t, ru, formType, form)
		}()
	}
	wg.Wait()
	ok, consumed := 0, 0
	for _, c := range codes {
		switch c {
		case http.StatusOK:
			ok++
		case http.StatusConflict:
			consumed++
		}
	}
	if ok != 1 || consumed != n-1 {
		t.Fatalf("responses accepted %d, refused as consumed %d, of %d (codes %v)", ok, consumed, n, codes)
	}
}
