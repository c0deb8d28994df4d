package store

import (
	"context"
	"time"
)

// Block kinds of the emergency restriction (縮退運用).
const (
	BlockModel = "model"
	BlockOS    = "os"
)

// Block is an emergency restriction of a model or OS version.
type Block struct {
	Kind            string
	Value           string
	Reason          string
	SuspendExisting bool
	CreatedAt       time.Time
}

// Blocks keeps the emergency restrictions of models and OS versions.
type Blocks interface {
	PutBlock(ctx context.Context, b Block, ev Event) error
	DeleteBlock(ctx context.Context, kind, value string, ev Event) (bool, error)
	Blocks(ctx context.Context) ([]Block, error)
}
