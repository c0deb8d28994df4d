package store

import (
	"context"
)

// Insurance is one qualification in the insurance registry (standing in for
// the national qualification system), keyed by the person key.
type Insurance struct {
	PersonKey             string
	InsurerNumber         string
	InsuredCardSymbol     string
	InsuredNumber         string
	InsuredBranchNumber   string
	InsuredRelationship   int
	QualificationFrom     string // YYYY-MM-DD
	QualificationUntil    string // YYYY-MM-DD, "" when open-ended
	CopaymentRatioPercent int
}

// InsuranceRegistry keeps the insurance qualifications, keyed by person
// key.
type InsuranceRegistry interface {
	PutInsurance(ctx context.Context, rows []Insurance, ev Event) (int, error)
	Insurance(ctx context.Context, personKey string) (*Insurance, error)
}
