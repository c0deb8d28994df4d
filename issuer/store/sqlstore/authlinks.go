package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mynumber-mdoc/mnc/issuer/store"
)

var _ store.AuthLinks = (*Store)(nil)

// LinkAuthCertificate implements store.AuthLinks. A later link of the same
// certificate replaces the earlier one (a re-registration after an address
// change names the person anew).
func (s *Store) LinkAuthCertificate(ctx context.Context, l store.AuthLink, ev store.Event, now time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, `DELETE FROM auth_links WHERE cert_id = ?`, l.CertID); err != nil {
			return fmt.Errorf("store: replace auth link: %w", err)
		}
		if _, err := s.exec(ctx, tx, `INSERT INTO auth_links (cert_id, person_key, source, created_at) VALUES (?, ?, ?, ?)`,
			l.CertID, l.PersonKey, l.Source, ms(now)); err != nil {
			return fmt.Errorf("store: auth link: %w", err)
		}
		return s.event(ctx, tx, ev, now)
	})
}

// AuthLink implements store.AuthLinks.
func (s *Store) AuthLink(ctx context.Context, certID string) (*store.AuthLink, error) {
	var l store.AuthLink
	var at int64
	err := s.queryRow(ctx, nil, `SELECT cert_id, person_key, source, created_at FROM auth_links WHERE cert_id = ?`, certID).Scan(&l.CertID, &l.PersonKey, &l.Source, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: read auth link: %w", err)
	}
	l.CreatedAt = fromMS(at)
	return &l, nil
}

// DeviceByJPKIAuthSerial implements store.AuthLinks.
func (s *Store) DeviceByJPKIAuthSerial(ctx context.Context, serial string) (*store.Device, error) {
	if serial == "" {
		return nil, store.ErrNotFound
	}
	d, err := scanDevice(s.db.QueryRowContext(ctx, s.q(`SELECT `+deviceCols+` FROM devices WHERE jpki_auth_serial = ? ORDER BY created_at DESC LIMIT 1`), serial))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: read device by auth serial: %w", err)
	}
	return d, nil
}
