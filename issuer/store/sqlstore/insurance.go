package sqlstore

// The insurance qualification registry: the store.InsuranceRegistry role.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/mynumber-mdoc/mnc/issuer/store"
)

func (s *Store) PutInsurance(ctx context.Context, rows []store.Insurance, ev store.Event) (int, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, r := range rows {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO insurance (person_key, insurer_number, card_symbol, insured_number, branch_number, relationship, valid_from, valid_until, copayment_percent)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (person_key) DO UPDATE SET insurer_number = excluded.insurer_number, card_symbol = excluded.card_symbol,
				insured_number = excluded.insured_number, branch_number = excluded.branch_number, relationship = excluded.relationship,
				valid_from = excluded.valid_from, valid_until = excluded.valid_until, copayment_percent = excluded.copayment_percent`),
				r.PersonKey, r.InsurerNumber, r.InsuredCardSymbol, r.InsuredNumber, r.InsuredBranchNumber, r.InsuredRelationship,
				r.QualificationFrom, r.QualificationUntil, r.CopaymentRatioPercent); err != nil {
				return fmt.Errorf("store: put insurance: %w", err)
			}
		}
		return s.event(ctx, tx, ev, s.now())
	})
	if err != nil {
		return 0, err
	}
	return len(rows), nil
}

func (s *Store) Insurance(ctx context.Context, personKey string) (*store.Insurance, error) {
	var r store.Insurance
	err := s.queryRow(ctx, nil, `SELECT person_key, insurer_number, card_symbol, insured_number, branch_number, relationship, valid_from, valid_until, copayment_percent
		FROM insurance WHERE person_key = ?`, personKey).Scan(&r.PersonKey, &r.InsurerNumber, &r.InsuredCardSymbol, &r.InsuredNumber,
		&r.InsuredBranchNumber, &r.InsuredRelationship, &r.QualificationFrom, &r.QualificationUntil, &r.CopaymentRatioPercent)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: read insurance: %w", err)
	}
	return &r, nil
}
