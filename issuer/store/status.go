package store

import (
	"context"
)

// Status reads the status lists that credential states make up: what the
// status-list signer publishes.
type Status interface {
	// StatusEntries returns the non-valid entries of a list and its
	// version, which every change of a credential state in the list
	// increments.
	StatusEntries(ctx context.Context, listID string) (version int64, entries map[uint64]string, err error)
	StatusListVersion(ctx context.Context, listID string) (int64, error)
	StatusLists(ctx context.Context) ([]string, error)
}
