package online

import (
	"context"
	"crypto/ecdh"
	"sync"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vp"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/policy"
)

// Transaction states.
const (
	StatePending = "pending" // waiting for the wallet
	StateDone    = "done"    // a response was received and judged
	StateExpired = "expired" // no response before the deadline
)

// Transaction is one presentation request and, once answered, its
// verdict. The keys and nonces never leave the server.
type Transaction struct {
	ID       string
	Protocol string // "openid4vp" or "annexc"
	Purpose  Purpose
	Created  time.Time
	Expires  time.Time
	State    string
	Items    []mdoc.ItemsRequest
	Request  verifier.Request

	// OpenID4VP.
	Nonce       string
	OAuthState  string
	ClientID    string
	ResponseURI string
	EncKey      *ecdh.PrivateKey
	KeyID       string
	Query       *oid4vp.DCQLQuery
	RequestJWT  []byte

	// Annex C.
	AnnexCRequest *oid4vp.AnnexCRequest

	// Transcript is the SessionTranscript the wallet must sign over
	// (OpenID4VPHandover or the Annex C dcapi handover).
	Transcript *mdoc.SessionTranscript

	// ReadSecret is SHA-256 of the secret given to the creator;
	// ResponseCode SHA-256 of the response_code given to the wallet (zero
	// until it answers). Either grants one read of the outcome.
	ReadSecret   [32]byte
	ResponseCode [32]byte
	// Collected marks a tombstone: the outcome was read and erased; only
	// the ID, protocol, state and deadline remain, so replays and second
	// reads are refused as such until the linger time ends.
	Collected bool

	// Outcome: Result is dropped for purposes that keep only the answer
	// (age checks keep the Decision and the error codes).
	Result   *verifier.Result
	Decision *policy.Decision
	Codes    []string
	Valid    bool
}

// Store keeps transactions until they expire. Implementations must make
// Take atomic: a response is accepted for a transaction at most once.
type Store interface {
	Put(ctx context.Context, tx *Transaction) error
	Get(ctx context.Context, id string) (*Transaction, error)
	// Take moves a pending, unexpired transaction to StateDone with the
	// outcome set by finish, exactly once; later calls fail with
	// CodeTransactionConsumed (replays), expired ones with
	// CodeTransactionExpired.
	Take(ctx context.Context, id string, now time.Time, finish func(*Transaction)) error
	// Collect returns a copy of the transaction to a reader that
	// authorize admits, with a pending one past its deadline reported as
	// expired. A final state (done or expired) is erased as it is
	// collected: an outcome is read once.
	Collect(ctx context.Context, id string, now time.Time, authorize func(*Transaction) error) (*Transaction, error)
	// Expire marks pending transactions past their deadline as expired
	// and drops those kept past Retention; Service.Run calls it
	// periodically.
	Expire(ctx context.Context, now time.Time) error
	// Retention is how long past its deadline an unread transaction is
	// kept; the creator's secret cookie lives its TTL plus this.
	Retention() time.Duration
}

var _ Store = (*MemoryStore)(nil)

// MaxTransactions bounds the memory store: a flood of requests cannot
// exhaust memory; expired entries are swept first.
const MaxTransactions = 100_000

// DefaultLinger is how long past its deadline an unread transaction (and
// its outcome) is kept: long enough for a page that polls every second to
// collect an answer given at the last moment, short enough that nobody's
// disclosed data outlives the check.
const DefaultLinger = time.Minute

// MemoryStore is an in-memory Store with expiry.
type MemoryStore struct {
	mu  sync.Mutex
	txs map[string]*Transaction
	// Linger is how long past its deadline an unread transaction is kept
	// (DefaultLinger).
	Linger time.Duration
}

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{txs: map[string]*Transaction{}, Linger: DefaultLinger}
}

// Collect implements Store.
func (s *MemoryStore) Collect(_ context.Context, id string, now time.Time, authorize func(*Transaction) error) (*Transaction, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, ok := s.txs[id]
	if !ok || now.After(tx.Expires.Add(s.Linger)) {
		return nil, codeErr(CodeTransactionUnknown, "unknown transaction")
	}
	if tx.Collected {
		return nil, codeErr(CodeTransactionConsumed, "outcome already collected and erased")
	}
	if err := authorize(tx); err != nil {
		return nil, err
	}
	if tx.State == StatePending && !now.Before(tx.Expires) {
		tx.State = StateExpired
	}
	c := *tx
	if c.State != StatePending {
		s.txs[id] = &Transaction{ID: tx.ID, Protocol: tx.Protocol, State: tx.State, Created: tx.Created, Expires: tx.Expires, Collected: true}
	}
	return &c, nil
}

// Put implements Store.
func (s *MemoryStore) Put(_ context.Context, tx *Transaction) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.txs) >= MaxTransactions {
		s.sweep(tx.Created)
		if len(s.txs) >= MaxTransactions {
			return codeErr(CodeTooManyTransactions, "too many open transactions")
		}
	}
	s.txs[tx.ID] = tx
	return nil
}

func (s *MemoryStore) sweep(now time.Time) {
	for id, tx := range s.txs {
		if now.After(tx.Expires.Add(s.Linger)) {
			delete(s.txs, id)
		}
	}
}

// Get implements Store; it returns a copy, marking pending transactions
// past their deadline as expired.
func (s *MemoryStore) Get(_ context.Context, id string) (*Transaction, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, ok := s.txs[id]
	if !ok {
		return nil, codeErr(CodeTransactionUnknown, "unknown transaction")
	}
	c := *tx
	return &c, nil
}

// Take implements Store.
func (s *MemoryStore) Take(_ context.Context, id string, now time.Time, finish func(*Transaction)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, ok := s.txs[id]
	switch {
	case !ok:
		return codeErr(CodeTransactionUnknown, "unknown transaction")
	case tx.State == StateDone:
		return codeErr(CodeTransactionConsumed, "transaction already answered (replay)")
	case tx.State == StateExpired || !now.Before(tx.Expires):
		tx.State = StateExpired
		return codeErr(CodeTransactionExpired, "transaction expired")
	}
	finish(tx)
	tx.State = StateDone
	return nil
}

// Expire implements Store.
func (s *MemoryStore) Expire(_ context.Context, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, tx := range s.txs {
		if tx.State == StatePending && !now.Before(tx.Expires) {
			tx.State = StateExpired
		}
	}
	s.sweep(now)
	return nil
}

// Retention implements Store: the Linger field.
func (s *MemoryStore) Retention() time.Duration { return s.Linger }
